"""Translator fidelity: how well T(f) reproduces the joint space's image embeddings.

Every semantic score reads T, so a poor translator makes them meaningless. Reports the held-out
mean cosine, MSE and R^2 of the translator in use (from its fit), the same on the audit images,
and optionally trains other architectures on the same fit split for a side-by-side comparison.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal, TypedDict

import numpy as np
from pydantic import AfterValidator, Field

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
from singaudit.pipeline.translators import fit_translator, get_architecture
from singaudit.results import Tiers


def _architecture(name: str) -> str:
    """A registered translator architecture (singaudit.pipeline.translators)."""
    from singaudit.errors import SpecError

    try:
        return get_architecture(name).name
    except SpecError as error:
        raise ValueError(str(error)) from None


Architecture = Annotated[str, AfterValidator(_architecture)]


class TranslatorFidelityData(TypedDict):
    """The check's data; its report figure reads the cosines (held-out, audit images, and per
    compared architecture)."""

    cosine: list[float]  # held-out images
    audit_cosine: list[float]
    architecture: str
    alpha: float | None
    source: str  # where the translator came from: fitted, cache, a file
    cosine_by_architecture: dict[str, list[float]]
    comparison: dict[str, dict[str, float]]  # architecture -> mean_cosine, mse, r2

METRICS: dict[str, MetricSpec] = {
    "cosine": MetricSpec("held-out cosine(T(f), image embedding) per image", unit="",
                         higher_is_better=True, aggregation="mean"),
    "mse": MetricSpec("held-out mean squared error of T(f)", unit="", higher_is_better=False,
                      aggregation="mean"),
    "r2": MetricSpec("held-out R^2 of T(f) (uniform over embedding dimensions)", unit="",
                     higher_is_better=True, aggregation="mean"),
    "audit_cosine": MetricSpec("cosine(T(f), image embedding) on the audit images", unit="",
                               higher_is_better=True, aggregation="mean"),
}


class TranslatorFidelityParams(CheckParams):
    """Architectures to train on the translator's fit split and compare (none by default)."""

    compare: list[Architecture] = Field(default_factory=list,
                                        description="architectures trained for comparison")
    loss: Literal["mse", "cos", "mse+cos"] = Field("mse", description="loss for MLPs")
    epochs: int = Field(100, ge=1, description="maximum epochs for MLPs (early stopping)")
    batch_size: int = Field(256, ge=1)
    patience: int = Field(10, ge=1)
    hidden: int | None = Field(None, ge=1, le=65_536, description="hidden width of MLPs")


class TranslatorFidelityCheck(Check[TranslatorFidelityParams]):
    """Held-out fidelity of the translator; optional comparison of architectures."""

    name = "translator_fidelity"
    headline = "cosine"
    metrics = METRICS
    default_tiers: ClassVar[list[Tiers]] = [
        Tiers(metric="cosine", statistic="mean", warn=0.7, fail=0.5, scope="overall"),
    ]
    requires_null_space = False

    def measure(self, ctx: ModelContext, params: TranslatorFidelityParams) -> Measurements:
        from singaudit.maths.translators import fidelity, row_cosines  # lazy: torch

        info = dict(ctx.translator_info or {})
        heldout = {**info, **(info.get("heldout") or {})}
        audit_predicted = ctx.translate(ctx.features)
        audit_cosines = as_array(row_cosines(audit_predicted, ctx.image_embeddings))
        audit = fidelity(audit_predicted, ctx.image_embeddings)

        if heldout.get("mean_cosine") is not None:
            source = (f"held-out split of the translator's fit data ({info.get('n_heldout', '?')} "
                      "images used neither to fit nor to select it)")
            cosines = np.asarray(heldout.get("row_cosines") or [heldout["mean_cosine"]], float)
            scores = {k: float(heldout[k]) for k in ("mean_cosine", "mse", "r2") if k in heldout}
        else:  # a loaded translator without recorded fidelity: the audit images are held out too
            source = "audit images (no held-out fidelity recorded with the translator)"
            cosines, scores = audit_cosines, audit

        metrics = {"cosine": summary_metric(cosines, METRICS["cosine"], seed=ctx.seed),
                   "audit_cosine": summary_metric(audit_cosines, METRICS["audit_cosine"],
                                                  seed=ctx.seed)}
        for key in ("mse", "r2"):
            if key in scores:
                metrics[key] = scalar_metric(scores[key], METRICS[key])
        observations = {"cosine": Observations.of(cosines),
                        "audit_cosine": Observations.of(audit_cosines)}
        observations.update({k: Observations.of([scores[k]]) for k in ("mse", "r2") if k in scores})

        comparison: dict[str, dict[str, Any]] = {}
        arch = str(info.get("architecture") or "translator")
        if params.compare:
            comparison = _compare(ctx, params)
            for name, row in comparison.items():
                for key in ("mean_cosine", "mse", "r2"):
                    metrics[f"{name}_{key}"] = scalar_metric(
                        row[key], METRICS["cosine" if key == "mean_cosine" else key])

        summary = (
            f"{arch} translator: mean cosine {format_number(scores.get('mean_cosine'))}, "
            f"MSE {format_number(scores.get('mse'))}, R^2 {format_number(scores.get('r2'))} on "
            f"the {source}; audit images mean cosine {format_number(audit['mean_cosine'])}"
        )
        if comparison:
            summary += "; compared: " + ", ".join(
                f"{name} {format_number(row['mean_cosine'])}" for name, row in comparison.items())
        data: TranslatorFidelityData = {
            "cosine": cosines.tolist(),
            "audit_cosine": audit_cosines.tolist(),
            "architecture": arch,
            "alpha": info.get("alpha"),
            "source": source,
            "cosine_by_architecture": {k: v["cosine"] for k, v in comparison.items()},
            "comparison": {k: {m: v[m] for m in ("mean_cosine", "mse", "r2")}
                           for k, v in comparison.items()},
        }
        return Measurements(summary, observations=observations, metrics=metrics,
                            data=dict(data))


def _compare(ctx: ModelContext, params: Any) -> dict[str, dict[str, Any]]:
    """Fit each architecture as the audit's translator is fitted (train and selection rows of the
    fit split); fidelity on its held-out rows, used neither to fit nor to select."""
    x_fit, y_fit, x_held, y_held = ctx.fit_data()
    rows: dict[str, dict[str, Any]] = {}
    for arch in params.compare:
        architecture = get_architecture(arch)
        settings = {"loss": params.loss, "epochs": params.epochs, "batch_size": params.batch_size,
                    "patience": params.patience, "hidden": params.hidden}
        options = {k: v for k, v in settings.items() if k in architecture.options.model_fields}
        _, info = fit_translator(arch, options, x_fit, y_fit, x_held, y_held, seed=ctx.seed)
        rows[arch] = {**{k: info[k] for k in ("mean_cosine", "mse", "r2")},
                      "cosine": info["row_cosines"]}
    return rows
