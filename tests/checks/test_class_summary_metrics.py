"""class_summary_metrics: summary_metric of every class, the bootstrap CIs resampled together."""

from __future__ import annotations

import numpy as np
import pytest

from singaudit.checks.thresholds import MetricSpec, class_summary_metrics, summary_metric


def test_class_summary_metrics_equal_summary_metric_per_class():

    rng = np.random.default_rng(3)
    labels = np.concatenate([np.repeat(np.arange(30), 6), [30, 30, 31], [33] * 9])
    values = rng.normal(size=labels.size)
    values[[4, 40]] = np.nan
    names = [f"class {i}" for i in range(35)]
    for aggregation in ("median", "mean", "max"):
        spec = MetricSpec(unit="deg", aggregation=aggregation, description="d")
        together = class_summary_metrics(values, labels, names, spec, n_boot=120, seed=1)
        assert list(together) == [names[i] for i in (*range(32), 33)]  # classes with images
        for index, name in enumerate(names):
            if name not in together:
                continue
            alone = summary_metric(values[labels == index], spec, n_boot=120, seed=1)
            assert together[name].value == pytest.approx(alone.value, nan_ok=True)
            if alone.ci is None:
                assert together[name].ci is None
            else:
                assert together[name].ci == pytest.approx(alone.ci, rel=1e-12)
