"""The translator-architecture registry: one source for the spec, the store, fitting and the
fidelity comparison."""

from __future__ import annotations

import pytest
import torch
from pydantic import BaseModel, ConfigDict

from singaudit.errors import SpecError
from singaudit.maths.translators import AffineTranslator
from singaudit.pipeline.translator_store import load_translator, save_translator
from singaudit.pipeline.translators import (
    TRANSLATOR_ARCHITECTURES,
    TranslatorArchitecture,
    architecture_names,
    fit_translator,
    get_architecture,
)
from singaudit.runner.plan import plan_text

torch.set_num_threads(1)


def _data(rows: int = 120):
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(rows, 6, generator=generator)
    y = x @ torch.randn(6, 4, generator=generator) + 0.05 * torch.randn(rows, 4,
                                                                        generator=generator)
    return x[:96], y[:96], x[96:], y[96:]


@pytest.mark.parametrize("name", architecture_names())
def test_every_architecture_builds_fits_and_round_trips(tmp_path, name):
    module, info = fit_translator(name, {"epochs": 30, "lr": 1e-2} if name != "linear" else {},
                                  *_data(), seed=0)
    assert info["architecture"] == name == module.config()["architecture"]
    # 96 fit rows: 19 select alpha / stop training (20%), the linear map is refitted on all 96;
    # the 24 held-out rows only measure fidelity
    assert info["n_select"] == 19 and info["n_heldout"] == 24
    assert info["n_train"] == (96 if name == "linear" else 77)
    assert info["mean_cosine"] > 0.5  # a near-linear map: every architecture learns something
    save_translator(tmp_path / name, module, {"architecture": name})
    loaded, _ = load_translator(tmp_path / name)
    x = _data()[2]
    with torch.inference_mode():
        torch.testing.assert_close(loaded(x), module(x))


def test_aliases_and_unknown_names():
    assert get_architecture("3layer").name == "mlp3"
    assert get_architecture("MLP4").name == "mlp4"
    with pytest.raises(SpecError, match="unknown translator architecture 'mlp5'.*linear"):
        get_architecture("mlp5")


SPEC = """\
version: 1
kind: singaudit/audit
name: t
models: [{name: m, id: "calibration:clean"}]
joint_space: {id: "calibration:joint"}
data: {id: "calibration:audit"}
checks: {null_invariance: {}}
"""


def _spec_error(text: str) -> str:
    with pytest.raises(SpecError) as caught:
        plan_text(text)
    return str(caught.value)


def test_the_spec_validates_arch_and_options_per_architecture():
    assert plan_text(SPEC + "translator: {arch: 3layer}\n").spec.translator.arch == "mlp3"
    message = _spec_error(SPEC + "translator: {arch: mlp5}\n")
    assert "translator.arch" in message and "available: linear, mlp3, mlp4, residual" in message
    message = _spec_error(SPEC + "translator: {arch: mlp3, options: {epochs: 0, loss: l1}}\n")
    assert "translator.options.epochs" in message and "translator.options.loss" in message
    message = _spec_error(SPEC + "translator: {arch: linear, options: {alphas: [-1]}}\n")
    assert "translator.options.alphas.0" in message
    message = _spec_error(SPEC.replace("checks: {null_invariance: {}}",
                                       "checks: {translator_fidelity: {compare: [mlp9]}}"))
    assert "compare" in message and "mlp9" in message


class _ScaledOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    scale: float = 1.0


def _fit_scaled(x_train, y_train, x_heldout, y_heldout, options, *, seed=0, executor=None):
    solution = torch.linalg.lstsq(x_train, y_train).solution * options.scale
    return AffineTranslator.from_weights(solution.T, torch.zeros(y_train.shape[1])), {}


def test_a_registered_architecture_is_accepted_everywhere():
    TRANSLATOR_ARCHITECTURES.add("scaled_lstsq", TranslatorArchitecture(
        "scaled_lstsq", "least squares, scaled", _ScaledOptions,
        lambda m, k, hidden=None: AffineTranslator(m, k), _fit_scaled))
    try:
        spec = plan_text(SPEC + "translator: {arch: scaled_lstsq, options: {scale: 1}}\n").spec
        assert spec.translator.options == {"scale": 1}
        assert "unknown option 'alphas'" in _spec_error(
            SPEC + "translator: {arch: scaled_lstsq, options: {alphas: [1]}}\n")
        _, info = fit_translator("scaled_lstsq", {"scale": 1.0}, *_data())
        assert info["architecture"] == "scaled_lstsq" and info["mean_cosine"] > 0.9
    finally:
        TRANSLATOR_ARCHITECTURES._entries.pop("scaled_lstsq")


@pytest.mark.parametrize("name", ["linear", "mlp3"])
def test_held_out_rows_measure_fidelity_and_never_choose_the_translator(name):
    """Three-way split: replacing the held-out targets by noise changes the fidelity figures
    but not the translator (its alpha or early stopping read the selection rows only)."""
    x_fit, y_fit, x_held, y_held = _data()
    options = {"epochs": 30, "lr": 1e-2} if name != "linear" else {}
    noise = torch.randn(y_held.shape, generator=torch.Generator().manual_seed(1))
    module, info = fit_translator(name, options, x_fit, y_fit, x_held, y_held, seed=0)
    other, noisy = fit_translator(name, options, x_fit, y_fit, x_held, noise, seed=0)
    with torch.inference_mode():
        torch.testing.assert_close(other(x_held), module(x_held))
    assert info.get("alpha") == noisy.get("alpha")
    assert noisy["mean_cosine"] < 0.5 < info["mean_cosine"]
