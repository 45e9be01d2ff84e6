"""Build the calibration networks and load their shipped (or freshly trained) weights."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from singaudit.errors import WeightsNotFound

if TYPE_CHECKING:  # torch loads when a network is built; the names below need none (validate)
    import torch

    from singaudit.calibration import models

Network = TypeVar("Network", bound="torch.nn.Module")
WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
# Which ignored blocks each block classifier carries in its null space.
BLOCKS = {
    "clean": {"hidden": False, "nuisance": True},
    "leaky": {"hidden": True, "nuisance": False},
    "mixed": {"hidden": True, "nuisance": True},
}
# Uncentred (non-negative, post-ReLU) classifiers: which code their null space carries.
UNCENTRED = {"clean_uncentred": "nuisance", "leaky_uncentred": "hidden"}
# The real-backbone world: frozen EfficientNet-Lite0 -> linear feature layer -> head.
LITE0 = ("lite0_clean", "lite0_leaky", "lite0_natural")
CLASSIFIER_VARIANTS = (*BLOCKS, "natural", *UNCENTRED, *LITE0)
RETRAIN_HINT = "re-create them with `python -m singaudit.calibration.train --out DIR`"


def mix_seed(seed: int, variant: str) -> int:
    """Seed of a block classifier's fixed orthogonal mixing matrix."""
    order = {"clean": 1, "leaky": 2, "mixed": 3, "clean_uncentred": 4, "leaky_uncentred": 5,
             "lite0_clean": 6, "lite0_leaky": 7, "lite0_natural": 8}
    return 1000 * seed + order[variant]


def build_classifier(variant: str, seed: int = 0) -> models.LinearHeadNet:
    from singaudit.calibration import models

    if variant == "natural":
        return models.NaturalNet()
    if variant not in CLASSIFIER_VARIANTS:
        raise WeightsNotFound(
            f"unknown calibration classifier {variant!r}; "
            f"available: {', '.join(CLASSIFIER_VARIANTS)}"
        )
    if variant in LITE0:
        from singaudit.calibration import backbone

        return backbone.BackboneClassifier(backbone.FEATURE_DIMS[variant])
    if variant in UNCENTRED:
        return models.UncentredClassifier(
            models.ShapeNet(),
            models.NuisanceNet(),
            code=UNCENTRED[variant],
            seed=mix_seed(seed, variant),
        )
    return models.BlockClassifier(
        models.ShapeNet(), models.NuisanceNet(), **BLOCKS[variant], mix_seed=mix_seed(seed, variant)
    )


def _load(module: Network, name: str, weights_dir: Path | None) -> Network:
    from singaudit.io.state_dicts import load_state_dict

    path = Path(weights_dir or WEIGHTS_DIR) / f"{name}.safetensors"
    if not path.is_file():
        raise WeightsNotFound(f"calibration weights {path} are missing; {RETRAIN_HINT}")
    state = load_state_dict(path, f"calibration:{name}")
    try:
        module.load_state_dict(state)
    except RuntimeError as error:
        first = str(error).strip().splitlines()[0]
        raise WeightsNotFound(
            f"{path} does not match the calibration {name} network: {first}"
        ) from None
    return module.eval()


def load_classifier(variant: str, weights_dir: Path | None = None) -> models.LinearHeadNet:
    module = _load(build_classifier(variant), variant, weights_dir)
    if variant in LITE0:  # fail now, not at the first forward pass, when the package is missing
        from singaudit.calibration import backbone

        backbone.load_backbone()
    return module


def load_joint(weights_dir: Path | None = None) -> models.JointModel:
    from singaudit.calibration import models

    return _load(models.JointModel(), "joint", weights_dir)


def load_decoder(weights_dir: Path | None = None) -> models.Decoder:
    from singaudit.calibration import models

    return _load(models.Decoder(), "decoder", weights_dir)


def load_metadata(weights_dir: Path | None = None, phase: str | None = None) -> dict:
    """metadata.json, or ``metadata_<phase>.json`` of a world trained on its own (``uncentred``)."""
    name = f"metadata_{phase}.json" if phase else "metadata.json"
    path = Path(weights_dir or WEIGHTS_DIR) / name
    if not path.is_file():
        raise WeightsNotFound(f"calibration metadata {path} is missing; {RETRAIN_HINT}")
    return json.loads(path.read_text())
