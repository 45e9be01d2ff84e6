"""The null-space probe: can a linear classifier read the class from P_n f alone?

A CLIP-free cross-check of the angle metrics: no joint space, no translator. Logistic regression
on the null-space coordinates V_n^T f (the same information as P_n f in null_dim numbers),
stratified k-fold cross-validation so every image is predicted by a probe that never saw it.

Beside the accuracy, three figures from the concept-erasure literature: selectivity (accuracy
minus the same probe's accuracy on shuffled labels, Hewitt & Liang 2019), linear guardedness
(the probe's accuracy after LEACE erases the class, Belrose et al. 2023) and the number of
directions iterative nullspace projection removes before the probe is at chance (INLP, Ravfogel
et al. 2020). The probe scales its inputs isotropically (centred, one scale for every
coordinate), so every figure is invariant to rotations and rescaling of the null block: the null
basis V_n is only defined up to a rotation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from singaudit.errors import NotApplicable

if TYPE_CHECKING:
    from singaudit.maths.geometry import HeadGeometry

CHANCE_ALPHA = 0.05  # a probe is at chance when its accuracy is not above chance at this level
# "logistic": multinomial logistic regression (lbfgs); "ridge": a least-squares classifier on
# one-hot targets, closed form (one d x d solve per fit, whatever the class count).
Solver = Literal["logistic", "ridge"]


def linear_classifier(solver: Solver, regularisation: float, max_iter: int, seed: int,
                      balanced: bool) -> Any:
    """An unfitted scikit-learn linear classifier (``coef_`` rows per class, ``predict``)."""
    class_weight = "balanced" if balanced else None
    if solver == "ridge":
        from sklearn.linear_model import RidgeClassifier

        # C is an inverse penalty, alpha a penalty: one number for both solvers.
        return RidgeClassifier(alpha=1.0 / regularisation, class_weight=class_weight)
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=regularisation, max_iter=max_iter, random_state=seed,
                              class_weight=class_weight)


@dataclass(frozen=True)
class ProbeResult:
    """Cross-validated predictions of a linear probe and what they add up to."""

    predicted: np.ndarray  # (n,) the held-out prediction of every image
    labels: np.ndarray  # (n,) the true labels
    folds: int
    chance: float  # accuracy of always answering the most frequent class
    balanced: bool = False  # classes weighted by inverse frequency (two classes: one-vs-rest)

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

    @property
    def p_value(self) -> float:
        """One-sided p-value of "better than chance": an exact binomial test of the accuracy
        against the majority rate; for a balanced probe of two classes, Fisher's exact test of
        its predictions against the labels (a probe at chance predicts independently of them)."""
        from scipy.stats import binomtest, fisher_exact  # lazy: scipy.stats costs ~1.5 s

        if self.balanced and self.labels.max() == 1:
            table = [[int(np.sum((self.labels == t) & (self.predicted == p))) for p in (1, 0)]
                     for t in (1, 0)]
            return float(fisher_exact(table, alternative="greater").pvalue)
        correct = int(np.sum(self.predicted == self.labels))
        return float(binomtest(correct, len(self.labels), self.chance,
                               alternative="greater").pvalue)


def null_coordinates(features: Any, geometry: HeadGeometry) -> np.ndarray:
    """V_n^T f per row as float64 numpy (n, null_dim): P_n f in the null basis."""
    from singaudit.maths._arrays import to_float64  # lazy: torch is not needed to import this

    geometry.require_null_space()
    f64 = to_float64(features)
    return (f64 @ geometry.null_basis.to(f64.device)).detach().cpu().numpy()


def isotropic_scaling(rows: np.ndarray) -> tuple[np.ndarray, float]:
    """(mean, scale) that centre ``rows`` and give their coordinates unit variance on average:
    one scale for every coordinate, so rotations commute with it (a StandardScaler does not)."""
    mean = rows.mean(axis=0)
    spread = float(np.sqrt(np.mean((rows - mean) ** 2)))
    return mean, spread if spread > 0 else 1.0


Transform = Callable[[np.ndarray, np.ndarray], Callable[[np.ndarray], np.ndarray]]


def _check_labels(labels: np.ndarray) -> np.ndarray:
    counts = np.bincount(labels)
    present = counts[counts > 0]
    if len(present) < 2 or present.min() < 2:
        raise NotApplicable("a cross-validated probe needs at least 2 classes with at least 2 "
                            f"images each (class counts: {present.tolist()})")
    return present


def cross_validated_probe(
    values: np.ndarray, labels: np.ndarray, *, folds: int = 5, regularisation: float = 1.0,
    max_iter: int = 2000, seed: int = 0, fit_transform: Transform | None = None,
    balanced: bool = False, solver: Solver = "logistic",
) -> ProbeResult:
    """Isotropically scaled logistic regression, stratified ``folds``-fold: every row predicted
    once by a probe trained on the other folds (fewer folds when the smallest class has fewer
    images). ``fit_transform(train_values, train_labels)`` returns a map fitted on the training
    fold only and applied to both folds (e.g. a LEACE eraser); ``balanced`` weights classes by
    their inverse frequency; ``solver`` picks the classifier (:func:`linear_classifier`)."""
    labels = np.asarray(labels, dtype=np.int64)
    present = _check_labels(labels)
    with _one_blas_thread():
        return _cross_validated(values, labels, present, folds, regularisation, max_iter, seed,
                                fit_transform, balanced, solver)


def _one_blas_thread() -> Any:
    """Small probes gain nothing from BLAS threads, and on a busy machine their spin-waiting
    costs tens of times the work."""
    from threadpoolctl import threadpool_limits  # a scikit-learn dependency

    return threadpool_limits(limits=1, user_api="blas")


def _cross_validated(values: np.ndarray, labels: np.ndarray, present: np.ndarray, folds: int,
                     regularisation: float, max_iter: int, seed: int,
                     fit_transform: Transform | None, balanced: bool, solver: Solver
                     ) -> ProbeResult:
    # lazy: scikit-learn costs ~0.5 s to import, paid only when a probe runs
    from sklearn.model_selection import StratifiedKFold

    folds = int(min(folds, present.min()))
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    predicted = np.empty_like(labels)
    for train, test in splitter.split(values, labels):
        train_values, test_values = values[train], values[test]
        if fit_transform is not None:
            transform = fit_transform(train_values, labels[train])
            train_values, test_values = transform(train_values), transform(test_values)
        mean, scale = isotropic_scaling(train_values)
        model = linear_classifier(solver, regularisation, max_iter, seed, balanced)
        model.fit((train_values - mean) / scale, labels[train])
        predicted[test] = model.predict((test_values - mean) / scale)
    return ProbeResult(predicted=predicted, labels=labels, folds=folds,
                       chance=float(present.max() / present.sum()), balanced=balanced)


def shuffled_labels(labels: np.ndarray, seed: int) -> np.ndarray:
    """The control task: the same labels in a seeded random order (class sizes kept), so a
    probe's accuracy on them measures what it can fit without a relation to the images."""
    return np.random.default_rng(seed).permutation(np.asarray(labels, dtype=np.int64))


@dataclass(frozen=True)
class LeaceEraser:
    """r(x) = x - (x - mean) @ erasure.T: LEACE, the least-squares change of x after which no
    linear classifier reads the labels better than a constant (Belrose et al. 2023)."""

    mean: np.ndarray  # (d,)
    erasure: np.ndarray  # (d, d) W^+ P W: whiten, project on the class subspace, unwhiten
    rank: int  # dimension of the erased subspace (at most classes - 1)

    def __call__(self, values: np.ndarray) -> np.ndarray:
        return values - (values - self.mean) @ self.erasure.T


def fit_leace(values: np.ndarray, labels: np.ndarray, *, rtol: float | None = None
              ) -> LeaceEraser:
    """LEACE in closed form from the sample moments of ``values`` and one-hot ``labels``.

    W = (Sigma_xx^{1/2})^+ whitens, P projects onto the span of W Sigma_xz, and the eraser is
    x - W^+ P W (x - mu). Eigenvalues and singular values below ``rtol`` times the largest
    (default: d * float64 eps, NumPy's matrix_rank rule) count as zero, so the fit is
    equivariant under any invertible linear map of the values.
    """
    values = np.asarray(values, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    n, d = values.shape
    tolerance = rtol if rtol is not None else max(n, d) * np.finfo(np.float64).eps
    mean = values.mean(axis=0)
    centred = values - mean
    onehot = np.eye(labels.max() + 1)[labels]
    cross = centred.T @ (onehot - onehot.mean(axis=0)) / n  # Sigma_xz (d, c)
    eigenvalues, eigenvectors = np.linalg.eigh(centred.T @ centred / n)
    keep = eigenvalues > tolerance * max(eigenvalues.max(), 0.0)
    basis, root = eigenvectors[:, keep], np.sqrt(eigenvalues[keep])
    whiten = (basis / root) @ basis.T
    unwhiten = (basis * root) @ basis.T
    directions, singular, _ = np.linalg.svd(whiten @ cross, full_matrices=False)
    rank = int(np.sum(singular > tolerance * singular.max())) if singular.size and \
        singular.max() > 0 else 0
    projector = directions[:, :rank] @ directions[:, :rank].T
    return LeaceEraser(mean=mean, erasure=unwhiten @ projector @ whiten, rank=rank)


@dataclass(frozen=True)
class InlpResult:
    """Iterative nullspace projection: what was removed before the probe reached chance."""

    directions: int  # directions removed before the probe was at chance
    iterations: int  # probes trained and projected out
    accuracies: list[float] = field(default_factory=list)  # held-out accuracy before each step
    p_values: list[float] = field(default_factory=list)  # their p-values against chance
    reached_chance: bool = True  # False: stopped at max_directions with the probe above chance


def _orthonormal_rows(matrix: np.ndarray, rtol: float = 1e-8) -> np.ndarray:
    """An orthonormal basis (columns) of the span of ``matrix``'s rows."""
    _, singular, vt = np.linalg.svd(matrix, full_matrices=False)
    if not singular.size or singular.max() <= 0:
        return np.zeros((matrix.shape[1], 0))
    return vt[singular > rtol * singular.max()].T


def iterative_nullspace_projection(
    values: np.ndarray, labels: np.ndarray, *, folds: int = 5, regularisation: float = 1.0,
    max_iter: int = 2000, seed: int = 0, alpha: float = CHANCE_ALPHA,
    max_directions: int | None = None, balanced: bool = False, solver: Solver = "logistic",
) -> InlpResult:
    """INLP: while the cross-validated probe's accuracy is above chance (one-sided exact binomial
    test against the majority rate at ``alpha``), fit the probe on every image and project the
    span of its weight rows out of the values (centred rows for a multinomial probe: the softmax
    ignores their common part, so at most classes - 1 directions per step; one for two classes).
    ``balanced`` (two classes, e.g. one class against the rest): class-weighted probes, at
    chance when Fisher's exact test finds their predictions independent of the labels.
    Returns how many directions were removed when the probe first read at chance."""
    with _one_blas_thread():
        return _inlp(np.asarray(values, dtype=np.float64), np.asarray(labels, dtype=np.int64),
                     folds, regularisation, max_iter, seed, alpha, max_directions, balanced,
                     solver)


def _inlp(values: np.ndarray, labels: np.ndarray, folds: int, regularisation: float,
          max_iter: int, seed: int, alpha: float, max_directions: int | None, balanced: bool,
          solver: Solver) -> InlpResult:
    limit = values.shape[1] if max_directions is None else min(max_directions, values.shape[1])
    projected = values.copy()
    removed = np.zeros((values.shape[1], 0))
    result_accuracies: list[float] = []
    result_p: list[float] = []
    while True:
        probe = cross_validated_probe(projected, labels, folds=folds,
                                      regularisation=regularisation, max_iter=max_iter, seed=seed,
                                      balanced=balanced, solver=solver)
        result_accuracies.append(probe.accuracy)
        result_p.append(probe.p_value)
        if probe.p_value >= alpha:
            return InlpResult(removed.shape[1], len(result_accuracies) - 1, result_accuracies,
                              result_p)
        if removed.shape[1] >= limit:
            return InlpResult(removed.shape[1], len(result_accuracies) - 1, result_accuracies,
                              result_p, reached_chance=False)
        mean, scale = isotropic_scaling(projected)
        model = linear_classifier(solver, regularisation, max_iter, seed, balanced)
        model.fit((projected - mean) / scale, labels)
        coef = np.atleast_2d(model.coef_)  # a two-class ridge classifier's is one row, 1-d
        weights = coef - coef.mean(axis=0) if coef.shape[0] > 1 else coef
        new = _orthonormal_rows(weights - (weights @ removed) @ removed.T)
        if new.shape[1] == 0:  # the probe found nothing new to remove
            return InlpResult(removed.shape[1], len(result_accuracies), result_accuracies,
                              result_p, reached_chance=False)
        removed = np.hstack([removed, new])
        projected = values - (values @ removed) @ removed.T
