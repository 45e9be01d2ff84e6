"""Run entries: run records, which check entries replay an unchanged run without torch.

Layout: ``<root>/runs/<key>.json``; the key hashes every input of a run that can be told without
loading a model (``singaudit.runner.warm``). A record only points at check entries (and holds
skips); the verdicts it replays are judged again from those entries' measurements.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from singaudit.cache.folder import is_hex, mark_cache, write_failed
from singaudit.cache.kinds import CacheKind, register
from singaudit.io.atomic import atomic_write_text

RUNS = "runs"
RECORD_VERSION = 2  # 2: checks are judged again from their measurements on replay


def record_path(root: Path, key: str) -> Path:
    return Path(root) / RUNS / f"{key}.json"


def load_record(root: Path, key: str) -> dict[str, Any] | None:
    """A run record, or None when absent, unreadable or of another layout."""
    try:
        record = json.loads(record_path(root, key).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("version") != RECORD_VERSION:
        return None
    return record


def save_record(root: Path, key: str, record: dict[str, Any]) -> None:
    """Keep a run record (an unwritable cache only warns, once)."""
    try:
        mark_cache(root)
        path = record_path(root, key)
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, json.dumps({"version": RECORD_VERSION, **record}))
    except OSError as error:
        write_failed(root, error)


def discard_record(root: Path, key: str) -> None:
    """Remove a record that does not hold (a read-only cache keeps it, warned once)."""
    try:
        record_path(root, key).unlink(missing_ok=True)
    except OSError as error:
        write_failed(root, error)


def _entries(root: Path) -> list[Path]:
    return sorted(p for p in (Path(root) / RUNS).glob("*.json") if p.is_file()
                  and not p.is_symlink() and is_hex(p.stem, 32))


KIND = register(CacheKind(
    name=RUNS,
    layout=f"{RUNS}/<key>.json: a run record (which check entries replay an unchanged run)",
    integrity="readable JSON of the current layout whose checks are those the spec selects; "
              "its check entries are verified and judged again on replay; anything else means "
              "a computing run",
    entries=_entries,
    leftovers=lambda root: [p for p in (Path(root) / RUNS).glob(".*.tmp") if p.is_file()]))
