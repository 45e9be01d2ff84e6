"""Translators T: classifier features (m) -> joint-space image embeddings (k).

Linear (default): ridge regression in closed form from streamed sufficient statistics.
Non-linear: MLPs of LayerNorm-GELU-Dropout(0.1)-Linear blocks trained with AdamW.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from singaudit.errors import DataError, SpecError
from singaudit.maths._arrays import as_tensor, like_input, to_float64

LOSSES = ("mse", "cos", "mse+cos")
# Default ridge grid, as multiples of the mean eigenvalue of the centred X^T X (scale-free).
RELATIVE_ALPHAS = tuple(float(a) for a in np.logspace(-6, 1, 15))


class Translator(nn.Module):
    """Base of every translator: ``config()`` is what storage needs to rebuild it."""

    architecture: str
    in_dim: int
    out_dim: int
    hidden: int | None

    def config(self) -> dict[str, Any]:
        return {
            "architecture": self.architecture,
            "in_dim": self.in_dim,
            "out_dim": self.out_dim,
            "hidden": self.hidden,
        }


class AffineTranslator(Translator):
    """T(f) = weight f + bias, weight (k, m), bias (k,)."""

    architecture = "linear"

    def __init__(self, in_dim: int, out_dim: int) -> None:
        super().__init__()
        self.in_dim, self.out_dim, self.hidden = in_dim, out_dim, None
        bound = 1.0 / math.sqrt(in_dim)  # nn.Linear's default scale
        self.weight = nn.Parameter(torch.empty(out_dim, in_dim).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(out_dim).uniform_(-bound, bound))

    @classmethod
    def from_weights(
        cls, weight: Any, bias: Any, *, dtype: torch.dtype = torch.float32
    ) -> AffineTranslator:
        weight_tensor, bias_tensor = as_tensor(weight), as_tensor(bias)
        translator = cls(weight_tensor.shape[1], weight_tensor.shape[0])
        with torch.no_grad():
            translator.weight.copy_(weight_tensor.to(dtype))
            translator.bias.copy_(bias_tensor.to(dtype))
        return translator.to(dtype)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return F.linear(features, self.weight, self.bias)


def _block(in_dim: int, out_dim: int) -> list[nn.Module]:
    return [nn.LayerNorm(in_dim), nn.GELU(), nn.Dropout(0.1), nn.Linear(in_dim, out_dim)]


class MLPTranslator(Translator):
    """Linear(m, h), then depth-1 LayerNorm-GELU-Dropout(0.1)-Linear blocks, the last to k."""

    def __init__(
        self, in_dim: int, out_dim: int, hidden: int | None = None, depth: int = 3
    ) -> None:
        super().__init__()
        if depth not in (3, 4):
            raise SpecError(f"MLP translator depth must be 3 or 4, not {depth}")
        hidden = hidden or in_dim
        self.in_dim, self.out_dim, self.hidden, self.depth = in_dim, out_dim, hidden, depth
        self.architecture = f"mlp{depth}"
        layers: list[nn.Module] = [nn.Linear(in_dim, hidden)]
        for _ in range(depth - 2):
            layers += _block(hidden, hidden)
        layers += _block(hidden, out_dim)
        self.layers = nn.Sequential(*layers)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.layers(features)


class ResidualMLPTranslator(Translator):
    """Linear(m, h), one residual LayerNorm-GELU-Dropout-Linear block, then a block to k."""

    architecture = "residual"

    def __init__(self, in_dim: int, out_dim: int, hidden: int | None = None) -> None:
        super().__init__()
        hidden = hidden or in_dim
        self.in_dim, self.out_dim, self.hidden = in_dim, out_dim, hidden
        self.input_proj = nn.Linear(in_dim, hidden)
        self.residual = nn.Sequential(*_block(hidden, hidden))
        self.output_proj = nn.Sequential(*_block(hidden, out_dim))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        hidden = self.input_proj(features)
        return self.output_proj(hidden + self.residual(hidden))


# ---------------------------------------------------------------------------------------------
# Streaming ridge regression


class RidgeAccumulator:
    """Streamed sufficient statistics of (x, y) pairs in float64: O(m^2 + mk + k^2) memory.

    Kept as means and centred co-moments (Chan et al.'s pairwise update), which carry the same
    information as X^T X, X^T Y, Y^T Y and the sums but lose no precision to large means.
    """

    def __init__(self, in_dim: int, out_dim: int) -> None:
        self.in_dim, self.out_dim = in_dim, out_dim
        self.n = 0
        self.mean_x = np.zeros(in_dim)
        self.mean_y = np.zeros(out_dim)
        self.centered_xx = np.zeros((in_dim, in_dim))
        self.centered_xy = np.zeros((in_dim, out_dim))
        self.centered_yy = np.zeros((out_dim, out_dim))

    # Raw sums, for callers who think in X^T X terms.
    @property
    def xtx(self) -> np.ndarray:
        return self.centered_xx + self.n * np.outer(self.mean_x, self.mean_x)

    @property
    def xty(self) -> np.ndarray:
        return self.centered_xy + self.n * np.outer(self.mean_x, self.mean_y)

    @property
    def yty(self) -> np.ndarray:
        return self.centered_yy + self.n * np.outer(self.mean_y, self.mean_y)

    # Rows converted to float64 at a time: a chunk's copies stay small (2048-d: 8 MB) whatever
    # its size; chunks of at most this many rows are absorbed exactly as before, in one piece.
    ROWS_PER_BLOCK = 512

    def update(self, x: Any, y: Any) -> RidgeAccumulator:
        """Add a chunk of rows: x (b, m), y (b, k)."""
        x = x if hasattr(x, "shape") else _numpy64(x)
        y = y if hasattr(y, "shape") else _numpy64(y)
        if (
            len(x.shape) != 2
            or len(y.shape) != 2
            or x.shape[1] != self.in_dim
            or y.shape[1] != self.out_dim
        ):
            raise ValueError(
                f"expected x (b, {self.in_dim}) and y (b, {self.out_dim}); "
                f"got {tuple(x.shape)} and {tuple(y.shape)}"
            )
        if x.shape[0] != y.shape[0]:
            raise ValueError(f"x has {x.shape[0]} rows but y has {y.shape[0]}")
        for start in range(0, x.shape[0], self.ROWS_PER_BLOCK):
            stop = start + self.ROWS_PER_BLOCK
            self._update_block(_numpy64(x[start:stop]), _numpy64(y[start:stop]))
        return self

    # Moments are added by panels of this many rows: no m x m temporary per block (33 MB at
    # 2048-d, allocated thousands of times), and the upper panels only, as syrk would.
    PANEL = 256

    def _update_block(self, x64: np.ndarray, y64: np.ndarray) -> None:
        """Chan's pairwise update with a block of rows, in place: the block's own centred
        co-moments, then the correction for the distance between the two means, in that order
        (the same sums as a separate block accumulator absorbed)."""
        rows = x64.shape[0]
        if rows == 0:
            return
        mean_x, mean_y = x64.mean(axis=0), y64.mean(axis=0)
        xc, yc = x64 - mean_x, y64 - mean_y
        total = self.n + rows
        delta_x, delta_y = mean_x - self.mean_x, mean_y - self.mean_y
        weight = self.n * rows / total
        xx, panel = self.centered_xx, self.PANEL
        for start in range(0, self.in_dim, panel):
            stop = start + panel
            upper = xc[:, start:stop].T @ xc[:, start:]  # rows start:stop, columns start:
            xx[start:stop, start:] += upper
            xx[stop:, start:stop] += upper[:, stop - start:].T
            self.centered_xy[start:stop] += xc[:, start:stop].T @ yc
        self.centered_yy += yc.T @ yc
        if self.n:
            for start in range(0, self.in_dim, panel):
                stop = start + panel
                for moment, right in ((xx, delta_x), (self.centered_xy, delta_y)):
                    correction = np.outer(delta_x[start:stop], right)
                    correction *= weight
                    moment[start:stop] += correction
            correction = np.outer(delta_y, delta_y)
            correction *= weight
            self.centered_yy += correction
        self.mean_x = self.mean_x + delta_x * (rows / total)
        self.mean_y = self.mean_y + delta_y * (rows / total)
        self.n = total

    def merge(self, other: RidgeAccumulator) -> RidgeAccumulator:
        """A new accumulator holding the rows of both."""
        if (other.in_dim, other.out_dim) != (self.in_dim, self.out_dim):
            raise ValueError("cannot merge accumulators of different dimensions")
        merged = copy.deepcopy(self)
        merged._absorb(other)
        return merged

    def _absorb(self, other: RidgeAccumulator, consume: bool = False) -> None:
        if other.n == 0:
            return
        total = self.n + other.n
        delta_x, delta_y = other.mean_x - self.mean_x, other.mean_y - self.mean_y
        weight = self.n * other.n / total
        # In place, in the order (a + b) + c of a new sum: the same numbers, no m x m copies
        # (a consumed chunk's own buffer then holds the correction term).
        for name, left, right in (("centered_xx", delta_x, delta_x),
                                  ("centered_xy", delta_x, delta_y),
                                  ("centered_yy", delta_y, delta_y)):
            moment, added = getattr(self, name), getattr(other, name)
            moment += added
            correction = np.outer(left, right, out=added if consume else None)
            correction *= weight
            moment += correction
        self.mean_x = self.mean_x + delta_x * (other.n / total)
        self.mean_y = self.mean_y + delta_y * (other.n / total)
        self.n = total

    def coefficients(self, alpha: float) -> tuple[np.ndarray, np.ndarray]:
        """Ridge solution (weight (k, m), bias (k,)) in float64; the intercept is not penalised."""
        import scipy.linalg  # lazy: only a ridge solve needs it

        self._require_rows(2)
        system = self.centered_xx.copy()  # + alpha on the diagonal, without two m x m temporaries
        system[np.diag_indices_from(system)] += alpha
        try:  # Cholesky in place of the copy: no second m x m array
            weight_t = scipy.linalg.solve(system, self.centered_xy, assume_a="pos",
                                          overwrite_a=True, check_finite=False)
        except (np.linalg.LinAlgError, ValueError):  # alpha = 0, collinear features: least norm
            system = self.centered_xx.copy()
            system[np.diag_indices_from(system)] += alpha
            weight_t = np.linalg.lstsq(system, self.centered_xy, rcond=None)[0]
        bias = self.mean_y - self.mean_x @ weight_t
        return weight_t.T, bias

    def solve(self, alpha: float, *, dtype: torch.dtype = torch.float32) -> AffineTranslator:
        """The affine translator for ridge penalty ``alpha`` (sklearn's Ridge convention)."""
        weight, bias = self.coefficients(alpha)
        return AffineTranslator.from_weights(
            torch.from_numpy(weight), torch.from_numpy(bias), dtype=dtype
        )

    def prediction_errors(self, weight_t: np.ndarray, bias: np.ndarray) -> np.ndarray:
        """Per-output sum of squared errors of y ~ x W^T + b over the accumulated rows."""
        residual_mean = self.mean_y - self.mean_x @ weight_t - bias
        quadratic = np.empty(weight_t.shape[1])
        for start in range(0, weight_t.shape[1], self.PANEL):  # no m x k temporary
            columns = weight_t[:, start:start + self.PANEL]
            quadratic[start:start + self.PANEL] = np.einsum(
                "mk,mk->k", self.centered_xx @ columns, columns)
        return (
            np.diag(self.centered_yy)
            - 2.0 * np.einsum("mk,mk->k", weight_t, self.centered_xy)
            + quadratic
            + self.n * residual_mean**2
        )

    def metrics(self, weight_t: np.ndarray, bias: np.ndarray) -> dict[str, float]:
        """MSE (over all outputs) and R^2 (uniform average over outputs, as sklearn's r2_score)."""
        self._require_rows(1)
        errors = np.maximum(self.prediction_errors(weight_t, bias), 0.0)
        totals = np.diag(self.centered_yy)
        safe_totals = np.where(totals > 0, totals, 1.0)
        r2 = np.where(totals > 0, 1.0 - errors / safe_totals, np.where(errors > 0, 0.0, 1.0))
        return {"mse": float(errors.sum() / (self.n * self.out_dim)), "r2": float(r2.mean())}

    def to_tensors(self) -> dict[str, torch.Tensor]:
        """The state as float64 tensors (for safetensors)."""
        return {
            "n": torch.tensor([self.n], dtype=torch.int64),
            "mean_x": torch.from_numpy(self.mean_x),
            "mean_y": torch.from_numpy(self.mean_y),
            "centered_xx": torch.from_numpy(self.centered_xx),
            "centered_xy": torch.from_numpy(self.centered_xy),
            "centered_yy": torch.from_numpy(self.centered_yy),
        }

    @classmethod
    def from_tensors(cls, tensors: dict[str, torch.Tensor]) -> RidgeAccumulator:
        in_dim, out_dim = tensors["centered_xy"].shape
        accumulator = cls(in_dim, out_dim)
        accumulator.n = int(tensors["n"][0])
        for name in ("mean_x", "mean_y", "centered_xx", "centered_xy", "centered_yy"):
            setattr(accumulator, name, tensors[name].to(torch.float64).numpy().copy())
        return accumulator

    def _require_rows(self, minimum: int) -> None:
        if self.n < minimum:
            raise DataError(
                f"a linear translator needs at least {minimum} feature rows; got {self.n}"
            )


def fit_ridge(
    train: RidgeAccumulator,
    heldout: RidgeAccumulator,
    alphas: Sequence[float] | None = None,
    *,
    dtype: torch.dtype = torch.float32,
) -> tuple[AffineTranslator, float, dict[str, Any]]:
    """Fit on ``train`` for each alpha, keep the one with the lowest held-out MSE.

    The held-out error comes from the held-out sufficient statistics alone (no second pass).
    ``alphas`` are absolute; by default RELATIVE_ALPHAS times the mean eigenvalue of the centred
    train X^T X. Returns (translator, alpha, metrics with mse, r2, n_heldout and the curve).
    """
    import scipy.linalg  # lazy: only a ridge fit needs it

    train._require_rows(2)
    heldout._require_rows(1)
    # MRRR (syevr) needs O(m) workspace where numpy's divide and conquer needs 2 m^2 doubles.
    eigenvalues, eigenvectors = scipy.linalg.eigh(train.centered_xx, driver="evr",
                                                  check_finite=False)
    eigenvalues = np.maximum(eigenvalues, 0.0)
    if alphas is None:
        scale = max(float(eigenvalues.mean()), np.finfo(np.float64).tiny)
        alphas = [scale * relative for relative in RELATIVE_ALPHAS]
    rotated_xy = eigenvectors.T @ train.centered_xy
    curve = []
    scaled, weight_t = np.empty_like(rotated_xy), np.empty_like(rotated_xy)  # reused per alpha
    for alpha in alphas:
        # One eigendecomposition serves every alpha: (C + aI)^-1 = Q diag(1/(l + a)) Q^T.
        shrink = np.where(
            eigenvalues + alpha > 0,
            1.0 / np.maximum(eigenvalues + alpha, np.finfo(float).tiny),
            0.0,
        )
        np.multiply(rotated_xy, shrink[:, None], out=scaled)
        np.matmul(eigenvectors, scaled, out=weight_t)
        bias = train.mean_y - train.mean_x @ weight_t
        curve.append({"alpha": float(alpha), **heldout.metrics(weight_t, bias)})
    best = min(curve, key=lambda point: point["mse"])
    del eigenvectors, rotated_xy, weight_t, scaled  # freed before the solve's own
    translator = train.solve(best["alpha"], dtype=dtype)
    metrics = {
        "mse": best["mse"],
        "r2": best["r2"],
        "n_train": train.n,
        "n_heldout": heldout.n,
        "curve": curve,
    }
    return translator, best["alpha"], metrics


def _numpy64(values: Any) -> np.ndarray:
    if isinstance(values, torch.Tensor):
        return values.detach().to("cpu", torch.float64).numpy()
    return np.asarray(values, dtype=np.float64)


# ---------------------------------------------------------------------------------------------
# Gradient training of any architecture


def translator_loss(pred: torch.Tensor, target: torch.Tensor, loss: str) -> torch.Tensor:
    """Mean loss over rows: "mse", "cos" (1 - cosine) or "mse+cos"."""
    if loss not in LOSSES:
        raise SpecError(f"unknown translator loss {loss!r}; available: {', '.join(LOSSES)}")
    value = pred.new_zeros(())
    if "mse" in loss:
        value = value + F.mse_loss(pred, target)
    if "cos" in loss:
        value = value + (1.0 - F.cosine_similarity(pred, target, dim=-1)).mean()
    return value


def train_translator(
    build: Callable[[int, int], Translator],
    x_train: Any,
    y_train: Any,
    x_val: Any,
    y_val: Any,
    *,
    loss: str = "mse",
    lr: float = 1e-4,
    weight_decay: float = 0.1,
    epochs: int = 100,
    batch_size: int = 256,
    patience: int = 10,
    seed: int = 0,
) -> tuple[Translator, dict[str, Any]]:
    """AdamW, early stopping on the held-out loss; returns the best model (eval mode), history.
    ``build(in_dim, out_dim)`` makes the fresh network (after seeding, so inits are seeded)."""
    translator_loss(torch.zeros(1, 1), torch.zeros(1, 1), loss)  # validates the loss name early
    xs = [as_tensor(a).to(torch.float32) for a in (x_train, y_train, x_val, y_val)]
    x_train_t, y_train_t, x_val_t, y_val_t = xs
    if len(x_train_t) == 0 or len(x_val_t) == 0:
        raise DataError("translator training needs non-empty train and validation sets")
    history: dict[str, Any] = {"train_loss": [], "val_loss": [], "best_epoch": -1}
    with torch.random.fork_rng(devices=[]):  # leaves the caller's global RNG untouched
        torch.manual_seed(seed)
        model = build(x_train_t.shape[1], y_train_t.shape[1]).to(x_train_t.device)
        optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
        shuffler = torch.Generator().manual_seed(seed)
        best_loss, best_state, waited = math.inf, copy.deepcopy(model.state_dict()), 0
        for epoch in range(epochs):
            model.train()
            order = torch.randperm(len(x_train_t), generator=shuffler).to(x_train_t.device)
            total = 0.0
            for start in range(0, len(order), batch_size):
                rows = order[start : start + batch_size]
                optimizer.zero_grad()
                batch_loss = translator_loss(model(x_train_t[rows]), y_train_t[rows], loss)
                batch_loss.backward()
                optimizer.step()
                total += float(batch_loss.detach()) * len(rows)
            model.eval()
            with torch.no_grad():
                val_loss = float(translator_loss(model(x_val_t), y_val_t, loss))
            history["train_loss"].append(total / len(order))
            history["val_loss"].append(val_loss)
            if val_loss < best_loss:
                best_loss, best_state, waited = val_loss, copy.deepcopy(model.state_dict()), 0
                history["best_epoch"] = epoch
            else:
                waited += 1
                if waited >= patience:
                    break
    model.load_state_dict(best_state)
    model.eval()
    history["best_val_loss"] = best_loss
    return model, history


# ---------------------------------------------------------------------------------------------
# Fidelity


def row_cosines(pred: Any, target: Any) -> Any:
    """Cosine similarity per row (for histograms)."""
    p64, t64 = to_float64(pred), to_float64(target)
    cosines = F.cosine_similarity(p64, t64.to(p64.device), dim=-1)
    return like_input(cosines, pred)


def fidelity(pred: Any, target: Any) -> dict[str, float]:
    """mean_cosine, mse (over all entries) and r2 (uniform average over outputs, as sklearn)."""
    p64, t64 = to_float64(pred).detach(), to_float64(target).detach()
    t64 = t64.to(p64.device)
    errors = ((p64 - t64) ** 2).sum(dim=0)
    totals = ((t64 - t64.mean(dim=0)) ** 2).sum(dim=0)
    r2 = torch.where(
        totals > 0,
        1.0 - errors / torch.where(totals > 0, totals, 1.0),
        (errors == 0).to(torch.float64),
    )
    return {
        "mean_cosine": float(F.cosine_similarity(p64, t64, dim=-1).mean()),
        "mse": float(((p64 - t64) ** 2).mean()),
        "r2": float(r2.mean()),
    }
