"""Markdown summaries for pull-request comments and ``$GITHUB_STEP_SUMMARY``: a run's first
screen (``report.md``) and a regression diff (``diff.md``). Tables are GitHub-flavoured Markdown;
every cell is escaped, so names cannot break a table."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from singaudit.regression.diff import OVERALL, Delta, Diff
from singaudit.reports.context import first_screen
from singaudit.results import STATUS_ORDER, AuditResult
from singaudit.wording import number

REPORT_LINK = "REPORT_URL"  # replaced with --report-url, else left for the CI to fill in
MAX_ROWS = 20  # rows of a table before "and N more": a PR comment stays short


def cell(value: Any) -> str:
    """One table cell: pipes escaped, line breaks and Markdown emphasis made plain."""
    text = "" if value is None else str(value)
    text = " ".join(text.split())
    for char in ("\\", "|", "*", "`", "<", "[", "]"):
        text = text.replace(char, "\\" + char)
    return text


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    lines = ["| " + " | ".join(cell(h) for h in headers) + " |",
             "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return lines


def _link(report_url: str | None, label: str = "Full report") -> str:
    return f"[{label}]({report_url or REPORT_LINK})"


# ---------------------------------------------------------------------------- one run


def run_markdown(audit: AuditResult, report_url: str | None = None) -> str:
    """The HTML report's first screen as Markdown: verdict and headline, what needs a look
    (failed first), then every model x check."""
    summary = first_screen(audit)
    verdict = ("OK: every expectation met" if audit.ok else
               "NOT OK: an unexpected failure or a violated expectation")
    lines = [f"## singaudit: {cell(audit.name)}: {audit.status}", "",
             f"**{verdict}**: {summary['headline']}.", ""]
    attention = [[row["name"], "expectation", "fail", row["expectation"]]
                 for row in summary["violated"]]
    attention += [[row["model"], row["check"], row["outcome"], row["message"]]
                  for row in summary["attention"]]
    if attention:
        lines += ["**What needs a look**", ""]
        lines += table(["model", "check", "outcome", "how badly"], attention[:MAX_ROWS])
        if len(attention) > MAX_ROWS:
            lines.append(f"\nand {len(attention) - MAX_ROWS} more in the full report.")
        lines.append("")
    else:
        lines += [summary["all_clear"], ""]
    rows = []
    for row in summary["rows"]:
        met = {True: ": met", False: ": VIOLATED"}.get(row["expectation_met"], "")
        cells = [_status_word(c["status"], c["expected_failure"]) if c else "not run"
                 for c in row["cells"]]
        rows.append([row["name"], row["expect"] + met, *cells])
    lines += table(["model", "expect", *summary["check_names"]], rows)
    lines += ["", _link(report_url), ""]
    return "\n".join(lines)


def _status_word(status: str, expected_failure: bool = False) -> str:
    return "xfail" if expected_failure else status


# ---------------------------------------------------------------------------- a diff


def diff_markdown(diff: Diff, report_url: str | None = None) -> str:
    """A compact regression summary: one row per model, then the judged rows, failing first."""
    title = f"## singaudit diff: {cell(diff.new.name)} vs baseline {cell(diff.base.name)}: "
    lines = [title + diff.status, ""]
    if diff.mismatches:
        lines += ["**Compared despite differences** (--allow-mismatch): "
                  + "; ".join(cell(m.describe()) for m in diff.mismatches), ""]
    rows = []
    for model in diff.models:
        pair = model.new_model if model.base_model == model.new_model else (
            f"{model.new_model} (baseline {model.base_model})")
        rows.append([pair, model.status, ", ".join(model.failing_classes) or "none",
                     f"{model.status_before} -> {model.status_after}", model.message])
    lines += table(["model", "regression", "failing classes", "status before -> after",
                    "why"], rows)
    judged = sorted(((m, d) for m in diff.models for d in m.judged()),
                    key=lambda pair: (-STATUS_ORDER.get(pair[1].verdict or "skip", 0),
                                      -(pair[1].worse_by or 0.0)))
    if judged:
        heading = ("**Regression tiers** (failing first; change = candidate - baseline, with "
                   "its 95% interval)")
        lines += ["", heading, ""]
        lines += table(["model", "check", "metric", "class", "before", "after", "change",
                        "interval", "bound", "verdict"],
                       [_delta_row(m.new_model, d) for m, d in judged[:MAX_ROWS]])
        if len(judged) > MAX_ROWS:
            lines.append(f"\nand {len(judged) - MAX_ROWS} more rows in the full report.")
    facts = [(m.new_model, f) for m in diff.models for f in m.facts if f.status != "skip"]
    changed = [(name, f) for name, f in facts if f.status != "pass"]
    if facts and not changed:
        names = ", ".join(dict.fromkeys(f.fact for _, f in facts))
        lines += ["", f"Structural facts as in the baseline: {cell(names)}."]
    elif changed:
        facts = changed
        lines += ["", "**Structural facts that changed**", ""]
        lines += table(["model", "fact", "baseline", "candidate", "verdict"],
                       [[name, f.fact, number(f.before), number(f.after), f.status]
                        for name, f in facts])
    lines += ["", _link(report_url), ""]
    return "\n".join(lines)


def _delta_row(model: str, delta: Delta) -> list[str]:
    interval = "n/a" if delta.interval is None else (
        f"{number(delta.interval[0], True)} to {number(delta.interval[1], True)} "
        f"({delta.method})")
    return [model, delta.check, f"{delta.metric} {delta.statistic or ''}".strip(),
            "all" if delta.scope == OVERALL else delta.scope, number(delta.before),
            number(delta.after), number(delta.delta, True), interval, number(delta.bound),
            delta.verdict or ""]
