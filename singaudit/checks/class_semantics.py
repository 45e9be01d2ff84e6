"""Class-semantic leakage: does the null space carry evidence for the true class?

Per image: IS = angle(T(f), T(f_eq)) and the signed AS toward the true-class prompt,
AS = angle(T(f), t_class) - angle(T(f_eq), t_class). Class evidence carried by the null space
shows as negative AS (removing it moves T(f_eq) away from the class), so ``leak`` = -AS;
``abs_as`` = |AS| is METHOD.md's reading. Verdicts: tiers per class and overall.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
from pydantic import Field

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
from singaudit.errors import NotApplicable
from singaudit.maths.equivalence import remove_null
from singaudit.maths.scores import attribute_score, image_score, model_ratio
from singaudit.maths.stats import bootstrap_ci
from singaudit.results import ClassResult, Metric, Tiers

# The metric the default verdict reads; METHOD.md's default is "abs_as" (one-line switch).
DEFAULT_VERDICT_METRIC = "leak"

METRICS: dict[str, MetricSpec] = {
    "is": MetricSpec("IS: angle between T(f) and T(f_eq), per image"),
    "as": MetricSpec("signed AS toward the true-class prompt (negative: the null space carried it)"),
    "abs_as": MetricSpec("|AS| toward the true-class prompt", higher_is_better=False),
    "leak": MetricSpec("-AS toward the true-class prompt: class evidence carried by the null space",
                       higher_is_better=False),
    "ratio": MetricSpec("median(IS) / median(|AS|) over images", unit="ratio",
                        higher_is_better=True, aggregation="min"),
}


@dataclass(frozen=True)
class EquivalentTranslations:
    """T(f) and T(f_eq) for every audit image, with f_eq = P_p f (null removal)."""

    original: torch.Tensor  # (n, k)
    equivalent: torch.Tensor  # (n, k)


@dataclass(frozen=True)
class ClassScores:
    """Per-image IS and signed AS toward each image's true-class prompt."""

    image_score: np.ndarray  # (n,) degrees
    attribute_score: np.ndarray  # (n,) degrees, signed
    prompts: str  # which template or ensemble made the class prompts


def equivalent_translations(ctx: ModelContext) -> EquivalentTranslations:
    """T(f) and T(P_p f), computed once per model and shared across checks."""

    def compute() -> EquivalentTranslations:
        geometry = ctx.geometry.require_null_space()
        equivalent = remove_null(ctx.features, geometry)
        return EquivalentTranslations(ctx.translate(ctx.features), ctx.translate(equivalent))

    return ctx.shared("translations:null_removed", compute)


def class_scores(ctx: ModelContext) -> ClassScores:
    """IS and AS toward the true-class prompt per image, shared (e.g. with the evidence check)."""

    def compute() -> ClassScores:
        pair = equivalent_translations(ctx)
        labels = ctx.labels.cpu()
        labelled = labels >= 0  # unlabelled images (label -1) have no true-class prompt
        attribute = np.full(len(labels), np.nan)
        if labelled.any() and ctx.class_names:
            class_text = ctx.prompt_embeddings(ctx.class_names)[labels[labelled]]
            attribute[labelled.numpy()] = as_array(attribute_score(
                pair.original[labelled], pair.equivalent[labelled], class_text))
        return ClassScores(
            image_score=as_array(image_score(pair.original, pair.equivalent)),
            attribute_score=attribute,
            prompts=ctx.prompts.description,
        )

    return ctx.shared("class_semantics:scores", compute)


class ClassSemanticsParams(CheckParams):
    """Bootstrap settings for the confidence intervals of the medians."""

    n_boot: int = Field(1000, ge=0, description="bootstrap resamples for the median CIs")
    ci: float = Field(0.95, gt=0, lt=1, description="confidence level of the intervals")


class ClassSemanticsCheck(Check[ClassSemanticsParams]):
    """IS and AS toward the true class, per class and overall, judged by tiers."""

    name = "class_semantics"
    metrics = METRICS
    default_tiers: ClassVar[list[Tiers]] = [
        Tiers(metric=DEFAULT_VERDICT_METRIC, statistic="median", warn=3.0, fail=4.0,
              scope="per_class"),
    ]
    requires_null_space = True

    def measure(self, ctx: ModelContext, params: ClassSemanticsParams) -> Measurements:
        all_scores = class_scores(ctx)
        labelled = ctx.labels.cpu().numpy() >= 0
        if not labelled.any() or not ctx.class_names:
            raise NotApplicable("class_semantics needs labelled images (the data has no classes)")
        labels = ctx.labels.cpu().numpy().astype(np.int64)[labelled]
        scores = ClassScores(all_scores.image_score[labelled],
                             all_scores.attribute_score[labelled], all_scores.prompts)
        per_image = {
            "is": scores.image_score,
            "as": scores.attribute_score,
            "abs_as": np.abs(scores.attribute_score),
            "leak": -scores.attribute_score,
        }
        ratio = model_ratio(scores.image_score, scores.attribute_score)

        def describe(values: np.ndarray) -> dict:
            return {name: summary_metric(v, METRICS[name], n_boot=params.n_boot, seed=ctx.seed,
                                         ci=params.ci)
                    for name, v in values.items()}

        def ratio_metric(rows: np.ndarray) -> Metric:
            image, attribute = scores.image_score[rows], scores.attribute_score[rows]
            metric = scalar_metric(model_ratio(image, attribute), METRICS["ratio"])
            metric.ci = _ratio_ci(image, attribute, n_boot=params.n_boot, seed=ctx.seed,
                                  ci=params.ci)
            return metric

        metrics = describe(per_image)
        metrics["ratio"] = ratio_metric(np.ones(len(labels), dtype=bool))
        per_class: dict[str, ClassResult] = {}
        for index, class_name in enumerate(ctx.class_names):
            members = labels == index
            if members.any():
                per_class[class_name] = ClassResult(
                    n=int(members.sum()),
                    metrics={**describe({k: v[members] for k, v in per_image.items()}),
                             "ratio": ratio_metric(members)},
                )

        observations = {k: Observations.of(v, labels) for k, v in per_image.items()}
        observations["ratio"] = Observations.of([ratio])
        summary = (
            f"|AS| median {format_number(metrics['abs_as'].value)} deg, IS median "
            f"{format_number(metrics['is'].value)} deg, ratio {format_number(ratio)} over "
            f"{len(labels)} images; class prompts: {scores.prompts}"
        )
        return Measurements(
            summary,
            observations=observations,
            metrics=metrics,
            per_class=per_class,
            data={
                "is": scores.image_score.tolist(),
                "as": scores.attribute_score.tolist(),
                "label": labels.tolist(),
                "class_names": list(ctx.class_names),
                "image_keys": [k for k, keep in zip(ctx.image_keys, labelled, strict=True) if keep],
                "prompts": scores.prompts,
            },
        )


def _ratio_ci(image: np.ndarray, attribute: np.ndarray, *, n_boot: int, seed: int, ci: float
              ) -> tuple[float, float] | None:
    """Bootstrap CI of median(IS) / median(|AS|), resampling images (IS and AS paired)."""
    keep = np.isfinite(image) & np.isfinite(attribute)
    image, magnitude = image[keep], np.abs(attribute[keep])
    if image.size < 5 or n_boot == 0:
        return None

    def ratio_of(rows: np.ndarray, axis: int = -1) -> np.ndarray:
        rows = rows.astype(np.int64)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.median(image[rows], axis=axis) / np.median(magnitude[rows], axis=axis)

    low, high = bootstrap_ci(np.arange(image.size, dtype=np.float64), ratio_of, ci=ci,
                             n_boot=n_boot, seed=seed)
    return None if not (np.isfinite(low) and np.isfinite(high)) else (low, high)

