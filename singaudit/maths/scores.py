"""SING scores in degrees: image score (IS), attribute score (AS) and the model-level ratio."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from singaudit.maths._arrays import as_tensor, like_input, to_float64


def angle(u: Any, v: Any) -> Any:
    """Row-wise angle in degrees, arccos of the clamped cosine; NaN where a vector is zero.

    Shapes broadcast over rows: (n, k) with (n, k) or (k,).
    """
    u64, v64 = to_float64(u), to_float64(v)
    v64 = v64.to(u64.device)
    dot = (u64 * v64).sum(dim=-1)
    norms = torch.linalg.vector_norm(u64, dim=-1) * torch.linalg.vector_norm(v64, dim=-1)
    cosine = torch.where(norms > 0, dot / norms, torch.nan).clamp(-1.0, 1.0)
    return like_input(torch.rad2deg(torch.arccos(cosine)), u)


def angle_matrix(u: Any, v: Any) -> Any:
    """Angle in degrees between every row of ``u`` and every row of ``v``: (n, k), (j, k) ->
    (n, j), one matrix product (broadcasting ``angle`` would hold an (n, j, k) array)."""
    u64 = to_float64(u)
    return like_input(_angle_matrix(u64, to_float64(v).to(u64.device)), u)


def image_score(t_orig: Any, t_eq: Any) -> Any:
    """IS = angle(T(f), T(f_eq)): how far the semantics move inside the equivalence set."""
    return angle(t_orig, t_eq)


def attribute_score(t_orig: Any, t_eq: Any, text: Any) -> Any:
    """AS = angle(T(f), t) - angle(T(f_eq), t); text is (k,) or (n, k).

    Positive: the equivalent feature is closer to the concept (the null component suppressed it).
    """
    return angle(t_orig, text) - angle(t_eq, text)


def concept_attribute_scores(t_orig: Any, t_eq: Any, texts: Any) -> Any:
    """AS of every row against every concept: (n, k), (n, k), (j, k) -> (n, j)."""
    t_orig64, t_eq64 = to_float64(t_orig), to_float64(t_eq)
    texts64 = to_float64(texts).to(t_orig64.device)
    scores = _angle_matrix(t_orig64, texts64) - _angle_matrix(t_eq64.to(t_orig64.device), texts64)
    return like_input(scores, t_orig)


def prompt_leaks(t_orig: Any, t_eq: Any, texts: Any) -> Any:
    """leak = -AS of every image toward every prompt: (n, k), (n, k), (c, k) -> (n, c)."""
    return -concept_attribute_scores(t_orig, t_eq, texts)


def specific_leak(leaks: Any, labels: Any) -> Any:
    """Contrast over images: leak toward the own class's prompt minus the median leak toward that
    prompt on images of the other classes, per image (n, c), (n,) -> (n,).

    A shift common to every image (a drift of T(f_eq) in one direction) moves both terms alike
    and cancels; NaN for unlabelled rows (label < 0) and classes with no other-class images.
    """
    values = to_float64(leaks)
    label = as_tensor(labels).to(device=values.device, dtype=torch.int64)
    result = torch.full(label.shape, torch.nan, dtype=torch.float64, device=values.device)
    labelled = label >= 0
    for k in torch.unique(label[labelled]).tolist():
        own, others = label == k, labelled & (label != k)
        if others.any():
            result[own] = values[own, k] - values[others, k].nanquantile(0.5)
    return like_input(result, leaks)


def prompt_contrast(leaks: Any, labels: Any) -> Any:
    """Contrast over prompts: leak toward the own class's prompt minus the mean leak toward the
    other classes' prompts, per image (n, c), (n,) -> (n,); NaN for unlabelled rows."""
    values = to_float64(leaks)
    label = as_tensor(labels).to(device=values.device, dtype=torch.int64)
    result = torch.full(label.shape, torch.nan, dtype=torch.float64, device=values.device)
    labelled = (label >= 0) & (values.shape[1] > 1)
    if labelled.any():
        rows = values[labelled]
        own = rows.gather(1, label[labelled].unsqueeze(1)).squeeze(1)
        result[labelled] = own - (rows.sum(dim=1) - own) / (values.shape[1] - 1)
    return like_input(result, leaks)


def evidence_change(
    t_orig: Any, t_eq: Any, texts: Any, labels: Any, *, logit_scale: float = 100.0
) -> Any:
    """Zero-shot evidence lost by null removal: log p(true class | T(f)) - log p(true | T(f_eq)),
    softmax over the class prompts of ``logit_scale`` x cosine (CLIP's 100), in nats; NaN for
    unlabelled rows. Positive: the null content carried evidence for the true class."""
    texts64 = to_float64(texts)
    label = as_tensor(labels).to(dtype=torch.int64)

    def log_probability(embeddings: Any) -> torch.Tensor:
        rows = to_float64(embeddings)
        unit = rows / torch.linalg.vector_norm(rows, dim=-1, keepdim=True)
        text = texts64.to(rows.device)
        logits = logit_scale * unit @ (text / torch.linalg.vector_norm(text, dim=-1,
                                                                       keepdim=True)).T
        return torch.log_softmax(logits, dim=-1)

    before, after = log_probability(t_orig), log_probability(t_eq)
    label = label.to(before.device)
    result = torch.full(label.shape, torch.nan, dtype=torch.float64, device=before.device)
    labelled = label >= 0
    index = label[labelled].unsqueeze(1)
    result[labelled] = (before[labelled].gather(1, index) - after[labelled].gather(1, index)
                        ).squeeze(1)
    return like_input(result, t_orig)


def _angle_matrix(rows: torch.Tensor, columns: torch.Tensor) -> torch.Tensor:
    # One matmul of unit vectors: no (n, j, k) intermediate for large vocabularies.
    row_norms = torch.linalg.vector_norm(rows, dim=-1, keepdim=True)
    column_norms = torch.linalg.vector_norm(columns, dim=-1, keepdim=True)
    cosine = (rows / row_norms) @ (columns / column_norms).T
    return torch.rad2deg(torch.arccos(cosine.clamp(-1.0, 1.0)))


def model_ratio(is_values: Any, as_values: Any) -> float:
    """median(IS) / median(|AS|), NaN entries ignored (higher is better).

    inf when median(|AS|) is 0 and median(IS) > 0; NaN when a side is empty (after dropping NaN)
    or both medians are 0.
    """
    image_scores = _without_nan(is_values)
    attribute_scores = np.abs(_without_nan(as_values))
    if image_scores.size == 0 or attribute_scores.size == 0:
        return math.nan
    numerator = float(np.median(image_scores))
    denominator = float(np.median(attribute_scores))
    if denominator == 0.0:
        return math.inf if numerator > 0.0 else math.nan
    return numerator / denominator


def ensemble_text(embeddings: Any) -> Any:
    """Mean of unit-normalised text embeddings (..., j, k), renormalised: (..., k)."""
    e64 = to_float64(embeddings)
    unit = e64 / torch.linalg.vector_norm(e64, dim=-1, keepdim=True)
    mean = unit.mean(dim=-2)
    return like_input(mean / torch.linalg.vector_norm(mean, dim=-1, keepdim=True), embeddings)


def _without_nan(values: Any) -> np.ndarray:
    array = to_float64(values).detach().cpu().numpy().ravel()
    return array[~np.isnan(array)]


def rescale_to_reference(equivalent: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """T_hat(f_eq) = T(f_eq) * ||T(f)|| / ||T(f_eq)||, row by row for (n, k) inputs.

    The direction of ``equivalent`` is kept; only its length becomes that of ``reference``,
    because a generator reads the embedding norm but the scores read angles only.
    """
    if equivalent.shape != reference.shape:
        raise ValueError(
            f"equivalent {tuple(equivalent.shape)} and reference {tuple(reference.shape)} differ in shape"
        )
    equivalent_norm = equivalent.norm(dim=-1, keepdim=True)
    reference_norm = reference.norm(dim=-1, keepdim=True)
    # A zero equivalent has no direction to keep: leave it as it is rather than divide by zero.
    scale = torch.where(
        equivalent_norm > 0,
        reference_norm / equivalent_norm.clamp_min(torch.finfo(equivalent.dtype).tiny),
        1,
    )
    return equivalent * scale
