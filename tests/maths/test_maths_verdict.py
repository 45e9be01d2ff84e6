"""The null reference (zero | mean), the class-specific leak metrics and the null-space probe."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from singaudit.errors import NotApplicable
from singaudit.maths.equivalence import null_reference, remove_null
from singaudit.maths.geometry import head_geometry
from singaudit.maths.probe import cross_validated_probe, null_coordinates
from singaudit.maths.scores import (
    evidence_change,
    prompt_contrast,
    prompt_leaks,
    specific_leak,
)


@st.composite
def head_and_features(draw):
    """A rank-deficient head W (c, m) with c < m, features and a (non-centred) reference set."""
    classes = draw(st.integers(1, 8))
    dim = draw(st.integers(classes + 1, 24))
    seed = draw(st.integers(0, 2**16))
    scale = draw(st.sampled_from([1e-2, 1.0, 1e3]))
    generator = torch.Generator().manual_seed(seed)
    weight = torch.randn(classes, dim, generator=generator, dtype=torch.float64)
    features = scale * torch.randn(draw(st.integers(1, 12)), dim, generator=generator,
                                   dtype=torch.float64)
    reference = scale * (torch.rand(draw(st.integers(1, 12)), dim, generator=generator,
                                    dtype=torch.float64) + 3.0)
    return weight, features, reference


@settings(max_examples=60, deadline=None)
@given(head_and_features(), st.sampled_from(["zero", "mean"]))
def test_either_null_removal_keeps_the_logits_and_sets_the_null_content(case, removal):
    weight, features, reference_rows = case
    geometry = head_geometry(weight)
    reference = null_reference(removal, geometry, reference_rows)
    equivalent = remove_null(features, geometry, reference)
    size = features.abs().max() + reference_rows.abs().max()
    tolerance = 1e-9 * float(size) * float(weight.abs().max()) * weight.shape[1]
    assert torch.allclose(equivalent @ weight.T, features @ weight.T, rtol=0, atol=tolerance)
    assert torch.allclose(geometry.project_principal(equivalent),
                          geometry.project_principal(features), atol=1e-9 * float(size))
    expected_null = (torch.zeros(weight.shape[1], dtype=torch.float64) if removal == "zero"
                     else geometry.project_null(reference_rows.mean(0, keepdim=True))[0])
    assert torch.allclose(geometry.project_null(equivalent),
                          expected_null.expand_as(features), atol=1e-9 * float(size))


@settings(max_examples=40, deadline=None)
@given(head_and_features(), st.integers(0, 2**16))
def test_mean_removal_ignores_a_constant_added_inside_the_null_space(case, seed):
    # Shifting every feature (and the reference images) by c in span(V_n) shifts f_eq by c too:
    # what null removal takes away, f - f_eq, is unchanged (a zero reference would take c too).
    weight, features, reference_rows = case
    geometry = head_geometry(weight)
    generator = torch.Generator().manual_seed(seed)
    offset = geometry.project_null(10 * torch.randn(1, weight.shape[1], generator=generator,
                                                    dtype=torch.float64))
    before = remove_null(features, geometry, null_reference("mean", geometry, reference_rows))
    after = remove_null(features + offset, geometry,
                        null_reference("mean", geometry, reference_rows + offset))
    size = float(features.abs().max() + reference_rows.abs().max() + offset.abs().max())
    assert torch.allclose(features + offset - after, features - before, atol=1e-9 * size)


def test_the_reference_is_checked_and_zero_needs_none():
    geometry = head_geometry(torch.eye(2, 4, dtype=torch.float64))
    assert null_reference("zero", geometry, torch.ones(3, 4)) is None
    assert torch.equal(null_reference("mean", geometry, torch.tensor([[1.0, 2, 3, 4],
                                                                      [3.0, 2, 1, 0]])),
                       torch.tensor([2.0, 2, 2, 2], dtype=torch.float64))
    with pytest.raises(ValueError, match="null removal must be one of"):
        null_reference("median", geometry, torch.ones(3, 4))
    with pytest.raises(ValueError, match=r"\(n >= 1, 4\)"):
        null_reference("mean", geometry, torch.ones(3, 5))
    # numpy in, numpy out, as the other equivalence functions.
    out = remove_null(np.ones((2, 4), dtype=np.float32), geometry, np.zeros(4))
    assert isinstance(out, np.ndarray) and out.dtype == np.float32
    assert np.allclose(out, [[1, 1, 0, 0]] * 2)


@settings(max_examples=60, deadline=None)
@given(st.integers(2, 6), st.integers(0, 2**16), st.floats(-40, 40), st.floats(-40, 40))
def test_specific_leak_cancels_any_shift_common_to_all_images(classes, seed, drift, other):
    # A drift of T(f_eq) that moves every image's angle to prompt k by the same amount d_k
    # (e.g. a constant removed from the null space) shifts column k of the leak matrix.
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(classes), 5)
    leaks = rng.normal(size=(len(labels), classes))
    shift = np.array([drift] + [other] * (classes - 1))
    before = specific_leak(leaks, labels)
    after = specific_leak(leaks + shift, labels)
    assert np.allclose(after, before, atol=1e-9)
    own = leaks[np.arange(len(labels)), labels]
    assert np.allclose((leaks + shift)[np.arange(len(labels)), labels] - own, shift[labels])


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 6), st.integers(0, 2**16))
def test_prompt_contrast_cancels_a_shift_common_to_all_prompts(classes, seed):
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(classes), 4)
    leaks = rng.normal(size=(len(labels), classes))
    per_image = rng.normal(size=(len(labels), 1)) * 30
    assert np.allclose(prompt_contrast(leaks + per_image, labels), prompt_contrast(leaks, labels))


def test_on_planted_drift_only_features_the_specific_leak_is_zero_while_leak_is_large():
    # Embeddings: a class direction plus per-image nuisance; f_eq's translation = the same minus
    # one constant drift (nothing class-specific removed). leak is large, specific_leak ~ 0.
    rng = np.random.default_rng(0)
    classes, per_class, dim = 4, 40, 32
    prompts = rng.normal(size=(classes, dim))
    labels = np.repeat(np.arange(classes), per_class)
    original = 3 * prompts[labels] + rng.normal(size=(len(labels), dim))
    drift = -0.8 * prompts.sum(0)  # aimed away from every class prompt at once
    leaks = prompt_leaks(original, original + drift, prompts)
    own = leaks[np.arange(len(labels)), labels]
    specific = specific_leak(leaks, labels)
    assert np.median(own) > 10
    assert abs(np.median(specific)) < 0.15 * np.median(own)
    # The same images with a planted class-specific removal (class evidence in the null space).
    leaks = prompt_leaks(original, original - 2 * prompts[labels], prompts)
    assert np.median(specific_leak(leaks, labels)) > 10


def test_unlabelled_rows_and_lone_classes_are_nan():
    leaks = np.arange(12, dtype=float).reshape(4, 3)
    labels = np.array([0, 0, -1, 0])
    assert np.isnan(specific_leak(leaks, labels)).all()  # no other-class images to contrast with
    assert np.isnan(prompt_contrast(leaks, labels)[2])
    assert prompt_contrast(leaks, labels)[0] == pytest.approx(0 - (1 + 2) / 2)


def test_evidence_change_is_zero_without_removal_and_positive_when_evidence_is_lost():
    texts = torch.eye(3, 8, dtype=torch.float64)
    labels = torch.tensor([0, 1, 2, -1])
    original = texts[[0, 1, 2, 0]] + 0.3
    assert torch.allclose(evidence_change(original, original, texts, labels)[:3],
                          torch.zeros(3, dtype=torch.float64))
    moved = original.clone()
    moved[:3] -= 0.5 * texts  # away from the true class's prompt
    change = evidence_change(original, moved, texts, labels, logit_scale=5.0)
    assert (change[:3] > 0).all() and torch.isnan(change[3])


def test_the_null_probe_reads_a_planted_class_code_and_not_noise():
    rng = np.random.default_rng(0)
    classes, dim, n = 4, 12, 200
    labels = np.arange(n) % classes
    weight = np.hstack([np.eye(classes), np.zeros((classes, dim - classes))])  # reads block 1
    geometry = head_geometry(torch.tensor(weight))
    clean = rng.normal(size=(n, dim))
    clean[:, :classes] += 3 * np.eye(classes)[labels]  # class only where the head reads
    leaky = clean.copy()
    leaky[:, classes:2 * classes] += 3 * np.eye(classes)[labels]  # also in the null space
    clean_probe = cross_validated_probe(null_coordinates(clean, geometry), labels, seed=0)
    leaky_probe = cross_validated_probe(null_coordinates(leaky, geometry), labels, seed=0)
    assert null_coordinates(clean, geometry).shape == (n, dim - classes)
    assert clean_probe.chance == pytest.approx(0.25)
    assert clean_probe.accuracy < 0.4 and abs(clean_probe.lift) < 0.2
    assert leaky_probe.accuracy > 0.9 and leaky_probe.lift > 0.85
    assert all(leaky_probe.class_accuracy(k) > 0.8 for k in range(classes))
    # Disjoint folds: every image predicted exactly once, by a probe that never saw it.
    assert leaky_probe.predicted.shape == labels.shape and leaky_probe.folds == 5


def test_the_probe_needs_two_classes_with_two_images():
    with pytest.raises(NotApplicable, match="at least 2 classes"):
        cross_validated_probe(np.zeros((3, 2)), np.array([0, 0, 0]))
    with pytest.raises(NotApplicable, match="class counts"):
        cross_validated_probe(np.zeros((3, 2)), np.array([0, 0, 1]))


def test_the_probe_is_seeded_uses_its_settings_and_reads_chance_from_the_counts():
    rng = np.random.default_rng(1)
    labels = np.array([0] * 6 + [1] * 3 + [2] * 3)
    noise = rng.normal(size=(12, 3))
    probe = cross_validated_probe(noise, labels, seed=0)
    assert probe.chance == 0.5 and probe.folds == 3  # the smallest class has 3 images
    np.testing.assert_array_equal(cross_validated_probe(noise, labels, seed=0).predicted,
                                  probe.predicted)
    assert any(not np.array_equal(cross_validated_probe(noise, labels, seed=s).predicted,
                                  probe.predicted) for s in range(1, 6))
    assert cross_validated_probe(noise, labels, folds=2).folds == 2
    assert np.isnan(probe.class_accuracy(7))  # a label with no images
    # Almost no inverse regularisation: every weight ~0, so the majority class everywhere.
    separable = np.eye(3)[labels] * 5 + 0.1 * noise
    assert cross_validated_probe(separable, labels).accuracy == 1.0
    collapsed = cross_validated_probe(separable, labels, regularisation=1e-8)
    assert (collapsed.predicted == 0).all() and collapsed.lift == 0.0
