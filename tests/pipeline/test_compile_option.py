"""``execution: {compile: true}``: torch.compile'd forward passes, cached apart from eager ones."""

import pytest
import torch
from pipeline_world import tiny_classifier

from singaudit.adapters.sources import load_data
from singaudit.cache.tensors import FeatureCache
from singaudit.pipeline.engines import misplaced_options
from singaudit.pipeline.executors import ExecutionConfig, LocalExecutor, make_executor
from singaudit.pipeline.features import extract


def test_compile_is_a_local_option():
    assert ExecutionConfig(compile=True).compile is True
    assert misplaced_options(ExecutionConfig(compile=True)) is None
    assert "only to engine: local" in misplaced_options(ExecutionConfig(engine="ray", compile=True))
    executor = make_executor(ExecutionConfig(compile=True))
    assert isinstance(executor, LocalExecutor) and executor.compile
    assert not make_executor(ExecutionConfig()).compile


@pytest.mark.slow
def test_compiled_features_match_eager_ones_and_are_cached_apart(image_folder, tmp_path):
    source = load_data(f"folder:{image_folder}")
    cache = FeatureCache(tmp_path / "cache")
    eager = extract(tiny_classifier(), source, cache=cache, chunk_size=10)
    compiled = extract(tiny_classifier(), source, cache=cache, chunk_size=10,
                       executor=LocalExecutor(compile=True))
    assert compiled.chunks_computed == 1  # not the eager chunk from the cache
    assert torch.allclose(compiled.values, eager.values, rtol=1e-5, atol=1e-6)
