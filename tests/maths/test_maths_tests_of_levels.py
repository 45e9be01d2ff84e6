"""The one-sided tests behind a per-class verdict (exceedance p-values, Holm's adjustment),
against SciPy's own binomial and t tests and a loop-by-loop Holm reference."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as scipy_stats

from singaudit.errors import SpecError
from singaudit.maths.stats import exceedance_p_values, holm_adjusted

LEVEL = 0.3


def _groups(seed: int) -> np.ndarray:
    # Rows of different lengths (NaN padding) and centres on both sides of LEVEL.
    rng = np.random.default_rng(seed)
    rows = np.full((4, 15), np.nan)
    for row, (size, centre) in enumerate([(15, 1.0), (9, -0.5), (12, 0.3), (5, 0.6)]):
        rows[row, :size] = rng.normal(centre, 0.8, size)
    return rows


def _present(row: np.ndarray) -> np.ndarray:
    return row[~np.isnan(row)]


def _sign_test(row: np.ndarray, level: float, quantile: float, higher_is_better: bool) -> float:
    # Sign test of H0 "the quantile is level" against "beyond it"; ties at level count as under.
    values = _present(row)
    if higher_is_better:
        return scipy_stats.binomtest(int((values < level).sum()), values.size, quantile,
                                     alternative="greater").pvalue
    return scipy_stats.binomtest(int((values <= level).sum()), values.size, quantile,
                                 alternative="less").pvalue


@pytest.mark.parametrize("higher_is_better", [False, True])
@pytest.mark.parametrize(("name", "quantile"), [("median", 0.5), ("q90", 0.9), ("q25", 0.25),
                                                ("q2.5", 0.025)])
@pytest.mark.parametrize("seed", [0, 1])
def test_quantile_p_values_are_scipys_sign_test_per_row(name, quantile, higher_is_better, seed):
    rows = _groups(seed)
    p = exceedance_p_values(rows, name, LEVEL, higher_is_better=higher_is_better)
    expected = [_sign_test(row, LEVEL, quantile, higher_is_better) for row in rows]
    np.testing.assert_allclose(p, expected, rtol=1e-9)


def test_values_exactly_at_the_level_count_as_not_beyond():
    # Ties at the level are evidence against "beyond" in both directions.
    values = np.array([[0.3, 0.3, 0.3, 0.3, 1.0, 2.0]])
    assert exceedance_p_values(values, "median", 0.3)[0] == pytest.approx(
        scipy_stats.binom.cdf(4, 6, 0.5))
    assert exceedance_p_values(values, "median", 0.3, higher_is_better=True)[0] == 1.0


@pytest.mark.parametrize("higher_is_better", [False, True])
@pytest.mark.parametrize("seed", [0, 1])
def test_mean_p_values_are_scipys_one_sided_t_test(higher_is_better, seed):
    rows = _groups(seed)
    p = exceedance_p_values(rows, "mean", LEVEL, higher_is_better=higher_is_better)
    alternative = "less" if higher_is_better else "greater"
    expected = [scipy_stats.ttest_1samp(_present(row), LEVEL, alternative=alternative).pvalue
                for row in rows]
    np.testing.assert_allclose(p, expected, rtol=1e-9)


def test_mean_without_spread_or_with_one_value():
    # Binary fractions: no round-off spread in a constant row.
    rows = np.array([[0.5, 0.5, 0.5], [0.125, 0.125, 0.125], [0.25, 0.25, 0.25],
                     [0.9, np.nan, np.nan]])
    np.testing.assert_array_equal(exceedance_p_values(rows, "mean", 0.25), [0.0, 1.0, 1.0, 1.0])
    np.testing.assert_array_equal(
        exceedance_p_values(rows, "mean", 0.25, higher_is_better=True), [1.0, 0.0, 1.0, 1.0])


@pytest.mark.parametrize("seed", [0, 1])
def test_fraction_within_is_the_binomial_test_of_the_share_within_the_bound(seed):
    rows = _groups(seed)
    p = exceedance_p_values(rows, "fraction_within", 0.8, bound=0.5)
    expected = [scipy_stats.binomtest(int((_present(row) <= 0.5).sum()), _present(row).size, 0.8,
                                      alternative="less").pvalue for row in rows]
    np.testing.assert_allclose(p, expected, rtol=1e-9)
    with pytest.raises(SpecError, match="bound"):
        exceedance_p_values(rows, "fraction_within", 0.8)


def test_inputs_one_row_torch_and_untestable_statistics():
    rows = _groups(0)
    single = exceedance_p_values(_present(rows[0]), "median", LEVEL)
    assert single.shape == (1,)
    assert single[0] == pytest.approx(_sign_test(rows[0], LEVEL, 0.5, False))
    from_torch = exceedance_p_values(torch.from_numpy(rows).float(), "mean", LEVEL)
    np.testing.assert_allclose(from_torch, exceedance_p_values(rows, "mean", LEVEL), rtol=1e-5)
    for name in ("max", "min", "std"):
        assert exceedance_p_values(rows, name, LEVEL) is None


def _holm_reference(p: list[float]) -> list[float]:
    # Holm (1979) by definition: the i-th smallest p is scaled by (m - i), the adjusted values
    # are the running maximum of those in sorted order, capped at 1.
    m = len(p)
    order = sorted(range(m), key=lambda i: (p[i], i))
    adjusted = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, (m - rank) * p[i])
        adjusted[i] = min(1.0, running)
    return adjusted


def test_holm_hand_values():
    np.testing.assert_allclose(holm_adjusted([0.01, 0.04, 0.03]), [0.03, 0.06, 0.06])
    np.testing.assert_allclose(holm_adjusted([0.5, 0.01]), [0.5, 0.02])
    np.testing.assert_allclose(holm_adjusted([0.4, 0.3, 0.2]), [0.6, 0.6, 0.6])
    np.testing.assert_allclose(holm_adjusted([0.9, 0.02]), [0.9, 0.04])
    assert holm_adjusted([0.7, 0.6])[0] == 1.0
    assert holm_adjusted([]).shape == (0,)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from([0.0, 0.001, 0.01, 0.02, 0.05, 0.2, 0.5, 1.0])
                | st.floats(0.0, 1.0), min_size=1, max_size=12))
def test_holm_equals_its_definition_and_never_lowers_a_p_value(p):
    adjusted = holm_adjusted(p)
    np.testing.assert_allclose(adjusted, _holm_reference(p), rtol=1e-12, atol=0)
    assert np.all(adjusted >= np.asarray(p)) and np.all(adjusted <= 1.0)


def test_two_values_are_tested_and_values_at_the_bound_are_within():
    # Two values: one degree of freedom (the smallest row the t-test accepts).
    pair = np.array([[0.5, 1.5]])
    assert exceedance_p_values(pair, "mean", 0.25)[0] == pytest.approx(
        scipy_stats.ttest_1samp(pair[0], 0.25, alternative="greater").pvalue, rel=1e-9)
    at_bound = np.array([[0.5, 0.5, 0.5, 0.7]])
    assert exceedance_p_values(at_bound, "fraction_within", 0.75, bound=0.5)[0] == pytest.approx(
        scipy_stats.binom.cdf(3, 4, 0.75))


def test_gradient_tracking_and_bfloat16_tensors_are_accepted():
    # Scores computed under autograd, or in bfloat16, which numpy cannot hold.
    values = torch.tensor([[0.5, 1.0, 2.0, -1.0, 3.0]], dtype=torch.bfloat16, requires_grad=True)
    plain = np.array([[0.5, 1.0, 2.0, -1.0, 3.0]])
    for name in ("median", "mean"):
        np.testing.assert_allclose(exceedance_p_values(values, name, 0.25),
                                   exceedance_p_values(plain, name, 0.25), rtol=1e-12)
