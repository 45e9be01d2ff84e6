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


# Whether the calibration worlds give every verdict identically, and every angle within 0.1 deg,
# in bfloat16 as in float32: set from tests/pipeline/test_precision_policy.py, which checks it.
AUTO_BFLOAT16_KEEPS_VERDICTS = False


def native_bfloat16(device: torch.device) -> bool:
    """A CUDA device with bfloat16 support, or a CPU with native bfloat16 instructions."""
    if device.type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        return bool(getattr(torch.backends.mkldnn, "is_available", lambda: False)()) and \
            torch.ops.mkldnn._is_mkldnn_bf16_supported()
    return False


def choose_dtype(device: torch.device, requested: str | torch.dtype | None = None) -> torch.dtype:
    """``None``/"auto": bfloat16 on a device with native bfloat16, but only if the calibration
    worlds showed it keeps every verdict (``AUTO_BFLOAT16_KEEPS_VERDICTS``); else float32.
    ``bfloat16`` and ``float16`` are always available on request (the report states the dtype).

    Reduced precision only speeds up the forward passes; features leave the pipeline as float32.
    """
    if isinstance(requested, torch.dtype):
        return requested
    if requested in (None, "", "auto"):
        if AUTO_BFLOAT16_KEEPS_VERDICTS and native_bfloat16(device):
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
