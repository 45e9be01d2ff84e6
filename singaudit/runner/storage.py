"""The runner's cache folder: where it is, cached check results (with their artefact files and
checksums), and listing or clearing what singaudit wrote there. Features, embeddings, geometry
and translators are cached by ``singaudit.runner.artefact_cache``."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from singaudit.errors import SingauditError
from singaudit.results import CheckResult

# Namespaces of the runner beside the pipeline cache's features, embeddings and text.
TRANSLATORS = "translators"
GEOMETRY = "geometry"


def cache_root(configured: str | Path | None = None) -> Path:
    """The cache folder: the argument or spec, else $SINGAUDIT_CACHE, else the platform's."""
    from singaudit.pipeline.cache import default_cache_dir

    return Path(configured).expanduser() if configured is not None else default_cache_dir()


CHECKS = "checks"  # cached check results, keyed by every input of the check


@cache
def code_fingerprint(*module_files: str) -> str:
    """sha256 of singaudit's maths and checks sources (and the given modules): a cached check
    result is reused only by the exact code that produced it."""
    import singaudit

    root = Path(singaudit.__file__).parent
    files = sorted([*root.glob("maths/*.py"), *root.glob("checks/*.py"),
                    *root.glob("checks/vocabularies/*"), *map(Path, module_files)])
    digest = hashlib.sha256()
    for path in files:
        if path.is_file():
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:32]


CHECK_MANIFEST = "manifest.json"  # sha256 of result.json and of every artefact file


def load_check_result(cache_dir: Path, key: str, artefact_dir: Path) -> CheckResult | None:
    """A cached result, its artefact files copied back into ``artefact_dir``; None if absent or
    if any byte differs from what was stored (the damaged entry is removed and recomputed)."""
    folder = cache_dir / CHECKS / key
    try:
        manifest = json.loads((folder / CHECK_MANIFEST).read_text())
        text = (folder / "result.json").read_bytes()
        files = folder / "files"
        stored = sorted(p.relative_to(files).as_posix() for p in files.rglob("*") if p.is_file())
        valid = (isinstance(manifest, dict) and manifest.get("result") == _sha256(text)
                 and sorted(manifest.get("files", {})) == stored
                 and all(manifest["files"][name] == _sha256((files / name).read_bytes())
                         for name in stored))
        result = CheckResult.model_validate_json(text) if valid else None
    except (OSError, ValueError, TypeError, AttributeError):
        result = None
    if result is None:
        if folder.is_dir():
            _discard_check_entry(cache_dir, folder)
        return None
    if files.is_dir():
        shutil.copytree(files, artefact_dir, dirs_exist_ok=True)
    return result


def save_check_result(cache_dir: Path, key: str, result: CheckResult, artefact_dir: Path,
                      files: list[Path]) -> None:
    """Store a result and the artefact files its check wrote (written whole, then renamed), with
    their checksums; a cache that cannot be written is warned about once, never an error."""
    from singaudit.pipeline.cache import mark_cache, write_failed

    folder = cache_dir / CHECKS / key
    if folder.exists():
        return
    staging = None
    try:
        mark_cache(cache_dir)
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
        (staging / "result.json").write_bytes(text)
        (staging / CHECK_MANIFEST).write_text(json.dumps({"result": _sha256(text),
                                                          "files": checksums}))
        os.replace(staging, folder)
    except OSError as error:
        if not folder.exists():  # else another run stored the same result first
            write_failed(cache_dir, error)
    finally:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _discard_check_entry(cache_dir: Path, folder: Path) -> None:
    from singaudit.pipeline.cache import write_failed

    try:
        _remove_check_entry(folder)
    except OSError as error:
        write_failed(cache_dir, error)


def _remove_check_entry(folder: Path) -> int:
    """Delete what save_check_result writes in an entry folder; returns the bytes freed."""
    freed = 0
    for name in ("result.json", CHECK_MANIFEST):
        path = folder / name
        if path.is_file():
            freed += path.stat().st_size
            path.unlink()
    files = folder / "files"
    if files.is_dir():
        freed += sum(p.stat().st_size for p in files.rglob("*") if p.is_file())
        shutil.rmtree(files)
    _remove_if_empty(folder)
    return freed


# ---------------------------------------------------------------- the whole cache (cache ls/clear)

FIGURES = "figures"  # rendered report figures (reports.figures), by content hash
RUNS = "runs"  # run records (runner.warm): which check results replay an unchanged run
KINDS = ("features", "embeddings", "text", GEOMETRY, TRANSLATORS, CHECKS, FIGURES, RUNS)
TRANSLATOR_FILES = ("translator.safetensors", "translator.json")


def _is_hex(text: str, length: int) -> bool:
    return len(text) == length and all(c in "0123456789abcdef" for c in text)


def _translator_entries(root: Path) -> list[Path]:
    folder = root / TRANSLATORS
    return sorted(p for p in folder.glob("*") if p.is_dir() and not p.is_symlink()
                  and any((p / name).is_file() for name in TRANSLATOR_FILES))


def _check_entries(root: Path) -> list[Path]:
    folder = root / CHECKS
    return sorted(p for p in folder.glob("*") if p.is_dir() and not p.is_symlink()
                  and _is_hex(p.name, 32) and (p / "result.json").is_file())


def _figure_entries(root: Path) -> list[Path]:
    return sorted(p for p in (root / FIGURES).glob("*.*") if p.is_file() and not p.is_symlink()
                  and _is_hex(p.name.partition(".")[0], 64))


def _run_entries(root: Path) -> list[Path]:
    return sorted(p for p in (root / RUNS).glob("*.json") if p.is_file() and not p.is_symlink()
                  and _is_hex(p.stem, 32))


def cache_contents(root: Path) -> list[tuple[str, int, int]]:
    """(kind, entries, bytes) for every kind of entry singaudit keeps in a cache folder."""
    from singaudit.pipeline.cache import NAMESPACES, FeatureCache

    cache = FeatureCache(root)
    rows = []
    for kind in (*NAMESPACES, GEOMETRY):
        entries = cache.entries(kind)
        rows.append((kind, len(entries), sum(e.size for e in entries)))
    for kind, entries in ((TRANSLATORS, _translator_entries(root)),
                          (CHECKS, _check_entries(root))):
        size = sum(f.stat().st_size for p in entries for f in p.rglob("*") if f.is_file())
        rows.append((kind, len(entries), size))
    figures = _figure_entries(root)
    rows.append((FIGURES, len(figures), sum(p.stat().st_size for p in figures)))
    runs = _run_entries(root)
    rows.append((RUNS, len(runs), sum(p.stat().st_size for p in runs)))
    return rows


def is_singaudit_cache(root: Path) -> bool:
    """Whether a folder holds singaudit's marker or any entry singaudit writes."""
    from singaudit.pipeline.cache import MARKER

    return (root / MARKER).is_file() or any(count for _, count, _ in cache_contents(root))


def clear_cache(root: Path) -> tuple[int, int]:
    """Delete every entry singaudit wrote (each kind), nothing else; returns (entries, bytes).
    A folder that is not a singaudit cache is refused."""
    from singaudit.pipeline.cache import FeatureCache

    if not root.is_dir():
        return 0, 0
    if not is_singaudit_cache(root) and any(root.iterdir()):
        raise SingauditError(f"{root} is not a singaudit cache (no .singaudit-cache marker and "
                             "no singaudit entries): nothing deleted")
    count, freed = FeatureCache(root).clear()
    geometry = FeatureCache(root).clear(GEOMETRY)
    count, freed = count + geometry[0], freed + geometry[1]
    for folder in _translator_entries(root):
        for path in [*(folder / n for n in TRANSLATOR_FILES), *folder.glob(".translator.*.tmp")]:
            if path.is_file():
                freed += path.stat().st_size
                path.unlink()
        _remove_if_empty(folder)
        count += 1
    for folder in _check_entries(root):
        freed += _remove_check_entry(folder)
        count += 1
    for stale in (root / CHECKS).glob(".*.*"):  # staging of runs that died while saving
        name = stale.name[1:].partition(".")[0]
        if stale.is_dir() and not stale.is_symlink() and _is_hex(name, 32):
            shutil.rmtree(stale, ignore_errors=True)
    for path in [*_figure_entries(root), *(root / FIGURES).glob(".*.tmp")]:
        freed += path.stat().st_size
        path.unlink()
        count += path.suffix != ".tmp"
    for path in [*_run_entries(root), *(root / RUNS).glob(".*.tmp")]:
        freed += path.stat().st_size
        path.unlink()
        count += path.suffix != ".tmp"
    for kind in (TRANSLATORS, CHECKS, FIGURES, RUNS):
        _remove_if_empty(root / kind)
    return count, freed


def _remove_if_empty(folder: Path) -> None:
    try:
        folder.rmdir()
    except OSError:
        pass  # not empty: files singaudit did not write stay


@dataclass
class CacheItem:
    """One cache entry as `cache ls` lists it: kind, model (when recorded), images, files."""

    kind: str
    model: str
    images: int
    size: int
    modified: float  # last written, seconds since the epoch
    paths: list[Path]


def cache_items(root: Path) -> list[CacheItem]:
    """Every entry singaudit wrote in a cache folder, with what it records about itself."""
    from singaudit.pipeline.cache import NAMESPACES, FeatureCache

    cache = FeatureCache(root)
    items = []
    for kind in (*NAMESPACES, GEOMETRY):
        for entry in cache.entries(kind):
            rows = entry.metadata.get("size", "")
            items.append(CacheItem(kind, entry.metadata.get("model", ""),
                                   int(rows) if rows.isdigit() and kind != "text" else 0,
                                   entry.size, entry.modified, [entry.path]))
    for folder in _translator_entries(root):
        files = [f for f in folder.rglob("*") if f.is_file()]
        try:
            record = json.loads((folder / "translator.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            record = {}
        images = record.get("n_train", 0) if isinstance(record, dict) else 0
        items.append(CacheItem(TRANSLATORS, str(record.get("classifier", "")) if isinstance(
            record, dict) else "", images if isinstance(images, int) else 0,
            sum(f.stat().st_size for f in files), max(f.stat().st_mtime for f in files), [folder]))
    for folder in _check_entries(root):
        files = [f for f in folder.rglob("*") if f.is_file()]
        items.append(CacheItem(CHECKS, "", 0, sum(f.stat().st_size for f in files),
                               max(f.stat().st_mtime for f in files), [folder]))
    for kind, paths in ((FIGURES, _figure_entries(root)), (RUNS, _run_entries(root))):
        for path in paths:
            stat = path.stat()
            items.append(CacheItem(kind, "", 0, stat.st_size, stat.st_mtime, [path]))
    return items
