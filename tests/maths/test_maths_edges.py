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


# Found by search: the float64 cosine of these rows rounds to 1 + 2.2e-16 (and -1 - 2.2e-16).
ROUNDING_ROW = torch.tensor([[0.3703935333738153, 1.4565026067903366, 0.9398099079535257,
                              0.7748488177844168, 0.19186942747902466]], dtype=torch.float64)


@pytest.mark.parametrize(("scale", "degrees"), [(7.0, 0.0), (-7.0, 180.0)])
def test_cosines_rounded_past_one_are_clamped_not_nan(scale, degrees):
    from singaudit.maths.scores import concept_attribute_scores

    other = ROUNDING_ROW * scale
    assert angle(ROUNDING_ROW, other).item() == degrees
    # the concept matrix path: AS of T(f) = ROUNDING_ROW against the text ``other``
    matrix = concept_attribute_scores(ROUNDING_ROW, torch.tensor([[0.0, 0, 0, 0, 1]]), other)
    assert torch.isfinite(matrix).all()
    assert matrix.item() == pytest.approx(degrees - angle(torch.tensor([[0.0, 0, 0, 0, 1]]),
                                                          other).item())


def test_model_ratio_is_infinite_for_any_positive_is_over_zero_as():
    from singaudit.maths.scores import model_ratio

    assert model_ratio([0.5, 0.25, 0.75], [0.0, 0.0, 0.0]) == float("inf")


def test_require_finite_catches_a_lone_value_and_counts_exactly():
    with pytest.raises(DataError, match="1 of 1 rows"):
        require_finite(torch.tensor([float("nan")]), ["only"], "features")
    for bad_rows, tail in ((5, "img4;"), (6, "img4 and 1 more;")):
        rows = np.full((bad_rows, 2), np.nan)
        with pytest.raises(DataError) as caught:
            require_finite(rows, [f"img{i}" for i in range(bad_rows)], "features")
        assert f"images: img0, img1, img2, img3, {tail}" in str(caught.value)


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**16), st.sampled_from([1e-6, 1e-3, 0.5, 1e3]))
def test_null_energy_does_not_depend_on_the_feature_scale(seed, scale):
    from singaudit.maths.geometry import head_geometry

    generator = torch.Generator().manual_seed(seed)
    geometry = head_geometry(torch.randn(3, 8, generator=generator, dtype=torch.float64))
    features = torch.randn(4, 8, generator=generator, dtype=torch.float64)
    torch.testing.assert_close(geometry.null_energy(features * scale),
                               geometry.null_energy(features))
