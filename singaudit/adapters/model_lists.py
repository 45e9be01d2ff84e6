"""The model names of timm, open_clip and torchvision, cached per installed library version.

Importing any of these libraries imports torch (seconds); ``singaudit validate`` needs only their
names, so the first call writes them to ``<cache>/model_lists/<distribution>-<version>.json`` and
later calls read that file. Another installed version gets its own file; a cache folder that
cannot be written only costs the import on every call.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

FORMAT = 1  # bump when a listing's fields change: older files are then rebuilt
FOLDER = "model_lists"


def listing_path(distribution: str, version: str) -> Path:
    """The cache file of one library version's listing."""
    from singaudit.cache.folder import default_cache_dir

    return default_cache_dir() / FOLDER / f"{distribution}-{version}.json"


def _installed_version(distribution: str, module: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        raise ModuleNotFoundError(f"No module named {module!r}", name=module) from None


def _cached(distribution: str, module: str, build: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    version = _installed_version(distribution, module)
    path = listing_path(distribution, version)
    try:
        listing = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(listing, dict) and listing.get("format") == FORMAT:
            return listing
    except (OSError, ValueError):
        pass  # absent or unreadable: rebuilt below
    listing = {"format": FORMAT, "distribution": distribution, "version": version, **build()}
    try:
        from singaudit.cache.folder import mark_cache
        from singaudit.io.atomic import atomic_write_text

        mark_cache(path.parent.parent)  # a singaudit cache, even before any run writes to it
        atomic_write_text(path, json.dumps(listing, sort_keys=True) + "\n")
    except OSError:
        pass  # a read-only cache: the next call imports the library again
    return listing


def _build_timm() -> dict[str, Any]:
    import timm
    from timm.models import get_pretrained_cfg

    tagged = timm.list_models(pretrained=True)
    # hf_hub_id of every tagged name and of every bare architecture (its default tag)
    names = [*tagged, *sorted({name.split(".", 1)[0] for name in tagged})]
    hub_ids = {name: getattr(get_pretrained_cfg(name), "hf_hub_id", None) for name in names}
    return {"pretrained": tagged, "architectures": timm.list_models(),
            "hub_ids": {name: repo for name, repo in hub_ids.items() if repo}}


def _build_open_clip() -> dict[str, Any]:
    import open_clip

    return {"architectures": open_clip.list_models(),
            "pretrained": [[arch, tag] for arch, tag in open_clip.list_pretrained()]}


def _build_torchvision() -> dict[str, Any]:
    import torchvision

    names = torchvision.models.list_models()
    return {"models": names, "weights": {
        name: [w.name for w in torchvision.models.get_model_weights(name)] for name in names}}


@cache
def timm_models() -> dict[str, Any]:
    """``pretrained`` (tagged names), ``architectures`` and ``hub_ids`` (name -> Hugging Face
    repo of its weights, tagged and bare names)."""
    return _cached("timm", "timm", _build_timm)


@cache
def open_clip_models() -> dict[str, Any]:
    """``architectures`` and ``pretrained`` ([architecture, tag] pairs)."""
    return _cached("open_clip_torch", "open_clip", _build_open_clip)


@cache
def torchvision_models() -> dict[str, Any]:
    """``models`` and ``weights`` (model -> its weights enum's member names)."""
    return _cached("torchvision", "torchvision", _build_torchvision)
