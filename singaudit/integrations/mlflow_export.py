"""An audit as MLflow runs: one parent run per audit (statuses as tags, every model's check
metrics, the spec, results.json and the reports as artifacts) and one child run per model
(its check metrics and per-class metrics).

Metric names read as paths and sort by check: ``null_invariance/removal_relative_change``,
per class ``class_semantics/specific_leak.<class>``, and in the parent run prefixed by the model
(``resnet50/null_invariance/...``). Statuses are tags: ``singaudit.status``,
``singaudit.status.<check>`` (no key is both a name and a folder: the file store keeps keys as
paths). The default tracking URI is ``MLFLOW_TRACKING_URI``, else an
``mlruns`` file store in the working folder (what ``mlflow ui`` opens).
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from singaudit.errors import MissingDependency, SingauditError
from singaudit.integrations._results import read_results
from singaudit.results import AuditResult, CheckResult

DEFAULT_STORE = "mlruns"
_BATCH = 1000  # MLflow's log_batch limit on metrics per call
_UNSAFE = re.compile(r"[^A-Za-z0-9_\-. ]+")  # MLflow allows these (and "/", our separator)


@dataclass(frozen=True)
class MlflowRuns:
    """Where an export went: the parent run and one child run per model name."""

    tracking_uri: str
    experiment_id: str
    run_id: str
    model_runs: dict[str, str]

    def describe(self) -> str:
        """One line for the terminal: where the runs went."""
        return f"run {self.run_id} ({len(self.model_runs)} model runs) in {self.tracking_uri}"


def metric_key(*parts: str, per_class: str | None = None) -> str:
    """``[model/]check/metric[.class]``; characters MLflow refuses (and "/" in a name) become
    ``_``."""
    key = "/".join(_safe(part) for part in parts)
    return key if per_class is None else f"{key}.{_safe(per_class)}"


def _safe(part: str) -> str:
    return _UNSAFE.sub("_", part).strip(" .") or "_"


def resolve_tracking_uri(uri: str | None) -> str:
    """``uri``, else MLFLOW_TRACKING_URI, else ./mlruns; a plain path becomes a file: URI."""
    chosen = uri or os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_STORE
    if "://" in chosen or chosen.startswith("file:"):
        return chosen
    return Path(chosen).expanduser().absolute().as_uri()


def export_results(results: str | Path, *, tracking_uri: str | None = None,
                   experiment: str | None = None, run_name: str | None = None,
                   spec_path: str | Path | None = None) -> MlflowRuns:
    """Log the audit in ``results`` (a results.json or its folder) as MLflow runs; the files
    beside results.json (reports, artefacts) and the spec become the parent run's artifacts."""
    audit = read_results(results)
    folder = Path(results).expanduser()
    folder = folder if folder.is_dir() else folder.parent
    uri = resolve_tracking_uri(tracking_uri)
    mlflow, client = _client(uri)
    with _quiet(), _mlflow_errors(mlflow, uri):
        experiment_id = _experiment(client, experiment or audit.name)
        parent = client.create_run(experiment_id, run_name=run_name or audit.name,
                                   tags=_audit_tags(audit))
        run_id = parent.info.run_id
        try:
            _log(mlflow, client, run_id, _audit_metrics(audit), _audit_params(audit))
            children = {}
            for model in audit.models:
                child = client.create_run(experiment_id, run_name=model.name, tags={
                    "mlflow.parentRunId": run_id, **_model_tags(model)})
                _log(mlflow, client, child.info.run_id, _model_metrics(model.checks),
                     {"model.id": model.id, **_info_params(model.info)})
                client.set_terminated(child.info.run_id, "FINISHED")
                children[model.name] = child.info.run_id
            client.log_artifacts(run_id, str(folder), artifact_path="singaudit")
            if spec_path is not None and Path(spec_path).is_file():
                client.log_artifact(run_id, str(spec_path), artifact_path="spec")
        except BaseException:
            client.set_terminated(run_id, "FAILED")  # a half-logged run says so
            raise
        client.set_terminated(run_id, "FINISHED")
    return MlflowRuns(uri, experiment_id, run_id, children)


def _client(uri: str):
    try:
        import mlflow
        from mlflow.tracking import MlflowClient
    except ImportError:
        raise MissingDependency("MLflow tracking needs mlflow: pip install "
                                "'singaudit[integrations]' (or mlflow-skinny)") from None
    if uri.startswith("file:"):
        # MLflow 3 keeps the file store in maintenance and refuses it unless told: it is the
        # embedded store that needs no database.
        os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    return mlflow, MlflowClient(tracking_uri=uri)


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """MLflow's INFO lines (experiment created, ...) stay off the audit's terminal."""
    logger = logging.getLogger("mlflow")
    previous = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(previous)


@contextlib.contextmanager
def _mlflow_errors(mlflow, uri: str) -> Iterator[None]:
    try:
        yield
    except mlflow.exceptions.MlflowException as error:
        message = str(error).strip().splitlines()[0] if str(error).strip() else "failed"
        raise SingauditError(f"MLflow ({uri}): {message} (the audit's results are kept)"
                             ) from None
    except OSError as error:
        raise SingauditError(f"MLflow ({uri}): {error} (the audit's results are kept)") from None


def _experiment(client, name: str) -> str:
    found = client.get_experiment_by_name(name)
    if found is None:
        return client.create_experiment(name)
    if found.lifecycle_stage == "deleted":
        raise SingauditError(f"MLflow experiment {name!r} is deleted; restore it or name another "
                             "(report.mlflow.experiment)")
    return found.experiment_id


def _audit_tags(audit: AuditResult) -> dict[str, str]:
    tags = {"singaudit.status": audit.status, "singaudit.ok": str(audit.ok).lower(),
            "singaudit.audit": audit.name}
    spec = audit.provenance.get("spec") or {}
    if spec.get("sha256"):
        tags["singaudit.spec_sha256"] = str(spec["sha256"])
    for model in audit.models:
        tags[f"singaudit.status.{_safe(model.name)}"] = model.status
    return tags


def _model_tags(model) -> dict[str, str]:
    tags = {"singaudit.status": model.status, "singaudit.model": model.name,
            "singaudit.expect": model.expect}
    if model.expectation_met is not None:
        tags["singaudit.expectation_met"] = str(model.expectation_met).lower()
    for check in model.checks:
        tags[f"singaudit.status.{_safe(check.name)}"] = check.status
        if check.message:
            tags[f"singaudit.message.{_safe(check.name)}"] = check.message[:5000]
    return tags


def _audit_params(audit: AuditResult) -> dict[str, str]:
    data = audit.provenance.get("data") or {}
    params = {"data.id": data.get("id"), "data.images": data.get("images"),
              "singaudit.version": (audit.provenance.get("versions") or {}).get("singaudit"),
              "joint_space.id": (audit.provenance.get("joint_space") or {}).get("id")}
    return {k: str(v) for k, v in params.items() if v is not None}


def _info_params(info: dict) -> dict[str, str]:
    return {f"model.{k}": str(v) for k, v in info.items()
            if isinstance(v, (str, int, float, bool)) and k in (
                "feature_dim", "num_classes", "null_dim", "weights_hash")}


def _finite(value) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)) and math.isfinite(value):
        return float(value)
    return None


def _check_metrics(check: CheckResult, *prefix: str) -> dict[str, float]:
    found = {}
    for name, metric in check.metrics.items():
        if (value := _finite(metric.value)) is not None:
            found[metric_key(*prefix, check.name, name)] = value
    return found


def _model_metrics(checks: list[CheckResult]) -> dict[str, float]:
    found: dict[str, float] = {}
    for check in checks:
        found.update(_check_metrics(check))
        for class_name, result in check.per_class.items():
            for name, metric in result.metrics.items():
                if (value := _finite(metric.value)) is not None:
                    found[metric_key(check.name, name, per_class=class_name)] = value
    return found


def _audit_metrics(audit: AuditResult) -> dict[str, float]:
    statuses = [check.status for model in audit.models for check in model.checks]
    found = {f"singaudit.checks_{status}": float(statuses.count(status))
             for status in sorted(set(statuses))}
    found["singaudit.models"] = float(len(audit.models))
    for model in audit.models:
        for check in model.checks:
            found.update(_check_metrics(check, model.name))
    return found


def _log(mlflow, client, run_id: str, metrics: dict[str, float], params: dict[str, str]) -> None:
    from mlflow.entities import Metric, Param

    now = int(time.time() * 1000)
    entries = [Metric(key, value, now, 0) for key, value in sorted(metrics.items())]
    for start in range(0, len(entries), _BATCH):
        client.log_batch(run_id, metrics=entries[start:start + _BATCH])
    items = [Param(key, value[:6000]) for key, value in sorted(params.items())]
    for start in range(0, len(items), 100):
        client.log_batch(run_id, params=items[start:start + 100])


def track_audit(settings, out_dir: str | Path, uri: str | None,
                spec_path: str | Path | None) -> MlflowRuns | None:
    """The step after an audit's results are published, shared by ``singaudit run`` and the
    pytest plugin: log to ``uri`` (--mlflow, --singaudit-mlflow) or to the spec's
    ``report.mlflow`` settings; None when neither asks for it."""
    if uri is None and settings is None:
        return None
    return export_results(out_dir, tracking_uri=uri or getattr(settings, "tracking_uri", None),
                          experiment=getattr(settings, "experiment", None),
                          run_name=getattr(settings, "run_name", None), spec_path=spec_path)
