"""Ridge and training edge cases the main translator tests do not reach: small feature scales,
collinear features at alpha 0, constant targets, the fewest rows, and the loss bookkeeping."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from sklearn.linear_model import Ridge
from sklearn.metrics import r2_score

from singaudit.errors import DataError
from singaudit.maths.translators import (
    RELATIVE_ALPHAS,
    AffineTranslator,
    RidgeAccumulator,
    fidelity,
    fit_ridge,
    train_translator,
    translator_loss,
)


def _accumulate(x, y) -> RidgeAccumulator:
    return RidgeAccumulator(x.shape[1], y.shape[1]).update(x, y)


def _small_scale_data(seed: int = 0):
    # Feature variances far below 1: every eigenvalue of the centred X^T X is under 1.
    rng = np.random.default_rng(seed)
    x = 0.01 * rng.normal(size=(60, 5))
    y = x @ rng.normal(size=(5, 3)) * 30 + 0.01 * rng.normal(size=(60, 3))
    return x, y


def test_default_grid_is_the_mean_eigenvalue_times_the_relative_alphas():
    x, y = _small_scale_data()
    train = _accumulate(x[:40], y[:40])
    _, _, metrics = fit_ridge(train, _accumulate(x[40:], y[40:]))
    centred = x[:40] - x[:40].mean(axis=0)
    mean_eigenvalue = np.trace(centred.T @ centred) / x.shape[1]
    np.testing.assert_allclose([p["alpha"] for p in metrics["curve"]],
                               mean_eigenvalue * np.asarray(RELATIVE_ALPHAS), rtol=1e-9)


def test_small_scale_features_fit_as_sklearn():
    x, y = _small_scale_data(1)
    alphas = [1e-6, 1e-4, 1e-2]
    translator, alpha, metrics = fit_ridge(_accumulate(x[:40], y[:40]),
                                           _accumulate(x[40:], y[40:]), alphas,
                                           dtype=torch.float64)
    for point in metrics["curve"]:
        prediction = Ridge(alpha=point["alpha"]).fit(x[:40], y[:40]).predict(x[40:])
        assert point["mse"] == pytest.approx(np.mean((prediction - y[40:]) ** 2), rel=1e-7)
        assert point["r2"] == pytest.approx(r2_score(y[40:], prediction), rel=1e-7)
    expected = Ridge(alpha=alpha).fit(x[:40], y[:40]).predict(x[40:])
    np.testing.assert_allclose(translator(torch.from_numpy(x[40:])).detach().numpy(), expected,
                               rtol=1e-6, atol=1e-7)


def test_collinear_features_at_alpha_zero_take_the_least_norm_solution():
    # A duplicated column: the centred X^T X is singular, so alpha 0 has many solutions.
    rng = np.random.default_rng(2)
    base = rng.normal(size=(30, 3))
    x = np.column_stack([base, base[:, 0]])
    y = base @ rng.normal(size=(3, 2)) + 1.0
    accumulator = _accumulate(x, y)
    centred = x - x.mean(axis=0)
    least_norm = np.linalg.pinv(centred) @ (y - y.mean(axis=0))
    translator, _, metrics = fit_ridge(accumulator, accumulator, [0.0], dtype=torch.float64)
    assert metrics["mse"] == pytest.approx(0.0, abs=1e-12)
    np.testing.assert_allclose(translator(torch.from_numpy(x)).detach().numpy(), y, atol=1e-6)
    weight, bias = accumulator.coefficients(0.0)
    np.testing.assert_allclose(x @ weight.T + bias, y, atol=1e-6)
    assert np.isfinite(weight).all() and np.linalg.norm(weight) < 10 * np.linalg.norm(least_norm)


def test_the_fewest_rows_two_to_fit_and_one_held_out():
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(3, 2)), rng.normal(size=(3, 1))
    _, _, metrics = fit_ridge(_accumulate(x[:2], y[:2]), _accumulate(x[2:], y[2:]), [1.0])
    assert metrics["n_train"] == 2 and metrics["n_heldout"] == 1
    with pytest.raises(DataError, match="at least 2 feature rows; got 1"):
        fit_ridge(_accumulate(x[:1], y[:1]), _accumulate(x, y), [1.0])
    with pytest.raises(DataError, match="at least 1 feature rows; got 0"):
        fit_ridge(_accumulate(x, y), RidgeAccumulator(2, 1), [1.0])


def test_metrics_of_exact_fits_and_constant_targets():
    # Output 0 is constant (no variance to explain): R^2 1 if predicted exactly, else 0.
    x = np.arange(12.0).reshape(6, 2) / 100.0
    y = np.column_stack([np.full(6, 0.5), x @ [0.01, 0.02]])
    accumulator = _accumulate(x, y)
    exact_w, exact_b = np.array([[0.0, 0.0], [0.01, 0.02]]).T, np.array([0.5, 0.0])
    assert accumulator.metrics(exact_w, exact_b) == {"mse": pytest.approx(0.0, abs=1e-30),
                                                     "r2": 1.0}
    off = accumulator.metrics(exact_w, exact_b + [0.001, 0.0])
    assert off["r2"] == pytest.approx(0.5) and off["mse"] == pytest.approx(0.001**2 / 2)
    one_row = _accumulate(x[:1], y[:1]).metrics(exact_w, exact_b)
    assert one_row["r2"] == 1.0
    scores = fidelity(y + [0.001, 0.0], y)
    assert scores["r2"] == pytest.approx((0.0 + 1.0) / 2)
    assert fidelity(y, y)["r2"] == 1.0


def test_empty_chunks_change_nothing_and_low_precision_tensors_are_read_as_float64():
    x, y = _small_scale_data(4)
    accumulator = _accumulate(x, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # not even a mean-of-empty-slice warning
        accumulator.update(np.zeros((0, 5)), np.zeros((0, 3)))
    assert accumulator.n == 60
    as_bf16 = torch.from_numpy(x).to(torch.bfloat16).requires_grad_()
    from_tensor = RidgeAccumulator(5, 3).update(as_bf16, torch.from_numpy(y))
    from_numpy = _accumulate(as_bf16.detach().double().numpy(), y)
    np.testing.assert_array_equal(from_tensor.centered_xy, from_numpy.centered_xy)


def test_losses_by_hand():
    pred = torch.tensor([[1.0, 0.0, 0.0], [0.0, 2.0, 0.0]])
    target = torch.tensor([[0.0, 1.0, 0.0], [0.0, 1.0, 0.0]])
    # cosines 0 and 1: 1 - cosine averages to 0.5; squared errors 2 and 1 over 6 entries.
    assert float(translator_loss(pred, target, "cos")) == pytest.approx(0.5)
    assert float(translator_loss(pred, target, "mse")) == pytest.approx(0.5)
    assert float(translator_loss(pred, target, "mse+cos")) == pytest.approx(1.0)


def test_training_without_steps_records_the_initial_loss_and_stops_after_patience():
    # lr 0: the model never moves, so every epoch's train loss is the initial full-data loss
    # (batches weighted by their rows), every val loss ties, and a tie is no improvement.
    generator = torch.Generator().manual_seed(5)
    x, y = torch.randn(10, 3, generator=generator), torch.randn(10, 2, generator=generator)
    x_val, y_val = torch.randn(4, 3, generator=generator), torch.randn(4, 2, generator=generator)
    model, history = train_translator(AffineTranslator, x.double().numpy(), y.double().numpy(),
                                      x_val, y_val, lr=0.0, epochs=20, batch_size=4, patience=3,
                                      seed=7)
    with torch.no_grad():
        initial = float(torch.nn.functional.mse_loss(model(x), y))
        initial_val = float(torch.nn.functional.mse_loss(model(x_val), y_val))
    assert len(history["val_loss"]) == 4 and history["best_epoch"] == 0
    np.testing.assert_allclose(history["train_loss"], [initial] * 4, rtol=1e-6)
    np.testing.assert_allclose(history["val_loss"], [initial_val] * 4, rtol=1e-6)
    # the seed alone decides the initial model
    again, _ = train_translator(AffineTranslator, x, y, x_val, y_val, lr=0.0, epochs=1, seed=7)
    torch.testing.assert_close(again.weight, model.weight)


def test_training_needs_rows_on_both_sides_and_one_is_enough():
    x, y = torch.randn(1, 3), torch.randn(1, 2)
    _, history = train_translator(AffineTranslator, x, y, x, y, epochs=2)
    assert len(history["val_loss"]) == 2
    for empty in ((x[:0], y[:0], x, y), (x, y, x[:0], y[:0])):
        with pytest.raises(DataError, match="non-empty train and validation"):
            train_translator(AffineTranslator, *empty, epochs=1)
