"""``singaudit diff``: compare a candidate run with a baseline run."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from singaudit.cli._common import (
    EXIT_FAILED,
    EXIT_OK,
    STATUS_STYLE,
    Debug,
    _console,
    _load_specs,
    _overrides,
)
from singaudit.io.console import plain as _plain

if TYPE_CHECKING:
    from rich.console import Console

    from singaudit.regression.diff import Diff


def diff(
    base: Annotated[str, typer.Argument(
        help="The baseline's results.json (or its folder, or an http(s) URL to it).")],
    new: Annotated[str, typer.Argument(
        help="The candidate's results.json (or its folder, or an http(s) URL to it).")],
    formats: Annotated[list[str] | None, typer.Option(
        "--format", help="Also write markdown, html, pdf or json into --out (repeatable).")] = None,
    out: Annotated[Path, typer.Option("--out", help="Folder for the diff files.")] = Path(
        "reports/diff"),
    pairs: Annotated[list[str] | None, typer.Option(
        "--pair", help="BASE_MODEL:NEW_MODEL to compare (default: models of the same name).")
    ] = None,
    spec: Annotated[Path | None, typer.Option(
        "--spec", help="Take the regression tiers from this audit spec.")] = None,
    allow_mismatch: Annotated[bool, typer.Option(
        "--allow-mismatch", help="Compare runs that differ in joint space, prompts, "
        "translator, images or null removal (and list what differs).")] = False,
    report_url: Annotated[str | None, typer.Option(
        "--report-url", help="Link to the full report in the Markdown summary.")] = None,
    debug: Debug = False,
) -> int:
    """Compare a candidate run with a baseline run; exit 1 on a failing regression."""
    from singaudit.errors import SpecError
    from singaudit.regression import compare
    from singaudit.regression.store import read_results
    from singaudit.reports.diff_report import write_diff

    regression = None
    if spec is not None:
        regression = _load_specs([spec], _overrides(None, None, None, None))[0].regression
    model_pairs = None
    if pairs:
        model_pairs = []
        for pair in pairs:
            left, sep, right = pair.partition(":")
            if not sep or not left or not right:
                raise SpecError(f"--pair {pair!r}: write BASE_MODEL:NEW_MODEL")
            model_pairs.append((left, right))
    baseline, candidate = read_results(base), read_results(new)
    result = compare(baseline, candidate, regression, pairs=model_pairs,
                     allow_mismatch=allow_mismatch, base_path=str(base), new_path=str(new))
    console = _console()
    _print_diff(console, result)
    for fmt, path in write_diff(result, baseline, candidate, out, formats or (),
                                report_url=report_url).items():
        console.print(f"{fmt}: {_plain(path)}")
    return EXIT_FAILED if result.failed else EXIT_OK


def _print_diff(console: Console, result: Diff) -> None:
    from rich.table import Table

    from singaudit.wording import number

    for mismatch in result.mismatches:
        console.print(f"[yellow]compared despite a difference[/]: {_plain(mismatch.describe())}")
    table = Table(title=f"diff {_plain(result.new.name)} vs baseline {_plain(result.base.name)}:"
                        f" {result.status}", title_justify="left")
    for column in ("model", "check", "metric", "class", "before", "after", "change",
                   "95% interval", "bound", "verdict"):
        table.add_column(column)
    rows = sorted(((model, delta) for model in result.models for delta in model.judged()),
                  key=lambda pair: (pair[1].verdict == "pass", -(pair[1].worse_by or 0)))
    for model, delta in rows:
        interval = "" if delta.interval is None else (
            f"{number(delta.interval[0], True)} to {number(delta.interval[1], True)}")
        style = STATUS_STYLE.get(delta.verdict or "", "")
        table.add_row(_plain(model.new_model), delta.check,
                      f"{delta.metric} {delta.statistic or ''}",
                      "all" if delta.scope == "overall" else _plain(delta.scope),
                      number(delta.before), number(delta.after), number(delta.delta, True),
                      interval, number(delta.bound), f"[{style}]{delta.verdict}[/]")
    console.print(table)
    for model in result.models:
        style = STATUS_STYLE.get(model.status, "")
        failing = f" (failing classes: {', '.join(model.failing_classes)})" if (
            model.failing_classes) else ""
        console.print(f"  {_plain(model.new_model)} [{style}]{model.status}[/]{_plain(failing)}: "
                      f"{_plain(model.message)}")
