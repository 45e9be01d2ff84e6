"""SVD geometry of a linear head W (c, m): principal and null subspaces of the feature space."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from singaudit.errors import NotApplicable
from singaudit.maths._arrays import as_tensor, like_input, to_float64
from singaudit.wording import significant


@dataclass(frozen=True, eq=False)
class HeadGeometry:
    """Right-singular bases of a head: W V_n = 0, so adding P_n f never changes the logits."""

    singular_values: torch.Tensor  # (min(c, m),) float64, descending
    principal_basis: torch.Tensor  # V_p (m, r) float64
    null_basis: torch.Tensor  # V_n (m, m - r) float64
    rank: int
    feature_dim: int
    num_classes: int
    tolerance: float

    @property
    def null_dim(self) -> int:
        return self.feature_dim - self.rank

    @property
    def applicable(self) -> bool:
        return self.null_dim > 0

    def require_null_space(self) -> HeadGeometry:
        """Return self, or raise NotApplicable when the head has no invariant subspace."""
        if not self.applicable:
            raise NotApplicable(
                f"null_dim is 0 (rank {self.rank} of a {self.num_classes}x{self.feature_dim} head, "
                f"tolerance {significant(self.tolerance, 3)}): no invariant subspace"
            )
        return self

    def project_principal(self, features: Any) -> Any:
        """P_p f = V_p V_p^T f, row-wise, in the input's dtype."""
        return like_input(_project(to_float64(features), self.principal_basis), features)

    def project_null(self, features: Any) -> Any:
        """P_n f = V_n V_n^T f, row-wise, in the input's dtype."""
        return like_input(_project(to_float64(features), self.null_basis), features)

    def null_energy(self, features: Any) -> Any:
        """||P_n f|| / ||f|| per row (0 for a zero row): f's share in the invariant subspace."""
        f64 = to_float64(features)
        null_norm = torch.linalg.vector_norm(_project(f64, self.null_basis), dim=-1)
        total = torch.linalg.vector_norm(f64, dim=-1)
        energy = torch.where(
            total > 0, null_norm / total.clamp_min(torch.finfo(torch.float64).tiny), 0.0
        )
        return like_input(energy, features)


def _project(f64: torch.Tensor, basis: torch.Tensor) -> torch.Tensor:
    basis = basis.to(f64.device)
    return (f64 @ basis) @ basis.T


# The epsilon of the default rank tolerance (see head_geometry).
RANK_EPSILON = torch.finfo(torch.float32).eps


def head_geometry(
    weight: Any, *, rtol: float | None = None, atol: float | None = None
) -> HeadGeometry:
    """SVD of W in float64; rank counts singular values above the tolerance.

    Tolerance = max(atol, rtol * sigma_max), as torch.linalg.matrix_rank: by default
    rtol = max(c, m) * eps(float32) (NumPy's rule with float32's epsilon whatever W's storage
    dtype: float16's would exceed 1 for a 1000x2048 head and give it rank 0, and the features W
    acts on are float32) and atol = 0; giving only atol sets rtol = 0.
    """
    weight_tensor = as_tensor(weight)
    if weight_tensor.ndim != 2:
        raise ValueError(
            f"a head weight is 2-D (classes, features); got shape {tuple(weight_tensor.shape)}"
        )
    num_classes, feature_dim = weight_tensor.shape
    w64 = to_float64(weight_tensor).detach().cpu()
    # V must be square (m, m); a full U (c x c) would be huge for 21k-class heads: only if c < m.
    _, singular_values, vh = torch.linalg.svd(w64, full_matrices=num_classes < feature_dim)
    sigma_max = float(singular_values.max()) if singular_values.numel() else 0.0
    if rtol is None:
        rtol = (
            0.0
            if atol is not None
            else max(num_classes, feature_dim) * RANK_EPSILON
        )
    tolerance = max(atol or 0.0, rtol * sigma_max)
    rank = int((singular_values > tolerance).sum())
    basis = vh.T  # columns are right-singular vectors, strongest first
    return HeadGeometry(
        singular_values=singular_values,
        principal_basis=basis[:, :rank].contiguous(),
        null_basis=basis[:, rank:].contiguous(),
        rank=rank,
        feature_dim=feature_dim,
        num_classes=num_classes,
        tolerance=tolerance,
    )
