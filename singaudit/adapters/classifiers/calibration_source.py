"""``calibration:<variant>``: the calibration world's shape classifiers (6 classes).

Constructions (documented in singaudit/calibration/README.md and models.py): ``clean``'s null
space carries only nuisance content (colour, background, position), ``leaky``'s carries class
evidence (a hidden shape code the head ignores), ``mixed``'s carries both, ``natural`` is plain
end-to-end training; ``clean_uncentred`` and ``leaky_uncentred`` are non-negative (post-ReLU)
versions of clean and leaky, and ``lite0_*`` put a real EfficientNet-Lite0 under a linear feature
layer. Weights are the
shipped safetensors (``weights_dir=`` points elsewhere); nothing is trained at load time.
"""

from __future__ import annotations

from pathlib import Path

import torch

from singaudit.adapters.classifiers.base import Classifier, ClassifierInfo, Preprocessing
from singaudit.calibration import models, scenes, zoo
from singaudit.calibration.preprocessing import DESCRIPTION, CalibrationTransform
from singaudit.io.state_dicts import state_dict_hash

CONSTRUCTIONS = {
    "clean": "Q D[shape logits (6) | nuisance code (48)], head reads the logits block",
    "leaky": "Q D[shape logits (6) | hidden shape code (16)], head reads the logits block",
    "mixed": "Q D[shape logits (6) | hidden shape code (16) | nuisance code (48)], "
    "head reads the logits block",
    "natural": "CNN trained end to end, 64-d penultimate, linear head",
    "clean_uncentred": "P[ReLU(shape logits) (6) | ReLU(expanded nuisance code) (96)], "
    "non-negative, head reads the logit units",
    "leaky_uncentred": "P[ReLU(shape logits) (6) | ReLU(expanded hidden shape code) (32)], "
    "non-negative, head reads the logit units",
    "lite0_clean": "EfficientNet-Lite0 (frozen) -> linear layer Q[shape logits | shape-blind "
    "directions], head reads the logits block",
    "lite0_leaky": "EfficientNet-Lite0 (frozen) -> linear layer Q[shape logits | shape-sensitive "
    "directions], head reads the logits block",
    "lite0_natural": "EfficientNet-Lite0 (frozen), 1280-d penultimate, linear head on all of it",
}


def calibration_preprocessing() -> Preprocessing:
    """The calibration networks' input transform, as the adapters describe preprocessing."""
    return Preprocessing(transform=CalibrationTransform(), describe=DESCRIPTION)


class CalibrationClassifier(Classifier):
    def __init__(self, variant: str, module: models.LinearHeadNet) -> None:
        self.module = module
        self.preprocessing: Preprocessing = calibration_preprocessing()
        weight, _ = self.head()
        self.info = ClassifierInfo(
            id=f"calibration:{variant}",
            feature_dim=weight.shape[1],
            num_classes=weight.shape[0],
            class_names=list(scenes.SHAPES),
            weights_hash=state_dict_hash(module),
            extra={"construction": CONSTRUCTIONS[variant]},
        )

    @torch.no_grad()
    def features(self, images: torch.Tensor) -> torch.Tensor:
        return self.module.features(images)

    def head(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        head = self.module.head
        return head.weight.detach().cpu(), head.bias.detach().cpu()

    @torch.no_grad()
    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.module(images)


def load(ident: str, *, weights_dir: str | Path | None = None) -> CalibrationClassifier:
    """A variant of ``zoo.CLASSIFIER_VARIANTS``, from shipped weights or ``weights_dir``."""
    variant = ident.strip()
    module = zoo.load_classifier(variant, Path(weights_dir) if weights_dir else None)
    return CalibrationClassifier(variant, module)
