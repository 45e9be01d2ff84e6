"""Build the calibration networks and load their shipped (or freshly trained) weights."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from singaudit.calibration import models
from singaudit.errors import WeightsNotFound
from singaudit.io.state_dicts import load_state_dict

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
CLASSIFIER_VARIANTS = ("clean", "leaky", "mixed", "natural")
# Which ignored blocks each block classifier carries in its null space.
BLOCKS = {
    "clean": {"hidden": False, "nuisance": True},
    "leaky": {"hidden": True, "nuisance": False},
    "mixed": {"hidden": True, "nuisance": True},
}
RETRAIN_HINT = "re-create them with `python -m singaudit.calibration.train --out DIR`"


def mix_seed(seed: int, variant: str) -> int:
    """Seed of a block classifier's fixed orthogonal mixing matrix."""
    return 1000 * seed + {"clean": 1, "leaky": 2, "mixed": 3}[variant]


def build_classifier(variant: str, seed: int = 0) -> torch.nn.Module:
    if variant == "natural":
        return models.NaturalNet()
    if variant not in CLASSIFIER_VARIANTS:
        raise WeightsNotFound(
            f"unknown calibration classifier {variant!r}; "
            f"available: {', '.join(CLASSIFIER_VARIANTS)}"
        )
    return models.BlockClassifier(
        models.ShapeNet(), models.NuisanceNet(), **BLOCKS[variant], mix_seed=mix_seed(seed, variant)
    )


def _load(module: torch.nn.Module, name: str, weights_dir: Path | None) -> torch.nn.Module:
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


def load_classifier(variant: str, weights_dir: Path | None = None) -> torch.nn.Module:
    return _load(build_classifier(variant), variant, weights_dir)


def load_joint(weights_dir: Path | None = None) -> models.JointModel:
    return _load(models.JointModel(), "joint", weights_dir)


def load_decoder(weights_dir: Path | None = None) -> models.Decoder:
    return _load(models.Decoder(), "decoder", weights_dir)


def load_metadata(weights_dir: Path | None = None) -> dict:
    path = Path(weights_dir or WEIGHTS_DIR) / "metadata.json"
    if not path.is_file():
        raise WeightsNotFound(f"calibration metadata {path} is missing; {RETRAIN_HINT}")
    return json.loads(path.read_text())
