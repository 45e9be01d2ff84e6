"""Where singaudit caches, as one rule every layer can read without importing torch."""

from __future__ import annotations

import json
import os
from pathlib import Path

from singaudit.io.atomic import atomic_write_text

ENV_VAR = "SINGAUDIT_CACHE"
MARKER = ".singaudit-cache"  # tells `singaudit cache clear` the folder is singaudit's


def default_cache_dir() -> Path:
    """``$SINGAUDIT_CACHE`` if set, else the platform's user cache folder for singaudit."""
    override = os.environ.get(ENV_VAR)
    if override:
        return Path(override).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("singaudit"))


def mark_cache(root: Path) -> None:
    """Create ``root`` with its marker (once); OSError when the folder cannot be written."""
    marker = Path(root) / MARKER
    if not marker.is_file():
        atomic_write_text(marker, json.dumps({"singaudit_cache": 1}) + "\n")
