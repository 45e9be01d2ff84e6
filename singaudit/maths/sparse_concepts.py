"""Sparse non-negative concept decomposition (SpLiCE-style, Bhalla et al. 2024) of directions in a
joint space, e.g. the translated null-space shift T(f) - T(f_eq).

Concepts are unit text embeddings centred on the vocabulary's mean and renormalised (so what all
prompts share, e.g. the template, is not a concept). A target direction x (unit) is written as
x ~ sum_j w_j c_j with w >= 0 by the non-negative lasso

    min_w  1/2 ||x - w C||^2 + lambda ||w||_1,   w >= 0,

solved for a batch of targets at once in torch, on whatever device the tensors are on, by FISTA
(Beck & Teboulle 2009) on a working set of concepts per target, checked against the optimality
conditions over the whole vocabulary (so 15,000 concepts cost a few full products, not hundreds);
deterministic (no random start, stable sorts, fixed iteration order).

Sparsity rule: lambda = share * lambda_max(x), where lambda_max(x) = max_j (c_j . x) is the
smallest penalty whose solution is empty, so the share is scale-free (1: nothing, 0: least
squares); the share is ``sparsity``. A target whose solution names more than ``max_concepts``
concepts keeps the ``max_concepts`` largest weights (``limited`` says which did); one that crowds
its working set is not solved further (its set does not grow to the dense solution it needs). (Raising the penalty until
few enough remain instead dropped a planted concept before the noise ones: on a lasso path,
correlated concepts leave in no order of weight.) The support found is then refitted without penalty (non-negative least squares), so weights are
not shrunk; the reconstruction cosine cos(x, w C) says how much of x the named concepts explain.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # torch loads when a decomposition runs, not to validate a spec
    import torch

DEFAULT_SPARSITY = 0.1
DEFAULT_MAX_CONCEPTS = 5  # SpLiCE names 3 to 9; on clean, 10 let noise name a shape


def centred_concepts(embeddings: torch.Tensor) -> torch.Tensor:
    """(V, k) unit rows, centred on their mean and renormalised (float32)."""
    import torch

    unit = torch.nn.functional.normalize(embeddings.float(), dim=-1)
    return torch.nn.functional.normalize(unit - unit.mean(dim=0, keepdim=True), dim=-1)


@dataclass(frozen=True)
class Decomposition:
    """Non-negative sparse weights of a batch of targets over a concept dictionary."""

    weights: torch.Tensor  # (n, V) non-negative, mostly zero
    cosine: torch.Tensor  # (n,) cos(target, weights @ concepts); 0 for an empty decomposition
    iterations: int  # FISTA iterations run (the most over batches, all rounds)
    limited: torch.Tensor  # (n,) True: cut to the max_concepts largest weights
    optimal: bool = True  # False: a batch still violated the optimality conditions

    def top(self, row: int, count: int) -> list[tuple[int, float]]:
        """The ``count`` largest non-zero weights of one row, as (concept index, weight)."""
        import torch

        values, indices = torch.sort(self.weights[row], descending=True, stable=True)
        keep = values[:count] > 0
        return [(int(i), float(v)) for i, v in zip(indices[:count][keep], values[:count][keep],
                                                    strict=True)]


def nonnegative_lasso(
    targets: torch.Tensor, concepts: torch.Tensor, *, sparsity: float = DEFAULT_SPARSITY,
    working_set: int = 128, max_iterations: int = 1000, tolerance: float = 1e-6,
    refit: bool = True, batch_size: int = 256, max_rounds: int = 10,
    max_working_set: int = 256, max_concepts: int | None = DEFAULT_MAX_CONCEPTS,
) -> Decomposition:
    """Decompose each row of ``targets`` (n, k) over the rows of ``concepts`` (V, k).

    Targets are normalised to unit length (a zero row gets an empty decomposition). A working
    set per target (the ``working_set`` concepts with the largest optimality violation, at first
    the largest correlation with the target) is solved by FISTA on its Gram matrix, and the
    solution is checked against the optimality (KKT) conditions over the whole vocabulary: no
    concept left out may correlate with the residual above the penalty. Violators enter the next
    round's working set, which doubles (up to ``max_working_set``) when a support fills half of
    it; a target that needs more concepts is left at the best solution within the set and
    ``optimal`` says so. A target whose support exceeds ``max_concepts`` (None: no bound) keeps
    its largest weights and is not solved further. ``refit`` then re-solves each support without
    the penalty.
    """
    import torch

    if not 0.0 <= sparsity <= 1.0:
        raise ValueError(f"sparsity must lie in [0, 1], got {sparsity}")
    if max_concepts is not None and max_concepts < 1:
        raise ValueError(f"max_concepts must be at least 1, got {max_concepts}")
    dictionary = concepts.float()
    unit = torch.nn.functional.normalize(targets.float().to(dictionary.device), dim=-1)
    size = min(working_set, len(dictionary))
    rows, cut, iterations, optimal = [], [], 0, True
    for start in range(0, len(unit), batch_size):
        chunk = unit[start:start + batch_size]
        weights, used, converged = _working_set_lasso(
            chunk, dictionary, sparsity, size, max_iterations, tolerance, max_rounds,
            max_working_set, max_concepts)
        limited = torch.zeros(len(chunk), dtype=torch.bool, device=weights.device)
        if max_concepts is not None:
            limited = (weights > 0).sum(dim=-1) > max_concepts
            kept = torch.topk(weights, min(max_concepts, weights.shape[1]), dim=-1).indices
            truncated = torch.zeros_like(weights).scatter_(1, kept, weights.gather(1, kept))
            weights = torch.where(limited.unsqueeze(-1), truncated, weights)
        if refit:
            weights = _refit(chunk, dictionary, weights)
        rows.append(weights)
        cut.append(limited)
        iterations, optimal = max(iterations, used), optimal and converged
    weights = torch.cat(rows) if rows else unit.new_zeros((0, len(dictionary)))
    limited = (torch.cat(cut) if cut
               else torch.zeros(0, dtype=torch.bool, device=dictionary.device))
    reconstruction = weights @ dictionary
    cosine = torch.nn.functional.cosine_similarity(reconstruction, unit, dim=-1)
    cosine = torch.where(weights.sum(dim=-1) > 0, cosine, torch.zeros_like(cosine))
    return Decomposition(weights=weights, cosine=cosine, iterations=iterations, limited=limited,
                         optimal=optimal)


def _working_set_lasso(targets: torch.Tensor, dictionary: torch.Tensor, sparsity: float,
                       size: int, max_iterations: int, tolerance: float, max_rounds: int,
                       max_working_set: int, max_concepts: int | None
                       ) -> tuple[torch.Tensor, int, bool]:
    import torch

    correlation = targets @ dictionary.T  # (n, V): minus the gradient at w = 0
    penalty = sparsity * correlation.max(dim=-1, keepdim=True).values.clamp_min(0.0)
    weights = torch.zeros_like(correlation)
    score = correlation
    used = 0
    for _ in range(max_rounds):
        # Concepts in the support first, then the largest violations (stable: ties by index).
        priority = torch.where(weights > 0, torch.full_like(score, float("inf")), score)
        members = torch.sort(priority, dim=-1, descending=True, stable=True).indices[:, :size]
        atoms = dictionary[members]  # (n, size, k)
        gram = atoms @ atoms.transpose(1, 2)
        local = torch.gather(correlation, 1, members)
        start = torch.gather(weights, 1, members)
        solved, iterations = _fista_gram(gram, local, penalty, start, max_iterations, tolerance)
        used += iterations
        weights = torch.zeros_like(correlation).scatter_(1, members, solved)
        support = (weights > 0).sum(dim=-1)
        # A target crowding its set that will be cut to max_concepts anyway is dense: its
        # largest weights are known well enough, and its set does not grow.
        open_rows = (support <= max(max_concepts, size // 2) if max_concepts is not None
                     else torch.ones_like(support, dtype=torch.bool)).unsqueeze(-1)
        score = correlation - (weights @ dictionary) @ dictionary.T  # residual correlations
        violation = (score - penalty).clamp_min(0.0) * (weights == 0) * open_rows
        if float(violation.max()) <= 10 * tolerance * max(float(penalty.max()), 1e-12):
            return weights, used, True
        if int((support * open_rows.squeeze(-1)).max()) > size // 2:  # a support crowds its set
            if size >= min(max_working_set, len(dictionary)):
                break  # a target needs more concepts than the set may hold: not sparse
            size = min(2 * size, len(dictionary), max(max_working_set, size))
    return weights, used, False


def _fista_gram(gram: torch.Tensor, linear: torch.Tensor, penalty: torch.Tensor,
                start: torch.Tensor, max_iterations: int, tolerance: float
                ) -> tuple[torch.Tensor, int]:
    """Batched FISTA for min 1/2 w G w - b w + lambda sum w, w >= 0, with per-row steps."""
    import torch

    # Each row's Lipschitz constant (the Gram's largest eigenvalue) by power iteration, padded.
    vector = torch.ones_like(linear).unsqueeze(-1)
    for _ in range(30):
        vector = torch.nn.functional.normalize(gram @ vector, dim=1)
    lipschitz = (vector.transpose(1, 2) @ gram @ vector).squeeze(-1) * 1.05 + 1e-12
    step = 1.0 / lipschitz  # (n, 1)
    weights, momentum, t = start.clone(), start.clone(), 1.0
    for iteration in range(1, max_iterations + 1):
        gradient = (gram @ momentum.unsqueeze(-1)).squeeze(-1) - linear
        updated = (momentum - step * (gradient + penalty)).clamp_min(0.0)
        t_next = (1.0 + (1.0 + 4.0 * t * t) ** 0.5) / 2.0
        momentum = updated + ((t - 1.0) / t_next) * (updated - weights)
        change = float((updated - weights).abs().max()) if updated.numel() else 0.0
        weights, t = updated, t_next
        if change <= tolerance:
            return weights, iteration
    return weights, max_iterations


def _refit(targets: torch.Tensor, dictionary: torch.Tensor, weights: torch.Tensor
           ) -> torch.Tensor:
    """Non-negative least squares of each target on its own support (scipy's exact NNLS)."""
    import torch
    from scipy.optimize import nnls  # lazy: scipy.optimize costs an import

    refitted = torch.zeros_like(weights)
    x = targets.double().cpu().numpy()
    atoms = dictionary.double().cpu().numpy()
    support_of = (weights > 0).cpu().numpy()
    for row in range(len(x)):
        support = np.flatnonzero(support_of[row])
        if support.size == 0:
            continue
        solution, _ = nnls(atoms[support].T, x[row])
        refitted[row, torch.from_numpy(support).to(weights.device)] = torch.from_numpy(
            solution).to(weights)
    return refitted
