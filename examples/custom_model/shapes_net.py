"""A classifier of your own, audited through a ``python:`` factory (see README.md here).

``build`` is the factory named in audit.yaml (``python:shapes_net:build``). singaudit imports
this file from the working folder, calls ``build(**options)`` and reads the returned mapping.
"""

from __future__ import annotations

from pathlib import Path

import torch
from PIL import Image
from torch import nn

import singaudit

CLASSES = ["circle", "square", "triangle", "star", "cross", "heart"]  # the data's class names
SIZE = 64  # the input this network was built for


class ShapesNet(nn.Module):
    """A small CNN for 64x64 RGB images; ``fc`` is its linear head."""

    def __init__(self, classes: int = len(CLASSES)) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(3, 16, 3, 2, 1), nn.ReLU(), nn.Conv2d(16, 32, 3, 2, 1), nn.ReLU(),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 48), nn.ReLU())
        self.fc = nn.Linear(48, classes)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.fc(self.body(images))


def to_tensor(image: Image.Image) -> torch.Tensor:
    """PIL image -> (3, 64, 64) float tensor in [-1, 1], the input ShapesNet expects."""
    image = image.convert("RGB").resize((SIZE, SIZE), Image.BILINEAR)
    pixels = torch.frombuffer(bytearray(image.tobytes()), dtype=torch.uint8)
    return pixels.view(SIZE, SIZE, 3).permute(2, 0, 1).float() / 127.5 - 1.0


def build(weights: str | None = None, seed: int = 0) -> dict:
    """The factory: the module, the dotted path of its linear head, its preprocessing and the
    names of its classes. ``weights``: a safetensors state dict of ShapesNet (else seeded
    random weights, enough to try the audit)."""
    torch.manual_seed(seed)
    model = ShapesNet()
    if weights is not None:
        from safetensors.torch import load_file

        model.load_state_dict(load_file(Path(weights)))
    return {
        "module": model.eval(),
        "head": "fc",
        # Without this, singaudit would feed ImageNet's 224x224 crops.
        "preprocessing": singaudit.Preprocessing(transform=to_tensor,
                                                 describe=f"shapes_net:rgb,size={SIZE},[-1,1]"),
        "class_names": CLASSES,
    }
