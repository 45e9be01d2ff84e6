"""Collection of audit specs: ids, what is (not) collected, selection, and spec errors."""

from __future__ import annotations

import pytest


def collected_ids(result: pytest.RunResult) -> list[str]:
    return [line for line in result.outlines if "::" in line]


def test_each_model_and_check_is_an_item_with_a_readable_id(tiny_project):
    tiny_project.write_spec()
    result = tiny_project.run("--collect-only", "-q")
    assert collected_ids(result) == [
        "audits/tiny.yaml::quiet::null_invariance",
        "audits/tiny.yaml::loud::null_invariance",
        "audits/tiny.yaml::loud::expectation",  # expect: fail models get an expectation item
        "audits/tiny.yaml::square::null_invariance",
    ]


def test_only_yaml_files_of_kind_singaudit_audit_are_collected(tiny_project):
    (tiny_project.path / "config.yaml").write_text("version: 1\nname: not an audit\n")
    (tiny_project.path / "other.yml").write_text("kind: something/else\nversion: 1\n")
    (tiny_project.path / "broken.yaml").write_text("{{{ not yaml\n")
    result = tiny_project.run("--collect-only", "-q")
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED
    assert collected_ids(result) == []


def test_keyword_selection_picks_models_and_checks(tiny_project):
    tiny_project.write_spec()
    result = tiny_project.run("--collect-only", "-q", "-k", "loud and not expectation")
    assert collected_ids(result) == ["audits/tiny.yaml::loud::null_invariance"]


def test_marker_selects_collected_audits_and_fixture_tests(tiny_project):
    tiny_project.write_spec()
    tiny_project.pytester.makepyfile(test_unit="""
        def test_plain():
            pass

        def test_uses_fixture(singaudit):
            pass
    """)
    selected = collected_ids(tiny_project.run("--collect-only", "-q", "-m", "singaudit"))
    assert "test_unit.py::test_uses_fixture" in selected
    assert "audits/tiny.yaml::quiet::null_invariance" in selected
    assert "test_unit.py::test_plain" not in selected
    others = collected_ids(tiny_project.run("--collect-only", "-q", "-m", "not singaudit"))
    assert others == ["test_unit.py::test_plain"]


def test_an_invalid_spec_is_one_collection_error_with_file_line_and_key(tiny_project):
    text = tiny_project.write_spec().read_text().replace("images_per_class: 2",
                                                         "images_per_clas: 2")
    tiny_project.write_spec(text=text)
    result = tiny_project.run("--collect-only", "-q")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    output = result.stdout.str()
    assert "audits/tiny.yaml:15: data.images_per_clas: Extra inputs are not permitted" in output
    assert "Traceback" not in output and "def collect" not in output


def test_options_are_documented_in_help(tiny_project):
    result = tiny_project.run("--help")
    for option in ("--singaudit-report=DIR", "--singaudit-device=DEVICE",
                   "--singaudit-cache=DIR", "--singaudit-set=KEY=VALUE", "--singaudit-mlflow=URI"):
        assert option in result.stdout.str()


def test_a_non_finite_threshold_through_the_set_option_is_a_collection_error(tiny_project):
    tiny_project.write_spec()
    result = tiny_project.run("--collect-only", "-q",
                              "--singaudit-set=checks.null_invariance.thresholds.0.fail=.nan")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    output = result.stdout.str()
    assert "checks.null_invariance.thresholds.0.fail: Input should be a finite number" in output
    assert "Traceback" not in output


def test_the_engine_option_reaches_the_specs(tiny_project):
    tiny_project.write_spec()
    gpus = "--singaudit-set=execution.gpus_per_worker=1"  # valid only with engine: ray
    refused = tiny_project.run("--collect-only", "-q", "--singaudit-engine=local", gpus)
    assert refused.ret == pytest.ExitCode.INTERRUPTED
    assert "apply only to engine: ray" in refused.stdout.str()
    accepted = tiny_project.run("--collect-only", "-q", "--singaudit-engine=ray", gpus)
    assert accepted.ret == pytest.ExitCode.OK, accepted.stdout.str()
    assert "--singaudit-engine=ENGINE" in tiny_project.run("--help").stdout.str()
