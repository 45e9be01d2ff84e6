"""The null-space probe: can a linear classifier read the class from the null space alone?

A CLIP-free cross-check of the angle metrics (no joint space, no translator): logistic regression
on the null-space coordinates V_n^T f of the labelled audit images, stratified k-fold
cross-validated so that every image is predicted by a probe that never saw it. Accuracy per class
and overall against chance (always answering the most frequent class). Informational by default:
a real network's wide null space usually carries some linearly readable class information.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from pydantic import Field

from singaudit.checks.base import Check, CheckParams, Measurements, MetricSpec, ModelContext
from singaudit.checks.thresholds import Observations, format_number, scalar_metric
from singaudit.errors import NotApplicable
from singaudit.maths.probe import cross_validated_probe, null_coordinates
from singaudit.results import ClassResult, Tiers

METRICS: dict[str, MetricSpec] = {
    "accuracy": MetricSpec("cross-validated accuracy of a linear probe on P_n f (per class: the "
                           "share of the class's images it gets right)", unit="",
                           higher_is_better=False, aggregation="mean"),
    "chance": MetricSpec("accuracy of always answering the most frequent class", unit=""),
    "lift": MetricSpec("(accuracy - chance) / (1 - chance): 0 at chance, 1 when every image is "
                       "right", unit="", higher_is_better=False, aggregation="max"),
}


class NullProbeParams(CheckParams):
    """Probe settings: folds and the logistic regression's regularisation."""

    folds: int = Field(5, ge=2, le=20, description="stratified cross-validation folds (fewer when "
                       "the smallest class has fewer images)")
    regularisation: float = Field(1.0, gt=0, description="LogisticRegression's C")
    max_iter: int = Field(2000, ge=10, description="LogisticRegression's max_iter")


class NullProbeCheck(Check[NullProbeParams]):
    """Linear-probe accuracy on the null-space component, per class and overall, vs chance."""

    name = "null_probe"
    metrics = METRICS
    default_tiers: ClassVar[list[Tiers]] = []
    requires_null_space = True

    def measure(self, ctx: ModelContext, params: NullProbeParams) -> Measurements:
        all_labels = ctx.labels.cpu().numpy().astype(np.int64)
        labelled = np.flatnonzero(all_labels >= 0)
        if labelled.size == 0 or not ctx.class_names:
            raise NotApplicable("null_probe needs labelled images (the data has no classes)")
        labels = all_labels[labelled]
        values = null_coordinates(ctx.features[labelled], ctx.geometry)
        probe = cross_validated_probe(values, labels, folds=params.folds,
                                      regularisation=params.regularisation,
                                      max_iter=params.max_iter, seed=ctx.seed)
        correct = (probe.predicted == labels).astype(np.float64)
        metrics = {"accuracy": scalar_metric(probe.accuracy, METRICS["accuracy"]),
                   "chance": scalar_metric(probe.chance, METRICS["chance"]),
                   "lift": scalar_metric(probe.lift, METRICS["lift"])}
        per_class = {
            name: ClassResult(n=int((labels == index).sum()), metrics={
                "accuracy": scalar_metric(probe.class_accuracy(index), METRICS["accuracy"])})
            for index, name in enumerate(ctx.class_names) if (labels == index).any()
        }
        summary = (
            f"null-space probe accuracy {format_number(probe.accuracy)} (chance "
            f"{format_number(probe.chance)}, lift {format_number(probe.lift)}) on "
            f"{ctx.geometry.null_dim}-d P_n f, {probe.folds}-fold cross-validated over "
            f"{len(labels)} images"
        )
        return Measurements(
            summary,
            observations={"accuracy": Observations.of(correct, labels),
                          "lift": Observations.of([probe.lift])},
            metrics=metrics,
            per_class=per_class,
            data={"predicted": probe.predicted.tolist(), "label": labels.tolist(),
                  "class_names": list(ctx.class_names), "folds": probe.folds,
                  "null_dim": ctx.geometry.null_dim},
        )
