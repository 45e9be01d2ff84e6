"""Any ``nn.Module`` as a classifier: a dotted path to its head and an optional token selector.

``load_classifier("hook:my-dino", module=model, head="head", token="cls")``. The head module's
input is the penultimate feature; a token sequence (n, tokens, m) is reduced by the selector
("cls", "mean", "patch_mean"), which also reduces the model's per-token logits, so the paper's
DinoViT wrapper (a ViT backbone plus a linear layer) is this case. The adapter checks once, on a
random image, that ``features @ W.T + b`` reproduces the model's logits.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from torch import nn

from singaudit.adapters.classifiers._heads import (
    HookedClassifier,
    default_class_names,
    final_linear,
    linear_weights,
    submodule,
    verify_linear_head,
)
from singaudit.adapters.classifiers._preprocess import input_size, standard_preprocessing
from singaudit.adapters.classifiers.base import ClassifierInfo, Preprocessing
from singaudit.errors import UnsupportedModel
from singaudit.io.state_dicts import load_state_dict, state_dict_hash


def load(
    ident: str,
    *,
    module: nn.Module | None = None,
    head: str | Sequence[str] | None = None,
    token: str | None = None,
    preprocessing: Preprocessing | None = None,
    class_names: Sequence[str] | None = None,
    weights: str | Path | None = None,
    verify: bool = True,
) -> HookedClassifier:
    """Wrap ``module``; ``ident`` is its display name (``hook:<ident>``)."""
    if not isinstance(module, nn.Module):
        raise UnsupportedModel(
            f"hook:{ident} needs module=<an nn.Module> and head='dotted.path' (Python API only)"
        )
    if not head:
        raise UnsupportedModel(f"hook:{ident} needs head='dotted.path' to the head module")
    if weights is not None:
        module.load_state_dict(load_state_dict(weights, f"hook:{ident}"), strict=True)
    return from_module(
        module,
        head,
        name=f"hook:{ident}",
        token=token,
        preprocessing=preprocessing,
        class_names=class_names,
        source="module",
        verify=verify,
    )


def from_module(
    module: nn.Module,
    head: str | Sequence[str],
    *,
    name: str,
    token: str | None = None,
    preprocessing: Preprocessing | None = None,
    class_names: Sequence[str] | None = None,
    source: str = "module",
    verify: bool = True,
) -> HookedClassifier:
    """A HookedClassifier over ``module`` with its head(s) at ``head`` (several are averaged)."""
    head_paths = [head] if isinstance(head, str) else list(head)
    weights = [linear_weights(final_linear(submodule(module, p), p), p)[0] for p in head_paths]
    num_classes = weights[0].shape[0]
    if any(w.shape[0] != num_classes for w in weights):
        raise UnsupportedModel(f"the heads {head_paths} have different numbers of classes")
    names = list(class_names) if class_names is not None else default_class_names(num_classes)
    if len(names) != num_classes:
        raise UnsupportedModel(
            f"{len(names)} class names given for a head with {num_classes} classes"
        )
    info = ClassifierInfo(
        id=name,
        feature_dim=sum(w.shape[1] for w in weights),
        num_classes=num_classes,
        class_names=names,
        weights_hash=state_dict_hash(module),
        extra={"source": source, "head_paths": head_paths, "token": token},
    )
    classifier = HookedClassifier(
        module,
        head_paths,
        info=info,
        preprocessing=preprocessing or standard_preprocessing(),
        token_selector_name=token,
    )
    if verify:
        verify_linear_head(classifier, input_size(classifier.preprocessing))
    return classifier
