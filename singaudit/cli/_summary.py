"""The terminal summary of a run: pytest's short summary for an audit, and its exit code."""

from __future__ import annotations

from pathlib import Path

from singaudit.cli._common import EXIT_FAILED, EXIT_INTERNAL, EXIT_OK, EXIT_USAGE, STATUS_STYLE
from singaudit.io.console import plain as _plain

# pytest's short-summary words (as `pytest -rA`), most severe first.
SUMMARY_WORDS = {"failed": "FAILED", "error": "ERROR", "warned": "WARN",
                 "failed (informational)": "FAILED (informational)", "xfailed": "XFAIL",
                 "skipped": "SKIPPED"}
OUTCOME_STYLE = {"failed": "bold red", "error": "bold magenta", "passed": "green",
                 "warned": "yellow", "skipped": "dim", "xfailed": "yellow",
                 "failed (informational)": "red"}


def exit_code(result) -> int:
    """pytest's rule: a check that raised is an internal error (3) whatever the model's
    expectation; a baseline refused (not comparable, unreadable) is a usage error (4);
    otherwise 1 when an expectation is violated, else 0."""
    from singaudit.runner.regressions import refused_baselines

    errors = sum(check.status == "error" for model in result.models for check in model.checks)
    refused = len(refused_baselines(result))
    if errors > refused:
        return EXIT_INTERNAL
    if refused:
        return EXIT_USAGE
    return EXIT_OK if result.ok else EXIT_FAILED


def _report_path(target: Path) -> Path:
    """The file a person opens: the HTML report, else the PDF, else results.json."""
    for name in ("report.html", "report.pdf"):
        if (target / name).is_file():
            return target / name
    return target / "results.json"


def _warn_unrepresentable(console, where: str, unknown: dict, left_out: bool,
                          shown: int = 10) -> None:
    """One line naming each text a joint space cannot represent, with its unknown words."""
    if not unknown:
        return
    named = [f"{_plain(repr(text))} ({_plain(', '.join(words))})"
             for text, words in list(unknown.items())[:shown]]
    more = f" and {len(unknown) - shown} more (in the report)" if len(unknown) > shown else ""
    what = (f"{len(unknown)} concept(s) left out, unknown to the joint space's text tower"
            if left_out else "words unknown to the joint space's text tower, scored anyway "
            "(its angles toward them measure nothing)")
    console.print(f"[yellow]warning[/]: {_plain(where)}: {what}: {', '.join(named)}{more}")


def _print_summary(console, result, target: Path) -> int:
    """pytest's summary for an audit: a model table that fits 80 columns, one short line per
    check that is not a plain pass (skip reasons included), the outcome, the report's path."""
    from rich import box
    from rich.table import Table

    from singaudit.reports.verdicts import check_outcome, outcome_line

    code = exit_code(result)
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    for column in ("model", "expect", "model status", "checks"):
        table.add_column(column, overflow="fold")
    met = {True: " (as expected)", False: " [bold red](NOT as expected)[/]",
           None: " (informational)"}
    for model in result.models:
        style = STATUS_STYLE.get(model.status, "")
        table.add_row(_plain(model.name), model.expect,
                      f"[{style}]{model.status}[/]{met[model.expectation_met]}",
                      _plain(outcome_line([model])))
    console.print(table)
    lines = [
        (list(SUMMARY_WORDS).index(outcome), outcome, f"{model.name}::{check.name}",
         check.message)
        for model in result.models for check in model.checks
        if (outcome := check_outcome(model, check)) in SUMMARY_WORDS
    ]
    if lines:
        console.print("[bold]short summary[/]")
    for _, outcome, where, message in sorted(lines, key=lambda line: line[0]):
        reason = f" - {_plain(message)}" if message else ""
        console.print(f"[{OUTCOME_STYLE[outcome]}]{SUMMARY_WORDS[outcome]}[/] "
                      f"{_plain(where)}{reason}")
    for model in result.models:
        if model.note:
            console.print(f"{_plain(model.name)}: {model.status}, {_plain(model.note)}")
        if model.expectation_met is False:
            console.print(f"[bold red]VIOLATED[/] {_plain(model.name)}: expect: {model.expect} "
                          f"is NOT met (model status {model.status})")
    for model in result.models:
        accuracy = model.info.get("accuracy") or {}
        if accuracy.get("unmatched_classes"):
            console.print(f"[yellow]warning[/]: {_plain(model.name)} has no class named "
                          f"{_plain(', '.join(map(repr, accuracy['unmatched_classes'])))} "
                          "(data and model class names differ: accuracy and prompts may be wrong)")
        if accuracy.get("top1") is not None:
            worst = sorted(accuracy["top1_per_class"].items(), key=lambda item: item[1])[:3]
            console.print(f"{_plain(model.name)}: top-1 accuracy on the audit images "
                          f"{accuracy['top1']:.3f} (lowest: "
                          + ", ".join(f"{_plain(c)} {a:.2f}" for c, a in worst) + ")")
    for model in result.models:
        for check in model.checks:
            _warn_unrepresentable(console, f"{model.name}::{check.name}",
                                  check.data.get("unrepresentable") or {},
                                  left_out=check.name == "concepts")
    for short in result.data_issues.get("short_classes", []):
        console.print(f"[yellow]warning[/]: class {_plain(repr(short['class']))} has "
                      f"{short['images']} image(s), fewer than the {short['requested']} asked for")
    skipped = result.data_issues.get("skipped", 0)
    if skipped:
        console.print(f"{skipped} unreadable image(s) skipped (listed in results.json)")
    verdict = {EXIT_OK: "[green]as expected[/]", EXIT_FAILED: "[bold red]NOT as expected[/]",
               EXIT_INTERNAL: "[bold magenta]internal error in a check[/] (rerun with --debug "
                              "for the traceback)",
               EXIT_USAGE: "[bold magenta]a baseline was refused[/] (the ERROR ::regression "
                           "line says why)"}[code]
    console.print(f"[bold]{_plain(result.name)}[/]: {_plain(outcome_line(result.models))}; "
                  f"{verdict} (exit {code})")
    console.print(f"report: {_plain(str(_report_path(target)))}")
    return code
