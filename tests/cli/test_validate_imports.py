"""`singaudit validate` stays light: it resolves every id without importing the libraries that
build or run models (they cost seconds to import), checked in a fresh interpreter."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("torch", "torchvision", "timm", "open_clip", "scipy", "sklearn", "matplotlib",
         "weasyprint", "diffusers", "transformers")


def _validate_in_fresh_process(*args: str, cwd: Path = ROOT) -> tuple[int, list[str], str]:
    """Exit code, heavy modules imported and stderr of ``singaudit validate ARGS``."""
    script = (
        "import json, sys\n"
        "from singaudit.cli.main import run_cli\n"
        f"code = run_cli(['validate', *{list(args)!r}])\n"
        f"heavy = sorted(m for m in {HEAVY!r} if m in sys.modules)\n"
        "print('HEAVY=' + json.dumps([code, heavy]))\n"
    )
    path = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    env = {**os.environ, "PYTHONPATH": path, "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-c", script], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120, check=False)
    marker = [line for line in done.stdout.splitlines() if line.startswith("HEAVY=")]
    assert marker, done.stdout + done.stderr
    code, heavy = json.loads(marker[-1].removeprefix("HEAVY="))
    return code, heavy, done.stderr


def test_validate_of_the_demo_spec_imports_no_model_library():
    code, heavy, errors = _validate_in_fresh_process("audits/demo.yaml")
    assert code == 0, errors
    assert heavy == []


def test_validate_of_a_bad_calibration_id_suggests_without_torch():
    code, heavy, errors = _validate_in_fresh_process(
        "audits/demo.yaml", "--set", "models.1.id=calibration:leakyy")
    assert code == 4
    assert "did you mean 'leaky'" in errors
    assert heavy == []


def _cache_the_model_lists() -> None:
    """Build the libraries' model lists in this process (they import torch), in the test's cache
    folder, for the fresh process to read."""
    from singaudit.adapters import model_lists

    for listing in (model_lists.timm_models, model_lists.open_clip_models,
                    model_lists.torchvision_models):
        listing.cache_clear()
        listing()


def test_validate_of_library_ids_reads_their_cached_lists_without_the_libraries():
    _cache_the_model_lists()
    code, heavy, errors = _validate_in_fresh_process(
        "audits/demo.yaml", "--set", "models.0.id=timm:resnet5o",
        "--set", "models.1.id=torchvision:resnet50@IMAGENET1K_V9",
        "--set", "joint_space.id=open_clip:ViT-B-32@opnai")
    assert code == 4
    assert "timm has no model 'resnet5o' (did you mean 'resnet50'" in errors
    assert "torchvision:resnet50 has no weights 'IMAGENET1K_V9' (did you mean" in errors
    assert "open_clip:ViT-B-32 has no pretrained tag 'opnai' (did you mean 'openai'" in errors
    assert heavy == []


def test_validate_checks_a_library_sources_options_without_importing_it():
    _cache_the_model_lists()
    code, heavy, errors = _validate_in_fresh_process(
        "audits/demo.yaml", "--set", "models.0.id=torchvision:resnet50",
        "--set", "models.0.options={wieghts: resnet50.pth}")
    assert code == 4
    assert "unknown option 'wieghts' for classifier source 'torchvision'" in errors
    assert heavy == []


def test_hub_weights_count_as_cached_once_their_snapshot_is_in_the_hub_cache(
        spec_file, tmp_path, monkeypatch, capsys):
    from huggingface_hub import constants

    from singaudit.cli.main import run_cli

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    args = ["validate", str(spec_file), "--set", "models.1.id=timm:resnet50.a1_in1k"]
    assert run_cli(args) == 4
    assert "timm/resnet50.a1_in1k) are not in the local Hugging Face cache" in capsys.readouterr().err
    snapshot = tmp_path / "hub" / "models--timm--resnet50.a1_in1k" / "snapshots" / "0123abcd"
    snapshot.mkdir(parents=True)
    (snapshot / "model.safetensors").write_bytes(b"")
    assert run_cli(args) == 0
