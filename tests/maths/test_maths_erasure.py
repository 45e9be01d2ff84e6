"""Selectivity, LEACE and INLP (singaudit.maths.probe) on small planted data: LEACE agrees with
the reference implementation, leaves no class covariance and is equivariant; INLP counts the
planted class dimensions; both are invariant to rotations and rescaling of the block."""

import functools

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from singaudit.maths.probe import (
    cross_validated_probe,
    fit_leace,
    iterative_nullspace_projection,
    shuffled_labels,
)

CLASSES = 4


def planted(n: int = 160, dim: int = 8, signal_dims: int = 3, strength: float = 2.0,
            seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian noise with class means apart along ``signal_dims`` coordinates only."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % CLASSES
    values = rng.normal(size=(n, dim))
    means = rng.normal(size=(CLASSES, signal_dims)) * strength
    values[:, :signal_dims] += means[labels]
    return values, labels


def similarity(dim: int, seed: int, scale: float) -> np.ndarray:
    return scale * np.linalg.qr(np.random.default_rng(seed).normal(size=(dim, dim)))[0]


def test_leace_matches_the_reference_implementation_and_leaves_no_class_covariance():
    from concept_erasure import LeaceEraser

    values, labels = planted()
    eraser = fit_leace(values, labels)
    erased = eraser(values)
    onehot = np.eye(CLASSES)[labels]
    reference = LeaceEraser.fit(torch.tensor(values), torch.tensor(onehot), shrinkage=False,
                                constrain_cov_trace=False)
    assert np.abs(reference(torch.tensor(values)).numpy() - erased).max() < 1e-9
    cross = (erased - erased.mean(0)).T @ (onehot - onehot.mean(0))
    assert np.abs(cross).max() < 1e-9
    assert eraser.rank == CLASSES - 1
    # Class means coincide after erasure: nothing is left for a linear probe in-sample.
    means = np.stack([erased[labels == k].mean(0) for k in range(CLASSES)])
    assert np.ptp(means, axis=0).max() < 1e-9


def test_probe_reads_the_plant_and_not_the_control_or_the_erased_values():
    values, labels = planted()
    probe = cross_validated_probe(values, labels, folds=3)
    control = cross_validated_probe(values, shuffled_labels(labels, 0), folds=3)
    erased = cross_validated_probe(values, labels, folds=3, fit_transform=fit_leace)
    assert probe.accuracy > 0.6 and probe.p_value < 1e-6
    assert control.p_value > 0.05 and erased.p_value > 0.05
    assert probe.accuracy - control.accuracy > 0.3  # selectivity
    assert sorted(shuffled_labels(labels, 0)) == sorted(labels)


@pytest.mark.parametrize("signal_dims", [1, 3])
def test_inlp_removes_the_planted_directions_then_stops(signal_dims):
    values, labels = planted(n=160, dim=8, signal_dims=signal_dims, strength=3.0)
    result = iterative_nullspace_projection(values, labels, folds=3)
    assert result.reached_chance and result.p_values[-1] >= 0.05
    assert all(p < 0.05 for p in result.p_values[:-1])
    # A multinomial probe removes up to CLASSES - 1 directions a step.
    assert signal_dims <= result.directions <= (CLASSES - 1) * result.iterations
    noise = np.random.default_rng(1).normal(size=values.shape)
    assert iterative_nullspace_projection(noise, labels, folds=3).directions == 0


def test_one_vs_rest_inlp_is_balanced_and_stops_at_the_limit():
    values, labels = planted(strength=3.0)
    target = (labels == 0).astype(np.int64)
    result = iterative_nullspace_projection(values, target, folds=3, balanced=True)
    assert result.reached_chance and result.directions >= 1
    capped = iterative_nullspace_projection(values, labels, folds=3, max_directions=1)
    assert not capped.reached_chance and capped.directions <= CLASSES - 1


BLOCK = planted(n=120, dim=6, signal_dims=2, strength=3.0)


@functools.cache
def unmoved() -> tuple[int, np.ndarray, np.ndarray]:
    values, labels = BLOCK
    return (iterative_nullspace_projection(values, labels, folds=3).directions,
            fit_leace(values, labels)(values),
            cross_validated_probe(values, labels, folds=3, fit_transform=fit_leace).predicted)


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**16), scale=st.floats(0.01, 100.0))
def test_inlp_and_leace_are_invariant_to_rotating_and_scaling_the_block(seed, scale):
    values, labels = BLOCK
    directions, erased, after = unmoved()
    mapping = similarity(values.shape[1], seed, scale)
    moved = values @ mapping.T
    assert iterative_nullspace_projection(moved, labels, folds=3).directions == directions
    # LEACE is equivariant: erasing the mapped values maps the erased values.
    assert np.abs(fit_leace(moved, labels)(moved) - erased @ mapping.T).max() \
        < 1e-8 * scale * np.abs(erased).max()
    after_moved = cross_validated_probe(moved, labels, folds=3, fit_transform=fit_leace).predicted
    assert np.mean(after != after_moved) <= 1 / len(labels)  # at most one near-tie flips
