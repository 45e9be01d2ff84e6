"""State dicts on disk (safetensors, or weights-only torch checkpoints) and their hashes."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from pathlib import Path

import torch

from singaudit.errors import WeightsNotFound


def first_line(error: BaseException) -> str:
    """An exception's first line (200 characters at most), for one-line messages."""
    text = str(error).strip().splitlines()
    return text[0][:200] if text else type(error).__name__


def require_file(path: str | os.PathLike, what: str) -> Path:
    """``path`` as an existing file, or ``WeightsNotFound`` naming it."""
    resolved = Path(path).expanduser()
    if not resolved.exists():
        raise WeightsNotFound(f"weights file for {what} not found: {resolved}")
    return resolved


def load_state_dict(path: str | os.PathLike, what: str = "the model") -> dict[str, torch.Tensor]:
    """A state dict from safetensors, or a torch checkpoint loaded with ``weights_only=True``."""
    resolved = require_file(path, what)
    if resolved.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(resolved))
    try:
        loaded = torch.load(resolved, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 -- pickles with code are refused by weights_only
        raise WeightsNotFound(
            f"cannot read {resolved} as plain weights (safetensors or a weights-only torch "
            f"checkpoint): {first_line(error)}"
        ) from None
    for wrapper in ("state_dict", "model", "model_state_dict"):
        if isinstance(loaded, Mapping) and isinstance(loaded.get(wrapper), Mapping):
            loaded = loaded[wrapper]
    if not isinstance(loaded, Mapping):
        raise WeightsNotFound(f"{resolved} does not hold a state dict")
    return {key.removeprefix("module."): value for key, value in loaded.items()}


def save_state_dict(state_dict: Mapping[str, torch.Tensor], path: str | os.PathLike) -> None:
    """Write weights as safetensors (contiguous, shared storage broken)."""
    from safetensors.torch import save_file

    save_file({k: v.detach().contiguous().clone() for k, v in state_dict.items()}, str(path))


def state_dict_hash(module: torch.nn.Module) -> str:
    """sha256 (16 hex digits) of a module's parameters and buffers: names, shapes and bytes."""
    digest = hashlib.sha256()
    for name, tensor in module.state_dict().items():
        tensor = tensor.detach().cpu().contiguous()
        digest.update(f"{name}:{tuple(tensor.shape)}:{tensor.dtype}".encode())
        digest.update(
            tensor.reshape(-1).view(torch.uint8).numpy().tobytes() if tensor.numel() else b""
        )
    return digest.hexdigest()[:16]
