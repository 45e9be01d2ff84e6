"""The one input transform of every calibration network: RGB, 64x64, (x - 0.5) / 0.25."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from singaudit.calibration import models, scenes

# Stable text for cache keys (the adapters' Preprocessing.describe).
DESCRIPTION = f"calibration:rgb,size={scenes.IMAGE_SIZE},mean={models.MEAN},std={models.STD}"


class CalibrationTransform:
    """PIL image -> (3, 64, 64) tensor; other sizes are resized bilinearly (a class: picklable)."""

    def __call__(self, image: Image.Image) -> torch.Tensor:
        image = image.convert("RGB")
        if image.size != (scenes.IMAGE_SIZE, scenes.IMAGE_SIZE):
            image = image.resize((scenes.IMAGE_SIZE, scenes.IMAGE_SIZE), Image.Resampling.BILINEAR)
        return models.to_tensor(np.asarray(image)[None])[0]
