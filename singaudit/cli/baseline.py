"""``singaudit baseline accept``: accept runs into the baseline store."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from singaudit.cli._common import EXIT_OK, Debug, _console
from singaudit.io.console import plain as _plain

baseline_app = typer.Typer(help="Accept runs into the baseline store.", no_args_is_help=True)


@baseline_app.command("accept")
def baseline_accept(
    results: Annotated[Path, typer.Argument(help="A run's results.json (or its folder).")],
    store: Annotated[Path, typer.Option("--store", help="The baseline store folder.")] = Path(
        "baselines"),
    name: Annotated[str | None, typer.Option(
        "--name", help="Baseline name (default: the audit's name).")] = None,
    debug: Debug = False,
) -> int:
    """Copy a run (results.json with its provenance) into the baseline store."""
    from singaudit.regression.store import accept

    target = accept(results, store, name)
    _console().print(f"accepted {_plain(results)} as baseline {_plain(target.parent.name)}: "
                     f"{_plain(target)}")
    return EXIT_OK
