"""The null-space probe: can a linear classifier read the class from the null space alone?

A CLIP-free cross-check of the angle metrics (no joint space, no translator): logistic regression
on the null-space coordinates V_n^T f of the labelled audit images, stratified k-fold
cross-validated so that every image is predicted by a probe that never saw it. Accuracy per class
and overall against chance (always answering the most frequent class), and three figures from
the concept-erasure literature (singaudit.maths.probe): selectivity against a control task of
shuffled labels, the accuracy left after LEACE erases the class, and the number of directions
iterative nullspace projection removes before the probe is at chance. Informational by default:
a real network's wide null space usually carries some linearly readable class information.
"""

from __future__ import annotations

from typing import ClassVar, Literal, TypedDict

import numpy as np
from pydantic import Field

from singaudit.checks.base import Check, CheckParams, Measurements, MetricSpec, ModelContext
from singaudit.checks.thresholds import Observations, format_number, scalar_metric
from singaudit.errors import NotApplicable
from singaudit.maths.probe import (
    CHANCE_ALPHA,
    Solver,
    cross_validated_probe,
    fit_leace,
    iterative_nullspace_projection,
    null_coordinates,
    shuffled_labels,
)
from singaudit.results import ClassResult, Metric, Tiers

METRICS: dict[str, MetricSpec] = {
    "accuracy": MetricSpec("cross-validated accuracy of a linear probe on P_n f (per class: the "
                           "share of the class's images it gets right)", unit="",
                           higher_is_better=False, aggregation="mean"),
    "chance": MetricSpec("accuracy of always answering the most frequent class", unit=""),
    "lift": MetricSpec("(accuracy - chance) / (1 - chance): 0 at chance, 1 when every image is "
                       "right", unit="", higher_is_better=False, aggregation="max"),
    "control_accuracy": MetricSpec("the same probe's accuracy on shuffled labels (the control "
                                   "task)", unit="", aggregation="mean"),
    "selectivity": MetricSpec("accuracy minus control accuracy (Hewitt & Liang 2019): what the "
                              "probe reads beyond what it can fit", unit="",
                              higher_is_better=False, aggregation="mean"),
    "accuracy_after_leace": MetricSpec(
        "the probe's accuracy after LEACE erases the class from P_n f (fitted on each training "
        "fold): at chance when the class signal is linear; overall only (after erasure the "
        "probe answers one class, so per-class recalls mean nothing)", unit="",
        higher_is_better=False, aggregation="mean"),
    "inlp_directions": MetricSpec(
        "directions iterative nullspace projection removes before the probe is at chance "
        "(per class: one class against the rest)", unit="directions", higher_is_better=False,
        aggregation="max"),
}


class NullProbeParams(CheckParams):
    """Probe settings: folds, the logistic regression's regularisation, the erasure figures."""

    folds: int = Field(5, ge=2, le=20, description="stratified cross-validation folds (fewer when "
                       "the smallest class has fewer images)")
    regularisation: float = Field(1.0, gt=0, description="LogisticRegression's C")
    max_iter: int = Field(2000, ge=10, description="LogisticRegression's max_iter")
    erasure: bool = Field(True, description="also measure selectivity, accuracy after LEACE and "
                          "INLP directions (per class too)")
    alpha: float = Field(CHANCE_ALPHA, gt=0, lt=1, description="INLP stops when the probe's "
                         "accuracy is not above chance at this level (one-sided exact test)")
    inlp_max_directions: int | None = Field(None, ge=1, description="stop INLP after this many "
                                            "directions (default: the null space's dimension)")
    solver: Literal["auto", "logistic", "ridge"] = Field(
        "auto", description="the probe: logistic regression, or a closed-form ridge classifier "
        "on one-hot targets (its cost does not grow with the class count); auto: logistic up to "
        "logistic_max_classes classes, ridge above")
    logistic_max_classes: int = Field(100, ge=2, description="auto's switch to the ridge "
                                       "classifier: a multinomial logistic fit costs O(n d C) "
                                       "per iteration")
    inlp_per_class_limit: int = Field(50, ge=0, description="one-vs-rest INLP per class only "
                                      "up to this many classes (one INLP run per class: its "
                                      "cost grows with classes squared)")


class NullProbeCheck(Check[NullProbeParams]):
    """Linear-probe accuracy on the null-space component, per class and overall, vs chance."""

    name = "null_probe"
    headline = "accuracy"
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
        solver = params.solver
        if solver == "auto":
            classes = np.unique(labels).size
            solver = "logistic" if classes <= params.logistic_max_classes else "ridge"
        settings: _ProbeSettings = {"folds": params.folds, "regularisation": params.regularisation,
                                    "max_iter": params.max_iter, "seed": ctx.seed, "solver": solver}
        probe = cross_validated_probe(values, labels, **settings)
        correct = (probe.predicted == labels).astype(np.float64)
        metrics = {"accuracy": scalar_metric(probe.accuracy, METRICS["accuracy"]),
                   "chance": scalar_metric(probe.chance, METRICS["chance"]),
                   "lift": scalar_metric(probe.lift, METRICS["lift"])}
        present = [(index, name) for index, name in enumerate(ctx.class_names)
                   if (labels == index).any()]
        per_class = {
            name: ClassResult(n=int((labels == index).sum()), metrics={
                "accuracy": scalar_metric(probe.class_accuracy(index), METRICS["accuracy"])})
            for index, name in present
        }
        observations = {"accuracy": Observations.of(correct, labels),
                        "lift": Observations.of([probe.lift])}
        data = {"predicted": probe.predicted.tolist(), "label": labels.tolist(),
                "class_names": list(ctx.class_names), "folds": probe.folds,
                "null_dim": ctx.geometry.null_dim, "p_value": probe.p_value, "solver": solver}
        summary = (
            f"null-space probe accuracy {format_number(probe.accuracy)} (chance "
            f"{format_number(probe.chance)}, lift {format_number(probe.lift)}) on "
            f"{ctx.geometry.null_dim}-d P_n f, {probe.folds}-fold cross-validated"
            f"{' ridge classifier' if solver == 'ridge' else ''} over "
            f"{len(labels)} images"
        )
        if params.erasure:
            summary += _erasure_figures(values, labels, present, params, settings, correct,
                                        metrics, per_class, observations, data)
        return Measurements(summary, observations=observations, metrics=metrics,
                            per_class=per_class, data=data)


class _ProbeSettings(TypedDict):
    """What every probe of one check run shares."""

    folds: int
    regularisation: float
    max_iter: int
    seed: int
    solver: Solver


class _InlpSettings(_ProbeSettings):
    alpha: float
    max_directions: int | None


def _erasure_figures(
    values: np.ndarray, labels: np.ndarray, present: list[tuple[int, str]],
    params: NullProbeParams, settings: _ProbeSettings, correct: np.ndarray,
    metrics: dict[str, Metric],
    per_class: dict[str, ClassResult], observations: dict[str, Observations], data: dict,
) -> str:
    """Selectivity, accuracy after LEACE and INLP directions, overall and per class (in place);
    returns the summary's addition."""
    control = cross_validated_probe(values, shuffled_labels(labels, settings["seed"]),
                                    **settings)
    control_correct = (control.predicted == control.labels).astype(np.float64)
    erased = cross_validated_probe(values, labels, fit_transform=fit_leace, **settings)
    erased_correct = (erased.predicted == labels).astype(np.float64)
    inlp_settings: _InlpSettings = {**settings, "alpha": params.alpha,
                                    "max_directions": params.inlp_max_directions}
    inlp = iterative_nullspace_projection(values, labels, **inlp_settings)
    selectivity = float(correct.mean() - control_correct.mean())
    figures = {"control_accuracy": control.accuracy, "selectivity": selectivity,
               "accuracy_after_leace": erased.accuracy, "inlp_directions": inlp.directions}
    metrics.update({key: scalar_metric(value, METRICS[key]) for key, value in figures.items()})
    observations["selectivity"] = Observations.of(correct - control_correct, labels)
    observations["accuracy_after_leace"] = Observations.of(erased_correct, labels)
    observations["inlp_directions"] = Observations.of([inlp.directions])
    inlp_per_class: dict[str, dict] = {}
    per_class_inlp = len(present) <= params.inlp_per_class_limit
    for index, name in present:
        members = labels == index
        # Per class: both probes on the class's images (as the per-image observations judge).
        control_share = float(control_correct[members].mean())
        class_figures = {"control_accuracy": control_share,
                         "selectivity": float(correct[members].mean() - control_share)}
        if per_class_inlp:
            one_vs_rest = iterative_nullspace_projection(values, members.astype(np.int64),
                                                         balanced=True, **inlp_settings)
            inlp_per_class[name] = {"directions": one_vs_rest.directions,
                                    "reached_chance": one_vs_rest.reached_chance,
                                    "accuracies": one_vs_rest.accuracies,
                                    "p_values": one_vs_rest.p_values}
            class_figures["inlp_directions"] = one_vs_rest.directions
        per_class[name].metrics.update(
            {key: scalar_metric(value, METRICS[key]) for key, value in class_figures.items()})
    data.update({"control_predicted": control.predicted.tolist(),
                 "control_label": control.labels.tolist(),
                 "leace_predicted": erased.predicted.tolist(),
                 "leace_rank": fit_leace(values, labels).rank,
                 "inlp": {"directions": inlp.directions, "iterations": inlp.iterations,
                          "reached_chance": inlp.reached_chance, "accuracies": inlp.accuracies,
                          "p_values": inlp.p_values, "alpha": params.alpha,
                          "stopping_rule": "held-out accuracy not above the majority rate "
                                           "(one-sided exact binomial test); per class: "
                                           "class-weighted one-vs-rest probes whose predictions "
                                           "Fisher's exact test finds independent of the labels"},
                 "inlp_per_class": inlp_per_class if per_class_inlp else
                 f"not measured: {len(present)} classes > inlp_per_class_limit "
                 f"{params.inlp_per_class_limit}"})
    more = "" if inlp.reached_chance else "+ (stopped above chance)"
    return (f"; selectivity {format_number(selectivity)} (control "
            f"{format_number(control.accuracy)}), after LEACE {format_number(erased.accuracy)}, "
            f"INLP removes {inlp.directions}{more} direction(s) before chance")
