"""angle_matrix (every row against every row, one matrix product) equals the broadcast angle."""

import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from singaudit.maths.scores import angle, angle_matrix


@settings(max_examples=30, deadline=None)
@given(rows=st.integers(1, 6), columns=st.integers(1, 5), dim=st.integers(1, 8),
       seed=st.integers(0, 2**16), scale=st.floats(1e-3, 1e3))
def test_angle_matrix_is_the_broadcast_angle(rows, columns, dim, seed, scale):
    rng = np.random.default_rng(seed)
    u = torch.tensor(rng.normal(size=(rows, dim)) * scale)
    v = torch.tensor(rng.normal(size=(columns, dim)))
    expected = angle(u.unsqueeze(1), v.unsqueeze(0))
    assert angle_matrix(u, v).shape == (rows, columns)
    assert torch.allclose(angle_matrix(u, v), expected, atol=1e-6)


def test_a_zero_row_gives_nan_like_angle():
    u = torch.tensor([[0.0, 0.0], [1.0, 0.0]])
    v = torch.tensor([[0.0, 1.0]])
    result = angle_matrix(u, v)
    assert torch.isnan(result[0, 0]) and abs(float(result[1, 0]) - 90.0) < 1e-9
