"""The per-class bootstrap, resampled together, gives each class's own bootstrap_ci."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from singaudit.maths.stats import bootstrap_ci, bootstrap_ci_rows

finite = st.floats(-1e3, 1e3, allow_nan=False)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.lists(finite, min_size=0, max_size=9), min_size=1, max_size=12),
       st.sampled_from([np.median, np.mean]), st.integers(0, 5))
def test_rows_equal_one_call_per_group(groups, reducer, seed):
    arrays = [np.asarray(g, dtype=np.float64) for g in groups]
    together = bootstrap_ci_rows(arrays, reducer, n_boot=200, seed=seed, rows_per_batch=3)
    one_by_one = [bootstrap_ci(a, reducer, n_boot=200, seed=seed) for a in arrays]
    np.testing.assert_allclose(np.array(together), np.array(one_by_one), rtol=1e-12,
                               atol=1e-9, equal_nan=True)


def test_nan_dropped_and_degenerate_groups():
    groups = [np.array([1.0, np.nan, 3.0, 4.0, 8.0]), np.array([2.0, 2.0]), np.array([np.nan]),
              np.array([5.0])]
    intervals = bootstrap_ci_rows(groups, n_boot=100)
    assert intervals[0] == bootstrap_ci(np.array([1.0, 3.0, 4.0, 8.0]), n_boot=100)
    assert intervals[1] == (2.0, 2.0) and intervals[3] == (5.0, 5.0)
    assert np.isnan(intervals[2]).all()
    assert intervals[0][0] < intervals[0][1]


def test_many_classes_of_one_size_median_exact():
    rng = np.random.default_rng(0)
    groups = list(rng.normal(size=(40, 7)))
    together = bootstrap_ci_rows(groups, n_boot=150, seed=2)
    assert together == [bootstrap_ci(g, n_boot=150, seed=2) for g in groups]
    assert len(set(together)) > 1  # each class its own interval, not one shared


@pytest.mark.parametrize("groups", [[], [np.array([])]])
def test_nothing_to_resample(groups):
    assert all(np.isnan(i).all() for i in bootstrap_ci_rows(groups))

