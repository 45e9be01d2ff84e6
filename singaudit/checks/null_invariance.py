"""Null invariance: is the head's null space really invisible to the logits?

Null removal (f_eq = P_p f) must leave the logits equal (relative change at float round-off) and
the top-1 class unchanged; matched-norm perturbations inside the null space must change the
logits orders of magnitude less than random or principal ones of the same norm.
"""

from __future__ import annotations

from typing import ClassVar, Literal, TypedDict

import numpy as np
from pydantic import Field, field_validator

from singaudit.checks.base import (
    Check,
    CheckParams,
    Measurements,
    MetricSpec,
    ModelContext,
    as_array,
)
from singaudit.checks.thresholds import (
    Observations,
    format_number,
    scalar_metric,
    summary_metric,
)
from singaudit.results import ClassResult, Tiers

PERTURBATIONS = ("null", "random", "principal")


class NullInvarianceData(TypedDict):
    """The check's data: what its report figure reads (``logit_change_*``, per image at the
    first budget) and what a regression diff pairs across runs (``image_keys``)."""

    logit_change_null: list[float]
    logit_change_random: list[float]
    logit_change_principal: list[float]
    budgets: list[float]
    relative: bool
    by_budget: dict[str, dict[str, list[float]]]  # budget -> perturbation kind -> per image
    removal_relative_change: list[float]
    null_energy: list[float]
    label: list[int]
    class_names: list[str]
    image_keys: list[str]

METRICS: dict[str, MetricSpec] = {
    "null_dim": MetricSpec("dimension of the head's null space", unit="", aggregation="max"),
    "null_energy": MetricSpec("||P_n f|| / ||f||: share of the feature in the null space", unit=""),
    "removal_relative_change": MetricSpec(
        "||l(f_eq) - l(f)|| / ||l(f)|| after null removal", unit="", higher_is_better=False,
        aggregation="max"),
    "top1_unchanged": MetricSpec("fraction of images whose top-1 class survives null removal",
                                 unit="", higher_is_better=True, aggregation="mean"),
    "logit_change_null": MetricSpec("||W delta|| for a null-space delta of the budget's norm",
                                    unit="", higher_is_better=False),
    "logit_change_random": MetricSpec("||W delta|| for an isotropic delta of the budget's norm",
                                      unit=""),
    "logit_change_principal": MetricSpec(
        "||W delta|| for a principal-subspace delta of the budget's norm", unit=""),
    "separation_random": MetricSpec("median random / median null logit change (worst budget)",
                                    unit="ratio", higher_is_better=True, aggregation="min"),
    "separation_principal": MetricSpec(
        "median principal / median null logit change (worst budget)", unit="ratio",
        higher_is_better=True, aggregation="min"),
}


class NullInvarianceParams(CheckParams):
    """Perturbation budgets: l2 norms, relative to ||f|| (default) or absolute."""

    budgets: list[float] = Field([0.1], min_length=1,
                                 description="perturbation norms (fractions of ||f|| if relative)")
    relative: bool = Field(True, description="budgets are fractions of each ||f||")
    principal_direction: Literal["leading", "gradient"] = Field(
        "leading", description="top right-singular vector, or the predicted logit's gradient")

    @field_validator("budgets")
    @classmethod
    def _positive(cls, budgets: list[float]) -> list[float]:
        if any(b <= 0 for b in budgets):
            raise ValueError("perturbation budgets must be positive")
        return budgets


class NullInvarianceCheck(Check[NullInvarianceParams]):
    """Logit equality under null removal and matched-norm perturbation separation."""

    name = "null_invariance"
    headline = "removal_relative_change"
    metrics = METRICS
    default_tiers: ClassVar[list[Tiers]] = [
        Tiers(metric="removal_relative_change", statistic="max", fail=1e-4, scope="overall"),
        Tiers(metric="top1_unchanged", statistic="mean", fail=1.0, higher_is_better=True,
              scope="overall"),
        Tiers(metric="separation_random", statistic="min", fail=1e3, higher_is_better=True),
        Tiers(metric="separation_principal", statistic="min", fail=1e3, higher_is_better=True),
    ]
    requires_null_space = True

    def measure(self, ctx: ModelContext, params: NullInvarianceParams) -> Measurements:
        # lazy: torch and the tensor maths load when a check measures, not to validate a spec
        import torch

        from singaudit.maths.equivalence import (
            logit_change,
            null_perturbation,
            perturbation_norms,
            principal_perturbation,
            random_perturbation,
            remove_null,
        )

        geometry = ctx.geometry.require_null_space()
        weight, bias = ctx.classifier.head()
        features = ctx.features
        labels = ctx.labels.cpu().numpy().astype(np.int64)

        logits = ctx.classifier.logits(features)
        logits_eq = ctx.classifier.logits(remove_null(features, geometry))
        relative_change = as_array(
            torch.linalg.vector_norm((logits_eq - logits).double(), dim=-1)
            / torch.linalg.vector_norm(logits.double(), dim=-1).clamp_min(1e-30))
        top1_unchanged = as_array(logits_eq.argmax(-1) == logits.argmax(-1))
        null_energy = as_array(geometry.null_energy(features))

        generator = torch.Generator().manual_seed(ctx.seed)
        by_budget: dict[str, dict[str, list[float]]] = {}
        separations: dict[str, list[float]] = {"random": [], "principal": []}
        for budget in params.budgets:
            norms = perturbation_norms(features, budget, relative=params.relative)
            deltas = {
                "null": null_perturbation(features, geometry, norms, generator=generator),
                "random": random_perturbation(features, norms, generator=generator),
                "principal": principal_perturbation(features, geometry, norms,
                                                    direction=params.principal_direction,
                                                    weight=weight, bias=bias),
            }
            changes = {kind: as_array(logit_change(weight, delta)) for kind, delta in deltas.items()}
            null_median = float(np.median(changes["null"]))
            for kind, ratios in separations.items():
                ratios.append(_ratio(float(np.median(changes[kind])), null_median))
            by_budget[f"{budget:g}"] = {k: v.tolist() for k, v in changes.items()}
        first = by_budget[f"{params.budgets[0]:g}"]

        per_image = {
            "null_energy": null_energy,
            "removal_relative_change": relative_change,
            "top1_unchanged": top1_unchanged,
            **{f"logit_change_{k}": np.asarray(first[k]) for k in PERTURBATIONS},
        }
        metrics = {k: summary_metric(v, METRICS[k], seed=ctx.seed) for k, v in per_image.items()}
        metrics["null_dim"] = scalar_metric(geometry.null_dim, METRICS["null_dim"])
        for kind, values in separations.items():
            metrics[f"separation_{kind}"] = scalar_metric(min(values), METRICS[f"separation_{kind}"])

        per_class = {
            name: ClassResult(n=int((labels == i).sum()), metrics={
                k: summary_metric(per_image[k][labels == i], METRICS[k], seed=ctx.seed)
                for k in ("null_energy", "removal_relative_change", "top1_unchanged")})
            for i, name in enumerate(ctx.class_names) if (labels == i).any()
        }
        observations = {k: Observations.of(v, labels) for k, v in per_image.items()}
        observations["null_dim"] = Observations.of([geometry.null_dim])
        observations.update({f"separation_{k}": Observations.of(v) for k, v in separations.items()})

        budget_words = ", ".join(format_number(b) for b in params.budgets)
        summary = (
            f"null_dim {geometry.null_dim}, null removal max relative logit change "
            f"{format_number(float(relative_change.max()))}, top-1 unchanged "
            f"{format_number(float(top1_unchanged.mean()))}, separation random/null "
            f"{format_number(min(separations['random']))}, principal/null "
            f"{format_number(min(separations['principal']))} at budget(s) {budget_words}"
            f"{' x ||f||' if params.relative else ''}"
        )
        data: NullInvarianceData = {
            "logit_change_null": first["null"],
            "logit_change_random": first["random"],
            "logit_change_principal": first["principal"],
            "budgets": list(params.budgets),
            "relative": params.relative,
            "by_budget": by_budget,
            "removal_relative_change": relative_change.tolist(),
            "null_energy": null_energy.tolist(),
            "label": labels.tolist(),
            "class_names": list(ctx.class_names),
            "image_keys": list(ctx.image_keys),
        }
        return Measurements(summary, observations=observations, metrics=metrics,
                            per_class=per_class, data=dict(data))


def _ratio(numerator: float, denominator: float) -> float:
    if denominator > 0:
        return numerator / denominator
    return float("inf") if numerator > 0 else float("nan")

