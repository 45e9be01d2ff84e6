"""The null reference travels with the translator (issue 24): a fitted translator records the mean
of its fit features and which fit set that was; an audit that loads it (``translator: {path}``)
and ``explain`` use that mean, so every path removes null content alike. Without fit data the
verdict's null-only translator is cross-fitted on the audit images, and says so."""

import numpy as np
import pytest
from PIL import Image

from singaudit.calibration import scenes, zoo
from singaudit.errors import WeightsNotFound
from singaudit.pipeline.translator_store import save_translator
from singaudit.runner import run_audit
from singaudit.runner.explain import explain_image
from singaudit.spec import parse_spec_text

SPEC = """
version: 1
kind: singaudit/audit
name: reference
models: [{{name: leaky, id: "calibration:leaky", expect: fail}}]
joint_space: {{id: "calibration:joint"}}
data: {{id: "calibration:audit", options: {{scenes: 120}}, classes: all, images_per_class: 100}}
translator: {translator}
checks: {{class_semantics: {{n_boot: 10}}}}
report: {{formats: [json]}}
"""
FIT = '{arch: linear, fit: {id: "calibration:validation", options: {scenes: 480}}}'


def audit(folder, translator):
    # One cache for both audits: a loaded copy of the translator keeps its fingerprint, yet its
    # audit (no fit data: T_n cross-fitted) must not reuse the fitting audit's cached results.
    result = run_audit(parse_spec_text(SPEC.format(translator=translator)), out_dir=folder / "out",
                       cache_dir=folder.parent / "shared_cache", progress=False)
    return next(c for c in result.models[0].checks if c.name == "class_semantics")


@pytest.fixture(scope="module")
def fitted_and_loaded(tmp_path_factory):
    try:
        zoo.load_metadata()
    except WeightsNotFound as missing:
        pytest.skip(f"calibration weights not shipped: {missing}")
    root = tmp_path_factory.mktemp("reference")
    from singaudit.runner.artefacts import ArtefactBuilder
    from singaudit.runner.session import AuditSession

    spec = parse_spec_text(SPEC.format(translator=FIT))
    artefact = ArtefactBuilder(spec, AuditSession(cache_dir=root / "cache",
                                                  progress=False)).translator("leaky")
    # As `singaudit translator fit` saves it.
    save_translator(root / "saved", artefact.module, {
        k: v for k, v in artefact.info.items() if k not in ("architecture", "in_dim", "out_dim")})
    fitted = audit(root / "fitted", FIT)
    loaded = audit(root / "loaded", f"{{path: {root / 'saved'}}}")
    return artefact.info, fitted, loaded, root


def test_a_fitted_translator_records_its_fit_mean_and_fit_set(fitted_and_loaded):
    info, _, _, _ = fitted_and_loaded
    record = info["null_reference"]
    assert len(record["mean"]) == zoo.load_classifier("leaky").head.weight.shape[1]
    assert record["rows"] > 0 and "calibration:validation" in record["fit_set"]


def test_a_loaded_translator_removes_null_content_as_the_fitting_audit_did(fitted_and_loaded):
    _, fitted, loaded, _ = fitted_and_loaded
    assert "recorded with the translator" in loaded.data["null_reference"]
    assert "recorded with the translator" in fitted.data["null_reference"]
    # Same T, same mu, same images: the translator's readings agree image by image (before,
    # a loaded translator fell back to the audit images' mean).
    assert np.allclose(loaded.data["specific_leak"], fitted.data["specific_leak"], atol=1e-3)
    # No fit data with a loaded translator: T_n is cross-fitted on the audit images.
    assert "cross-fitted" in loaded.data["null_translator"]
    assert "translator-fit images" in fitted.data["null_translator"]
    assert loaded.status == fitted.status == "fail"


def test_explain_uses_the_recorded_reference(fitted_and_loaded):
    _, _, _, root = fitted_and_loaded
    images, _ = scenes.generate("audit", 5, 0, 1)
    path = root / "scene.png"
    Image.fromarray(images[0]).save(path)
    explained = explain_image(path, model="calibration:leaky", joint="calibration:joint",
                              translator_path=str(root / "saved"), cache_dir=root / "cache")
    assert "recorded with the translator" in explained.null_reference
    assert "null_reference" not in explained.translator
