"""The runner's on-disk artefacts: cached features, embeddings, text embeddings and translators,
keyed by everything that determines them, so a warm re-run recomputes nothing."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import torch

from singaudit.errors import SingauditError
from singaudit.results import CheckResult
from singaudit.runner.selection import ImageSelection

# Namespaces of the runner beside the pipeline cache's features, embeddings and text.
TRANSLATORS = "translators"
GEOMETRY = "geometry"


def cache_root(configured: str | Path | None = None) -> Path:
    """The cache folder: the argument or spec, else $SINGAUDIT_CACHE, else the platform's."""
    from singaudit.pipeline.cache import default_cache_dir

    return Path(configured).expanduser() if configured is not None else default_cache_dir()


@dataclass
class Rows:
    """Vectors for the images that could be read, and why the others could not."""

    keys: list[str]
    values: torch.Tensor  # (len(keys), d) float32 on the CPU
    failures: dict[str, str] = field(default_factory=dict)  # key -> reason

    def aligned(self, keys: list[str]) -> torch.Tensor:
        """Rows in the order of ``keys`` (every key must have a row)."""
        position = {key: row for row, key in enumerate(self.keys)}
        return self.values[[position[key] for key in keys]]


def extract_cached(
    model: Any,
    selection: ImageSelection,
    *,
    cache_dir: Path,
    batch_size: int,
    device: torch.device,
    dtype: torch.dtype,
    progress: bool = False,
    executor: Any = None,
    recipe: Any = None,
) -> Rows:
    """Features (a Classifier) or image embeddings (a JointSpace) of the selection, through the
    pipeline's chunked cache; unreadable images are left out and listed. ``executor`` and
    ``recipe``: see ``pipeline.features.extract``."""
    from singaudit.pipeline.cache import FeatureCache
    from singaudit.pipeline.features import extract

    extraction = extract(model, selection.source, selection.records,
                         cache=FeatureCache(cache_dir), batch_size=batch_size, device=device,
                         dtype=dtype, progress=None if progress else False,
                         executor=executor, recipe=recipe)
    return Rows(extraction.keys, extraction.values, dict(extraction.failed))


def text_embeddings_cached(
    space: Any,
    prompts: list[str],
    *,
    cache_dir: Path,
    memo: Callable[[tuple, Callable[[], Any]], Any],
) -> torch.Tensor:
    """Text embeddings per prompt list, memoised in the session and cached on disk."""
    from singaudit.pipeline.cache import FeatureCache
    from singaudit.pipeline.features import encode_text

    key = ("text", space.info.id, space.info.weights_hash, tuple(prompts))
    return memo(key, lambda: encode_text(space, prompts, cache=FeatureCache(cache_dir)))


def geometry_cached(classifier: Any, *, cache_dir: Path) -> Any:
    """The head's SVD geometry, cached on disk (a float64 SVD of a large head takes seconds)."""
    from singaudit.io.versions import library_versions
    from singaudit.maths.geometry import HeadGeometry, head_geometry
    from singaudit.pipeline.cache import FeatureCache, make_key

    key = make_key(kind="geometry", model=classifier.info.id,
                   weights=classifier.info.weights_hash, versions=library_versions())
    cache = FeatureCache(cache_dir)
    entry = cache.load(GEOMETRY, key)
    if entry is not None:
        tensors, meta = entry
        try:
            return HeadGeometry(
                singular_values=tensors["singular_values"],
                principal_basis=tensors["principal_basis"], null_basis=tensors["null_basis"],
                rank=int(meta["rank"]), feature_dim=int(meta["feature_dim"]),
                num_classes=int(meta["num_classes"]), tolerance=float(meta["tolerance"]))
        except (KeyError, ValueError):
            pass  # an entry from another layout: recompute it
    weight, _ = classifier.head()
    geometry = head_geometry(weight.detach().to("cpu"))
    cache.save(GEOMETRY, key, {
        "singular_values": geometry.singular_values,
        "principal_basis": geometry.principal_basis,
        "null_basis": geometry.null_basis,
    }, {"rank": str(geometry.rank), "feature_dim": str(geometry.feature_dim),
        "num_classes": str(geometry.num_classes), "tolerance": repr(geometry.tolerance),
        "model": classifier.info.id})
    return geometry


def load_cached_translator(cache_dir: Path, fingerprint: str
                           ) -> tuple[torch.nn.Module, dict[str, Any]] | None:
    """The translator fitted for ``fingerprint``, from the cache; None when absent or damaged."""
    from singaudit.pipeline.translator_store import load_translator

    folder = cache_dir / TRANSLATORS / fingerprint
    if not (folder / "translator.json").is_file():
        return None
    try:
        module, record = load_translator(folder)
    except SingauditError:
        return None  # a damaged entry: fit again and overwrite it
    return module, {**record, "source": "cache", "fingerprint": fingerprint}


def save_cached_translator(cache_dir: Path, fingerprint: str, module: torch.nn.Module,
                           record: dict[str, Any]) -> None:
    """Keep a fitted translator under ``fingerprint`` (an unwritable cache only warns)."""
    from singaudit.pipeline.cache import mark_cache, write_failed
    from singaudit.pipeline.translator_store import save_translator

    try:
        mark_cache(cache_dir)
        save_translator(cache_dir / TRANSLATORS / fingerprint, module,
                        {**record, "data_fingerprint": fingerprint})
    except OSError as error:
        write_failed(cache_dir, error)


def load_translator_file(path: Path, classifier: Any, space: Any) -> tuple[torch.nn.Module, dict]:
    """A saved translator, refused when its dimensions do not fit the classifier and joint space."""
    from singaudit.pipeline.translator_store import load_translator

    module, record = load_translator(path)
    in_dim, out_dim = record.get("in_dim"), record.get("out_dim")
    if in_dim != classifier.info.feature_dim or out_dim != space.info.embed_dim:
        raise SingauditError(
            f"translator {path} maps {in_dim} -> {out_dim} but {classifier.info.id} has "
            f"{classifier.info.feature_dim}-d features and {space.info.id} "
            f"{space.info.embed_dim}-d embeddings"
        )
    return module.float().eval(), {**record, "source": str(path)}


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

KINDS = ("features", "embeddings", "text", GEOMETRY, TRANSLATORS, CHECKS)
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
    for kind in (TRANSLATORS, CHECKS):
        _remove_if_empty(root / kind)
    return count, freed


def _remove_if_empty(folder: Path) -> None:
    try:
        folder.rmdir()
    except OSError:
        pass  # not empty: files singaudit did not write stay
