"""The checks on the calibration world's shipped models, whose null-space content is known by
construction: clean carries only nuisance, leaky also carries the shape (the class)."""

import pytest

from singaudit.calibration import zoo
from singaudit.errors import WeightsNotFound
from singaudit.runner import run_audit
from singaudit.spec import parse_spec_text

LEAK_TOLERANCE = 0.75  # degrees; see test_clean_passes_and_leaky_fails_class_semantics

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
  options: {scenes: 120}
  classes: all
  images_per_class: 20
  seed: 0
translator:
  arch: linear
  fit: {id: "calibration:validation", options: {scenes: 900}}
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
                       progress=False)
    return {model.name: {check.name: check for check in model.checks} for model in result.models}


def test_clean_passes_and_leaky_fails_class_semantics(audit):
    clean, leaky = audit["clean"]["class_semantics"], audit["leaky"]["class_semantics"]
    assert clean.status == "pass", clean.message
    assert leaky.status == "fail", leaky.message
    assert leaky.metrics["leak"].value > 4 and clean.metrics["leak"].value < 2
    # The world's own ground truth (measured at training time on other scenes) agrees within the
    # sampling spread: scripts/calibration_leak_spread.py --seeds 8 re-runs this audit on 8 scene
    # seeds: sd 0.19 (clean) and 0.23 deg (leaky), largest |leak - truth| 0.52 deg. 0.75 deg is
    # about 3 sd around the seeds' mean (which is itself 0.1-0.2 deg off the truth).
    # It catches a translator refitted on the selection rows alone (`merged = select` in
    # pipeline/translators.py): clean's leak -5.37 deg, 0.98 off, which 1.5 deg let pass.
    truth = zoo.load_metadata()["ground_truth"]
    for name, check in (("clean", clean), ("leaky", leaky)):
        expected = truth[name]["median_neg_as"]
        assert check.metrics["leak"].value == pytest.approx(expected, abs=LEAK_TOLERANCE)


def test_null_invariance_holds_for_both(audit):
    for model in ("clean", "leaky"):
        check = audit[model]["null_invariance"]
        assert check.status == "pass", check.message
        assert check.metrics["removal_relative_change"].value < 1e-5


def test_leak_margin_of_the_default_verdict(audit):
    # The default verdict judges each class's median leak against fail 4: leaky's worst class
    # must reach twice that, clean's worst class at most half of it (issue 3's margin).
    def worst_class(check):
        return max(c.metrics["leak"].value for c in check.per_class.values())

    assert worst_class(audit["leaky"]["class_semantics"]) >= 8
    assert worst_class(audit["clean"]["class_semantics"]) <= 2


def test_concepts_put_shapes_on_top_for_leaky_and_nuisance_for_clean(audit):
    leaky, clean = audit["leaky"]["concepts"], audit["clean"]["concepts"]
    assert [row["category"] for row in leaky.data["top"]] == ["shapes"] * 3
    assert all(row["category"] in {"colours", "backgrounds", "patterns"}
               for row in clean.data["top"]), clean.data["top"]
    leaky_ranks = [c.metrics["own_class_rank"].value for c in leaky.per_class.values()]
    assert sum(rank <= 3 for rank in leaky_ranks) >= 5, leaky_ranks
    # clean's own class names rank in the lower half of the concepts its images show
    ranked = clean.data["ranked_per_class"]
    assert all(c.metrics["own_class_rank"].value > ranked[name] / 2
               for name, c in clean.per_class.items()), (ranked, clean.per_class)
    assert clean.data["top_category"] != "shapes"


def test_translation_consistency_passes(audit):
    for model in ("clean", "leaky"):
        assert audit[model]["translation_consistency"].status == "pass"
