"""Where an audit's outputs go and how they are published: staged, then moved into place."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from singaudit.spec.models import AuditSpec


def output_dir(spec: AuditSpec, out_dir: str | Path | None = None) -> Path:
    """Where an audit writes: the argument, else the spec's report.out, else reports/<name>."""
    return Path(out_dir or spec.report.out or Path("reports") / spec.name)


@contextmanager
def staged_output(out_dir: Path) -> Iterator[Path]:
    """A private staging folder beside ``out_dir``; removed afterwards (published or not)."""
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=_parent(out_dir)))
    try:
        yield staging
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def publish(staging: Path, out_dir: Path) -> None:
    """Move the finished outputs into place: artefacts and reports first, results.json last."""
    out_dir.mkdir(parents=True, exist_ok=True)
    # mkdtemp makes the staging folder private (0700); what it held is published, so it follows
    # the umask like the files inside it (singaudit.io.atomic and mkdir already do).
    umask = os.umask(0)
    os.umask(umask)
    staging.chmod(0o777 & ~umask)
    entries = sorted(staging.iterdir(), key=lambda p: p.name == "results.json")
    for entry in entries:
        target = out_dir / entry.name
        if entry.is_dir():
            if target.exists():
                old = target.with_name(f".{target.name}.old-{os.getpid()}")
                os.replace(target, old)
                os.replace(entry, target)
                shutil.rmtree(old, ignore_errors=True)
            else:
                os.replace(entry, target)
        else:
            os.replace(entry, target)


def _parent(out_dir: Path) -> Path:
    parent = out_dir.absolute().parent
    parent.mkdir(parents=True, exist_ok=True)
    return parent
