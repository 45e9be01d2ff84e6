"""Image batches straight into the model's input layout, bit-identical to the per-image path.

The usual preprocessing ends ``ToTensor`` (HWC uint8 -> contiguous CHW float, /255) then
``Normalize`` ((x - mean) / std): per image, a transpose and three float passes, then a copy to
stack the batch and another to put it in channels_last. When a model's preprocessing has that
tail, each image stops at its uint8 pixels (decode, resize, crop) and the tail runs once per
batch on the stacked uint8 array: ``permute`` of an (n, H, W, 3) array *is* the channels_last
layout, so no transpose or layout copy remains. The arithmetic is the same float32 operations on
the same values in the same order (to float, /255, -mean, /std), so the batch equals the
per-image one exactly (``torch.equal``, tested) and cached features stay valid.

Any other preprocessing (a library's own processor, a tensor step after ``ToTensor``) keeps the
per-image path.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from PIL import Image

from singaudit.pipeline.layout import as_layout

__all__ = ["BatchedPreprocessing", "batched_preprocessing"]


@dataclass(frozen=True)
class BatchedPreprocessing:
    """A preprocessing split into its per-image PIL steps and its per-batch tensor tail."""

    pil_steps: Callable[[Image.Image], object]  # RGB conversion, resize, crop, ...
    mean: tuple[float, ...]
    std: tuple[float, ...]

    def image(self, image: Image.Image) -> torch.Tensor:
        """The image's (H, W, 3) uint8 pixels, or its finished (3, H, W) float tensor where the
        PIL steps did not give an 8-bit RGB image (then the per-image tail runs here)."""
        pixels = self.pil_steps(image)
        if isinstance(pixels, Image.Image) and pixels.mode == "RGB":
            return torch.from_numpy(np.asarray(pixels).copy())
        from torchvision.transforms import functional

        return functional.normalize(functional.to_tensor(pixels), self.mean, self.std)

    def batch(self, images: Sequence[torch.Tensor], layout: str) -> torch.Tensor:
        """(n, 3, H, W) float input in ``layout`` from ``image`` results."""
        if all(x.dtype == torch.uint8 for x in images):
            # (n, H, W, 3) -> (n, 3, H, W) view: channels_last strides without a copy.
            pixels = torch.stack(list(images)).permute(0, 3, 1, 2)
            return self._tail(as_layout(pixels, layout))
        finished = [self._tail(x.permute(2, 0, 1).contiguous()) if x.dtype == torch.uint8 else x
                    for x in images]
        return as_layout(torch.stack(finished), layout)

    def _tail(self, pixels: torch.Tensor) -> torch.Tensor:
        """ToTensor's ``to(float).div(255)`` then Normalize's ``sub_(mean).div_(std)``."""
        values = pixels.to(dtype=torch.get_default_dtype()).div(255)
        mean = torch.as_tensor(self.mean, dtype=values.dtype).view(-1, 1, 1)
        std = torch.as_tensor(self.std, dtype=values.dtype).view(-1, 1, 1)
        return values.sub_(mean).div_(std)


def batched_preprocessing(transform: Callable) -> BatchedPreprocessing | None:
    """The batched form of ``transform`` if it is (RGB conversion then) a torchvision
    ``Compose`` of PIL steps ending ``ToTensor``, ``Normalize``; else None."""
    from singaudit.adapters.classifiers._preprocess import RGBThen

    # A torchvision Compose implies torchvision is imported: never import it (seconds) here.
    transforms = sys.modules.get("torchvision.transforms")
    if not isinstance(transform, RGBThen) or transforms is None:
        return None
    compose: Any = transform.transform  # a torchvision Compose, checked below by its type
    if type(compose) is not transforms.Compose or len(compose.transforms) < 2:
        return None
    timm_transforms = sys.modules.get("timm.data.transforms")
    to_tensors = {transforms.ToTensor, getattr(timm_transforms, "MaybeToTensor", None)}
    *pil_steps, to_tensor, normalize = compose.transforms
    if type(to_tensor) not in to_tensors:
        return None
    if type(normalize) is not transforms.Normalize:
        return None
    mean, std = _channels(normalize.mean), _channels(normalize.std)
    if mean is None or std is None or any(s == 0 for s in std):
        return None
    return BatchedPreprocessing(RGBThen(transforms.Compose(pil_steps)), mean, std)


def _channels(values: float | Sequence[float] | torch.Tensor) -> tuple[float, ...] | None:
    """Three per-channel floats (a scalar broadcasts) as Normalize would read them, else None."""
    flat = torch.as_tensor(values, dtype=torch.float64).flatten().tolist()
    if len(flat) == 1:
        flat = flat * 3
    return tuple(flat) if len(flat) == 3 else None
