"""One view of a Classifier (penultimate features) or a JointSpace (image embeddings) for
extraction, so executors have no special cases."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from singaudit.adapters.classifiers.base import Classifier, Preprocessing
from singaudit.adapters.joint_spaces.base import JointSpace


@dataclass(frozen=True)
class ImageEncoder:
    """What extraction needs from a Classifier (penultimate features) or a JointSpace (image
    embeddings): one shape for both, so the pipeline has no special cases."""

    id: str
    kind: str  # "features" or "embeddings": also the cache namespace
    layer: str
    weights_hash: str
    preprocessing: Preprocessing
    encode: Callable[[torch.Tensor], torch.Tensor]
    module: torch.nn.Module | None = None  # tells which device the model is on
    move: Callable[[torch.device], object] | None = None  # the model's own ``to(device)``


def image_encoder(model: Classifier | JointSpace | ImageEncoder) -> ImageEncoder:
    """The ImageEncoder view of a Classifier or a JointSpace."""
    if isinstance(model, ImageEncoder):
        return model
    module = getattr(model, "module", None)
    module = module if isinstance(module, torch.nn.Module) else None
    move = getattr(model, "to", None)
    if isinstance(model, Classifier):
        return ImageEncoder(
            model.info.id,
            "features",
            "penultimate",
            model.info.weights_hash,
            model.preprocessing,
            model.features,
            module,
            move,
        )
    if isinstance(model, JointSpace):
        return ImageEncoder(
            model.info.id,
            "embeddings",
            "image_embedding",
            model.info.weights_hash,
            model.preprocessing,
            model.encode_images,
            module,
            move,
        )
    raise TypeError(f"expected a Classifier or a JointSpace, got {type(model).__name__}")
