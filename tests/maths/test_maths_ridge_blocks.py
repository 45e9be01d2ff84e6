"""A chunk larger than the accumulator's block is absorbed in pieces: same statistics."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from singaudit.maths.translators import RidgeAccumulator


def test_large_chunk_equals_its_rows_fed_in_small_chunks():
    rng = np.random.default_rng(0)
    rows = RidgeAccumulator.ROWS_PER_BLOCK * 2 + 37
    x = rng.normal(3.0, 2.0, (rows, 6))
    y = x @ rng.normal(size=(6, 3)) + 5.0
    whole = RidgeAccumulator(6, 3).update(torch.from_numpy(x).float(), torch.from_numpy(y).float())
    pieces = RidgeAccumulator(6, 3)
    for start in range(0, rows, 50):
        pieces.update(x[start:start + 50].astype(np.float32), y[start:start + 50].astype(np.float32))
    assert whole.n == pieces.n == rows
    for name in ("mean_x", "mean_y", "centered_xx", "centered_xy", "centered_yy"):
        np.testing.assert_allclose(getattr(whole, name), getattr(pieces, name), rtol=1e-10,
                                   atol=1e-8)
    centred = x.astype(np.float32).astype(np.float64)
    centred -= centred.mean(axis=0)
    np.testing.assert_allclose(whole.centered_xx, centred.T @ centred, rtol=1e-9)


def test_lists_and_shapes_still_checked():
    accumulator = RidgeAccumulator(2, 1).update([[1.0, 2.0], [3.0, 5.0]], [[1.0], [2.0]])
    assert accumulator.n == 2
    for x, y in (([[1.0, 2.0, 3.0]], [[1.0]]), ([[1.0, 2.0]], [[1.0], [2.0]])):
        with pytest.raises(ValueError):
            accumulator.update(x, y)
