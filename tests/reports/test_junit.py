from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from lxml import etree

from singaudit.reports import junit_xml
from singaudit.results import AuditResult, CheckResult, Metric, ModelResult, Tiers

SCHEMA = etree.XMLSchema(etree.parse(str(Path(__file__).with_name("junit.xsd"))))


def _cases(root: etree._Element) -> dict[tuple[str, str], etree._Element]:
    return {(c.get("classname"), c.get("name")): c for c in root.iter("testcase")}


def test_junit_validates_and_counts(rendered: dict[str, Path], sample_audit: AuditResult) -> None:
    root = etree.parse(str(rendered["junit"])).getroot()
    SCHEMA.assertValid(root)
    suite = root.find("testsuite")
    cases = _cases(root)
    expected = sum(len(m.checks) for m in sample_audit.models) + sum(
        m.expect == "fail" for m in sample_audit.models)
    assert int(suite.get("tests")) == len(cases) == expected
    # resnet50 fails with expect: none: informational, not a <failure> (check_outcome's rule).
    assert int(suite.get("failures")) == len(root.findall(".//testcase/failure")) == 0
    assert int(suite.get("errors")) == len(root.findall(".//testcase/error")) == 1
    assert int(suite.get("skipped")) == len(root.findall(".//testcase/skipped")) == 2
    assert suite.get("timestamp") == "2026-11-28T09:00:00+00:00"
    suite_properties = {p.get("name"): p.get("value") for p in suite.find("properties")}
    assert suite_properties["ok"] == "no" and suite_properties["provenance.seed"] == "0"


def test_informational_failure_passes_with_its_reason(rendered: dict[str, Path]) -> None:
    case = _cases(etree.parse(str(rendered["junit"])).getroot())[
        ("sample audit.resnet50", "class_semantics")]
    assert case.find("failure") is None and case.find("error") is None
    properties = {p.get("name"): p.get("value") for p in case.iter("property")}
    assert properties["informational"] == "true" and properties["status"] == "fail"


def test_failure_states_metric_statistic_value_and_threshold(
        sample_audit: AuditResult) -> None:
    audit = sample_audit.model_copy(deep=True)
    audit.models[0].expect = "pass"  # the same failure, now judged
    root = etree.fromstring(junit_xml(audit).encode())
    failure = _cases(root)[("sample audit.resnet50", "class_semantics")].find("failure")
    message = failure.get("message")
    observed = sample_audit.models[0].checks[2].metrics["abs_as"].value
    assert f"abs_as median = {observed:.3g}°" in message
    assert "fail if > 4°" in message and "warn if > 3°" in message
    assert "class '<script>alert(1)</script>'" in message  # the failing classes are named


def test_expected_failure_is_not_a_failure(rendered: dict[str, Path]) -> None:
    cases = _cases(etree.parse(str(rendered["junit"])).getroot())
    case = cases[("sample audit.leaky_cal", "class_semantics")]
    assert case.find("failure") is None
    skipped = case.find("skipped")
    assert skipped.get("type") == "singaudit.xfail"
    assert skipped.get("message").startswith("expected failure (expect: fail)")
    properties = {p.get("name"): p.get("value") for p in case.iter("property")}
    assert properties["expected_failure"] == "true"
    assert float(properties["abs_as.median"]) > 4
    expectation = cases[("sample audit.leaky_cal", "expectation")]
    assert expectation.find("failure") is None


def test_skip_error_and_violated_expectation() -> None:
    audit = AuditResult(name="a", status="pass", ok=False, models=[ModelResult(
        name="m", id="x:y", expect="fail", status="pass", expectation_met=False, checks=[
            CheckResult(name="null_invariance", status="skip", message="null_dim is 0"),
            CheckResult(name="concepts", status="error", message="boom"),
            CheckResult(name="class_semantics", status="warn", message="abs_as median 3.2",
                        metrics={"abs_as": Metric(value=3.2, statistic="median", unit="deg",
                                                  status="warn", tiers=Tiers(
                                                      metric="abs_as", statistic="median",
                                                      warn=3, fail=4))}),
        ])])
    root = etree.fromstring(junit_xml(audit).encode())
    SCHEMA.assertValid(root)
    cases = _cases(root)
    assert cases[("a.m", "null_invariance")].find("skipped").get("message") == "null_dim is 0"
    assert cases[("a.m", "concepts")].find("error").get("message") == "boom"
    warned = cases[("a.m", "class_semantics")]
    assert warned.find("failure") is None and "WARN" in warned.find("system-out").text
    violated = cases[("a.m", "expectation")].find("failure")
    assert "VIOLATED" in violated.get("message")


PYTEST_SAMPLE = textwrap.dedent('''
    import pytest

    def test_passes(record_property, record_testsuite_property):
        record_property("abs_as.median", 1.5)
        record_testsuite_property("audit", "sample")
        print("output")

    def test_fails():
        assert 1 == 2

    @pytest.mark.skip(reason="not applicable")
    def test_skipped():
        pass

    @pytest.mark.xfail(reason="known")
    def test_xfails():
        assert False

    @pytest.fixture
    def broken():
        raise RuntimeError("boom")

    def test_errors(broken):
        pass
''')


def _pytest_junit(folder: Path, source: str, family: str) -> etree._Element:
    """The junit.xml pytest itself writes for ``source`` (its tests fail on purpose)."""
    (folder / "test_sample.py").write_text(source)
    report = folder / "pytest.xml"
    subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:singaudit",
         "-p", "no:singaudit_fixtures", "-o", f"junit_family={family}", f"--junitxml={report}",
         str(folder / "test_sample.py")],
        check=False, cwd=folder, capture_output=True, timeout=120,
    )
    return etree.parse(str(report)).getroot()


def _shape(root: etree._Element) -> tuple[set[tuple[str, str]], dict[str, set[str]]]:
    pairs = {(e.getparent().tag, e.tag) for e in root.iter() if e.getparent() is not None}
    attributes: dict[str, set[str]] = {}
    for element in root.iter():
        attributes.setdefault(element.tag, set()).update(element.attrib)
    return pairs, attributes


def test_same_shape_as_pytest_junit(tmp_path: Path, rendered: dict[str, Path]) -> None:
    theirs = _pytest_junit(tmp_path, PYTEST_SAMPLE, "xunit1")
    ours = etree.parse(str(rendered["junit"])).getroot()
    SCHEMA.assertValid(theirs)  # the schema describes what pytest writes
    their_pairs, their_attributes = _shape(theirs)
    our_pairs, our_attributes = _shape(ours)
    assert our_pairs <= their_pairs
    for tag in ("testsuite", "testcase", "failure", "skipped", "error", "property"):
        assert our_attributes.get(tag, set()) <= their_attributes[tag], tag


@pytest.mark.parametrize("family", ["xunit2"])
def test_pytest_default_family_also_validates(tmp_path: Path, family: str) -> None:
    # xunit2 has no testcase-level properties
    source = PYTEST_SAMPLE.replace('record_property("abs_as.median", 1.5)', "pass")
    SCHEMA.assertValid(_pytest_junit(tmp_path, source, family))
