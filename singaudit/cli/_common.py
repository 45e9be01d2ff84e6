"""What the commands share: exit codes, styles, common options, the console, spec loading."""

from __future__ import annotations

import json
import sys
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from singaudit.errors import SpecError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from rich.console import Console

    from singaudit.spec import AuditSpec, Overrides

EXIT_OK, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_INTERNAL, EXIT_USAGE = 0, 1, 2, 3, 4
STATUS_STYLE = {"pass": "green", "warn": "yellow", "fail": "bold red", "skip": "dim",
                "error": "bold magenta", "info": "cyan", "insufficient_data": "dim"}


Debug = Annotated[bool, typer.Option("--debug", help="Show tracebacks.")]
DataOpt = Annotated[str | None, typer.Option("--data", help="Data: 'source:id' or a folder.")]
DeviceOpt = Annotated[str | None, typer.Option("--device", help="auto, cpu, cuda, cuda:N, mps.")]
SetOpt = Annotated[list[str] | None, typer.Option("--set", help="key.path=value (YAML scalar).")]
CacheOpt = Annotated[Path | None, typer.Option("--cache-dir", help="Cache folder.")]
EngineOpt = Annotated[str | None, typer.Option(
    "--engine", help="Where forward passes run: local, ray or a plugin's engine (spec key "
                     "execution.engine).")]
RayAddressOpt = Annotated[str | None, typer.Option(
    "--ray-address", help="Ray cluster to join (implies --engine ray), e.g. ray://head:10001.")]


def _execution_sets(engine: str | None, ray_address: str | None) -> list[str]:
    """--engine / --ray-address as spec overrides (validated with the spec)."""
    sets: list[str] = []
    if engine is not None or ray_address is not None:
        sets.append(f"execution.engine={engine or 'ray'}")
    if ray_address is not None:
        sets.append(f"execution.address={json.dumps(ray_address)}")
    return sets


def _console(stderr: bool = False) -> Console:
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    # Piped output is read by tools and people with wide windows: do not cut tables at 80.
    width = None if stream.isatty() else 160
    return Console(stderr=stderr, highlight=False, soft_wrap=True, width=width)


def _overrides(data: str | None, device: str | None, out: Path | None,
               sets: Sequence[str] | None) -> Overrides:
    from singaudit.spec import Overrides

    return Overrides(data=data, device=device, out=str(out) if out else None,
                     sets=tuple(sets or ()))


def _load_specs(paths: list[Path], overrides: Overrides) -> list[AuditSpec]:
    from singaudit.runner.plan import load_plan
    from singaudit.spec import iter_spec_files

    files = iter_spec_files(paths)
    if not files:
        raise SpecError(f"no audit specs in {', '.join(map(str, paths))}")
    # Planned: names and check parameters resolved, every spec's errors before anything runs.
    return [load_plan(path, overrides).spec for path in files]


def _pdf_worker(formats: Sequence[str]) -> AbstractContextManager[Any]:
    """A process that renders the PDF on another core (started early), or nothing."""
    import contextlib

    if "pdf" not in formats:
        return contextlib.nullcontext()
    from singaudit.reports.pdf import PdfWorker

    return PdfWorker()
