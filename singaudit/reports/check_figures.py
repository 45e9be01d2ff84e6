"""The built-in checks' report figures: check result -> [report_figure(...), ...].

Registered in ``singaudit.reports.figures.CHECK_FIGURES`` by name, as ``"module:function"``
entries, the way a third party registers its own (``CHECK_FIGURES.add`` or the
``singaudit.figures`` entry-point group); each reads its check's data as the check types it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import cast

from singaudit.checks.null_invariance import NullInvarianceData
from singaudit.checks.steering import SteeringData
from singaudit.checks.translator_fidelity import TranslatorFidelityData
from singaudit.maths.null_semantics import MIN_JOINT_CONTRAST
from singaudit.reports import figures
from singaudit.reports.context import report_figure
from singaudit.results import CheckResult, Metric
from singaudit.wording import number as format_number

Figures = list[dict[str, str] | None]


def _tier_limits(check: CheckResult, names: tuple[str, ...], sign: float) -> list[float]:
    """(warn, fail) of the first judged metric among ``names``, times ``sign``."""
    for name in names:
        metric = check.metrics.get(name)
        if metric is not None and metric.tiers is not None:
            return [sign * v for v in (metric.tiers.warn, metric.tiers.fail) if v is not None]
    return []


def class_semantics_figures(check: CheckResult) -> Figures:
    """The default verdict's carried_share per class, then what one translator draws from the
    null space (IS, signed AS, |AS|, specific leak), each with its tiers' levels."""
    return [_carried_share_figure(check), report_figure(
        "Per-class IS, signed AS, |AS| and specific leak" if "specific_leak" in check.data
        else "Per-class IS, signed AS and |AS|",
        figures.class_violins(
            check.data,
            abs_as_limits=_tier_limits(check, ("abs_as", "median_abs_as"), 1.0),
            signed_as_limits=_tier_limits(check, ("leak",), -1.0),  # leak = -AS
            specific_limits=_tier_limits(check, ("specific_leak",), 1.0),
        ),
        "What one translator T, fitted on the whole feature, draws from the null space: the "
        "paper's IS and AS; reported, not judged by default. Black ticks are class medians; "
        "the grey band is hard to see; red lines appear only where your tiers judge a reading "
        "(dashed warn, solid fail). The specific leak is the leak toward a class's prompt on its images minus on "
        "the other classes' images.",
    )]


def _carried_share_figure(check: CheckResult) -> dict[str, str] | None:
    """Per-class carried_share, the default verdict's reading, with its warn and fail lines."""
    shares = check.data.get("carried_share")
    if not isinstance(shares, list):
        return None  # results written before the share verdict
    limits = _tier_limits(check, ("carried_share",), 1.0)
    levels = ""
    if limits:
        levels = (f" Dashed red line: warn ({format_number(limits[0])}); solid: fail "
                  f"({format_number(limits[-1])}). A class beyond a line is flagged only when "
                  f"the one-sided test (Holm over the classes) says its median is.")
    judged = {name for name, result in check.per_class.items()
              if _is_number(result.metrics.get("carried_share"))}
    unjudged = [name for name in check.per_class if name not in judged]
    left_out = ""
    if unjudged:
        more = f" and {len(unjudged) - 10} more" if len(unjudged) > 10 else ""
        left_out = (f" Not judged (the joint space separates their images by less than "
                    f"{format_number(MIN_JOINT_CONTRAST)} deg, so a share would be noise): "
                    f"{', '.join(unjudged[:10])}{more}.")
    shown = ""
    if len(judged) > figures.MAX_CLASSES:
        shown = (f" The {figures.MAX_CLASSES} of {len(judged)} judged classes with the highest "
                 f"median share are shown.")
    return report_figure(
        "Default verdict: share of the class contrast the null component carries",
        figures.class_shares(check.data, limits),
        "Per image: how far the null component alone (a translator fitted from the null "
        "coordinates only) points the image toward its class's prompt, as a share of the class "
        "contrast the class's images show in their own joint embeddings (its median; 1: all "
        "of it, 0: none). Black ticks are class medians." + levels + left_out + shown,
    )


def _is_number(metric: Metric | None) -> bool:
    return metric is not None and metric.value is not None and math.isfinite(metric.value)


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
