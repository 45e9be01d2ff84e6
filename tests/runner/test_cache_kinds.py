"""One registry of cache kinds: each registers its layout, listing, clearing and integrity rule
once, and listing, selecting and clearing loop over it without naming a kind."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from singaudit.cache import (
    KINDS,
    MARKER,
    cache_contents,
    cache_items,
    clear_cache,
    is_singaudit_cache,
    remove_items,
)
from singaudit.cache.checks import read_check_entry, save_check_result
from singaudit.cache.figures import figure_cache, figure_folder, read_figure, write_figure
from singaudit.cache.runs import load_record, save_record
from singaudit.cache.tensors import FeatureCache, make_key
from singaudit.cache.translators import entry_folder
from singaudit.results import CheckResult

EIGHT = ["features", "embeddings", "text", "geometry", "translators", "checks", "figures", "runs"]


def one_of_each(root: Path) -> None:
    """An entry of every kind, written the way its owner writes it."""
    tensors = FeatureCache(root)
    for kind in ("features", "embeddings", "text", "geometry"):
        tensors.save(kind, make_key(kind=kind), {"values": torch.ones(3, 2)},
                     {"model": "calibration:clean", "size": "3"})
    translator = entry_folder(root, "f" * 32)
    translator.mkdir(parents=True)
    (translator / "translator.json").write_text(json.dumps({"classifier": "calibration:clean",
                                                            "n_train": 7}))
    (translator / "translator.safetensors").write_bytes(b"weights")
    artefacts = root.parent / "artefacts"
    artefacts.mkdir(exist_ok=True)
    (artefacts / "note.txt").write_text("note")
    save_check_result(root, "c" * 32, CheckResult(name="x", status="pass"), {"check": "x"},
                      artefacts, [artefacts / "note.txt"])
    with figure_cache(root):
        write_figure("a" * 64, b"png")
    save_record(root, "d" * 32, {"models": []})


def test_the_eight_kinds_register_once_with_their_rules():
    assert list(KINDS) == EIGHT
    for kind in KINDS.values():
        assert kind.layout.startswith(f"{kind.name}/") and kind.integrity


def test_listing_selecting_and_clearing_loop_over_every_kind(tmp_path):
    root = tmp_path / "cache"
    one_of_each(root)
    (root / "notes.txt").write_text("mine")  # not singaudit's: it stays
    assert [(kind, count) for kind, count, _ in cache_contents(root)] == [(k, 1) for k in EIGHT]
    items = {item.kind: item for item in cache_items(root)}
    assert (items["features"].model, items["features"].images) == ("calibration:clean", 3)
    assert (items["text"].images, items["translators"].images) == (0, 7)
    assert is_singaudit_cache(root)
    assert remove_items(root, [items["runs"], items["figures"]])[0] == 2
    assert not (root / "runs").exists() and not (root / "figures").exists()
    count, freed = clear_cache(root)
    assert count == 6 and freed > 0
    left = sorted(p.relative_to(root).as_posix() for p in root.rglob("*"))
    assert left == [MARKER, "notes.txt"]


def test_clearing_one_kind_leaves_the_others(tmp_path):
    root = tmp_path / "cache"
    one_of_each(root)
    assert clear_cache(root, ["checks"])[0] == 1
    assert [kind for kind, count, _ in cache_contents(root) if count] == [
        k for k in EIGHT if k != "checks"]


def test_figures_are_kept_in_the_runs_cache_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("SINGAUDIT_CACHE", str(tmp_path / "default"))
    with figure_cache(tmp_path / "chosen"):
        write_figure("b" * 64, b"png")
        assert figure_folder() == tmp_path / "chosen" / "figures"
        assert read_figure("b" * 64) == b"png"
    assert read_figure("b" * 64) is None  # the default cache has none
    assert (tmp_path / "chosen" / "figures" / f"{'b' * 64}.png").is_file()


def test_a_check_entry_is_read_only_when_every_byte_matches(tmp_path):
    root = tmp_path / "cache"
    one_of_each(root)
    entry = read_check_entry(root, "c" * 32)
    assert entry is not None and entry.measurements == {"check": "x"}
    (root / "checks" / ("c" * 32) / "measurements.json").write_text('{"check": "y"}')
    assert read_check_entry(root, "c" * 32) is None
    assert not (root / "checks" / ("c" * 32)).exists()  # the damaged entry is gone


def test_a_run_record_of_another_layout_is_ignored(tmp_path):
    root = tmp_path / "cache"
    save_record(root, "e" * 32, {"models": []})
    assert load_record(root, "e" * 32) is not None
    path = root / "runs" / f"{'e' * 32}.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "version": 1}))
    assert load_record(root, "e" * 32) is None
