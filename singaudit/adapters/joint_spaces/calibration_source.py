"""``calibration:`` (or ``calibration:joint``): the calibration world's small CLIP-style space.

An image tower and a text tower with its own word-level tokenizer, trained contrastively on
generated scene captions; prompts outside its vocabulary map unknown words to ``<unk>``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

from singaudit.adapters.classifiers.calibration_source import calibration_preprocessing
from singaudit.adapters.joint_spaces.base import JointSpace, JointSpaceInfo
from singaudit.calibration import captions, models, zoo
from singaudit.errors import WeightsNotFound
from singaudit.io.state_dicts import state_dict_hash


class CalibrationJointSpace(JointSpace):
    def __init__(self, module: models.JointModel) -> None:
        self.module = module
        self.preprocessing = calibration_preprocessing()
        self.info = JointSpaceInfo(
            id="calibration:joint",
            embed_dim=models.EMBED_DIM,
            weights_hash=state_dict_hash(module),
            default_generator="calibration:decoder",
            extra={"vocabulary_size": len(captions.VOCABULARY)},
        )

    @torch.no_grad()
    def encode_images(self, images: torch.Tensor) -> torch.Tensor:
        return self.module.image(images)

    def unknown_words(self, text: str) -> list[str]:
        known = set(captions.VOCABULARY)
        return [word for word in captions._words(text) if word not in known]

    @torch.no_grad()
    def encode_text(self, prompts: Sequence[str]) -> torch.Tensor:
        device = next(self.module.parameters()).device
        ids = torch.as_tensor(captions.tokenize(list(prompts)), device=device)
        return self.module.text(ids)


def load(ident: str = "", *, weights_dir: str | Path | None = None) -> CalibrationJointSpace:
    if ident.strip() not in ("", "joint"):
        raise WeightsNotFound(f"unknown calibration joint space {ident!r}; use 'calibration:joint'")
    return CalibrationJointSpace(zoo.load_joint(Path(weights_dir) if weights_dir else None))
