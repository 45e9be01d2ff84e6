"""The terminal summary of a run, styled for a terminal: the text is reports.summary's, shared
with the pytest plugin; this module adds the model table, colours and the exit code."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from singaudit.cli._common import EXIT_FAILED, EXIT_INTERNAL, EXIT_OK, EXIT_USAGE, STATUS_STYLE
from singaudit.io.console import plain as _plain

if TYPE_CHECKING:
    from rich.console import Console

    from singaudit.results import AuditResult

OUTCOME_STYLE = {"failed": "bold red", "error": "bold magenta", "passed": "green",
                 "warned": "yellow", "skipped": "dim", "xfailed": "yellow",
                 "failed (informational)": "red"}
NOTICE_PREFIX = {"violated": "[bold red]VIOLATED[/] ", "warning": "[yellow]warning[/]: ",
                 "note": ""}


def exit_code(result: AuditResult) -> int:
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


def _print_summary(console: Console, result: AuditResult, target: Path) -> int:
    """pytest's summary for an audit: a model table that fits 80 columns, one short line per
    check that is not a plain pass (skip reasons included), the outcome, the report's path."""
    from rich import box
    from rich.table import Table

    from singaudit.reports.summary import audit_notices, short_summary
    from singaudit.reports.verdicts import outcome_line

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
    lines = short_summary(result)
    if lines:
        console.print("[bold]short summary[/]")
    for line in lines:
        reason = f" - {_plain(line.reason)}" if line.reason else ""
        console.print(f"[{OUTCOME_STYLE[line.outcome]}]{line.word}[/] {_plain(line.where)}{reason}")
    for notice in audit_notices(result):
        console.print(NOTICE_PREFIX[notice.level] + _plain(notice.text))
    verdict = {EXIT_OK: "[green]as expected[/]", EXIT_FAILED: "[bold red]NOT as expected[/]",
               EXIT_INTERNAL: "[bold magenta]internal error in a check[/] (rerun with --debug "
                              "for the traceback)",
               EXIT_USAGE: "[bold magenta]a baseline was refused[/] (the ERROR ::regression "
                           "line says why)"}[code]
    console.print(f"[bold]{_plain(result.name)}[/]: {_plain(outcome_line(result.models))}; "
                  f"{verdict} (exit {code})")
    console.print(f"report: {_plain(str(_report_path(target)))}")
    return code
