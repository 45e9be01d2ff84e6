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
    assert "fraction within 4.00 0.667 < fail 0.8" in judgement.message
    assert "(classes: star 0)" in judgement.message


def test_per_class_scope_names_the_failing_classes():
    tiers = Tiers(metric="leak", statistic="median", warn=3, fail=4, scope="per_class")
    judgement = judge(tiers, OBSERVED, NAMES, unit="deg")
    assert judgement.overall is None
    assert {k: m.status for k, m in judgement.per_class.items()} == {
        "circle": "pass", "star": "fail", "cross": "warn"}
    assert judgement.message == "leak median > fail 4.00 in classes: star 12.00"


def test_both_scopes_report_overall_value_and_worse_classes():
    tiers = Tiers(metric="leak", statistic="median", warn=3, fail=4)
    judgement = judge(tiers, OBSERVED, NAMES, unit="deg")
    assert judgement.status == "fail" and judgement.overall.status == "warn"
    assert judgement.message == "leak median 3.50 deg > warn 3.00; > fail 4.00 in classes: star 12.00"
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


def test_format_number():
    assert [format_number(v) for v in (9.123, 0.05, 1.2e-7, 12345.0, float("inf"), None)] == [
        "9.12", "0.05", "1.2e-07", "1.2e+04", "inf", "nan"]
