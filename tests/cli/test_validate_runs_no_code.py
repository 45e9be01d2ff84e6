"""`singaudit validate` and pytest's `--collect-only` find a `python:` factory's module on the file
system: no package `__init__` of the spec's choosing runs, and `python:this...` prints nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SINGAUDIT = Path(sys.executable).with_name("singaudit")
PACKAGE_INIT = "import pathlib\npathlib.Path('{marker}').write_text('the package ran')\n"


def _folder_with_a_package(tmp_path: Path, model_id: str) -> tuple[Path, Path]:
    """A working folder holding ``evilpkg`` (its __init__ leaves a marker) and a spec using it."""
    marker = tmp_path / "RAN"
    package = tmp_path / "work" / "evilpkg"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(PACKAGE_INIT.format(marker=marker))
    (package / "models.py").write_text("def build():\n    raise SystemExit('factory ran')\n")
    (package / "sub").mkdir()
    (package / "sub" / "__init__.py").write_text(PACKAGE_INIT.format(marker=marker))
    (package / "sub" / "deep.py").write_text("")
    spec = (ROOT / "audits" / "demo.yaml").read_text().replace("calibration:leaky", model_id)
    (tmp_path / "work" / "audit.yaml").write_text(spec)
    return tmp_path / "work", marker


def _run(folder: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    return subprocess.run(args, cwd=folder, env=env, capture_output=True, text=True,
                          timeout=300, check=False)


def test_validate_finds_a_factory_module_without_running_its_package(tmp_path):
    for model_id in ("python:evilpkg.models:build", "python:evilpkg.sub.deep:build"):
        folder, marker = _folder_with_a_package(tmp_path / model_id.split(":")[1], model_id)
        done = _run(folder, str(SINGAUDIT), "validate", "audit.yaml")
        assert done.returncode == 0, done.stderr
        assert "every id resolved" in done.stdout
        assert not marker.exists()


def test_validate_names_a_missing_module_without_running_its_package(tmp_path):
    folder, marker = _folder_with_a_package(tmp_path, "python:evilpkg.nope:build")
    done = _run(folder, str(SINGAUDIT), "validate", "audit.yaml")
    assert done.returncode == 4
    assert "no module 'nope' in package 'evilpkg'" in done.stderr
    assert not marker.exists()


def test_validate_of_a_standard_module_with_side_effects_prints_nothing(tmp_path):
    folder, _ = _folder_with_a_package(tmp_path, "python:this.x:y")
    done = _run(folder, str(SINGAUDIT), "validate", "audit.yaml")
    assert done.returncode == 4
    assert "'this' is a module, not a package" in done.stderr
    assert "Zen of Python" not in done.stdout + done.stderr


def test_collect_only_runs_no_package_of_the_spec(tmp_path):
    folder, marker = _folder_with_a_package(tmp_path, "python:evilpkg.models:build")
    done = _run(folder, sys.executable, "-m", "pytest", "--collect-only", "-q",
                "-p", "no:cacheprovider", "audit.yaml")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "audit.yaml::clean::null_invariance" in done.stdout
    assert not marker.exists()
