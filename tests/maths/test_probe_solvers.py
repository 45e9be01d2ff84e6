"""The null probe's two classifiers (singaudit.maths.probe.linear_classifier) on planted data:
the closed-form ridge classifier reads a planted class signal, not shuffled labels, and INLP with
it removes the planted directions, as the logistic probe does."""

import numpy as np
import pytest

from singaudit.maths.probe import (
    cross_validated_probe,
    iterative_nullspace_projection,
    shuffled_labels,
)


def planted(classes: int, n_per_class: int = 12, dim: int = 10, signal_dims: int = 3,
            strength: float = 3.0, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(classes), n_per_class)
    values = rng.normal(size=(labels.size, dim))
    values[:, :signal_dims] += rng.normal(size=(classes, signal_dims))[labels] * strength
    return values, labels


@pytest.mark.parametrize("solver", ["logistic", "ridge"])
def test_both_solvers_read_the_plant_and_not_the_control(solver):
    values, labels = planted(classes=4)
    probe = cross_validated_probe(values, labels, folds=3, solver=solver)
    control = cross_validated_probe(values, shuffled_labels(labels, 0), folds=3, solver=solver)
    assert probe.accuracy > 0.6 and probe.p_value < 1e-6
    assert control.p_value > 0.05


def test_ridge_and_logistic_agree_on_most_images():
    values, labels = planted(classes=4)
    logistic = cross_validated_probe(values, labels, folds=3, solver="logistic")
    ridge = cross_validated_probe(values, labels, folds=3, solver="ridge")
    assert np.mean(logistic.predicted == ridge.predicted) > 0.8


def test_ridge_inlp_removes_the_planted_directions_then_stops():
    values, labels = planted(classes=4, n_per_class=40, dim=8, signal_dims=2)
    result = iterative_nullspace_projection(values, labels, folds=3, solver="ridge")
    assert result.reached_chance and result.p_values[-1] >= 0.05
    assert 2 <= result.directions <= 3 * result.iterations


def test_ridge_one_vs_rest_is_balanced():
    values, labels = planted(classes=6, n_per_class=20)
    members = (labels == 0).astype(np.int64)
    probe = cross_validated_probe(values, members, folds=3, solver="ridge", balanced=True)
    # Class-weighted: the rare class is predicted at all (an unweighted fit may never answer it).
    assert probe.predicted.sum() > 0 and probe.p_value < 0.05
