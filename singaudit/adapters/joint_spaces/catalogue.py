"""The built-in joint-space sources (``open_clip:``, ``hf_clip:``): for each, its loader, its
offline check of an id and the ids it lists. Importing this module imports no model library."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from singaudit.adapters.model_lists import open_clip_models
from singaudit.adapters.resolution import hub_repo_problem, nearest
from singaudit.adapters.sources import Source


class OpenClipSource(Source):
    """``open_clip:<architecture>[@<pretrained tag or file>]``."""

    name = "open_clip"
    loader = "singaudit.adapters.joint_spaces.open_clip_source:load"

    def problem(self, ident: str, options: dict[str, Any]) -> str | None:
        listing = open_clip_models()  # cached per open_clip version (no torch import)
        architecture, _, tag = ident.partition("@")
        names = listing["architectures"]
        if architecture not in names:
            return f"open_clip has no model {architecture!r}{nearest(architecture, names)}"
        if tag and not Path(tag).expanduser().is_file():
            tags = [t for arch, t in listing["pretrained"] if arch == architecture]
            if tag not in tags:
                return (f"open_clip:{architecture} has no pretrained tag {tag!r}"
                        f"{nearest(tag, tags)}; available: {', '.join(tags) or 'none'}")
        return None

    def ids(self) -> list[str]:
        return [f"{arch}@{tag}" for arch, tag in open_clip_models()["pretrained"]]


class HfClipSource(Source):
    """``hf_clip:<repo or folder>``: a Hugging Face CLIP model."""

    name = "hf_clip"
    loader = "singaudit.adapters.joint_spaces.hf_clip_source:load"

    def problem(self, ident: str, options: dict[str, Any]) -> str | None:
        return hub_repo_problem(ident, "Hugging Face CLIP model")


OPEN_CLIP = OpenClipSource()
HF_CLIP = HfClipSource()
