"""The checks on the calibration world's shipped models, whose null-space content is known by
construction: clean carries only nuisance, leaky also carries the shape (the class)."""

import pytest

from singaudit.calibration import zoo
from singaudit.errors import WeightsNotFound
from singaudit.runner import run_audit
from singaudit.spec import parse_spec_text

SPEC = """
version: 1
kind: singaudit/audit
name: checks_calibration
models:
  - {name: clean, id: "calibration:clean", expect: pass}
  - {name: leaky, id: "calibration:leaky", expect: fail}
joint_space: {id: "calibration:joint"}
data:
  id: "calibration:audit"
  options: {images_per_class: 20, seed: 0}
  classes: all
  images_per_class: 20
  seed: 0
translator:
  arch: linear
  fit: {id: "calibration:validation", options: {images_per_class: 150, seed: 0}}
  heldout: 0.2
checks:
  null_invariance: {}
  class_semantics: {n_boot: 200}
  concepts: {vocabulary: calibration, top_k: 3}
  translation_consistency: {}
report: {formats: [json]}
seed: 0
"""


@pytest.fixture(scope="module")
def audit(tmp_path_factory):
    try:
        zoo.load_metadata()
    except WeightsNotFound as missing:
        pytest.skip(f"calibration weights not shipped yet: {missing}")
    out = tmp_path_factory.mktemp("calibration")
    result = run_audit(parse_spec_text(SPEC), out_dir=out, cache_dir=out / "cache",
                       progress=False, render=False)
    return {model.name: {check.name: check for check in model.checks} for model in result.models}


def test_clean_passes_and_leaky_fails_class_semantics(audit):
    clean, leaky = audit["clean"]["class_semantics"], audit["leaky"]["class_semantics"]
    assert clean.status == "pass", clean.message
    assert leaky.status == "fail", leaky.message
    assert leaky.metrics["leak"].value > 4 and clean.metrics["leak"].value < 2
    # The world's own ground truth (measured at training time on other scenes) agrees.
    truth = zoo.load_metadata()["ground_truth"]
    for name, check in (("clean", clean), ("leaky", leaky)):
        assert check.metrics["leak"].value == pytest.approx(truth[name]["median_neg_as"], abs=1.5)


def test_null_invariance_holds_for_both(audit):
    for model in ("clean", "leaky"):
        check = audit[model]["null_invariance"]
        assert check.status == "pass", check.message
        assert check.metrics["removal_relative_change"].value < 1e-5


def test_concepts_put_shapes_on_top_for_leaky_and_nuisance_for_clean(audit):
    leaky, clean = audit["leaky"]["concepts"], audit["clean"]["concepts"]
    for name, rows in leaky.data["top_per_class"].items():
        assert name in [row["concept"] for row in rows], (name, rows)
    assert clean.metrics["own_class_rank"].value > 3
    assert clean.data["top_category"] != "shapes"


def test_translation_consistency_passes(audit):
    for model in ("clean", "leaky"):
        assert audit[model]["translation_consistency"].status == "pass"
