"""Head geometry and equivalent features, property-based over head shapes and dtypes."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from singaudit.errors import NotApplicable
from singaudit.maths.equivalence import (
    logit_change,
    null_perturbation,
    null_reference,
    perturbation_norms,
    principal_perturbation,
    random_perturbation,
    remove_null,
)
from singaudit.maths.geometry import RANK_EPSILON, head_geometry

DTYPES = [torch.float64, torch.float32, torch.float16, torch.bfloat16]


def orthogonal(size: int, generator: torch.Generator) -> torch.Tensor:
    q, r = torch.linalg.qr(torch.randn(size, size, generator=generator, dtype=torch.float64))
    return q * torch.sign(torch.diagonal(r))


@st.composite
def heads(draw):
    """(W in its dtype, true rank, bias or None): W = U diag(s) V^T, maybe with duplicated rows.

    Strong singular values lie in [0.3, 1] and tiny ones are eps(float32) / 100: both far from
    the tolerance max(c, m) * eps(float32). Half-precision storage would round a rotated
    low-rank matrix to full rank (its noise is above float32's epsilon), so half-precision heads
    are covered by test_half_precision_head_keeps_its_rank with exactly representable rows.
    """
    classes = draw(st.integers(1, 12))
    features = draw(st.integers(1, 16))
    rank = draw(st.integers(0, min(classes, features)))
    tiny = (
        draw(st.integers(0, min(classes, features) - rank)) if rank else 0
    )  # tiny relative to sigma_1
    duplicates = draw(st.integers(0, 4))
    dtype = draw(st.sampled_from(DTYPES[:2]))  # rotated rows: see the docstring
    with_bias = draw(st.booleans())
    generator = torch.Generator().manual_seed(draw(st.integers(0, 2**31 - 1)))
    strong = 0.3 + 0.7 * torch.rand(rank, generator=generator, dtype=torch.float64)
    if rank:
        strong[0] = 1.0
    singular = torch.cat(
        [strong, torch.full((tiny,), RANK_EPSILON / 100, dtype=torch.float64)]
    )
    used = rank + tiny
    u, v = orthogonal(classes, generator)[:, :used], orthogonal(features, generator)[:, :used]
    weight = (u * singular) @ v.T
    if duplicates and classes:
        rows = torch.randint(0, classes, (duplicates,), generator=generator)
        weight = torch.cat([weight, weight[rows]])
    bias = torch.randn(weight.shape[0], generator=generator).to(dtype) if with_bias else None
    return weight.to(dtype), rank, bias


def features_for(weight: torch.Tensor, n: int = 16, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, weight.shape[1], generator=torch.Generator().manual_seed(seed))


@settings(max_examples=60, deadline=None)
@given(heads())
def test_rank_bases_and_tolerance(head):
    weight, rank, _ = head
    geometry = head_geometry(weight)
    classes, features = weight.shape
    assert geometry.rank == rank
    assert geometry.null_dim == features - rank
    assert (geometry.num_classes, geometry.feature_dim) == (classes, features)
    assert geometry.applicable == (features > rank)
    basis = torch.cat([geometry.principal_basis, geometry.null_basis], dim=1)
    assert basis.dtype == torch.float64
    torch.testing.assert_close(
        basis.T @ basis, torch.eye(features, dtype=torch.float64), atol=1e-10, rtol=0
    )
    w64 = weight.to(torch.float64)
    assert torch.linalg.matrix_norm(w64 @ geometry.null_basis, ord=2) <= geometry.tolerance + 1e-12
    # The tolerance itself: test_rank_of_planted_heads_in_reduced_precision (NumPy sigma_max).


REDUCED = [torch.float32, torch.float16, torch.bfloat16]


@st.composite
def planted_heads(draw):
    """(W in a reduced dtype, its rank by construction, the documented tolerance).

    Exactly representable in every dtype, so the rank is known without trusting an SVD: an
    integer block A B with A = [I_r; ints], B = [I_r, ints] (entries in {-1, 0, 1}: rank exactly
    r), beside planted diagonal entries that are powers of two just above the documented
    tolerance t = max(c, m) * eps(float32) * sigma_max (in [2t, 4t)), just below it (in
    (t/4, t/2]) or far below (t/64, or float16's least 2^-24), rows and columns permuted.
    """
    dtype = draw(st.sampled_from(REDUCED))
    classes, features = draw(st.integers(8, 60)), draw(st.integers(17, 300))
    above, below, far = (draw(st.integers(0, 2)) for _ in range(3))
    rank = draw(st.integers(1, min(classes, features) - above - below - far))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    block_rows, block_cols = classes - above - below - far, features - above - below - far
    left = np.vstack([np.eye(rank), rng.integers(-1, 2, (block_rows - rank, rank))])
    right = np.hstack([np.eye(rank), rng.integers(-1, 2, (rank, block_cols - rank))])
    scale = 2.0 ** draw(st.integers(0 if dtype == torch.float16 else -8, 4))
    block = scale * left @ right
    sigma_max = float(np.linalg.svd(block, compute_uv=False)[0])  # NumPy's SVD, not ours
    tolerance = max(classes, features) * float(np.finfo(np.float32).eps) * sigma_max
    far_below = 2.0 ** np.floor(np.log2(tolerance / 64))
    if dtype == torch.float16:  # its least subnormal; t >= 17 * eps(float32) as scale >= 1
        far_below = max(far_below, 2.0**-24)
    planted = (
        [2.0 ** np.ceil(np.log2(2 * tolerance))] * above
        + [2.0 ** np.floor(np.log2(tolerance / 2))] * below
        + [far_below] * far
    )
    exact = np.zeros((classes, features))
    exact[:block_rows, :block_cols] = block
    for i, value in enumerate(planted):
        exact[block_rows + i, block_cols + i] = value
    exact = exact[rng.permutation(classes)][:, rng.permutation(features)]
    weight = torch.from_numpy(exact).to(dtype)
    assert np.array_equal(weight.double().numpy(), exact)  # the cast is exact: rank is known
    return weight, rank + above, tolerance


@settings(max_examples=80, deadline=None)
@given(planted_heads())
def test_rank_of_planted_heads_in_reduced_precision(head):
    """The rank is the construction's, in float32, float16 and bfloat16, next to the tolerance,
    for heads wider than 16 features."""
    weight, rank, tolerance = head
    geometry = head_geometry(weight)
    assert geometry.rank == rank
    assert geometry.null_dim == weight.shape[1] - rank
    assert geometry.tolerance == pytest.approx(tolerance, rel=1e-9)
    # The null basis holds what the head (nearly) ignores: below tolerance, nothing more.
    w64 = weight.double()
    assert torch.linalg.matrix_norm(w64 @ geometry.null_basis, ord=2) < tolerance / 2 + 1e-12
    if weight.dtype == torch.float32 and rank == min(weight.shape):  # NumPy agrees (its own eps)
        assert np.linalg.matrix_rank(weight.numpy()) == rank


@settings(max_examples=60, deadline=None)
@given(heads())
def test_null_removal_keeps_logits(head):
    weight, _, bias = head
    geometry = head_geometry(weight)
    features = features_for(weight)
    equivalent = remove_null(features, geometry)
    assert equivalent.dtype == torch.float32
    w32 = weight.to(torch.float32)
    b32 = bias.to(torch.float32) if bias is not None else 0.0
    original, after = features @ w32.T + b32, equivalent @ w32.T + b32
    sigma_max = float(geometry.singular_values.max()) if geometry.singular_values.numel() else 0.0
    scale = sigma_max * torch.linalg.vector_norm(features, dim=1) + (
        torch.linalg.vector_norm(b32) if bias is not None else 0.0
    )
    relative = (torch.linalg.vector_norm(after - original, dim=1) / scale.clamp_min(1e-30)).max()
    # Removing components below the tolerance moves logits by at most tolerance * ||f||.
    allowed = (
        1e-5
        if weight.dtype in (torch.float32, torch.float64)
        else 1e-5 + 2 * geometry.tolerance / max(sigma_max, 1e-30)
    )
    assert relative <= allowed


@settings(max_examples=40, deadline=None)
@given(heads().filter(lambda head: 0 < head[1] < head[0].shape[1]))
def test_null_perturbations_are_orders_of_magnitude_smaller(head):
    weight, _, _ = head
    geometry = head_geometry(weight)
    features = features_for(weight, n=64, seed=1)
    norms = perturbation_norms(features, 0.5, relative=True)
    generator = torch.Generator().manual_seed(2)
    null = logit_change(weight, null_perturbation(features, geometry, norms, generator=generator))
    random = logit_change(weight, random_perturbation(features, norms, generator=generator))
    leading = logit_change(weight, principal_perturbation(features, geometry, norms))
    gradient = logit_change(
        weight,
        principal_perturbation(features, geometry, norms, direction="gradient", weight=weight),
    )
    # Theory: ||W d_null|| <= sigma_{r+1} ||d|| <= tolerance ||d|| (plus float32 round-off).
    assert (null <= (geometry.tolerance + 1e-5) * norms * 1.01).all()
    if weight.dtype in (torch.float32, torch.float64):
        assert null.median() <= 1e-4 * random.median()
        assert null.max() <= 1e-4 * leading.min()
        assert null.max() <= 1e-4 * gradient.min()
    assert (leading > 0.9 * norms).all()  # sigma_1 = 1 by construction


@settings(max_examples=25, deadline=None)
@given(st.integers(2, 10), st.integers(1, 8), st.sampled_from(DTYPES))
def test_more_classes_than_features_has_no_null_space(extra, features, dtype):
    generator = torch.Generator().manual_seed(extra * 100 + features)
    weight = torch.randn(features + extra, features, generator=generator, dtype=torch.float64)
    weight = (
        orthogonal(features + extra, generator)[:, :features] @ orthogonal(features, generator)
    ).to(dtype)
    geometry = head_geometry(weight)
    assert geometry.null_dim == 0 and not geometry.applicable
    with pytest.raises(NotApplicable, match="null_dim is 0 .*no invariant subspace"):
        geometry.require_null_space()
    with pytest.raises(NotApplicable):
        null_perturbation(torch.randn(3, features), geometry, torch.ones(3))


def test_null_energy_of_pure_and_mixed_features():
    weight = torch.tensor([[1.0, 0.0, 0.0], [0.0, 2.0, 0.0]])
    geometry = head_geometry(weight)
    features = torch.tensor([[0.0, 0.0, 5.0], [3.0, 0.0, 0.0], [3.0, 0.0, 4.0], [0.0, 0.0, 0.0]])
    torch.testing.assert_close(geometry.null_energy(features), torch.tensor([1.0, 0.0, 0.8, 0.0]))
    torch.testing.assert_close(geometry.project_null(features)[2], torch.tensor([0.0, 0.0, 4.0]))
    torch.testing.assert_close(
        geometry.project_principal(features)[2], torch.tensor([3.0, 0.0, 0.0])
    )


def test_numpy_in_numpy_out_with_the_input_dtype():
    rng = np.random.default_rng(0)
    weight = rng.normal(size=(3, 7)).astype(np.float32)
    features = rng.normal(size=(4, 7)).astype(np.float32)
    geometry = head_geometry(weight)
    equivalent = remove_null(features, geometry)
    assert isinstance(equivalent, np.ndarray) and equivalent.dtype == np.float32
    np.testing.assert_allclose(equivalent @ weight.T, features @ weight.T, rtol=1e-5, atol=1e-5)
    energy = geometry.null_energy(features)
    assert isinstance(energy, np.ndarray) and energy.shape == (4,)


def test_absolute_and_relative_tolerance_overrides():
    weight = torch.diag(torch.tensor([1.0, 1e-4, 1e-8], dtype=torch.float64))
    assert head_geometry(weight).rank == 2  # 3 * eps(float32) = 3.6e-7 is above 1e-8
    assert head_geometry(weight, atol=1e-3).rank == 1
    assert head_geometry(weight, atol=1e-5).rank == 2
    assert head_geometry(weight, rtol=1e-6).rank == 2
    assert head_geometry(weight, rtol=0.0).rank == 3
    assert head_geometry(weight, atol=1e-5, rtol=1e-3).rank == 1  # tolerance = max of both
    assert head_geometry(weight, atol=1e-3, rtol=1e-9).rank == 1
    assert head_geometry(torch.zeros(2, 3)).rank == 0


def test_perturbation_norms_and_gradient_direction():
    weight = torch.tensor([[1.0, 0.0, 0.0, 0.0], [0.0, 3.0, 0.0, 0.0]])
    features = torch.tensor([[2.0, 0.1, 1.0, 0.0], [0.0, 1.0, 0.0, 1.0]])
    geometry = head_geometry(weight)
    torch.testing.assert_close(
        perturbation_norms(features, 2.0, relative=False), torch.tensor([2.0, 2.0])
    )
    relative = perturbation_norms(features, 0.5, relative=True)
    torch.testing.assert_close(relative, 0.5 * torch.linalg.vector_norm(features, dim=1))
    delta = principal_perturbation(
        features, geometry, relative, direction="gradient", weight=weight
    )
    torch.testing.assert_close(torch.linalg.vector_norm(delta, dim=1), relative)
    # Row 0 predicts class 0 (logits 2.0, 0.3): gradient e_0; row 1 predicts class 1: gradient e_1.
    torch.testing.assert_close(delta[0] / relative[0], torch.tensor([1.0, 0.0, 0.0, 0.0]))
    torch.testing.assert_close(delta[1] / relative[1], torch.tensor([0.0, 1.0, 0.0, 0.0]))
    leading = principal_perturbation(features, geometry, relative)
    assert torch.allclose(
        leading.abs() / relative[:, None], torch.tensor([0.0, 1.0, 0.0, 0.0]).expand(2, 4)
    )
    with pytest.raises(ValueError, match="needs the head weight"):
        principal_perturbation(features, geometry, relative, direction="gradient")
    bias = torch.tensor([0.0, 10.0])  # the bias flips row 0's prediction to class 1
    delta = principal_perturbation(
        features, geometry, relative, direction="gradient", weight=weight, bias=bias
    )
    torch.testing.assert_close(delta[0] / relative[0], torch.tensor([0.0, 1.0, 0.0, 0.0]))


def test_logit_change_ignores_null_directions_and_keeps_dtype():
    weight = torch.tensor([[3.0, 4.0, 0.0]])
    deltas = torch.tensor([[0.0, 0.0, 7.0], [1.0, 0.0, 0.0]], dtype=torch.float64)
    change = logit_change(weight, deltas)
    assert change.dtype == torch.float64
    torch.testing.assert_close(change, torch.tensor([0.0, 3.0], dtype=torch.float64))


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_head_keeps_its_rank(dtype):
    """A 1000x2048 head stored in float16/bfloat16: its own epsilon times 2048 exceeds 1 and
    would make the rank 0; the float32 epsilon keeps the rank (600 here, by construction:
    the last 400 rows repeat the first 400 exactly, so the rank is known)."""
    generator = torch.Generator().manual_seed(0)
    rows = torch.randn(600, 2048, generator=generator).to(dtype)
    weight = torch.cat([rows, rows[:400]])
    geometry = head_geometry(weight)
    assert geometry.rank == 600 and geometry.null_dim == 2048 - 600
    full = head_geometry(rows)  # full row rank: 600 independent rows
    assert full.rank == 600
    # The tolerance can be passed through (the spec's geometry.rank_tolerance).
    assert head_geometry(weight, rtol=0.99).rank < 600


def test_seeded_perturbations_are_reproducible_and_seed_dependent():
    """The check seeds one generator per audit: same seed, same deltas; another seed, others."""
    geometry = head_geometry(torch.tensor([[1.0, 0.0, 0.0, 0.0], [0.0, 2.0, 0.0, 0.0]]))
    features = torch.randn(5, 4, generator=torch.Generator().manual_seed(0))
    norms = perturbation_norms(features, 0.5, relative=True)
    for perturb in (
        lambda g: null_perturbation(features, geometry, norms, generator=g),
        lambda g: random_perturbation(features, norms, generator=g),
    ):
        first = perturb(torch.Generator().manual_seed(7))
        torch.testing.assert_close(perturb(torch.Generator().manual_seed(7)), first)
        assert not torch.allclose(perturb(torch.Generator().manual_seed(8)), first)
        torch.testing.assert_close(torch.linalg.vector_norm(first, dim=1), norms)


@pytest.mark.parametrize("rows", [torch.ones(4), torch.ones(0, 4), torch.ones(3, 5)],
                         ids=["1-D", "no rows", "wrong width"])
def test_mean_null_reference_needs_rows_of_the_feature_width(rows):
    geometry = head_geometry(torch.tensor([[1.0, 0.0, 0.0, 0.0]]))
    with pytest.raises(ValueError, match=r"a mean reference needs \(n >= 1, 4\) features"):
        null_reference("mean", geometry, rows)


def test_only_an_absolute_tolerance_drops_the_relative_one():
    """The docstring's rule (mutation testing found it untested): atol alone sets rtol = 0."""
    weight = torch.diag(torch.tensor([1.0, 1e-9]))  # 1e-9 is null under the default rtol
    assert head_geometry(weight).rank == 1
    assert head_geometry(weight, atol=1e-12).rank == 2
    assert head_geometry(weight, atol=1e-12).tolerance == 1e-12
