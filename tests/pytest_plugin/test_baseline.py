"""--singaudit-baseline: each model x check item also judges the regression tiers."""

from __future__ import annotations

import pytest

from singaudit.regression.store import accept

BASELINE_SPEC = """\
version: 1
kind: singaudit/audit
name: tiny
models:
  - name: quiet
    id: "python:plugin_world:make"
    options: {{null_scale: {null_scale}}}
data:
  id: "calibration:audit"
  images_per_class: 2
checks:
  null_invariance: {{}}
regression:
  tiers:
    - {{check: null_invariance, metric: null_energy, statistic: median, scope: overall,
       max_increase: {{fail: 0.01}}}}
report:
  formats: [json]
"""


def test_an_item_fails_when_worse_than_the_baseline(tiny_project):
    tiny_project.write_spec(text=BASELINE_SPEC.format(null_scale=0.05))
    first = tiny_project.run("--singaudit-report=runs")
    first.assert_outcomes(passed=1)
    accept(tiny_project.path / "runs" / "tiny" / "results.json", tiny_project.path / "baselines")

    same = tiny_project.run("--singaudit-baseline=baselines")
    same.assert_outcomes(passed=1)

    # Twice the null-space scale: more null energy than the baseline, by more than 0.01.
    tiny_project.write_spec(text=BASELINE_SPEC.format(null_scale=0.1))
    worse = tiny_project.run("--singaudit-baseline=baselines")
    worse.assert_outcomes(failed=1)
    worse.stdout.fnmatch_lines([
        "*regression against the baseline fail*",
        "*null_invariance.null_energy median: worse than baseline by 0.0* (CI *, paired) (> fail 0.01)*",
    ])
    assert "Traceback" not in worse.stdout.str()
    assert worse.ret == pytest.ExitCode.TESTS_FAILED


def test_a_missing_baseline_warns_and_does_not_fail(tiny_project):
    tiny_project.write_spec(text=BASELINE_SPEC.format(null_scale=0.05))
    result = tiny_project.run("--singaudit-baseline=nowhere")
    result.assert_outcomes(passed=1, warnings=1)
    result.stdout.fnmatch_lines(["*no regression judged: no baseline at *nowhere*tiny*"])
