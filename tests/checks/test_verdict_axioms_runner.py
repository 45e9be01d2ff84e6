"""The verdict axioms through the runner, as a user would meet them: ``python:`` models wrapping a
shipped calibration classifier under a logit-preserving reparametrization (row-space block x100,
an invertible row-space map, null block x0.01), audited beside the shipped model in one spec.
Statuses identical; every class's ``carried`` median within CARRIED_TOLERANCE and its
``carried_share`` (the verdict) within the same over the class's joint contrast."""

import pytest
from test_verdict_axioms import CARRIED_TOLERANCE

from singaudit.calibration import zoo
from singaudit.errors import WeightsNotFound
from singaudit.runner import run_audit
from singaudit.spec import parse_spec_text

SPEC = """
version: 1
kind: singaudit/audit
name: axioms_runner
models:
  - {name: leaky, id: "calibration:leaky", expect: fail}
  - {name: rows_x100, id: "python:variant_models:build", expect: fail,
     options: {base: leaky, transform: row_scale, scale: 100}}
  - {name: row_map, id: "python:variant_models:build", expect: fail,
     options: {base: leaky, transform: row_map, scale: 10, seed: 1}}
  - {name: null_x001, id: "python:variant_models:build", expect: fail,
     options: {base: leaky, transform: null_scale, scale: 0.01}}
joint_space: {id: "calibration:joint"}
data: {id: "calibration:audit", options: {scenes: 90}, classes: all, images_per_class: 12}
translator:
  arch: linear
  fit: {id: "calibration:validation", options: {scenes: 480}}
checks: {class_semantics: {n_boot: 10}}
report: {formats: [json]}
"""


@pytest.fixture(scope="module")
def audited(tmp_path_factory):
    try:
        zoo.load_metadata()
    except WeightsNotFound as missing:
        pytest.skip(f"calibration weights not shipped: {missing}")
    folder = tmp_path_factory.mktemp("axioms-runner")
    result = run_audit(parse_spec_text(SPEC), out_dir=folder / "out", cache_dir=folder / "cache",
                       progress=False)
    return {m.name: next(c for c in m.checks if c.name == "class_semantics")
            for m in result.models}


@pytest.mark.parametrize("name", ["rows_x100", "row_map", "null_x001"])
def test_a_python_model_under_a_reparametrization_gets_the_same_verdict(audited, name):
    base, moved = audited["leaky"], audited[name]
    assert base.status == "fail", base.message
    assert moved.status == base.status, moved.message
    assert {k: c.status for k, c in moved.per_class.items()} == {
        k: c.status for k, c in base.per_class.items()}
    for k, c in base.per_class.items():
        assert moved.per_class[k].metrics["carried"].value == pytest.approx(
            c.metrics["carried"].value, abs=CARRIED_TOLERANCE), k
        contrast = c.metrics["joint_contrast"].value
        assert moved.per_class[k].metrics["joint_contrast"].value == pytest.approx(contrast)
        assert moved.per_class[k].metrics["carried_share"].value == pytest.approx(
            c.metrics["carried_share"].value, abs=CARRIED_TOLERANCE / contrast), k
