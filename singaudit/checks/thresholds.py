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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from singaudit.maths.stats import bootstrap_ci, is_statistic_name, statistic
from singaudit.results import ClassResult, Metric, Tiers, worst_status


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

    @classmethod
    def of(cls, values: object, labels: object = None) -> Observations:
        array = np.atleast_1d(np.asarray(_numpy(values), dtype=np.float64))
        label_array = None if labels is None else np.asarray(_numpy(labels), dtype=np.int64)
        return cls(array, label_array)


@dataclass
class Judgement:
    """One tier judged: the overall Metric and one Metric per class (when labelled)."""

    tiers: Tiers
    status: str  # worst over the judged scopes
    message: str
    overall: Metric | None
    per_class: dict[str, Metric] = field(default_factory=dict)
    key: str = ""  # where the metric is reported (metric_key)


@dataclass
class Verdict:
    """Every tier of a check judged: its status, its message and the metrics to report."""

    status: str
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
                                     f"got {level:g}")
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
            f"thresholds on {tier.metric!r}: warn {warn:g} is beyond fail {fail:g} ({direction} "
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
    scopes_judged: list[str] = []

    def measure(values: np.ndarray) -> Metric:
        value = statistic(values, tiers.statistic, bound=tiers.bound)
        status = _status(value, higher, warn, fail)
        ci = _ci(values, tiers, n_boot, seed)
        return Metric(value=None if math.isnan(value) else value, statistic=tiers.statistic,
                      unit=unit, higher_is_better=higher, tiers=tiers, status=status, ci=ci,
                      description=description)

    values = observations.values
    labelled = observations.labels is not None and len(observations.labels) == len(values)
    if tiers.scope in ("both", "overall") or not labelled:
        overall = measure(values)
        scopes_judged.append(overall.status or "pass")
    if tiers.scope in ("both", "per_class") and labelled:
        for index, name in enumerate(class_names):
            members = values[observations.labels == index]
            if members.size:
                per_class[name] = measure(members)
                scopes_judged.append(per_class[name].status or "pass")
    status = worst_status(scopes_judged)
    return Judgement(tiers, status, _message(tiers, overall, per_class, status, unit), overall,
                     per_class, metric_key(tiers))


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


def format_number(value: float | None) -> str:
    """Short and readable: 9.12, 0.05, 1.2e-07, inf."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if value == 0:
        return "0"
    magnitude = abs(value)
    if 1 <= magnitude < 1e4:
        return f"{value:.2f}"
    if 0.001 <= magnitude < 1:
        return f"{value:.3g}"
    return f"{value:.1e}"


def _levels(tiers: Tiers) -> tuple[bool, float | None, float | None]:
    if tiers.statistic == "fraction_within":
        fail = tiers.fail if tiers.fail is not None else tiers.mostly
        return True, tiers.warn, fail
    return tiers.higher_is_better, tiers.warn, tiers.fail


def _status(value: float, higher: bool, warn: float | None, fail: float | None) -> str:
    if math.isnan(value):
        return "error"

    def crosses(level: float | None) -> bool:
        return level is not None and (value < level if higher else value > level)

    return "fail" if crosses(fail) else "warn" if crosses(warn) else "pass"


def _ci(values: np.ndarray, tiers: Tiers, n_boot: int, seed: int) -> tuple[float, float] | None:
    # A CI only where a bootstrap means something: several values and a smooth statistic.
    finite = values[np.isfinite(values)]
    if finite.size < 5 or tiers.statistic in ("max", "min"):
        return None
    bound = tiers.bound
    if tiers.statistic in ("median", "mean"):
        return bootstrap_ci(finite, getattr(np, tiers.statistic), n_boot=n_boot, seed=seed)

    def reducer(sample: np.ndarray, axis: int = -1) -> np.ndarray:
        return np.apply_along_axis(lambda row: statistic(row, tiers.statistic, bound=bound), axis,
                                   sample)

    low, high = bootstrap_ci(finite, reducer, n_boot=n_boot, seed=seed)
    return None if math.isnan(low) else (low, high)


def _statistic_words(tiers: Tiers) -> str:
    if tiers.statistic == "fraction_within":
        return f"fraction within {format_number(tiers.bound)}"
    return tiers.statistic


def _message(tiers: Tiers, overall: Metric | None, per_class: dict[str, Metric], status: str,
             unit: str) -> str:
    higher, warn, fail = _levels(tiers)
    unit_text = f" {unit}" if unit and tiers.statistic != "fraction_within" else ""

    def level_text(judged: str | None) -> str:
        if judged == "error":
            return "is undefined (no finite values)"
        if judged in ("fail", "warn"):
            level = fail if judged == "fail" else warn
            return f"{'<' if higher else '>'} {judged} {format_number(level)}"
        name, level = ("warn", warn) if warn is not None else ("fail", fail)
        return f"{'>=' if higher else '<='} {name} {format_number(level)}"

    head = f"{tiers.metric} {_statistic_words(tiers)}"
    offenders = [(name, m.value) for name, m in per_class.items() if m.status == status]
    offenders.sort(key=lambda item: -math.inf if item[1] is None else (item[1] if higher else -item[1]))
    shown = ", ".join(f"{name} {format_number(value)}" for name, value in offenders[:5])
    shown += f" and {len(offenders) - 5} more" if len(offenders) > 5 else ""
    if overall is None:
        if offenders and status != "pass":
            return f"{head} {level_text(status)} in classes: {shown}"
        return f"{head} {level_text('pass')} in all {len(per_class)} classes"
    text = f"{head} {format_number(overall.value)}{unit_text} {level_text(overall.status)}"
    if offenders and status != "pass":
        if overall.status == status:
            text += f" (classes: {shown})"
        else:
            text += f"; {level_text(status)} in classes: {shown}"
    return text


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


def scalar_metric(value: float, spec: MetricSpec) -> Metric:
    """An informational Metric for a single model-level number."""
    value = float(value)
    return Metric(value=None if math.isnan(value) else value, statistic=spec.aggregation,
                  unit=spec.unit, higher_is_better=spec.higher_is_better,
                  description=spec.description)
