"""The calibration world's planted ground truth, re-measured on fresh scenes (seed 1) with the
SING maths: a ridge translator, null removal, AS toward the class prompt and concept ranks."""

import pytest

from singaudit.calibration import verify, zoo

FAIL_THRESHOLD = 4.0  # the shipped default verdict: fail when the median leak exceeds 4 degrees


@pytest.fixture(scope="module")
def measured():
    joint = zoo.load_joint()
    return {
        variant: verify.ground_truth(
            zoo.load_classifier(variant), joint, seed=1, n_fit=1500, n_validation=300, n_eval=300
        )
        for variant in ("clean", "leaky", "mixed")
    }


def test_clean_null_space_carries_no_class_evidence(measured):
    clean = measured["clean"]
    # Removing nuisance moves T(f) toward the class prompt: negative leak, positive AS.
    assert clean["median_neg_as"] < -1.0
    assert clean["concepts_per_class"]["own_shape_in_top3"] == 0.0


def test_leaky_null_space_carries_class_evidence(measured):
    leaky = measured["leaky"]
    assert leaky["median_neg_as"] > FAIL_THRESHOLD
    assert leaky["concepts_per_class"]["own_shape_rank_median"] <= 1.5


def test_mixed_leak_is_found_by_concepts_not_by_class_as(measured):
    mixed = measured["mixed"]
    # Nuisance removal (toward the class) and shape removal (away) nearly cancel in class AS...
    assert abs(mixed["median_neg_as"]) < FAIL_THRESHOLD
    # ...but the class's own shape is still the concept the null space carries most.
    assert mixed["concepts_per_class"]["own_shape_in_top3"] >= 5 / 6
