"""Check entries: a check's result, the measurements it was judged from and its artefact files.

Layout: ``<root>/checks/<key>/`` with ``result.json``, ``measurements.json``, ``files/`` (the
artefact files the check wrote) and ``manifest.json`` (the sha256 of each). The key hashes every
input of the check (``singaudit.runner.audit``). The bytes are verified here; the verdict is
never taken on trust: the runner judges ``measurements.json`` again and compares (docs/cache.md).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from singaudit.cache.folder import is_hex, mark_cache, remove_if_empty, write_failed
from singaudit.cache.kinds import CacheKind, register

if TYPE_CHECKING:  # pydantic is imported when an entry is read, not when the CLI starts
    from singaudit.results import CheckResult

CHECKS = "checks"
CHECK_MANIFEST = "manifest.json"  # sha256 of result.json, measurements.json and every file
_RECORDS = ("result.json", "measurements.json", CHECK_MANIFEST)


@dataclass
class StoredCheck:
    """A cached check entry whose bytes match its manifest (its verdict not yet re-judged)."""

    result: CheckResult
    measurements: dict[str, Any]  # what the verdict is judged again from
    folder: Path

    def restore_files(self, artefact_dir: Path) -> None:
        """Copy the entry's artefact files back into a run's artefact folder."""
        files = self.folder / "files"
        if files.is_dir():
            shutil.copytree(files, artefact_dir, dirs_exist_ok=True)


def entry_folder(root: Path, key: str) -> Path:
    return Path(root) / CHECKS / key


def read_check_entry(root: Path, key: str) -> StoredCheck | None:
    """The entry of ``key``; None when absent or when any byte differs from its manifest (the
    damaged entry is removed, so the check runs again)."""
    from singaudit.results import CheckResult

    folder = entry_folder(root, key)
    try:
        manifest = json.loads((folder / CHECK_MANIFEST).read_text())
        text = (folder / "result.json").read_bytes()
        measured = (folder / "measurements.json").read_bytes()
        files = folder / "files"
        stored = sorted(p.relative_to(files).as_posix() for p in files.rglob("*") if p.is_file())
        valid = (isinstance(manifest, dict) and manifest.get("result") == _sha256(text)
                 and manifest.get("measurements") == _sha256(measured)
                 and sorted(manifest.get("files", {})) == stored
                 and all(manifest["files"][name] == _sha256((files / name).read_bytes())
                         for name in stored))
        entry = StoredCheck(CheckResult.model_validate_json(text), json.loads(measured),
                            folder) if valid else None
        if entry is not None and not isinstance(entry.measurements, dict):
            entry = None
    except (OSError, ValueError, TypeError, AttributeError):
        entry = None
    if entry is None and folder.is_dir():
        discard_check_entry(root, key)
    return entry


def save_check_result(root: Path, key: str, result: CheckResult, measurements: dict[str, Any],
                      artefact_dir: Path, files: list[Path], *, replace: bool = False) -> None:
    """Store a result, its measurements and the artefact files its check wrote (written whole,
    then renamed), with their checksums; ``replace``: over an existing entry. A cache that cannot
    be written is warned about once, never an error."""
    folder = entry_folder(root, key)
    if folder.exists() and not replace:
        return
    staging = None
    try:
        mark_cache(root)
        folder.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{key}.", dir=folder.parent))
        checksums = {}
        for path in files:
            name = path.relative_to(artefact_dir).as_posix()
            target = staging / "files" / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
            checksums[name] = _sha256(target.read_bytes())
        text = result.model_dump_json().encode()
        measured = json.dumps(measurements, sort_keys=True).encode()
        (staging / "result.json").write_bytes(text)
        (staging / "measurements.json").write_bytes(measured)
        (staging / CHECK_MANIFEST).write_text(json.dumps({
            "result": _sha256(text), "measurements": _sha256(measured), "files": checksums}))
        if replace and folder.is_dir():
            _remove_entry(folder)
        os.replace(staging, folder)
    except OSError as error:
        if not folder.exists():  # else another run stored the same result first
            write_failed(root, error)
    finally:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)


def discard_check_entry(root: Path, key: str) -> None:
    """Remove a damaged or disowned entry (a read-only cache keeps it, warned once)."""
    try:
        _remove_entry(entry_folder(root, key))
    except OSError as error:
        write_failed(root, error)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _remove_entry(folder: Path) -> int:
    """Delete what save_check_result writes in an entry folder; returns the bytes freed."""
    freed = 0
    for name in _RECORDS:
        path = folder / name
        if path.is_file():
            freed += path.stat().st_size
            path.unlink()
    files = folder / "files"
    if files.is_dir():
        freed += sum(p.stat().st_size for p in files.rglob("*") if p.is_file())
        shutil.rmtree(files)
    remove_if_empty(folder)
    return freed


def _entries(root: Path) -> list[Path]:
    return sorted(p for p in (Path(root) / CHECKS).glob("*") if p.is_dir() and not p.is_symlink()
                  and is_hex(p.name, 32) and (p / "result.json").is_file())


def _leftovers(root: Path) -> list[Path]:
    """Staging folders of runs that died while saving."""
    return [p for p in (Path(root) / CHECKS).glob(".*.*") if p.is_dir() and not p.is_symlink()
            and is_hex(p.name[1:].partition(".")[0], 32)]


KIND = register(CacheKind(
    name=CHECKS,
    layout=f"{CHECKS}/<key>/{{result.json,measurements.json,manifest.json,files/}}: a check's "
           "result, what it was judged from, and its artefact files",
    integrity="every file's sha256 matches the manifest, and the result's verdict is what "
              "judging its measurements again gives; anything else is deleted and recomputed",
    entries=_entries, remove=_remove_entry, leftovers=_leftovers))
