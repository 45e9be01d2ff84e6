"""Small real datasets, shards, MLflow stores and model cards built by the tests themselves."""

from __future__ import annotations

import os
import sys

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")


@pytest.fixture(autouse=True)
def _private_caches(monkeypatch, tmp_path):
    """datasets and singaudit write their caches under the test's folder, never the user's:
    through the environment for subprocesses, and through datasets' config (read when a
    dataset is built) in this process, where the library may already be imported."""
    cache = tmp_path / "hf-datasets-cache"
    monkeypatch.setenv("HF_DATASETS_CACHE", str(cache))
    monkeypatch.setenv("SINGAUDIT_CACHE", str(tmp_path / "singaudit-cache"))
    if "datasets" in sys.modules:
        monkeypatch.setattr(sys.modules["datasets"].config, "HF_DATASETS_CACHE", cache)
