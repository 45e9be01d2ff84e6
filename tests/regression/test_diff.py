"""The diff of two runs: paired changes on the same images, intervals, tiers, comparability."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from results_builder import CLASSES, audit

from singaudit.checks.thresholds import MetricSpec, Observations, judge_all
from singaudit.regression import (
    DEFAULT_TIERS,
    Levels,
    NotComparable,
    RegressionSpec,
    RegressionTier,
    compare,
)
from singaudit.results import AuditResult, CheckResult, Predictions, Tiers, level_status
from singaudit.wording import LEVELS, beyond, fixed

RNG = np.random.default_rng(0)
BASE_LEAK = RNG.normal(0.0, 3.0, size=60)
# A shift every image takes, one unit beyond the default tier's fail level.
FAIL = DEFAULT_TIERS[0].levels.fail
assert FAIL is not None
SHIFT = FAIL + 1.0


def _row(diff, scope="overall", metric="leak"):
    model = diff.models[0]
    return next(d for d in model.deltas if d.metric == metric and d.scope == scope
                and d.statistic == "median")


def test_identical_runs_do_not_change_and_pass():
    diff = compare(audit(BASE_LEAK), audit(BASE_LEAK))
    row = _row(diff)
    assert diff.status == "pass"
    assert row.method == "paired" and row.delta == 0.0 and row.interval == (0.0, 0.0)


def test_a_paired_shift_on_the_same_images_is_measured_exactly():
    # Every image leaks SHIFT more: on the same images the change has no sampling noise.
    diff = compare(audit(BASE_LEAK), audit(BASE_LEAK + SHIFT))
    row = _row(diff)
    assert row.method == "paired" and row.n == 60
    assert row.delta == pytest.approx(SHIFT)
    assert row.interval == pytest.approx((SHIFT, SHIFT))
    # Every class is worse by SHIFT > the default fail level, and each is named.
    assert diff.models[0].status == "fail"
    assert sorted(diff.models[0].failing_classes) == sorted(CLASSES)
    assert f"worse than baseline by {fixed(SHIFT)}" in diff.models[0].message


def test_pairing_follows_image_keys_not_positions():
    keys = [f"img{i}" for i in range(60)]
    labels = [i % 3 for i in range(60)]
    order = RNG.permutation(60)
    shuffled = audit((BASE_LEAK + 3.0)[order], keys=[keys[i] for i in order],
                     labels=[labels[i] for i in order])
    row = _row(compare(audit(BASE_LEAK, keys=keys, labels=labels), shuffled), scope="circle")
    assert row.method == "paired" and row.interval == pytest.approx((3.0, 3.0))


def test_different_images_fall_back_to_an_independent_bootstrap_with_a_wider_interval():
    other_keys = [f"other{i}" for i in range(60)]
    paired = _row(compare(audit(BASE_LEAK), audit(BASE_LEAK + 3.0)))
    unpaired_diff = compare(audit(BASE_LEAK), audit(BASE_LEAK + 3.0, keys=other_keys),
                            allow_mismatch=True)
    unpaired = _row(unpaired_diff)
    assert unpaired.method == "bootstrap"
    assert unpaired.delta == pytest.approx(3.0)
    low, high = unpaired.interval
    assert low < 3.0 < high and high - low > 1.0 > paired.interval[1] - paired.interval[0]


def test_without_per_image_values_the_two_confidence_intervals_combine():
    row = _row(compare(audit(BASE_LEAK, with_arrays=False),
                       audit(BASE_LEAK + 3.0, with_arrays=False)))
    assert row.method == "intervals"
    low, high = row.interval
    assert low < row.delta < high and high - low > 0.5


def test_a_level_is_crossed_only_when_the_whole_interval_is_beyond_it():
    noisy_after = BASE_LEAK + RNG.normal(1.5, 4.0, size=60)  # worse on average, but noisy
    tier = RegressionTier(metric="leak", scope="overall", max_increase=Levels(fail=0.5))
    row = _row(compare(audit(BASE_LEAK), audit(noisy_after), RegressionSpec(tiers=[tier])))
    assert row.worse_by > 0.5 and min(row.interval) < 0.5
    assert row.verdict == "pass"
    sure = _row(compare(audit(BASE_LEAK), audit(BASE_LEAK + 1.5), RegressionSpec(tiers=[tier])))
    assert sure.verdict == "fail" and sure.bound == 0.5


def test_max_decrease_judges_a_drop():
    tier = RegressionTier(metric="leak", scope="overall", max_decrease=Levels(warn=1.0, fail=5.0))
    row = _row(compare(audit(BASE_LEAK), audit(BASE_LEAK - 2.0), RegressionSpec(tiers=[tier])))
    assert row.verdict == "warn" and row.worse_by == pytest.approx(2.0)


def test_a_changed_structural_fact_fails():
    diff = compare(audit(BASE_LEAK), audit(BASE_LEAK, info={"null_dim": 12, "num_classes": 3}))
    fact = next(f for f in diff.models[0].facts if f.fact == "null_dim")
    assert fact.status == "fail" and "10 -> 12" in fact.message
    assert diff.status == "fail"


def test_runs_that_are_not_comparable_are_refused_in_one_line():
    with pytest.raises(NotComparable) as refused:
        compare(audit(BASE_LEAK), audit(BASE_LEAK, joint_hash="j2"))
    message = str(refused.value)
    assert "\n" not in message and "joint space" in message and "--allow-mismatch" in message
    allowed = compare(audit(BASE_LEAK), audit(BASE_LEAK, joint_hash="j2"), allow_mismatch=True)
    assert [m.what for m in allowed.mismatches] == ["joint space"]


def test_models_without_a_common_name_need_pairs():
    with pytest.raises(NotComparable, match="--pair"):
        compare(audit(BASE_LEAK, name="a"), audit(BASE_LEAK, name="b").model_copy(
            update={"models": audit(BASE_LEAK, name="b").models * 1
                    + audit(BASE_LEAK, name="c").models}))
    diff = compare(audit(BASE_LEAK, name="a"), audit(BASE_LEAK + SHIFT, name="b"),
                   pairs=[("a", "b")])
    assert diff.models[0].new_model == "b" and diff.status == "fail"


@settings(max_examples=12, deadline=None)
@given(st.lists(st.floats(-20, 20), min_size=6, max_size=30),
       st.floats(-5, 5))
def test_swapping_the_runs_negates_a_paired_change(values, shift):
    before = np.asarray(values)
    after = before + shift
    forward = _row(compare(audit(before), audit(after)))
    backward = _row(compare(audit(after), audit(before)))
    assert forward.delta == pytest.approx(-backward.delta, abs=1e-9)
    assert forward.delta == pytest.approx(shift, abs=1e-9)


def _with_predictions(run, top1, *, in_check_data=False):
    """``run`` with each image's top-1 class: the model's predictions (schema 3) or, as files
    older than schema 3 kept them, a check's data beside its image keys."""
    model = run.models[0]
    keys = [f"img{i}" for i in range(len(top1))]
    if in_check_data:
        model.checks.append(CheckResult(name="older_check", status="pass",
                                        data={"image_keys": keys, "top1": list(top1)}))
    else:
        model.predictions = Predictions(image_keys=keys, top1=list(top1))
    return run


def _agreement(diff):
    return next(f for f in diff.models[0].facts if f.fact == "top1_agreement")


def test_top1_agreement_reads_the_models_predictions():
    base = _with_predictions(audit(BASE_LEAK), [i % 3 for i in range(len(BASE_LEAK))])
    changed = [i % 3 if i >= 10 else (i + 1) % 3 for i in range(len(BASE_LEAK))]
    fact = _agreement(compare(base, _with_predictions(audit(BASE_LEAK), changed)))
    assert fact.after == pytest.approx(1 - 10 / len(BASE_LEAK))
    assert fact.status == "fail"


def test_top1_agreement_reads_a_file_older_than_schema_3():
    top1 = [i % 3 for i in range(len(BASE_LEAK))]
    written = _with_predictions(audit(BASE_LEAK), top1, in_check_data=True).model_dump(
        mode="json", exclude={"models": {0: {"predictions", "angles"}}})
    old = AuditResult.parse(json.dumps({**written, "schema_version": 2}), "old.json")
    new = _with_predictions(audit(BASE_LEAK), top1)
    assert old.schema_version == 2 and old.models[0].predictions is None
    fact = _agreement(compare(old, new))
    assert fact.status == "pass" and fact.after == 1.0


def test_top1_agreement_is_skipped_when_a_run_has_no_predictions():
    top1 = [0] * len(BASE_LEAK)
    fact = _agreement(compare(audit(BASE_LEAK), _with_predictions(audit(BASE_LEAK), top1)))
    assert fact.status == "skip" and "not recorded in both runs" in fact.message


@given(value=st.floats(-10, 10), warn=st.floats(-10, 10), gap=st.floats(0, 5),
       higher=st.booleans())
def test_check_tiers_and_regression_levels_judge_and_word_a_level_alike(value, warn, gap,
                                                                         higher):
    """A value beyond a level has that level's status and words in a check tier and in a
    regression level: one vocabulary (wording.LEVELS, results.level_status, wording.beyond)."""
    fail = warn - gap if higher else warn + gap
    tier = Tiers(metric="m", statistic="mean", warn=warn, fail=fail, higher_is_better=higher,
                 scope="overall")
    spec = {"m": MetricSpec("m", higher_is_better=higher)}
    judged = judge_all([tier], {"m": Observations.of([value])}, spec, [])
    status = level_status(value, warn=warn, fail=fail, higher_is_better=higher)
    assert judged.status == status
    if status in LEVELS:
        level = fail if status == "fail" else warn
        assert beyond(status, level, higher_is_better=higher) in judged.explain("")


def test_a_regression_row_words_its_crossed_level_as_a_check_tier_does():
    diff = compare(audit(BASE_LEAK), audit(BASE_LEAK + SHIFT))
    assert f"({beyond('fail', FAIL)})" in diff.models[0].message  # the default tier's level
    top1 = [i % 3 for i in range(len(BASE_LEAK))]
    changed = [(label + 1) % 3 if i < 20 else label for i, label in enumerate(top1)]
    fact = _agreement(compare(_with_predictions(audit(BASE_LEAK), top1),
                              _with_predictions(audit(BASE_LEAK), changed)))
    assert fact.status == "fail" and fact.message.endswith("(< fail 0.9)")
