import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import torch
from pipeline_world import PREPROCESSING, TinySpace, tiny_classifier, write_images

from singaudit.adapters.classifiers.base import Preprocessing
from singaudit.adapters.sources import load_data
from singaudit.cache.tensors import FeatureCache
from singaudit.errors import SpecError
from singaudit.pipeline.device import choose_device, choose_dtype
from singaudit.pipeline.features import encode_text, extract


def direct_features(classifier, source):
    batch = torch.stack([PREPROCESSING.transform(source.load(r)) for r in source.records()])
    with torch.inference_mode():
        return classifier.features(batch)


def test_extraction_matches_direct_features_and_hits_the_cache(image_folder, tmp_path):
    classifier, source = tiny_classifier(), load_data(f"folder:{image_folder}")
    cache = FeatureCache(tmp_path / "cache")
    first = extract(classifier, source, cache=cache, batch_size=3, chunk_size=4)
    assert first.values.shape == (10, 12) and first.values.dtype == torch.float32
    assert first.keys == [r.key for r in source.records()]
    assert first.labels == [0] * 5 + [1] * 5
    assert torch.allclose(first.values, direct_features(classifier, source), atol=1e-6)
    assert (first.chunks_cached, first.chunks_computed) == (0, 3)
    again = extract(classifier, source, cache=cache, batch_size=3, chunk_size=4)
    assert (again.chunks_cached, again.chunks_computed) == (3, 0)
    assert torch.equal(again.values, first.values)


def test_changed_weights_or_preprocessing_invalidate(image_folder, tmp_path):
    source = load_data(f"folder:{image_folder}")
    cache = FeatureCache(tmp_path / "cache")
    extract(tiny_classifier(0), source, cache=cache, chunk_size=5)
    other_weights = extract(tiny_classifier(1), source, cache=cache, chunk_size=5)
    assert other_weights.chunks_computed == 2
    classifier = tiny_classifier(0)
    classifier.preprocessing = Preprocessing(PREPROCESSING.transform, "another description")
    assert extract(classifier, source, cache=cache, chunk_size=5).chunks_computed == 2
    assert extract(tiny_classifier(0), source, cache=cache, chunk_size=5).chunks_computed == 0
    (image_folder / "a" / "0.png").write_bytes((image_folder / "b" / "0.png").read_bytes())
    changed = extract(
        tiny_classifier(0), load_data(f"folder:{image_folder}"), cache=cache, chunk_size=5
    )
    assert (changed.chunks_cached, changed.chunks_computed) == (1, 1)


def test_corrupt_images_are_skipped_listed_and_remembered(image_folder, tmp_path):
    (image_folder / "b" / "3.png").write_bytes(b"\x89PNG broken")
    source = load_data(f"folder:{image_folder}")
    cache = FeatureCache(tmp_path / "cache")
    result = extract(tiny_classifier(), source, cache=cache, chunk_size=4)
    assert result.values.shape == (9, 12)
    assert [key for key, _ in result.failed] == [str(image_folder / "b" / "3.png")]
    assert "cannot read image" in result.failed[0][1]
    assert str(image_folder / "b" / "3.png") not in result.keys
    cached = extract(tiny_classifier(), source, cache=cache, chunk_size=4)
    assert cached.chunks_computed == 0 and cached.failed == result.failed
    assert torch.equal(cached.values, result.values)


class InterruptingSource:
    """Delegates to a real source but is interrupted (Ctrl-C) at the n-th image load."""

    def __init__(self, source, stop_at):
        self.source, self.stop_at, self.loads = source, stop_at, 0

    def __getattr__(self, name):
        return getattr(self.source, name)

    def load(self, record):
        self.loads += 1
        if self.loads == self.stop_at:
            raise KeyboardInterrupt
        return self.source.load(record)


def test_interrupted_extraction_resumes_at_chunk_granularity(image_folder, tmp_path):
    source = load_data(f"folder:{image_folder}")
    cache = FeatureCache(tmp_path / "cache")
    with pytest.raises(KeyboardInterrupt):
        extract(
            tiny_classifier(),
            InterruptingSource(source, 6),
            cache=cache,
            batch_size=2,
            chunk_size=2,
        )
    assert len(cache.entries("features")) == 2  # chunks finished before the interruption
    resumed = extract(tiny_classifier(), source, cache=cache, batch_size=2, chunk_size=2)
    assert (resumed.chunks_cached, resumed.chunks_computed) == (2, 3)
    fresh = extract(tiny_classifier(), source, batch_size=2, chunk_size=2)
    assert torch.allclose(resumed.values, fresh.values, atol=1e-6)


def test_corrupt_cache_entry_is_recomputed(image_folder, tmp_path):
    source = load_data(f"folder:{image_folder}")
    cache = FeatureCache(tmp_path / "cache")
    first = extract(tiny_classifier(), source, cache=cache, chunk_size=5)
    victim = cache.entries("features")[0].path
    victim.write_bytes(victim.read_bytes()[:-8])
    again = extract(tiny_classifier(), source, cache=cache, chunk_size=5)
    assert (again.chunks_cached, again.chunks_computed) == (1, 1)
    assert cache.corrupt_removed == 1
    assert torch.allclose(again.values, first.values, atol=1e-6)


def test_two_processes_share_one_cache(tmp_path):
    folder = write_images(tmp_path / "images", per_class=6)
    cache_dir = tmp_path / "cache"
    world = Path(__file__).with_name("pipeline_world.py")
    runs = [
        subprocess.Popen(
            [sys.executable, str(world), str(folder), str(cache_dir), str(tmp_path / f"out{i}.pt")],
            stderr=subprocess.PIPE,
            env={**os.environ, "OMP_NUM_THREADS": "1"},
        )
        for i in range(2)
    ]
    for run in runs:
        assert run.wait(timeout=120) == 0, run.stderr.read().decode()[-2000:]
    outputs = [torch.load(tmp_path / f"out{i}.pt", weights_only=True) for i in range(2)]
    assert torch.equal(outputs[0], outputs[1])
    cache = FeatureCache(cache_dir)
    assert len(cache.entries("features")) == 6
    assert not list(cache_dir.rglob("*.tmp"))
    reread = extract(
        tiny_classifier(), load_data(f"folder:{folder}"), cache=cache, batch_size=2, chunk_size=2
    )
    assert (reread.chunks_cached, reread.chunks_computed, cache.corrupt_removed) == (6, 0, 0)
    assert torch.allclose(reread.values, outputs[0], atol=1e-6)


def test_concurrent_writers_of_one_entry_leave_it_valid(tmp_path):
    cache = FeatureCache(tmp_path / "cache")
    values = torch.randn(64, 32)
    errors = []

    def write():
        try:
            for _ in range(20):
                cache.save("features", "k" * 40, {"values": values})
                entry = cache.load("features", "k" * 40, rows=64)
                assert entry is not None and torch.equal(entry[0]["values"], values)
        except Exception as error:  # noqa: BLE001 -- reported below, from the thread
            errors.append(error)

    threads = [threading.Thread(target=write) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and cache.corrupt_removed == 0
    assert [e.key for e in cache.entries()] == ["k" * 40]


def test_joint_space_embeddings_are_cached_apart(image_folder, tmp_path):
    source = load_data(f"folder:{image_folder}")
    cache = FeatureCache(tmp_path / "cache")
    space = TinySpace()
    embeddings = extract(space, source, cache=cache, chunk_size=10)
    assert embeddings.values.shape == (10, 5)
    extract(tiny_classifier(), source, cache=cache, chunk_size=10)
    assert len(cache.entries("embeddings")) == len(cache.entries("features")) == 1
    assert extract(space, source, cache=cache, chunk_size=10).chunks_cached == 1


def test_text_embeddings_are_cached(tmp_path):
    cache = FeatureCache(tmp_path / "cache")
    space = TinySpace()
    prompts = ["an image of a goldfish", "an image of a jeep"]
    first = encode_text(space, prompts, cache=cache)
    assert first.shape == (2, 5) and space.text_calls == 1
    assert torch.equal(encode_text(space, prompts, cache=cache), first)
    assert space.text_calls == 1
    encode_text(space, prompts[:1], cache=cache)
    assert space.text_calls == 2 and len(cache.entries("text")) == 2


def test_workers_and_reduced_precision(image_folder):
    source = load_data(f"folder:{image_folder}")
    exact = extract(tiny_classifier(), source, chunk_size=4)
    workers = extract(tiny_classifier(), source, chunk_size=4, num_workers=2)
    assert torch.equal(workers.values, exact.values)
    classifier = tiny_classifier()
    reduced = extract(classifier, source, dtype="bfloat16", chunk_size=4)
    assert reduced.values.dtype == torch.float32
    assert torch.allclose(reduced.values, exact.values, atol=0.1, rtol=0.05)
    assert next(classifier.module.parameters()).dtype == torch.float32  # weights untouched


def test_device_and_dtype_choice():
    expected = "cuda" if torch.cuda.is_available() else None
    if expected is None and not torch.backends.mps.is_available():
        assert choose_device().type == "cpu"
        assert choose_dtype(torch.device("cpu")) == torch.float32
        with pytest.raises(SpecError, match="CUDA is not available"):
            choose_device("cuda")
    assert choose_device("cpu").type == "cpu"
    assert choose_dtype(torch.device("cpu"), "bf16") == torch.bfloat16
    assert choose_dtype(torch.device("cpu"), "float16") == torch.float16
    with pytest.raises(SpecError, match="unknown dtype"):
        choose_dtype(torch.device("cpu"), "float8")
    with pytest.raises(SpecError, match="unknown device"):
        choose_device("toaster")


def test_progress_bar_on_request_and_quiet_otherwise(image_folder, capsys):
    source = load_data(f"folder:{image_folder}")
    shown = extract(tiny_classifier(), source, progress=True, chunk_size=3)
    assert shown.values.shape == (10, 12)
    capsys.readouterr()
    extract(tiny_classifier(), source, progress=None, chunk_size=3)  # not a terminal: quiet
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out == ""
