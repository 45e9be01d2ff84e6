"""The joint (vision-language) space interface."""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

from singaudit.adapters.classifiers.base import Preprocessing


@dataclass
class JointSpaceInfo:
    id: str  # the full "source:id" name
    embed_dim: int
    weights_hash: str
    default_generator: str | None = None  # a generator name that consumes these embeddings
    extra: dict = field(default_factory=dict)


class JointSpace(abc.ABC):
    info: JointSpaceInfo
    preprocessing: Preprocessing

    @abc.abstractmethod
    def encode_images(self, images: torch.Tensor) -> torch.Tensor:
        """Unnormalised image embeddings (n, k) for preprocessed images."""

    @abc.abstractmethod
    def encode_text(self, prompts: Sequence[str]) -> torch.Tensor:
        """Unnormalised text embeddings (n, k)."""

    def unknown_words(self, text: str) -> list[str]:
        """Words of ``text`` the text tower cannot represent (a closed vocabulary maps them to one
        unknown token); sub-word tokenizers represent any text, hence [] by default."""
        return []

    def to(self, device: str | torch.device, dtype: torch.dtype | None = None) -> JointSpace:
        module = getattr(self, "module", None)
        if module is not None:
            module.to(device=device, dtype=dtype)
        return self
