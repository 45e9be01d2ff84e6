"""Preprocessing shared by the classifier and joint-space adapters."""

from __future__ import annotations

from collections.abc import Callable

import torch
from PIL import Image

from singaudit.adapters.classifiers.base import Preprocessing

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class RGBThen:
    """Convert to RGB, then apply a transform (a class, so DataLoader workers can pickle it)."""

    def __init__(self, transform: Callable[[Image.Image], torch.Tensor]) -> None:
        self.transform = transform

    def __call__(self, image: Image.Image) -> torch.Tensor:
        return self.transform(image.convert("RGB"))


def standard_preprocessing(
    *,
    resize: int = 256,
    crop: int = 224,
    mean: tuple[float, ...] = IMAGENET_MEAN,
    std: tuple[float, ...] = IMAGENET_STD,
    interpolation: str = "bilinear",
) -> Preprocessing:
    """Resize the short side, centre-crop, normalise: the usual ImageNet evaluation transform."""
    from torchvision import (
        transforms,  # imported here: it costs seconds and not every user needs it
    )

    mode = transforms.InterpolationMode(interpolation)
    transform = transforms.Compose(
        [
            transforms.Resize(resize, interpolation=mode),
            transforms.CenterCrop(crop),
            transforms.ToTensor(),
            transforms.Normalize(mean, std),
        ]
    )
    describe = (
        f"resize={resize},crop={crop},interpolation={interpolation},"
        f"mean={tuple(round(m, 6) for m in mean)},std={tuple(round(s, 6) for s in std)}"
    )
    return Preprocessing(transform=RGBThen(transform), describe=describe)


def described(transform: Callable, describe: str) -> Preprocessing:
    """A library's own transform, converted to RGB first, with a stable description."""
    return Preprocessing(transform=RGBThen(transform), describe=describe)


def input_size(preprocessing: Preprocessing, default: int = 224) -> int:
    """The square input size a preprocessing produces (read from one blank image)."""
    try:
        return int(preprocessing.transform(Image.new("RGB", (default, default))).shape[-1])
    except Exception:  # noqa: BLE001 -- a best-effort probe for verification inputs
        return default
