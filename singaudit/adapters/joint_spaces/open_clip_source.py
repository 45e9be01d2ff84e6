"""open_clip joint spaces: ``open_clip:ViT-L-14@openai``, ``open_clip:EVA02-L-14@merged2b_s4b_b131k``,
``open_clip:hf-hub:org/repo``, or ``open_clip:ViT-B-32`` with ``pretrained=PATH`` (a local
checkpoint, loaded by open_clip itself).

Image and text embeddings are returned unnormalised. ``ViT-L-14@openai`` is the space Karlo's
UnCLIP image-variation decoder consumes.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import torch

from singaudit.adapters.classifiers._preprocess import described
from singaudit.adapters.joint_spaces.base import JointSpace, JointSpaceInfo
from singaudit.adapters.weights import HF_HOST, hf_cached, hub_errors_as_missing, require_download
from singaudit.errors import UnsupportedModel, WeightsNotFound
from singaudit.io.state_dicts import require_file, state_dict_hash

if TYPE_CHECKING:
    from open_clip import CLIP, CustomTextCLIP
    from PIL import Image

KARLO_SPACE = "ViT-L-14@openai"
_HUB_FILES = ("open_clip_model.safetensors", "open_clip_pytorch_model.bin")


def load(ident: str, *, pretrained: str | Path | None = None, **model_kwargs: Any
         ) -> OpenClipSpace:
    """An open_clip model; ``pretrained`` is a tag or a local checkpoint path."""
    import open_clip

    name, _, tag = ident.strip().partition("@")
    if not name:
        raise UnsupportedModel("empty open_clip model name; e.g. 'open_clip:ViT-L-14@openai'")
    if not name.startswith("hf-hub:") and name not in open_clip.list_models():
        raise UnsupportedModel(
            f"open_clip has no model {name!r}; open_clip.list_models() lists them"
        )
    if pretrained is not None and _is_path(pretrained):
        source = str(require_file(pretrained, f"open_clip:{name}"))
        weights: str | None = source
    else:
        weights = str(pretrained) if pretrained is not None else (tag or None)
        if weights is None and not name.startswith("hf-hub:"):
            raise WeightsNotFound(
                f"open_clip:{name} needs weights: a tag (open_clip:{name}@TAG; tags: "
                f"{', '.join(open_clip.list_pretrained_tags_by_model(name)) or 'none'}) or "
                "pretrained=PATH"
            )
        _require_hub_weights(open_clip, name, weights)
        source = f"hub:{weights or name}"
    with hub_errors_as_missing(f"open_clip:{ident}", _how(ident)):
        try:
            model, _, preprocess = open_clip.create_model_and_transforms(
                name, pretrained=weights, **model_kwargs
            )
        except RuntimeError as error:
            if "not found" in str(error).lower():
                raise WeightsNotFound(f"open_clip:{ident}: {error}") from None
            raise
    tokenizer = open_clip.get_tokenizer(name)
    return OpenClipSpace(model, tokenizer, preprocess, f"open_clip:{ident.strip()}", source)


class OpenClipSpace(JointSpace):
    def __init__(self, model: CLIP | CustomTextCLIP, tokenizer: Callable[[list[str]], torch.Tensor],
                 preprocess: Callable[[Image.Image], torch.Tensor], full_id: str, source: str
                 ) -> None:
        self.module = model.eval()
        self.tokenizer = tokenizer
        describe = "open_clip:" + " ".join(repr(preprocess).split())
        self.preprocessing = described(preprocess, describe)
        with torch.inference_mode():
            embed_dim = int(self.encode_text(["a photo"]).shape[-1])
        self.info = JointSpaceInfo(
            id=full_id,
            embed_dim=embed_dim,
            weights_hash=state_dict_hash(model),
            default_generator="unclip:karlo" if full_id.endswith(KARLO_SPACE) else None,
            extra={"source": "open_clip", "weights": source},
        )

    def _device(self) -> torch.device:
        return next(self.module.parameters()).device

    def encode_images(self, images: torch.Tensor) -> torch.Tensor:
        return self.module.encode_image(images, normalize=False)

    def encode_text(self, prompts: Sequence[str]) -> torch.Tensor:
        tokens = self.tokenizer(list(prompts)).to(self._device())
        return self.module.encode_text(tokens, normalize=False)


def _is_path(value: str | Path) -> bool:
    """A local checkpoint (rather than a pretrained tag such as "openai")."""
    text = str(value)
    return isinstance(value, Path) or "/" in text or os.sep in text or bool(Path(text).suffix)


def _require_hub_weights(open_clip: ModuleType, name: str, tag: str | None) -> None:
    if name.startswith("hf-hub:"):
        repo = name.removeprefix("hf-hub:")
        if hf_cached(repo, ("open_clip_config.json",)) is None:
            require_download(f"open_clip:{name}", _how(name), HF_HOST)
        return
    config = open_clip.get_pretrained_cfg(name, tag or "")
    if not config:
        tags = ", ".join(open_clip.list_pretrained_tags_by_model(name)) or "none"
        raise WeightsNotFound(
            f"open_clip:{name} has no pretrained weights {tag!r} (tags: {tags}); "
            "or give a local checkpoint with pretrained=PATH"
        )
    hub = (config.get("hf_hub") or "").strip("/")
    if hub:
        if hf_cached(hub, _HUB_FILES) is None:
            require_download(f"open_clip:{name}@{tag}", _how(f"{name}@{tag}"), HF_HOST)
    elif config.get("url"):
        cached = Path(os.path.expanduser("~/.cache/clip")) / os.path.basename(config["url"])
        if not cached.is_file():
            host = urlparse(config["url"]).hostname or ""
            require_download(f"open_clip:{name}@{tag}", _how(f"{name}@{tag}"), host)


def _how(ident: str) -> str:
    return (
        f"download them where the hub is reachable (open_clip.create_model_and_transforms fills "
        f"the Hugging Face cache) or pass a local checkpoint: open_clip:{ident.split('@')[0]} "
        "with pretrained=PATH"
    )
