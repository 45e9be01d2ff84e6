"""The norm rescale applied to translated embeddings before generation (METHOD.md)."""

from __future__ import annotations

import torch


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
