"""IS, AS, the model ratio and the statistics, against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.special
import torch

from singaudit.errors import SpecError
from singaudit.maths.scores import (
    angle,
    attribute_score,
    concept_attribute_scores,
    ensemble_text,
    evidence_change,
    image_score,
    model_ratio,
)
from singaudit.maths.stats import bootstrap_ci, is_statistic_name, statistic, summarize


def test_angle_hand_values_broadcasting_and_clamping():
    u = torch.tensor([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0], [2.0, 2.0]])
    v = torch.tensor([[0.0, 3.0], [1.0, 1.0], [-5.0, 0.0], [1.0, 1.0]])
    torch.testing.assert_close(angle(u, v), torch.tensor([90.0, 45.0, 180.0, 0.0]))
    torch.testing.assert_close(
        angle(u, torch.tensor([0.0, 1.0])), torch.tensor([90.0, 90.0, 90.0, 45.0])
    )
    nearly_parallel = torch.tensor([[0.1, 0.2, 0.3]], dtype=torch.float64)
    assert not torch.isnan(angle(nearly_parallel, nearly_parallel * 3.0)).any()
    assert angle(nearly_parallel, nearly_parallel * 3.0).item() < 1e-5


def test_angle_with_a_zero_vector_is_nan_and_numpy_stays_numpy():
    result = angle(
        np.array([[0.0, 0.0], [1.0, 0.0]], dtype=np.float32), np.array([1.0, 1.0], dtype=np.float32)
    )
    assert isinstance(result, np.ndarray) and result.dtype == np.float32
    assert math.isnan(result[0]) and result[1] == pytest.approx(45.0)


def test_attribute_score_sign_convention():
    t_orig = torch.tensor([[1.0, 0.0]])
    t_eq = torch.tensor([[1.0, 1.0]])
    text = torch.tensor([0.0, 1.0])
    # The equivalent feature is 45 degrees closer to the concept: positive AS.
    torch.testing.assert_close(attribute_score(t_orig, t_eq, text), torch.tensor([45.0]))
    torch.testing.assert_close(attribute_score(t_eq, t_orig, text), torch.tensor([-45.0]))
    torch.testing.assert_close(image_score(t_orig, t_eq), torch.tensor([45.0]))
    per_row_text = torch.tensor([[1.0, 0.0]])
    torch.testing.assert_close(attribute_score(t_orig, t_eq, per_row_text), torch.tensor([-45.0]))


def test_concept_attribute_scores_matrix():
    generator = torch.Generator().manual_seed(0)
    t_orig, t_eq = torch.randn(4, 6, generator=generator), torch.randn(4, 6, generator=generator)
    texts = torch.randn(3, 6, generator=generator)
    matrix = concept_attribute_scores(t_orig, t_eq, texts)
    assert matrix.shape == (4, 3)
    for j in range(3):
        torch.testing.assert_close(matrix[:, j], attribute_score(t_orig, t_eq, texts[j]))


def test_model_ratio_hand_values_and_edge_cases():
    assert model_ratio([10.0, 20.0, 30.0], [-1.0, 2.0, -3.0]) == pytest.approx(10.0)
    assert model_ratio(np.array([10.0, np.nan, 30.0]), np.array([-4.0, np.nan])) == pytest.approx(
        5.0
    )
    assert model_ratio([5.0], [0.0]) == math.inf
    assert math.isnan(model_ratio([0.0], [0.0]))
    assert math.isnan(model_ratio([], [1.0]))
    assert math.isnan(model_ratio([np.nan], [1.0]))
    assert model_ratio(torch.tensor([4.0, 6.0]), torch.tensor([1.0, -1.0])) == pytest.approx(5.0)


def test_ensemble_text_is_the_renormalised_mean_of_unit_rows():
    embeddings = torch.tensor([[2.0, 0.0], [0.0, 3.0]])
    torch.testing.assert_close(ensemble_text(embeddings), torch.tensor([1.0, 1.0]) / math.sqrt(2.0))
    batched = torch.stack([embeddings, embeddings.flip(0)])
    assert ensemble_text(batched).shape == (2, 2)


def test_summarize_known_values_and_ci():
    values = np.arange(1.0, 102.0)  # 1..101, median 51
    summary = summarize(values, n_boot=500, seed=3)
    assert summary.n == 101 and summary.median == 51.0 and summary.mean == 51.0
    assert summary.min == 1.0 and summary.max == 101.0
    assert summary.q05 == pytest.approx(6.0) and summary.q95 == pytest.approx(96.0)
    assert summary.q25 == pytest.approx(26.0) and summary.q75 == pytest.approx(76.0)
    assert summary.std == pytest.approx(np.std(values, ddof=1))
    assert summary.ci_low < 51.0 < summary.ci_high
    assert 35.0 < summary.ci_low and summary.ci_high < 67.0
    assert summarize(values, n_boot=500, seed=3) == summary  # seeded
    assert set(summary.as_dict()) >= {"n", "median", "ci_low", "ci_high", "q95"}


def test_summarize_drops_nan_and_handles_tiny_inputs():
    summary = summarize([np.nan, 2.0, np.nan, 4.0])
    assert summary.n == 2 and summary.median == 3.0
    single = summarize([7.0])
    assert (single.n, single.median, single.ci_low, single.ci_high, single.std) == (
        1,
        7.0,
        7.0,
        7.0,
        0.0,
    )
    empty = summarize([])
    assert empty.n == 0 and math.isnan(empty.median) and math.isnan(empty.ci_low)


def test_bootstrap_ci_of_the_mean_brackets_it():
    rng = np.random.default_rng(0)
    values = rng.normal(loc=2.0, size=400)
    low, high = bootstrap_ci(values, np.mean, ci=0.9, n_boot=400, seed=1)
    assert low < values.mean() < high
    assert high - low < 0.4  # about 2 * 1.645 / sqrt(400) = 0.16


def test_named_statistics():
    values = np.array([1.0, 2.0, 3.0, 4.0, np.nan])
    assert statistic(values, "median") == 2.5
    assert statistic(values, "mean") == 2.5
    assert statistic(values, "max") == 4.0 and statistic(values, "min") == 1.0
    assert statistic(values, "std") == pytest.approx(np.std([1, 2, 3, 4], ddof=1))
    assert statistic(values, "q90") == pytest.approx(3.7)
    assert statistic(values, "q05") == pytest.approx(1.15)
    assert statistic(values, "fraction_within", bound=2.0) == 0.5
    assert math.isnan(statistic([np.nan], "median"))
    assert statistic(torch.tensor([1.0, 3.0]), "mean") == 2.0


def test_unknown_statistics_are_spec_errors():
    with pytest.raises(SpecError, match="unknown statistic 'average'; available: median"):
        statistic([1.0], "average")
    with pytest.raises(SpecError, match="needs a bound"):
        statistic([1.0], "fraction_within")
    with pytest.raises(SpecError):
        statistic([1.0], "q101")
    assert is_statistic_name("q95") and is_statistic_name("fraction_within")
    assert not is_statistic_name("q") and not is_statistic_name("avg")


def test_concept_matrix_handles_large_vocabularies_without_a_cube():
    generator = torch.Generator().manual_seed(1)
    t_orig, t_eq = (
        torch.randn(300, 64, generator=generator),
        torch.randn(300, 64, generator=generator),
    )
    texts = torch.randn(2000, 64, generator=generator)
    matrix = concept_attribute_scores(t_orig.numpy(), t_eq.numpy(), texts.numpy())
    assert (
        isinstance(matrix, np.ndarray)
        and matrix.shape == (300, 2000)
        and matrix.dtype == np.float32
    )
    np.testing.assert_allclose(
        matrix[:, 7], attribute_score(t_orig, t_eq, texts[7]).numpy(), atol=1e-4
    )


def _reference_log_softmax_of_cosines(rows: np.ndarray, texts: np.ndarray, scale: float):
    cosines = np.array([[r @ t / (np.linalg.norm(r) * np.linalg.norm(t)) for t in texts]
                        for r in rows])
    return scipy.special.log_softmax(scale * cosines, axis=1)


def test_evidence_change_against_a_row_by_row_reference():
    """Rows, prompts and dimensions of different sizes and norms (mutation testing found the
    square, unit-norm example blind to normalising along the wrong axis and to the scale)."""
    rng = np.random.default_rng(3)
    t_orig, t_eq = rng.normal(size=(6, 5)) * 3, rng.normal(size=(6, 5)) * 0.5
    texts = rng.normal(size=(4, 5)) * rng.uniform(0.5, 4, size=(4, 1))
    labels = np.array([0, 3, 1, 2, -1, 3], dtype=np.int32)
    change = evidence_change(torch.tensor(t_orig), torch.tensor(t_eq), torch.tensor(texts),
                             labels)  # default logit scale: CLIP's 100
    before = _reference_log_softmax_of_cosines(t_orig, texts, 100.0)
    after = _reference_log_softmax_of_cosines(t_eq, texts, 100.0)
    expected = [before[i, k] - after[i, k] if k >= 0 else np.nan for i, k in enumerate(labels)]
    np.testing.assert_allclose(change.numpy(), expected, rtol=1e-9, atol=1e-9)


def test_ensemble_text_against_a_row_by_row_reference():
    rng = np.random.default_rng(4)
    embeddings = rng.normal(size=(2, 3, 5)) * rng.uniform(0.5, 4, size=(2, 3, 1))
    result = ensemble_text(torch.tensor(embeddings))
    assert result.shape == (2, 5)
    for batch in range(2):
        mean = np.mean([e / np.linalg.norm(e) for e in embeddings[batch]], axis=0)
        np.testing.assert_allclose(result[batch].numpy(), mean / np.linalg.norm(mean), rtol=1e-12)


def test_summarize_passes_its_interval_settings_on_and_its_empty_summary_is_all_nan():
    values = np.random.default_rng(4).normal(size=60)
    summary = summarize(values, ci=0.5, n_boot=40, seed=3)
    assert (summary.ci_low, summary.ci_high) == bootstrap_ci(values, np.median, ci=0.5, n_boot=40,
                                                             seed=3)
    assert summary.ci_high - summary.ci_low < np.subtract(
        *reversed(bootstrap_ci(values, np.median, ci=0.95, n_boot=40, seed=3)))
    assert summarize(values, ci=0.5, n_boot=40, seed=4) != summary
    assert summarize([1.0, 4.0]).std == pytest.approx(np.std([1.0, 4.0], ddof=1))
    empty = summarize([])
    assert all(math.isnan(v) for k, v in empty.as_dict().items() if k != "n")


def test_bootstrap_ci_defaults_constant_samples_and_two_values():
    values = np.random.default_rng(5).normal(size=50)
    assert bootstrap_ci(values) == bootstrap_ci(values, np.median, ci=0.95, n_boot=1000, seed=0)
    assert bootstrap_ci([2.0, 2.0, 2.0]) == (2.0, 2.0)  # no spread: a zero-width interval
    low, high = bootstrap_ci([1.0, 3.0], np.mean, n_boot=200)
    assert low < high


def test_bootstrap_ci_matches_an_independent_percentile_bootstrap():
    # The percentile interval of resampled medians, drawn here with NumPy (20,000 resamples).
    rng = np.random.default_rng(6)
    values = rng.normal(size=81)
    medians = np.median(values[rng.integers(0, values.size, (20_000, values.size))], axis=1)
    expected = np.quantile(medians, [0.05, 0.95])
    np.testing.assert_allclose(bootstrap_ci(values, np.median, ci=0.9, n_boot=4000, seed=1),
                               expected, atol=0.03)
    low, high = bootstrap_ci(values, np.median, ci=0.9, n_boot=20, seed=1)
    assert (low, high) != bootstrap_ci(values, np.median, ci=0.9, n_boot=4000, seed=1)


def test_statistic_of_one_value_and_of_gradient_tracking_bfloat16_tensors():
    assert statistic([2.0], "median") == 2.0 and statistic([np.nan, 5.0], "max") == 5.0
    values = torch.tensor([1.0, 2.0, 4.0], dtype=torch.bfloat16, requires_grad=True)
    assert statistic(values, "mean") == pytest.approx(7.0 / 3.0)
    assert summarize(values, n_boot=20).median == 2.0
