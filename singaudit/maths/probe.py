"""The null-space probe: can a linear classifier read the class from P_n f alone?

A CLIP-free cross-check of the angle metrics: no joint space, no translator. Logistic regression
on the null-space coordinates V_n^T f (the same information as P_n f in null_dim numbers),
stratified k-fold cross-validation so every image is predicted by a probe that never saw it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from singaudit.errors import NotApplicable

if TYPE_CHECKING:
    from singaudit.maths.geometry import HeadGeometry


@dataclass(frozen=True)
class ProbeResult:
    """Cross-validated predictions of a linear probe and what they add up to."""

    predicted: np.ndarray  # (n,) the held-out prediction of every image
    labels: np.ndarray  # (n,) the true labels
    folds: int
    chance: float  # accuracy of always answering the most frequent class

    @property
    def accuracy(self) -> float:
        return float(np.mean(self.predicted == self.labels))

    @property
    def lift(self) -> float:
        """(accuracy - chance) / (1 - chance): 0 at chance, 1 when every image is right."""
        return float((self.accuracy - self.chance) / (1.0 - self.chance))

    def class_accuracy(self, label: int) -> float:
        """Recall of one class: the share of its images the probe gets right."""
        members = self.labels == label
        return float(np.mean(self.predicted[members] == label)) if members.any() else float("nan")


def null_coordinates(features: Any, geometry: HeadGeometry) -> np.ndarray:
    """V_n^T f per row as float64 numpy (n, null_dim): P_n f in the null basis."""
    from singaudit.maths._arrays import to_float64  # lazy: torch is not needed to import this

    geometry.require_null_space()
    f64 = to_float64(features)
    return (f64 @ geometry.null_basis.to(f64.device)).detach().cpu().numpy()


def cross_validated_probe(
    values: np.ndarray, labels: np.ndarray, *, folds: int = 5, regularisation: float = 1.0,
    max_iter: int = 2000, seed: int = 0,
) -> ProbeResult:
    """Standardised logistic regression, stratified ``folds``-fold: every row predicted once by a
    probe trained on the other folds (fewer folds when the smallest class has fewer images)."""
    # lazy: scikit-learn costs ~0.5 s to import, paid only when a probe runs
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    labels = np.asarray(labels, dtype=np.int64)
    counts = np.bincount(labels)
    present = counts[counts > 0]
    if len(present) < 2 or present.min() < 2:
        raise NotApplicable("a cross-validated probe needs at least 2 classes with at least 2 "
                            f"images each (class counts: {present.tolist()})")
    folds = int(min(folds, present.min()))
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    predicted = np.empty_like(labels)
    for train, test in splitter.split(values, labels):
        model = make_pipeline(
            StandardScaler(),
            LogisticRegression(C=regularisation, max_iter=max_iter, random_state=seed),
        )
        model.fit(values[train], labels[train])
        predicted[test] = model.predict(values[test])
    return ProbeResult(predicted=predicted, labels=labels, folds=folds,
                       chance=float(present.max() / present.sum()))
