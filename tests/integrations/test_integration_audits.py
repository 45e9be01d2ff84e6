"""Audits on a saved Hugging Face dataset and on WebDataset shards of the calibration scenes: the
same metrics as the audit on ``calibration:audit`` itself, as CLI subprocesses, warm replays that
compute nothing, and the Ray engine."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("datasets", reason="needs singaudit[integrations]")
pytest.importorskip("webdataset", reason="needs singaudit[integrations]")

sys.path.insert(0, str(Path(__file__).parent))

import calibration_sets

SPEC = """version: 1
kind: singaudit/audit
name: integrations
models: [{{name: clean, id: "calibration:clean"}}]
data: {{id: "{data}", options: {options}, images_per_class: 5}}
checks: {{null_invariance: {{}}}}
report: {{formats: [json]}}
"""


def write_spec(folder: Path, data: str, options: str = "{}") -> Path:
    path = folder / f"{data.partition(':')[0]}.yaml"
    path.write_text(SPEC.format(data=data, options=options))
    return path


def run_cli(spec: Path, out: Path, cache: Path, *extra: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
           "SINGAUDIT_CACHE": str(cache), "OMP_NUM_THREADS": "1"}
    return subprocess.run([str(Path(sys.executable).parent / "singaudit"), "run", str(spec),
                           "--out", str(out), *extra], capture_output=True, text=True,
                          timeout=300, env=env, check=False)


def metrics(results: Path) -> dict[str, float]:
    model = json.loads(results.read_text())["models"][0]
    return {f"{check['name']}.{name}": metric["value"] for check in model["checks"]
            for name, metric in check["metrics"].items()}


def features(cache: Path) -> dict[Path, int]:
    return {p: p.stat().st_mtime_ns for p in (cache / "features").glob("*/*.safetensors")}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """The two saved sets and the reference metrics from ``calibration:audit``."""
    from singaudit.runner import AuditSession
    from singaudit.spec import load_spec

    folder = tmp_path_factory.mktemp("integration-world")
    hf = calibration_sets.save_hf_dataset(folder / "hf")
    shards = calibration_sets.write_shards(folder / "shards")
    spec = load_spec(write_spec(folder, "calibration:audit", f"{{scenes: "
                                                             f"{calibration_sets.SCENES}}}"))
    AuditSession(cache_dir=folder / "reference-cache", progress=False).run(
        spec, out_dir=folder / "reference")
    return {"hf": hf, "shards": shards, "reference": metrics(folder / "reference" /
                                                             "results.json")}


def test_audit_on_a_saved_hf_dataset_then_a_warm_replay(world, tmp_path):
    from singaudit.runner import AuditSession
    from singaudit.spec import load_spec

    spec = load_spec(write_spec(tmp_path, f"hf-dataset:{world['hf']}", "{split: audit}"))
    cache = tmp_path / "cache"
    AuditSession(cache_dir=cache, progress=False).run(spec, out_dir=tmp_path / "cold")
    assert metrics(tmp_path / "cold" / "results.json") == world["reference"]
    computed = features(cache)
    assert computed
    AuditSession(cache_dir=cache, progress=False).run(spec, out_dir=tmp_path / "warm")
    assert features(cache) == computed  # nothing recomputed or rewritten
    assert metrics(tmp_path / "warm" / "results.json") == world["reference"]


@pytest.mark.slow
def test_audit_on_a_saved_hf_dataset_as_a_subprocess(world, tmp_path):
    spec = write_spec(tmp_path, f"hf-dataset:{world['hf']}", "{split: audit}")
    done = run_cli(spec, tmp_path / "out", tmp_path / "cache")
    assert done.returncode == 0, done.stderr
    assert metrics(tmp_path / "out" / "results.json") == world["reference"]


def test_audit_on_webdataset_shards_as_a_subprocess(world, tmp_path):
    spec = write_spec(tmp_path, f"webdataset:{world['shards']}")
    done = run_cli(spec, tmp_path / "out", tmp_path / "cache")
    assert done.returncode == 0, done.stderr
    assert metrics(tmp_path / "out" / "results.json") == world["reference"]


def test_validate_names_missing_shards_and_datasets(tmp_path):
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    spec = write_spec(tmp_path, f"webdataset:{tmp_path}/none-{{000..003}}.tar")
    done = subprocess.run([str(Path(sys.executable).parent / "singaudit"), "validate", str(spec)],
                          capture_output=True, text=True, timeout=120, env=env, check=False)
    assert done.returncode == 4
    assert "data.id: no tar shards match" in done.stderr and "Traceback" not in done.stderr
    spec = write_spec(tmp_path, "hf-dataset:nobody/no-such-set")
    done = subprocess.run([str(Path(sys.executable).parent / "singaudit"), "validate", str(spec)],
                          capture_output=True, text=True, timeout=120, env=env, check=False)
    assert done.returncode == 4
    assert "not in the local Hugging Face cache" in done.stderr


@pytest.mark.slow
def test_both_sources_on_the_ray_engine_equal_the_reference(world, ray_cluster, tmp_path):
    """The actors receive the source (file references, not images) and read their own rows."""
    from singaudit.runner import AuditSession
    from singaudit.spec import Overrides, load_spec

    # Content keys from the dataset's fingerprint and the shards' stat: the driver reads no image.
    for data, options in ((f"hf-dataset:{world['hf']}", "{split: audit, content_key: fingerprint}"),
                          (f"webdataset:{world['shards']}", "{content_key: stat}")):
        spec = load_spec(write_spec(tmp_path, data, options),
                         Overrides(sets=("execution.engine=ray", "device=cpu")))
        out = tmp_path / data.partition(":")[0]
        AuditSession(cache_dir=tmp_path / f"cache-{out.name}", progress=False).run(
            spec, out_dir=out)
        assert metrics(out / "results.json") == world["reference"], data
