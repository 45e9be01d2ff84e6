import numpy as np
import pytest

from singaudit.checks.base import MetricSpec
from singaudit.checks.thresholds import (
    Observations,
    format_number,
    judge,
    judge_all,
    validate_tiers,
)
from singaudit.results import ClassResult, Metric, Tiers

NAMES = ["circle", "star", "cross"]
# circle ~1, star ~12, cross ~3.5 degrees: one bad class, one borderline.
VALUES = np.concatenate([np.linspace(0.5, 1.5, 21), np.linspace(11, 13, 21), np.linspace(3.3, 3.7, 21)])
LABELS = np.repeat(np.arange(3), 21)
OBSERVED = Observations.of(VALUES, LABELS)


@pytest.mark.parametrize(
    ("statistic", "warn", "fail", "expected_value", "status"),
    [
        ("median", 3, 4, 3.5, "warn"),
        ("mean", 3, 4, np.mean(VALUES), "fail"),
        ("max", 13, 14, 13.0, "pass"),
        ("min", 0.1, 0.4, 0.5, "fail"),
        ("std", 10, 20, np.std(VALUES, ddof=1), "pass"),
        ("q90", 12, 20, np.percentile(VALUES, 90), "warn"),
    ],
)
def test_each_statistic_overall(statistic, warn, fail, expected_value, status):
    tiers = Tiers(metric="leak", statistic=statistic, warn=warn, fail=fail, scope="overall")
    judgement = judge(tiers, OBSERVED, NAMES, unit="deg")
    assert judgement.overall.value == pytest.approx(expected_value)
    assert judgement.status == status == judgement.overall.status
    assert judgement.per_class == {}
    assert judgement.message.startswith(f"leak {statistic} {format_number(expected_value)} deg")


def test_fraction_within_uses_mostly_as_fail_level():
    tiers = Tiers(metric="leak", statistic="fraction_within", bound=4.0, mostly=0.8)
    judgement = judge(tiers, OBSERVED, NAMES)
    assert judgement.overall.value == pytest.approx(2 / 3)
    assert judgement.status == "fail"
    assert judgement.per_class["circle"].value == 1.0 and judgement.per_class["circle"].status == "pass"
    assert judgement.per_class["star"].value == 0.0 and judgement.per_class["star"].status == "fail"
    assert "fraction within 4 0.667 < fail 0.8" in judgement.message
    assert "(classes: star 0)" in judgement.message


def test_per_class_scope_names_the_failing_classes():
    tiers = Tiers(metric="leak", statistic="median", warn=3, fail=4, scope="per_class")
    judgement = judge(tiers, OBSERVED, NAMES, unit="deg")
    assert judgement.overall is None
    assert {k: m.status for k, m in judgement.per_class.items()} == {
        "circle": "pass", "star": "fail", "cross": "warn"}
    assert judgement.message == ("leak median > fail 4 in classes: star 12 (3 of 3 "
                                 "classes judged, 95% one-sided, Holm-corrected)")
    assert judgement.per_class["star"].p_value < 0.05 < judgement.per_class["circle"].p_value


def test_both_scopes_report_overall_value_and_worse_classes():
    tiers = Tiers(metric="leak", statistic="median", warn=3, fail=4)
    judgement = judge(tiers, OBSERVED, NAMES, unit="deg")
    assert judgement.status == "fail" and judgement.overall.status == "warn"
    assert judgement.message == ("leak median 3.50 deg > warn 3; > fail 4 in classes: "
                                 "star 12 (3 of 3 classes judged, 95% one-sided, Holm-corrected)")
    lo, hi = judgement.overall.ci
    assert lo <= 3.5 <= hi


def test_higher_is_better_defaults_to_the_metrics_direction():
    specs = {"accuracy": MetricSpec("probe accuracy", unit="", higher_is_better=True)}
    tiers = [Tiers(metric="accuracy", statistic="mean", warn=0.9, fail=0.5)]
    verdict = judge_all(tiers, {"accuracy": Observations.of([0.7])}, specs, NAMES)
    assert verdict.status == "warn"
    assert verdict.message == "accuracy mean 0.7 < warn 0.9"
    explicit = [Tiers(metric="accuracy", statistic="mean", warn=0.9, higher_is_better=False)]
    assert judge_all(explicit, {"accuracy": Observations.of([0.7])}, specs, NAMES).status == "pass"


def test_verdict_applies_judged_metrics_and_class_statuses():
    specs = {"leak": MetricSpec("leak")}
    tiers = [Tiers(metric="leak", statistic="median", warn=3, fail=4, scope="per_class"),
             Tiers(metric="leak", statistic="q90", fail=100)]
    verdict = judge_all(tiers, {"leak": OBSERVED}, specs, NAMES)
    metrics = {"leak": Metric(value=3.5, statistic="median")}
    per_class = {"circle": ClassResult(n=21)}
    verdict.apply(metrics, per_class)
    assert verdict.status == "fail"
    assert metrics["leak"].status == "fail" and metrics["leak"].tiers.fail == 4
    assert metrics["leak_q90"].status == "pass"
    assert per_class["star"].status == "fail" and per_class["circle"].status == "pass"
    assert per_class["cross"].metrics["leak"].status == "warn"


def test_nan_and_missing_metrics_are_errors_not_passes():
    specs = {"leak": MetricSpec("leak")}
    tiers = [Tiers(metric="leak", statistic="median", fail=4)]
    assert judge_all(tiers, {"leak": Observations.of([np.nan])}, specs, NAMES).status == "error"
    missing = judge_all(tiers, {}, specs, NAMES)
    assert missing.status == "error" and "no values for metric 'leak'" in missing.message


def test_no_tiers_is_info_never_a_pass():
    assert judge_all([], {"leak": OBSERVED}, {}, NAMES).status == "info"


@pytest.mark.parametrize(
    ("tiers", "message"),
    [
        (Tiers(metric="lek", statistic="median", fail=1), "unknown metric 'lek'"),
        (Tiers(metric="leak", statistic="q1000", fail=1), "unknown statistic 'q1000'"),
        (Tiers(metric="leak", statistic="fraction_within", mostly=0.9), "needs a bound"),
        (Tiers(metric="leak", statistic="median"), "neither warn nor fail"),
    ],
)
def test_validate_tiers_messages(tiers, message):
    with pytest.raises(ValueError, match=message):
        validate_tiers([tiers], {"leak": MetricSpec("leak")})


def test_format_number_is_the_one_wording_of_numbers():
    from singaudit.reports import verdicts
    from singaudit.wording import number

    values = (9.123, 0.05, 1.2e-7, 12345.0, 4.0, float("inf"), None, float("nan"))
    expected = ["9.12", "0.05", "1.2e-07", "1.2e+04", "4", "inf", "n/a", "n/a"]
    # check messages and the reports (the CLI and pytest print through them) word numbers alike
    for wording in (format_number, verdicts.format_number, number):
        assert [wording(v) for v in values] == expected
    assert verdicts.format_value(3.0, "deg") == "3°"
    assert verdicts.format_value(None, "deg") == "n/a"
    # deltas (the regression diff, its Markdown and the CLI table) are signed by the same rule
    signed = [number(v, signed=True) for v in (0.37, -0.37, 0.0, 2.0, None, float("inf"))]
    assert signed == ["+0.37", "-0.37", "0", "+2", "n/a", "+inf"]


def _noisy_classes(n_classes: int, per_class: int, centre: float, seed: int = 0):
    rng = np.random.default_rng(seed)
    values = centre + 3 * rng.standard_t(3, size=(n_classes, per_class))
    return Observations.of(values.ravel(), np.repeat(np.arange(n_classes), per_class))


@pytest.mark.parametrize("statistic", ["median", "mean", "q75"])
def test_many_classes_at_the_bound_do_not_fail_by_chance(statistic):
    """1,000 classes whose true statistic is exactly the fail level: the point estimate fails
    about half of them; the calibrated verdict (one-sided, Holm over classes) fails none."""
    names = [f"class{i}" for i in range(1000)]
    centre = 4.0 if statistic != "q75" else 4.0 - 3 * 0.7649  # t3's 75th percentile
    observed = _noisy_classes(1000, 30, centre)
    tier = Tiers(metric="leak", statistic=statistic, fail=4, scope="per_class")
    calibrated = judge(tier, observed, names, n_boot=0)
    point = judge(tier.model_copy(update={"confidence": None}), observed, names, n_boot=0)
    assert calibrated.status == "pass", calibrated.message
    assert point.status == "fail"
    assert sum(m.status == "fail" for m in point.per_class.values()) > 250
    assert "1000 of 1000 classes judged, 95% one-sided, Holm-corrected" in calibrated.message
    assert "beyond a level but not significantly" in calibrated.message


def test_a_planted_leak_among_many_classes_is_still_found():
    names = [f"class{i}" for i in range(100)]
    rng = np.random.default_rng(1)
    values = 1.0 + 3 * rng.standard_t(3, size=(100, 30))
    values[7] += 10.0  # one class carries the leak
    observed = Observations.of(values.ravel(), np.repeat(np.arange(100), 30))
    judgement = judge(Tiers(metric="leak", statistic="median", warn=3, fail=4,
                            scope="per_class"), observed, names, n_boot=0)
    assert judgement.status == "fail"
    assert [n for n, m in judgement.per_class.items() if m.status == "fail"] == ["class7"]
    assert judgement.message.startswith("leak median > fail 4 in classes: class7")


def test_classes_with_too_few_images_are_insufficient_data_not_judged():
    values = np.concatenate([np.linspace(0.5, 1.5, 20), [50.0, 60.0, 70.0]])
    labels = np.repeat([0, 1], [20, 3])
    tier = Tiers(metric="leak", statistic="median", fail=4, scope="per_class")
    judgement = judge(tier, Observations.of(values, labels), ["circle", "star"], n_boot=0)
    assert judgement.per_class["star"].status == "insufficient_data"
    assert judgement.per_class["star"].value == 60.0  # measured and shown, not judged
    assert judgement.status == "pass"
    assert "1 of 2 classes judged" in judgement.message
    assert "insufficient data (< 10 images): star" in judgement.message
    per_class: dict[str, ClassResult] = {}
    judge_all([tier], {"leak": Observations.of(values, labels)},
              {"leak": MetricSpec("leak")}, ["circle", "star"]).apply({}, per_class)
    assert per_class["star"].status == "insufficient_data"
    # min_images is the tier's: lowered, the 3 images are judged, yet 3 images cannot prove a
    # median beyond the level at 95% (a sign test needs 5 at least): pass, and the message says.
    lowered = judge(tier.model_copy(update={"min_images": 3}), Observations.of(values, labels),
                    ["circle", "star"], n_boot=0)
    assert lowered.per_class["star"].status == "pass"
    assert "beyond a level but not significantly: star 60" in lowered.message
    alone = judge(tier, Observations.of(values[20:], labels[20:]), ["circle", "star"], n_boot=0)
    assert alone.status == "info" and "no class has 10 images" in alone.message  # not judged


def test_values_that_are_not_per_image_are_judged_as_they_are():
    ranks = Observations.of([1.0, 30.0], [0, 1], per_image=False)
    tier = Tiers(metric="own_class_rank", statistic="min", fail=3, higher_is_better=True,
                 scope="per_class")
    judgement = judge(tier, ranks, ["circle", "star"], n_boot=0)
    assert judgement.per_class["circle"].status == "fail"
    assert judgement.per_class["star"].status == "pass"
