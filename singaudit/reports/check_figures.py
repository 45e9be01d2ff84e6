"""The built-in checks' report figures: check result -> [report_figure(...), ...].

Registered in ``singaudit.reports.figures.CHECK_FIGURES`` by name, as ``"module:function"``
entries, the way a third party registers its own (``CHECK_FIGURES.add`` or the
``singaudit.figures`` entry-point group); each reads its check's data as the check types it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import cast

from singaudit.checks.null_invariance import NullInvarianceData
from singaudit.checks.steering import SteeringData
from singaudit.checks.translator_fidelity import TranslatorFidelityData
from singaudit.reports import figures
from singaudit.reports.context import report_figure
from singaudit.results import CheckResult

Figures = list[dict[str, str] | None]


def _tier_limits(check: CheckResult, names: tuple[str, ...], sign: float) -> list[float]:
    """(warn, fail) of the first judged metric among ``names``, times ``sign``."""
    for name in names:
        metric = check.metrics.get(name)
        if metric is not None and metric.tiers is not None:
            return [sign * v for v in (metric.tiers.warn, metric.tiers.fail) if v is not None]
    return []


def class_semantics_figures(check: CheckResult) -> Figures:
    """Per-class violins of IS, signed AS, |AS| and the specific leak, with the tiers' levels."""
    return [report_figure(
        "Per-class IS, signed AS, |AS| and specific leak" if "specific_leak" in check.data
        else "Per-class IS, signed AS and |AS|",
        figures.class_violins(
            check.data,
            abs_as_limits=_tier_limits(check, ("abs_as", "median_abs_as"), 1.0),
            signed_as_limits=_tier_limits(check, ("leak",), -1.0),  # leak = -AS
            specific_limits=_tier_limits(check, ("specific_leak",), 1.0),
        ),
        "Black ticks are class medians; dashed and solid red lines the warn and fail bounds "
        "(on signed AS for the leak, -AS toward the true class; on |AS| for |AS|; on the "
        "specific leak, the default verdict: leak toward the class's prompt on its images minus "
        "on the other classes' images).",
    )]


def null_invariance_figures(check: CheckResult) -> Figures:
    """Logit change under null, random and principal perturbations of one norm."""
    data = cast(NullInvarianceData, check.data)
    return [report_figure("Logit change under matched-norm perturbations",
                          figures.logit_change(data),
                          "Null-space perturbations should change the logits only by "
                          "round-off.")]


def translator_fidelity_figures(check: CheckResult) -> Figures:
    """Cosine histograms: held-out, audit images, compared architectures."""
    data = cast(TranslatorFidelityData, check.data)
    return [report_figure("Translator fidelity (cosine)", figures.fidelity_histogram(data))]


def concepts_figures(check: CheckResult) -> Figures:
    """Concept arrows per class and the concept-similarity graph."""
    classes = check.data.get("top_per_class")
    shown = ""
    if isinstance(classes, Mapping) and len(classes) > figures.MAX_CONCEPT_CLASSES:
        shown = f" The first {figures.MAX_CONCEPT_CLASSES} of {len(classes)} classes are shown."
    return [
        report_figure("Top concepts per class: original vs equivalent angle",
                      figures.concept_arrows(check.data),
                      "Green arrows: the equivalent feature is closer to the concept (positive "
                      "AS); orange: farther, i.e. the null component carried the concept."
                      + shown),
        report_figure("Concept similarity graph", figures.concept_graph(check.data)),
    ]


def steering_figures(check: CheckResult) -> Figures:
    """|AS| toward the steering target and the IS each image reached."""
    data = cast(SteeringData, check.data)
    return [report_figure("Null-space steering", figures.steering_plot(data))]
