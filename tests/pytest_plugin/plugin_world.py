"""Tiny real classifiers for the plugin's tests (``python:plugin_world:make``).

Pooled pixels -> a fixed random projection -> a linear head that reads only the first
NUM_CLASSES features; the other features (the head's null space) are scaled by ``null_scale``, so
the share of each feature that lives in the null space is set by construction.
"""

from __future__ import annotations

import torch
from torch import nn

from singaudit.calibration.scenes import SHAPES

NUM_CLASSES = len(SHAPES)
POOLED = 3 * 4 * 4


class ScaledProjection(nn.Module):
    def __init__(self, feature_dim: int, null_scale: float, generator: torch.Generator) -> None:
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(4)
        self.proj = nn.Linear(POOLED, feature_dim)
        with torch.no_grad():
            self.proj.weight.copy_(torch.randn(feature_dim, POOLED, generator=generator))
            self.proj.bias.zero_()
        scale = torch.full((feature_dim,), float(null_scale))
        scale[:NUM_CLASSES] = 1.0
        self.register_buffer("scale", scale)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.proj(self.pool(images).flatten(1)) * self.scale


def make(feature_dim: int = 16, null_scale: float = 0.05, seed: int = 0) -> dict:
    generator = torch.Generator().manual_seed(seed)
    head = nn.Linear(feature_dim, NUM_CLASSES)
    with torch.no_grad():
        head.weight.zero_()
        head.weight[:, :NUM_CLASSES] = torch.randn(NUM_CLASSES, NUM_CLASSES, generator=generator)
        head.bias.zero_()
    module = nn.Sequential(ScaledProjection(feature_dim, null_scale, generator), head).eval()
    return {"module": module, "head": "1", "class_names": list(SHAPES)}


# Named variants, so that the specs and failure reports of the tests read plainly.
def quiet() -> dict:
    return make(null_scale=0.05)


def loud() -> dict:
    return make(null_scale=5.0)


def square() -> dict:
    return make(feature_dim=NUM_CLASSES)
