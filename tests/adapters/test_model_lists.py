"""timm's, open_clip's and torchvision's model lists, cached per installed library version."""

from __future__ import annotations

import json
from importlib import metadata

import timm

from singaudit.adapters import model_lists


def _fresh_timm_listing() -> dict:
    model_lists.timm_models.cache_clear()
    try:
        return model_lists.timm_models()
    finally:
        model_lists.timm_models.cache_clear()


def test_the_timm_listing_is_timms_own_and_cached_under_its_version(monkeypatch, tmp_path):
    monkeypatch.setenv("SINGAUDIT_CACHE", str(tmp_path))
    listing = _fresh_timm_listing()
    assert listing["pretrained"] == timm.list_models(pretrained=True)
    assert listing["architectures"] == timm.list_models()
    assert listing["hub_ids"]["resnet50.a1_in1k"] == "timm/resnet50.a1_in1k"
    default = timm.models.get_pretrained_cfg("resnet50").hf_hub_id  # a bare name: its default tag
    assert listing["hub_ids"]["resnet50"] == default
    path = tmp_path / "model_lists" / f"timm-{metadata.version('timm')}.json"
    assert json.loads(path.read_text())["pretrained"] == listing["pretrained"]


def test_a_listing_of_an_older_format_is_rebuilt(monkeypatch, tmp_path):
    monkeypatch.setenv("SINGAUDIT_CACHE", str(tmp_path))
    path = model_lists.listing_path("timm", metadata.version("timm"))
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"format": 0, "pretrained": ["stale"], "architectures": []}))
    assert "stale" not in _fresh_timm_listing()["pretrained"]
    assert json.loads(path.read_text())["format"] == model_lists.FORMAT


def test_an_unwritable_cache_still_gives_the_listing(monkeypatch, tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("SINGAUDIT_CACHE", str(blocker))
    assert "resnet50.a1_in1k" in _fresh_timm_listing()["pretrained"]


def test_a_cache_holding_only_model_lists_is_marked_and_clear_keeps_them(monkeypatch, tmp_path):
    from singaudit.cache import clear_cache, is_singaudit_cache

    monkeypatch.setenv("SINGAUDIT_CACHE", str(tmp_path))
    _fresh_timm_listing()
    assert is_singaudit_cache(tmp_path)  # so `cache clear` does not refuse the folder
    clear_cache(tmp_path)
    assert model_lists.listing_path("timm", metadata.version("timm")).is_file()
