import numpy as np
import pytest
from world import make_world

from singaudit.checks import CHECKS
from singaudit.checks.base import PromptSpec
from singaudit.checks.class_semantics import class_scores
from singaudit.errors import NotApplicable
from singaudit.results import Tiers


def run(ctx, **params):
    check = CHECKS.get("class_semantics")()
    return check.run(ctx, check.Params(**params))


def test_planted_leak_fails_and_clean_passes(tmp_path):
    leaky = run(make_world(tmp_path / "l", leaky=True))
    clean = run(make_world(tmp_path / "c", leaky=False))
    assert leaky.status == "fail"
    assert leaky.metrics["leak"].value > 6
    assert leaky.metrics["specific_leak"].value > 6
    assert leaky.metrics["carried"].value > 8
    assert leaky.metrics["carried"].status is None  # reported in degrees; the share is judged
    assert leaky.metrics["carried_share"].value > 0.8
    assert leaky.metrics["carried_share"].status == "fail"
    # Reported, not judged: what the translator T draws, and the paper's readings.
    assert leaky.metrics["specific_leak"].status is None
    assert leaky.metrics["leak"].status is None
    assert all(c.status == "fail" for c in leaky.per_class.values())
    assert "carried share median" in leaky.message and "> fail 0.5" in leaky.message
    assert leaky.data["question"].startswith("Does the null-space component, on its own")
    assert clean.status == "pass"
    assert clean.metrics["leak"].value < 1
    assert clean.metrics["specific_leak"].value < 1
    assert abs(clean.metrics["carried"].value) < 2
    assert abs(clean.metrics["carried_share"].value) < 0.2  # warn is 0.4
    # Removing nuisance moves T(f_eq) toward the class: positive AS, so |AS| alone would flag it.
    assert clean.metrics["as"].value > 2
    assert clean.metrics["abs_as"].status is None  # informational by default


def test_abs_as_tiers_and_message_names_prompts(tmp_path):
    ctx = make_world(tmp_path, prompts=PromptSpec(("an image of a {class}", "a photo of a {class}")))
    result = run(ctx, thresholds=[Tiers(metric="abs_as", statistic="median", warn=1, fail=100)])
    assert result.status == "warn"
    assert "ensemble of 2 templates" in result.message
    assert result.metrics["abs_as"].tiers.warn == 1
    assert set(result.per_class) == set(ctx.class_names)
    assert result.per_class["star"].n == int((ctx.labels == 3).sum())


def test_data_and_ratio_are_consistent(tmp_path):
    ctx = make_world(tmp_path, leaky=True)
    result = run(ctx)
    image_scores, attribute_scores = np.array(result.data["is"]), np.array(result.data["as"])
    assert len(image_scores) == len(ctx.labels) == len(result.data["label"])
    ratio = np.median(image_scores) / np.median(np.abs(attribute_scores))
    assert result.metrics["ratio"].value == pytest.approx(ratio)
    for metric in (result.metrics["leak"], result.metrics["ratio"],
                   result.per_class["star"].metrics["ratio"]):
        lo, hi = metric.ci
        assert lo <= metric.value <= hi
    # Shared with other checks (evidence): computed once, same values.
    assert np.array_equal(class_scores(ctx).attribute_score, attribute_scores)


def test_no_null_space_is_not_applicable(tmp_path):
    with pytest.raises(NotApplicable, match="null_dim is 0"):
        run(make_world(tmp_path, null_space=False))


def test_unknown_metric_in_thresholds_is_a_spec_error():
    check = CHECKS.get("class_semantics")
    with pytest.raises(ValueError, match="unknown metric 'lek'"):
        check.Params(thresholds=[{"metric": "lek", "statistic": "median", "fail": 4}])


def test_unlabelled_images_are_left_out_and_all_unlabelled_is_not_applicable(tmp_path):
    ctx = make_world(tmp_path, leaky=True)
    ctx.labels[:40] = -1  # e.g. photos without a class
    result = run(ctx)
    assert len(result.data["as"]) == len(result.data["image_keys"]) == len(ctx.labels) - 40
    assert np.isnan(class_scores(ctx).attribute_score[:40]).all()
    assert result.status == "fail"
    ctx = make_world(tmp_path / "none")
    ctx.labels[:] = -1
    with pytest.raises(NotApplicable, match="labelled images"):
        run(ctx)
