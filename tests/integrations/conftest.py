"""Small real datasets, shards, MLflow stores and model cards built by the tests themselves."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")


@pytest.fixture(autouse=True)
def _private_caches(monkeypatch, tmp_path):
    """datasets and singaudit write their caches under the test's folder, never the user's."""
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf-datasets-cache"))
    monkeypatch.setenv("SINGAUDIT_CACHE", str(tmp_path / "singaudit-cache"))
