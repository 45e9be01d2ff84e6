"""Null-space steering with small real translators: target IS reached, logits untouched."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from singaudit.errors import NotApplicable
from singaudit.maths.geometry import head_geometry
from singaudit.maths.scores import angle
from singaudit.maths.steering import steer_toward
from singaudit.maths.translators import AffineTranslator, MLPTranslator, RidgeAccumulator

FEATURES, CLASSES, EMBED = 24, 6, 8


@pytest.fixture
def setting():
    generator = torch.Generator().manual_seed(0)
    weight = torch.randn(CLASSES, FEATURES, generator=generator)
    features = torch.relu(torch.randn(10, FEATURES, generator=generator)) + 0.1
    text = torch.randn(EMBED, generator=generator)
    return weight, features, text


def fitted_affine(features_dim: int, generator: torch.Generator) -> AffineTranslator:
    x = torch.randn(200, features_dim, generator=generator, dtype=torch.float64)
    y = x @ torch.randn(features_dim, EMBED, generator=generator, dtype=torch.float64) + 1.0
    return RidgeAccumulator(features_dim, EMBED).update(x, y).solve(1.0)


def translators():
    torch.manual_seed(1)
    return {
        "mlp3": MLPTranslator(FEATURES, EMBED, 32, depth=3).eval(),
        "affine": fitted_affine(FEATURES, torch.Generator().manual_seed(2)),
    }


@pytest.mark.parametrize("name", ["mlp3", "affine"])
@pytest.mark.parametrize("target", [10.0, 40.0])
def test_steering_reaches_the_target_and_keeps_logits(setting, name, target):
    weight, features, text = setting
    translator = translators()[name]
    geometry = head_geometry(weight)
    result = steer_toward(features, translator, text, geometry, target_is=target)
    # A random LayerNorm MLP saturates for some rows (IS tends to a limit below 40 degrees).
    assert result.converged.float().mean() >= (1.0 if name != "mlp3" or target < 20 else 0.8)
    converged = result.converged
    assert ((result.image_score[converged] - target).abs() <= 0.1).all()
    assert (result.image_score[~converged] < target - 0.1).all()
    assert result.features.dtype == torch.float32 and result.features.shape == features.shape
    logit_shift = torch.linalg.vector_norm((result.features - features) @ weight.T, dim=1)
    scale = torch.linalg.matrix_norm(weight, ord=2) * torch.linalg.vector_norm(features, dim=1)
    assert (logit_shift / scale <= 1e-5).all()
    step = (result.features - features).to(torch.float64)
    torch.testing.assert_close(geometry.project_null(step), step, rtol=0, atol=1e-5)
    torch.testing.assert_close(
        torch.linalg.vector_norm(step, dim=1), result.eps, rtol=1e-5, atol=1e-5
    )
    with torch.no_grad():
        t_orig, t_steered = translator(features).double(), translator(result.features).double()
    torch.testing.assert_close(result.image_score, angle(t_orig, t_steered), rtol=0, atol=1e-3)
    expected_as = angle(t_orig, text.double()) - angle(t_steered, text.double())
    torch.testing.assert_close(result.attribute_score, expected_as, rtol=0, atol=1e-3)


def test_a_small_step_moves_toward_the_text(setting):
    weight, features, text = setting
    translator = translators()["mlp3"]
    result = steer_toward(
        features, translator, text, head_geometry(weight), target_is=1.0, tol=0.05
    )
    # Along the projected gradient, cos(T(f), t) rises at first: AS > 0 for a small step.
    assert result.converged.all() and (result.attribute_score > 0).all()


def test_translator_blind_to_the_null_space_cannot_be_steered(setting):
    weight, features, text = setting
    geometry = head_geometry(weight)
    base = fitted_affine(FEATURES, torch.Generator().manual_seed(3))
    blind = AffineTranslator.from_weights(
        geometry.project_principal(base.weight.detach()), base.bias.detach()
    )
    result = steer_toward(features, blind, text, geometry)
    assert not result.converged.any()
    assert (result.eps == 0).all()
    torch.testing.assert_close(result.features, features)


def test_unreachable_target_is_reported_not_converged(setting):
    weight, features, text = setting
    translator = translators()["affine"]
    # An affine T saturates: T(f + eps d) tends to the direction A d, never 179 degrees away.
    result = steer_toward(
        features[:2], translator, text, head_geometry(weight), target_is=179.0, max_iter=20
    )
    assert not result.converged.any()
    assert (result.image_score < 179.0 - 0.1).all()


def test_steering_needs_a_null_space_and_restores_training_mode(setting):
    _, features, text = setting
    translator = translators()["mlp3"]
    full_rank = torch.randn(FEATURES + 4, FEATURES, generator=torch.Generator().manual_seed(5))
    with pytest.raises(NotApplicable, match="null_dim is 0"):
        steer_toward(features, translator, text, head_geometry(full_rank))
    translator.train()
    weight = torch.randn(CLASSES, FEATURES, generator=torch.Generator().manual_seed(6))
    result = steer_toward(features[:3], translator, text, head_geometry(weight))
    assert translator.training
    assert result.converged.all()  # dropout was off while calibrating


def test_numpy_features_give_numpy_results(setting):
    weight, features, text = setting
    result = steer_toward(
        features.numpy()[:3], translators()["mlp3"], text.numpy(), head_geometry(weight.numpy())
    )
    assert isinstance(result.features, np.ndarray) and result.features.dtype == np.float32
    assert isinstance(result.converged, np.ndarray) and result.converged.dtype == bool
    assert np.all(np.abs(result.image_score[:2] - 40.0) <= 0.1)  # row 2 saturates (see above)


def test_a_target_met_by_the_first_guess_converges_there(setting):
    # The bracket starts at eps = ||f|| / 10: a target equal to IS there is hit at once, exactly.
    weight, features, text = setting
    geometry = head_geometry(weight)
    x = torch.randn(200, FEATURES, generator=torch.Generator().manual_seed(7), dtype=torch.float64)
    translator = RidgeAccumulator(FEATURES, EMBED).update(x, x[:, :EMBED] + 1.0).solve(
        1.0, dtype=torch.float64)
    f = features[:1].double()
    probe = steer_toward(f, translator, text, geometry, target_is=20.0)
    direction = (probe.features - f) / probe.eps
    first_guess = 0.1 * torch.linalg.vector_norm(f, dim=-1)
    with torch.no_grad():
        target = float(angle(translator(f), translator(f + first_guess * direction)))
    result = steer_toward(f, translator, text, geometry, target_is=target, tol=1e-3)
    assert result.converged.all()
    assert result.eps.item() == first_guess.item()


def test_a_zero_feature_row_is_steered_too(setting):
    weight, _, text = setting
    result = steer_toward(torch.zeros(1, FEATURES), translators()["affine"], text,
                          head_geometry(weight), target_is=10.0)
    assert result.converged.all() and abs(result.image_score.item() - 10.0) <= 0.1
