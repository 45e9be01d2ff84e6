"""Edge conversions: accept torch or numpy, compute in torch, answer in the caller's kind."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

ArrayLike = torch.Tensor | np.ndarray


def as_tensor(values: Any) -> torch.Tensor:
    """A torch view of ``values`` (numpy arrays share memory; lists are copied)."""
    if isinstance(values, torch.Tensor):
        return values
    if isinstance(values, np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(values))
    return torch.as_tensor(values)


def result_dtype(values: Any) -> torch.dtype:
    """The floating dtype results take: the input's if it is floating, else float64."""
    dtype = as_tensor(values).dtype
    return dtype if dtype.is_floating_point else torch.float64


def to_float64(values: Any) -> torch.Tensor:
    tensor = as_tensor(values)
    # MPS has no float64; compute there on the CPU instead.
    if tensor.device.type == "mps":
        tensor = tensor.cpu()
    return tensor.to(torch.float64)


def like_input(result: torch.Tensor, reference: Any, dtype: torch.dtype | None = None) -> Any:
    """``result`` as ``dtype`` (default: the reference's float dtype), in the reference's kind."""
    dtype = dtype or result_dtype(reference)
    if isinstance(reference, np.ndarray):
        # numpy has no bfloat16: such inputs never arrive as numpy.
        return result.detach().to("cpu", dtype).numpy()
    device = reference.device if isinstance(reference, torch.Tensor) else result.device
    return result.to(device=device, dtype=dtype)


def require_finite(values: Any, keys: Sequence[str], what: str) -> None:
    """Raise DataError naming how many rows of ``values`` hold NaN or infinity and which images
    (their keys): a non-finite feature or embedding would poison every score silently."""
    from singaudit.errors import DataError

    rows = as_tensor(values)
    if rows.numel() == 0 or bool(torch.isfinite(rows).all()):
        return
    bad = (~torch.isfinite(rows.reshape(len(rows), -1))).any(dim=1).nonzero().flatten().tolist()
    shown = ", ".join(str(keys[i]) for i in bad[:5]) + (f" and {len(bad) - 5} more"
                                                         if len(bad) > 5 else "")
    raise DataError(f"{what}: {len(bad)} of {len(rows)} rows are not finite (NaN or infinity), "
                    f"images: {shown}; the model or its preprocessing produced them (try "
                    "dtype: float32), and they are never dropped silently")
