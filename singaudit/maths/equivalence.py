"""Equivalent features (same logits) and the perturbations that validate the null space."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import torch

from singaudit.errors import NotApplicable
from singaudit.maths._arrays import like_input, to_float64
from singaudit.maths.geometry import HeadGeometry

# What null removal puts in place of the null content: nothing (the paper), or the data mean.
NullRemoval = Literal["zero", "mean"]
NULL_REMOVALS: tuple[str, ...] = ("zero", "mean")


def remove_null(features: Any, geometry: HeadGeometry, reference: Any = None) -> Any:
    """f_eq = P_p f + P_n r: the null content replaced by a reference's (identical logits).

    ``reference`` None (or zero) gives the paper's f_eq = P_p f; the fit-set mean feature mu
    gives P_p f + P_n mu, which removes what varies between images but not the constant part.
    """
    principal = geometry.project_principal(features)
    if reference is None:
        return principal
    f64 = to_float64(principal)
    null_content = to_float64(geometry.project_null(to_float64(reference).reshape(1, -1)))
    return like_input(f64 + null_content.to(f64.device), features)


def null_reference(
    removal: NullRemoval, geometry: HeadGeometry, reference_features: Any
) -> torch.Tensor | None:
    """The reference ``remove_null`` needs for ``removal``: None for "zero", else the mean of
    ``reference_features`` (n, m) (the translator-fit images) as a float64 (m,) vector."""
    if removal == "zero":
        return None
    if removal != "mean":
        raise ValueError(f"null removal must be one of {NULL_REMOVALS}, not {removal!r}")
    rows = to_float64(reference_features)
    if rows.ndim != 2 or rows.shape[0] == 0 or rows.shape[1] != geometry.feature_dim:
        raise ValueError(
            f"a mean reference needs (n >= 1, {geometry.feature_dim}) features; "
            f"got {tuple(rows.shape)}"
        )
    return rows.mean(dim=0)


@dataclass(frozen=True)
class NullReference:
    """What null removal puts in the null space (None: zero) and where it came from, in words."""

    vector: torch.Tensor | None  # (m,) float64
    description: str


def choose_null_reference(
    removal: NullRemoval,
    geometry: HeadGeometry,
    *,
    recorded: Mapping[str, Any] | None = None,
    fit_rows: Callable[[], Any] | None = None,
    fallback_rows: Any = None,
    fallback_words: str = "audit images",
) -> NullReference:
    """The one null-reference policy of every check and of ``explain``.

    "zero": the paper's P_p f. "mean", in order: the fit mean recorded with the translator
    (``recorded``: {"mean": [...], "fit_set": words}), the mean of ``fit_rows()`` (the translator's
    fit features; a callable, so they load only when needed, returning None when there are none),
    the mean of ``fallback_rows``, else zero (said so in the description).
    """
    if removal == "zero":
        return NullReference(None, "zero (the paper's f_eq = P_p f)")
    if removal != "mean":
        raise ValueError(f"null removal must be one of {NULL_REMOVALS}, not {removal!r}")
    if recorded is not None and recorded.get("mean") is not None:
        vector = to_float64(torch.as_tensor(recorded["mean"])).reshape(-1)
        if vector.numel() != geometry.feature_dim or not bool(torch.isfinite(vector).all()):
            raise ValueError(f"the translator's recorded fit mean has {vector.numel()} values "
                             f"(finite: {bool(torch.isfinite(vector).all())}); the classifier's "
                             f"features have {geometry.feature_dim}")
        where = recorded.get("fit_set") or "the translator's fit images"
        return NullReference(vector, f"mean feature of {where}, recorded with the translator "
                                     "(f_eq = P_p f + P_n mu)")
    for rows, words in ((fit_rows() if fit_rows else None, "translator-fit images"),
                        (fallback_rows, fallback_words)):
        if rows is not None and len(rows) > 0:
            return NullReference(null_reference("mean", geometry, rows),
                                 f"mean feature of the {len(rows)} {words} (f_eq = P_p f + P_n mu)")
    return NullReference(None, "zero (no fit mean recorded with the translator and no images to "
                               "take one from)")


def perturbation_norms(features: Any, budget: float, *, relative: bool) -> Any:
    """Per-row l2 norms for perturbations: ``budget * ||f||`` if relative, else ``budget``."""
    f64 = to_float64(features)
    if relative:
        norms = budget * torch.linalg.vector_norm(f64, dim=-1)
    else:
        norms = torch.full(f64.shape[:-1], float(budget), dtype=torch.float64, device=f64.device)
    return like_input(norms, features)


def null_perturbation(
    features: Any, geometry: HeadGeometry, norms: Any, *, generator: torch.Generator | None = None
) -> Any:
    """Gaussian directions inside span(V_n), one per row, rescaled to ``norms``."""
    geometry.require_null_space()
    f64 = to_float64(features)
    coefficients = torch.randn(
        (*f64.shape[:-1], geometry.null_dim), generator=generator, dtype=torch.float64
    )
    directions = coefficients.to(f64.device) @ geometry.null_basis.to(f64.device).T
    return like_input(_rescale(directions, norms), features)


def random_perturbation(
    features: Any, norms: Any, *, generator: torch.Generator | None = None
) -> Any:
    """Isotropic Gaussian directions in the whole feature space, rescaled to ``norms``."""
    f64 = to_float64(features)
    directions = torch.randn(f64.shape, generator=generator, dtype=torch.float64).to(f64.device)
    return like_input(_rescale(directions, norms), features)


def principal_perturbation(
    features: Any,
    geometry: HeadGeometry,
    norms: Any,
    *,
    direction: Literal["leading", "gradient"] = "leading",
    weight: Any = None,
    bias: Any = None,
) -> Any:
    """Perturbations inside span(V_p), rescaled to ``norms``.

    "leading": the top right-singular vector v_1 (the largest logit change per unit norm).
    "gradient": the gradient of the predicted logit, W[argmax(Wf + b)], projected by P_p
    (a no-op up to round-off: rows of W lie in span(V_p)); needs ``weight`` (and ``bias`` if the
    head has one, since it can change the argmax).
    """
    if geometry.rank == 0:
        raise NotApplicable("rank is 0 (the head is zero): no principal direction")
    f64 = to_float64(features)
    principal = geometry.principal_basis.to(f64.device)
    if direction == "leading":
        directions = principal[:, 0].expand(f64.shape)
    elif direction == "gradient":
        if weight is None:
            raise ValueError('direction="gradient" needs the head weight (weight=W)')
        w64 = to_float64(weight).to(f64.device)
        logits = f64 @ w64.T
        if bias is not None:
            logits = logits + to_float64(bias).to(f64.device)
        gradients = w64[logits.argmax(dim=-1)]
        directions = (gradients @ principal) @ principal.T
    else:
        raise ValueError(f'direction must be "leading" or "gradient", not {direction!r}')
    return like_input(_rescale(directions, norms), features)


def logit_change(weight: Any, deltas: Any) -> Any:
    """||W delta||_2 per row: the logit change caused by adding delta (the bias cancels)."""
    w64 = to_float64(weight)
    d64 = to_float64(deltas)
    change = torch.linalg.vector_norm(d64 @ w64.to(d64.device).T, dim=-1)
    return like_input(change, deltas)


def _rescale(directions: torch.Tensor, norms: Any) -> torch.Tensor:
    target = to_float64(norms).to(directions.device)
    length = torch.linalg.vector_norm(directions, dim=-1)
    scale = torch.where(length > 0, target / length.clamp_min(torch.finfo(torch.float64).tiny), 0.0)
    return directions * scale.unsqueeze(-1)
