"""`pytest audits/` logs to MLflow as `singaudit run` does: the spec's report.mlflow, or
--singaudit-mlflow, read back from a real file store."""

from __future__ import annotations

from pathlib import Path

import pytest

mlflow = pytest.importorskip("mlflow", reason="MLflow tracking needs singaudit[integrations]")


@pytest.fixture(autouse=True)
def _file_store_readable(monkeypatch):
    """Reading a file store back needs what the exporter sets when it writes one."""
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")


def _write_spec(project, store: Path | None = None) -> None:
    """The tiny project's spec, JSON reports only, logging to ``store`` when given."""
    path = project.write_spec()
    tracked = "" if store is None else (
        f'\n  mlflow: {{tracking_uri: "{store}", experiment: ci, run_name: "pytest run"}}')
    path.write_text(path.read_text().replace("formats: [html, json]", "formats: [json]" + tracked))


def _runs(store, experiment: str = "ci"):
    mlflow.set_tracking_uri(store.as_uri())
    return mlflow.search_runs(experiment_names=[experiment], output_format="list")


def test_the_spec_s_mlflow_store_gets_the_audit_from_pytest(tiny_project, tmp_path):
    store = tmp_path / "store"
    _write_spec(tiny_project, store)
    result = tiny_project.run_subprocess("audits/tiny.yaml")
    result.assert_outcomes(passed=1, skipped=1, xfailed=2)
    result.stdout.fnmatch_lines([(f"singaudit: tiny: mlflow: run * (3 model runs) in "
                                 f"{store.as_uri()}")])
    runs = _runs(store)
    parents = [run for run in runs if "mlflow.parentRunId" not in run.data.tags]
    assert len(parents) == 1 and len(runs) == 4
    parent = parents[0].data
    assert parent.tags["mlflow.runName"] == "pytest run"
    assert parent.tags["singaudit.status.quiet"] == "pass"
    assert parent.tags["singaudit.status.loud"] == "fail"
    assert "quiet/null_invariance/null_energy" in parent.metrics
    children = {run.data.tags["mlflow.runName"] for run in runs if run not in parents}
    assert children == {"quiet", "loud", "square"}


def test_the_option_overrides_the_spec_s_store(tiny_project, tmp_path):
    ignored, chosen = tmp_path / "ignored", tmp_path / "chosen"
    _write_spec(tiny_project, ignored)
    result = tiny_project.run(f"--singaudit-mlflow={chosen}", "audits/tiny.yaml::quiet")
    result.assert_outcomes(passed=1)
    assert not ignored.exists()
    runs = _runs(chosen)  # the parent and one child: only the selected model was audited
    assert sorted(run.data.tags["mlflow.runName"] for run in runs) == ["pytest run", "quiet"]
    parent = next(run for run in runs if run.data.tags["mlflow.runName"] == "pytest run")
    assert parent.data.tags["singaudit.status"] == "pass"
    assert {key.split("/")[0] for key in parent.data.metrics if "/" in key} == {"quiet"}


def test_no_mlflow_setting_logs_nothing(tiny_project, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    _write_spec(tiny_project)
    result = tiny_project.run("audits/tiny.yaml::quiet")
    result.assert_outcomes(passed=1)
    assert "tiny: mlflow:" not in result.stdout.str()
    assert not (tiny_project.path / "mlruns").exists()
