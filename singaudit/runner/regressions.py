"""Regression tiers judged into a run's results: a ``regression`` check for each model that has a
baseline (``models[].baseline``, or the audit's run in ``regression.store``). The comparing is
singaudit.regression's; the runner only finds the baselines and adds the verdicts."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from singaudit.errors import SingauditError
from singaudit.regression.comparability import mismatches
from singaudit.regression.diff import OVERALL, ModelDiff, NotComparable, compare_models
from singaudit.regression.store import is_url, read_results, resolve
from singaudit.regression.tiers import DEFAULT_STORE, RegressionSpec
from singaudit.results import (
    AuditResult,
    CheckResult,
    ClassResult,
    Metric,
    ModelResult,
    worst_status,
)

if TYPE_CHECKING:
    from singaudit.spec.models import AuditSpec

CHECK_NAME = "regression"
REFUSED = "refused"  # data key of a regression check whose baseline was refused


def _exists(path: Path | str) -> bool:
    """A URL is fetched (and its problems reported); a path must name an existing file."""
    return is_url(path) or Path(path).is_file()


def baseline_path(spec: AuditSpec, model_name: str) -> Path | str | None:
    """Where a model's baseline run is, or None when the model has none."""
    model = spec.model_by_name(model_name)
    regression = spec.regression
    store = (regression.store if regression and regression.store else None)
    if model.baseline is not None:
        return resolve(model.baseline, store or DEFAULT_STORE)
    if store is not None:
        return resolve(spec.name, store)
    return None


def with_regressions(audit: AuditResult, spec: AuditSpec) -> AuditResult:
    """``audit`` with a ``regression`` check added to each model that has a baseline, and the
    model and audit statuses judged again."""
    if not any(baseline_path(spec, model.name) for model in audit.models):
        return audit
    judge_baselines(audit, spec)
    models = [m.rejudged(m.checks) for m in audit.models]
    return AuditResult.from_models(name=audit.name, models=models,
                                   data_issues=audit.data_issues, provenance=audit.provenance)


def judge_baselines(audit: AuditResult, spec: AuditSpec) -> None:
    """Append a ``regression`` check to each model of ``audit`` that has a baseline (in place;
    the statuses are left to the caller)."""
    regression = spec.regression or RegressionSpec()
    baselines: dict[Path | str, AuditResult | SingauditError] = {}
    for model in audit.models:
        path = baseline_path(spec, model.name)
        if path is None:
            continue
        if path not in baselines:
            try:
                baselines[path] = read_results(path) if _exists(path) else SingauditError(
                    f"no baseline at {path} yet; accept a run with `singaudit baseline accept "
                    "reports/NAME/results.json`")
            except SingauditError as error:
                baselines[path] = error
        model.checks.append(_judge(model, spec, baselines[path], audit, path, regression))


def _judge(model: ModelResult, spec: AuditSpec, baseline: AuditResult | SingauditError,
           audit: AuditResult, path: Path | str, regression: RegressionSpec) -> CheckResult:
    if isinstance(baseline, SingauditError):
        if not _exists(path):
            return CheckResult(name=CHECK_NAME, status="skip", message=str(baseline),
                               data={"baseline": str(path)})
        return _refused(path, str(baseline))
    name = spec.model_by_name(model.name).baseline_model or model.name
    base_model = next((m for m in baseline.models if m.name == name), None)
    if base_model is None:
        names = [m.name if len(m.name) <= 80 else m.name[:79] + "\u2026"
                 for m in baseline.models[:10]]
        more = f" and {len(baseline.models) - 10} more" if len(baseline.models) > 10 else ""
        return _refused(path, f"the baseline {path} has no model {name!r} (it has "
                              f"{', '.join(names)}{more}); set baseline_model")
    found = mismatches(baseline, audit)
    if found and not regression.allow_mismatch:
        return _refused(path, "not comparable with the baseline ("
                              + "; ".join(m.describe() for m in found)
                              + "); set regression.allow_mismatch: true to compare anyway")
    try:
        diff = compare_models(base_model, model, regression, seed=spec.seed)
    except NotComparable as error:
        return _refused(path, f"{path}: {error}")
    return as_check(diff, path, [m.describe() for m in found])


def _refused(path: Path | str, message: str) -> CheckResult:
    """A baseline that cannot be judged against, for a reason the user fixes (unreadable, not
    comparable, no such model): an error that front ends report as a usage error."""
    return CheckResult(name=CHECK_NAME, status="error", message=message,
                       data={"baseline": str(path), REFUSED: True})


def refused_baselines(audit: AuditResult) -> list[str]:
    """One line per model whose baseline was refused (see _refused), naming why."""
    return [f"{model.name}::{check.name}: {check.message}" for model in audit.models
            for check in model.checks
            if check.name == CHECK_NAME and check.status == "error" and check.data.get(REFUSED)]


def as_check(diff: ModelDiff, path: Path | str, mismatched: list[str]) -> CheckResult:
    """A model's diff as a check result: judged changes as metrics, overall and per class."""
    metrics: dict[str, Metric] = {}
    per_class: dict[str, ClassResult] = {}
    for delta in diff.judged():
        increase_is_worse = delta.worse_by == delta.delta
        metric = Metric(value=delta.delta, statistic=f"change of {delta.statistic}",
                        unit=delta.unit, higher_is_better=not increase_is_worse,
                        status=delta.verdict, ci=delta.interval, description=delta.tier)
        key = f"{delta.check}.{delta.metric}"
        if delta.scope == OVERALL:
            metrics[key] = metric
        else:
            entry = per_class.setdefault(delta.scope, ClassResult())
            entry.metrics[key] = metric
            entry.status = worst_status([s for s in (entry.status, delta.verdict) if s])
    for fact in diff.facts:
        if isinstance(fact.after, (int, float)) and not isinstance(fact.after, bool):
            metrics[f"fact.{fact.fact}"] = Metric(value=float(fact.after), status=fact.status,
                                                  description=fact.message)
    prefix = f"vs baseline {diff.base_model} in {path}"
    if mismatched:
        prefix += f" (despite: {'; '.join(mismatched)})"
    return CheckResult(name=CHECK_NAME, status=diff.status, message=f"{prefix}: {diff.message}",
                       metrics=metrics, per_class=per_class,
                       data={"baseline": str(path), "diff": diff.model_dump(mode="json")})


def regressions_of(model: ModelResult, check_name: str) -> tuple[str, list[str]] | None:
    """The regression verdict on one check of a judged model: (status, one line per failing or
    warning row, plus changed facts and refusals); None when the model has no baseline judged."""
    judged = next((c for c in model.checks if c.name == CHECK_NAME), None)
    if judged is None:
        return None
    if judged.status in ("skip", "error"):
        return judged.status, [judged.message]
    diff = ModelDiff.model_validate(judged.data["diff"])
    rows = [d for d in diff.judged(check_name) if d.verdict in ("warn", "fail")]
    facts = [f for f in diff.facts if f.status in ("warn", "fail")]
    status = worst_status([d.verdict for d in diff.judged(check_name) if d.verdict]
                          + [f.status for f in diff.facts if f.status != "skip"])
    rows.sort(key=lambda d: (d.verdict != "fail", -(d.worse_by or 0.0)))
    return status, [d.explain() for d in rows] + [f.message for f in facts]
