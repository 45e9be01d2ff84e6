"""What the null-space component says on its own, in the joint space (the "carried" reading).

A null-only translator T_n maps the null coordinates z = V_n^T (f - mu) (mu: the reference mean,
normally the translator-fit mean) to joint-space image embeddings: ridge with an intercept, its
penalty chosen on held-out rows from a grid relative to trace(Z^T Z). It never sees the row space,
so any logit-preserving reparametrization of the row space leaves it unchanged; ridge is rotation
invariant, the relative grid makes it scale invariant, and the intercept absorbs constant offsets.

``class_contrast`` then asks, per image of class k, how much closer T_n(z) points to class k's
prompt than it does on the other classes' images (degrees; positive: the null component alone
points toward the image's class). The joint space separates some classes by far fewer degrees
than others (a prompt near the mean image embedding moves little), so ``share_of_joint_contrast``
divides by the same reading of the images' own joint embeddings, class by class: the share of the
class contrast the joint space sees in the images that the null component alone reproduces.
``unique_null_content`` removes from z its best linear prediction from the row-space coordinates:
what the null space adds beyond the head's inputs. Pure functions on float64 numpy arrays.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

# Ridge penalties as multiples of trace of the centred Z^T Z (appended zero dims leave it as is).
TRACE_ALPHAS = tuple(float(a) for a in np.logspace(-7, 1, 25))
# A class whose own images the joint space separates by less than this (median contrast, degrees)
# gets no share: a ratio to next to nothing would be noise.
MIN_JOINT_CONTRAST = 0.5


@dataclass(frozen=True)
class NullTranslator:
    """T_n(z) = z @ weight + bias: weight (d, k), bias (k,); ``alpha`` relative to the trace."""

    weight: np.ndarray
    bias: np.ndarray
    relative_alpha: float

    def __call__(self, coordinates: Any) -> np.ndarray:
        return _f64(coordinates) @ self.weight + self.bias


def null_content(features: Any, null_basis: Any, mean: Any) -> np.ndarray:
    """z = V_n^T (f - mu) per row: (n, m), (m, d), (m,) -> (n, d)."""
    return (_f64(features) - _f64(mean).reshape(1, -1)) @ _f64(null_basis)


def unique_null_content(z: Any, row: Any, z_fit: Any, row_fit: Any) -> np.ndarray:
    """z minus its least-squares prediction from the row-space coordinates (with an intercept),
    the regression fitted on (row_fit, z_fit): what the null space holds beyond the head's input.
    Invariant to any invertible linear map of the row coordinates."""
    design_fit = _with_intercept(row_fit)
    coefficients = np.linalg.lstsq(design_fit, _f64(z_fit), rcond=None)[0]
    return _f64(z) - _with_intercept(row) @ coefficients


def _ridge_path(z: np.ndarray, y: np.ndarray, alphas: tuple[float, ...]):
    """Ridge solutions for each relative penalty from one eigendecomposition of the centred
    Gram matrix: yields NullTranslator per alpha."""
    z_mean, y_mean = z.mean(0), y.mean(0)
    zc = z - z_mean
    values, vectors = np.linalg.eigh(zc.T @ zc)
    values = np.maximum(values, 0.0)
    rotated = vectors.T @ (zc.T @ (y - y_mean))
    trace = max(float(values.sum()), np.finfo(np.float64).tiny)
    for relative in alphas:
        weight = vectors @ (rotated / (values + relative * trace)[:, None])
        yield NullTranslator(weight, y_mean - z_mean @ weight, relative)


def fit_null_translator(z_train: Any, y_train: Any, z_select: Any, y_select: Any,
                        alphas: tuple[float, ...] = TRACE_ALPHAS) -> NullTranslator:
    """Ridge T_n: the relative penalty with the lowest squared error on the selection rows, then
    refitted on train and selection rows together (as the audit's linear translator)."""
    z_train, y_train, z_select, y_select = map(_f64, (z_train, y_train, z_select, y_select))
    if len(z_train) < 2 or len(z_select) < 1:
        raise ValueError("a null-only translator needs >= 2 train rows and >= 1 selection row")
    errors = [float(((t(z_select) - y_select) ** 2).sum())
              for t in _ridge_path(z_train, y_train, alphas)]
    best = alphas[int(np.argmin(errors))]
    return next(_ridge_path(np.vstack([z_train, z_select]), np.vstack([y_train, y_select]),
                            (best,)))


def fit_null_translator_split(z: Any, y: Any, *, select_fraction: float = 0.2, seed: int = 0
                              ) -> NullTranslator:
    """``fit_null_translator`` on rows split at random (seeded) into train and selection."""
    z, y = _f64(z), _f64(y)
    order = np.random.default_rng(seed).permutation(len(z))
    n_select = min(max(1, round(len(z) * select_fraction)), len(z) - 2)
    select, train = order[:n_select], order[n_select:]
    return fit_null_translator(z[train], y[train], z[select], y[select])


def cross_fitted_translations(z: Any, y: Any, *, folds: int = 5, seed: int = 0) -> np.ndarray:
    """T_n(z_i) for every row, each from a null-only translator fitted without row i (k folds;
    the penalty chosen on one other fold): for audits whose translator came without fit data."""
    z, y = _f64(z), _f64(y)
    n = len(z)
    folds = max(3, min(folds, n))  # train, selection and the predicted fold must be disjoint
    order = np.random.default_rng(seed).permutation(n)
    parts = np.array_split(order, folds)
    out = np.empty((n, y.shape[1]))
    for index, held in enumerate(parts):
        select = parts[(index + 1) % folds]
        train = np.setdiff1d(order, np.concatenate([held, select]))
        out[held] = fit_null_translator(z[train], y[train], z[select], y[select])(z[held])
    return out


def angles_to(embeddings: Any, texts: Any) -> np.ndarray:
    """Angle in degrees between every row of ``embeddings`` (n, k) and every text (c, k)."""
    e, t = _f64(embeddings), _f64(texts)
    e = e / np.maximum(np.linalg.norm(e, axis=1, keepdims=True), np.finfo(np.float64).tiny)
    t = t / np.maximum(np.linalg.norm(t, axis=1, keepdims=True), np.finfo(np.float64).tiny)
    return np.degrees(np.arccos(np.clip(e @ t.T, -1.0, 1.0)))


def class_evidence(translations: Any, texts: Any, labels: Any) -> np.ndarray:
    """The carried reading per image (degrees): each image's angles to the class prompts, centred
    on their mean over the prompts (what moves every prompt alike cancels), then contrasted over
    images (``class_contrast``). Positive: the translation points toward its own class's prompt,
    relative to the other prompts, more than the other classes' images do."""
    angles = angles_to(translations, texts)
    return class_contrast(angles - angles.mean(axis=1, keepdims=True), labels)


def class_contrast(angles: Any, labels: Any) -> np.ndarray:
    """Per image of class k: median over other classes' images of their angle to prompt k, minus
    this image's angle to prompt k (degrees, (n, c), (n,) -> (n,)). Positive: it points toward
    its class's prompt more than images of other classes do. NaN for unlabelled rows (label < 0)
    and for classes with no other-class images."""
    angles, labels = _f64(angles), np.asarray(labels, dtype=np.int64)
    result = np.full(len(labels), np.nan)
    labelled = labels >= 0
    for k in np.unique(labels[labelled]):
        own, others = labels == k, labelled & (labels != k)
        if others.any():
            result[own] = np.median(angles[others, k]) - angles[own, k]
    return result


def joint_contrast(embeddings: Any, texts: Any, labels: Any) -> np.ndarray:
    """``class_evidence`` of the images' own joint-space embeddings (degrees per image): how far
    the joint space itself points each image toward its class's prompt. Its per-class median is
    what a null component that reproduced the embeddings would read."""
    return class_evidence(embeddings, texts, labels)


def share_of_joint_contrast(evidence: Any, contrast: Any, labels: Any, *,
                            floor: float = MIN_JOINT_CONTRAST) -> tuple[np.ndarray, np.ndarray]:
    """Per image of class k: ``evidence`` over the median of ``contrast`` on class k's images
    (both from ``class_evidence``; 1: the null component points its images toward their prompt
    as far as their own embeddings do). Returns (share per image, the denominator per class
    index 0..max label); NaN for unlabelled rows and for classes whose denominator is under
    ``floor`` degrees."""
    evidence, contrast = _f64(evidence), _f64(contrast)
    labels = np.asarray(labels, dtype=np.int64)
    classes = int(labels.max()) + 1 if labels.size and labels.max() >= 0 else 0
    denominators = np.full(classes, np.nan)
    for k in range(classes):
        own = contrast[labels == k]
        own = own[np.isfinite(own)]
        if own.size:
            denominators[k] = float(np.median(own))
    share = np.full(len(labels), np.nan)
    labelled = labels >= 0
    usable = np.zeros(len(labels), dtype=bool)
    usable[labelled] = denominators[labels[labelled]] >= floor
    share[usable] = evidence[usable] / denominators[labels[usable]]
    return share, denominators


def _with_intercept(rows: Any) -> np.ndarray:
    rows = _f64(rows)
    return np.hstack([rows, np.ones((len(rows), 1))])


def _f64(values: Any) -> np.ndarray:
    if hasattr(values, "detach"):  # a torch tensor, without importing torch here
        values = values.detach().cpu().double().numpy()
    return np.asarray(values, dtype=np.float64)
