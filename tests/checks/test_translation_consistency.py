import pytest
import torch
from world import make_world

from singaudit.checks import CHECKS
from singaudit.errors import NotApplicable
from singaudit.maths.translators import AffineTranslator


def run(ctx, **params):
    check = CHECKS.get("translation_consistency")()
    return check.run(ctx, check.Params(**params))


def test_faithful_translator_keeps_class_information(tmp_path):
    result = run(make_world(tmp_path))
    assert result.status == "pass", result.message
    assert result.metrics["accuracy_principal"].value > 0.9
    assert result.metrics["gap"].value <= 0.05
    assert result.data["n_test"] == 72  # 30 % of 240, stratified
    assert all(c.metrics["recall_translated"].value > 0.5 for c in result.per_class.values())


def test_translator_that_drops_class_information_fails(tmp_path):
    ctx = make_world(tmp_path)
    # A translator that ignores its input: every translation is the same embedding.
    ctx.translator = AffineTranslator.from_weights(torch.zeros(48, 32), ctx.translator.bias.detach())
    result = run(ctx)
    assert result.status == "fail"
    assert result.metrics["accuracy_translated"].value < 0.4  # chance is 1/6
    assert "gap max" in result.message and "> fail 0.15" in result.message


def test_works_without_a_null_space(tmp_path):
    result = run(make_world(tmp_path, null_space=False))
    assert result.metrics["accuracy_principal"].value > 0.9


def test_too_few_images_per_class_is_not_applicable(tmp_path):
    ctx = make_world(tmp_path, n=8)
    ctx.labels[:] = 0
    ctx.labels[0] = 1
    with pytest.raises(NotApplicable, match="at least 2 images"):
        run(ctx)
