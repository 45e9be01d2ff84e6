"""Honest statuses in the reports: ``info`` (measured, not judged) is never a pass and never a
failure; a model that nothing judged (null_dim 0) does not meet ``expect: pass``."""

from __future__ import annotations

import lxml.html
from lxml import etree

from singaudit.reports import render_reports
from singaudit.reports.junit import junit_xml
from singaudit.results import (
    AuditResult,
    CheckResult,
    ModelResult,
    expectation_met,
    model_status,
)


def _audit() -> AuditResult:
    judged = ModelResult(name="judged", id="x:judged", expect="pass", status="pass",
                         expectation_met=True, info={"null_dim": 4}, checks=[
                             CheckResult(name="null_invariance", status="pass", message="fine"),
                             CheckResult(name="concepts", status="info",
                                         message="most null-carried concepts: red (z -2.00)")])
    status, note = model_status(["skip", "pass"], null_dim=0)
    unjudged = ModelResult(name="full_rank", id="x:full", expect="pass", status=status,
                           expectation_met=expectation_met("pass", status), note=note,
                           info={"null_dim": 0}, checks=[
                               CheckResult(name="null_invariance", status="skip",
                                           message="null_dim is 0"),
                               CheckResult(name="concepts", status="pass", message="n/a")])
    return AuditResult(name="statuses", status="pass", ok=False, models=[judged, unjudged])


def test_model_status_of_a_head_without_null_space_is_skip_and_expect_pass_is_not_met():
    assert model_status(["skip", "pass", "info"], null_dim=0)[0] == "skip"
    assert model_status(["skip", "warn"], null_dim=0)[0] == "skip"
    assert model_status(["skip", "fail"], null_dim=0) == ("fail", None)  # a failure still shows
    assert model_status(["pass", "info"], null_dim=5) == ("pass", None)
    assert model_status(["info", "info"], null_dim=5) == ("info", None)
    assert expectation_met("pass", "skip") is False
    assert expectation_met("pass", "info") is False  # nothing judged is not a pass
    assert expectation_met("pass", "warn") is True
    assert expectation_met("fail", "info") is False


def test_junit_info_is_a_passed_case_with_its_status_and_unjudged_model_fails():
    root = etree.fromstring(junit_xml(_audit()).encode())
    cases = {(c.get("classname"), c.get("name")): c for c in root.iter("testcase")}
    info = cases[("statuses.judged", "concepts")]
    assert info.find("failure") is None and info.find("skipped") is None
    assert {p.get("name"): p.get("value") for p in info.iter("property")}["status"] == "info"
    assert info.find("system-out").text.startswith("INFO (not judged)")
    expectation = cases[("statuses.full_rank", "expectation")]
    assert "VIOLATED (model status skip)" in expectation.find("failure").get("message")
    assert ("statuses.judged", "expectation") not in cases  # met: no extra case
    suite = root.find("testsuite")
    assert suite.get("failures") == "1" and suite.get("skipped") == "1"


def test_html_shows_info_and_the_unjudged_model_note(tmp_path):
    _audit().write(tmp_path / "results.json")
    paths = render_reports(tmp_path / "results.json", ["html"])
    document = lxml.html.fromstring(paths["html"].read_bytes())
    summary = document.xpath("//section[@id='summary']")[0].text_content()
    assert "1 info" in summary and "2 pass" in summary
    assert "expected pass: VIOLATED (model status skip)" in summary
    assert "not judged: null_dim is 0" in summary
    assert document.xpath("//td[@class='status-info']//span[@class='badge info']")


def test_a_per_class_verdict_shows_its_p_value_and_the_insufficient_class(tmp_path):
    from singaudit.results import ClassResult, Metric, Tiers

    tiers = Tiers(metric="specific_leak", statistic="median", warn=2, fail=3, scope="per_class")
    per_class = {
        "circle": ClassResult(status="fail", n=30, metrics={"specific_leak": Metric(
            value=16.9, statistic="median", unit="deg", tiers=tiers, status="fail",
            p_value=0.004)}),
        "square": ClassResult(status="insufficient_data", n=3, metrics={
            "specific_leak": Metric(value=9.0, statistic="median", unit="deg")}),
    }
    check = CheckResult(name="class_semantics", status="fail", message="circle", per_class=per_class)
    audit = AuditResult(name="p", status="fail", ok=True, models=[ModelResult(
        name="m", id="x:m", expect="fail", status="fail", expectation_met=True, checks=[check])])
    audit.write(tmp_path / "results.json")
    html = render_reports(tmp_path / "results.json", formats=("html",))["html"].read_text()
    cells = [etree.tostring(td, method="text", encoding="unicode").strip()
             for td in lxml.html.fromstring(html).xpath("//td")]
    assert "16.90° (p 0.004)" in cells  # judged: the one-sided test's p-value beside the median
    assert "9°" in cells and "(p " not in cells[cells.index("9°")]  # not judged: no p-value
    assert "insufficient" in html


def test_first_screen_says_passed_only_when_a_check_passed():
    from singaudit.reports.context import first_screen
    from singaudit.reports.markdown import run_markdown

    measured_only = AuditResult(name="measured", status="info", ok=True, models=[ModelResult(
        name="m", id="x:m", expect="none", status="info", checks=[
            CheckResult(name="concepts", status="info", message="most null-carried: red"),
            CheckResult(name="evidence", status="skip", message="no generator")])])
    screen = first_screen(measured_only)
    assert not screen["attention"] and screen["all_clear"].startswith("No check was judged")
    assert "No check was judged" in run_markdown(measured_only)
    judged = AuditResult(name="judged", status="pass", ok=True, models=[ModelResult(
        name="m", id="x:m", expect="pass", status="pass", expectation_met=True, checks=[
            CheckResult(name="null_invariance", status="pass", message="fine"),
            CheckResult(name="concepts", status="info", message="red")])])
    assert first_screen(judged)["all_clear"] == "Every judged check passed."
