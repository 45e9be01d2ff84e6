"""The carried reading's invariances (maths.null_semantics), as properties over random worlds."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from singaudit.maths import null_semantics as ns
from singaudit.maths.equivalence import choose_null_reference
from singaudit.maths.geometry import head_geometry

seeds = st.integers(0, 2**16)


def world(seed, n=120, d=5, k=4):
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, d)) * rng.uniform(0.5, 2.0, size=d)
    y = z @ rng.normal(size=(d, k)) + 0.5 * rng.normal(size=(n, k)) + rng.normal(size=k)
    return z, y, rng


def fitted(z, y, z_new):
    return ns.fit_null_translator(z[:90], y[:90], z[90:], y[90:])(z_new)


def orthogonal(rng, d):
    q, r = np.linalg.qr(rng.normal(size=(d, d)))
    return q * np.sign(np.diag(r))


@settings(max_examples=25, deadline=None)
@given(seeds, st.floats(1e-3, 1e3))
def test_predictions_ignore_rotation_scale_offset_and_zero_columns(seed, scale):
    z, y, rng = world(seed)
    base = fitted(z, y, z)
    rotation, offset = orthogonal(rng, z.shape[1]), rng.normal(size=z.shape[1]) * 10
    for moved in (z @ rotation, scale * z, z + offset,
                  np.hstack([z, np.zeros((len(z), 3))])):
        assert np.allclose(fitted(moved, y, moved), base, atol=1e-6 * np.abs(base).max())


@settings(max_examples=25, deadline=None)
@given(seeds)
def test_unique_content_ignores_invertible_maps_of_the_row_coordinates(seed):
    rng = np.random.default_rng(seed)
    row = rng.normal(size=(80, 3))
    z = row @ rng.normal(size=(3, 4)) + rng.normal(size=(80, 4))
    base = ns.unique_null_content(z, row, z, row)
    mixing = orthogonal(rng, 3) @ np.diag([0.1, 1.0, 10.0])
    assert np.allclose(ns.unique_null_content(z, row @ mixing, z, row @ mixing), base, atol=1e-8)
    # Content that is an exact affine function of the row space leaves nothing unique.
    exact = row @ rng.normal(size=(3, 4)) + 2.0
    assert np.allclose(ns.unique_null_content(exact, row, exact, row), 0.0, atol=1e-8)


@settings(max_examples=25, deadline=None)
@given(seeds)
def test_class_evidence_ignores_what_moves_every_prompt_or_every_image(seed):
    rng = np.random.default_rng(seed)
    angles = rng.uniform(40, 100, size=(60, 4))
    labels = np.repeat(np.arange(4), 15)
    centred = angles - angles.mean(1, keepdims=True)
    base = ns.class_contrast(centred, labels)
    per_image = rng.normal(size=(60, 1)) * 5  # a drift common to every prompt of an image
    drifted = angles + per_image
    assert np.allclose(ns.class_contrast(drifted - drifted.mean(1, keepdims=True), labels), base)
    assert not np.allclose(ns.class_contrast(drifted, labels), ns.class_contrast(angles, labels))
    per_prompt = rng.normal(size=(1, 4)) * 5  # a prompt every image sees alike
    assert np.allclose(ns.class_contrast(angles + per_prompt, labels),
                       ns.class_contrast(angles, labels))
    # Relabelling the classes consistently permutes nothing per image.
    order = rng.permutation(4)
    assert np.allclose(ns.class_contrast(angles[:, np.argsort(order)], order[labels]),
                       ns.class_contrast(angles, labels))


def test_class_evidence_points_to_the_class_that_is_there():
    rng = np.random.default_rng(0)
    texts = np.eye(4)
    labels = np.repeat(np.arange(4), 20)
    translations = 0.3 * texts[labels] + rng.normal(size=(80, 4)) * 0.05 + 1.0
    evidence = ns.class_evidence(translations, texts, labels)
    assert (evidence > 0).mean() > 0.95
    # Angles only: rescaling each translation by a positive number changes nothing.
    scales = rng.uniform(0.1, 10, size=(80, 1))
    assert np.allclose(ns.class_evidence(scales * translations, texts, labels), evidence)
    labels_unlabelled = labels.copy()
    labels_unlabelled[:5] = -1
    assert np.isnan(ns.class_evidence(translations, texts, labels_unlabelled)[:5]).all()
    # No class information: translations that ignore the class give medians near zero.
    flat = rng.normal(size=(80, 4)) * 0.05 + 1.0
    medians = [np.median(ns.class_evidence(flat, texts, labels)[labels == k]) for k in range(4)]
    assert max(abs(m) for m in medians) < 0.2 * np.median(evidence)


def test_cross_fitted_rows_are_predicted_by_fits_that_never_saw_them():
    z, y, _ = world(3, n=50)
    base = ns.cross_fitted_translations(z, y, folds=5, seed=0)
    changed = y.copy()
    changed[7] += 100.0  # only row 7's target: its own prediction must not move
    assert np.allclose(ns.cross_fitted_translations(z, changed, folds=5, seed=0)[7], base[7])


def test_the_null_reference_policy_prefers_the_recorded_mean():
    geometry = head_geometry(torch.tensor([[1.0, 0.0, 0.0]]))
    rows = torch.tensor([[0.0, 2.0, 4.0], [2.0, 4.0, 6.0]])
    recorded = {"mean": [9.0, 9.0, 9.0], "fit_set": "the 5 fit images"}
    chosen = choose_null_reference("mean", geometry, recorded=recorded, fit_rows=lambda: rows)
    assert chosen.vector.tolist() == [9.0, 9.0, 9.0] and "recorded" in chosen.description
    from_fit = choose_null_reference("mean", geometry, fit_rows=lambda: rows)
    assert from_fit.vector.tolist() == [1.0, 3.0, 5.0] and "translator-fit" in from_fit.description
    fallback = choose_null_reference("mean", geometry, fit_rows=lambda: None, fallback_rows=rows)
    assert "audit images" in fallback.description
    assert choose_null_reference("mean", geometry).vector is None
    assert choose_null_reference("zero", geometry, recorded=recorded).vector is None
    with pytest.raises(ValueError, match="recorded fit mean has 2 values"):
        choose_null_reference("mean", geometry, recorded={"mean": [1.0, 2.0]})


@settings(max_examples=30, deadline=None)
@given(seed=seeds, scale=st.floats(0.1, 10.0))
def test_the_share_is_evidence_over_the_class_median_contrast(seed, scale):
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(3), 20)
    contrast = rng.normal(loc=[2.0, 8.0, 0.2], scale=1.0, size=(20, 3)).T.ravel()
    evidence = rng.normal(size=60) * 3
    share, denominators = ns.share_of_joint_contrast(evidence, contrast, labels)
    for k in (0, 1):
        own = labels == k
        assert denominators[k] == pytest.approx(np.median(contrast[own]))
        if denominators[k] >= ns.MIN_JOINT_CONTRAST:
            assert np.allclose(share[own], evidence[own] / denominators[k])
    # A unit of angle cancels: both readings scaled alike leave every share where it was.
    scaled, _ = ns.share_of_joint_contrast(scale * evidence, scale * contrast, labels,
                                           floor=scale * ns.MIN_JOINT_CONTRAST)
    assert np.allclose(scaled, share, equal_nan=True)


def test_a_class_the_joint_space_barely_separates_gets_no_share():
    labels = np.array([0] * 10 + [1] * 10 + [-1] * 3)
    contrast = np.r_[np.full(10, 6.0), np.full(10, 0.2), np.zeros(3)]
    evidence = np.ones(23)
    share, denominators = ns.share_of_joint_contrast(evidence, contrast, labels)
    assert np.allclose(share[:10], 1 / 6)
    assert np.isnan(share[10:]).all()  # class 1 under the floor, and unlabelled rows
    assert denominators.tolist() == pytest.approx([6.0, 0.2])
