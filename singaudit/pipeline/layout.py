"""Memory layout of the forward pass: channels_last where a model is convolutional.

On the CPU, convolutional networks run faster in channels_last; a ViT, whose only convolution
is the patch embedding, gains nothing, so it stays contiguous (benchmarks/throughput.py measures
both; its figures are in docs/benchmarks.md). Features in channels_last differ from contiguous
ones by about 1e-6 relative (other kernels, other summation order), so the layout is part of the
feature cache key: cached features are reused only when they were computed the same way.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

import torch
from torch import nn

Layout = Literal["contiguous", "channels_last"]
LAYOUTS: tuple[str, ...] = ("contiguous", "channels_last")

_FORMATS = {"contiguous": torch.contiguous_format, "channels_last": torch.channels_last}


def choose_layout(module: nn.Module | None) -> Layout:
    """``channels_last`` for a convolutional model (two or more 2-d convolutions), else
    ``contiguous``: a transformer's single patch-embedding convolution gains nothing from it."""
    if module is None:
        return "contiguous"
    convolutions = sum(isinstance(m, nn.Conv2d) for m in module.modules())
    return "channels_last" if convolutions >= 2 else "contiguous"


def as_layout(images: torch.Tensor, layout: str) -> torch.Tensor:
    """A 4-d image batch in ``layout`` (other shapes unchanged)."""
    if images.ndim != 4:
        return images
    return images.contiguous(memory_format=_FORMATS[layout])


def as_layout_module(module: nn.Module, layout: str) -> nn.Module:
    """``module`` with its 4-d weights in ``layout``, in place (values unchanged); only those
    tensors are touched (``module.to`` would visit every tensor of the model)."""
    memory_format = _FORMATS[layout]
    with torch.no_grad():
        for tensor in [*module.parameters(), *module.buffers()]:
            if tensor.ndim == 4:
                tensor.data = tensor.data.contiguous(memory_format=memory_format)
    return module


@contextmanager
def model_layout(module: nn.Module | None, layout: str) -> Iterator[None]:
    """``module``'s 4-d weights in ``layout`` for the duration, restored to contiguous after
    (the values are unchanged: only their order in memory is)."""
    if module is None or layout == "contiguous":
        yield
        return
    as_layout_module(module, layout)
    try:
        yield
    finally:
        as_layout_module(module, "contiguous")
