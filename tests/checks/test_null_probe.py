"""The null-space probe check: near chance where the null space carries no class, high where a
class code is planted there; it needs no joint space."""

import numpy as np
import pytest
from world import make_world

from singaudit.calibration import zoo
from singaudit.checks import CHECKS
from singaudit.errors import NotApplicable, WeightsNotFound
from singaudit.results import Tiers
from singaudit.runner import run_audit
from singaudit.spec import parse_spec_text


def run(ctx, **params):
    check = CHECKS.get("null_probe")()
    return check.run(ctx, check.Params(**params))


def test_planted_world_clean_near_chance_leaky_high(tmp_path):
    clean = run(make_world(tmp_path / "c"))
    leaky = run(make_world(tmp_path / "l", leaky=True))
    assert clean.status == leaky.status == "info"  # informational by default: never a pass
    assert clean.metrics["chance"].value == pytest.approx(1 / 6, abs=0.05)
    assert clean.metrics["lift"].value < 0.15
    assert leaky.metrics["accuracy"].value > 0.9 and leaky.metrics["lift"].value > 0.85
    assert all(c.metrics["accuracy"].value > 0.75 for c in leaky.per_class.values())
    predicted, labels = np.array(leaky.data["predicted"]), np.array(leaky.data["label"])
    assert leaky.metrics["accuracy"].value == pytest.approx(np.mean(predicted == labels))
    assert "chance" in leaky.message and "5-fold" in leaky.message


def test_erasure_figures_separate_the_worlds(tmp_path):
    clean = run(make_world(tmp_path / "c"))
    leaky = run(make_world(tmp_path / "l", leaky=True))
    figures = {name: {k: m.value for k, m in result.metrics.items()}
               for name, result in (("clean", clean), ("leaky", leaky))}
    assert figures["leaky"]["selectivity"] > 0.6 and figures["clean"]["selectivity"] < 0.2
    assert figures["leaky"]["selectivity"] == pytest.approx(
        figures["leaky"]["accuracy"] - figures["leaky"]["control_accuracy"])
    assert figures["leaky"]["control_accuracy"] < 0.3
    # LEACE leaves no linear class signal: the probe falls back to (about) chance.
    assert figures["leaky"]["accuracy_after_leace"] < 0.3
    # The planted leak is a 6-d block: INLP removes at least the 5 directions the class means
    # span before the probe is at chance; the clean world's null space holds (almost) none.
    assert figures["leaky"]["inlp_directions"] >= 5 > figures["clean"]["inlp_directions"]
    assert leaky.data["inlp"]["reached_chance"] and leaky.data["leace_rank"] == 5
    for name, entry in leaky.per_class.items():
        assert entry.metrics["inlp_directions"].value >= 1, name
        assert entry.metrics["selectivity"].value > 0.4, name
    assert "INLP removes" in leaky.message
    plain = run(make_world(tmp_path / "p", leaky=True), erasure=False)
    assert "selectivity" not in plain.metrics and "INLP" not in plain.message


def test_tiers_on_per_class_accuracy_fail_the_leaky_world(tmp_path):
    tiers = [Tiers(metric="accuracy", statistic="mean", warn=0.4, fail=0.6, scope="per_class")]
    assert run(make_world(tmp_path / "l", leaky=True), thresholds=tiers).status == "fail"
    assert run(make_world(tmp_path / "c"), thresholds=tiers).status == "pass"


def test_unlabelled_or_headless_data_is_not_applicable(tmp_path):
    ctx = make_world(tmp_path)
    ctx.labels[:] = -1
    with pytest.raises(NotApplicable, match="labelled images"):
        run(ctx)
    with pytest.raises(NotApplicable, match="null_dim is 0"):
        run(make_world(tmp_path / "full", null_space=False))


SPEC = """
version: 1
kind: singaudit/audit
name: probe_only
models:
  - {name: clean, id: "calibration:clean"}
  - {name: leaky, id: "calibration:leaky", expect: fail}
data:
  id: "calibration:audit"
  options: {scenes: 120}
  images_per_class: 20
checks:
  null_probe:
    thresholds: [{metric: accuracy, statistic: mean, fail: 0.6, scope: per_class}]
report: {formats: [json]}
"""


def test_runs_on_an_audit_without_a_joint_space(tmp_path):
    try:
        zoo.load_metadata()
    except WeightsNotFound as missing:
        pytest.skip(f"calibration weights not shipped: {missing}")
    result = run_audit(parse_spec_text(SPEC), out_dir=tmp_path / "out", cache_dir=tmp_path / "c",
                       progress=False)
    probes = {m.name: m.checks[0] for m in result.models}
    assert probes["clean"].status == "pass", probes["clean"].message
    assert probes["leaky"].status == "fail", probes["leaky"].message
    assert probes["clean"].metrics["lift"].value < 0.3
    assert probes["leaky"].metrics["lift"].value > 0.8


def test_figures_do_not_move_when_the_null_block_is_rotated_and_rescaled(tmp_path):
    """f -> P_p f + s R P_n f with R a rotation inside the null space: same logits, the same null
    content in another basis and scale; every figure of the probe is unchanged."""
    import torch

    ctx = make_world(tmp_path / "l", leaky=True)
    before = run(ctx)
    null = ctx.geometry.null_basis.double()  # (m, null_dim)
    rotation = torch.from_numpy(np.linalg.qr(np.random.default_rng(7).normal(
        size=(null.shape[1], null.shape[1])))[0])
    features = ctx.features.double()
    moved = ctx.geometry.project_principal(features) + 30.0 * (features @ null) @ rotation.T @ null.T
    ctx.features = moved.float()
    after = run(ctx)
    for key, metric in before.metrics.items():
        # After erasure every prediction is a near-tie (the probe is at chance), and the solver's
        # stopping rule (largest gradient coordinate) depends on the basis: a few ties flip.
        tolerance = 0.03 if key == "accuracy_after_leace" else 1 / 240
        assert after.metrics[key].value == pytest.approx(metric.value, abs=tolerance), key
    assert after.metrics["inlp_directions"].value == before.metrics["inlp_directions"].value
    for name, entry in before.per_class.items():
        assert (after.per_class[name].metrics["inlp_directions"].value
                == entry.metrics["inlp_directions"].value), name


def test_per_class_inlp_stops_past_its_class_limit(tmp_path):
    """One INLP run per class costs classes squared: past the limit it is left out, and said so;
    the overall figures and per-class selectivity are still measured."""
    limited = run(make_world(tmp_path / "l", leaky=True), inlp_per_class_limit=5)  # 6 classes
    assert "not measured: 6 classes > inlp_per_class_limit 5" in limited.data["inlp_per_class"]
    assert limited.metrics["inlp_directions"].value >= 5
    for entry in limited.per_class.values():
        assert "inlp_directions" not in entry.metrics and "selectivity" in entry.metrics


def test_ridge_solver_separates_the_worlds_as_logistic_does(tmp_path):
    # auto keeps logistic regression at 6 classes; the ridge classifier (auto above
    # logistic_max_classes) reads the same planted worlds the same way.
    leaky_world, clean_world = make_world(tmp_path / "l", leaky=True), make_world(tmp_path / "c")
    assert run(leaky_world, erasure=False).data["solver"] == "logistic"
    switched = run(leaky_world, logistic_max_classes=5, erasure=False)
    assert switched.data["solver"] == "ridge" and "ridge classifier" in switched.message
    leaky, clean = run(leaky_world, solver="ridge"), run(clean_world, solver="ridge")
    assert leaky.metrics["accuracy"].value > 0.9 and clean.metrics["lift"].value < 0.15
    assert leaky.metrics["selectivity"].value > 0.6 and clean.metrics["selectivity"].value < 0.2
    assert leaky.metrics["accuracy_after_leace"].value < 0.3
    assert leaky.metrics["inlp_directions"].value >= 5 > clean.metrics["inlp_directions"].value
