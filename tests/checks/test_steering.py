import numpy as np
import pytest
from world import make_world

from singaudit.checks import CHECKS
from singaudit.checks.steering import balanced_selection
from singaudit.errors import NotApplicable
from singaudit.results import Tiers


def run(ctx, **params):
    check = CHECKS.get("steering")()
    return check.run(ctx, check.Params(**params))


def test_steering_reaches_the_target_is_without_moving_logits(tmp_path):
    ctx = make_world(tmp_path)
    result = run(ctx, target="an image of a forest", target_is=20, max_images=24)
    assert result.status == "pass", result.message
    converged = np.array(result.data["converged"])
    assert len(converged) == 24 and converged.mean() >= 0.9
    reached = np.array(result.data["is"])[converged]
    assert np.all(np.abs(reached - 20) <= 0.1 + 1e-9)
    assert result.metrics["logit_relative_change"].value < 1e-4
    assert result.metrics["abs_as"].value > 0.5
    # Steering toward the concept brings T(f) closer to it: positive AS.
    assert np.median(np.array(result.data["as"])[converged]) > 0
    assert "toward 'an image of a forest' at IS 20 deg" in result.message


def test_tiers_on_abs_as(tmp_path):
    ctx = make_world(tmp_path)
    result = run(ctx, target="an image of a forest", target_is=20, max_images=12,
                 thresholds=[Tiers(metric="abs_as", statistic="mean", fail=0.01)])
    assert result.status == "fail"
    assert "abs_as mean" in result.message and "> fail 0.01" in result.message


def test_balanced_selection_is_seeded_and_balanced():
    labels = np.repeat(np.arange(4), [50, 5, 30, 15])
    chosen = balanced_selection(labels, 20, seed=1)
    assert len(chosen) == 20 and len(set(chosen)) == 20
    assert np.bincount(labels[chosen], minlength=4).tolist() == [5, 5, 5, 5]
    assert np.array_equal(chosen, balanced_selection(labels, 20, seed=1))
    assert not np.array_equal(chosen, balanced_selection(labels, 20, seed=2))


def test_no_null_space_is_not_applicable(tmp_path):
    with pytest.raises(NotApplicable):
        run(make_world(tmp_path, null_space=False))


def test_unreachable_target_is_warns(tmp_path):
    ctx = make_world(tmp_path)
    result = run(ctx, target="an image of a forest", target_is=179, max_images=4, max_iter=8)
    assert result.status == "warn"
    assert "no image reached IS 179 deg" in result.message
    assert not any(result.data["converged"])


def test_steering_passes_only_when_the_stated_fraction_converged(tmp_path):
    """An unreachable target IS (within max_iter) leaves images unconverged: warn, not pass."""
    ctx = make_world(tmp_path)
    reached = run(ctx, target="an image of a forest", target_is=20, max_images=12)
    assert reached.status == "pass" and reached.metrics["converged"].value == 1.0
    strict = run(ctx, target="an image of a forest", target_is=20, max_images=12, max_iter=1)
    fraction = strict.metrics["converged"].value
    assert fraction < 0.9 and strict.status == "warn"
    assert "images reached the target IS (min_converged 0.9" in strict.message
    lenient = run(ctx, target="an image of a forest", target_is=20, max_images=12, max_iter=1,
                  min_converged=min(fraction, 1.0) or 1e-9)
    assert lenient.status == ("pass" if fraction > 0 else "warn")
