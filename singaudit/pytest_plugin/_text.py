"""Readable text for check results: failure reports, skip/xfail reasons, JUnit properties."""

from __future__ import annotations

from typing import Any

from singaudit.results import STATUS_ORDER, CheckResult, Metric, ModelResult
from singaudit.wording import describe_tiers, number, with_unit

WORST_CLASSES_SHOWN = 3


def threshold_text(metric: Metric) -> str:
    tiers = metric.tiers
    if tiers is None:
        return "informational"
    return describe_tiers(tiers, metric.unit, subject=False)


def metric_line(name: str, metric: Metric) -> str:
    """metric, statistic, observed value and threshold on one line."""
    statistic = metric.statistic or (metric.tiers.statistic if metric.tiers else None)
    observed = f"{name} {statistic}" if statistic else name
    line = f"{observed} = {with_unit(metric.value, metric.unit)}"
    if metric.ci is not None:
        line += f" (CI {number(metric.ci[0])}..{number(metric.ci[1])})"
    if metric.tiers is not None:
        line += f"  [{metric.status or 'judged'}; {threshold_text(metric)}]"
    return line


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
    return [f"{class_name} ({status}): {metric_line(metric_name, metric)}"
            for _, _, class_name, metric, status in ranked[:limit]]


def check_report(audit_name: str, model: ModelResult, check: CheckResult) -> str:
    """The failure report of one model x check: what was measured against what, and where."""
    # The first line is what pytest's short summary shows: lead with the verdict's reason.
    lines = [f"{check.status.upper()}: {short_reason(check)}",
             f"  audit {audit_name!r}, model {model.name!r} ({model.id}), check {check.name!r}"]
    interesting = [(n, m) for n, m in check.metrics.items() if m.status in ("fail", "warn", "error")]
    for name, metric in interesting or list(check.metrics.items()):
        lines.append(f"  {metric_line(name, metric)}")
    classes = worst_classes(check)
    if classes:
        lines.append("  worst classes:")
        lines.extend(f"    {line}" for line in classes)
    return "\n".join(lines)


def short_reason(check: CheckResult) -> str:
    """One line for skip/xfail reasons and warnings: the check's own message, else the judged
    metrics."""
    if check.message:
        return check.message
    judged = [metric_line(n, m) for n, m in check.metrics.items() if m.status in ("fail", "warn")]
    return "; ".join(judged) or f"check {check.name} {check.status}"


def default_properties(model: ModelResult, check: CheckResult) -> list[tuple[str, Any]]:
    """Key metrics as JUnit properties: the same keys the JUnit report writes."""
    from singaudit.reports.junit import check_properties

    return check_properties(model, check)
