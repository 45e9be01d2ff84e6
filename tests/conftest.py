"""Suite-wide settings: no hub downloads, and no test writes to the user's own cache."""

from __future__ import annotations

import os

import pytest

# Tests never download weights: a missing hub file must fail at once (ENVIRONMENT.md).
os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(autouse=True, scope="session")
def _private_cache(tmp_path_factory):
    """Point the default cache at a session folder; tests that need their own pass cache_dir."""
    previous = os.environ.get("SINGAUDIT_CACHE")
    os.environ["SINGAUDIT_CACHE"] = str(tmp_path_factory.mktemp("singaudit-cache"))
    yield
    if previous is None:
        os.environ.pop("SINGAUDIT_CACHE", None)
    else:
        os.environ["SINGAUDIT_CACHE"] = previous
