"""Reading a results.json for the integrations: one clear error for a missing or bad file."""

from __future__ import annotations

from pathlib import Path

from singaudit.errors import SingauditError
from singaudit.results import AuditResult


def read_results(path: str | Path) -> AuditResult:
    """The AuditResult in ``path`` (a results.json, or the output folder holding one)."""
    path = Path(path).expanduser()
    if path.is_dir():
        path = path / "results.json"
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise SingauditError(f"cannot read {path}: {error.strerror or error}") from None
    return AuditResult.parse(text, str(path))
