"""Verdicts nobody can forge through the cache: a replayed or cached verdict is judged again from
the measurements stored with it; one that disagrees is a corrupt entry, computed again with one
warning; ``--recompute`` and ``--no-replay`` ignore check results or run records."""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from pathlib import Path

import pytest

from singaudit.runner import AuditSession, warm
from singaudit.runner.audit import replay_run
from singaudit.spec import Overrides
from singaudit.spec.loader import load_spec

# leaky's class semantics fail (its null space carries the class); clean's pass.
SPEC = """
version: 1
kind: singaudit/audit
name: forgery
models:
  - {name: clean, id: "calibration:clean", expect: pass}
  - {name: leaky, id: "calibration:leaky", expect: fail}
joint_space: {id: "calibration:joint"}
data: {id: "calibration:audit", options: {scenes: 120}, images_per_class: 12}
translator: {fit: {id: "calibration:validation", options: {scenes: 240}}}
checks:
  class_semantics: {n_boot: 50}
report: {formats: [json]}
"""


@pytest.fixture(scope="module")
def computed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One computing run of SPEC, whose cache keeps its check results and run record."""
    folder = tmp_path_factory.mktemp("forgery")
    (folder / "forgery.yaml").write_text(SPEC)
    out = folder / "out"
    result = AuditSession(cache_dir=folder / "cache", progress=False).run(_spec(folder),
                                                                          out_dir=out)
    assert _statuses(result) == {"clean": "pass", "leaky": "fail"} and result.ok
    return {"root": folder, "cache": folder / "cache", "out": out}


def _spec(folder: Path):
    return load_spec(folder / "forgery.yaml", Overrides(out=str(folder / "out")))


def _statuses(result) -> dict[str, str]:
    return {m.name: m.checks[0].status for m in result.models}


def _copy_cache(computed: dict[str, Path], tmp_path: Path) -> Path:
    """The computed cache in another folder, its run record renamed to the key there."""
    cache = tmp_path / "cache"
    shutil.copytree(computed["cache"], cache)
    key = warm.record_key(_spec(computed["root"]), None, cache, None)
    _record(cache).rename(cache / "runs" / f"{key}.json")
    return cache


def _record(cache: Path) -> Path:
    (record,) = (cache / "runs").glob("*.json")
    return record


def _entry(cache: Path, model: str) -> Path:
    record = json.loads(_record(cache).read_text())
    (entry,) = [m["checks"][0] for m in record["models"] if m["name"] == model]
    return cache / "checks" / entry["key"]


def _forge_pass(entry: Path) -> None:
    """Flip a cached result to pass (every status in it), and recompute its manifest's sha256."""
    result = json.loads((entry / "result.json").read_text())
    result["status"] = "pass"
    for per_class in result["per_class"].values():
        per_class["status"] = "pass"
        for metric in per_class["metrics"].values():
            metric["status"] = "pass" if metric.get("status") else metric.get("status")
    for metric in result["metrics"].values():
        metric["status"] = "pass" if metric.get("status") else metric.get("status")
    text = json.dumps(result).encode()
    (entry / "result.json").write_bytes(text)
    manifest = json.loads((entry / "manifest.json").read_text())
    manifest["result"] = hashlib.sha256(text).hexdigest()
    (entry / "manifest.json").write_text(json.dumps(manifest))


def _run(computed: dict[str, Path], cache: Path, **options):
    session = AuditSession(cache_dir=cache, progress=False, **options)
    return session.run(_spec(computed["root"]), out_dir=computed["root"] / "again", force=True)


def _warned(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "singaudit.cache"]


def test_a_run_record_holding_a_forged_verdict_is_not_replayed(computed, tmp_path, caplog):
    cache = _copy_cache(computed, tmp_path)
    record = json.loads(_record(cache).read_text())
    leaky = next(m for m in record["models"] if m["name"] == "leaky")
    leaky["checks"][0] = {"name": "class_semantics", "result": {
        "name": "class_semantics", "status": "pass", "message": "forged"}}
    _record(cache).write_text(json.dumps(record))
    with caplog.at_level(logging.WARNING, logger="singaudit.cache"):
        result = _run(computed, cache)
    assert _statuses(result) == {"clean": "pass", "leaky": "fail"} and result.ok
    assert len(_warned(caplog)) == 1 and "run record" in _warned(caplog)[0]


def test_a_run_record_pointing_at_another_models_entry_is_not_replayed(computed, tmp_path,
                                                                       caplog):
    cache = _copy_cache(computed, tmp_path)
    record = json.loads(_record(cache).read_text())
    keys = {m["name"]: m["checks"][0]["key"] for m in record["models"]}
    for model in record["models"]:
        model["checks"][0]["key"] = keys["clean"]  # leaky replays clean's passing result
    _record(cache).write_text(json.dumps(record))
    with caplog.at_level(logging.WARNING, logger="singaudit.cache"):
        result = _run(computed, cache)
    assert _statuses(result) == {"clean": "pass", "leaky": "fail"}
    assert any("another model or check" in message for message in _warned(caplog))


@pytest.mark.parametrize("replay", [True, False])
def test_a_cached_result_flipped_to_pass_is_judged_again(computed, tmp_path, caplog, replay):
    cache = _copy_cache(computed, tmp_path)
    entry = _entry(cache, "leaky")
    _forge_pass(entry)
    with caplog.at_level(logging.WARNING, logger="singaudit.cache"):
        result = _run(computed, cache, **({} if replay else {"replay": False}))
    assert _statuses(result) == {"clean": "pass", "leaky": "fail"}  # its own values fail it
    assert len(_warned(caplog)) == 1
    assert "leaky::class_semantics" in _warned(caplog)[0]
    assert "stored pass, its measurements judge fail" in _warned(caplog)[0]
    assert json.loads((entry / "result.json").read_text())["status"] == "fail"  # stored again
    assert result.provenance["cached_checks"] == ["clean::class_semantics"]


def test_recompute_ignores_check_results_and_run_records(computed, tmp_path):
    cache = _copy_cache(computed, tmp_path)
    entry = _entry(cache, "clean")
    before = (entry / "result.json").stat().st_mtime_ns
    session = AuditSession(cache_dir=cache, progress=False, recompute=True)
    assert replay_run(_spec(computed["root"]), session, out_dir=tmp_path / "never") is None
    result = _run(computed, cache, recompute=True)
    assert _statuses(result) == {"clean": "pass", "leaky": "fail"}
    assert result.provenance["cached_checks"] == []
    assert (entry / "result.json").stat().st_mtime_ns != before  # stored over
    assert replay_run(_spec(computed["root"]), AuditSession(cache_dir=cache, progress=False),
                      out_dir=tmp_path / "replayed") is not None  # a fresh record was kept


def test_no_replay_still_reuses_check_results(computed, tmp_path):
    cache = _copy_cache(computed, tmp_path)
    session = AuditSession(cache_dir=cache, progress=False, replay=False)
    assert replay_run(_spec(computed["root"]), session, out_dir=tmp_path / "never") is None
    result = _run(computed, cache, replay=False)
    assert sorted(result.provenance["cached_checks"]) == ["clean::class_semantics",
                                                          "leaky::class_semantics"]
