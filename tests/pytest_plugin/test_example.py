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
              if step.get("uses", "").startswith("actions/cache@")]
    audit = next(step["run"] for step in job["steps"] if step.get("name") == "Audit")
    assert cached == [".singaudit-cache"] and "--singaudit-cache=.singaudit-cache" in audit


def test_model_ci_workflow_closes_the_baseline_loop():
    import yaml

    workflow = yaml.safe_load((EXAMPLE / ".github" / "workflows" / "audit.yml").read_text())
    steps = workflow["jobs"]["audit"]["steps"]
    names = [step.get("name") for step in steps]
    runs = "\n".join(step.get("run", "") for step in steps)
    # Restore before the audit; accept and save only on main, after it.
    order = [names.index(n) for n in ("Restore the baseline", "Audit", "Summary",
                                      "Accept the baseline", "Save the baseline")]
    assert order == sorted(order)
    assert "--singaudit-baseline=baselines" in runs and "GITHUB_STEP_SUMMARY" in runs
    assert "singaudit diff baselines/candidate/results.json" in runs
    assert "singaudit baseline accept reports/candidate/results.json --store baselines" in runs
    accept = steps[names.index("Accept the baseline")]
    assert "refs/heads/main" in accept["if"]
    # No package index serves singaudit: it is installed from its repository.
    assert "pip install singaudit" not in runs
