"""Figure entries: rendered report figures (PNGs, data URIs) kept by content address.

Layout: ``<root>/figures/<sha256>.<suffix>``; the key hashes the figure's builder, its inputs and
the drawing code (``singaudit.reports.figures``). The folder is the run's cache folder
(``--cache-dir``) while ``figure_cache`` is in effect, else the default one.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from pathlib import Path

from singaudit.cache.folder import cache_root, is_hex
from singaudit.cache.kinds import CacheKind, register
from singaudit.io.atomic import atomic_write_bytes

FIGURES = "figures"
_root: ContextVar[Path | None] = ContextVar("singaudit_figure_cache", default=None)


@contextlib.contextmanager
def figure_cache(root: str | Path | None) -> Iterator[None]:
    """Keep figures drawn inside the block in ``root``'s cache (None: the default cache)."""
    token = _root.set(Path(root).expanduser() if root is not None else None)
    try:
        yield
    finally:
        _root.reset(token)


def figure_folder() -> Path:
    """Where figures are kept now."""
    return cache_root(_root.get()) / FIGURES


def read_figure(key: str, suffix: str = ".png") -> bytes | None:
    """A rendered artefact (figure, thumbnail) stored under ``key``, or None."""
    path = figure_folder() / f"{key}{suffix}"
    try:
        return None if path.is_symlink() else path.read_bytes()
    except OSError:
        return None


def write_figure(key: str, payload: bytes, suffix: str = ".png") -> None:
    """Keep a rendered artefact for the next report; a cache that cannot be written only costs
    the next render its time."""
    try:
        atomic_write_bytes(figure_folder() / f"{key}{suffix}", payload)
    except OSError:
        pass


def _entries(root: Path) -> list[Path]:
    return sorted(p for p in (Path(root) / FIGURES).glob("*.*") if p.is_file()
                  and not p.is_symlink() and is_hex(p.name.partition(".")[0], 64))


KIND = register(CacheKind(
    name=FIGURES,
    layout=f"{FIGURES}/<sha256 of builder, inputs and drawing code>.<png|uri>: a rendered figure",
    integrity="named by the figure's inputs; a figure only illustrates (no verdict reads it), and "
              "an unreadable one is drawn again",
    entries=_entries,
    leftovers=lambda root: [p for p in (Path(root) / FIGURES).glob(".*.tmp") if p.is_file()]))
