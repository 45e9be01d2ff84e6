"""Class-semantic leakage: does the null space carry evidence for the true class?

Per image: IS = angle(T(f), T(f_eq)) and the signed AS toward the true-class prompt,
AS = angle(T(f), t_class) - angle(T(f_eq), t_class); ``leak`` = -AS, ``abs_as`` = |AS| (the
paper's reading). f_eq = P_p f + P_n r with r the spec's null reference (``null_removal``: the
translator-fit mean, or zero as in the paper). The default verdict reads ``specific_leak``, a
contrast over images: the leak toward class k's prompt on class-k images minus the median leak
toward it on the other images, so a drift common to every image cancels. Verdicts: tiers per
class and overall.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import numpy as np
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
from singaudit.errors import DataError, NotApplicable
from singaudit.maths.stats import bootstrap_ci
from singaudit.results import ClassResult, Metric, Tiers

if TYPE_CHECKING:  # torch loads when a check measures, not to validate a spec
    import torch

# The metric the default verdict reads (chosen by measurement: scripts/verdict_candidates.py).
DEFAULT_VERDICT_METRIC = "specific_leak"

METRICS: dict[str, MetricSpec] = {
    "is": MetricSpec("IS: angle between T(f) and T(f_eq), per image"),
    "as": MetricSpec("signed AS toward the true-class prompt (negative: the null space carried it)"),
    "abs_as": MetricSpec("|AS| toward the true-class prompt (the paper's reading)",
                         higher_is_better=False),
    "leak": MetricSpec("-AS toward the true-class prompt (moves with any drift of T(f_eq))",
                       higher_is_better=False),
    "specific_leak": MetricSpec(
        "leak toward the class's prompt on its images minus the median leak toward that prompt "
        "on the other classes' images (contrast over images; the default verdict)",
        higher_is_better=False),
    "prompt_contrast": MetricSpec(
        "leak toward the true-class prompt minus the mean leak toward the other classes' prompts "
        "(contrast over prompts)", higher_is_better=False),
    "evidence_change": MetricSpec(
        "zero-shot log-probability of the true class lost by null removal (softmax over the "
        "class prompts at logit scale 100)", unit="nats", higher_is_better=False),
    "ratio": MetricSpec("median(IS) / median(|AS|) over images", unit="ratio",
                        higher_is_better=True, aggregation="min"),
}


@dataclass(frozen=True)
class EquivalentFeatures:
    """f_eq = P_p f + P_n r for every audit image, and what r was."""

    features: torch.Tensor  # (n, m)
    removal: str  # "zero" or "mean"
    reference: str  # in words, for results and reports


@dataclass(frozen=True)
class EquivalentTranslations:
    """T(f) and T(f_eq) for every audit image (f_eq from ``equivalent_features``)."""

    original: torch.Tensor  # (n, k)
    equivalent: torch.Tensor  # (n, k)


@dataclass(frozen=True)
class ClassScores:
    """Per-image scores toward each image's true-class prompt (NaN for unlabelled images)."""

    image_score: np.ndarray  # (n,) degrees
    attribute_score: np.ndarray  # (n,) degrees, signed
    specific_leak: np.ndarray  # (n,) degrees, contrast over images
    prompt_contrast: np.ndarray  # (n,) degrees, contrast over prompts
    evidence_change: np.ndarray  # (n,) nats
    prompts: str  # which template or ensemble made the class prompts
    null_reference: str  # what null removal kept in the null space


def equivalent_features(ctx: ModelContext) -> EquivalentFeatures:
    """The spec's null removal applied to the audit features, once per model for every check."""

    def compute() -> EquivalentFeatures:
        from singaudit.maths.equivalence import null_reference, remove_null  # lazy: torch

        geometry = ctx.geometry.require_null_space()
        removal = ctx.null_removal
        if removal == "zero":
            return EquivalentFeatures(remove_null(ctx.features, geometry), removal,
                                      "zero (the paper's f_eq = P_p f)")
        try:
            rows, where = ctx.fit_data()[0], "translator-fit images"
        except DataError:  # a loaded translator without fit data: the audit images' own mean
            rows, where = ctx.features, "audit images"
        reference = null_reference(removal, geometry, rows)
        return EquivalentFeatures(
            remove_null(ctx.features, geometry, reference).to(ctx.features.dtype), removal,
            f"mean feature of the {len(rows)} {where} (f_eq = P_p f + P_n mu)")

    return ctx.shared(f"features:null_removed:{ctx.null_removal}", compute)


def equivalent_translations(ctx: ModelContext) -> EquivalentTranslations:
    """T(f) and T(f_eq), computed once per model and shared across checks."""

    def compute() -> EquivalentTranslations:
        equivalent = equivalent_features(ctx).features
        return EquivalentTranslations(ctx.translate(ctx.features), ctx.translate(equivalent))

    return ctx.shared(f"translations:null_removed:{ctx.null_removal}", compute)


def class_scores(ctx: ModelContext) -> ClassScores:
    """Every per-image class score, shared (e.g. with the evidence check)."""

    def compute() -> ClassScores:
        from singaudit.maths.scores import (  # lazy: torch
            evidence_change,
            image_score,
            prompt_contrast,
            prompt_leaks,
            specific_leak,
        )

        pair = equivalent_translations(ctx)
        labels = ctx.labels.cpu()
        n = len(labels)
        labelled = labels >= 0  # unlabelled images (label -1) have no true-class prompt
        scores = {k: np.full(n, np.nan) for k in ("as", "specific", "prompts", "evidence")}
        if labelled.any() and ctx.class_names:
            texts = ctx.prompt_embeddings(ctx.class_names)
            leaks = prompt_leaks(pair.original, pair.equivalent, texts)  # (n, classes)
            own = as_array(leaks.gather(1, labels.clamp_min(0).unsqueeze(1)).squeeze(1))
            scores["as"] = np.where(labelled.numpy(), -own, np.nan)
            scores["specific"] = as_array(specific_leak(leaks, labels))
            scores["prompts"] = as_array(prompt_contrast(leaks, labels))
            scores["evidence"] = as_array(evidence_change(pair.original, pair.equivalent, texts,
                                                          labels))
        return ClassScores(
            image_score=as_array(image_score(pair.original, pair.equivalent)),
            attribute_score=scores["as"],
            specific_leak=scores["specific"],
            prompt_contrast=scores["prompts"],
            evidence_change=scores["evidence"],
            prompts=ctx.prompts.description,
            null_reference=equivalent_features(ctx).reference,
        )

    return ctx.shared(f"class_semantics:scores:{ctx.null_removal}", compute)


class ClassSemanticsParams(CheckParams):
    """Bootstrap settings for the confidence intervals of the medians."""

    n_boot: int = Field(1000, ge=0, le=100_000,  # more would allocate resamples x images at once
                        description="bootstrap resamples for the median CIs")
    ci: float = Field(0.95, gt=0, lt=1, description="confidence level of the intervals")


class ClassSemanticsCheck(Check[ClassSemanticsParams]):
    """IS and AS toward the true class, per class and overall, judged by tiers."""

    name = "class_semantics"
    metrics = METRICS
    # Measured (scripts/verdict_candidates.py): clean's worst class -0.8, leaky's best +7.2 and
    # worst +16.9, under any constant null offset: fail 3 keeps 2x on both sides.
    default_tiers: ClassVar[list[Tiers]] = [
        Tiers(metric=DEFAULT_VERDICT_METRIC, statistic="median", warn=2.0, fail=3.0,
              scope="per_class"),
    ]
    requires_null_space = True

    def measure(self, ctx: ModelContext, params: ClassSemanticsParams) -> Measurements:
        from singaudit.maths.scores import model_ratio  # lazy: scores imports torch

        labelled = ctx.labels.cpu().numpy() >= 0
        if not labelled.any() or not ctx.class_names:
            raise NotApplicable("class_semantics needs labelled images (the data has no classes)")
        _refuse_unrepresentable_classes(ctx)
        all_scores = class_scores(ctx)
        labels = ctx.labels.cpu().numpy().astype(np.int64)[labelled]
        scores = all_scores
        attribute = all_scores.attribute_score[labelled]
        per_image = {
            "is": all_scores.image_score[labelled],
            "as": attribute,
            "abs_as": np.abs(attribute),
            "leak": -attribute,
            "specific_leak": all_scores.specific_leak[labelled],
            "prompt_contrast": all_scores.prompt_contrast[labelled],
            "evidence_change": all_scores.evidence_change[labelled],
        }
        image_scores = per_image["is"]
        ratio = model_ratio(image_scores, attribute)

        def describe(values: np.ndarray) -> dict:
            return {name: summary_metric(v, METRICS[name], n_boot=params.n_boot, seed=ctx.seed,
                                         ci=params.ci)
                    for name, v in values.items()}

        def ratio_metric(rows: np.ndarray) -> Metric:
            image, signed = image_scores[rows], attribute[rows]
            metric = scalar_metric(model_ratio(image, signed), METRICS["ratio"])
            metric.ci = _ratio_ci(image, signed, n_boot=params.n_boot, seed=ctx.seed,
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
            f"specific leak median {format_number(metrics['specific_leak'].value)} deg, leak "
            f"{format_number(metrics['leak'].value)} deg, |AS| "
            f"{format_number(metrics['abs_as'].value)} deg, IS "
            f"{format_number(metrics['is'].value)} deg, ratio {format_number(ratio)} over "
            f"{len(labels)} images; class prompts: {scores.prompts}; null reference: "
            f"{scores.null_reference}"
        )
        return Measurements(
            summary,
            observations=observations,
            metrics=metrics,
            per_class=per_class,
            data={
                **{name: per_image[name].tolist()
                   for name in ("is", "as", "specific_leak", "prompt_contrast",
                                "evidence_change")},
                "label": labels.tolist(),
                "class_names": list(ctx.class_names),
                "image_keys": [k for k, keep in zip(ctx.image_keys, labelled, strict=True) if keep],
                "prompts": scores.prompts,
                "null_removal": ctx.null_removal,
                "null_reference": scores.null_reference,
            },
        )


def _refuse_unrepresentable_classes(ctx: ModelContext, shown: int = 10) -> None:
    """A class prompt with words the joint space maps to its unknown token scores nothing:
    refuse the check, naming each such class and its unknown words."""
    unknown = {name: words for name in ctx.class_names
               if (words := ctx.joint_space.unknown_words(name))}
    if not unknown:
        return
    named = ", ".join(f"{name!r} ({', '.join(words)})" for name, words in list(unknown.items())[:shown])
    more = f" and {len(unknown) - shown} more" if len(unknown) > shown else ""
    raise NotApplicable(
        f"the joint space {ctx.joint_space.info.id} cannot represent {len(unknown)} of the "
        f"{len(ctx.class_names)} class names (their prompts would be scores of nothing): "
        f"{named}{more}; use a joint space whose text tower knows them")


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

