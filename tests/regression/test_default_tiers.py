"""The default regression tier: it judges the metric class_semantics judges by default, at levels
chosen from measured noise. On the calibration world's runs (scripts/regression_world.py, kept in
assets/regression_world.json) retrains of clean pass and planted leaks fail through it; a
baseline written before that metric existed is still read, judged by the former default tier."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from results_builder import audit

from singaudit.checks.class_semantics import DEFAULT_VERDICT_METRIC, ClassSemanticsCheck
from singaudit.cli.main import run_cli
from singaudit.regression import (
    DEFAULT_TIERS,
    Levels,
    NotComparable,
    RegressionSpec,
    RegressionTier,
    compare,
)
from singaudit.regression.tiers import FORMER_DEFAULT_TIER
from singaudit.results import AuditResult

FIXTURE = Path(__file__).parent / "assets" / "regression_world.json"
SHAPES = ("circle", "square", "triangle", "star", "cross", "heart")
LEAK = np.random.default_rng(3).normal(0.0, 3.0, size=60)


def test_the_default_tier_judges_what_class_semantics_judges_by_default():
    tier = DEFAULT_TIERS[0]
    assert (tier.check, tier.metric) == (ClassSemanticsCheck.name, DEFAULT_VERDICT_METRIC)
    assert ClassSemanticsCheck.default_tiers[0].metric == tier.metric
    assert tier.scope == "per_class" and tier.max_increase is not None


def _runs(*, strip: str | None = None) -> tuple[AuditResult, AuditResult]:
    """The measured baseline (shipped clean) and candidates; ``strip`` removes one metric from
    the baseline, as a run of a singaudit that did not have it."""
    document = json.loads(FIXTURE.read_text())
    recorded = document["baseline"]["models"][0]["checks"][0]["data"]
    assert DEFAULT_TIERS[0].metric in recorded, (
        "the fixture predates the default metric: rerun PYTHONPATH=scripts python "
        "scripts/regression_world.py --write-fixture tests/regression/assets/regression_world.json")
    if strip is not None:
        for model in document["baseline"]["models"]:
            for check in model["checks"]:
                check["data"].pop(strip, None)
                for entry in [check, *check["per_class"].values()]:
                    entry["metrics"].pop(strip, None)
    return (AuditResult.parse(json.dumps(document["baseline"]), "baseline"),
            AuditResult.parse(json.dumps(document["candidates"]), "candidates"))


@pytest.fixture(scope="module")
def judged():
    base, candidates = _runs()
    diff = compare(base, candidates, pairs=[("clean", m.name) for m in candidates.models])
    return {m.new_model: m for m in diff.models}


def _tier_rows(model):
    return [d for d in model.judged("class_semantics") if d.metric == DEFAULT_TIERS[0].metric]


def test_retrains_of_clean_never_reach_the_warn_level(judged):
    retrains = [m for name, m in judged.items() if name.startswith("clean_seed")]
    assert len(retrains) >= 3
    for model in retrains:
        rows = _tier_rows(model)
        assert sorted(d.scope for d in rows) == sorted(SHAPES)
        assert all(d.verdict == "pass" for d in rows), model.message


@pytest.mark.parametrize("name", ["leaky", "mixed"])
def test_a_leak_into_every_class_fails_every_class(judged, name):
    model = judged[name]
    assert model.status == "fail"
    assert sorted(model.failing_classes) == sorted(SHAPES)


@pytest.mark.parametrize("shape", ["circle", "star"])
def test_a_leak_of_one_class_fails_that_class_only(judged, shape):
    model = judged[f"marked_{shape}"]
    assert model.failing_classes == [shape]
    assert all(d.verdict == "pass" for d in _tier_rows(model) if d.scope != shape)


def test_a_measured_baseline_without_the_metric_is_judged_by_the_former_tier():
    base, candidates = _runs(strip=DEFAULT_TIERS[0].metric)
    diff = compare(base, candidates, pairs=[("clean", m.name) for m in candidates.models])
    models = {m.new_model: m for m in diff.models}
    assert sorted(models["leaky"].failing_classes) == sorted(SHAPES)
    judged_metrics = {d.metric for m in diff.models for d in m.judged()}
    assert judged_metrics == {FORMER_DEFAULT_TIER.metric}
    for model in diff.models:
        assert model.message.startswith(
            f"the baseline records no class_semantics.{DEFAULT_TIERS[0].metric}")
        assert "former default tier" in model.message


def test_an_old_baseline_diffs_on_the_command_line_with_a_clear_note(tmp_path, capsys):
    old = audit(LEAK, judged=("specific_leak",))
    document = json.loads(old.model_dump_json())
    document["provenance"].update(spec={"path": "audit.yaml", "sha256": "ab" * 32},
                                  started_at="2026-12-01T00:00:00+00:00", null_removal="mean")
    base = tmp_path / "old.json"
    base.write_text(json.dumps(document))
    new = tmp_path / "new.json"
    shifted = json.loads(audit(LEAK + FORMER_DEFAULT_TIER.levels.fail + 1).model_dump_json())
    shifted["provenance"] = document["provenance"]
    new.write_text(json.dumps(shifted))
    code = run_cli(["diff", str(base), str(new), "--out", str(tmp_path / "diff"),
                    "--format", "json"])
    captured = capsys.readouterr()
    assert code == 1 and "Traceback" not in captured.out + captured.err
    written = json.loads((tmp_path / "diff" / "diff.json").read_text())
    assert written["tiers"] == [FORMER_DEFAULT_TIER.describe()]
    assert "former default tier" in written["models"][0]["message"]
    assert sorted(written["models"][0]["failing_classes"]) == ["circle", "square", "star"]


def test_an_explicit_tier_on_a_metric_the_baseline_lacks_is_refused_in_one_line():
    tier = RegressionTier(metric=DEFAULT_TIERS[0].metric, scope="overall",
                          max_increase=Levels(fail=0.5))
    with pytest.raises(NotComparable) as refused:
        compare(audit(LEAK, judged=("specific_leak",)), audit(LEAK),
                RegressionSpec(tiers=[tier]))
    message = str(refused.value)
    assert "\n" not in message and "accept a new baseline" in message
