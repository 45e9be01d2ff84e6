"""Class-semantic leakage: does the null space carry evidence for the true class?

The default verdict answers: does the null-space component, on its own, carry the image's class
in a form the joint space can read? ``carried``: a null-only translator T_n (ridge from the null
coordinates alone to the joint space) points toward class k's prompt, relative to the other class
prompts, more on class-k images than on other classes' images (degrees). It never sees the row
space, so no logit-preserving reparametrization of the features can move it. The joint space
separates some classes by far fewer degrees than others, so the verdict reads ``carried_share``:
``carried`` over ``joint_contrast`` (the same reading of the images' own joint embeddings), class
by class. ``unique`` asks the same of what the null space adds beyond a linear function of the
head's input.

Also reported, as what one translator T (on the full feature) draws from the null space: per
image IS = angle(T(f), T(f_eq)) and the signed AS toward the true-class prompt,
AS = angle(T(f), t_class) - angle(T(f_eq), t_class); ``leak`` = -AS, ``abs_as`` = |AS| (the
paper's reading), and ``specific_leak`` (the leak contrasted over images). f_eq = P_p f + P_n r
with r the spec's null reference (``null_removal``: the translator-fit mean, or zero as in the
paper). Verdicts: tiers per class and overall.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, TypedDict, cast

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
    class_summary_metrics,
    format_number,
    scalar_metric,
    summary_metric,
)
from singaudit.errors import DataError, NotApplicable
from singaudit.maths.null_semantics import MIN_JOINT_CONTRAST
from singaudit.maths.stats import bootstrap_ci
from singaudit.results import ClassResult, Metric, Tiers

if TYPE_CHECKING:  # torch loads when a check measures, not to validate a spec
    import torch

    from singaudit.maths.equivalence import NullReference, NullRemoval

# The metric the default verdict reads (chosen by measurement: scripts/verdict_estimands.py).
DEFAULT_VERDICT_METRIC = "carried_share"
# The question it answers, in one sentence (reports and results show it).
VERDICT_QUESTION = ("Does the null-space component, on its own, carry the image's class in a form "
                    "the joint space can read?")
# Folds of the null-only translator cross-fitted on the audit images when there is no fit data.
CROSS_FIT_FOLDS = 5

METRICS: dict[str, MetricSpec] = {
    "is": MetricSpec("IS: angle between T(f) and T(f_eq), per image"),
    "as": MetricSpec("signed AS toward the true-class prompt (negative: the null space carried it)"),
    "abs_as": MetricSpec("|AS| toward the true-class prompt (the paper's reading)",
                         higher_is_better=False),
    "leak": MetricSpec("-AS toward the true-class prompt (moves with any drift of T(f_eq))",
                       higher_is_better=False),
    "carried": MetricSpec(
        "the null component on its own: a null-only translator T_n(P_n f) points toward the "
        "class's prompt (angles centred over the class prompts) on its images more than on the "
        "other classes' images", higher_is_better=False),
    "joint_contrast": MetricSpec(
        "the carried reading of the images' own joint-space embeddings: how far the joint space "
        "itself points each image toward its class's prompt (carried_share's denominator)"),
    "carried_share": MetricSpec(
        "carried over the class's median joint_contrast: the share of the class contrast the joint "
        "space sees in the images that the null component alone reproduces (the default verdict; "
        "1: all of it)", unit="", higher_is_better=False),
    "unique": MetricSpec(
        "as carried, for the null content minus its best linear prediction from the row-space "
        "part: what the null space adds beyond the head's input", higher_is_better=False),
    "specific_leak": MetricSpec(
        "what the translator T draws from the null space: leak toward the class's prompt on its "
        "images minus the median leak toward that prompt on the other classes' images",
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


# The check's data: per labelled image (``label``, ``image_keys``) the readings a report figure or
# a regression diff pairs across runs, and what they were measured against. Functional form: "is"
# and "as" are Python keywords.
ClassSemanticsData = TypedDict("ClassSemanticsData", {
    "carried_share": list[float], "carried": list[float], "joint_contrast": list[float],
    "unique": list[float], "is": list[float], "as": list[float], "specific_leak": list[float],
    "prompt_contrast": list[float], "evidence_change": list[float],
    "question": str, "null_translator": str, "label": list[int], "class_names": list[str],
    "image_keys": list[str], "prompts": str, "null_removal": str, "null_reference": str,
})


@dataclass(frozen=True)
class EquivalentFeatures:
    """f_eq = P_p f + P_n r for every audit image, and what r was."""

    features: torch.Tensor  # (n, m)
    removal: str  # "zero" or "mean"
    reference: str  # in words, for results and reports


@dataclass(frozen=True)
class NullAloneScores:
    """Per image (degrees, NaN unlabelled): what the null component says on its own."""

    carried: np.ndarray  # (n,) null-only translator, contrast over prompts and images
    joint_contrast: np.ndarray  # (n,) the same reading of the images' own joint embeddings
    carried_share: np.ndarray  # (n,) carried / its class's median joint_contrast
    unjudged: list[int]  # class indices the joint space separates too little to share
    unique: np.ndarray  # (n,) the same after removing what the row space predicts linearly
    translator: str  # how T_n was fitted, in words


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


def null_reference(ctx: ModelContext) -> NullReference:
    """The spec's null reference for this model (maths.equivalence.choose_null_reference is the
    one policy: the translator's recorded fit mean, else its fit images' mean, else the audit
    images' mean), once per model."""

    def compute() -> NullReference:
        from singaudit.maths.equivalence import choose_null_reference  # lazy: torch

        def fit_rows() -> torch.Tensor | None:
            try:
                return ctx.fit_data()[0]
            except DataError:  # a loaded translator without fit data
                return None

        return choose_null_reference(
            cast("NullRemoval", ctx.null_removal), ctx.geometry.require_null_space(),
            recorded=(ctx.translator_info or {}).get("null_reference"), fit_rows=fit_rows,
            fallback_rows=ctx.features)

    return ctx.shared(f"null_reference:{ctx.null_removal}", compute)


def equivalent_features(ctx: ModelContext) -> EquivalentFeatures:
    """The spec's null removal applied to the audit features, once per model for every check."""

    def compute() -> EquivalentFeatures:
        from singaudit.maths.equivalence import remove_null  # lazy: torch

        reference = null_reference(ctx)
        features = remove_null(ctx.features, ctx.geometry.require_null_space(), reference.vector)
        return EquivalentFeatures(features.to(ctx.features.dtype), ctx.null_removal,
                                  reference.description)

    return ctx.shared(f"features:null_removed:{ctx.null_removal}", compute)


def null_alone_scores(ctx: ModelContext) -> NullAloneScores:
    """The carried and unique readings per image: a null-only ridge translator T_n from
    z = V_n^T (f - mu) (mu: the spec's null reference, the fit mean by default) to the joint
    space, fitted on the translator-fit images; without fit data (a loaded translator),
    cross-fitted on the audit images, each image translated by a fit that never saw it."""

    def compute() -> NullAloneScores:
        from singaudit.maths import null_semantics  # lazy: the ridge fits in numpy

        geometry = ctx.geometry.require_null_space()
        reference = null_reference(ctx).vector
        mean = np.zeros(geometry.feature_dim) if reference is None else as_array(reference)
        null_basis, row_basis = as_array(geometry.null_basis), as_array(geometry.principal_basis)
        labels = ctx.labels.cpu().numpy()
        texts = as_array(ctx.prompt_embeddings(ctx.class_names))
        features = as_array(ctx.features)
        z, row = null_semantics.null_content(features, null_basis, mean), features @ row_basis
        try:
            fit_features, fit_embeddings = (as_array(t) for t in ctx.fit_data()[:2])
        except DataError:
            fit_features = None
        if fit_features is None:
            embeddings = as_array(ctx.image_embeddings)
            unique = null_semantics.unique_null_content(z, row, z, row)
            carried_t, unique_t = (null_semantics.cross_fitted_translations(
                content, embeddings, folds=CROSS_FIT_FOLDS, seed=ctx.seed)
                for content in (z, unique))
            fitted = (f"linear ridge on the null coordinates, cross-fitted on the {len(z)} audit "
                      f"images ({CROSS_FIT_FOLDS} folds; the translator came without fit data)")
        else:
            z_fit = null_semantics.null_content(fit_features, null_basis, mean)
            row_fit = fit_features @ row_basis
            unique_fit = null_semantics.unique_null_content(z_fit, row_fit, z_fit, row_fit)
            unique = null_semantics.unique_null_content(z, row, z_fit, row_fit)
            carried_t, unique_t = (null_semantics.fit_null_translator_split(
                fit, fit_embeddings, seed=ctx.seed)(content)
                for fit, content in ((z_fit, z), (unique_fit, unique)))
            fitted = (f"linear ridge on the null coordinates of the {len(z_fit)} translator-fit "
                      "images (penalty chosen on a held-out fifth, relative to the trace)")
        carried = null_semantics.class_evidence(carried_t, texts, labels)
        contrast = null_semantics.joint_contrast(as_array(ctx.image_embeddings), texts, labels)
        share, denominators = null_semantics.share_of_joint_contrast(carried, contrast, labels)
        unjudged = [k for k in range(len(denominators)) if (labels == k).any()
                    and not denominators[k] >= MIN_JOINT_CONTRAST]
        return NullAloneScores(
            carried=carried, joint_contrast=contrast, carried_share=share, unjudged=unjudged,
            unique=null_semantics.class_evidence(unique_t, texts, labels),
            translator=fitted)

    return ctx.shared(f"class_semantics:null_alone:{ctx.null_removal}", compute)


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
    headline = DEFAULT_VERDICT_METRIC
    angle_ratio = "ratio"  # the model comparison ranks by it
    metrics = METRICS
    # Measured (scripts/verdict_estimands.py, benchmarks/verdict_calibration.py): docs/method.md.
    default_tiers: ClassVar[list[Tiers]] = [
        Tiers(metric=DEFAULT_VERDICT_METRIC, statistic="median", warn=0.4, fail=0.5,
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
        alone = null_alone_scores(ctx)
        labels = ctx.labels.cpu().numpy().astype(np.int64)[labelled]
        scores = all_scores
        attribute = all_scores.attribute_score[labelled]
        per_image = {
            "carried_share": alone.carried_share[labelled],
            "carried": alone.carried[labelled],
            "joint_contrast": alone.joint_contrast[labelled],
            "unique": alone.unique[labelled],
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

        def describe(values: dict[str, np.ndarray]) -> dict[str, Metric]:
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
        # Every class's summaries at once (one bootstrap per class size, not one per class).
        by_class = {name: class_summary_metrics(v, labels, ctx.class_names, METRICS[name],
                                                n_boot=params.n_boot, seed=ctx.seed, ci=params.ci)
                    for name, v in per_image.items()}
        per_class: dict[str, ClassResult] = {}
        for index, class_name in enumerate(ctx.class_names):
            members = labels == index
            if members.any():
                per_class[class_name] = ClassResult(
                    n=int(members.sum()),
                    metrics={**{name: found[class_name] for name, found in by_class.items()},
                             "ratio": ratio_metric(members)},
                )

        observations = {k: Observations.of(v, labels) for k, v in per_image.items()}
        observations["ratio"] = Observations.of([ratio])
        unjudged = ""
        if alone.unjudged:
            names = ", ".join(ctx.class_names[k] for k in alone.unjudged[:10])
            more = f" and {len(alone.unjudged) - 10} more" if len(alone.unjudged) > 10 else ""
            unjudged = (f"; not judged (the joint space separates their images by less than "
                        f"{format_number(MIN_JOINT_CONTRAST)} deg): {names}{more}")
        summary = (
            f"carried share median {format_number(metrics['carried_share'].value)} of the joint "
            f"space's own class contrast{unjudged}; carried median "
            f"{format_number(metrics['carried'].value)} deg (unique "
            f"{format_number(metrics['unique'].value)}; null-only translator: "
            f"{alone.translator}); what T draws: specific leak median "
            f"{format_number(metrics['specific_leak'].value)} deg, leak "
            f"{format_number(metrics['leak'].value)} deg, |AS| "
            f"{format_number(metrics['abs_as'].value)} deg, IS "
            f"{format_number(metrics['is'].value)} deg, ratio {format_number(ratio)} over "
            f"{len(labels)} images; class prompts: {scores.prompts}; null reference: "
            f"{scores.null_reference}"
        )
        def values(name: str) -> list[float]:
            return [float(v) for v in per_image[name]]

        data: ClassSemanticsData = {
            "carried_share": values("carried_share"), "carried": values("carried"),
            "joint_contrast": values("joint_contrast"), "unique": values("unique"),
            "is": values("is"), "as": values("as"), "specific_leak": values("specific_leak"),
            "prompt_contrast": values("prompt_contrast"),
            "evidence_change": values("evidence_change"),
            "question": VERDICT_QUESTION,
            "null_translator": alone.translator,
            "label": [int(k) for k in labels],
            "class_names": list(ctx.class_names),
            "image_keys": [k for k, keep in zip(ctx.image_keys, labelled, strict=True) if keep],
            "prompts": scores.prompts,
            "null_removal": ctx.null_removal,
            "null_reference": scores.null_reference,
        }
        return Measurements(summary, observations=observations, metrics=metrics,
                            per_class=per_class, data=dict(data))


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

