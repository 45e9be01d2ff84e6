"""Manifest data that could poison a shared cache or count an image twice: a declared sha256 is
compared with the bytes read (a mismatch stops the run and caches nothing), and rows that name
one file under different spellings are refused."""

from __future__ import annotations

import csv
import hashlib

import pytest
import torch
from pipeline_world import tiny_classifier

from singaudit.adapters.data.manifest_source import ContentMismatch
from singaudit.adapters.sources import load_data
from singaudit.cache.tensors import FeatureCache
from singaudit.errors import DataError
from singaudit.pipeline.features import extract


def _sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _manifest(path, rows) -> str:
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["path", "label", "sha256"])
        writer.writeheader()
        writer.writerows(rows)
    return f"manifest:{path}"


def _cached_chunks(cache_dir) -> list:
    return sorted(cache_dir.rglob("*.safetensors"))


def test_a_wrong_sha256_stops_the_run_and_caches_nothing(image_folder, tmp_path):
    a0, a1, b0 = (image_folder / "a" / "0.png", image_folder / "a" / "1.png",
                  image_folder / "b" / "0.png")
    # a/1.png declared with b/0.png's hash: its features would be cached as b/0.png's.
    wrong = _manifest(tmp_path / "wrong.csv", [
        {"path": str(a0), "label": "a", "sha256": _sha256(a0)},
        {"path": str(a1), "label": "a", "sha256": _sha256(b0)},
    ])
    cache_dir = tmp_path / "cache"
    with pytest.raises(ContentMismatch, match=r"row 2: .*1\.png has sha256 .* not the declared"):
        extract(tiny_classifier(), load_data(wrong), cache=FeatureCache(cache_dir),
                batch_size=2, chunk_size=2, progress=False)
    assert _cached_chunks(cache_dir) == []

    # A later, correct audit of b/0.png on the same cache computes its own features.
    right = load_data(_manifest(tmp_path / "right.csv", [
        {"path": str(a0), "label": "a", "sha256": _sha256(a0)},
        {"path": str(b0), "label": "a", "sha256": _sha256(b0)},
    ]))
    shared = extract(tiny_classifier(), right, cache=FeatureCache(cache_dir), batch_size=2,
                     chunk_size=2, progress=False)
    alone = extract(tiny_classifier(), right, cache=None, batch_size=2, chunk_size=2,
                    progress=False)
    assert shared.chunks_cached == 0
    assert torch.equal(shared.values, alone.values)


def test_a_wrong_sha256_is_a_data_error_when_the_image_is_read(image_folder, tmp_path):
    a0, b0 = image_folder / "a" / "0.png", image_folder / "b" / "0.png"
    source = load_data(_manifest(tmp_path / "m.csv", [
        {"path": str(a0), "label": "a", "sha256": _sha256(b0)},
        {"path": str(b0), "label": "b", "sha256": _sha256(b0)},
    ]))
    first, second = source.records()
    with pytest.raises(DataError, match="not the declared"):
        source.load(first)
    assert source.load(second).size == (40, 36)  # a right hash reads as before


def test_rows_that_name_one_file_are_refused_however_spelled(image_folder, tmp_path):
    target = image_folder / "a" / "0.png"
    relative = target.relative_to(tmp_path)
    spellings = [str(relative), f"./{relative}", str(target),
                 f"{relative.parent}/../a/{relative.name}", f"{relative.parent}//{relative.name}"]
    for other in spellings[1:]:
        ident = _manifest(tmp_path / "m.csv", [{"path": spellings[0], "label": "a"},
                                               {"path": other, "label": "a"}])
        with pytest.raises(DataError, match="rows 1 and 2 name the same file"):
            load_data(ident)
