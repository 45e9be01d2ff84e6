"""Where the cache is, its marker, and the rules every kind shares: an unwritable cache only
warns (once per folder and process), and clearing removes only folders left empty."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from singaudit.io.atomic import atomic_write_text

ENV_VAR = "SINGAUDIT_CACHE"
MARKER = ".singaudit-cache"  # tells `singaudit cache clear` the folder is singaudit's

logger = logging.getLogger("singaudit.cache")
_warned_roots: set[str] = set()


def default_cache_dir() -> Path:
    """``$SINGAUDIT_CACHE`` if set, else the platform's user cache folder for singaudit."""
    override = os.environ.get(ENV_VAR)
    if override:
        return Path(override).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("singaudit"))


def cache_root(configured: str | os.PathLike | None = None) -> Path:
    """The cache folder: the argument (``--cache-dir``, the spec's ``cache_dir``), else
    ``$SINGAUDIT_CACHE``, else the platform's."""
    return Path(configured).expanduser() if configured is not None else default_cache_dir()


def mark_cache(root: Path) -> None:
    """Create ``root`` with its marker (once); OSError when the folder cannot be written."""
    marker = Path(root) / MARKER
    if not marker.is_file():
        atomic_write_text(marker, json.dumps({"singaudit_cache": 1}) + "\n")


def write_failed(root: Path, error: OSError) -> None:
    """One warning per cache folder and process: the run continues without caching there."""
    if str(root) in _warned_roots:
        return
    _warned_roots.add(str(root))
    reason = error.strerror or str(error)
    logger.warning("singaudit: cannot write to the cache %s (%s); continuing without caching "
                   "new results there (set --cache-dir or SINGAUDIT_CACHE to a writable folder)",
                   root, reason)


def remove_if_empty(folder: Path) -> None:
    """Remove a folder singaudit made once it is empty; files it did not write stay."""
    try:
        folder.rmdir()
    except OSError:
        pass  # not empty, or not a folder


def is_hex(text: str, length: int) -> bool:
    """Whether ``text`` is ``length`` lowercase hex digits (the names entries are given)."""
    return len(text) == length and all(c in "0123456789abcdef" for c in text)


def plain_files(folder: Path) -> list[Path]:
    """Regular files under ``folder`` (symlinks are never followed nor counted)."""
    return [p for p in folder.rglob("*") if p.is_file() and not p.is_symlink()]
