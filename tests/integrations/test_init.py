"""``singaudit init``: a commented spec that validates and runs, classes read from the data."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from singaudit.cli.main import run_cli

SINGAUDIT = str(Path(sys.executable).parent / "singaudit")


def test_init_then_run_the_written_spec(tmp_path):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "SINGAUDIT_CACHE": str(tmp_path / "cache"),
           "OMP_NUM_THREADS": "1"}
    spec = tmp_path / "audits" / "mine.yaml"
    made = subprocess.run([SINGAUDIT, "init", str(spec), "--model", "calibration:clean", "--data",
                           "calibration:audit", "--joint-space", "calibration:joint"],
                          capture_output=True, text=True, timeout=300, env=env, check=False)
    assert made.returncode == 0, made.stderr
    text = spec.read_text()
    document = yaml.safe_load(text)
    assert document["data"]["classes"] == ["circle", "square", "triangle", "star", "cross",
                                           "heart"]
    assert "class_semantics" in document["checks"] and document["joint_space"]["id"] == (
        "calibration:joint")
    assert "# The cache folder is SINGAUDIT_CACHE" in text and "# out: reports/clean" in text
    from singaudit.checks import CHECKS

    tier = CHECKS.get("class_semantics").default_tiers[0]  # listed as the check declares it
    assert (f"{tier.metric} {tier.statistic}: warn {tier.warn:g}, fail {tier.fail:g} "
            f"(lower is better, {tier.scope})") in text
    ran = subprocess.run([SINGAUDIT, "run", str(spec), "--out", str(tmp_path / "out")],
                         capture_output=True, text=True, timeout=600, env=env, check=False)
    assert ran.returncode == 0, ran.stderr
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert [c["name"] for c in results["models"][0]["checks"]] == list(document["checks"])
    assert results["models"][0]["status"] == "pass"


def test_init_never_overwrites(tmp_path, capsys):
    spec = tmp_path / "audit.yaml"
    spec.write_text("# mine\n")
    code = run_cli(["init", str(spec), "--model", "calibration:clean", "--data",
                    "calibration:audit"])
    assert code == 4
    assert "exists; init never overwrites" in capsys.readouterr().err
    assert spec.read_text() == "# mine\n"


def test_init_refuses_ids_that_do_not_resolve_and_writes_nothing(tmp_path, capsys):
    spec = tmp_path / "audit.yaml"
    code = run_cli(["init", str(spec), "--model", "calibration:clen", "--data",
                    "calibration:audit"])
    assert code == 4
    assert "no calibration classifier 'clen'" in capsys.readouterr().err
    assert not spec.exists()


def test_init_reads_classes_and_options_of_a_saved_hf_dataset(tmp_path):
    datasets = pytest.importorskip("datasets", reason="needs singaudit[integrations]")
    from PIL import Image

    names = [f"class {i}" for i in range(14)]
    rows = {"image": [Image.new("RGB", (8, 8), (i, 0, 0)) for i in range(28)],
            "label": [i % 14 for i in range(28)]}
    features = datasets.Features({"image": datasets.Image(),
                                  "label": datasets.ClassLabel(names=names)})
    table = datasets.Dataset.from_dict(rows, features=features)
    datasets.DatasetDict({"validation": table, "train": table}).save_to_disk(
        str(tmp_path / "set"))
    spec = tmp_path / "audit.yaml"
    assert run_cli(["init", str(spec), "--model", "calibration:clean", "--data",
                    f"hf-dataset:{tmp_path / 'set'}", "--data-option", "split=validation"]) == 0
    text = spec.read_text()
    document = yaml.safe_load(text)
    assert document["data"]["options"] == {"split": "validation"}
    assert document["data"]["classes"] == "all" and "# 14 classes, from class 0" in text
    assert document["data"]["images_per_class"] == 2  # what the smallest class has
    assert list(document["checks"]) == ["null_invariance", "null_probe"]
