"""The evidence check through the real runner: the runner world's 16-d joint space, retrieval,
and a tiny 16-d UnCLIP loaded as ``unclip:<folder>``; results.json and the HTML report."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from tiny_unclip import build_tiny_unclip, one_torch_thread

from singaudit.reports import render_reports
from singaudit.results import AuditResult
from singaudit.runner import run_audit
from singaudit.spec import parse_spec_text

sys.path.insert(0, str(Path(__file__).parents[1] / "runner"))
import runner_world

EVIDENCE_SPEC = """\
version: 1
kind: singaudit/audit
name: evidence
models:
  - name: first
    id: runnerworld:seed1
joint_space:
  id: runnerworld:joint
data:
  id: runnerworld:audit
  options: {per_class: 4}
  images_per_class: 4
  seed: 3
translator:
  arch: linear
  fit:
    id: runnerworld:fit
    options: {per_class: 30}
checks:
  evidence: {max_images: 3, retrieval_k: 2}
report:
  formats: [html]
device: cpu
seed: 0
"""


@pytest.fixture(scope="module")
def unclip_16d(tmp_path_factory: pytest.TempPathFactory) -> Path:
    with one_torch_thread():
        return build_tiny_unclip(tmp_path_factory.mktemp("unclip16"), embed_dim=16)


def audit(tmp_path: Path, spec_text: str) -> AuditResult:
    runner_world.register()
    spec = parse_spec_text(spec_text)
    return run_audit(spec, out_dir=tmp_path / "out", cache_dir=tmp_path / "cache", progress=False)


def evidence_of(result: AuditResult):
    (check,) = [c for c in result.models[0].checks if c.name == "evidence"]
    return check


def test_retrieval_evidence_in_results_and_report(tmp_path: Path) -> None:
    check = evidence_of(audit(tmp_path, EVIDENCE_SPEC))
    assert check.status == "info", check.message  # evidence judges nothing
    items = check.artefacts["items"]
    assert len(items) == 3 and check.artefacts["generator"] is None
    for item in items:
        assert len(item["retrieval_orig"]) == 2
        assert (tmp_path / "out" / item["image"]).is_file()
        assert all((tmp_path / "out" / m["image"]).is_file() for m in item["retrieval_eq"])
    (report,) = render_reports(tmp_path / "out", formats=("html",)).values()
    assert "data:image/png;base64" in report.read_text()


def test_unclip_evidence_through_the_runner(tmp_path: Path, unclip_16d: Path) -> None:
    generator = (
        f"generator:\n  id: unclip:{unclip_16d}\n"
        "  options: {device: cpu, decoder_steps: 2, super_resolution: false}\n"
        "  seeds: [0, 1]\n  size: 32\n"
    )
    spec = EVIDENCE_SPEC.replace("report:", generator + "report:").replace(
        "evidence: {max_images: 3, retrieval_k: 2}", "evidence: {max_images: 2, seeds: [0, 1]}"
    )
    with one_torch_thread():
        result = audit(tmp_path, spec)
    check = evidence_of(result)
    assert check.status == "info", check.message  # evidence judges nothing
    assert check.artefacts["generator"] == f"unclip:{unclip_16d}"
    assert check.artefacts["seconds"] > 0
    model = result.models[0].name
    assert result.provenance["generation_s"] == {model: check.artefacts["seconds"]}
    for item in check.artefacts["items"]:
        assert len(item["render_orig"]) == len(item["render_eq"]) == 2
        assert all(
            (tmp_path / "out" / path).is_file() for path in item["render_orig"] + item["render_eq"]
        )
