"""``singaudit validate`` and ``singaudit schema``: audit specs, checked without computing."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from singaudit.cli._common import (
    EXIT_OK,
    EXIT_USAGE,
    DataOpt,
    Debug,
    DeviceOpt,
    SetOpt,
    _console,
    _load_specs,
    _overrides,
)
from singaudit.io.console import plain as _plain


def validate(
    specs: Annotated[list[Path], typer.Argument(help="Audit spec files or folders.")],
    data: DataOpt = None,
    device: DeviceOpt = None,
    sets: SetOpt = None,
    debug: Debug = False,
) -> int:
    """Check audit specs without computing anything.

    Examples:

      singaudit validate audits/demo.yaml

      singaudit validate audits/ --set data.images_per_class=5
    """
    from singaudit.adapters.resolution import spec_id_problems

    failed = False
    for spec in _load_specs(specs, _overrides(data, device, None, sets)):
        problems = spec_id_problems(spec)  # every id resolved offline, no model built
        if problems:
            failed = True
            print(f"singaudit: {spec.source_path}: " + "; ".join(problems), file=sys.stderr)
            continue
        checks = ", ".join(spec.checks)
        models = ", ".join(m.name for m in spec.models)
        _console().print(_plain(f"{spec.source_path}: ok ({spec.name}: models {models}; "
                                f"checks {checks}; every id resolved)"))
    return EXIT_USAGE if failed else EXIT_OK


def schema(
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to a file.")] = None,
) -> int:
    """Print the JSON Schema of audit specs (each check's parameters included)."""
    from singaudit.io.atomic import atomic_write_text
    from singaudit.runner.plan import spec_json_schema

    text = json.dumps(spec_json_schema(), indent=2)
    if output is None:
        sys.stdout.write(text + "\n")
    else:
        atomic_write_text(output, text + "\n")
    return EXIT_OK
