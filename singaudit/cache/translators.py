"""Translator entries: fitted translators, one folder per fit-data fingerprint.

Layout: ``<root>/translators/<fingerprint>/translator.{safetensors,json}`` as the translator
store (``singaudit.pipeline.translator_store``) writes them; the runner reads and writes them
through ``singaudit.runner.artefact_cache``.
"""

from __future__ import annotations

import json
from pathlib import Path

from singaudit.cache.folder import remove_if_empty
from singaudit.cache.kinds import CacheKind, register

TRANSLATORS = "translators"
TRANSLATOR_FILES = ("translator.safetensors", "translator.json")


def entry_folder(root: Path, fingerprint: str) -> Path:
    """Where the translator fitted on data ``fingerprint`` is kept."""
    return Path(root) / TRANSLATORS / fingerprint


def _entries(root: Path) -> list[Path]:
    return sorted(p for p in (Path(root) / TRANSLATORS).glob("*") if p.is_dir()
                  and not p.is_symlink() and any((p / name).is_file() for name in TRANSLATOR_FILES))


def _remove(folder: Path) -> int:
    freed = 0
    for path in [*(folder / name for name in TRANSLATOR_FILES), *folder.glob(".translator.*.tmp")]:
        if path.is_file():
            freed += path.stat().st_size
            path.unlink()
    remove_if_empty(folder)
    return freed


def _describe(folder: Path) -> tuple[str, int]:
    try:
        record = json.loads((folder / "translator.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "", 0
    if not isinstance(record, dict):
        return "", 0
    images = record.get("n_train", 0)
    return str(record.get("classifier", "")), images if isinstance(images, int) else 0


KIND = register(CacheKind(
    name=TRANSLATORS,
    layout=f"{TRANSLATORS}/<fit-data fingerprint>/translator.{{safetensors,json}}: a fitted "
           "translator and its record",
    integrity="the weights' sha256 matches the record and the translator store builds it; a "
              "damaged entry is fitted again and overwritten",
    entries=_entries, remove=_remove, describe=_describe))
