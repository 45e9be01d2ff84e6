"""The terminal summary shared by the CLI and the pytest plugin (reports.summary), on results
built by hand: which lines, in which order, with which level."""

from __future__ import annotations

import json

from singaudit.reports.summary import audit_notices, short_summary
from singaudit.results import Accuracy, AuditResult, CheckResult, Metric, ModelResult, Tiers


def _audit() -> AuditResult:
    failing = CheckResult(
        name="null_invariance", status="fail", message="",
        metrics={"null_energy": Metric(value=0.9, statistic="median", status="fail", tiers=Tiers(
            metric="null_energy", statistic="median", warn=0.3, fail=0.5))})
    skipped = CheckResult(name="steering", status="skip", message="no generator")
    unknown = CheckResult(name="concepts", status="info",
                          data={"unrepresentable": {"zebra crossing": ["zebra"]}})
    loud = ModelResult.from_checks(
        name="loud", id="python:world:loud", expect="pass", checks=[skipped, failing, unknown],
        accuracy=Accuracy(top1=0.5, top1_per_class={"circle": 0.25, "square": 0.75},
                          unmatched_classes=["star"]))
    return AuditResult.from_models(name="tiny", models=[loud], data_issues={
        "skipped": 2, "short_classes": [{"class": "heart", "images": 3, "requested": 8}]})


def test_short_summary_lists_what_is_not_a_pass_most_severe_first():
    lines = short_summary(_audit())
    assert [(line.word, line.where) for line in lines] == [
        ("FAILED", "loud::null_invariance"), ("SKIPPED", "loud::steering")]
    assert lines[1].reason == "no generator"


def test_notices_name_the_violation_the_data_and_the_accuracy_once_each():
    notices = [(notice.level, notice.text) for notice in audit_notices(_audit())]
    assert notices[0] == ("violated", "loud: expect: pass is NOT met (model status fail)")
    accuracy = "loud: top-1 accuracy on the audit images 0.500 (lowest: circle 0.25, square 0.75)"
    assert ("note", accuracy) in notices
    warnings = [text for level, text in notices if level == "warning"]
    assert any(text.startswith("loud has no class named 'star'") for text in warnings)
    assert any(text.startswith("loud::concepts: 1 concept(s) left out") and "'zebra crossing' "
               "(zebra)" in text for text in warnings)
    assert "class 'heart' has 3 image(s), fewer than the 8 asked for" in warnings
    assert ("note", "2 unreadable image(s) skipped (listed in results.json)") in notices


def test_a_file_older_than_schema_4_has_its_accuracy_read_from_info():
    written = _audit().model_dump(mode="json")
    model = written["models"][0]
    model["info"]["accuracy"] = model.pop("accuracy")  # where schema 3 and older kept it
    old = AuditResult.parse(json.dumps({**written, "schema_version": 3}), "old.json")
    assert "accuracy" not in old.models[0].info
    assert old.models[0].accuracy == _audit().models[0].accuracy
    assert [n.text for n in audit_notices(old)] == [n.text for n in audit_notices(_audit())]
