"""The baseline store: a folder of accepted runs, ``STORE/NAME/results.json`` (provenance
included), written by ``singaudit baseline accept`` and read by specs and pytest."""

from __future__ import annotations

import json
from pathlib import Path

import pydantic

from singaudit.errors import SingauditError
from singaudit.io.atomic import atomic_write_text
from singaudit.results import SCHEMA_VERSION, AuditResult

RESULTS = "results.json"


class BaselineError(SingauditError):
    """A baseline that cannot be read or stored."""


def read_results(path: str | Path) -> AuditResult:
    """A results.json (or the folder holding one); every problem is one BaselineError."""
    path = Path(path)
    if path.is_dir():
        path = path / RESULTS
    if not path.is_file():
        raise BaselineError(f"no results file at {path}")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise BaselineError(f"{path} is not valid JSON: {error}") from None
    version = raw.get("schema_version") if isinstance(raw, dict) else None
    if isinstance(version, int) and version > SCHEMA_VERSION:
        raise BaselineError(f"{path} has schema_version {version}; this singaudit reads up to "
                            f"{SCHEMA_VERSION}: upgrade singaudit")
    try:
        return AuditResult.model_validate(raw)
    except pydantic.ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "(top level)"
        raise BaselineError(f"{path} is not a singaudit results file: {where}: "
                            f"{first['msg']}") from None


def accept(results: str | Path, store: str | Path, name: str | None = None) -> Path:
    """Copy a run's results.json into ``store/<name or audit name>/results.json`` (atomically,
    replacing the previous baseline of that name); returns the written path."""
    audit = read_results(results)
    name = name or audit.name
    if not name or "/" in name or "\\" in name or name.startswith("."):
        raise BaselineError(f"baseline name {name!r} must be a plain folder name")
    target = Path(store) / name / RESULTS
    target.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(target, audit.model_dump_json(indent=2))
    return target


def resolve(reference: str, store: str | Path) -> Path:
    """A baseline reference: a results.json path, a run folder, or a name in the store."""
    path = Path(reference)
    if path.suffix == ".json" or path.is_dir() and (path / RESULTS).is_file():
        return path if path.suffix == ".json" else path / RESULTS
    return Path(store) / reference / RESULTS
