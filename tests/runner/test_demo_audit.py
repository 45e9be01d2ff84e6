"""audits/demo.yaml on the shipped calibration world, reduced to a few images: the tool must pass
``clean`` and fail ``leaky`` (their expectations), deterministically."""

from __future__ import annotations

from pathlib import Path

import pytest

from singaudit.calibration import zoo
from singaudit.runner import AuditSession
from singaudit.spec import Overrides, load_spec

DEMO = Path(__file__).resolve().parents[2] / "audits" / "demo.yaml"
WEIGHTS = ("clean", "leaky", "natural", "joint", "decoder")
SMALL = (
    "data.images_per_class=12",  # at least min_images (10) per class, or no class is judged
    "data.options.scenes=120",
    "translator.fit.options.scenes=360",
    "checks={null_invariance: {}, class_semantics: {n_boot: 100}}",
    "report.formats=[json]",
    "device=cpu",
)


@pytest.fixture(scope="module")
def shipped_world():
    missing = [n for n in WEIGHTS if not (zoo.WEIGHTS_DIR / f"{n}.safetensors").is_file()]
    if missing:
        pytest.skip(f"calibration weights not shipped yet: {', '.join(missing)}")


def test_demo_meets_its_expectations_deterministically(shipped_world, tmp_path):
    spec = load_spec(DEMO, Overrides(sets=SMALL))
    first = AuditSession(cache_dir=tmp_path / "cache", progress=False).run(
        spec, out_dir=tmp_path / "a")
    models = {m.name: m for m in first.models}
    assert models["clean"].status in ("pass", "warn"), models["clean"].checks
    assert models["leaky"].status == "fail"
    assert models["leaky"].expectation_met is True
    assert first.ok is True
    assert first.comparison["ranking"]
    again = AuditSession(cache_dir=tmp_path / "cache2", progress=False).run(
        spec, out_dir=tmp_path / "b")
    for one, other in zip(first.models, again.models, strict=True):
        assert [c.metrics for c in one.checks] == [c.metrics for c in other.checks]
