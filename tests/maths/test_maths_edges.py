"""Edge helpers of the maths: the generator's norm rescaling and the non-finite guard."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from singaudit.errors import DataError
from singaudit.maths._arrays import require_finite
from singaudit.maths.scores import angle, rescale_to_reference


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 6), st.integers(1, 8), st.integers(0, 2**16), st.floats(1e-3, 1e3))
def test_rescaling_keeps_the_direction_and_takes_the_reference_norm(rows, width, seed, scale):
    generator = torch.Generator().manual_seed(seed)
    equivalent = torch.randn(rows, width, generator=generator, dtype=torch.float64) * scale
    reference = torch.randn(rows, width, generator=generator, dtype=torch.float64)
    rescaled = rescale_to_reference(equivalent, reference)
    torch.testing.assert_close(rescaled.norm(dim=-1), reference.norm(dim=-1))
    assert torch.all(angle(rescaled, equivalent) < 1e-4)
    assert torch.all((rescaled * equivalent).sum(-1) > 0)  # same direction, not the opposite


def test_rescaling_hand_values_zero_rows_and_shapes():
    equivalent = torch.tensor([[3.0, 4.0], [0.0, 0.0], [0.0, 2.0]])
    reference = torch.tensor([[0.0, 10.0], [1.0, 1.0], [0.5, 0.0]])
    torch.testing.assert_close(rescale_to_reference(equivalent, reference),
                               torch.tensor([[6.0, 8.0], [0.0, 0.0], [0.0, 0.5]]))
    # A zero equivalent has no direction: it stays zero, without NaN.
    assert torch.isfinite(rescale_to_reference(torch.zeros(1, 3), torch.ones(1, 3))).all()
    one_row = rescale_to_reference(torch.tensor([1.0, 1.0]), torch.tensor([0.0, 2.0]))
    torch.testing.assert_close(one_row, torch.tensor([2.0, 2.0]) / 2**0.5)
    with pytest.raises(ValueError, match=r"equivalent \(2, 2\) and reference \(2, 3\)"):
        rescale_to_reference(torch.ones(2, 2), torch.ones(2, 3))


def test_require_finite_passes_finite_and_empty_rows():
    require_finite(torch.ones(3, 2), ["a", "b", "c"], "features")
    require_finite(np.zeros((0, 4)), [], "features")


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_require_finite_names_the_rows_and_images(bad):
    rows = np.zeros((4, 3))
    rows[1, 2] = rows[3, 0] = bad
    with pytest.raises(DataError) as caught:
        require_finite(rows, ["w", "x", "y", "z"], "penultimate features")
    message = str(caught.value)
    assert message.startswith("penultimate features: 2 of 4 rows are not finite")
    assert "images: x, z;" in message and "more" not in message


def test_require_finite_lists_five_images_then_counts_the_rest():
    rows = torch.full((8, 2, 2), float("nan"))  # any trailing shape: one flag per row
    rows[0] = 0.0
    keys = [f"img{i}" for i in range(8)]
    with pytest.raises(DataError, match=r"7 of 8 rows .* images: img1, img2, img3, img4, img5 "
                                        r"and 2 more;"):
        require_finite(rows, keys, "embeddings")
