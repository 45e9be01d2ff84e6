"""An audit logged to a real MLflow file store and read back with mlflow.search_runs."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

mlflow = pytest.importorskip("mlflow", reason="MLflow tracking needs singaudit[integrations]")

from singaudit.errors import SingauditError
from singaudit.integrations.mlflow_export import export_results, metric_key
from singaudit.results import AuditResult, CheckResult, ClassResult, Metric, ModelResult


def metric(value, status=None) -> Metric:
    return Metric(value=value, statistic="median", status=status)


@pytest.fixture
def audit_folder(tmp_path):
    """A results.json of two models (one failing), with per-class metrics and a report."""
    def checks(leak: float) -> list[CheckResult]:
        return [
            CheckResult(name="null_invariance", status="pass",
                        metrics={"removal_relative_change": metric(3e-6, "pass"),
                                 "top1_unchanged": metric(1.0, "pass"),
                                 "unknown": metric(None)}),
            CheckResult(name="class_semantics", status="fail" if leak > 3 else "pass",
                        message="specific_leak median 4.2 > 3" if leak > 3 else "",
                        metrics={"specific_leak": metric(leak, "fail" if leak > 3 else "pass")},
                        per_class={"great white shark": ClassResult(
                                       n=5, metrics={"specific_leak": metric(leak + 1)}),
                                   "T-shirt/top": ClassResult(
                                       n=5, metrics={"specific_leak": metric(leak - 1)})}),
        ]
    models = [ModelResult.from_checks(name="clean", id="calibration:clean", expect="pass",
                                      checks=checks(1.5)),
              ModelResult.from_checks(name="leaky", id="calibration:leaky", expect="fail",
                                      checks=checks(4.2))]
    audit = AuditResult.from_models(name="demo", models=models, provenance={
        "spec": {"sha256": "ab" * 32}, "data": {"id": "calibration:audit", "images": 60}})
    folder = tmp_path / "out"
    folder.mkdir()
    audit.write(folder / "results.json")
    (folder / "report.html").write_text("<html>report</html>")
    spec = tmp_path / "demo.yaml"
    spec.write_text("name: demo\n")
    return folder, spec


def test_one_parent_run_and_a_child_per_model_read_back(audit_folder, tmp_path):
    folder, spec = audit_folder
    store = tmp_path / "mlruns"
    runs = export_results(folder, tracking_uri=str(store), experiment="audits",
                          run_name="nightly", spec_path=spec)
    assert runs.tracking_uri == store.as_uri() and set(runs.model_runs) == {"clean", "leaky"}
    mlflow.set_tracking_uri(runs.tracking_uri)
    found = mlflow.search_runs(experiment_names=["audits"], output_format="list")
    by_id = {run.info.run_id: run for run in found}
    assert set(by_id) == {runs.run_id, *runs.model_runs.values()}

    parent = by_id[runs.run_id].data
    assert parent.tags["mlflow.runName"] == "nightly"
    assert parent.tags["singaudit.status"] == "fail" and parent.tags["singaudit.ok"] == "true"
    assert parent.tags["singaudit.status.leaky"] == "fail"
    assert parent.metrics["leaky/class_semantics/specific_leak"] == pytest.approx(4.2)
    assert parent.metrics["singaudit.checks_fail"] == 1 and parent.metrics["singaudit.models"] == 2
    assert parent.params["data.id"] == "calibration:audit"

    leaky = by_id[runs.model_runs["leaky"]].data
    assert leaky.tags["mlflow.parentRunId"] == runs.run_id
    assert leaky.tags["singaudit.status.class_semantics"] == "fail"
    assert leaky.tags["singaudit.expectation_met"] == "true"
    assert "specific_leak median 4.2 > 3" in leaky.tags["singaudit.message.class_semantics"]
    assert leaky.metrics["null_invariance/removal_relative_change"] == pytest.approx(3e-6)
    assert leaky.metrics["class_semantics/specific_leak.great white shark"] == pytest.approx(5.2)
    assert leaky.metrics["class_semantics/specific_leak.T-shirt_top"] == pytest.approx(3.2)
    assert not any("unknown" in key for key in leaky.metrics)  # a null value is not logged
    assert leaky.params["model.id"] == "calibration:leaky"

    client = mlflow.MlflowClient(runs.tracking_uri)
    artifacts = {a.path for a in client.list_artifacts(runs.run_id, "singaudit")}
    assert {"singaudit/results.json", "singaudit/report.html"} <= artifacts
    assert [a.path for a in client.list_artifacts(runs.run_id, "spec")] == ["spec/demo.yaml"]
    logged = client.download_artifacts(runs.run_id, "singaudit/results.json", str(tmp_path))
    assert json.loads(Path(logged).read_text())["name"] == "demo"


def test_a_second_export_adds_a_run_to_the_same_experiment(audit_folder, tmp_path):
    folder, _ = audit_folder
    first = export_results(folder / "results.json", tracking_uri=str(tmp_path / "mlruns"))
    second = export_results(folder, tracking_uri=str(tmp_path / "mlruns"))
    assert first.experiment_id == second.experiment_id and first.run_id != second.run_id
    mlflow.set_tracking_uri(first.tracking_uri)
    parents = mlflow.search_runs(experiment_names=["demo"],
                                 filter_string="tags.singaudit.audit = 'demo'")
    assert len(parents) == 2
    assert all(math.isclose(v, 4.2) for v in parents["metrics.leaky/class_semantics/specific_leak"])


def test_a_missing_results_file_is_one_clear_error(tmp_path):
    with pytest.raises(SingauditError, match="cannot read .*results.json"):
        export_results(tmp_path, tracking_uri=str(tmp_path / "mlruns"))
    assert not (tmp_path / "mlruns").exists()


def test_metric_keys_are_names_mlflow_accepts():
    assert metric_key("model", "check", "m", per_class="a/b: c?") == "model/check/m.a_b_ c_"


SPEC = """version: 1
kind: singaudit/audit
name: tracked
models: [{name: clean, id: "calibration:clean"}]
data: {id: "calibration:audit", options: {scenes: 60}, images_per_class: 5}
checks: {null_invariance: {}}
report:
  formats: [json, junit]
  mlflow: {tracking_uri: "%s", experiment: nightly, run_name: "from the spec"}
"""


def test_run_logs_to_the_spec_s_mlflow_store_as_a_subprocess(tmp_path):
    import os
    import subprocess
    import sys

    store = tmp_path / "store"
    spec = tmp_path / "tracked.yaml"
    spec.write_text(SPEC % store)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "SINGAUDIT_CACHE": str(tmp_path / "cache"),
           "OMP_NUM_THREADS": "1"}
    done = subprocess.run([str(Path(sys.executable).parent / "singaudit"), "run", str(spec),
                           "--out", str(tmp_path / "out")], capture_output=True, text=True,
                          timeout=300, env=env, check=False)
    assert done.returncode == 0, done.stderr
    assert f"in {store.as_uri()}" in done.stderr
    mlflow.set_tracking_uri(store.as_uri())
    runs = mlflow.search_runs(experiment_names=["nightly"])
    parent = runs[runs["tags.mlflow.runName"] == "from the spec"]
    assert len(parent) == 1 and len(runs) == 2
    assert parent["tags.singaudit.status"].item() == "pass"
    child = runs[runs["tags.mlflow.runName"] == "clean"]
    assert child["metrics.null_invariance/top1_unchanged"].item() == 1.0
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    value = results["models"][0]["checks"][0]["metrics"]["removal_relative_change"]["value"]
    assert child["metrics.null_invariance/removal_relative_change"].item() == pytest.approx(value)


def test_the_mlflow_flag_overrides_the_store(tmp_path):
    from singaudit.cli.main import run_cli

    spec = tmp_path / "tracked.yaml"
    spec.write_text(SPEC % (tmp_path / "ignored"))
    assert run_cli(["run", str(spec), "--out", str(tmp_path / "out"), "--mlflow",
                    str(tmp_path / "flag")]) == 0
    assert (tmp_path / "flag").is_dir() and not (tmp_path / "ignored").exists()
