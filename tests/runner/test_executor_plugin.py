"""A third-party execution engine: registered through the ``singaudit.executors`` entry-point
group like a plugin's, chosen by ``execution.engine``, and giving the local engine's results."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest
from test_runner import comparable, make_spec, run

import singaudit
from singaudit.errors import SpecError
from singaudit.pipeline.engines import ENTRY_POINT_GROUP, EXECUTORS
from singaudit.runner.plan import make_plan

sys.path.insert(0, str(Path(singaudit.__file__).parents[1] / "scripts"))
from compare_results import differences

# The plugin's module: every chunk computed on its own, last chunk first (an executor may yield
# chunks in any order), by the local executor; ``workers`` is an option of its own.
ENGINE_MODULE = '''
from dataclasses import replace

from singaudit.pipeline.engines import Engine
from singaudit.pipeline.executors import LocalExecutor

CHUNKS_RUN = []


class ChunkByChunk:
    name = "chunk_by_chunk"

    def __init__(self, config):
        self.workers = config.workers
        self.local = LocalExecutor()

    def start(self):
        pass

    def wait(self, futures):
        self.local.wait(futures)

    def ridge_statistics(self, x, y, chunk_size):
        return self.local.ridge_statistics(x, y, chunk_size)

    def encode_chunks(self, job):
        for chunk, number in reversed(list(zip(job.chunks, job.numbers))):
            CHUNKS_RUN.append(number)
            yield from self.local.encode_chunks(replace(job, chunks=[chunk], numbers=[number]))


ENGINE = Engine(ChunkByChunk, options=frozenset({"workers"}))
'''


@pytest.fixture
def chunk_by_chunk(tmp_path, monkeypatch):
    """The plugin installed the way pip would leave it (a module and its dist-info folder on
    sys.path), its entry points read into EXECUTORS; removed again afterwards."""
    site = tmp_path / "site"
    info = site / "chunk_engine-0.1.dist-info"
    info.mkdir(parents=True)
    (site / "chunk_engine.py").write_text(ENGINE_MODULE)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: chunk-engine\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        f"[{ENTRY_POINT_GROUP}]\nchunk_by_chunk = chunk_engine:ENGINE\n")
    monkeypatch.syspath_prepend(str(site))
    importlib.invalidate_caches()
    EXECUTORS.add_entry_points(ENTRY_POINT_GROUP)
    yield
    EXECUTORS.remove("chunk_by_chunk")
    sys.modules.pop("chunk_engine", None)


def test_a_third_party_engine_runs_an_audit_with_the_local_results(chunk_by_chunk, tmp_path):
    assert "chunk_by_chunk" in EXECUTORS.names()
    spec = make_spec("execution.engine=chunk_by_chunk", "execution.workers=3",
                     "checks.translator_fidelity=null")
    assert make_plan(spec).engine.options == {"workers"}
    plugin = run(spec, tmp_path, name="plugin", cache_dir=tmp_path / "plugin-cache")
    local = run(make_spec("checks.translator_fidelity=null"), tmp_path, name="local",
                cache_dir=tmp_path / "local-cache")
    chunks_run = sys.modules["chunk_engine"].CHUNKS_RUN
    assert chunks_run  # the features and embeddings were computed by the plugin
    assert differences(comparable(plugin), comparable(local)) == []  # NaN equal to NaN


def test_an_engine_s_own_options_are_refused_for_another(chunk_by_chunk):
    with pytest.raises(SpecError, match="workers can apply only to engine: chunk_by_chunk or ray"):
        make_plan(make_spec("execution.workers=3"))


def test_an_unknown_engine_lists_the_registered_ones(chunk_by_chunk):
    with pytest.raises(SpecError, match="available: chunk_by_chunk, local, ray"):
        make_plan(make_spec("execution.engine=spark"))


def test_a_cluster_s_sizing_runs_locally_but_its_address_does_not():
    # A spec sized for Ray still runs with --engine local; an address names a cluster to join.
    assert make_plan(make_spec("execution.workers=3", "execution.cpus_per_worker=2"))
    with pytest.raises(SpecError, match="address can apply only to engine: ray"):
        make_plan(make_spec("execution.address=auto"))
