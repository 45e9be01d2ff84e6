"""The terminal summary of an audit, as plain text shared by the ``singaudit`` command and the
pytest plugin: the short summary of checks, the audit's notices (violated expectations,
warnings, notes) and a check's failure report. Each front end adds its own styling."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from singaudit.reports.verdicts import check_outcome, describe_metric
from singaudit.results import STATUS_ORDER, AuditResult, CheckResult, ModelResult
from singaudit.wording import fixed, number

# pytest's short-summary words (as `pytest -rA`), most severe first.
SUMMARY_WORDS = {"failed": "FAILED", "error": "ERROR", "warned": "WARN",
                 "failed (informational)": "FAILED (informational)", "xfailed": "XFAIL",
                 "skipped": "SKIPPED"}
WORST_CLASSES_SHOWN = 3
LOWEST_ACCURACIES_SHOWN = 3
UNKNOWN_TEXTS_SHOWN = 10

NoticeLevel = Literal["violated", "warning", "note"]


@dataclass(frozen=True)
class Notice:
    """One line about the audit beyond the checks' outcomes (plain text, no markup)."""

    level: NoticeLevel
    text: str


@dataclass(frozen=True)
class SummaryLine:
    """A check that is not a plain pass, in pytest's short-summary words."""

    outcome: str
    word: str
    where: str
    reason: str


def short_summary(result: AuditResult) -> list[SummaryLine]:
    """One line per check that is not a plain pass (skip reasons included), most severe first."""
    lines = [SummaryLine(outcome, SUMMARY_WORDS[outcome], f"{model.name}::{check.name}",
                         check.message)
             for model in result.models for check in model.checks
             if (outcome := check_outcome(model, check)) in SUMMARY_WORDS]
    order = list(SUMMARY_WORDS)
    return sorted(lines, key=lambda line: order.index(line.outcome))


def verdict_questions(result: AuditResult) -> list[tuple[str, str]]:
    """(check name, the question its verdict answers) for each check in the short summary whose
    data states one (class_semantics does), once per check name."""
    found: dict[str, str] = {}
    for model in result.models:
        for check in model.checks:
            question = check.data.get("question")
            if isinstance(question, str) and check_outcome(model, check) in SUMMARY_WORDS:
                found.setdefault(check.name, question)
    return list(found.items())


def audit_notices(result: AuditResult) -> list[Notice]:
    """Model notes and violated expectations, data class names a model lacks, top-1 accuracy,
    texts a joint space cannot represent, short classes and unreadable images."""
    notices: list[Notice] = []
    for model in result.models:
        if model.note:
            notices.append(Notice("note", f"{model.name}: {model.status}, {model.note}"))
        if model.expectation_met is False:
            notices.append(Notice("violated", f"{model.name}: expect: {model.expect} is NOT met "
                                              f"(model status {model.status})"))
    notices += [Notice("note", f"{check} answers: {question}")
                for check, question in verdict_questions(result)]
    for model in result.models:
        notices += _accuracy_notices(model)
    for model in result.models:
        for check in model.checks:
            unknown = check.data.get("unrepresentable") or {}
            if unknown:
                notices.append(Notice("warning", unrepresentable_text(
                    f"{model.name}::{check.name}", unknown, left_out=check.name == "concepts")))
    for short in result.data_issues.get("short_classes", []):
        notices.append(Notice("warning", f"class {short['class']!r} has {number(short['images'])} "
                                         f"image(s), fewer than the {number(short['requested'])} "
                                         "asked for"))
    skipped = result.data_issues.get("skipped", 0)
    if skipped:
        notices.append(Notice("note", f"{number(skipped)} unreadable image(s) skipped (listed in "
                                      "results.json)"))
    return notices


def _accuracy_notices(model: ModelResult) -> list[Notice]:
    accuracy = model.accuracy
    notices: list[Notice] = []
    if accuracy is None:
        return notices
    if accuracy.unmatched_classes:
        notices.append(Notice("warning", f"{model.name} has no class named "
                                         f"{', '.join(map(repr, accuracy.unmatched_classes))} "
                                         "(data and model class names differ: accuracy and "
                                         "prompts may be wrong)"))
    if accuracy.top1 is not None:
        worst = sorted(accuracy.top1_per_class.items(),
                       key=lambda item: item[1])[:LOWEST_ACCURACIES_SHOWN]
        lowest = ", ".join(f"{name} {fixed(value, 2)}" for name, value in worst)
        notices.append(Notice("note", f"{model.name}: top-1 accuracy on the audit images "
                                      f"{fixed(accuracy.top1, 3)} (lowest: {lowest})"))
    return notices


def unrepresentable_text(where: str, unknown: dict[str, Any], left_out: bool,
                         shown: int = UNKNOWN_TEXTS_SHOWN) -> str:
    """Each text a joint space cannot represent, with its unknown words, on one line."""
    named = [f"{text!r} ({', '.join(words)})" for text, words in list(unknown.items())[:shown]]
    more = f" and {len(unknown) - shown} more (in the report)" if len(unknown) > shown else ""
    what = (f"{len(unknown)} concept(s) left out, unknown to the joint space's text tower"
            if left_out else "words unknown to the joint space's text tower, scored anyway "
            "(its angles toward them measure nothing)")
    return f"{where}: {what}: {', '.join(named)}{more}"


# -- one check ---------------------------------------------------------------------------------


def judged_metric_name(check: CheckResult) -> str | None:
    """The metric that decided the verdict: the worst judged one, else the first judged one."""
    judged = [(name, m) for name, m in check.metrics.items() if m.tiers is not None]
    if not judged:
        class_metrics = [n for c in check.per_class.values() for n, m in c.metrics.items()
                         if m.tiers is not None]
        return class_metrics[0] if class_metrics else None
    return max(judged, key=lambda item: STATUS_ORDER.get(item[1].status or "skip", 0))[0]


def worst_classes(check: CheckResult, limit: int = WORST_CLASSES_SHOWN) -> list[str]:
    """The classes furthest on the wrong side of the deciding metric, worst first."""
    metric_name = judged_metric_name(check)
    if metric_name is None:
        return []
    ranked = []
    for class_name, result in check.per_class.items():
        metric = result.metrics.get(metric_name)
        if metric is None or metric.value is None:
            continue
        badness = -metric.value if metric.higher_is_better or (
            metric.tiers is not None and metric.tiers.higher_is_better) else metric.value
        status = result.status or metric.status or "pass"
        ranked.append((STATUS_ORDER.get(status, 0), badness, class_name, metric, status))
    ranked.sort(key=lambda entry: (entry[0], entry[1]), reverse=True)
    return [f"{class_name} ({status}): {describe_metric(metric_name, metric)}"
            for _, _, class_name, metric, status in ranked[:limit]]


def short_reason(check: CheckResult) -> str:
    """One line for skip/xfail reasons and warnings: the check's own message, else the judged
    metrics."""
    if check.message:
        return check.message
    judged = [describe_metric(n, m) for n, m in check.metrics.items()
              if m.status in ("fail", "warn")]
    return "; ".join(judged) or f"check {check.name} {check.status}"


def check_report(audit_name: str, model: ModelResult, check: CheckResult) -> str:
    """The failure report of one model x check: what was measured against what, and where."""
    # The first line is what pytest's short summary shows: lead with the verdict's reason.
    lines = [f"{check.status.upper()}: {short_reason(check)}",
             f"  audit {audit_name!r}, model {model.name!r} ({model.id}), check {check.name!r}"]
    interesting = [(n, m) for n, m in check.metrics.items() if m.status in ("fail", "warn", "error")]
    for name, metric in interesting or list(check.metrics.items()):
        lines.append(f"  {describe_metric(name, metric)}")
    classes = worst_classes(check)
    if classes:
        lines.append("  worst classes:")
        lines.extend(f"    {line}" for line in classes)
    return "\n".join(lines)
