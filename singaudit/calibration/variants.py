"""Calibration worlds built at load time from the shipped classifiers (issue 24): no training.

Each variant is a feature map g and a head (W', b') such that the classifier f -> W' g(f) + b'
is the world asked for:

- ``row_block_scale(s)``: g(f) = s P_p f + P_n f, W' = W / s. Every logit and the null content
  are unchanged; the logit block's variance ratio (per dimension, row space over null space) is
  multiplied by s^2, so the ground truth no longer hinges on the shipped ratio (about 0.01).
- ``one_class_marker``: a constant added in the null space (an appended dimension the head
  ignores, or a fixed null direction) only when the model's own top-1 prediction is ``target``:
  one class's identity in the null space, the others' null content as in the base world.
- ``hidden_code_on_one_class``: clean's features with leaky's hidden shape code appended (the
  head ignores it) on the images leaky predicts as ``target``, its fit mean elsewhere: one class's
  identity in the null space in the form a trained leak has, not a constant marker.
- ``partially_redundant``: the null coordinates mixed with independent noise of the same
  variance, so they are only partly predictable from the row space and carry the class less
  cleanly (a leak that is neither fully redundant nor absent).

``apply`` maps feature rows; ``VariantNet`` wraps a calibration network so that the variant can be
audited as a model (e.g. from a ``python:`` factory).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

import torch
from torch import nn

from singaudit.maths.geometry import head_geometry
from singaudit.wording import significant

FeatureMap = Callable[[torch.Tensor], torch.Tensor]


def _short(value: float) -> str:
    # Six significant digits, as the ground-truth tables have always named the variants.
    return significant(value, 6)


@dataclass(frozen=True)
class Variant:
    """A feature map and the head that reads its output."""

    feature_map: FeatureMap
    weight: torch.Tensor  # (c, m')
    bias: torch.Tensor  # (c,)
    description: str

    def apply(self, features: torch.Tensor) -> torch.Tensor:
        return self.feature_map(features.double()).to(features.dtype)

    def logits(self, mapped: torch.Tensor) -> torch.Tensor:
        return mapped.double() @ self.weight.T + self.bias


def variance_ratio(weight: torch.Tensor, features: torch.Tensor) -> float:
    """Per-dimension variance of the row-space block over that of the null block (centred)."""
    geometry = head_geometry(weight.double())
    centred = features.double() - features.double().mean(0)
    row = (centred @ geometry.principal_basis).pow(2).sum() / geometry.rank
    null = (centred @ geometry.null_basis).pow(2).sum() / max(geometry.null_dim, 1)
    return float(row / null)


def row_block_scale(weight: torch.Tensor, bias: torch.Tensor, scale: float) -> Variant:
    """f -> s P_p f + P_n f with head W / s: identical logits and null content."""
    geometry = head_geometry(weight.double())
    principal, null = geometry.principal_basis, geometry.null_basis

    def feature_map(f: torch.Tensor) -> torch.Tensor:
        return scale * (f @ principal) @ principal.T + (f @ null) @ null.T

    return Variant(feature_map, weight.double() / scale, bias.double(),
                   f"row-space block x {_short(scale)}, head / {_short(scale)}")


def null_block_scale(weight: torch.Tensor, bias: torch.Tensor, scale: float) -> Variant:
    """f -> P_p f + s P_n f: identical logits, the null content rescaled."""
    geometry = head_geometry(weight.double())
    principal, null = geometry.principal_basis, geometry.null_basis
    return Variant(lambda f: (f @ principal) @ principal.T + scale * (f @ null) @ null.T,
                   weight.double(), bias.double(), f"null-space block x {_short(scale)}")


def row_space_map(weight: torch.Tensor, bias: torch.Tensor, *, condition: float = 10.0,
                  seed: int = 0) -> Variant:
    """f -> V_p A V_p^T f + P_n f with A a random invertible r x r map of condition number
    ``condition``, head W V_p A^-1 V_p^T: identical logits and null content."""
    geometry = head_geometry(weight.double())
    principal, null = geometry.principal_basis, geometry.null_basis
    generator = torch.Generator().manual_seed(seed)
    rank = principal.shape[1]
    left, right = (_orthogonal(rank, generator) for _ in range(2))
    a = left @ torch.diag(torch.logspace(0, torch.log10(torch.tensor(condition)).item(), rank,
                                         dtype=torch.float64)) @ right
    return Variant(lambda f: ((f @ principal) @ a.T) @ principal.T + (f @ null) @ null.T,
                   weight.double() @ principal @ torch.linalg.inv(a) @ principal.T,
                   bias.double(), f"invertible row-space map (condition {_short(condition)})")


def null_rotation(weight: torch.Tensor, bias: torch.Tensor, *, seed: int = 0) -> Variant:
    """A random rotation inside the null space: identical logits."""
    geometry = head_geometry(weight.double())
    principal, null = geometry.principal_basis, geometry.null_basis
    rotation = null @ _orthogonal(null.shape[1], torch.Generator().manual_seed(seed)) @ null.T
    return Variant(lambda f: (f @ principal) @ principal.T + f @ rotation.T, weight.double(),
                   bias.double(), "a rotation inside the null space")


def global_scale(weight: torch.Tensor, bias: torch.Tensor, scale: float) -> Variant:
    """f -> c f with head W / c."""
    return Variant(lambda f: scale * f, weight.double() / scale, bias.double(),
                   f"features x {_short(scale)}, head / {_short(scale)}")


def null_offset(weight: torch.Tensor, bias: torch.Tensor, size: float, *, seed: int = 0
                ) -> Variant:
    """A constant of norm ``size`` added along a random null direction: identical logits."""
    null = head_geometry(weight.double()).null_basis
    direction = null @ torch.randn(null.shape[1], generator=torch.Generator().manual_seed(seed),
                                   dtype=torch.float64)
    shift = size * direction / direction.norm()
    return Variant(lambda f: f + shift, weight.double(), bias.double(),
                   f"constant null offset of norm {significant(size, 3)}")


def appended_dims(weight: torch.Tensor, bias: torch.Tensor, count: int, noise: float = 0.0, *,
                  seed: int = 0) -> Variant:
    """``count`` appended dimensions the head ignores: zeros, or Gaussian noise of standard
    deviation ``noise`` drawn fresh per row (not a deterministic map)."""
    generator = torch.Generator().manual_seed(seed)

    def feature_map(f: torch.Tensor) -> torch.Tensor:
        extra = (noise * torch.randn(f.shape[0], count, generator=generator, dtype=f.dtype)
                 if noise else torch.zeros(f.shape[0], count, dtype=f.dtype))
        return torch.cat([f, extra], dim=1)

    zeros = torch.zeros(len(weight), count, dtype=torch.float64)
    return Variant(feature_map, torch.cat([weight.double(), zeros], dim=1), bias.double(),
                   f"{count} appended {'noise' if noise else 'zero'} dimensions")


def _orthogonal(dim: int, generator: torch.Generator) -> torch.Tensor:
    q, r = torch.linalg.qr(torch.randn(dim, dim, generator=generator, dtype=torch.float64))
    return q * torch.sign(torch.diagonal(r))


def with_variance_ratio(weight: torch.Tensor, bias: torch.Tensor, features: torch.Tensor,
                        ratio: float) -> Variant:
    """``row_block_scale`` with s chosen so that ``variance_ratio`` of ``features`` becomes
    ``ratio``."""
    scale = (ratio / variance_ratio(weight, features)) ** 0.5
    made = row_block_scale(weight, bias, scale)
    return Variant(made.feature_map, made.weight, made.bias,
                   f"logit block variance ratio {_short(ratio)} (row-space block x {significant(scale, 3)})")


def one_class_marker(weight: torch.Tensor, bias: torch.Tensor, target: int, size: float, *,
                     kind: str = "dimension", seed: int = 0) -> Variant:
    """Add ``size`` in the null space when the top-1 prediction (W f + b) is ``target``: along an
    appended dimension (``kind="dimension"``, head gets a zero column) or along a fixed random
    null direction (``kind="direction"``)."""
    w64, b64 = weight.double(), bias.double()

    def marked(f: torch.Tensor) -> torch.Tensor:
        return ((f @ w64.T + b64).argmax(dim=1) == target).to(f.dtype).unsqueeze(1)

    if kind == "dimension":
        return Variant(lambda f: torch.cat([f, size * marked(f)], dim=1),
                       torch.cat([w64, torch.zeros(len(w64), 1, dtype=w64.dtype)], dim=1), b64,
                       f"marker {_short(size)} on an appended dimension when top-1 is class {target}")
    if kind != "direction":
        raise ValueError(f'kind must be "dimension" or "direction", not {kind!r}')
    null = head_geometry(w64).null_basis
    generator = torch.Generator().manual_seed(seed)
    direction = null @ torch.randn(null.shape[1], generator=generator, dtype=torch.float64)
    direction = size * direction / direction.norm()
    return Variant(lambda f: f + marked(f) * direction, w64, b64,
                   f"marker {_short(size)} along a null direction when top-1 is class {target}")


def hidden_code_on_one_class(weight: torch.Tensor, leaky_weight: torch.Tensor,
                             leaky_bias: torch.Tensor, target: int, fill: torch.Tensor
                             ) -> tuple[Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
                                        torch.Tensor]:
    """(rows, head): ``rows(f, f_leaky)`` appends leaky's null coordinates to ``f`` on the images
    leaky's head predicts as ``target`` and ``fill`` (e.g. their fit-set mean) on the others,
    for two encodings of the same images; ``head`` is ``weight`` with zero columns for them."""
    null = head_geometry(leaky_weight.double()).null_basis

    def rows(features: torch.Tensor, leaky_features: torch.Tensor) -> torch.Tensor:
        leaky = leaky_features.double()
        keep = ((leaky @ leaky_weight.double().T + leaky_bias.double()).argmax(1) == target)
        code = torch.where(keep.unsqueeze(1), leaky @ null, fill.double())
        return torch.cat([features.double(), code], dim=1)

    zeros = torch.zeros(len(weight), null.shape[1], dtype=torch.float64)
    return rows, torch.cat([weight.double(), zeros], dim=1)


def partially_redundant(weight: torch.Tensor, bias: torch.Tensor, features: torch.Tensor, *,
                        noise: float = 1.0, seed: int = 0) -> Variant:
    """The null coordinates plus independent Gaussian noise of ``noise`` x their per-coordinate
    standard deviation (measured on ``features``), fresh for every row: the null content is only
    partly predictable from the row space. Not a deterministic map (the noise is drawn per call)."""
    geometry = head_geometry(weight.double())
    null = geometry.null_basis
    spread = (features.double() @ null).std(dim=0)
    generator = torch.Generator().manual_seed(seed)

    def feature_map(f: torch.Tensor) -> torch.Tensor:
        draws = torch.randn(f.shape[0], null.shape[1], generator=generator, dtype=torch.float64)
        return f + (noise * spread * draws) @ null.T

    return Variant(feature_map, weight.double(), bias.double(),
                   f"null coordinates + noise ({_short(noise)} x their spread)")


class VariantNet(nn.Module):
    """A calibration network seen through a ``Variant``: ``features`` is g(base features) and
    ``head`` reads it (so the head's input is exactly the variant's feature)."""

    def __init__(self, base: nn.Module, variant: Variant) -> None:
        super().__init__()
        self.base, self.variant = base, variant
        self.head = nn.Linear(variant.weight.shape[1], variant.weight.shape[0])
        with torch.no_grad():
            self.head.weight.copy_(variant.weight.float())
            self.head.bias.copy_(variant.bias.float())

    def features(self, x: torch.Tensor) -> torch.Tensor:
        extract = cast(Callable[[torch.Tensor], torch.Tensor], self.base.features)
        return self.variant.apply(extract(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))
