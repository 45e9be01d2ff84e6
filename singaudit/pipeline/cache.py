"""A content-addressed on-disk cache of tensors, in safetensors files.

Layout: ``<root>/<namespace>/<key[:2]>/<key>.safetensors`` with namespaces ``features``
(classifier penultimate features), ``embeddings`` (joint-space image embeddings) and ``text``.
Keys hash everything the values depend on (see ``make_key``). Files are written atomically, so
concurrent runs at worst compute the same entry twice; a checksum in the header detects corrupt
entries, which are deleted and recomputed. A cache that cannot be written (read-only, full) is
read as far as it can be, with one warning: the run goes on uncached, never fails for it. The
marker file ``.singaudit-cache`` tells ``singaudit cache clear`` the folder is singaudit's.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from singaudit.io.atomic import atomic_write_bytes
from singaudit.io.cache_dir import (  # noqa: F401 - re-exported
    ENV_VAR,
    MARKER,
    default_cache_dir,
    mark_cache,
)

if TYPE_CHECKING:  # torch is imported where tensors are read or hashed: a warm run needs none
    import torch

NAMESPACES = ("features", "embeddings", "text")
ENTRY_SUFFIX = ".safetensors"

logger = logging.getLogger("singaudit.cache")
_warned_roots: set[str] = set()


def write_failed(root: Path, error: OSError) -> None:
    """One warning per cache folder and process: the run continues without caching there."""
    if str(root) in _warned_roots:
        return
    _warned_roots.add(str(root))
    reason = error.strerror or str(error)
    logger.warning("singaudit: cannot write to the cache %s (%s); continuing without caching "
                   "new results there (set --cache-dir or SINGAUDIT_CACHE to a writable folder)",
                   root, reason)


def is_entry_file(path: Path) -> bool:
    """``<namespace>/<key[:2]>/<key>.safetensors`` as ``FeatureCache`` names its files."""
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
    """The on-disk cache; ``root`` defaults to ``default_cache_dir()``."""

    def __init__(self, root: str | os.PathLike | None = None) -> None:
        self.root = Path(root).expanduser() if root is not None else default_cache_dir()
        self.corrupt_removed = 0  # entries found corrupt (and deleted) by this instance

    def path(self, namespace: str, key: str) -> Path:
        return self.root / namespace / key[:2] / f"{key}.safetensors"

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
        """Every entry (for ``singaudit cache ls``), newest first."""
        found = []
        for space in [namespace] if namespace else NAMESPACES:
            for path in (self.root / space).glob("*/*.safetensors"):
                if not is_entry_file(path):
                    continue  # not a file this cache wrote
                try:
                    stat = path.stat()
                    meta = _read_metadata(path)
                except Exception:  # noqa: BLE001 -- listed as corrupt, never raised
                    stat, meta = path.stat(), {"corrupt": "true"}
                found.append(CacheEntry(space, path.stem, path, stat.st_size, stat.st_mtime, meta))
        return sorted(found, key=lambda e: e.modified, reverse=True)

    def clear(self, namespace: str | None = None) -> tuple[int, int]:
        """Delete entries (and stale temporary files); returns (files removed, bytes freed)."""
        count = freed = 0
        for space in [namespace] if namespace else NAMESPACES:
            folder = self.root / space
            if not folder.is_dir():
                continue
            written = [p for p in folder.glob("*/*.safetensors") if is_entry_file(p)]
            stale = [p for p in folder.glob("*/.*.safetensors.*.tmp")
                     if p.name[1:3] == p.parent.name]
            for path in written + stale:
                try:
                    size = path.stat().st_size
                    path.unlink()
                except FileNotFoundError:
                    continue  # removed by a concurrent clear
                count, freed = count + 1, freed + size
            for sub in folder.glob("*"):
                _remove_if_empty(sub)
            _remove_if_empty(folder)
        return count, freed


def _remove_if_empty(folder: Path) -> None:
    try:
        folder.rmdir()
    except OSError:
        pass  # not empty (someone else's files stay), or not a folder


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
