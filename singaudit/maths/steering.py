"""Concept steering inside the null space: move f toward a text concept without changing logits."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from singaudit.maths._arrays import as_tensor, like_input, to_float64
from singaudit.maths.geometry import HeadGeometry
from singaudit.maths.scores import angle, attribute_score


@dataclass
class SteeringResult:
    """Steered features and, per row, eps, IS(T(f), T(f_eps)), AS toward the text, convergence."""

    features: Any  # f_eps, in the input's kind and dtype
    eps: Any
    image_score: Any
    attribute_score: Any  # positive: T(f_eps) is closer to the text than T(f)
    converged: Any  # bool per row; False where P_n g = 0 or the target IS is out of reach


def steer_toward(
    features: Any,
    translator: Callable[[torch.Tensor], torch.Tensor],
    text_embedding: Any,
    geometry: HeadGeometry,
    *,
    target_is: float = 40.0,
    tol: float = 0.1,
    max_iter: int = 60,
) -> SteeringResult:
    """f_eps = f + eps d with d = P_n g / ||P_n g||, g = grad_f cos(T(f), t).

    eps is found per row so that IS(T(f), T(f_eps)) = target_is within tol degrees: the bracket
    grows by doubling (at most max_iter times, stopping early where IS plateaus), then bisection
    (at most max_iter steps). Rows that cannot reach the target keep converged=False.
    """
    geometry.require_null_space()
    with _eval_mode(translator):
        work_dtype = _parameter_dtype(translator) or _float_dtype(as_tensor(features))
        f64 = to_float64(features).detach()
        text = to_float64(text_embedding).to(f64.device)
        directions = _null_ascent_directions(f64, translator, text, geometry, work_dtype)
        steerable = torch.linalg.vector_norm(directions, dim=-1) > 0

        def translate(rows: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
            shifted = f64[rows] + eps.unsqueeze(-1) * directions[rows]
            with torch.no_grad():
                return translator(shifted.to(work_dtype)).to(torch.float64)

        every_row = torch.arange(len(f64), device=f64.device)
        original = translate(
            every_row, torch.zeros(len(f64), dtype=torch.float64, device=f64.device)
        )

        def image_scores(rows: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
            return angle(original[rows], translate(rows, eps))

        converged, eps = _calibrate(f64, steerable, image_scores, target_is, tol, max_iter)
        steered = translate(every_row, eps)
    steered_features = f64 + eps.unsqueeze(-1) * directions
    return SteeringResult(
        features=like_input(steered_features, features),
        eps=like_input(eps, features, torch.float64),
        image_score=like_input(angle(original, steered), features, torch.float64),
        attribute_score=like_input(
            attribute_score(original, steered, text), features, torch.float64
        ),
        converged=like_input(converged, features, torch.bool),
    )


def _null_ascent_directions(
    f64: torch.Tensor,
    translator: Callable[[torch.Tensor], torch.Tensor],
    text: torch.Tensor,
    geometry: HeadGeometry,
    work_dtype: torch.dtype,
) -> torch.Tensor:
    with torch.enable_grad():
        inputs = f64.to(work_dtype).requires_grad_(True)
        similarity = F.cosine_similarity(translator(inputs), text.to(work_dtype), dim=-1)
        (gradient,) = torch.autograd.grad(similarity.sum(), inputs)  # rows are independent
    gradient = gradient.to(torch.float64)
    null_gradient = geometry.project_null(gradient)
    length = torch.linalg.vector_norm(null_gradient, dim=-1, keepdim=True)
    # A null component at round-off level is no direction at all: T ignores the null space.
    noise = (
        100 * torch.finfo(work_dtype).eps * torch.linalg.vector_norm(gradient, dim=-1, keepdim=True)
    )
    usable = (length > noise) & (length > 0)
    return torch.where(
        usable, null_gradient / length.clamp_min(torch.finfo(torch.float64).tiny), 0.0
    )


def _calibrate(
    f64: torch.Tensor,
    steerable: torch.Tensor,
    image_scores: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    target: float,
    tol: float,
    max_iter: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    n = len(f64)
    scale = torch.linalg.vector_norm(f64, dim=-1)
    low = torch.zeros(n, dtype=torch.float64, device=f64.device)
    high = torch.where(scale > 0, 0.1 * scale, 1.0)  # first guess: a tenth of ||f||
    eps = torch.zeros_like(low)
    converged = torch.zeros(n, dtype=torch.bool, device=f64.device)
    bracketed = torch.zeros_like(converged)
    last_scores = torch.zeros_like(low)
    # Grow the bracket until IS(high) passes the target.
    pending = steerable.clone()
    for _ in range(max_iter):
        rows = pending.nonzero().squeeze(-1)
        if rows.numel() == 0:
            break
        scores = image_scores(rows, high[rows])
        hit = (scores - target).abs() <= tol
        over = scores > target + tol
        under = scores < target - tol  # NaN (overflow) is neither: the row stops, unconverged
        # IS saturates (e.g. an affine T tends to the direction A d): stop growing on a plateau.
        plateau = under & (scores - last_scores[rows] < 1e-3 * scores)
        last_scores[rows] = scores
        eps[rows[hit]] = high[rows[hit]]
        converged[rows[hit]] = True
        bracketed[rows[over]] = True
        eps[rows[plateau]] = high[rows[plateau]]
        grow = under & ~plateau
        low[rows[grow]] = high[rows[grow]]
        high[rows[grow]] *= 2.0
        pending[rows[~grow]] = False
    eps[pending] = high[pending]  # the target stayed out of reach
    # Bisect inside [low, high].
    pending = bracketed.clone()
    for _ in range(max_iter):
        rows = pending.nonzero().squeeze(-1)
        if rows.numel() == 0:
            break
        middle = 0.5 * (low[rows] + high[rows])
        scores = image_scores(rows, middle)
        hit = (scores - target).abs() <= tol
        below = scores < target
        eps[rows] = middle
        converged[rows[hit]] = True
        pending[rows[hit]] = False
        low[rows[below & ~hit]] = middle[below & ~hit]
        high[rows[~below & ~hit]] = middle[~below & ~hit]
    return converged, eps


@contextmanager
def _eval_mode(translator: Any):
    # Dropout would make IS random; restore the caller's mode afterwards.
    was_training = isinstance(translator, nn.Module) and translator.training
    if was_training:
        translator.eval()
    try:
        yield
    finally:
        if was_training:
            translator.train()


def _parameter_dtype(translator: Any) -> torch.dtype | None:
    if isinstance(translator, nn.Module):
        for parameter in translator.parameters():
            return parameter.dtype
    return None


def _float_dtype(tensor: torch.Tensor) -> torch.dtype:
    return tensor.dtype if tensor.dtype.is_floating_point else torch.float32
