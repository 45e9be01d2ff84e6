"""Tensor entries: features, embeddings, text and geometry, content-addressed safetensors files.

Layout: ``<root>/<kind>/<key[:2]>/<key>.safetensors``: ``features`` (classifier penultimate
features), ``embeddings`` (joint-space image embeddings), ``text`` (text embeddings) and
``geometry`` (a head's SVD). Keys hash everything the values depend on (see ``make_key``). Files
are written atomically, so concurrent runs at worst compute the same entry twice; a checksum in
the header detects corrupt entries, which are deleted and recomputed. A cache that cannot be
written is read as far as it can be, with one warning: the run goes on uncached.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from singaudit.cache.folder import default_cache_dir, mark_cache, write_failed
from singaudit.cache.kinds import CacheKind, clear_cache, register
from singaudit.io.atomic import atomic_write_bytes

if TYPE_CHECKING:  # torch is imported where tensors are read or hashed: a warm run needs none
    import torch

    from singaudit.maths.geometry import HeadGeometry

NAMESPACES = ("features", "embeddings", "text")  # what the feature pipeline extracts
GEOMETRY = "geometry"
ENTRY_SUFFIX = ".safetensors"
INTEGRITY = ("the sha256 of the tensors (recorded in the file's header) matches, and the rows "
             "are those asked for; anything else is deleted and recomputed")


def is_entry_file(path: Path) -> bool:
    """``<kind>/<key[:2]>/<key>.safetensors`` as ``FeatureCache`` names its files."""
    key = path.name.removesuffix(ENTRY_SUFFIX)
    return path.name.endswith(ENTRY_SUFFIX) and len(key) > 2 and path.parent.name == key[:2]


def make_key(**parts: object) -> str:
    """A stable hex key from keyword parts (JSON-serialised with sorted keys)."""
    text = json.dumps(parts, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:40]


def tensors_checksum(tensors: dict[str, torch.Tensor]) -> str:
    import torch

    digest = hashlib.sha256()
    for name in sorted(tensors):
        tensor = tensors[name].detach().cpu().contiguous()
        digest.update(f"{name}:{tuple(tensor.shape)}:{tensor.dtype}".encode())
        if tensor.numel():
            digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


@dataclass(frozen=True)
class CacheEntry:
    namespace: str
    key: str
    path: Path
    size: int  # bytes
    modified: float  # seconds since the epoch
    metadata: dict[str, str]


class FeatureCache:
    """The tensor entries of one cache folder; ``root`` defaults to ``default_cache_dir()``."""

    def __init__(self, root: str | os.PathLike | None = None) -> None:
        self.root = Path(root).expanduser() if root is not None else default_cache_dir()
        self.corrupt_removed = 0  # entries found corrupt (and deleted) by this instance

    def path(self, namespace: str, key: str) -> Path:
        return self.root / namespace / key[:2] / f"{key}{ENTRY_SUFFIX}"

    def load(
        self, namespace: str, key: str, *, rows: int | None = None
    ) -> tuple[dict[str, torch.Tensor], dict[str, str]] | None:
        """(tensors, metadata), or None when absent or corrupt (a corrupt file is removed).

        ``rows``: the row count ``values`` must have.
        """
        path = self.path(namespace, key)
        if not path.is_file():
            return None
        try:
            tensors, meta = _read(path)
            valid = meta.get("checksum") == tensors_checksum(tensors)
            if valid and rows is not None:
                values = tensors.get("values")
                valid = values is not None and values.ndim == 2 and values.shape[0] == rows
        except Exception:  # noqa: BLE001 -- any unreadable file is a corrupt entry
            valid = False
        if not valid:
            self.discard(namespace, key)
            return None
        return tensors, meta

    def discard(self, namespace: str, key: str) -> None:
        """Remove a corrupt entry (when the cache can be written; a read-only one keeps it)."""
        self.corrupt_removed += 1
        try:
            self.path(namespace, key).unlink(missing_ok=True)
        except OSError as error:
            write_failed(self.root, error)

    def save(
        self,
        namespace: str,
        key: str,
        tensors: dict[str, torch.Tensor],
        metadata: dict[str, str] | None = None,
    ) -> Path | None:
        """Write an entry atomically; a concurrent writer of the same key writes the same bytes.
        None when the cache cannot be written (warned once)."""
        from safetensors.torch import save

        tensors = {name: t.detach().cpu().contiguous() for name, t in tensors.items()}
        header = {str(k): str(v) for k, v in (metadata or {}).items()}
        header.update(
            checksum=tensors_checksum(tensors), namespace=namespace, created=f"{time.time():.0f}"
        )
        path = self.path(namespace, key)
        try:
            mark_cache(self.root)
            atomic_write_bytes(path, save(tensors, metadata=header))
        except OSError as error:
            write_failed(self.root, error)
            return None
        return path

    def entries(self, namespace: str | None = None) -> list[CacheEntry]:
        """Every entry of one kind (default: the extracted ones), newest first."""
        found = []
        for space in [namespace] if namespace else NAMESPACES:
            for path in _entry_files(self.root, space):
                try:
                    stat = path.stat()
                    meta = _read_metadata(path)
                except Exception:  # noqa: BLE001 -- listed as corrupt, never raised
                    stat, meta = path.stat(), {"corrupt": "true"}
                found.append(CacheEntry(space, path.stem, path, stat.st_size, stat.st_mtime, meta))
        return sorted(found, key=lambda e: e.modified, reverse=True)

    def clear(self, namespace: str | None = None) -> tuple[int, int]:
        """Delete entries (and stale temporary files); returns (files removed, bytes freed)."""
        if not self.root.is_dir():
            return 0, 0
        return clear_cache(self.root, [namespace] if namespace else NAMESPACES)


def load_geometry(root: Path, key: str) -> HeadGeometry | None:
    """A head's geometry kept under ``key``; None when absent, damaged or of another layout."""
    from singaudit.maths.geometry import HeadGeometry

    entry = FeatureCache(root).load(GEOMETRY, key)
    if entry is None:
        return None
    tensors, meta = entry
    try:
        return HeadGeometry(
            singular_values=tensors["singular_values"],
            principal_basis=tensors["principal_basis"], null_basis=tensors["null_basis"],
            rank=int(meta["rank"]), feature_dim=int(meta["feature_dim"]),
            num_classes=int(meta["num_classes"]), tolerance=float(meta["tolerance"]))
    except (KeyError, ValueError):
        return None  # an entry from another layout: recomputed and written over


def save_geometry(root: Path, key: str, geometry: HeadGeometry, *, model: str) -> None:
    """Keep a head's geometry under ``key`` (an unwritable cache only warns, once)."""
    FeatureCache(root).save(GEOMETRY, key, {
        "singular_values": geometry.singular_values,
        "principal_basis": geometry.principal_basis,
        "null_basis": geometry.null_basis,
    }, {"rank": str(geometry.rank), "feature_dim": str(geometry.feature_dim),
        "num_classes": str(geometry.num_classes), "tolerance": repr(geometry.tolerance),
        "model": model})


def _entry_files(root: Path, kind: str) -> list[Path]:
    return sorted(p for p in (Path(root) / kind).glob(f"*/*{ENTRY_SUFFIX}")
                  if is_entry_file(p) and not p.is_symlink())


def _read(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as handle:
        meta = dict(handle.metadata() or {})
        names = list(handle.keys())  # safe_open is not iterable
        tensors = {name: handle.get_tensor(name) for name in names}
    return tensors, meta


def _read_metadata(path: Path) -> dict[str, str]:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as handle:
        return dict(handle.metadata() or {})


def _tensor_kind(name: str, what: str, counts_images: bool) -> CacheKind:
    def describe(path: Path) -> tuple[str, int]:
        try:
            meta = _read_metadata(path)
        except Exception:  # noqa: BLE001 -- a corrupt entry is still listed
            return "", 0
        rows = meta.get("size", "")
        return meta.get("model", ""), int(rows) if counts_images and rows.isdigit() else 0

    def leftovers(root: Path) -> list[Path]:
        return [p for p in (Path(root) / name).glob(f"*/.*{ENTRY_SUFFIX}.*.tmp")
                if p.name[1:3] == p.parent.name]

    def subfolders(root: Path) -> list[Path]:
        return [p for p in (Path(root) / name).glob("*") if len(p.name) == 2]

    return register(CacheKind(
        name=name, layout=f"{name}/<key[:2]>/<key>{ENTRY_SUFFIX}: {what}", integrity=INTEGRITY,
        entries=lambda root: _entry_files(root, name), describe=describe,
        leftovers=leftovers, subfolders=subfolders))


FEATURES = _tensor_kind("features", "a classifier's penultimate features, per chunk", True)
EMBEDDINGS = _tensor_kind("embeddings", "a joint space's image embeddings, per chunk", True)
TEXT = _tensor_kind("text", "a joint space's text embeddings, per prompt list", False)
GEOMETRY_KIND = _tensor_kind(GEOMETRY, "a classifier head's SVD (rank, principal and null bases)",
                             False)
