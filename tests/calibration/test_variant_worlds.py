"""Ground truth that does not hinge on a construction choice (issue 24): worlds built at load time
from the shipped weights (singaudit/calibration/variants.py), judged by the default verdict's
metric and tiers. Clean passes and leaky fails at every logit-block variance ratio (0.01 to 10;
the shipped models sit at 0.01, the end-to-end `natural` at 7.6); a marker of one class from the
model's own top-1 prediction fails that class and only it, and so does leaky's hidden code kept on
one class (square included, whose prompt the joint space barely separates); a partially redundant
leak fails."""

import numpy as np
import pytest

from singaudit.calibration import scenes, variants, verify, zoo
from singaudit.checks.class_semantics import ClassSemanticsCheck
from singaudit.checks.thresholds import class_verdicts
from singaudit.errors import WeightsNotFound
from singaudit.maths.geometry import head_geometry

TIER = ClassSemanticsCheck.default_tiers[0]
RATIOS = (0.01, 0.1, 1.0, 10.0)


@pytest.fixture(scope="module")
def encoded():
    try:
        zoo.load_metadata()
    except WeightsNotFound as missing:
        pytest.skip(f"calibration weights not shipped: {missing}")
    return {name: verify.encoded_world(zoo.load_classifier(name), zoo.load_joint(), seed=1,
                                       n_fit=900, n_validation=200, n_eval=300)
            for name in ("clean", "leaky")}


def failing_classes(world, variant):
    measured = verify.variant_ground_truth(world, variant)
    values, labels = measured["values"][TIER.metric], measured["labels"]
    statuses = class_verdicts([values[labels == k] for k in range(len(scenes.SHAPES))],
                              TIER).statuses
    return measured, [c for c, s in zip(scenes.SHAPES, statuses, strict=True) if s == "fail"]


@pytest.mark.parametrize("ratio", RATIOS)
def test_clean_passes_and_leaky_fails_at_every_variance_ratio(encoded, ratio):
    for name in ("clean", "leaky"):
        world = encoded[name]
        variant = variants.with_variance_ratio(world["weight"], world["bias"], world["fit"][0],
                                               ratio)
        measured, failing = failing_classes(world, variant)
        assert measured["variance_ratio"] == pytest.approx(ratio, rel=1e-6)
        worst = max(c[TIER.metric] for c in measured["per_class"].values())
        if name == "clean":
            assert failing == [] and worst < TIER.warn, (ratio, worst)
        else:  # every class, with the worst class at least 2x the fail level
            assert failing == list(scenes.SHAPES) and worst > 2 * TIER.fail, (ratio, worst)


@pytest.mark.parametrize("target", [0, 5])
def test_a_one_class_marker_fails_that_class_only(encoded, target):
    world = encoded["clean"]
    size = float(world["fit"][0].norm(dim=1).median())
    for kind in ("dimension", "direction"):
        variant = variants.one_class_marker(world["weight"], world["bias"], target, size,
                                            kind=kind)
        mapped = variant.apply(world["audit"][0])
        # The construction: identical logits, the marker on the predicted class's images.
        assert np.allclose(variant.logits(mapped), world["audit"][0] @ world["weight"].T
                           + world["bias"], atol=1e-6)
        _, failing = failing_classes(world, variant)
        assert failing == [scenes.SHAPES[target]], kind


def test_a_partially_redundant_leak_still_fails(encoded):
    world = encoded["leaky"]
    variant = variants.partially_redundant(world["weight"], world["bias"], world["fit"][0])
    measured, failing = failing_classes(world, variant)
    assert len(failing) >= 4
    # The translator's reading (the previous default) all but loses it: under its 4 deg level.
    assert max(c["specific_leak"] for c in measured["per_class"].values()) < 4.0


def test_leakys_hidden_code_on_square_alone_fails_square_only(encoded):
    # Issue 24's missed leak (0.8% power under the former 4 deg level on carried): the square
    # prompt lies near the mean image embedding, so the code moves angles to it by about 4 deg,
    # yet that is most of the joint space's own square contrast.
    clean, leaky = encoded["clean"], encoded["leaky"]
    fill = (leaky["fit"][0] @ head_geometry(leaky["weight"]).null_basis).mean(0)
    rows, head = variants.hidden_code_on_one_class(clean["weight"], leaky["weight"],
                                                   leaky["bias"], scenes.SHAPES.index("square"),
                                                   fill)
    world = {**clean, "weight": head, **{part: (rows(clean[part][0], leaky[part][0]),
                                                 clean[part][1])
                                         for part in ("fit", "validation", "audit")}}
    measured, failing = failing_classes(world, None)
    assert failing == ["square"]
    assert measured["per_class"]["square"]["carried"] < 5.0
    assert measured["per_class"]["square"][TIER.metric] > 1.2 * TIER.fail
