"""``singaudit card``: model-index entries through huggingface_hub, the rest of the card kept."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

hub = pytest.importorskip("huggingface_hub", reason="model cards need singaudit[integrations]")

from singaudit.cli.main import run_cli
from singaudit.integrations.model_card import END, START, update_card
from singaudit.results import AuditResult, CheckResult, Metric, ModelResult, Tiers

FRONT = """---
license: apache-2.0
# tags the team keeps by hand
tags:
- vision
model-index:
- name: acme-net
  results:
  - task:
      type: image-classification
    dataset:
      type: cifar10
      name: CIFAR-10
    metrics:
    - type: accuracy
      value: 0.91
library_name: timm
---
"""
BODY = "# acme-net\n\nA classifier. Its training is described below.\n\n## Training\n\nSGD.\n"


def judged(value: float, status: str) -> Metric:
    return Metric(value=value, statistic="median", status=status,
                  tiers=Tiers(metric="m", statistic="median", fail=3.0))


@pytest.fixture
def results(tmp_path) -> Path:
    def model(name: str, leak: float) -> ModelResult:
        return ModelResult.from_checks(name=name, id=f"calibration:{name}", expect="pass", checks=[
            CheckResult(name="null_invariance", status="pass",
                        metrics={"removal_relative_change": judged(2e-6, "pass"),
                                 "null_energy": Metric(value=0.99)}),  # not judged: not listed
            CheckResult(name="class_semantics", status="fail" if leak > 3 else "pass",
                        message=f"specific_leak median {leak} > fail 3; 6 classes judged",
                        metrics={"specific_leak": judged(leak, "fail" if leak > 3 else "pass")}),
        ])
    audit = AuditResult.from_models(name="nightly", models=[model("clean", 1.2),
                                                            model("leaky", 4.5)],
                                    provenance={"data": {"id": "hf-dataset:acme/pets"},
                                                "spec": {"sha256": "cd" * 32}})
    path = tmp_path / "out" / "results.json"
    path.parent.mkdir()
    audit.write(path)
    return path


def singaudit_entries(card_path: Path) -> dict[str, float]:
    card = hub.ModelCard.load(card_path)
    return {e.metric_type: e.metric_value for e in card.data.eval_results
            if e.metric_type.startswith("singaudit/")}


def test_a_new_card_round_trips_through_huggingface_hub(results, tmp_path):
    card_path = tmp_path / "README.md"
    done = update_card(results, card_path, model="leaky", report_url="https://example.org/r")
    assert done.created and done.entries == 2
    card = hub.ModelCard.load(card_path)
    entries = card.data.eval_results
    assert {e.metric_type: e.metric_value for e in entries} == {
        "singaudit/null_invariance/removal_relative_change": 2e-6,
        "singaudit/class_semantics/specific_leak": 4.5}
    assert {e.task_type for e in entries} == {"image-classification"}
    assert {e.dataset_type for e in entries} == {"acme/pets"}  # the hub dataset's own id
    assert {e.source_url for e in entries} == {"https://example.org/r"}
    assert card.data.model_name == "leaky"
    assert "**leaky** failed the singaudit audit `nightly`" in card.text
    assert "| class_semantics | fail | specific_leak median 4.5 > fail 3 |" in card.text


def test_an_existing_card_changes_only_in_model_index_and_the_section(results, tmp_path):
    card_path = tmp_path / "README.md"
    card_path.write_text(FRONT + BODY)
    update_card(results, card_path, model="clean")
    text = card_path.read_text()
    front, body = text.split("\n---\n", 1)
    # Every front matter line outside the model-index block is byte for byte as it was.
    kept = [line for line in FRONT.split("\n---\n")[0].splitlines()
            if not line.startswith((" ", "- ", "model-index"))]
    assert [line for line in front.splitlines()
            if not line.startswith((" ", "- ", "model-index"))] == kept
    assert "# tags the team keeps by hand" in front and "library_name: timm" in front
    assert body.startswith(BODY) and body.count(START) == 1 and body.rstrip().endswith(END)
    card = hub.ModelCard.load(card_path)
    assert card.data.model_name == "acme-net"  # the card's own name is kept
    accuracy = [e for e in card.data.eval_results if e.metric_type == "accuracy"]
    assert [(e.dataset_type, e.metric_value) for e in accuracy] == [("cifar10", 0.91)]
    assert singaudit_entries(card_path)["singaudit/class_semantics/specific_leak"] == 1.2

    # A second audit replaces singaudit's entries and section; nothing else moves.
    update_card(results, card_path, model="leaky")
    again = card_path.read_text()
    assert singaudit_entries(card_path)["singaudit/class_semantics/specific_leak"] == 4.5
    assert again.count(START) == 1 and again.split("\n---\n", 1)[1].startswith(BODY)
    assert len(hub.ModelCard.load(card_path).data.eval_results) == 3
    update_card(results, card_path, model="leaky")
    assert card_path.read_text() == again  # idempotent


def test_a_card_without_front_matter_gets_one_and_keeps_its_text(results, tmp_path):
    card_path = tmp_path / "README.md"
    card_path.write_text(BODY)
    update_card(results, card_path, model="clean")
    text = card_path.read_text()
    assert text.startswith("---\nmodel-index:\n") and BODY in text
    assert text.index(BODY) < text.index(START)
    assert len(singaudit_entries(card_path)) == 2


def test_several_models_need_a_choice_and_the_card_is_untouched(results, tmp_path, capsys):
    card_path = tmp_path / "README.md"
    card_path.write_text(BODY)
    assert run_cli(["card", str(results), "--card", str(card_path)]) == 4
    assert "has 2 models (clean, leaky); choose one with --model NAME" in capsys.readouterr().err
    assert run_cli(["card", str(results), "--card", str(card_path), "--model", "nope"]) == 4
    assert card_path.read_text() == BODY


def test_card_as_a_subprocess(results, tmp_path):
    card_path = tmp_path / "README.md"
    done = subprocess.run([str(Path(sys.executable).parent / "singaudit"), "card",
                           str(results.parent), "--card", str(card_path), "--model", "clean"],
                          capture_output=True, text=True, timeout=120, check=False,
                          env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert done.returncode == 0, done.stderr
    assert "wrote" in done.stdout and "2 model-index entries for clean" in done.stdout
    assert len(singaudit_entries(card_path)) == 2
