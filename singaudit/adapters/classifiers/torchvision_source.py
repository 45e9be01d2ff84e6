"""torchvision classifiers: ``torchvision:resnet50@IMAGENET1K_V2`` (a weights enum, or DEFAULT).

Options: ``weights=PATH`` loads a local state dict (safetensors or weights-only checkpoint) into
the architecture; with an ``@ENUM`` too, the enum still supplies preprocessing and class names.
``num_classes`` is read from the file when omitted. The head is the model's final linear layer
(``fc``, ``classifier``, ``head`` or ``heads``), read through a forward pre-hook.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from torch import nn

from singaudit.adapters.classifiers._heads import (
    HookedClassifier,
    default_class_names,
    final_linear,
    linear_weights,
    verify_linear_head,
)
from singaudit.adapters.classifiers._preprocess import (
    described,
    input_size,
    standard_preprocessing,
)
from singaudit.adapters.classifiers.base import ClassifierInfo
from singaudit.adapters.weights import hub_errors_as_missing, require_download, torch_hub_cached
from singaudit.errors import UnsupportedModel
from singaudit.io.state_dicts import load_state_dict, state_dict_hash

if TYPE_CHECKING:
    from torchvision.models import WeightsEnum

HEAD_ATTRIBUTES = ("fc", "classifier", "head", "heads")


def load(
    ident: str,
    *,
    weights: str | Path | None = None,
    num_classes: int | None = None,
    head: str | None = None,
    verify: bool = True,
) -> HookedClassifier:
    """A torchvision model as a Classifier; ``head`` overrides the head module's dotted path."""
    import torchvision.models as tv_models

    name, _, enum_name = ident.strip().partition("@")
    if name not in tv_models.list_models():
        raise UnsupportedModel(
            f"torchvision has no model {name!r}; e.g. resnet50, densenet121, vgg16 "
            "(torchvision.models.list_models() lists them)"
        )
    enum = _weights_enum(tv_models, name, enum_name) if enum_name else None
    if weights is not None:
        state = load_state_dict(weights, f"torchvision:{name}")
        model = tv_models.get_model(name, weights=None)
        head_path = head or _head_path(model)
        found = state.get(f"{_layer_path(model, head_path)}.weight")
        classes = num_classes or (int(found.shape[0]) if found is not None else None)
        if classes is not None and classes != _num_outputs(model, head_path):
            model = tv_models.get_model(name, weights=None, num_classes=classes)
        model.load_state_dict(state, strict=True)
        source = str(weights)
    elif enum is not None:
        if torch_hub_cached(enum.url) is None:
            require_download(f"torchvision:{ident}", _how(ident), urlparse(enum.url).hostname)
        with hub_errors_as_missing(f"torchvision:{ident}", _how(ident)):
            model = tv_models.get_model(name, weights=enum)
        source = enum.url
    else:
        raise UnsupportedModel(
            f"torchvision:{name} needs weights: a weights enum (torchvision:{name}@DEFAULT) "
            "or a local file (weights=PATH)"
        )
    head_path = head or _head_path(model)
    preprocessing = (
        described(enum.transforms(), f"torchvision:{enum.transforms()!r}".replace("\n", ""))
        if enum is not None
        else standard_preprocessing()
    )
    layer = final_linear(model.get_submodule(head_path), head_path)
    weight, _ = linear_weights(layer, head_path)
    categories = list(enum.meta.get("categories") or []) if enum is not None else []
    class_names = (
        categories if len(categories) == weight.shape[0] else default_class_names(weight.shape[0])
    )
    info = ClassifierInfo(
        id=f"torchvision:{ident.strip()}",
        feature_dim=weight.shape[1],
        num_classes=weight.shape[0],
        class_names=class_names,
        weights_hash=state_dict_hash(model),
        extra={"source": "torchvision", "weights": source, "head_paths": [head_path]},
    )
    classifier = HookedClassifier(model, [head_path], info=info, preprocessing=preprocessing)
    if verify:  # one random image: the logits must be features @ W.T + b
        verify_linear_head(classifier, input_size(preprocessing))
    return classifier


def _weights_enum(tv_models: ModuleType, name: str, enum_name: str) -> WeightsEnum:
    try:
        return tv_models.get_weight(f"{tv_models.get_model_weights(name).__name__}.{enum_name}")
    except (ValueError, KeyError, AttributeError):
        available = ", ".join(w.name for w in tv_models.get_model_weights(name))
        raise UnsupportedModel(
            f"torchvision:{name} has no weights {enum_name!r}; available: DEFAULT, {available}"
        ) from None


def _head_path(model: nn.Module) -> str:
    for attribute in HEAD_ATTRIBUTES:
        if isinstance(getattr(model, attribute, None), nn.Module):
            return attribute
    raise UnsupportedModel(
        f"cannot find the head of {type(model).__name__} (looked for {', '.join(HEAD_ATTRIBUTES)}); "
        "give head='dotted.path'"
    )


def _layer_path(model: nn.Module, head_path: str) -> str:
    layer = final_linear(model.get_submodule(head_path), head_path)
    return next(name for name, module in model.named_modules() if module is layer)


def _num_outputs(model: nn.Module, head_path: str) -> int:
    layer = final_linear(model.get_submodule(head_path), head_path)
    return int(linear_weights(layer, head_path)[0].shape[0])


def _how(ident: str) -> str:
    return (
        f"download them where download.pytorch.org is reachable (they go to the torch hub cache, "
        f"TORCH_HOME) or pass a local file with weights=PATH (torchvision:{ident.split('@')[0]})"
    )
