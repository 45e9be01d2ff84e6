"""Hugging Face CLIP joint spaces: ``hf_clip:openai/clip-vit-large-patch14`` or a local folder.

A folder or hub id holding a ``CLIPModel`` is used whole. One holding a
``CLIPVisionModelWithProjection`` needs ``text_model=ID_OR_FOLDER`` (a
``CLIPTextModelWithProjection`` with its tokenizer). Embeddings are the projected, unnormalised
``image_embeds`` / ``text_embeds``; preprocessing is the folder's own image processor.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from singaudit.adapters.classifiers._preprocess import described
from singaudit.adapters.classifiers.hf_source import ImageProcessorTransform
from singaudit.adapters.joint_spaces.base import JointSpace, JointSpaceInfo
from singaudit.adapters.weights import hf_cached, hub_errors_as_missing, require_download
from singaudit.errors import UnsupportedModel, WeightsNotFound
from singaudit.io.state_dicts import state_dict_hash

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

    from singaudit.adapters.classifiers.base import Preprocessing

KARLO_SPACE = "openai/clip-vit-large-patch14"


def load(ident: str, *, text_model: str | None = None, revision: str | None = None) -> HFClipSpace:
    """A transformers CLIP as a JointSpace (see the module docstring)."""
    import transformers

    model_id = _resolve(ident.strip())
    revision = revision or "main"  # transformers' default
    # The whole model (its hash names the space), and the towers that embed images and text.
    model: torch.nn.Module
    vision: torch.nn.Module
    text: torch.nn.Module
    with hub_errors_as_missing(f"hf_clip:{ident}", _how(ident)):
        config = transformers.AutoConfig.from_pretrained(model_id, revision=revision)
        kind = config.model_type
        if kind == "clip":
            model = transformers.CLIPModel.from_pretrained(
                model_id, revision=revision, dtype=torch.float32
            )
            vision, text, tokenizer_id = model, model, model_id
        elif kind == "clip_vision_model":
            if text_model is None:
                raise UnsupportedModel(
                    f"hf_clip:{ident} is a vision-only CLIP; give text_model=ID_OR_FOLDER (a "
                    "CLIPTextModelWithProjection of the same CLIP)"
                )
            tokenizer_id = _resolve(text_model)
            vision = transformers.CLIPVisionModelWithProjection.from_pretrained(
                model_id, revision=revision, dtype=torch.float32
            )
            text = transformers.CLIPTextModelWithProjection.from_pretrained(
                tokenizer_id, dtype=torch.float32
            )
            model = torch.nn.ModuleDict({"vision": vision, "text": text})
        else:
            raise UnsupportedModel(
                f"hf_clip:{ident} is a {kind!r} model; expected a CLIP (CLIPModel or "
                "CLIPVisionModelWithProjection)"
            )
        tokenizer = transformers.AutoTokenizer.from_pretrained(tokenizer_id)
        processor = transformers.AutoImageProcessor.from_pretrained(model_id, revision=revision)
    settings = json.dumps(processor.to_dict(), sort_keys=True, separators=(",", ":"), default=str)
    return HFClipSpace(
        model,
        vision,
        text,
        tokenizer,
        described(ImageProcessorTransform(processor), "hf_clip:" + settings),
        f"hf_clip:{ident.strip()}",
    )


class HFClipSpace(JointSpace):
    # ``vision`` and ``text``: CLIP towers, duck-typed (their methods differ across transformers).
    def __init__(self, module: torch.nn.Module, vision: Any, text: Any,
                 tokenizer: PreTrainedTokenizerBase, preprocessing: Preprocessing, full_id: str
                 ) -> None:
        self.module = module.eval()
        self.vision, self.text, self.tokenizer = vision, text, tokenizer
        self.preprocessing = preprocessing
        self.max_length = int(getattr(tokenizer, "model_max_length", 77) or 77)
        self.max_length = min(self.max_length, 77)
        with torch.inference_mode():
            embed_dim = int(self.encode_text(["a photo"]).shape[-1])
        self.info = JointSpaceInfo(
            id=full_id,
            embed_dim=embed_dim,
            weights_hash=state_dict_hash(module),
            default_generator="unclip:karlo" if full_id.endswith(KARLO_SPACE) else None,
            extra={"source": "hf_clip", "architecture": type(vision).__name__},
        )

    def encode_images(self, images: torch.Tensor) -> torch.Tensor:
        if hasattr(self.vision, "get_image_features"):
            return _embedding(self.vision.get_image_features(pixel_values=images), "image_embeds")
        return _embedding(self.vision(pixel_values=images), "image_embeds")

    def encode_text(self, prompts: Sequence[str]) -> torch.Tensor:
        device = next(self.module.parameters()).device
        tokens = self.tokenizer(
            list(prompts),
            padding=True,
            truncation=True,
            max_length=self.max_length,
            return_tensors="pt",
        ).to(device)
        inputs = {"input_ids": tokens["input_ids"], "attention_mask": tokens["attention_mask"]}
        if hasattr(self.text, "get_text_features"):
            return _embedding(self.text.get_text_features(**inputs), "text_embeds")
        return _embedding(self.text(**inputs), "text_embeds")


def _embedding(output: object, name: str) -> torch.Tensor:
    """transformers 4.x returns tensors, 5.x output objects (projection in pooler_output)."""
    if isinstance(output, torch.Tensor):
        return output
    for attribute in (name, "pooler_output"):
        value = getattr(output, attribute, None)
        if isinstance(value, torch.Tensor):
            return value
    raise UnsupportedModel(f"cannot find {name} in {type(output).__name__}")


def _resolve(model_id: str) -> str:
    local = Path(model_id).expanduser()
    if local.is_dir():
        return str(local)
    if local.is_absolute() or model_id.startswith("."):
        raise WeightsNotFound(f"hf_clip: no such model folder {local}")
    if hf_cached(model_id, ("config.json",)) is None:
        require_download(f"hf_clip:{model_id}", _how(model_id))
    return model_id


def _how(model_id: str) -> str:
    return (
        f"download it where the hub is reachable (huggingface-cli download {model_id}) or give "
        "a local folder saved with save_pretrained (model, tokenizer and image processor)"
    )
