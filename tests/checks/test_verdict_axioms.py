"""Axioms the default verdict must satisfy (issue 13), on the calibration world's real features:

(i)   a constant added to every feature inside the head's null space (identical logits, no
      information) changes no verdict of ``clean``, whatever its direction and size;
(ii)  the same on ``leaky``: it still fails;
(iii) relabelling the classes consistently permutes the per-class results and nothing else.
"""

import pytest
import torch
from calibration_contexts import aimed_offset, context, extract, random_offset

from singaudit.calibration import zoo
from singaudit.checks import CHECKS
from singaudit.errors import WeightsNotFound


@pytest.fixture(scope="module")
def worlds(tmp_path_factory):
    try:
        zoo.load_metadata()
    except WeightsNotFound as missing:
        pytest.skip(f"calibration weights not shipped: {missing}")
    cache = tmp_path_factory.mktemp("axioms-cache")
    return {name: extract(name, cache) for name in ("clean", "leaky")}


def run(check_name, ctx, **params):
    check = CHECKS.get(check_name)()
    return check.run(ctx, check.Params(**params))


def verdicts(result):
    return result.status, {name: c.status for name, c in result.per_class.items()}


def offsets(world, tmp_path):
    """Several directions and sizes (x the median feature norm), two aimed at a class prompt."""
    return {
        "0.5x toward circle": aimed_offset(world, tmp_path, 0, 0.5),
        "4x toward circle": aimed_offset(world, tmp_path, 0, 4.0),
        "2x toward star": aimed_offset(world, tmp_path, 3, 2.0),
        "1x random": random_offset(world, 1.0, seed=1),
        "4x random": random_offset(world, 4.0, seed=2),
    }


@pytest.mark.parametrize(("model", "expected"), [("clean", "pass"), ("leaky", "fail")])
def test_a_constant_null_offset_changes_no_verdict(worlds, tmp_path, model, expected):
    world = worlds[model]
    base = run("class_semantics", context(world, tmp_path / "base"), n_boot=10)
    assert base.status == expected, base.message
    for label, shift in offsets(world, tmp_path).items():
        ctx = context(world, tmp_path / label, shift=shift)
        # The construction is what the axiom says: identical logits, no information added.
        assert torch.allclose(ctx.classifier.logits(ctx.features),
                              ctx.classifier.logits(world.features), atol=1e-3)
        shifted = run("class_semantics", ctx, n_boot=10)
        assert verdicts(shifted) == verdicts(base), (label, shifted.message)
        for name, result in shifted.per_class.items():
            assert result.metrics["specific_leak"].value == pytest.approx(
                base.per_class[name].metrics["specific_leak"].value, abs=0.05), (label, name)


def test_the_offset_does_bite_under_the_papers_zero_reference(worlds, tmp_path):
    # Proof that the axiom test above can fail: with f_eq = P_p f the same offset turns clean's
    # verdict from pass into fail (issue 13's measured false fail).
    world = worlds["clean"]
    base = run("class_semantics", context(world, tmp_path / "b", null_removal="zero"), n_boot=10)
    assert base.status == "pass", base.message
    shift = aimed_offset(world, tmp_path, 0, 0.5)
    shifted = run("class_semantics", context(world, tmp_path / "s", shift=shift,
                                             null_removal="zero"), n_boot=10)
    assert shifted.status == "fail"
    assert shifted.per_class["circle"].metrics["leak"].value > 15
    # The same drift-only construction under the default: the specific leak stays below zero.
    default = run("class_semantics", context(world, tmp_path / "d", shift=shift), n_boot=10)
    assert default.status == "pass"
    assert max(c.metrics["specific_leak"].value for c in default.per_class.values()) < 0


def test_a_constant_null_offset_changes_no_concept_ranking(worlds, tmp_path):
    world = worlds["leaky"]
    params = {"vocabulary": "calibration", "top_k": 3}
    base = run("concepts", context(world, tmp_path / "b"), **params)
    shifted = run("concepts", context(world, tmp_path / "s",
                                      shift=aimed_offset(world, tmp_path, 0, 2.0)), **params)
    assert shifted.status == base.status
    assert [c["concept"] for c in shifted.data["top"]] == [c["concept"] for c in base.data["top"]]


@pytest.mark.parametrize("model", ["clean", "leaky"])
def test_relabelling_classes_permutes_per_class_results_and_nothing_else(worlds, tmp_path, model):
    world = worlds[model]
    permutation = [3, 0, 5, 1, 2, 4]  # class k is renamed to position permutation[k]
    base = run("class_semantics", context(world, tmp_path / "b"), n_boot=50)
    relabelled_ctx = context(world, tmp_path / "p", permutation=permutation)
    assert relabelled_ctx.class_names != world.class_names  # the construction really permutes
    relabelled = run("class_semantics", relabelled_ctx, n_boot=50)
    assert relabelled.status == base.status
    assert set(relabelled.per_class) == set(base.per_class)
    for name, result in base.per_class.items():
        moved = relabelled.per_class[name]
        assert moved.status == result.status and moved.n == result.n
        for metric, value in result.metrics.items():
            assert moved.metrics[metric].value == pytest.approx(value.value, abs=1e-3), metric
    for metric, value in base.metrics.items():
        assert relabelled.metrics[metric].value == pytest.approx(value.value, abs=1e-3), metric
