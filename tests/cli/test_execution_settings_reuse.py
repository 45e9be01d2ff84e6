"""Where forward passes run changes no result, so it keys no cached check: a run that differs
only in its execution settings reuses every check of the last one (tests/pipeline/
test_ray_cli.py does the same across the local and Ray engines)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "audits" / "demo.yaml"
SINGAUDIT = Path(sys.executable).with_name("singaudit")
# The demo reduced to seconds of work.
SMALL = ("data.images_per_class=8", "data.options.scenes=72", "translator.fit.options.scenes=360",
         "checks={null_invariance: {}, class_semantics: {n_boot: 100}}", "report.formats=[json]",
         "device=cpu")


def _run(tmp_path: Path, out: str, *options: str) -> tuple[dict, str]:
    args = [str(SINGAUDIT), "run", str(DEMO), "--out", str(tmp_path / out), "--cache-dir",
            str(tmp_path / "cache"), "--only", "clean", *options]
    for assignment in SMALL:
        args += ["--set", assignment]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=600,
                          check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads((tmp_path / out / "results.json").read_text()), done.stderr


def _checks(results: dict) -> list[str]:
    return [f"{model['name']}::{check['name']}" for model in results["models"]
            for check in model["checks"]]


def test_other_execution_settings_reuse_every_cached_check(tmp_path):
    first, _ = _run(tmp_path, "first", "--set", "execution.batch_size=16")
    assert first["provenance"]["cached_checks"] == []
    # --no-replay: the run is computed, each check found in the cache by its key.
    second, _ = _run(tmp_path, "second", "--no-replay", "--set", "execution.batch_size=5")
    assert _checks(second) == _checks(first) == ["clean::null_invariance",
                                                 "clean::class_semantics"]
    assert second["provenance"]["cached_checks"] == _checks(first)
    sys.path.insert(0, str(ROOT / "scripts"))
    from compare_results import differences

    # The same verdicts and measurements (the translator's source says "cache" now).
    assert differences(*([m["checks"] for m in run["models"]] for run in (first, second))) == []
    # Without --no-replay, the run record of the first run is replayed: nothing is loaded.
    third, printed = _run(tmp_path, "third", "--set", "execution.batch_size=3")
    assert "inputs unchanged since a computed run" in printed
    assert third["provenance"]["cached_checks"] == _checks(first)
