"""The generator interface: images rendered from joint-space image embeddings."""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from PIL import Image


@dataclass
class GeneratorInfo:
    id: str
    embed_dim: int  # the embedding size it consumes; other joint spaces are refused


class Generator(abc.ABC):
    info: GeneratorInfo

    @abc.abstractmethod
    def render(
        self, embeddings: torch.Tensor, seeds: Sequence[int], size: int
    ) -> list[list[Image.Image]]:
        """images[i][j] for embedding i and seed j; latents are drawn once per seed and shared
        by every embedding, so two renders with one seed differ only by their embeddings."""
