import numpy as np
import pytest
import torch
from world import make_world

from singaudit.checks import CHECKS
from singaudit.errors import NotApplicable
from singaudit.maths.geometry import head_geometry
from singaudit.results import Tiers


def run(ctx, **params):
    check = CHECKS.get("null_invariance")()
    return check.run(ctx, check.Params(**params))


def test_exact_null_space_passes_with_clear_separation(tmp_path):
    ctx = make_world(tmp_path)
    result = run(ctx, budgets=[0.1, 1.0])
    assert result.status == "pass", result.message
    assert result.metrics["null_dim"].value == 26
    assert result.metrics["removal_relative_change"].value < 1e-5
    assert result.metrics["top1_unchanged"].value == 1.0
    assert result.metrics["separation_random"].value > 1e6
    assert result.metrics["separation_principal"].value > result.metrics["separation_random"].value
    null, rand = (np.array(result.data[f"logit_change_{k}"]) for k in ("null", "random"))
    assert len(null) == len(ctx.labels) and np.median(rand) > 1e6 * np.median(null)
    assert set(result.data["by_budget"]) == {"0.1", "1"}
    energy = result.metrics["null_energy"].value
    assert 0.5 < energy < 1  # most of a block-structured feature lies outside the class block


def test_too_loose_rank_tolerance_is_caught(tmp_path):
    ctx = make_world(tmp_path)
    weight, _ = ctx.classifier.head()
    # Shrink one direction of the head to 1e-3 of the others, then call it "null" with rtol 1e-2.
    u, s, vh = torch.linalg.svd(weight.double(), full_matrices=False)
    s[-1] = s[0] * 1e-3
    ctx.classifier.weight = (u @ torch.diag(s) @ vh).float()
    ctx.geometry = head_geometry(ctx.classifier.weight, rtol=1e-2)
    result = run(ctx)
    assert result.status == "fail"
    assert result.metrics["removal_relative_change"].status == "fail"
    assert "removal_relative_change max" in result.message and "> fail 1.0e-04" in result.message
    assert result.metrics["separation_random"].value < 1e4  # versus > 1e6 for an exact null space


def test_absolute_budget_and_custom_tiers(tmp_path):
    ctx = make_world(tmp_path)
    strict = [Tiers(metric="separation_random", statistic="min", fail=1e30, higher_is_better=True)]
    result = run(ctx, budgets=[0.5], relative=False, principal_direction="gradient",
                 thresholds=strict)
    assert result.status == "fail"
    assert "separation_random min" in result.message and "< fail 1.0e+30" in result.message
    assert np.median(result.data["logit_change_principal"]) > 0


def _leading_sigma(ctx) -> float:
    return float(torch.linalg.matrix_norm(ctx.classifier.weight.double(), ord=2))


@pytest.mark.parametrize("relative", [True, False], ids=["relative", "absolute"])
def test_perturbation_norms_are_the_budget(tmp_path, relative):
    """A leading-direction delta of norm r changes the logits by exactly sigma_1 * r: the
    principal logit change reads each perturbation's norm back, budget * ||f|| or budget."""
    ctx = make_world(tmp_path)
    budgets = [0.5, 2.0]
    result = run(ctx, budgets=budgets, relative=relative, principal_direction="leading")
    feature_norms = np.linalg.norm(ctx.features.double().numpy(), axis=1)
    assert not np.allclose(feature_norms, 1.0, rtol=0.05)  # the two budgets read differently
    sigma = _leading_sigma(ctx)
    for budget in budgets:
        changes = result.data["by_budget"][f"{budget:g}"]
        norms = np.asarray(changes["principal"]) / sigma
        expected = budget * feature_norms if relative else np.full(len(feature_norms), budget)
        np.testing.assert_allclose(norms, expected, rtol=1e-5)
        # Random deltas of the same norm: ||W d|| <= sigma_1 ||d||, equal only along v_1.
        random = np.asarray(changes["random"])
        assert (random <= sigma * expected * (1 + 1e-5)).all()
        assert np.median(random) > 0.05 * sigma * np.median(expected)
        # Null deltas of that norm move the logits by round-off only.
        assert np.max(np.asarray(changes["null"]) / expected) < 1e-5 * sigma
    np.testing.assert_allclose(result.data["logit_change_principal"],
                               result.data["by_budget"]["0.5"]["principal"])


def test_no_null_space_is_not_applicable(tmp_path):
    with pytest.raises(NotApplicable, match="null_dim is 0"):
        run(make_world(tmp_path, null_space=False))


def test_budgets_must_be_positive():
    with pytest.raises(ValueError, match="positive"):
        CHECKS.get("null_invariance").Params(budgets=[0.0])
