"""The public Python API: a small audit with names from ``import singaudit`` alone."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import torch

import singaudit

torch.set_num_threads(1)

SPEC = """
version: 1
kind: singaudit/audit
name: api
models:
  - {name: clean, id: "calibration:clean", expect: pass}
  - {name: leaky, id: "calibration:leaky", expect: fail}
joint_space: {id: "calibration:joint"}
data: {id: "calibration:audit", options: {scenes: 240}, images_per_class: 30}
translator: {fit: {id: "calibration:validation", options: {scenes: 1200}}}
checks: {null_invariance: {}, class_semantics: {n_boot: 100}}
report: {formats: [html, junit, json]}
"""


def test_every_public_name_resolves_and_is_listed():
    for name in singaudit.__all__:
        assert getattr(singaudit, name) is not None, name
    assert set(singaudit.__all__) <= set(dir(singaudit))


def test_import_singaudit_is_cheap():
    code = "import sys, singaudit; print('torch' in sys.modules, 'singaudit.runner' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          env={**os.environ, "PYTHONPATH": str(Path(singaudit.__file__).parents[1])})
    assert done.stdout.split() == ["False", "False"]


def test_a_tiny_audit_through_the_public_names(tmp_path):
    spec = singaudit.parse_spec_text(SPEC)
    assert isinstance(spec, singaudit.AuditSpec)
    session = singaudit.AuditSession(cache_dir=tmp_path / "cache", progress=False)
    result = singaudit.run_audit(spec, out_dir=tmp_path / "out", session=session)
    assert isinstance(result, singaudit.AuditResult)
    written_by_runner = {p.name for p in (tmp_path / "out").iterdir()}
    assert "results.json" in written_by_runner  # and no reports: the caller renders them
    assert not written_by_runner & {"report.html", "report.pdf", "junit.xml"}
    verdicts = {m.name: {c.name: c.status for c in m.checks} for m in result.models}
    assert verdicts["clean"]["class_semantics"] == "pass"  # the calibration world's ground truth
    assert verdicts["leaky"]["class_semantics"] == "fail"
    assert result.ok and [m.expectation_met for m in result.models] == [True, True]
    read_back = singaudit.AuditResult.read(tmp_path / "out" / "results.json")
    # Through JSON: NaN (an unjudged class's share) is written as null, and null equals null.
    assert json.loads(read_back.model_dump_json()) == json.loads(result.model_dump_json())
    written = singaudit.render_reports(tmp_path / "out" / "results.json", spec.report.formats)
    assert {"html", "junit"} <= set(written) and written["html"].stat().st_size > 1000

    builder = singaudit.ArtefactBuilder(spec, session)  # the same store: nothing recomputed
    features = builder.classifier_features("leaky", builder.audit_images)
    assert features.shape == (180, builder.classifier("leaky").info.feature_dim)
    translator = builder.translator("leaky")
    assert translator.info["source"] == "fitted" and translator.info["architecture"] == "linear"
    assert "linear" in singaudit.TRANSLATOR_ARCHITECTURES.names()
    assert "class_semantics" in singaudit.CHECKS and "calibration" in singaudit.DATA_SOURCES
