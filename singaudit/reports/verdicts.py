"""Words for numbers and verdicts, shared by the HTML/PDF and JUnit reports (pure, no I/O)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from singaudit.results import CheckResult, Metric, ModelResult
from singaudit.wording import describe_tiers, number, with_unit

MAX_LIST_ITEMS = 12

# One wording for numbers, units and thresholds (singaudit.wording), under the names the
# report modules use.
format_number = number
format_value = with_unit


def describe_metric(name: str, metric: Metric) -> str:
    """One line: metric, statistic, observed value and, when judged, the thresholds."""
    statistic = metric.statistic or (metric.tiers.statistic if metric.tiers else None)
    observed = f"{name} {statistic} = " if statistic else f"{name} = "
    observed += format_value(metric.value, metric.unit)
    if metric.ci is not None:
        observed += f" (CI {format_number(metric.ci[0])}–{format_number(metric.ci[1])})"
    if metric.tiers is not None:
        # The line names metric and statistic already; a fraction_within tier keeps its bound.
        subject = metric.tiers.statistic == "fraction_within"
        tiers = describe_tiers(metric.tiers, metric.unit, subject=subject)
        observed += f" [{metric.status or 'judged'}; {tiers}]"
    return observed


def judged_lines(check: CheckResult, statuses: tuple[str, ...] = ("fail", "warn")) -> list[str]:
    """describe_metric for every overall and per-class metric judged with one of ``statuses``."""
    lines = [describe_metric(n, m) for n, m in check.metrics.items() if m.status in statuses]
    for class_name, result in check.per_class.items():
        lines += [
            f"class {class_name!r}: {describe_metric(n, m)}"
            for n, m in result.metrics.items()
            if m.status in statuses
        ]
    return lines


def is_expected_failure(model: ModelResult, check: CheckResult) -> bool:
    """A failing check of an ``expect: fail`` model is the expected outcome (like xfail)."""
    return model.expect == "fail" and check.status == "fail"


def expectation_text(model: ModelResult) -> str:
    if model.expect == "none" or model.expectation_met is None:
        return "no expectation"
    verdict = "met" if model.expectation_met else "VIOLATED"
    return f"expected {model.expect}: {verdict} (model status {model.status})"


def threshold_text(metric: Metric) -> str:
    if metric.tiers is None:
        return "informational"
    return describe_tiers(metric.tiers, metric.unit)


def flatten(mapping: Mapping[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """Nested mapping -> (dotted key, readable value) rows; long lists are shortened."""
    rows: list[tuple[str, str]] = []
    for key, value in mapping.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            rows += flatten(value, name + ".")
        elif isinstance(value, (list, tuple)):
            shown = ", ".join(format_number(v) if not isinstance(v, (dict, list)) else str(v)
                              for v in value[:MAX_LIST_ITEMS])
            more = f" … ({len(value)} in all)" if len(value) > MAX_LIST_ITEMS else ""
            rows.append((name, shown + more))
        else:
            rows.append((name, format_number(value) if value != {} else "{}"))
    return rows


def _is_flat(value: Any) -> bool:
    return isinstance(value, Mapping) and bool(value) and not any(
        isinstance(v, Mapping) for v in value.values())


def compact(mapping: Mapping[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """Like flatten, but a mapping of plain values becomes one "k v · k v" row (provenance)."""
    rows: list[tuple[str, str]] = []
    for key, value in mapping.items():
        name = f"{prefix}{key}"
        if _is_flat(value):
            rows.append((name, " · ".join(f"{k} {v}" for k, v in flatten(value))))
        elif isinstance(value, Mapping) and value:
            rows += compact(value, name + ".")
        else:
            rows += flatten({name: value})
    return rows


# A check's outcome in pytest's words: the one rule shared by the terminal, the reports, JUnit
# and the pytest plugin. ``expect: fail`` turns a fail into an xfail; ``expect: none`` makes fail
# and warn informational (reported, never failing the audit); an error is always an error.
OUTCOME_ORDER = ("failed", "error", "passed", "warned", "info", "skipped", "xfailed",
                 "failed (informational)")
ATTENTION = ("failed", "error", "warned", "failed (informational)", "xfailed")


def check_outcome(model: ModelResult, check: CheckResult) -> str:
    """One of OUTCOME_ORDER for ``check`` of ``model``."""
    if check.status == "error":
        return "error"
    if check.status == "fail":
        if model.expect == "fail":
            return "xfailed"
        return "failed (informational)" if model.expect == "none" else "failed"
    return {"pass": "passed", "warn": "warned", "skip": "skipped"}.get(check.status, check.status)


def outcome_counts(models: list[ModelResult]) -> dict[str, int]:
    """Outcome -> count over every model's checks, in OUTCOME_ORDER, zeros left out."""
    counts = dict.fromkeys(OUTCOME_ORDER, 0)
    for model in models:
        for check in model.checks:
            outcome = check_outcome(model, check)
            counts[outcome] = counts.get(outcome, 0) + 1
    return {outcome: count for outcome, count in counts.items() if count}


def all_clear_line(models: list[ModelResult]) -> str:
    """What the first screen says when nothing needs a look: a pass only where a check passed."""
    if "passed" in outcome_counts(models):
        return "Every judged check passed."
    return "No check was judged: nothing passed and nothing failed (info and skip only)."


def outcome_line(models: list[ModelResult]) -> str:
    """pytest's summary words: "19 passed, 1 xfailed, 1 failed (informational)"."""
    parts = []
    for outcome, count in outcome_counts(models).items():
        word = "errors" if outcome == "error" and count > 1 else outcome
        parts.append(f"{count} {word}")
    return ", ".join(parts) or "no checks"
