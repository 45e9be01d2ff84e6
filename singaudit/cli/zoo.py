"""``singaudit zoo train calibration``: train bundled model worlds."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from singaudit.cli._common import EXIT_OK, Debug, _console
from singaudit.io.console import plain as _plain

zoo_app = typer.Typer(help="Train bundled model worlds.", no_args_is_help=True)
zoo_train_app = typer.Typer(help="Train a world.", no_args_is_help=True)
zoo_app.add_typer(zoo_train_app, name="train")


@zoo_train_app.command("calibration")
def zoo_train_calibration(
    out: Annotated[Path | None, typer.Option("--out", help="Weights folder.")] = None,
    smoke: Annotated[bool, typer.Option("--smoke", help="A seconds-long reduced run.")] = False,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    phases: Annotated[str | None, typer.Option(
        "--phases", help="Comma-separated subset: joint, shape, nuisance, natural, decoder, "
        "evaluate, uncentred, lite0 (default: all). 'uncentred' or 'lite0' alone rebuilds that "
        "world and leaves the others' weights and metadata.json as they are.")] = None,
    debug: Debug = False,
) -> int:
    """Re-train the calibration world (joint space, classifiers, decoder, uncentred and
    real-backbone worlds)."""
    from singaudit.calibration.train import train_calibration
    from singaudit.calibration.zoo import WEIGHTS_DIR

    target = out or WEIGHTS_DIR
    selected = [p.strip() for p in phases.split(",") if p.strip()] if phases else None
    try:
        train_calibration(target, seed=seed, scale="smoke" if smoke else "full",
                          phases=selected, log=_console(stderr=True).print)
    except ValueError as error:  # unknown phase names
        from singaudit.errors import SpecError

        raise SpecError(str(error)) from None
    _console().print(f"calibration world written to {_plain(target)}")
    return EXIT_OK
