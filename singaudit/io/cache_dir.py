"""Where singaudit caches, as one rule every layer can read without importing torch."""

from __future__ import annotations

import os
from pathlib import Path

ENV_VAR = "SINGAUDIT_CACHE"


def default_cache_dir() -> Path:
    """``$SINGAUDIT_CACHE`` if set, else the platform's user cache folder for singaudit."""
    override = os.environ.get(ENV_VAR)
    if override:
        return Path(override).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("singaudit"))
