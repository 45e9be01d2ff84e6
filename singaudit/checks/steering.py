"""Null-space steering: how far can the invariant subspace be pushed toward a foreign concept?

Each image's feature moves along the null-space projection of the gradient of
cos(T(f), t_target), with a step calibrated per image so that IS(T(f), T(f_eps)) equals a
target angle (paper: 40 degrees). |AS| toward the target is reported (lower: the invariant
subspace is harder to steer toward the concept); the logits must stay unchanged.
"""

from __future__ import annotations

from typing import ClassVar, TypedDict

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
from singaudit.results import ClassResult, Tiers
from singaudit.wording import fixed

METRICS: dict[str, MetricSpec] = {
    "abs_as": MetricSpec("|AS| toward the target after steering (converged images)",
                         higher_is_better=False, aggregation="mean"),
    "abs_as_std": MetricSpec("standard deviation of |AS| toward the target", aggregation="max"),
    "is": MetricSpec("IS reached by the calibrated step (converged images)"),
    "converged": MetricSpec("fraction of images whose step reached the target IS", unit="",
                            higher_is_better=True, aggregation="mean"),
    "logit_relative_change": MetricSpec(
        "||l(f_eps) - l(f)|| / ||l(f)||: steering must not move the logits", unit="",
        higher_is_better=False, aggregation="max"),
}


class SteeringParams(CheckParams):
    """The target prompt and the IS every image is steered to."""

    target: str = Field("an image of a jellyfish", min_length=1,
                        description="prompt steered toward (used as written)")
    target_is: float = Field(40.0, gt=0, lt=180, description="IS each step is calibrated to")
    max_images: int = Field(64, ge=1, description="images steered, balanced over classes")
    tol: float = Field(0.1, gt=0, description="tolerance on the reached IS (degrees)")
    max_iter: int = Field(60, ge=1, description="bracket doublings and bisection steps")
    min_converged: float = Field(
        0.9, gt=0, le=1, description="share of steered images that must reach the target IS; "
        "below it the |AS| figures describe too few images and the check cannot pass (warn)")


# The check's data, per steered image unless said otherwise; its report figures read "as", "is",
# "target" and "target_is" (the functional form: "as" and "is" are Python keywords).
SteeringData = TypedDict("SteeringData", {
    "target": str,
    "unrepresentable": dict[str, list[str]],  # target -> its words the joint space lacks
    "target_is": float,  # the IS each step is calibrated to reach (one value)
    "as": list[float],
    "abs_as": list[float],
    "is": list[float],
    "eps": list[float],
    "converged": list[bool],
    "label": list[int],
    "class_names": list[str],
    "image_index": list[int],  # which audit images were steered
})


class SteeringCheck(Check[SteeringParams]):
    """|AS| toward a target prompt after null-space steering calibrated to a target IS."""

    name = "steering"
    headline = "abs_as"
    metrics = METRICS
    default_tiers: ClassVar[list[Tiers]] = [
        Tiers(metric="logit_relative_change", statistic="max", fail=1e-3, scope="overall"),
    ]
    requires_null_space = True

    def measure(self, ctx: ModelContext, params: SteeringParams) -> Measurements:
        # lazy: torch and the tensor maths load when a check measures, not to validate a spec
        import torch

        from singaudit.maths.steering import steer_toward

        geometry = ctx.geometry.require_null_space()
        labels_all = ctx.labels.cpu().numpy().astype(np.int64)
        chosen = balanced_selection(labels_all, params.max_images, ctx.seed)
        features = ctx.features[torch.from_numpy(chosen)]
        labels = labels_all[chosen]
        text = ctx.text_embeddings([params.target])[0]
        result = steer_toward(features, ctx.translator, text, geometry,
                              target_is=params.target_is, tol=params.tol,
                              max_iter=params.max_iter)
        converged = as_array(result.converged).astype(bool)
        attribute = as_array(result.attribute_score)
        reached = as_array(result.image_score)
        logits = ctx.classifier.logits(features).double()
        steered_logits = ctx.classifier.logits(result.features).double()
        logit_change = as_array(torch.linalg.vector_norm(steered_logits - logits, dim=-1)
                              / torch.linalg.vector_norm(logits, dim=-1).clamp_min(1e-30))

        kept = converged
        abs_as = np.abs(attribute[kept])
        metrics = {
            "abs_as": summary_metric(abs_as, METRICS["abs_as"], seed=ctx.seed),
            "abs_as_std": scalar_metric(abs_as.std(ddof=1) if abs_as.size > 1 else np.nan,
                                        METRICS["abs_as_std"]),
            "is": summary_metric(reached[kept], METRICS["is"], seed=ctx.seed),
            "converged": scalar_metric(converged.mean(), METRICS["converged"]),
            "logit_relative_change": scalar_metric(logit_change.max(),
                                                   METRICS["logit_relative_change"]),
        }
        per_class = {
            name: ClassResult(n=int((labels[kept] == i).sum()), metrics={
                "abs_as": summary_metric(np.abs(attribute[kept & (labels == i)]),
                                         METRICS["abs_as"], seed=ctx.seed)})
            for i, name in enumerate(ctx.class_names) if (labels == i).any()
        }
        observations = {
            "abs_as": Observations.of(abs_as, labels[kept]),
            "abs_as_std": Observations.of([metrics["abs_as_std"].value or np.nan]),
            "is": Observations.of(reached[kept], labels[kept]),
            "converged": Observations.of(converged.astype(float), labels),
            "logit_relative_change": Observations.of(logit_change, labels),
        }
        if abs_as.size:
            summary = (
                f"toward {params.target!r} at IS {format_number(params.target_is)} deg: |AS| "
                f"{fixed(abs_as.mean())} +- {fixed(abs_as.std(ddof=1) if abs_as.size > 1 else 0)} "
                f"deg (median {fixed(np.median(abs_as))}) over {abs_as.size} of {len(chosen)} "
                f"images that reached the target; max relative logit change "
                f"{format_number(float(logit_change.max()))}"
            )
        else:
            summary = (f"no image reached IS {format_number(params.target_is)} deg when steered "
                       "toward "
                       f"{params.target!r}")
        unknown = ctx.joint_space.unknown_words(params.target)
        if unknown:  # a closed vocabulary scores these words as one unknown token
            summary += (f"; the target has words the joint space's text tower cannot represent "
                        f"({', '.join(unknown)}): |AS| toward it measures nothing")
        too_few = converged.mean() < params.min_converged
        if too_few:
            summary = (f"only {int(converged.sum())} of {len(chosen)} images reached the target "
                       f"IS (min_converged {format_number(params.min_converged)}); {summary}")
        data: SteeringData = {
            "target": params.target,
            "unrepresentable": {params.target: unknown} if unknown else {},
            "target_is": params.target_is,
            "as": attribute.tolist(),
            "abs_as": np.abs(attribute).tolist(),
            "is": reached.tolist(),
            "eps": as_array(result.eps).tolist(),
            "converged": converged.tolist(),
            "label": labels.tolist(),
            "class_names": list(ctx.class_names),
            "image_index": chosen.tolist(),
        }
        return Measurements(summary, observations=observations, metrics=metrics,
                            per_class=per_class, floor="warn" if too_few else None,
                            data=dict(data))


def balanced_selection(labels: np.ndarray, limit: int, seed: int) -> np.ndarray:
    """Up to ``limit`` image indices, taken round-robin over classes in a seeded order."""
    order = np.random.default_rng(seed).permutation(len(labels))
    rank_in_class = np.empty(len(labels), dtype=np.int64)
    seen: dict[int, int] = {}
    for position in order:
        label = int(labels[position])
        rank_in_class[position] = seen.get(label, 0)
        seen[label] = rank_in_class[position] + 1
    interleaved = sorted(order, key=lambda i: rank_in_class[i])  # stable: keeps the seeded order
    return np.sort(np.asarray(interleaved[:limit], dtype=np.int64))

