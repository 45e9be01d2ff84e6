"""examples/custom_model: a python: factory in the working folder, audited end to end."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from singaudit.cli.main import run_cli

EXAMPLE = Path(__file__).parents[2] / "examples" / "custom_model"


@pytest.fixture
def in_example(monkeypatch):
    monkeypatch.chdir(EXAMPLE)
    yield EXAMPLE
    sys.modules.pop("shapes_net", None)


def test_the_example_validates_and_runs_from_its_folder(in_example, tmp_path, capsys):
    assert run_cli(["validate", "audit.yaml"]) == 0
    assert "every id resolved" in capsys.readouterr().out
    out = tmp_path / "out"
    assert run_cli(["run", "audit.yaml", "--out", str(out), "--set",
                    "report.formats=[json]"]) == 0
    model = json.loads((out / "results.json").read_text())["models"][0]
    assert model["id"] == "python:shapes_net:build"
    assert {check["name"] for check in model["checks"]} == {
        "null_invariance", "translator_fidelity", "class_semantics"}
    assert "shapes_net" not in str(sys.path)  # the working folder was only borrowed


def test_a_factory_without_its_preprocessing_gets_one_message(tmp_path, monkeypatch, capsys):
    (tmp_path / "bare_net.py").write_text(
        "from torch import nn\n\n"
        "def build():  # made for 64x64 inputs, returned without its preprocessing\n"
        "    body = nn.Sequential(nn.Conv2d(3, 4, 3, 2, 1), nn.Flatten(),\n"
        "                         nn.Linear(4 * 32 * 32, 16), nn.ReLU(), nn.Linear(16, 6))\n"
        "    return body, '4'\n")
    spec = (EXAMPLE / "audit.yaml").read_text().replace("python:shapes_net:build",
                                                         "python:bare_net:build")
    (tmp_path / "audit.yaml").write_text(spec.replace("options: {seed: 0}", "options: {}"))
    monkeypatch.chdir(tmp_path)
    try:
        code = run_cli(["run", "audit.yaml", "--out", str(tmp_path / "out")])
    finally:
        sys.modules.pop("bare_net", None)
    err = capsys.readouterr().err
    assert code == 4, err
    errors = [line for line in err.splitlines() if line.startswith("singaudit: ")]
    assert len(errors) == 1 and "(1, 3, 224, 224)" in errors[0] and "preprocessing" in errors[0]
    assert "mat1 and mat2" in errors[0] and "Traceback" not in err
