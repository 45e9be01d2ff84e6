"""``singaudit report``: re-render reports from results.json."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from singaudit.cli._common import EXIT_OK, CacheOpt, Debug, _console, _pdf_worker
from singaudit.io.console import plain as _plain


def report(
    results: Annotated[Path, typer.Argument(help="A results.json (or its folder).")],
    templates: Annotated[Path | None, typer.Option("--templates", help="Template folder.")] = None,
    formats: Annotated[list[str] | None, typer.Option(
        "--format", help="html, pdf, junit, markdown or json (repeatable; default html, pdf, "
                         "junit).")] = None,
    cache_dir: CacheOpt = None,
    debug: Debug = False,
) -> int:
    """Re-render reports from results.json without recomputing anything.

    Examples:

      singaudit report reports/demo

      singaudit report reports/demo/results.json --format pdf --format junit

    Figures are drawn once and kept in the cache (--cache-dir, else SINGAUDIT_CACHE, else the
    platform's cache folder); a results.json never chooses where singaudit writes.
    """
    from singaudit.cache.figures import figure_cache
    from singaudit.reports import render_reports

    formats = formats or ["html", "pdf", "junit"]
    with _pdf_worker(formats) as pdf_worker, figure_cache(cache_dir):
        written = render_reports(results, formats, templates, pdf_worker=pdf_worker)
    for fmt, path in written.items():
        note = " (valid; results.json is the JSON report)" if fmt == "json" else ""
        _console().print(f"{fmt}: {_plain(path)}{note}")
    return EXIT_OK
