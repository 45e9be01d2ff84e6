import time

import pytest
import torch

from singaudit.adapters.weights import host_reachable, hub_errors_as_missing
from singaudit.errors import WeightsNotFound
from singaudit.io.state_dicts import load_state_dict, save_state_dict, state_dict_hash


def test_safetensors_and_weights_only_checkpoints(tmp_path):
    state = {"layer.weight": torch.randn(3, 2), "layer.bias": torch.zeros(3)}
    save_state_dict(state, tmp_path / "w.safetensors")
    torch.save({"state_dict": {f"module.{k}": v for k, v in state.items()}}, tmp_path / "w.pth")
    for name in ("w.safetensors", "w.pth"):
        loaded = load_state_dict(tmp_path / name)
        assert set(loaded) == set(state)
        assert torch.equal(loaded["layer.weight"], state["layer.weight"])


class Payload:
    """An arbitrary class: unpickling it would run code, which weights_only refuses."""


def test_checkpoints_with_code_are_refused(tmp_path):
    torch.save({"payload": Payload()}, tmp_path / "code.pth")
    with pytest.raises(WeightsNotFound, match="weights-only"):
        load_state_dict(tmp_path / "code.pth")


def test_state_dict_hash_tracks_values():
    layer = torch.nn.Linear(4, 2)
    before = state_dict_hash(layer)
    assert state_dict_hash(layer) == before and len(before) == 16
    with torch.no_grad():
        layer.bias[0] += 1e-3
    assert state_dict_hash(layer) != before


def test_unreachable_host_is_detected_quickly():
    start = time.perf_counter()
    assert host_reachable("singaudit-test.invalid", timeout=0.5) is False
    assert time.perf_counter() - start < 1.5


def test_hub_failures_become_one_message():
    from huggingface_hub.errors import LocalEntryNotFoundError

    how = "give a folder saved with save_pretrained"
    with (
        pytest.raises(WeightsNotFound, match="org/model.*save_pretrained"),
        hub_errors_as_missing("org/model", how),
    ):
        raise LocalEntryNotFoundError("Cannot find the requested files in the disk cache")
    # Unrelated errors pass through unchanged.
    with pytest.raises(ZeroDivisionError), hub_errors_as_missing("org/model", how):
        raise ZeroDivisionError
