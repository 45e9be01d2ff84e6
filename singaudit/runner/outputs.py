"""Where an audit's outputs go and how they are published: staged inside the output folder, then
moved into place, replacing only what singaudit wrote (``singaudit.io.output_folder``)."""

from __future__ import annotations

from pathlib import Path

from singaudit.io.output_folder import OutputError, check_output_folder, publish, staged_output
from singaudit.spec.models import AuditSpec

__all__ = ["OutputError", "check_output_folder", "output_dir", "publish", "staged_output"]


def output_dir(spec: AuditSpec, out_dir: str | Path | None = None) -> Path:
    """Where an audit writes: the argument, else the spec's report.out, else reports/<name>."""
    return Path(out_dir or spec.report.out or Path("reports") / spec.name).expanduser()
