"""``calibration:decoder``: the calibration world's stand-in for UnCLIP.

Inverse graphics rather than pixel regression: a small MLP reads a calibration joint-space
image embedding (its direction; the norm is ignored) and predicts one categorical distribution
per scene attribute (shape, colour, background colour and pattern, and binned size, position,
rotation and pattern geometry; ``models.DECODED_ATTRIBUTES``), trained with cross-entropy on
training-split scenes. The chosen values are drawn by the world's own renderer
(``scenes.render``, at bin centres, palette colours), so renders are sharp and show exactly
what the embedding says about each attribute.

Seeds: seed 0 renders the most probable value of every attribute. Any other seed draws one
uniform number per attribute (and the noise pattern's seed) from ``numpy.random.default_rng(seed)``
and samples each attribute by inverse CDF from its predicted distribution; the numbers are the
same for every embedding, so two renders with one seed differ only through their embeddings.
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
        embeddings = embeddings.to(parameter)
        by_seed = [self.module.render(embeddings, seed=int(seed), size=size) for seed in seeds]
        return [[Image.fromarray(pixels[i]) for pixels in by_seed] for i in range(len(embeddings))]

    def to(self, device: str | torch.device, dtype: torch.dtype | None = None
           ) -> CalibrationDecoder:
        self.module.to(device=device, dtype=dtype)
        return self


def load(ident: str = "", *, weights_dir: str | Path | None = None) -> CalibrationDecoder:
    if ident.strip() not in ("", "decoder"):
        raise WeightsNotFound(f"unknown calibration generator {ident!r}; use 'calibration:decoder'")
    return CalibrationDecoder(zoo.load_decoder(Path(weights_dir) if weights_dir else None))
