"""Markdown summaries for pull-request comments and ``$GITHUB_STEP_SUMMARY``: a run's first
screen (``report.md``) and a regression diff (``diff.md``). Tables are GitHub-flavoured Markdown;
every cell is escaped, so names cannot break a table; ``@name`` stays text (no one is notified);
names and cells are cut to a bounded length and the whole summary stays under MAX_CHARS (the
HTML report and the JSON files keep everything in full)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from singaudit.regression.diff import OVERALL, Delta, Diff
from singaudit.reports.context import first_screen
from singaudit.reports.summary import verdict_questions
from singaudit.results import STATUS_ORDER, AuditResult
from singaudit.wording import grouped, number

REPORT_LINK = "REPORT_URL"  # replaced with --report-url, else left for the CI to fill in
MAX_ROWS = 20  # rows of a table before "and N more": a PR comment stays short
MAX_NAME = 80  # characters of a model, check, class or audit name in a summary
MAX_CELL = 1000  # characters of any cell (messages repeat names)
MAX_CHARS = 60_000  # GitHub refuses comments over 65,536 characters
ELLIPSIS = "\u2026"
# GitHub links "@name" (and notifies that user or team) anywhere outside code; a zero-width
# joiner after the "@" keeps the text as it reads and links no one.
MENTION = ("@", "@\u200d")


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + ELLIPSIS


def name(value: Any) -> str:
    """A name as a summary shows it: on one line and at most MAX_NAME characters."""
    return _shorten(" ".join(("" if value is None else str(value)).split()), MAX_NAME)


def cell(value: Any, limit: int = MAX_CELL) -> str:
    """One table cell: pipes escaped, line breaks and Markdown emphasis made plain, mentions made
    inert, at most ``limit`` characters of text."""
    text = _shorten(" ".join(("" if value is None else str(value)).split()), limit)
    for char in ("\\", "|", "*", "`", "<", "[", "]"):
        text = text.replace(char, "\\" + char)
    return text.replace(*MENTION)


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    lines = ["| " + " | ".join(cell(h) for h in headers) + " |",
             "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return lines


def _link(report_url: str | None, label: str = "Full report") -> str:
    return f"[{label}]({report_url or REPORT_LINK})"


def _finish(lines: list[str], footer: list[str], names: Sequence[Any],
            messages: Sequence[Any] = ()) -> str:
    """The summary's text under MAX_CHARS: trailing lines of ``lines`` left out (and said so)
    when it would be longer, a note when one of ``names`` or ``messages`` was shortened, then
    ``footer``."""
    notes = []
    if _longer(names, MAX_NAME) or _longer(messages, MAX_CELL):
        notes.append(f"Cut: names longer than {MAX_NAME} characters and messages longer than "
                     f"{grouped(MAX_CELL)} are shortened here (ending in {ELLIPSIS}); the full report "
                     "has them in full.")
    footer = ["", *(line for note in notes for line in (f"*{note}*", "")), *footer]
    budget = MAX_CHARS - len("\n".join(footer)) - 200  # room for the note of what was cut
    body: list[str] = []
    size = 0
    for line in lines:
        if size + len(line) + 1 > budget:
            break
        body.append(line)
        size += len(line) + 1
    left_out = len(lines) - len(body)
    if left_out:
        if body and body[-1].startswith("|---"):
            body.pop()  # a table's separator without rows ...
        if body and body[-1].startswith("|") and not (len(body) > 1
                                                      and body[-2].startswith("|")):
            body.pop()  # ... and its header
        body += ["", (f"*Cut: {len(lines) - len(body)} more line(s) left out to keep this "
                      f"summary under {grouped(MAX_CHARS)} characters; the full report has "
                      "everything.*")]
    return "\n".join(body + footer)


def _names_cut(text: str, names: Sequence[Any]) -> str:
    """``text`` with every long name in it cut as ``name`` cuts it (messages repeat names)."""
    for long in sorted({str(n) for n in names if n is not None and len(str(n)) > MAX_NAME},
                       key=len, reverse=True):
        text = text.replace(long, name(long))
    return text


def _longer(texts: Sequence[Any], limit: int) -> bool:
    return any(len(" ".join(str(t).split())) > limit for t in texts if t is not None)


# ---------------------------------------------------------------------------- one run


def run_markdown(audit: AuditResult, report_url: str | None = None) -> str:
    """The HTML report's first screen as Markdown: verdict and headline, what needs a look
    (failed first), then every model x check."""
    summary = first_screen(audit)
    verdict = ("OK: every expectation met" if audit.ok else
               "NOT OK: an unexpected failure or a violated expectation")
    lines = [f"## singaudit: {cell(name(audit.name))}: {audit.status}", "",
             f"**{verdict}**: {cell(summary['headline'])}.", ""]
    names = [audit.name, *(m.name for m in audit.models), *summary["check_names"],
             *{c for m in audit.models for check in m.checks for c in check.per_class}]
    attention = [[name(row["name"]), "expectation", "fail", _names_cut(row["expectation"], names)]
                 for row in summary["violated"]]
    attention += [[name(row["model"]), name(row["check"]), row["outcome"],
                   _names_cut(row["message"], names)] for row in summary["attention"]]
    if attention:
        lines += ["**What needs a look**", ""]
        lines += table(["model", "check", "outcome", "how badly"], attention[:MAX_ROWS])
        if len(attention) > MAX_ROWS:
            lines.append(f"\nand {len(attention) - MAX_ROWS} more in the full report.")
        lines.append("")
        for check, question in verdict_questions(audit):
            lines += [f"*{cell(name(check))} answers: {cell(question)}*", ""]
    else:
        lines += [cell(summary["all_clear"]), ""]
    rows = []
    for row in summary["rows"]:
        met = {True: ": met", False: ": VIOLATED"}.get(row["expectation_met"], "")
        cells = [_status_word(c["status"], c["expected_failure"]) if c else "not run"
                 for c in row["cells"]]
        rows.append([name(row["name"]), row["expect"] + met, *cells])
    lines += table(["model", "expect", *map(name, summary["check_names"])], rows)
    return _finish(lines, [_link(report_url), ""], names,
                   [row[-1] for row in attention[:MAX_ROWS]])


def _status_word(status: str, expected_failure: bool = False) -> str:
    return "xfail" if expected_failure else status


# ---------------------------------------------------------------------------- a diff


def diff_markdown(diff: Diff, report_url: str | None = None) -> str:
    """A compact regression summary: one row per model, then the judged rows, failing first."""
    title = (f"## singaudit diff: {cell(name(diff.new.name))} vs baseline "
             f"{cell(name(diff.base.name))}: ")
    lines = [title + diff.status, ""]
    if diff.mismatches:
        lines += ["**Compared despite differences** (--allow-mismatch): "
                  + "; ".join(cell(m.describe()) for m in diff.mismatches), ""]
    names = [diff.new.name, diff.base.name, *(n for m in diff.models for n in (
        m.new_model, m.base_model, *m.failing_classes, *(d.scope for d in m.judged())))]
    rows = []
    for model in diff.models:
        pair = name(model.new_model) if model.base_model == model.new_model else (
            f"{name(model.new_model)} (baseline {name(model.base_model)})")
        rows.append([pair, model.status, ", ".join(map(name, model.failing_classes)) or "none",
                     f"{model.status_before} -> {model.status_after}",
                     _names_cut(model.message, names)])
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
                       [_delta_row(name(m.new_model), d) for m, d in judged[:MAX_ROWS]])
        if len(judged) > MAX_ROWS:
            lines.append(f"\nand {len(judged) - MAX_ROWS} more rows in the full report.")
    facts = [(m.new_model, f) for m in diff.models for f in m.facts if f.status != "skip"]
    changed = [(model, f) for model, f in facts if f.status != "pass"]
    if facts and not changed:
        same = ", ".join(dict.fromkeys(f.fact for _, f in facts))
        lines += ["", f"Structural facts as in the baseline: {cell(same)}."]
    elif changed:
        facts = changed
        lines += ["", "**Structural facts that changed**", ""]
        lines += table(["model", "fact", "baseline", "candidate", "verdict"],
                       [[name(model), f.fact, number(f.before), number(f.after), f.status]
                        for model, f in facts])
    return _finish(lines, [_link(report_url), ""], names, [m.message for m in diff.models])


def _delta_row(model: str, delta: Delta) -> list[str]:
    interval = "n/a" if delta.interval is None else (
        f"{number(delta.interval[0], True)} to {number(delta.interval[1], True)} "
        f"({delta.method})")
    return [model, name(delta.check), f"{delta.metric} {delta.statistic or ''}".strip(),
            "all" if delta.scope == OVERALL else name(delta.scope), number(delta.before),
            number(delta.after), number(delta.delta, True), interval, number(delta.bound),
            delta.verdict or ""]
