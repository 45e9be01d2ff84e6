"""The classifier interface: penultimate features followed by one linear head."""

from __future__ import annotations

import abc
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from PIL import Image


@dataclass(frozen=True)
class Preprocessing:
    """How a PIL image becomes the model's input tensor; ``describe`` feeds cache keys."""

    transform: Callable[[Image.Image], torch.Tensor]
    describe: str  # stable text, e.g. "resize=256,crop=224,mean=...,std=..."


@dataclass
class ClassifierInfo:
    id: str  # the full "source:id" name
    feature_dim: int
    num_classes: int
    class_names: list[str]
    weights_hash: str  # sha256 of the weights (first 16 hex digits suffice)
    extra: dict = field(default_factory=dict)


class Classifier(abc.ABC):
    """A classifier with penultimate features f (n, m) and a linear head W (c, m), b (c,)."""

    info: ClassifierInfo
    preprocessing: Preprocessing

    @abc.abstractmethod
    def features(self, images: torch.Tensor) -> torch.Tensor:
        """Batched penultimate features, (n, m), for preprocessed images (n, 3, H, W)."""

    @abc.abstractmethod
    def head(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(W, b): W (c, m), b (c,) or None, on the CPU."""

    @abc.abstractmethod
    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """The model's own logits, for verifying that features @ W.T + b reproduces them."""

    def to(self, device: str | torch.device, dtype: torch.dtype | None = None) -> Classifier:
        module = getattr(self, "module", None)
        if module is not None:
            module.to(device=device, dtype=dtype)
        return self

    def logits(self, features: torch.Tensor) -> torch.Tensor:
        weight, bias = self.head()
        weight = weight.to(features)
        out = features @ weight.T
        return out + bias.to(features) if bias is not None else out
