"""``calibration:decoder``: the calibration world's stand-in for UnCLIP.

A deterministic convolutional decoder from a calibration joint-space image embedding (its
direction; the norm is ignored) to a 64x64 image. There is no sampling noise, so ``seeds`` are
ignored: every seed gives the same render, and two renders differ only by their embeddings.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from PIL import Image

from singaudit.adapters.generators.base import Generator, GeneratorInfo
from singaudit.calibration import models, zoo
from singaudit.errors import SpecError, WeightsNotFound


class CalibrationDecoder(Generator):
    def __init__(self, module: models.Decoder) -> None:
        self.module = module
        self.info = GeneratorInfo(id="calibration:decoder", embed_dim=models.EMBED_DIM)

    @torch.no_grad()
    def render(
        self, embeddings: torch.Tensor, seeds: Sequence[int], size: int
    ) -> list[list[Image.Image]]:
        if embeddings.ndim != 2 or embeddings.shape[1] != self.info.embed_dim:
            raise SpecError(
                f"calibration:decoder takes {self.info.embed_dim}-d calibration joint-space "
                f"embeddings; got shape {tuple(embeddings.shape)}"
            )
        parameter = next(self.module.parameters())
        pixels = models.from_tensor(self.module(embeddings.to(parameter))).cpu().numpy()
        images = [Image.fromarray(p) for p in pixels]
        if size != pixels.shape[1]:
            images = [im.resize((size, size), Image.BILINEAR) for im in images]
        return [[image.copy() for _ in seeds] for image in images]

    def to(self, device, dtype=None) -> CalibrationDecoder:
        self.module.to(device=device, dtype=dtype)
        return self


def load(ident: str = "", *, weights_dir: str | Path | None = None) -> CalibrationDecoder:
    if ident.strip() not in ("", "decoder"):
        raise WeightsNotFound(f"unknown calibration generator {ident!r}; use 'calibration:decoder'")
    return CalibrationDecoder(zoo.load_decoder(Path(weights_dir) if weights_dir else None))
