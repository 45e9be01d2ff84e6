"""The registry of cache kinds and the loops over it: listing, sizing and clearing a cache folder.

Each kind registers once (in its own module of this package) where its entries live, how one is
found, described and removed, and what makes it intact; ``singaudit cache ls`` / ``cache clear``
and everything else that walks the cache loop over ``KINDS`` and know no kind by name.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from singaudit.cache.folder import MARKER, plain_files, remove_if_empty
from singaudit.errors import SingauditError


def remove_file(path: Path) -> int:
    """Delete one file; the bytes freed (0 when a concurrent clear removed it first)."""
    try:
        size = path.stat().st_size
        path.unlink()
    except FileNotFoundError:
        return 0
    return size


def remove_path(path: Path) -> int:
    """Delete a file or a staging folder singaudit left; the bytes freed."""
    if path.is_dir() and not path.is_symlink():
        size = sum(p.stat().st_size for p in plain_files(path))
        shutil.rmtree(path, ignore_errors=True)
        return size
    return remove_file(path)


def _nothing(_root: Path) -> list[Path]:
    return []


def _no_facts(_entry: Path) -> tuple[str, int]:
    return "", 0


@dataclass(frozen=True)
class CacheKind:
    """One kind of cache entry, as registered by its owner module."""

    name: str  # also the kind's top folder in the cache
    layout: str  # where an entry lives, relative to the cache folder
    integrity: str  # what makes an entry intact, and what a damaged one becomes
    entries: Callable[[Path], list[Path]]  # entries (a file or a folder) in a cache folder
    remove: Callable[[Path], int] = remove_file  # deletes one entry; returns the bytes freed
    describe: Callable[[Path], tuple[str, int]] = _no_facts  # (model, images) of an entry
    leftovers: Callable[[Path], list[Path]] = _nothing  # what interrupted writes left behind
    subfolders: Callable[[Path], list[Path]] = _nothing  # folders the kind nests entries in

    def folder(self, root: Path) -> Path:
        return Path(root) / self.name


KINDS: dict[str, CacheKind] = {}


def register(kind: CacheKind) -> CacheKind:
    """Add a kind (once: a second registration of a name is a programming error)."""
    if kind.name in KINDS:
        raise ValueError(f"cache kind {kind.name!r} is registered twice")
    KINDS[kind.name] = kind
    return kind


def kind_names() -> tuple[str, ...]:
    return tuple(KINDS)


def entry_size(entry: Path) -> int:
    if entry.is_dir():
        return sum(p.stat().st_size for p in plain_files(entry))
    return entry.stat().st_size


def entry_modified(entry: Path) -> float:
    if entry.is_dir():
        return max((p.stat().st_mtime for p in plain_files(entry)), default=entry.stat().st_mtime)
    return entry.stat().st_mtime


@dataclass
class CacheItem:
    """One cache entry as `cache ls` lists it: kind, model (when recorded), images, files."""

    kind: str
    model: str
    images: int
    size: int
    modified: float  # last written, seconds since the epoch
    paths: list[Path]


def cache_items(root: Path, kinds: Iterable[str] | None = None) -> list[CacheItem]:
    """Every entry singaudit wrote in a cache folder (of the given kinds), with what it records
    about itself."""
    items = []
    for kind in _kinds(kinds):
        for entry in kind.entries(Path(root)):
            model, images = kind.describe(entry)
            items.append(CacheItem(kind.name, model, images, entry_size(entry),
                                   entry_modified(entry), [entry]))
    return items


def cache_contents(root: Path) -> list[tuple[str, int, int]]:
    """(kind, entries, bytes) for every registered kind, in registration order."""
    rows = []
    for kind in KINDS.values():
        entries = kind.entries(Path(root))
        rows.append((kind.name, len(entries), sum(entry_size(e) for e in entries)))
    return rows


def is_singaudit_cache(root: Path) -> bool:
    """Whether a folder holds singaudit's marker or any entry singaudit writes."""
    root = Path(root)
    return (root / MARKER).is_file() or any(kind.entries(root) for kind in KINDS.values())


def remove_items(root: Path, items: Iterable[CacheItem]) -> tuple[int, int]:
    """Delete the given entries, each by its kind's rule; returns (entries, bytes)."""
    count = freed = 0
    touched: set[str] = set()
    for item in items:
        kind = KINDS[item.kind]
        for path in item.paths:
            freed += kind.remove(path)
        count += 1
        touched.add(kind.name)
    for name in touched:
        _prune(KINDS[name], Path(root))
    return count, freed


def clear_cache(root: Path, kinds: Iterable[str] | None = None) -> tuple[int, int]:
    """Delete every entry singaudit wrote (of each kind, or the given ones) and what interrupted
    writes left, nothing else; returns (entries, bytes). A folder that is not a singaudit cache is
    refused."""
    root = Path(root)
    if not root.is_dir():
        return 0, 0
    if not is_singaudit_cache(root) and any(root.iterdir()):
        raise SingauditError(f"{root} is not a singaudit cache (no {MARKER} marker and "
                             "no singaudit entries): nothing deleted")
    count = freed = 0
    for kind in _kinds(kinds):
        for entry in kind.entries(root):
            freed += kind.remove(entry)
            count += 1
        for leftover in kind.leftovers(root):
            freed += remove_path(leftover)
        _prune(kind, root)
    return count, freed


def _prune(kind: CacheKind, root: Path) -> None:
    for sub in kind.subfolders(root):
        remove_if_empty(sub)
    remove_if_empty(kind.folder(root))


def _kinds(names: Iterable[str] | None) -> list[CacheKind]:
    if names is None:
        return list(KINDS.values())
    unknown = [name for name in names if name not in KINDS]
    if unknown:
        raise SingauditError(f"unknown cache kind {', '.join(unknown)}: choose from "
                             f"{', '.join(KINDS)}")
    return [KINDS[name] for name in names]
