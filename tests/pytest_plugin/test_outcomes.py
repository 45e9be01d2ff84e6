"""Running audits as tests: outcomes, failure reports, expectations, skips, sharing, JUnit."""

from __future__ import annotations

import json
from xml.etree import ElementTree

import pytest

COUNT_RUNS = """
import json

def pytest_singaudit_audit_finished(config, spec, result, path):
    with open("runs.jsonl", "a") as log:
        log.write(json.dumps({"spec": spec.name, "models": [
            [m.name, [c.name for c in m.checks]] for m in result.models]}) + "\\n")
"""


def audit_runs(project) -> list[dict]:
    log = project.path / "runs.jsonl"
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def test_outcomes_follow_statuses_and_expectations(tiny_project):
    tiny_project.write_spec()
    result = tiny_project.run("-rsx")
    # quiet passes; loud fails as expected (check xfailed, expectation xfailed); square skips.
    result.assert_outcomes(passed=1, xfailed=2, skipped=1)
    result.stdout.fnmatch_lines([
        "SKIPPED [[]1[]] audits/tiny.yaml:10: null_dim is 0 *no invariant subspace",
        ("XFAIL audits/tiny.yaml::loud::null_invariance - expected failure (expect: fail): "
         "null_energy median 0.9* > fail 0.5*"),
        "XFAIL audits/tiny.yaml::loud::expectation - loud is expected to fail (expect: fail)",
    ])
    assert result.ret == pytest.ExitCode.OK


def test_a_failing_check_reports_metric_threshold_and_worst_classes(tiny_project):
    tiny_project.write_spec(loud_expect="pass")
    result = tiny_project.run()
    result.assert_outcomes(passed=1, failed=1, skipped=1)
    result.stdout.fnmatch_lines([
        "*_ loud::null_invariance _*",
        "FAIL: null_energy median 0.9* > fail 0.5*",
        "  audit 'tiny', model 'loud' (python:plugin_world:loud), check 'null_invariance'",
        "  null_energy median = 0.9*[[]fail; warn if > 0.3, fail if > 0.5[]]",
        "  worst classes:",
        "    * (fail): null_energy median = 0.9*",
    ])
    result.stdout.fnmatch_lines(
        ["FAILED audits/tiny.yaml::loud::null_invariance - FAIL: null_energy median 0.9*"])
    output = result.stdout.str()
    assert "Traceback" not in output and "def runtest" not in output
    assert result.ret == pytest.ExitCode.TESTS_FAILED


def test_a_model_expected_to_fail_that_passes_is_a_strict_xpass(tiny_project):
    text = tiny_project.write_spec().read_text()
    tiny_project.write_spec(text=text.replace("expect: fail", "expect: fail").replace(
        "  - name: quiet\n    id: \"python:plugin_world:quiet\"",
        "  - name: quiet\n    id: \"python:plugin_world:quiet\"\n    expect: fail"))
    result = tiny_project.run("-k", "quiet")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*_ quiet::expectation _*",
                                 "[[]XPASS(strict)[]] quiet is expected to fail (expect: fail)"])


def test_informational_models_warn_instead_of_failing(tiny_project):
    tiny_project.write_spec(loud_expect="none")
    result = tiny_project.run("-k", "loud")
    result.assert_outcomes(passed=1, warnings=1)
    result.stdout.fnmatch_lines([
        "*/audits/tiny.yaml:7: AuditWarning: loud::null_invariance (expect: none) fail*"])
    assert tiny_project.run("-k", "loud", "-W", "error::UserWarning").ret == 1


def test_the_audit_runs_once_per_spec_for_the_selected_items_only(tiny_project):
    tiny_project.write_spec()
    tiny_project.write_spec("copy.yaml")
    tiny_project.pytester.makeconftest(COUNT_RUNS)
    tiny_project.run().assert_outcomes(passed=2, xfailed=4, skipped=2)
    assert [run["spec"] for run in audit_runs(tiny_project)] == ["tiny", "tiny"]
    (tiny_project.path / "runs.jsonl").unlink()

    tiny_project.run("audits/tiny.yaml", "-k", "quiet or square").assert_outcomes(
        passed=1, skipped=1)
    assert audit_runs(tiny_project) == [{"spec": "tiny", "models": [
        ["quiet", ["null_invariance"]], ["square", ["null_invariance"]]]}]


def test_last_failed_reruns_only_the_failed_checks(tiny_project):
    tiny_project.write_spec(loud_expect="pass")
    tiny_project.pytester.makeconftest(COUNT_RUNS)
    tiny_project.run().assert_outcomes(passed=1, failed=1, skipped=1)
    result = tiny_project.run("--lf")
    result.assert_outcomes(failed=1, deselected=2)
    assert audit_runs(tiny_project)[-1]["models"] == [["loud", ["null_invariance"]]]


def test_key_metrics_are_junit_properties(tiny_project):
    tiny_project.write_spec()
    tiny_project.run("--junitxml=junit.xml")
    root = ElementTree.parse(tiny_project.path / "junit.xml").getroot()
    cases = {case.get("name"): case for case in root.iter("testcase")
             if case.get("classname").endswith("loud")}
    properties = {p.get("name"): p.get("value")
                  for p in cases["null_invariance"].iter("property")}
    assert properties["status"] == "fail" and properties["expect"] == "fail"
    assert float(properties["null_energy.median"]) > 0.5
    assert float(properties["null_energy.median.fail_threshold"]) == 0.5
    assert float(properties["null_dim.max"]) == 10
    assert cases["null_invariance"].find("skipped").get("type") == "pytest.xfail"


def test_report_option_writes_results_and_html_per_audit_run(tiny_project):
    tiny_project.write_spec()
    tiny_project.pytester.makepyfile(test_user="""
        def test_fixture_report(singaudit):
            singaudit.run("audits/tiny.yaml", models=["square"])
    """)
    result = tiny_project.run("--singaudit-report=out", "-k", "quiet or fixture_report")
    result.assert_outcomes(passed=2)
    collected = tiny_project.path / "out" / "tiny"
    assert [m["name"] for m in json.loads((collected / "results.json").read_text())["models"]] \
        == ["quiet"]
    assert (collected / "report.html").stat().st_size > 1000
    # A fixture's run gets its own folder rather than overwriting the collected spec's report.
    from_fixture = tiny_project.path / "out" / "tiny-test_fixture_report"
    assert json.loads((from_fixture / "results.json").read_text())["models"][0]["name"] == "square"
    result.stdout.fnmatch_lines([f"singaudit: reports written to {collected}",
                                 f"singaudit: reports written to {from_fixture}"])


def test_set_option_overrides_the_spec(tiny_project):
    tiny_project.write_spec()
    tiny_project.pytester.makeconftest(COUNT_RUNS.replace(
        '"spec": spec.name', '"spec": spec.name, "per_class": spec.data.images_per_class'))
    tiny_project.run("--singaudit-set=data.images_per_class=1", "-k", "quiet")
    assert audit_runs(tiny_project)[0]["per_class"] == 1
    result = tiny_project.run("--singaudit-set=data.images_per_class=zero")
    result.stdout.fnmatch_lines(["*--set data.images_per_class=zero*"])
    assert result.ret == pytest.ExitCode.INTERRUPTED


def test_device_option_is_validated_like_the_spec(tiny_project):
    tiny_project.write_spec()
    result = tiny_project.run("--singaudit-device=gpu", "--collect-only")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(["*tiny.yaml (--device gpu): device: String should match*"])


def test_a_model_without_null_space_expected_to_pass_fails_as_not_judged(tiny_project):
    tiny_project.write_spec(square_expect="pass")
    result = tiny_project.run("-k", "square")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "*_ square::null_invariance _*",
        "NOT JUDGED: null_dim is 0*",
        "  model 'square' is expected to pass but was not judged: null_dim is 0*",
    ])
    assert result.ret == pytest.ExitCode.TESTS_FAILED


def test_an_info_check_passes_with_a_note(tiny_project):
    text = tiny_project.write_spec().read_text().replace(
        "    thresholds:\n      - {metric: null_energy, statistic: median, warn: 0.3, fail: 0.5, "
        "min_images: 2, confidence: null}\n",
        "    thresholds: []\n")
    tiny_project.write_spec(text=text)
    result = tiny_project.run("-k", "quiet", "-rP", "--junitxml=junit.xml")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*singaudit info*", "*null_dim*"])
    root = ElementTree.parse(tiny_project.path / "junit.xml").getroot()
    properties = {p.get("name"): p.get("value") for p in root.iter("property")}
    assert properties["status"] == "info"


def test_a_class_with_fewer_images_than_asked_warns(tiny_project):
    tiny_project.write_spec()
    result = tiny_project.run("--singaudit-set=data.options={scenes: 6}", "-k", "quiet")
    result.stdout.fnmatch_lines(["*class 'circle' has 1 image(s), fewer than the 2 asked for*"])
