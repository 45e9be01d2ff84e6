"""Hugging Face transformers image classifiers: ``hf:facebook/dinov2-base-imagenet1k-1-layer``
or ``hf:/path/to/saved/folder`` (``save_pretrained`` output).

Loaded with ``AutoModelForImageClassification`` in float32 and preprocessed by the folder's own
``AutoImageProcessor``. The head is ``classifier`` (DINOv2: its input is the class token and the
mean patch token concatenated); DeiT with a distillation head averages two heads, read exactly.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from singaudit.adapters.classifiers._heads import (
    HookedClassifier,
    final_linear,
    linear_weights,
    verify_linear_head,
)
from singaudit.adapters.classifiers._preprocess import (
    described,
    input_size,
    standard_preprocessing,
)
from singaudit.adapters.classifiers.base import ClassifierInfo, Preprocessing
from singaudit.adapters.weights import hf_cached, hub_errors_as_missing, require_download
from singaudit.errors import UnsupportedModel
from singaudit.io.state_dicts import state_dict_hash

if TYPE_CHECKING:
    from PIL import Image
    from transformers import BaseImageProcessor, PretrainedConfig

HEAD_CANDIDATES = (
    ("cls_classifier", "distillation_classifier"),
    ("classifier",),
    ("head",),
    ("fc",),
)


class ImageProcessorTransform:
    """PIL image -> pixel tensor through a transformers image processor."""

    def __init__(self, processor: BaseImageProcessor) -> None:
        self.processor = processor

    def __call__(self, image: Image.Image) -> torch.Tensor:
        return self.processor(images=image, return_tensors="pt")["pixel_values"][0]


def load(ident: str, *, revision: str | None = None, verify: bool = True) -> HookedClassifier:
    """A transformers image classifier from a hub id or a local folder."""
    from transformers import AutoModelForImageClassification

    model_id = ident.strip()
    local = Path(model_id).expanduser()
    if local.is_dir():
        model_id = str(local)
    elif local.is_absolute() or model_id.startswith("."):
        from singaudit.errors import WeightsNotFound

        raise WeightsNotFound(f"hf:{ident}: no such model folder {local}")
    else:
        if hf_cached(model_id, ("config.json",)) is None:
            require_download(f"hf:{model_id}", _how(model_id))
    with hub_errors_as_missing(f"hf:{model_id}", _how(model_id)):
        model = AutoModelForImageClassification.from_pretrained(
            model_id, revision=revision, dtype=torch.float32
        )
    model.eval()
    head_paths = _head_paths(model)
    weights = [linear_weights(final_linear(model.get_submodule(p), p), p)[0] for p in head_paths]
    num_classes = weights[0].shape[0]
    labels = getattr(model.config, "id2label", None) or {}
    class_names = [str(labels.get(i, labels.get(str(i), f"class_{i}"))) for i in range(num_classes)]
    info = ClassifierInfo(
        id=f"hf:{ident.strip()}",
        feature_dim=sum(w.shape[1] for w in weights),
        num_classes=num_classes,
        class_names=class_names,
        weights_hash=state_dict_hash(model),
        extra={"source": "hf", "architecture": type(model).__name__, "head_paths": head_paths},
    )
    classifier = HookedClassifier(
        model,
        head_paths,
        info=info,
        preprocessing=_preprocessing(model_id, revision, model.config),
        call=lambda module, images: module(pixel_values=images),
    )
    if verify:  # one random image: the logits must be features @ W.T + b
        verify_linear_head(classifier, input_size(classifier.preprocessing))
    return classifier


def _head_paths(model: torch.nn.Module) -> list[str]:
    for names in HEAD_CANDIDATES:
        if all(isinstance(getattr(model, n, None), torch.nn.Module) for n in names):
            return list(names)
    raise UnsupportedModel(
        f"cannot find the classifier head of {type(model).__name__} "
        f"(looked for {', '.join('/'.join(n) for n in HEAD_CANDIDATES)}); "
        "wrap it with the hook: source and a head path"
    )


def _preprocessing(model_id: str, revision: str | None, config: PretrainedConfig
                   ) -> Preprocessing:
    """The folder's own image processor; without one, ImageNet's at the model's image size."""
    from transformers import AutoImageProcessor

    try:
        processor = AutoImageProcessor.from_pretrained(model_id, revision=revision)
    except (OSError, ValueError):
        size = getattr(config, "image_size", None)
        size = size if isinstance(size, int) else 224
        return standard_preprocessing(resize=round(size / 0.875), crop=size)
    settings = json.dumps(processor.to_dict(), sort_keys=True, separators=(",", ":"), default=str)
    return described(ImageProcessorTransform(processor), "hf:" + settings)


def _how(model_id: str) -> str:
    return (
        f"download it where the hub is reachable (huggingface-cli download {model_id}) "
        "or give a local folder saved with save_pretrained (hf:/path/to/folder)"
    )
