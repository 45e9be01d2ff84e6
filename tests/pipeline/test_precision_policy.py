"""The precision policy: ``dtype: auto`` picks bfloat16 only if the calibration worlds give the same
verdicts in bfloat16 as in float32 (every model, check and class status identical, every angle
within 0.1 deg). The comparison runs here on the CPU in bfloat16 autocast; its outcome must agree
with ``device.AUTO_BFLOAT16_KEEPS_VERDICTS``, which decides what ``auto`` picks."""

import math

import pytest
import torch

from singaudit.pipeline import device
from singaudit.runner import run_audit
from singaudit.spec import parse_spec_text

SPEC = """
version: 1
kind: singaudit/audit
name: precision
models:
  - {{name: clean, id: "calibration:clean"}}
  - {{name: leaky, id: "calibration:leaky"}}
  - {{name: clean_uncentred, id: "calibration:clean_uncentred"}}
  - {{name: natural, id: "calibration:natural"}}
joint_space: {{id: "calibration:joint"}}
data:
  id: "calibration:audit"
  options: {{scenes: 720, scene_seed: 1}}
  classes: all
  images_per_class: 30
  seed: 1
translator:
  arch: linear
  fit: {{id: "calibration:validation", options: {{scenes: 1200, scene_seed: 1}}}}
  heldout: 0.2
checks:
  class_semantics: {{n_boot: 50}}
  null_probe: {{}}
report: {{formats: [json]}}
device: cpu
dtype: {dtype}
seed: 0
"""
MAX_ANGLE_CHANGE_DEG = 0.1


def verdicts_and_angles(result):
    """{path: status} and {path: angle in degrees} over every model, check, class and metric."""
    statuses, angles = {}, {}
    for model in result.models:
        statuses[model.name] = model.status
        for check in model.checks:
            where = f"{model.name}/{check.name}"
            statuses[where] = check.status
            groups = {"": check.metrics, **{c: r.metrics for c, r in check.per_class.items()}}
            for name, result_ in check.per_class.items():
                statuses[f"{where}/{name}"] = result_.status
            for group, metrics in groups.items():
                for metric_name, metric in metrics.items():
                    path = f"{where}/{group}/{metric_name}"
                    if metric.status is not None:
                        statuses[path] = metric.status
                    if metric.unit == "deg" and metric.value is not None:
                        angles[path] = metric.value
    return statuses, angles


def compare(tmp_path):
    runs = {}
    for dtype in ("float32", "bfloat16"):
        spec = parse_spec_text(SPEC.format(dtype=dtype))
        runs[dtype] = verdicts_and_angles(
            run_audit(spec, out_dir=tmp_path / dtype, cache_dir=tmp_path / "cache", progress=False)
        )
    (exact_statuses, exact_angles), (reduced_statuses, reduced_angles) = runs.values()
    changed = sorted(p for p in exact_statuses if reduced_statuses.get(p) != exact_statuses[p])
    drift = max((abs(reduced_angles[p] - a) for p, a in exact_angles.items()
                 if math.isfinite(a)), default=0.0)
    return changed, drift, len(exact_statuses), len(exact_angles)


@pytest.mark.slow
def test_auto_picks_bfloat16_only_where_it_keeps_every_verdict(tmp_path):
    changed, drift, n_statuses, n_angles = compare(tmp_path)
    assert n_statuses > 20 and n_angles > 10  # the comparison covers real verdicts and angles
    keeps = not changed and drift <= MAX_ANGLE_CHANGE_DEG
    assert device.AUTO_BFLOAT16_KEEPS_VERDICTS == keeps, (changed[:10], drift)


def test_auto_stays_float32_unless_bfloat16_was_shown_to_keep_verdicts(monkeypatch):
    cpu = torch.device("cpu")
    monkeypatch.setattr(device, "AUTO_BFLOAT16_KEEPS_VERDICTS", False)
    assert device.choose_dtype(cpu, "auto") == torch.float32
    assert device.choose_dtype(cpu, "bfloat16") == torch.bfloat16  # always available as opt-in
    monkeypatch.setattr(device, "AUTO_BFLOAT16_KEEPS_VERDICTS", True)
    expected = torch.bfloat16 if device.native_bfloat16(cpu) else torch.float32
    assert device.choose_dtype(cpu, "auto") == expected
