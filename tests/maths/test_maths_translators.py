"""Streaming ridge against sklearn, translator architectures, training and fidelity."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.linear_model import Ridge
from sklearn.metrics import mean_squared_error, r2_score

from singaudit.errors import DataError, SpecError
from singaudit.maths.translators import (
    AffineTranslator,
    MLPTranslator,
    ResidualMLPTranslator,
    RidgeAccumulator,
    fidelity,
    fit_ridge,
    row_cosines,
    train_translator,
)

ROWS, IN_DIM, OUT_DIM = 240, 12, 5


def regression_data(seed: int, rows: int = ROWS) -> tuple[np.ndarray, np.ndarray]:
    """Correlated features with large means (post-ReLU-like), targets affine in them plus noise."""
    rng = np.random.default_rng(seed)
    mixing = rng.normal(size=(IN_DIM, IN_DIM))
    x = rng.normal(size=(rows, IN_DIM)) @ mixing + 50.0
    y = x @ rng.normal(size=(IN_DIM, OUT_DIM)) + 0.5 * rng.normal(size=(rows, OUT_DIM)) - 7.0
    return x, y


def accumulate(x, y, cuts) -> RidgeAccumulator:
    accumulator = RidgeAccumulator(x.shape[1], y.shape[1])
    bounds = [0, *sorted(cuts), len(x)]
    for start, stop in itertools.pairwise(bounds):
        accumulator.update(x[start:stop], y[start:stop])  # empty chunks included
    return accumulator


@settings(max_examples=40, deadline=None)
@given(
    cuts=st.lists(st.integers(0, ROWS), max_size=12),
    alpha=st.sampled_from([1e-3, 0.1, 1.0, 10.0, 1e3]),
    seed=st.integers(0, 3),
    as_torch=st.booleans(),
)
def test_streaming_ridge_equals_sklearn_in_any_chunking(cuts, alpha, seed, as_torch):
    x, y = regression_data(seed)
    chunks_x, chunks_y = (torch.from_numpy(x), torch.from_numpy(y)) if as_torch else (x, y)
    accumulator = accumulate(chunks_x, chunks_y, cuts)
    weight, bias = accumulator.coefficients(alpha)
    reference = Ridge(alpha=alpha, fit_intercept=True, solver="cholesky").fit(x, y)
    scale = np.abs(reference.coef_).max()
    np.testing.assert_allclose(weight, reference.coef_, rtol=1e-6, atol=1e-6 * scale)
    np.testing.assert_allclose(
        bias, reference.intercept_, rtol=1e-6, atol=1e-6 * np.abs(reference.intercept_).max()
    )
    translator = accumulator.solve(alpha, dtype=torch.float64)
    expected = reference.predict(x)
    prediction = translator(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(prediction, expected, rtol=1e-6, atol=1e-6 * np.abs(expected).max())


def test_merge_equals_one_pass_and_raw_sums():
    x, y = regression_data(0)
    left = RidgeAccumulator(IN_DIM, OUT_DIM).update(x[:100], y[:100])
    right = RidgeAccumulator(IN_DIM, OUT_DIM).update(x[100:], y[100:])
    merged = left.merge(right)
    assert left.n == 100 and right.n == ROWS - 100 and merged.n == ROWS
    np.testing.assert_allclose(merged.xtx, x.T @ x, rtol=1e-10)
    np.testing.assert_allclose(merged.xty, x.T @ y, rtol=1e-10)
    np.testing.assert_allclose(merged.yty, y.T @ y, rtol=1e-10)
    np.testing.assert_allclose(merged.mean_x, x.mean(axis=0), rtol=1e-12)
    restored = RidgeAccumulator.from_tensors(merged.to_tensors())
    assert restored.n == merged.n
    np.testing.assert_array_equal(restored.centered_xy, merged.centered_xy)
    np.testing.assert_array_equal(restored.coefficients(1.0)[0], merged.coefficients(1.0)[0])


def test_fit_ridge_selects_alpha_on_heldout_statistics_alone():
    x, y = regression_data(1, rows=400)
    x_val, y_val = x[300:], y[300:]
    train = accumulate(x[:300], y[:300], [50, 170])
    heldout = accumulate(x_val, y_val, [33])
    alphas = [1e-2, 1.0, 1e2, 1e4, 1e6]
    translator, alpha, metrics = fit_ridge(train, heldout, alphas, dtype=torch.float64)
    sklearn_mse = []
    for candidate in alphas:
        prediction = Ridge(alpha=candidate).fit(x[:300], y[:300]).predict(x_val)
        sklearn_mse.append(mean_squared_error(y_val, prediction))
    assert alpha == alphas[int(np.argmin(sklearn_mse))]
    np.testing.assert_allclose([point["mse"] for point in metrics["curve"]], sklearn_mse, rtol=1e-7)
    prediction = Ridge(alpha=alpha).fit(x[:300], y[:300]).predict(x_val)
    assert metrics["r2"] == pytest.approx(r2_score(y_val, prediction), rel=1e-8)
    assert metrics["n_heldout"] == 100 and metrics["n_train"] == 300
    assert isinstance(translator, AffineTranslator)
    torch.testing.assert_close(
        translator(torch.from_numpy(x_val)), torch.from_numpy(prediction), rtol=1e-6, atol=1e-6
    )


def test_fit_ridge_default_grid_is_scale_free():
    x, y = regression_data(2)
    _, alpha, _ = fit_ridge(accumulate(x[:200], y[:200], []), accumulate(x[200:], y[200:], []))
    _, alpha_scaled, _ = fit_ridge(
        accumulate(1000 * x[:200], y[:200], []), accumulate(1000 * x[200:], y[200:], [])
    )
    assert alpha_scaled == pytest.approx(alpha * 1e6, rel=1e-6)


def test_ridge_refuses_too_few_rows_and_bad_shapes():
    accumulator = RidgeAccumulator(3, 2).update(np.ones((1, 3)), np.ones((1, 2)))
    with pytest.raises(DataError, match="at least 2 feature rows; got 1"):
        accumulator.solve(1.0)
    with pytest.raises(ValueError, match="expected x"):
        accumulator.update(np.ones((2, 4)), np.ones((2, 2)))
    with pytest.raises(ValueError, match="rows"):
        accumulator.update(np.ones((2, 3)), np.ones((3, 2)))


def test_architectures_follow_the_method():
    mlp3, mlp4 = MLPTranslator(10, 4, 16, depth=3), MLPTranslator(10, 4, 16, depth=4)
    for model, linears in ((mlp3, 3), (mlp4, 4)):
        kinds = [type(layer) for layer in model.layers]
        assert kinds.count(torch.nn.Linear) == linears
        assert kinds.count(torch.nn.LayerNorm) == linears - 1
        assert kinds[1:5] == [torch.nn.LayerNorm, torch.nn.GELU, torch.nn.Dropout, torch.nn.Linear]
        assert all(layer.p == 0.1 for layer in model.layers if isinstance(layer, torch.nn.Dropout))
    residual = ResidualMLPTranslator(10, 4, 16)
    assert residual.input_proj.out_features == 16 and residual.output_proj[-1].out_features == 4
    assert MLPTranslator(10, 4).hidden == 10  # hidden defaults to in_dim
    for model, arch in ((AffineTranslator(10, 4), "linear"), (MLPTranslator(10, 4, 16), "mlp3"),
                        (MLPTranslator(10, 4, 16, depth=4), "mlp4"),
                        (ResidualMLPTranslator(10, 4, 16), "residual")):
        assert model.eval()(torch.randn(3, 10)).shape == (3, 4)
        assert model.config()["architecture"] == arch
    with pytest.raises(SpecError, match="depth must be 3 or 4"):
        MLPTranslator(10, 4, depth=5)


@pytest.mark.parametrize("loss", ["mse", "cos", "mse+cos"])
def test_training_reduces_heldout_loss_and_stops_early(loss):
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(320, 8, generator=generator)
    y = x @ torch.randn(8, 4, generator=generator) + 0.05 * torch.randn(320, 4, generator=generator)
    def train(epochs):
        return train_translator(lambda m, k: MLPTranslator(m, k, 32), x[:256], y[:256], x[256:],
                                y[256:], loss=loss, lr=3e-3, epochs=epochs, batch_size=64,
                                patience=3, seed=0)

    model, history = train(25)
    assert not model.training
    assert history["best_val_loss"] < 0.5 * history["val_loss"][0]
    assert history["best_val_loss"] == min(history["val_loss"])
    assert len(history["val_loss"]) == len(history["train_loss"]) <= 25
    again, _ = train(2)
    first_two, _ = train(2)
    torch.testing.assert_close(again(x), first_two(x), rtol=0, atol=0)  # seeded


def test_early_stopping_restores_the_best_epoch():
    generator = torch.Generator().manual_seed(1)
    x, y = torch.randn(64, 4, generator=generator), torch.randn(64, 3, generator=generator)
    # Pure noise targets: held-out loss stops improving early.
    model, history = train_translator(
        AffineTranslator, x[:48], y[:48], x[48:], y[48:], lr=5e-2, epochs=200, batch_size=16, patience=4
    )
    assert len(history["val_loss"]) < 200
    assert len(history["val_loss"]) == history["best_epoch"] + 1 + 4
    with torch.no_grad():
        assert float(torch.nn.functional.mse_loss(model(x[48:]), y[48:])) == pytest.approx(
            history["best_val_loss"], rel=1e-5
        )
    with pytest.raises(SpecError, match="unknown translator loss"):
        train_translator(AffineTranslator, x, y, x, y, loss="l1")


def test_fidelity_matches_sklearn_and_row_cosines():
    rng = np.random.default_rng(0)
    target = rng.normal(size=(50, 6))
    pred = target + 0.3 * rng.normal(size=(50, 6))
    scores = fidelity(torch.from_numpy(pred), torch.from_numpy(target))
    assert scores["mse"] == pytest.approx(mean_squared_error(target, pred))
    assert scores["r2"] == pytest.approx(r2_score(target, pred))
    cosines = row_cosines(pred, target)
    manual = (pred * target).sum(1) / np.linalg.norm(pred, axis=1) / np.linalg.norm(target, axis=1)
    np.testing.assert_allclose(cosines, manual, rtol=1e-12)
    assert scores["mean_cosine"] == pytest.approx(manual.mean())
    perfect = fidelity(target, target)
    assert perfect == {"mean_cosine": pytest.approx(1.0), "mse": 0.0, "r2": 1.0}
