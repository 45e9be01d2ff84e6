"""Fixtures: tiny UnCLIPs loaded through the same path as downloaded weights."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tiny_unclip import build_tiny_unclip, one_torch_thread


@pytest.fixture(autouse=True)
def _tests_use_one_torch_thread() -> Iterator[None]:
    with one_torch_thread():
        yield


@pytest.fixture(scope="session")
def tiny_unclip_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    with one_torch_thread():
        return build_tiny_unclip(tmp_path_factory.mktemp("tiny_unclip"))


@pytest.fixture(scope="session")
def tiny_unclip(tiny_unclip_folder: Path):
    """The tiny UnCLIP loaded through the same path as downloaded weights, with few steps."""
    from singaudit.adapters.sources import load_generator

    return load_generator(
        f"unclip:{tiny_unclip_folder}",
        device="cpu",
        decoder_steps=3,
        super_res_steps=2,
        batch_size=4,
    )


@pytest.fixture(scope="session")
def tiny_unclip_decoder_only(tiny_unclip_folder: Path):
    """The tiny UnCLIP without super-resolution (32x32): the cheapest real renders."""
    from singaudit.adapters.sources import load_generator

    with one_torch_thread():
        return load_generator(
            f"unclip:{tiny_unclip_folder}", device="cpu", decoder_steps=2, super_resolution=False
        )
