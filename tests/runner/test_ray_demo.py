"""audits/demo.yaml on the Ray engine: the same results as the local engine (every metric within
1e-6, every status equal) and one shared cache (a warm run on either engine after a cold run on
the other computes no feature or embedding). Slow: four demo audits."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from singaudit.runner import AuditSession
from singaudit.spec import Overrides, load_spec

DEMO = Path(__file__).resolve().parents[2] / "audits" / "demo.yaml"
JSON_ONLY = ("report.formats=[json]", "device=cpu")
TOLERANCE = 1e-6


def _run(tmp_path: Path, cache: str, out: str, *sets: str):
    spec = load_spec(DEMO, Overrides(sets=JSON_ONLY + sets))
    return AuditSession(cache_dir=tmp_path / cache, progress=False).run(
        spec, out_dir=tmp_path / out)


def _extracted(cache: Path) -> dict[Path, int]:
    """Feature and embedding cache entries with their modification times."""
    return {p: p.stat().st_mtime_ns for kind in ("features", "embeddings")
            for p in (cache / kind).glob("*/*.safetensors")}


def _metric_differences(a, b) -> list[str]:
    found = []
    for model_a, model_b in zip(a.models, b.models, strict=True):
        assert model_a.status == model_b.status, model_a.name
        for check_a, check_b in zip(model_a.checks, model_b.checks, strict=True):
            assert check_a.status == check_b.status, (model_a.name, check_a.name)
            assert check_a.metrics.keys() == check_b.metrics.keys()
            for name, metric in check_a.metrics.items():
                if metric.unit == "s":
                    continue  # a wall time, e.g. evidence generation seconds
                x, y = metric.value, check_b.metrics[name].value
                if isinstance(x, float) and isinstance(y, float):
                    same = math.isclose(x, y, rel_tol=TOLERANCE, abs_tol=TOLERANCE) or (
                        math.isnan(x) and math.isnan(y))
                else:
                    same = x == y
                if not same:
                    found.append(f"{model_a.name}::{check_a.name}.{name}: {x} != {y}")
    return found


@pytest.mark.slow
def test_demo_on_ray_equals_local_and_shares_the_cache(ray_cluster, tmp_path):
    on_ray = _run(tmp_path, "ray-first", "ray", "execution.engine=ray")
    entries = _extracted(tmp_path / "ray-first")
    assert entries
    local_warm = _run(tmp_path, "ray-first", "local-warm")
    assert _extracted(tmp_path / "ray-first") == entries  # nothing recomputed or rewritten

    local = _run(tmp_path, "local-first", "local")
    assert _metric_differences(on_ray, local) == []
    assert _metric_differences(local_warm, local) == []
    assert on_ray.ok and local.ok
    assert on_ray.provenance["spec"]["sha256"] == local.provenance["spec"]["sha256"]

    entries = _extracted(tmp_path / "local-first")
    _run(tmp_path, "local-first", "ray-warm", "execution.engine=ray")
    assert _extracted(tmp_path / "local-first") == entries
