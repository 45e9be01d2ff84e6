"""Device and dtype choice: automatic (cuda, then mps, then cpu) with an explicit override."""

from __future__ import annotations

import torch

from singaudit.errors import SpecError

DTYPES: dict[str, torch.dtype] = {
    "float32": torch.float32,
    "fp32": torch.float32,
    "float": torch.float32,
    "bfloat16": torch.bfloat16,
    "bf16": torch.bfloat16,
    "float16": torch.float16,
    "fp16": torch.float16,
    "half": torch.float16,
}


def choose_device(requested: str | torch.device | None = None) -> torch.device:
    """``None``/"auto": cuda if available, else mps, else cpu; otherwise the named device."""
    if isinstance(requested, torch.device):
        return requested
    if requested in (None, "", "auto"):
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(requested)
    except (RuntimeError, TypeError):
        raise SpecError(
            f"unknown device {requested!r}; use auto, cpu, cuda, cuda:N or mps"
        ) from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SpecError(f"device {requested!r} was requested but CUDA is not available")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise SpecError(f"device {requested!r} was requested but MPS is not available")
    return device


def choose_dtype(device: torch.device, requested: str | torch.dtype | None = None) -> torch.dtype:
    """``None``/"auto": bfloat16 on a CUDA device that supports it, else float32.

    Reduced precision only speeds up the forward passes; features leave the pipeline as float32.
    """
    if isinstance(requested, torch.dtype):
        return requested
    if requested in (None, "", "auto"):
        if device.type == "cuda" and torch.cuda.is_bf16_supported():
            return torch.bfloat16
        return torch.float32
    try:
        return DTYPES[str(requested).lower()]
    except KeyError:
        raise SpecError(
            f"unknown dtype {requested!r}; use auto, float32, bfloat16 or float16"
        ) from None


def dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")
