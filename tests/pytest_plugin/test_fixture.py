"""The ``singaudit`` fixture and marker: audits run from Python tests."""

from __future__ import annotations

USER_TESTS = '''
import pytest

IN_CODE = {
    "name": "in_code",
    "models": [{"name": "loud", "id": "python:plugin_world:loud"}],
    "data": {"id": "calibration:audit", "images_per_class": 2},
    "checks": {"null_invariance": {"thresholds": [
        {"metric": "null_energy", "statistic": "median", "fail": 0.5}]}},
}


def test_in_code_audit(singaudit):
    result = singaudit.run(IN_CODE)
    check = singaudit.check(result, "loud", "null_invariance")
    assert check.status == "fail"
    assert check.metrics["null_energy"].value > 0.9
    assert result.ok is False


@pytest.mark.singaudit("audits/tiny.yaml")
def test_marker_spec_with_overrides_and_selection(singaudit):
    result = singaudit.run(overrides={"data.images_per_class": 1}, models=["quiet", "loud"])
    assert [m.name for m in result.models] == ["quiet", "loud"]
    assert singaudit.model(result, "quiet").checks[0].per_class["circle"].n == 1
    singaudit.assert_expectations(result)  # loud is expected to fail, and does


def test_unmet_expectations_fail_with_the_check_report(singaudit):
    spec = singaudit.load("audits/tiny.yaml")
    loud = spec.model_by_name("loud").model_copy(update={"expect": "pass"})
    result = singaudit.run(spec.model_copy(update={"models": [loud]}))
    singaudit.assert_expectations(result)


def test_missing_spec_is_one_message(singaudit):
    singaudit.run("audits/missing.yaml")


def test_unknown_model_is_one_message(singaudit):
    singaudit.check(singaudit.run(IN_CODE), "nobody", "null_invariance")


def test_invalid_in_code_audit_names_the_key(singaudit):
    singaudit.run({**IN_CODE, "data": {"id": "calibration:audit", "images": 2}})
'''


def test_fixture_runs_specs_and_in_code_audits(tiny_project):
    tiny_project.write_spec()
    tiny_project.pytester.makepyfile(test_user=USER_TESTS)
    result = tiny_project.run("test_user.py")
    result.assert_outcomes(passed=2, failed=4)
    result.stdout.fnmatch_lines([
        "*_ test_unmet_expectations_fail_with_the_check_report _*",
        "model 'loud': expected pass, got fail",
        "FAIL: null_energy median 0.9* > fail 0.5*",
        "  audit 'tiny', model 'loud' (python:plugin_world:loud), check 'null_invariance'",
        "*_ test_missing_spec_is_one_message _*",
        "SpecError: */audits/missing.yaml: no such audit spec",
        "*_ test_unknown_model_is_one_message _*",
        "audit 'in_code' has no model 'nobody'; models: loud",
        "*_ test_invalid_in_code_audit_names_the_key _*",
        "SpecError: invalid in-code audit spec:",
        "  data.images: Extra inputs are not permitted",
    ])
    assert "Traceback" not in result.stdout.str()


def test_command_line_overrides_apply_to_fixture_runs(tiny_project):
    tiny_project.write_spec()
    tiny_project.pytester.makepyfile(test_user='''
        def test_overridden(singaudit):
            spec = singaudit.load("audits/tiny.yaml")
            assert spec.data.images_per_class == 1
            result = singaudit.run(spec, models=["quiet"])
            assert singaudit.model(result, "quiet").checks[0].per_class["circle"].n == 1
    ''')
    result = tiny_project.run("--singaudit-set=data.images_per_class=1", "test_user.py")
    result.assert_outcomes(passed=1)
