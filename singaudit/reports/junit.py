"""JUnit XML in the shape pytest writes, so CI systems list audits next to unit tests.

One testcase per model x check (classname ``<audit>.<model>``, name = check). pass, warn and info
pass (warn and info add ``<system-out>``; info's ``status`` property says it was not judged), fail
is ``<failure>``, skip ``<skipped>``, error ``<error>``. A failing check of an ``expect: fail``
model is reported like pytest's xfail (``<skipped type="singaudit.xfail">``); such a model also
gets an ``expectation`` testcase that fails when the model did not fail, and so does an
``expect: pass`` model that no check judged (null_dim 0). A failing check of an ``expect: none``
model is informational: it passes with the properties ``status=fail`` and ``informational=true``,
as the CLI (exit 0) and the pytest plugin (a passing test with a warning) report it; an error is
an error whatever the expectation (verdicts.check_outcome is the one rule). Key metrics are
``<properties>`` of each testcase (as pytest's
``record_property`` writes them), audit-level facts are properties of the testsuite.
"""

from __future__ import annotations

import re
from typing import Any
from xml.etree import ElementTree

from singaudit.reports.verdicts import (
    check_outcome,
    describe_metric,
    expectation_text,
    flatten,
    format_number,
    is_expected_failure,
    judged_lines,
)
from singaudit.results import AuditResult, CheckResult, ModelResult

# Characters XML 1.0 cannot hold at all (a class name may contain any of them): shown escaped.
_XML_ILLEGAL = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _xml_legal(text: str | None) -> str | None:
    return None if text is None else _XML_ILLEGAL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def _make_legal(root: ElementTree.Element) -> None:
    for element in root.iter():
        element.text, element.tail = _xml_legal(element.text), _xml_legal(element.tail)
        for key, value in element.attrib.items():
            element.set(key, _xml_legal(value) or "")  # attribute values are never None


def _time(seconds: float) -> str:
    return f"{max(seconds, 0.0):.3f}"


def _add_properties(parent: ElementTree.Element, pairs: list[tuple[str, Any]]) -> None:
    if not pairs:
        return
    properties = ElementTree.SubElement(parent, "properties")
    for name, value in pairs:
        ElementTree.SubElement(properties, "property", name=name, value=format_number(value))


def _failure_message(check: CheckResult) -> str:
    lines = judged_lines(check, ("fail",))
    head = check.message or f"check {check.name} failed"
    return head if not lines else head + " | " + "; ".join(lines)


def check_properties(model: ModelResult, check: CheckResult) -> list[tuple[str, Any]]:
    """Key metrics of one model x check as JUnit properties (also used by the pytest plugin)."""
    pairs: list[tuple[str, Any]] = [("status", check.status), ("expect", model.expect)]
    if is_expected_failure(model, check):
        pairs.append(("expected_failure", "true"))
    if check_outcome(model, check) == "failed (informational)":
        pairs.append(("informational", "true"))
    for name, metric in check.metrics.items():
        key = f"{name}.{metric.statistic}" if metric.statistic else name
        pairs.append((key, metric.value))
        if metric.tiers is not None and metric.tiers.fail is not None:
            pairs.append((f"{key}.fail_threshold", metric.tiers.fail))
    return pairs


def _check_case(suite: ElementTree.Element, audit: AuditResult, model: ModelResult,
                check: CheckResult) -> str:
    """Append one testcase; return the JUnit outcome: passed, failure, skipped or error."""
    case = ElementTree.SubElement(suite, "testcase", classname=f"{audit.name}.{model.name}",
                                  name=check.name, time=_time(check.duration_s))
    _add_properties(case, check_properties(model, check))
    if is_expected_failure(model, check):
        message = f"expected failure (expect: fail): {_failure_message(check)}"
        ElementTree.SubElement(case, "skipped", type="singaudit.xfail", message=message)
        return "skipped"
    if check_outcome(model, check) == "failed (informational)":
        return "passed"  # status=fail and informational=true are its properties
    if check.status == "fail":
        message = _failure_message(check)
        failure = ElementTree.SubElement(case, "failure", message=message)
        failure.text = "\n".join([message, *[describe_metric(n, m)
                                              for n, m in check.metrics.items()]])
        return "failure"
    if check.status == "error":
        ElementTree.SubElement(case, "error", message=check.message or "check raised an error")
        return "error"
    if check.status == "skip":
        ElementTree.SubElement(case, "skipped", type="singaudit.skip",
                               message=check.message or "not applicable")
        return "skipped"
    if check.status == "warn":
        output = ElementTree.SubElement(case, "system-out")
        output.text = "WARN: " + "; ".join([check.message, *judged_lines(check, ("warn",))])
    if check.status == "info":  # measured, not judged: a passed case whose status says so
        ElementTree.SubElement(case, "system-out").text = f"INFO (not judged): {check.message}"
    return "passed"


def _expectation_case(suite: ElementTree.Element, audit: AuditResult,
                      model: ModelResult) -> str:
    case = ElementTree.SubElement(suite, "testcase", classname=f"{audit.name}.{model.name}",
                                  name="expectation", time=_time(0.0))
    _add_properties(case, [("expect", model.expect), ("status", model.status),
                           *([("note", model.note)] if model.note else [])])
    if model.expectation_met is False:
        ElementTree.SubElement(case, "failure", message=expectation_text(model))
        return "failure"
    return "passed"


def _unmet_without_a_failing_check(model: ModelResult) -> bool:
    """An ``expect: pass`` model that was not judged (e.g. null_dim 0): no check case fails,
    so its expectation gets a case of its own."""
    return model.expectation_met is False and not any(
        check.status in ("fail", "error") for check in model.checks)


def junit_xml(audit: AuditResult) -> str:
    """The junit.xml text for an audit."""
    root = ElementTree.Element("testsuites", name="singaudit")
    suite = ElementTree.SubElement(root, "testsuite", name=audit.name)
    started = audit.provenance.get("started_at")
    if isinstance(started, str):
        suite.set("timestamp", started)
    _add_properties(suite, [
        ("audit", audit.name), ("status", audit.status), ("ok", audit.ok),
        ("schema_version", audit.schema_version),
        *[(f"provenance.{key}", value) for key, value in flatten(audit.provenance)],
    ])
    outcomes: list[str] = []
    total_time = 0.0
    for model in audit.models:
        for check in model.checks:
            outcomes.append(_check_case(suite, audit, model, check))
            total_time += check.duration_s
        if model.expect == "fail" or _unmet_without_a_failing_check(model):
            outcomes.append(_expectation_case(suite, audit, model))
    counts = {
        "tests": str(len(outcomes)),
        "failures": str(outcomes.count("failure")),
        "errors": str(outcomes.count("error")),
        "skipped": str(outcomes.count("skipped")),
        "time": _time(total_time),
    }
    for element in (suite, root):
        for key, value in counts.items():
            if element is suite or key != "skipped":
                element.set(key, value)
    _make_legal(root)
    ElementTree.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ElementTree.tostring(
        root, encoding="unicode") + "\n"
