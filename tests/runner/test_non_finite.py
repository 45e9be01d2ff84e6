"""Non-finite features or embeddings are a data error naming the count and the images, never
silently dropped (and nothing is judged on them)."""

from __future__ import annotations

import numpy as np
import pytest
import runner_world
import torch

from singaudit.adapters.sources import CLASSIFIER_SOURCES
from singaudit.errors import DataError
from singaudit.maths._arrays import require_finite
from singaudit.runner import run_audit
from singaudit.spec import parse_spec_text


class NanClassifier(runner_world.LinearClassifier):
    """The runner world's classifier, whose features are NaN for the brightest images."""

    def features(self, images: torch.Tensor) -> torch.Tensor:
        features = super().features(images)
        bright = images.reshape(len(images), -1).mean(dim=1) > images.mean()
        features[bright, 0] = float("nan")
        return features


def test_require_finite_names_the_count_and_the_images():
    rows = np.zeros((4, 3))
    require_finite(rows, ["a", "b", "c", "d"], "features")  # finite: nothing raised
    rows[1, 2], rows[3, 0] = np.nan, np.inf
    with pytest.raises(DataError, match=r"features: 2 of 4 rows are not finite .*images: b, d"):
        require_finite(rows, ["a", "b", "c", "d"], "features")


def test_non_finite_features_stop_the_audit_with_a_data_error(tmp_path):
    runner_world.register()
    CLASSIFIER_SOURCES.add("nanworld", lambda ident, **options: NanClassifier(1), replace=True)
    spec = parse_spec_text(runner_world.SPEC.replace("runnerworld:seed1", "nanworld:1"))
    with pytest.raises(DataError, match=r"features of runnerworld:seed1: \d+ of \d+ rows are not "
                                        r"finite \(NaN or infinity\), images: "):
        run_audit(spec, out_dir=tmp_path / "out", cache_dir=tmp_path / "cache", progress=False)
    assert not (tmp_path / "out" / "results.json").exists()  # no verdict on poisoned features
