"""Two audit runs compared: per model, check, metric and class, the value before and after, the
change with its confidence interval, the status change, and the regression tiers judged.

The interval of a change uses the uncertainty of both runs: a paired bootstrap over the same
images when both runs carry per-image values with identical image keys (check ``data``: a list per
metric beside ``image_keys``), else an independent bootstrap of each run's per-image values, else
the two reported confidence intervals combined (MOVER, Zou & Donner 2008), else none (the point
change is then all there is, and the row says so).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, Field

from singaudit.errors import SingauditError
from singaudit.maths.stats import statistic as named_statistic
from singaudit.regression.comparability import Mismatch, mismatches
from singaudit.regression.tiers import (
    AgreementLevels,
    RegressionSpec,
    RegressionTier,
    former_default,
)
from singaudit.results import (
    AuditResult,
    CheckResult,
    Metric,
    ModelResult,
    Predictions,
    Status,
    level_status,
    worst_status,
)
from singaudit.wording import LEVELS, beyond, fixed, number, significant

DIFF_SCHEMA_VERSION = 1
OVERALL = "overall"
Method = Literal["paired", "bootstrap", "intervals", "point"]

# Per-image values a check does not store under the metric's own name, derived from one it does
# (class_semantics stores the signed AS; leak and |AS| follow from it).
DERIVED_PER_IMAGE = {"leak": ("as", np.negative), "abs_as": ("as", np.abs)}


class NotComparable(SingauditError):
    """Two runs that differ in what makes their numbers comparable."""


class Delta(BaseModel):
    """One statistic of one metric, before and after, overall or within one class."""

    check: str
    metric: str
    scope: str = OVERALL  # "overall" or a class name
    statistic: str | None = None
    unit: str | None = None
    higher_is_better: bool | None = None
    before: float | None = None
    after: float | None = None
    delta: float | None = None  # after - before
    interval: tuple[float, float] | None = None  # of delta
    method: Method = "point"
    n: int | None = None  # images paired (paired) or per run (bootstrap)
    status_before: Status | None = None  # the metric's own status in each run
    status_after: Status | None = None
    # Set when a regression tier judged this row: its verdict, the crossed (or nearest) level.
    verdict: Status | None = None
    bound: float | None = None
    worse_by: float | None = None  # the change in the worse direction (positive: worse)
    tier: str | None = None  # the tier, described

    def explain(self) -> str:
        where = "" if self.scope == OVERALL else f" [{self.scope}]"
        worse = self.worse_by if self.worse_by is not None else self.delta
        interval = ""
        if self.interval is not None and self.delta is not None:
            sign = 1.0 if worse == self.delta else -1.0
            low, high = sorted(sign * v for v in self.interval)
            interval = f" (CI {fixed(low)} to {fixed(high)}, {self.method})"
        bound = ""
        if self.bound is not None and self.verdict in LEVELS:
            bound = f" ({beyond(self.verdict, self.bound)})"
        elif self.bound is not None:
            bound = f" (bound {number(self.bound)})"
        amount = fixed(worse)
        return (f"{self.check}.{self.metric} {self.statistic or ''}{where}: worse than baseline "
                f"by {amount}{interval}{bound}")


class Fact(BaseModel):
    """A structural fact that must not change (or a minimum top-1 agreement)."""

    fact: str
    before: Any = None
    after: Any = None
    status: Status = "skip"
    message: str = ""


class ModelDiff(BaseModel):
    base_model: str
    new_model: str
    status: Status  # worst of the judged tiers and facts; skip when nothing was judged
    status_before: Status
    status_after: Status
    message: str = ""
    failing_classes: list[str] = Field(default_factory=list)  # worst first
    facts: list[Fact] = Field(default_factory=list)
    deltas: list[Delta] = Field(default_factory=list)

    def judged(self, check: str | None = None) -> list[Delta]:
        return [d for d in self.deltas if d.verdict is not None
                and (check is None or d.check == check)]


class RunRef(BaseModel):
    name: str
    path: str | None = None
    started_at: str | None = None
    spec_sha256: str | None = None

    @classmethod
    def of(cls, audit: AuditResult, path: str | None = None) -> RunRef:
        provenance = audit.provenance
        return cls(name=audit.name, path=path, started_at=provenance.get("started_at"),
                   spec_sha256=(provenance.get("spec") or {}).get("sha256"))


class Diff(BaseModel):
    """The diff format (``diff.json``): a baseline run and a candidate run compared."""

    schema_version: int = DIFF_SCHEMA_VERSION
    base: RunRef
    new: RunRef
    status: Status
    mismatches: list[Mismatch] = Field(default_factory=list)  # allowed with --allow-mismatch
    models: list[ModelDiff] = Field(default_factory=list)
    tiers: list[str] = Field(default_factory=list)  # the judged tiers, described

    @property
    def failed(self) -> bool:
        return self.status in ("fail", "error")


# ---------------------------------------------------------------------------- comparing


def compare(
    base: AuditResult,
    new: AuditResult,
    regression: RegressionSpec | None = None,
    *,
    pairs: Sequence[tuple[str, str]] | None = None,
    allow_mismatch: bool = False,
    base_path: str | None = None,
    new_path: str | None = None,
    n_boot: int = 2000,
    ci: float = 0.95,
    seed: int = 0,
) -> Diff:
    """Compare two runs model by model (same names, or the given (base, new) name pairs).
    Raises NotComparable when the runs are not comparable, unless ``allow_mismatch``."""
    regression = regression or RegressionSpec()
    found = mismatches(base, new)
    if found and not (allow_mismatch or regression.allow_mismatch):
        raise NotComparable(
            "the runs are not comparable (" + "; ".join(m.describe() for m in found)
            + "); pass --allow-mismatch (or regression.allow_mismatch: true) to compare anyway")
    if pairs is None:
        names = [m.name for m in new.models if any(b.name == m.name for b in base.models)]
        if not names and len(base.models) == 1 and len(new.models) == 1:
            names_pairs = [(base.models[0].name, new.models[0].name)]
        else:
            names_pairs = [(n, n) for n in names]
    else:
        names_pairs = list(pairs)
    if not names_pairs:
        raise NotComparable(
            f"no model to compare: the baseline has {_names(base)}, the candidate {_names(new)}; "
            "pair them with --pair BASE_MODEL:NEW_MODEL")
    models = []
    for base_name, new_name in names_pairs:
        models.append(compare_models(_model(base, base_name, "baseline"),
                                     _model(new, new_name, "candidate"), regression,
                                     n_boot=n_boot, ci=ci, seed=seed))
    status = worst_status([m.status for m in models])
    # The tiers that judged a row (a former default tier where a baseline predates the default's
    # metric), else the configured ones.
    judged = list(dict.fromkeys(d.tier for m in models for d in m.judged() if d.tier))
    return Diff(base=RunRef.of(base, base_path), new=RunRef.of(new, new_path), status=status,
                mismatches=found, models=models,
                tiers=judged or [t.describe() for t in regression.tiers])


def compare_models(
    base: ModelResult, new: ModelResult, regression: RegressionSpec, *,
    n_boot: int = 2000, ci: float = 0.95, seed: int = 0,
) -> ModelDiff:
    """Every shared metric's change, then the tiers and facts judged."""
    deltas: list[Delta] = []
    base_checks = {c.name: c for c in base.checks}
    for check in new.checks:
        before = base_checks.get(check.name)
        if before is None or check.status in ("skip", "error") or before.status in ("skip",
                                                                                    "error"):
            continue
        deltas.extend(_check_deltas(before, check, n_boot=n_boot, ci=ci, seed=seed))
    new_checks = {c.name: c for c in new.checks}
    notes: list[str] = []
    for tier in regression.tiers:
        before, after = base_checks.get(tier.check), new_checks.get(tier.check)
        if before is None or after is None:
            continue
        tier, note = _readable_tier(tier, before, after)
        if note:
            notes.append(note)
        for delta in _tier_rows(tier, before, after, deltas, n_boot=n_boot, ci=ci, seed=seed):
            _judge(tier, delta)
    facts = [_exact(name, base.info, new.info) for name in regression.exact]
    if regression.top1_agreement is not None:
        facts.append(_agreement(base, new, regression.top1_agreement))
    judged = [d.verdict for d in deltas if d.verdict] + [f.status for f in facts]
    status = worst_status(judged)
    failing = sorted({d.scope for d in deltas if d.verdict == "fail" and d.scope != OVERALL},
                     key=lambda scope: -max(d.worse_by or 0 for d in deltas
                                            if d.scope == scope and d.verdict == "fail"))
    return ModelDiff(base_model=base.name, new_model=new.name, status=status,
                     status_before=base.status, status_after=new.status,
                     message="; ".join([*notes, _message(status, deltas, facts)]),
                     failing_classes=failing, facts=facts, deltas=deltas)


def _message(status: Status, deltas: list[Delta], facts: list[Fact]) -> str:
    worst = [d for d in deltas if d.verdict == status and status in LEVELS]
    worst.sort(key=lambda d: -(d.worse_by or 0))
    parts = [d.explain() for d in worst[:3]]
    if len(worst) > 3:
        parts.append(f"and {len(worst) - 3} more")
    parts += [f.message for f in facts if f.status == status and status in LEVELS]
    if parts:
        return "; ".join(parts)
    judged = [d for d in deltas if d.verdict]
    return (f"{len(judged)} tier row(s) and {sum(f.status != 'skip' for f in facts)} fact(s) "
            "within bounds of the baseline")


def _readable_tier(tier: RegressionTier, before: CheckResult, after: CheckResult
                   ) -> tuple[RegressionTier, str | None]:
    """The tier to judge, and a note when it is not ``tier``: where the baseline (or both runs)
    was written before a default tier's metric existed, the former default tier. NotComparable
    when only the candidate records the tier's metric and no former tier applies."""
    if _records(before, tier.metric):
        return tier, None
    candidate_has_it = _records(after, tier.metric)
    missing = (f"the baseline records no {tier.check}.{tier.metric}"
               + (" (the candidate does)" if candidate_has_it else " (nor does the candidate)")
               + ": written by an older singaudit")
    former = former_default(tier)
    if former is not None and _records(before, former.metric) and _records(after,
                                                                         former.metric):
        return former, (f"{missing}, so judged by the former default tier, "
                        f"{former.describe()}; accept a new baseline to judge {tier.metric}")
    if not candidate_has_it:
        return tier, None  # neither run has the metric: nothing to judge
    raise NotComparable(f"{missing}; accept a new baseline (singaudit baseline accept) or set "
                        "regression.tiers to a metric both runs record")


def _records(check: CheckResult, metric: str) -> bool:
    """Whether a check result has ``metric`` at all: overall, in a class, or per image."""
    return (metric in check.metrics
            or any(metric in entry.metrics for entry in check.per_class.values())
            or per_image(check, metric) is not None)


# ---------------------------------------------------------------------------- deltas


def per_image(check: CheckResult, metric: str) -> tuple[np.ndarray, list[str]] | None:
    """A check's per-image values of ``metric`` with their image keys, when it stores them."""
    keys = check.data.get("image_keys")
    if not isinstance(keys, list) or not keys:
        return None
    values = _floats(check.data.get(metric), len(keys))
    if values is None and metric in DERIVED_PER_IMAGE:
        source, derive = DERIVED_PER_IMAGE[metric]
        stored = _floats(check.data.get(source), len(keys))
        values = None if stored is None else derive(stored)
    return None if values is None else (values, [str(k) for k in keys])


def _floats(values: Any, count: int) -> np.ndarray | None:
    if not isinstance(values, list) or len(values) != count:
        return None
    try:
        return np.array([np.nan if v is None else float(v) for v in values])
    except (TypeError, ValueError):
        return None


def _classes_of(check: CheckResult, keys: list[str]) -> dict[str, str] | None:
    """Image key -> class name, from the check's labels and class names."""
    labels, names = check.data.get("label"), check.data.get("class_names")
    if not isinstance(labels, list) or not isinstance(names, list) or len(labels) != len(keys):
        return None
    return {k: names[int(label)] for k, label in zip(keys, labels, strict=True)
            if isinstance(label, (int, float)) and 0 <= int(label) < len(names)}


def _check_deltas(before: CheckResult, after: CheckResult, *, n_boot: int, ci: float,
                  seed: int) -> list[Delta]:
    rows = []
    scopes = [(OVERALL, before.metrics, after.metrics)] + [
        (name, before.per_class[name].metrics, entry.metrics)
        for name, entry in after.per_class.items() if name in before.per_class]
    for scope, metrics_before, metrics_after in scopes:
        for key, metric in metrics_after.items():
            old = metrics_before.get(key)
            if old is None or not (_number(metric.value) or _number(old.value)):
                continue
            rows.append(_delta(before, after, key, metric.statistic or old.statistic, scope,
                               old, metric, n_boot=n_boot, ci=ci, seed=seed))
    return rows


def _tier_rows(tier: RegressionTier, before: CheckResult, after: CheckResult,
               deltas: list[Delta], *, n_boot: int, ci: float, seed: int) -> list[Delta]:
    """The rows a tier judges (made when the table has no row with its statistic)."""
    scopes = []
    if tier.scope in ("both", "overall"):
        scopes.append(OVERALL)
    if tier.scope in ("both", "per_class"):
        scopes += [name for name in after.per_class if name in before.per_class]
    rows: list[Delta] = []
    for scope in scopes:
        found = next((d for d in deltas if d.check == tier.check and d.metric == tier.metric
                      and d.scope == scope and d.statistic == tier.statistic), None)
        row = found or _delta(before, after, tier.metric, tier.statistic, scope,
                              _metric_in(before, tier, scope), _metric_in(after, tier, scope),
                              n_boot=n_boot, ci=ci, seed=seed)
        _require_finite(row, tier, before, after)
        if found is None:
            if row.delta is None:
                continue
            deltas.append(row)
        rows.append(row)
    return rows


def _require_finite(row: Delta, tier: RegressionTier, before: CheckResult,
                    after: CheckResult) -> None:
    """NotComparable when one run records the tier's metric but has no finite value of it where
    the other has one (a NaN compares false with every level, so it would pass every tier)."""
    for role, check, value, other in (("baseline", before, row.before, row.after),
                                      ("candidate", after, row.after, row.before)):
        if _number(other) and not _number(value) and (
                _metric_in(check, tier, row.scope) is not None
                or per_image(check, tier.metric) is not None):
            where = "" if row.scope == OVERALL else f" [{_short(row.scope)}]"
            raise NotComparable(
                f"the {role} is not comparable: it has no finite value of {row.check}."
                f"{row.metric} {row.statistic or ''}{where} (NaN, infinite or missing) where the "
                f"{'candidate' if role == 'baseline' else 'baseline'} has {significant(other)}")


def _metric_in(check: CheckResult, tier: RegressionTier, scope: str) -> Metric | None:
    metrics = check.metrics if scope == OVERALL else (
        check.per_class[scope].metrics if scope in check.per_class else {})
    for key in (tier.metric, f"{tier.metric}_{tier.statistic}"):
        metric = metrics.get(key)
        if metric is not None and metric.statistic == tier.statistic:
            return metric
    return None


def _delta(before: CheckResult, after: CheckResult, metric: str, statistic: str | None,
           scope: str, old: Metric | None, new: Metric | None, *, n_boot: int, ci: float,
           seed: int) -> Delta:
    recorded = new or old
    row = Delta(check=after.name, metric=metric, scope=scope, statistic=statistic,
                unit=recorded.unit if recorded else None,
                higher_is_better=recorded.higher_is_better if recorded else None,
                before=old.value if old else None, after=new.value if new else None,
                status_before=old.status if old else None,
                status_after=new.status if new else None)
    arrays = _arrays(before, after, metric, scope)
    if arrays is not None and statistic is not None and _reducible(statistic):
        values_before, values_after, paired = arrays
        row.before = named_statistic(values_before, statistic)
        row.after = named_statistic(values_after, statistic)
        row.delta = row.after - row.before
        row.interval = _bootstrap(values_before, values_after, statistic, paired,
                                  n_boot=n_boot, ci=ci, seed=seed)
        row.method = "paired" if paired else "bootstrap"
        row.n = len(values_after) if paired else min(len(values_before), len(values_after))
    elif row.before is not None and row.after is not None and _number(row.before) and _number(
            row.after):
        row.delta = row.after - row.before
        if old is not None and new is not None and old.ci and new.ci:
            row.interval = _mover(row.before, old.ci, row.after, new.ci)
            row.method = "intervals"
    if row.interval is not None and not all(math.isfinite(v) for v in row.interval):
        row.interval, row.method = None, "point"
    return row


def _arrays(before: CheckResult, after: CheckResult, metric: str, scope: str
            ) -> tuple[np.ndarray, np.ndarray, bool] | None:
    """(before, after, paired) per-image values within ``scope``, aligned by image key when the
    two runs audited the same images."""
    old, new = per_image(before, metric), per_image(after, metric)
    if old is None or new is None:
        return None
    (values_before, keys_before), (values_after, keys_after) = old, new
    if scope != OVERALL:
        classes_before, classes_after = _classes_of(before, keys_before), _classes_of(
            after, keys_after)
        if classes_before is None or classes_after is None:
            return None
        keep_before = [i for i, k in enumerate(keys_before) if classes_before.get(k) == scope]
        keep_after = [i for i, k in enumerate(keys_after) if classes_after.get(k) == scope]
        values_before, keys_before = values_before[keep_before], [keys_before[i]
                                                                  for i in keep_before]
        values_after, keys_after = values_after[keep_after], [keys_after[i] for i in keep_after]
    if not np.isfinite(values_before).any() or not np.isfinite(values_after).any():
        return None  # nothing to reduce: the reported values decide (and NaN is refused)
    if len(set(keys_before)) == len(keys_before) and set(keys_before) == set(keys_after):
        position = {k: i for i, k in enumerate(keys_before)}
        order = [position[k] for k in keys_after]
        return values_before[order], values_after, True
    return values_before, values_after, False


def _reducible(statistic: str) -> bool:
    try:
        named_statistic([0.0, 1.0], statistic)
    except SingauditError:
        return False
    return True


def _bootstrap(before: np.ndarray, after: np.ndarray, statistic: str, paired: bool, *,
               n_boot: int, ci: float, seed: int) -> tuple[float, float] | None:
    """Percentile-bootstrap interval of statistic(after) - statistic(before); a paired one
    resamples the same images in both runs."""
    if n_boot <= 0 or len(before) < 2 or len(after) < 2:
        return None
    rng = np.random.default_rng(seed)
    reducer = _vectorised(statistic)
    changes = []
    for start in range(0, n_boot, 250):  # bounds memory to 250 resamples at a time
        count = min(250, n_boot - start)
        rows_after = rng.integers(0, len(after), size=(count, len(after)))
        rows_before = rows_after if paired else rng.integers(0, len(before),
                                                             size=(count, len(before)))
        with warnings.catch_warnings():  # a resample of only NaN: its change is dropped below
            warnings.simplefilter("ignore", RuntimeWarning)
            changes.append(reducer(after[rows_after]) - reducer(before[rows_before]))
    values = np.concatenate(changes)
    values = values[np.isfinite(values)]
    if not values.size:
        return None
    tail = (1 - ci) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return float(low), float(high)


def _vectorised(statistic: str) -> Callable[[np.ndarray], np.ndarray]:
    if statistic == "median":
        return lambda a: np.nanmedian(a, axis=1)
    if statistic == "mean":
        return lambda a: np.nanmean(a, axis=1)
    if statistic in ("min", "max"):
        return lambda a: getattr(np, f"nan{statistic}")(a, axis=1)
    if statistic == "std":
        return lambda a: np.nanstd(a, axis=1, ddof=1)
    percent = float(statistic[1:])
    return lambda a: np.nanpercentile(a, percent, axis=1)


def _mover(before: float, ci_before: tuple[float, float], after: float,
           ci_after: tuple[float, float]) -> tuple[float, float]:
    """Interval of after - before from the two runs' own intervals (MOVER)."""
    change = after - before
    low = change - math.hypot(after - ci_after[0], ci_before[1] - before)
    high = change + math.hypot(ci_after[1] - after, before - ci_before[0])
    return low, high


# ---------------------------------------------------------------------------- judging


def _judge(tier: RegressionTier, row: Delta) -> None:
    """The tier's verdict on one row: a level is crossed when the whole interval of the
    worsening lies above it (the point change when there is no interval)."""
    if row.delta is None:
        return
    sign = tier.worse_sign
    row.worse_by = sign * row.delta
    lowest = row.worse_by
    if row.interval is not None:
        lowest = min(sign * row.interval[0], sign * row.interval[1])
    levels = tier.levels
    row.tier = tier.describe()
    row.verdict = level_status(lowest, warn=levels.warn, fail=levels.fail)
    row.bound = levels.warn if row.verdict == "warn" or levels.fail is None else levels.fail


def _exact(name: str, before: dict[str, Any], after: dict[str, Any]) -> Fact:
    if name not in before or name not in after:
        return Fact(fact=name, before=before.get(name), after=after.get(name), status="skip",
                    message=f"{name} not recorded in both runs")
    same = before[name] == after[name]
    return Fact(fact=name, before=before[name], after=after[name],
                status="pass" if same else "fail",
                message=f"{name} is {after[name]}" if same else
                f"{name} changed: {before[name]} -> {after[name]} (must be identical)")


def _agreement(base: ModelResult, new: ModelResult, levels: AgreementLevels) -> Fact:
    """Share of the shared audit images on which both models predict the same class (each
    model's ``predictions``)."""
    predictions = []
    for model in (base, new):
        recorded = model.predictions or _older_predictions(model)
        if recorded is None or len(recorded.image_keys) != len(recorded.top1):
            return Fact(fact="top1_agreement", status="skip",
                        message="top-1 predictions not recorded in both runs")
        predictions.append(dict(zip(recorded.image_keys, recorded.top1, strict=True)))
    shared = [k for k in predictions[1] if k in predictions[0]]
    if not shared:
        return Fact(fact="top1_agreement", status="skip", message="no audit image in common")
    agreement = float(np.mean([predictions[0][k] == predictions[1][k] for k in shared]))
    status = level_status(agreement, warn=levels.warn, fail=levels.fail, higher_is_better=True)
    message = f"top-1 agreement with the baseline {fixed(agreement, 3)} on {len(shared)} images"
    if status in LEVELS:
        bound = levels.fail if status == "fail" else levels.warn
        message += f" ({beyond(status, bound, higher_is_better=True)})"
    return Fact(fact="top1_agreement", before=1.0, after=agreement, status=status,
                message=message)


def _older_predictions(model: ModelResult) -> Predictions | None:
    """A results file older than schema 3 kept each image's top-1 in a check's data, beside the
    image keys (whichever check did: the keys are the contract, not the check)."""
    for check in model.checks:
        keys, top1 = check.data.get("image_keys"), check.data.get("top1")
        if isinstance(keys, list) and isinstance(top1, list) and len(keys) == len(top1):
            try:
                return Predictions(image_keys=[str(k) for k in keys], top1=top1)
            except ValueError:
                return None
    return None


# ---------------------------------------------------------------------------- helpers


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _model(audit: AuditResult, name: str, role: str) -> ModelResult:
    for model in audit.models:
        if model.name == name:
            return model
    raise NotComparable(f"the {role} run {_short(audit.name)!r} has no model {_short(name)!r} "
                        f"(it has {_names(audit)})")


def _short(name: str, limit: int = 80) -> str:
    """A name on one line and cut for a one-line message."""
    name = " ".join(name.split())
    return name if len(name) <= limit else name[: limit - 1] + "\u2026"


def _names(audit: AuditResult, shown: int = 10) -> str:
    names = [_short(m.name) for m in audit.models[:shown]]
    if len(audit.models) > shown:
        names.append(f"and {len(audit.models) - shown} more")
    return ", ".join(names) or "no models"
