"""Judging a metric's values against pass / warn / fail tiers, overall and per class.

A tier compares one statistic of a metric (median, mean, min, max, std, qNN, or
fraction_within: the share of values <= ``bound``) with its ``warn`` and ``fail`` levels. Lower is
better unless ``higher_is_better`` (unset: the metric's own direction). A fraction_within is
always judged higher-is-better, with ``mostly`` as its fail level when ``fail`` is not given
(great_expectations' ``mostly``). Crossing is strict: ``value > fail`` fails (``<`` if higher is
better). ``scope`` judges over all images, within each class, or both.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from singaudit.maths.stats import (
    bootstrap_ci,
    bootstrap_ci_rows,
    exceedance_p_values,
    holm_adjusted,
    is_statistic_name,
    statistic,
)
from singaudit.results import (
    STATUS_ORDER,
    ClassResult,
    Metric,
    Status,
    Tiers,
    level_status,
    worst_status,
)
from singaudit.wording import LEVELS, beyond, percent, within
from singaudit.wording import number as format_number  # the one wording of numbers


@dataclass(frozen=True)
class MetricSpec:
    """What a metric means, so runner, reports and JUnit need no special cases."""

    description: str
    unit: str = "deg"
    higher_is_better: bool | None = None  # None: informational
    aggregation: str = "median"


@dataclass
class Observations:
    """The values of one metric: per image (or per class) with optional class labels."""

    values: np.ndarray  # (n,); a single value for a model-level metric
    labels: np.ndarray | None = None  # (n,) indices into the class names; None: no per-class view
    # False: one value per class (e.g. a rank), judged as it is, not as a sample of images.
    per_image: bool = True

    @classmethod
    def of(cls, values: object, labels: object = None, *, per_image: bool = True
           ) -> Observations:
        array = np.atleast_1d(np.asarray(_numpy(values), dtype=np.float64))
        label_array = None if labels is None else np.asarray(_numpy(labels), dtype=np.int64)
        return cls(array, label_array, per_image)


@dataclass
class Judgement:
    """One tier judged: the overall Metric and one Metric per class (when labelled)."""

    tiers: Tiers
    status: Status  # worst over the judged scopes
    message: str
    overall: Metric | None
    per_class: dict[str, Metric] = field(default_factory=dict)
    key: str = ""  # where the metric is reported (metric_key)


@dataclass
class Verdict:
    """Every tier of a check judged: its status, its message and the metrics to report."""

    status: Status
    message: str
    judgements: list[Judgement]

    def explain(self, summary: str) -> str:
        """The check's message: what the tiers found, then the check's own summary."""
        return f"{self.message}; {summary}" if self.message else summary

    def apply(self, metrics: dict[str, Metric], per_class: dict[str, ClassResult]) -> None:
        """Add the judged metrics to a CheckResult's metrics and per-class results in place."""
        for judgement in self.judgements:
            if judgement.overall is not None:
                metrics[judgement.key] = judgement.overall
            elif judgement.key in metrics:  # judged per class only: the worst class speaks for it
                metrics[judgement.key] = metrics[judgement.key].model_copy(
                    update={"tiers": judgement.tiers, "status": judgement.status})
            for name, metric in judgement.per_class.items():
                entry = per_class.setdefault(name, ClassResult())
                entry.metrics[judgement.key] = metric
                entry.status = worst_status([s for s in (entry.status, metric.status) if s])


def metric_key(tiers: Tiers, default_statistic: str | None = None) -> str:
    """The metrics key of a judged tier: the metric's own name when the statistic is the one
    it is reported with (e.g. "leak" for its median), else e.g. "leak_q90", "leak_within_4"."""
    if tiers.statistic == default_statistic:
        return tiers.metric
    if tiers.statistic == "fraction_within":
        return f"{tiers.metric}_within_{tiers.bound:g}"
    return f"{tiers.metric}_{tiers.statistic}"


def validate_tiers(tiers: list[Tiers] | None, metrics: Mapping[str, MetricSpec]) -> list[Tiers] | None:
    """Spec-time validation (raise ValueError so pydantic reports the key path)."""
    for tier in tiers or []:
        if tier.metric not in metrics:
            raise ValueError(
                f"unknown metric {tier.metric!r} in thresholds; this check reports: "
                f"{', '.join(sorted(metrics))}"
            )
        if not is_statistic_name(tier.statistic):
            raise ValueError(
                f"unknown statistic {tier.statistic!r}; use median, mean, min, max, std, "
                "qNN (e.g. q90) or fraction_within"
            )
        if tier.statistic == "fraction_within":
            if tier.bound is None:
                raise ValueError("statistic fraction_within needs a bound (values <= bound count)")
            if tier.warn is None and tier.fail is None and tier.mostly is None:
                raise ValueError("fraction_within needs mostly, warn or fail (a fraction in [0, 1])")
            for name in ("warn", "fail"):
                level = getattr(tier, name)
                if level is not None and not 0 <= level <= 1:
                    raise ValueError(f"fraction_within's {name} is a fraction in [0, 1]; "
                                     f"got {format_number(level)}")
        elif tier.warn is None and tier.fail is None:
            raise ValueError(f"thresholds on {tier.metric!r} set neither warn nor fail")
        _consistent_levels(tier, metrics[tier.metric])
    return tiers


def _consistent_levels(tier: Tiers, spec: MetricSpec) -> None:
    """Warn must come before fail in the tier's direction (else the warn tier is unreachable
    and the spec probably swapped the two)."""
    higher, warn, fail = _levels(_with_direction(tier, spec))
    if warn is None or fail is None:
        return
    if (warn < fail) if higher else (warn > fail):
        direction = "higher" if higher else "lower"
        raise ValueError(
            f"thresholds on {tier.metric!r}: warn {format_number(warn)} is beyond fail "
            f"{format_number(fail)} ({direction} "
            f"is better, so warn must be {'>=' if higher else '<='} fail)")


def _with_direction(tier: Tiers, spec: MetricSpec | None) -> Tiers:
    """The tier with the metric's own direction unless the spec set higher_is_better."""
    if "higher_is_better" not in tier.model_fields_set and spec and spec.higher_is_better:
        return tier.model_copy(update={"higher_is_better": True})
    return tier


def judge(
    tiers: Tiers, observations: Observations, class_names: Sequence[str], *, unit: str = "",
    description: str | None = None, n_boot: int = 500, seed: int = 0,
) -> Judgement:
    """Judge one tier overall and/or per class (per class needs labelled observations)."""
    higher, warn, fail = _levels(tiers)
    overall = None
    per_class: dict[str, Metric] = {}
    scopes_judged: list[Status] = []

    def measure(values: np.ndarray, ci: tuple[float, float] | None | bool = False) -> Metric:
        value = statistic(values, tiers.statistic, bound=tiers.bound)
        status = _status(value, higher, warn, fail)
        ci = _ci(values, tiers, n_boot, seed) if ci is False else ci
        return Metric(value=None if math.isnan(value) else value, statistic=tiers.statistic,
                      unit=unit, higher_is_better=higher, tiers=tiers, status=status, ci=ci,
                      description=description)

    values = observations.values
    labelled = observations.labels is not None and len(observations.labels) == len(values)
    if tiers.scope in ("both", "overall") or not labelled:
        overall = measure(values)
        scopes_judged.append(overall.status or "pass")
    classes = ClassVerdicts([], [], [])
    if tiers.scope in ("both", "per_class") and labelled:
        groups = {name: values[observations.labels == index]
                  for index, name in enumerate(class_names)}
        groups = {name: members for name, members in groups.items() if members.size}
        classes = class_verdicts(list(groups.values()), tiers, per_image=observations.per_image)
        intervals = _ci_rows(list(groups.values()), tiers, n_boot, seed)
        for (name, members), status, p_value, ci in zip(groups.items(), classes.statuses,
                                                        classes.p_values, intervals, strict=True):
            per_class[name] = measure(members, ci).model_copy(
                update={"status": status, "p_value": p_value})
            if status != "insufficient_data":
                scopes_judged.append(status)
        if not any(s != "insufficient_data" for s in classes.statuses) and overall is None:
            scopes_judged.append("info")  # no class had enough images: measured, not judged
    status = worst_status(scopes_judged)
    point = dict(zip(per_class, classes.point_statuses, strict=True))
    return Judgement(tiers, status, _message(tiers, overall, per_class, status, unit, point),
                     overall, per_class, metric_key(tiers))


@dataclass
class ClassVerdicts:
    """Per class: the calibrated status, its Holm-adjusted p-value, the point estimate's status."""

    statuses: list[Status]
    p_values: list[float | None]
    point_statuses: list[Status]


def class_verdicts(groups: Sequence[np.ndarray], tiers: Tiers, *, per_image: bool = True
                   ) -> ClassVerdicts:
    """Judge each class (one array of per-image values each) against one tier, direction applied.

    A class with fewer than ``tiers.min_images`` finite values is "insufficient_data". A judged
    class crosses a level only when its point estimate does and a one-sided test
    (maths.stats.exceedance_p_values) rejects "at or within the level" at ``tiers.confidence``
    after Holm's correction over the classes judged, so an audit of 1,000 classes fails by
    chance no more often than one of 16. Statistics without a test (max, min, std), values that
    are not per image, and ``confidence: null`` are judged on the point estimate alone.
    """
    higher, warn, fail = _levels(tiers)
    finite = [np.asarray(g, dtype=np.float64)[~np.isnan(g)] for g in groups]
    counts = [g.size for g in finite]
    padded = np.full((len(groups), max(counts, default=0)), np.nan)  # one row per class
    for row, values in enumerate(finite):
        padded[row, : values.size] = values
    estimates = [statistic(g, tiers.statistic, bound=tiers.bound) for g in finite] if len(
        groups) < 64 else _row_statistics(padded, tiers)
    point = [_status(v, higher, warn, fail) for v in estimates]
    statuses: list[Status] = [s if not per_image or n >= tiers.min_images else "insufficient_data"
                for s, n in zip(point, counts, strict=True)]
    p_values: list[float | None] = [None] * len(groups)
    judged = [i for i, s in enumerate(statuses) if s not in ("insufficient_data", "error")]
    if not per_image or tiers.confidence is None or not judged:
        return ClassVerdicts(statuses, p_values, point)
    matrix = padded[judged]
    adjusted: dict[str, np.ndarray] = {}
    for name, level in (("fail", fail), ("warn", warn)):
        if level is None:
            continue
        p = exceedance_p_values(matrix, tiers.statistic, level, higher_is_better=higher,
                                bound=tiers.bound)
        if p is None:  # a statistic without a test: the point estimate decides
            return ClassVerdicts(statuses, p_values, point)
        adjusted[name] = holm_adjusted(p)
    alpha = 1 - tiers.confidence
    for row, i in enumerate(judged):
        beyond = {name: bool(p[row] <= alpha) for name, p in adjusted.items()}
        if point[i] == "fail" and beyond.get("fail"):
            statuses[i] = "fail"
        elif point[i] in ("fail", "warn") and beyond.get("warn", False):
            statuses[i] = "warn"
        else:
            statuses[i] = "pass"
        p_values[i] = float(adjusted["fail" if "fail" in adjusted else "warn"][row])
    return ClassVerdicts(statuses, p_values, point)


def judge_all(
    tiers_list: Sequence[Tiers], observations: Mapping[str, Observations],
    specs: Mapping[str, MetricSpec], class_names: Sequence[str], *, seed: int = 0,
) -> Verdict:
    """Judge every tier; the status is the worst, the message that of the worst tiers."""
    judgements = []
    for tier in tiers_list:
        if tier.metric not in observations:
            available = ", ".join(sorted(observations)) or "(none)"
            judgements.append(Judgement(
                tier, "error", f"no values for metric {tier.metric!r} (available: {available})",
                None, key=metric_key(tier)))
            continue
        spec = specs.get(tier.metric)
        tier = _with_direction(tier, spec)
        judgement = judge(tier, observations[tier.metric], class_names,
                          unit=spec.unit if spec else "",
                          description=spec.description if spec else None, seed=seed)
        judgement.key = metric_key(tier, spec.aggregation if spec else None)
        judgements.append(judgement)
    status = worst_status([j.status for j in judgements]) if judgements else "info"
    worst = [j.message for j in judgements if j.status == status]
    return Verdict(status, "; ".join(worst), judgements)


def _levels(tiers: Tiers) -> tuple[bool, float | None, float | None]:
    if tiers.statistic == "fraction_within":
        fail = tiers.fail if tiers.fail is not None else tiers.mostly
        return True, tiers.warn, fail
    return tiers.higher_is_better, tiers.warn, tiers.fail


def _status(value: float, higher: bool, warn: float | None, fail: float | None) -> Status:
    if math.isnan(value):
        return "error"

    return level_status(value, warn=warn, fail=fail, higher_is_better=higher)


def _ci(values: np.ndarray, tiers: Tiers, n_boot: int, seed: int) -> tuple[float, float] | None:
    # A CI only where a bootstrap means something: several values and a smooth statistic.
    finite = values[np.isfinite(values)]
    if finite.size < 5 or tiers.statistic in ("max", "min") or n_boot == 0:
        return None
    bound = tiers.bound
    if tiers.statistic in ("median", "mean"):
        return bootstrap_ci(finite, getattr(np, tiers.statistic), n_boot=n_boot, seed=seed)

    def reducer(sample: np.ndarray, axis: int = -1) -> np.ndarray:
        return np.apply_along_axis(lambda row: statistic(row, tiers.statistic, bound=bound), axis,
                                   sample)

    low, high = bootstrap_ci(finite, reducer, n_boot=n_boot, seed=seed)
    return None if math.isnan(low) else (low, high)


def _ci_rows(groups: list[np.ndarray], tiers: Tiers, n_boot: int, seed: int
             ) -> list[tuple[float, float] | None]:
    """_ci of every group, resampled together (one bootstrap per group size, not per class)."""
    finite = [g[np.isfinite(g)] for g in groups]
    wanted = [i for i, g in enumerate(finite) if g.size >= 5]
    intervals: list[tuple[float, float] | None] = [None] * len(groups)
    if not wanted or tiers.statistic in ("max", "min") or n_boot == 0:
        return intervals
    bound = tiers.bound
    if tiers.statistic in ("median", "mean"):
        reducer = getattr(np, tiers.statistic)
    else:
        def reducer(sample: np.ndarray, axis: int = -1) -> np.ndarray:
            return np.apply_along_axis(
                lambda row: statistic(row, tiers.statistic, bound=bound), axis, sample)
    found = bootstrap_ci_rows([finite[i] for i in wanted], reducer, n_boot=n_boot, seed=seed)
    for i, (low, high) in zip(wanted, found, strict=True):
        keep = tiers.statistic in ("median", "mean") or not math.isnan(low)
        intervals[i] = (low, high) if keep else None
    return intervals


def _statistic_words(tiers: Tiers) -> str:
    if tiers.statistic == "fraction_within":
        return f"fraction within {format_number(tiers.bound)}"
    return tiers.statistic


def _row_statistics(padded: np.ndarray, tiers: Tiers) -> list[float]:
    """statistic() of every row at once (NaN = no value), for audits with many classes."""
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows give NaN, as statistic()
        name = tiers.statistic
        if name == "fraction_within":
            n = (~np.isnan(padded)).sum(axis=1)
            values = np.where(n > 0, (padded <= tiers.bound).sum(axis=1) / np.maximum(n, 1),
                              np.nan)
        elif name in ("median", "mean", "max", "min"):
            values = getattr(np, f"nan{name}")(padded, axis=1)
        elif name == "std":
            values = np.nanstd(padded, axis=1, ddof=1)
        else:
            values = np.nanpercentile(padded, float(name[1:]), axis=1)
    return [float(v) for v in values]


def _message(tiers: Tiers, overall: Metric | None, per_class: dict[str, Metric], status: Status,
             unit: str, point: dict[str, Status] | None = None) -> str:
    higher, warn, fail = _levels(tiers)
    unit_text = f" {unit}" if unit and tiers.statistic != "fraction_within" else ""

    def level_text(judged: str | None) -> str:
        if judged == "error":
            return "is undefined (no finite values)"
        if judged in LEVELS:
            return beyond(judged, fail if judged == "fail" else warn, higher_is_better=higher)
        name, level = ("warn", warn) if warn is not None else ("fail", fail)
        return within(name, level, higher_is_better=higher)

    def rank(name: str) -> float:
        value = per_class[name].value
        if value is None:
            return -math.inf
        return value if higher else -value

    def listed(names: list[str]) -> str:
        ranked = sorted(names, key=rank)
        shown = ", ".join(f"{n} {format_number(per_class[n].value)}" for n in ranked[:5])
        return shown + (f" and {len(ranked) - 5} more" if len(ranked) > 5 else "")

    head = f"{tiers.metric} {_statistic_words(tiers)}"
    offenders = [name for name, m in per_class.items() if m.status == status]
    classes = _class_note(tiers, per_class, point or {}, listed)
    if overall is None:
        if offenders and status not in ("pass", "info"):
            return f"{head} {level_text(status)} in classes: {listed(offenders)}{classes}"
        judged = [n for n, m in per_class.items() if m.status != "insufficient_data"]
        if not judged:
            return f"{head}: no class has {tiers.min_images} images to be judged{classes}"
        return f"{head} {level_text('pass')} in every class judged{classes}"
    text = f"{head} {format_number(overall.value)}{unit_text} {level_text(overall.status)}"
    if offenders and status != "pass":
        if overall.status == status:
            text += f" (classes: {listed(offenders)})"
        else:
            text += f"; {level_text(status)} in classes: {listed(offenders)}"
    return text + classes


def _class_note(tiers: Tiers, per_class: dict[str, Metric], point: dict[str, Status],
                listed: Callable[[list[str]], str]) -> str:
    """How the classes were judged: how many, at what confidence, which were not judged and
    which crossed a level only by their point estimate."""
    if not per_class:
        return ""
    judged = [n for n, m in per_class.items() if m.status != "insufficient_data"]
    calibrated = any(m.p_value is not None for m in per_class.values())
    parts = [f"{len(judged)} of {len(per_class)} classes judged"]
    if calibrated:
        parts.append(f"{percent(tiers.confidence)} one-sided, Holm-corrected")
    unproven = [n for n in judged if STATUS_ORDER[point.get(n, "pass")] >
                STATUS_ORDER[per_class[n].status or "pass"]]
    note = f" ({', '.join(parts)})"
    if unproven:
        note += f"; beyond a level but not significantly: {listed(unproven)}"
    scarce = [n for n, m in per_class.items() if m.status == "insufficient_data"]
    if scarce:
        note += (f"; insufficient data (< {tiers.min_images} images): "
                 f"{', '.join(scarce[:5])}{' and more' if len(scarce) > 5 else ''}")
    return note


def _numpy(values: object) -> object:
    if hasattr(values, "detach"):
        return values.detach().cpu().double().numpy()
    return values


def summary_metric(values: object, spec: MetricSpec, *, n_boot: int = 1000, seed: int = 0,
                   ci: float = 0.95) -> Metric:
    """An informational Metric: the spec's aggregation of the values, with a bootstrap CI."""
    array = np.atleast_1d(np.asarray(_numpy(values), dtype=np.float64))
    value = statistic(array, spec.aggregation)
    interval = None
    finite = array[np.isfinite(array)]
    if finite.size >= 5 and spec.aggregation in ("median", "mean"):
        low, high = bootstrap_ci(finite, getattr(np, spec.aggregation), ci=ci, n_boot=n_boot,
                                 seed=seed)
        interval = (low, high)
    return Metric(value=None if math.isnan(value) else value, statistic=spec.aggregation,
                  unit=spec.unit, higher_is_better=spec.higher_is_better, ci=interval,
                  description=spec.description)


def class_summary_metrics(values: object, labels: object, class_names: Sequence[str],
                          spec: MetricSpec, *, n_boot: int = 1000, seed: int = 0,
                          ci: float = 0.95) -> dict[str, Metric]:
    """``summary_metric`` of each class's values (classes without images left out), the CIs
    resampled together: one bootstrap per class size instead of one per class."""
    array = np.atleast_1d(np.asarray(_numpy(values), dtype=np.float64))
    labels = np.asarray(labels)
    order = np.argsort(labels, kind="stable")  # one pass: no labels == index per class
    present, starts = np.unique(labels[order], return_index=True)
    groups = np.split(array[order], starts[1:])
    named = [(class_names[int(label)], group) for label, group in zip(present, groups, strict=True)
             if 0 <= label < len(class_names)]
    smooth = spec.aggregation in ("median", "mean")
    wanted = [i for i, (_, group) in enumerate(named)
              if smooth and np.isfinite(group).sum() >= 5]
    found = bootstrap_ci_rows([named[i][1][np.isfinite(named[i][1])] for i in wanted],
                              getattr(np, spec.aggregation) if smooth else np.median, ci=ci,
                              n_boot=n_boot, seed=seed) if wanted else []
    intervals = dict(zip(wanted, found, strict=True))
    metrics = {}
    for i, (name, group) in enumerate(named):
        value = statistic(group, spec.aggregation)
        metrics[name] = Metric(value=None if math.isnan(value) else value,
                               statistic=spec.aggregation, unit=spec.unit,
                               higher_is_better=spec.higher_is_better, ci=intervals.get(i),
                               description=spec.description)
    return metrics


def scalar_metric(value: float, spec: MetricSpec) -> Metric:
    """An informational Metric for a single model-level number."""
    value = float(value)
    return Metric(value=None if math.isnan(value) else value, statistic=spec.aggregation,
                  unit=spec.unit, higher_is_better=spec.higher_is_better,
                  description=spec.description)
