"""examples/model_ci runs as its users would run it: `pytest` in the project folder."""

from __future__ import annotations

import shutil
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "model_ci"


def test_model_ci_example_passes_with_the_canary_xfailing(inline_pytest):
    shutil.copytree(EXAMPLE, inline_pytest.path, dirs_exist_ok=True)
    result = inline_pytest.run_subprocess("-rx")
    # candidate: 2 checks pass; canary: null_invariance passes, class_semantics and the
    # expectation xfail; the two fixture tests pass.
    result.assert_outcomes(passed=5, xfailed=2)
    result.stdout.fnmatch_lines([
        "XFAIL audits/candidate.yaml::canary::class_semantics - expected failure*",
        "XFAIL audits/candidate.yaml::canary::expectation - canary is expected to fail*",
    ])


def test_model_ci_workflow_keeps_the_cache_and_runs_offline():
    import yaml

    workflow = yaml.safe_load((EXAMPLE / ".github" / "workflows" / "audit.yml").read_text())
    job = workflow["jobs"]["audit"]
    assert job["env"]["HF_HUB_OFFLINE"] == "1"
    cached = [step["with"]["path"] for step in job["steps"]
              if step.get("uses", "").startswith("actions/cache")]
    audit = next(step["run"] for step in job["steps"] if step.get("name") == "Audit")
    assert cached == [".singaudit-cache"] and "--singaudit-cache=.singaudit-cache" in audit
