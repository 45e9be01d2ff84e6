"""scripts/compare_results.py: identical results pass, any metric, status or message differs."""

import importlib.util
import json
from pathlib import Path

SCRIPT = Path(__file__).parents[2] / "scripts" / "compare_results.py"
spec = importlib.util.spec_from_file_location("compare_results", SCRIPT)
compare_results = importlib.util.module_from_spec(spec)
spec.loader.exec_module(compare_results)

RESULT = {
    "name": "demo", "status": "fail",
    "models": [{"name": "leaky", "status": "fail", "checks": [
        {"name": "class_semantics", "status": "fail", "message": "leak 11.61",
         "metrics": {"leak": {"value": 5.15}}, "data": {"as": [1.0, float("nan")]},
         "duration_s": 0.1}]}],
    "provenance": {"timings_s": {"data": 0.4}, "started_at": "2026-01-01", "total_s": 2.0,
                   "cache_dir": "/tmp/a", "spec": {"path": "a.yaml", "sha256": "ab"}},
}


def _write(tmp_path: Path, name: str, value) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(value))
    return path


def test_per_run_fields_are_ignored(tmp_path):
    other = json.loads(json.dumps(RESULT))
    other["models"][0]["checks"][0]["duration_s"] = 9.0
    other["models"][0]["checks"][0]["message"] = "leak 11.61"
    other["provenance"].update(timings_s={"data": 1.0}, started_at="2027", total_s=3.0,
                               cache_dir="/tmp/b", spec={"path": "b.yaml", "sha256": "ab"})
    assert compare_results.main([str(_write(tmp_path, "a.json", RESULT)),
                                 str(_write(tmp_path, "b.json", other))]) == 0


def test_a_changed_metric_status_or_hash_is_a_difference(tmp_path, capsys):
    other = json.loads(json.dumps(RESULT))
    other["models"][0]["checks"][0]["metrics"]["leak"]["value"] = 5.150000001
    other["models"][0]["status"] = "pass"
    other["provenance"]["spec"]["sha256"] = "cd"
    code = compare_results.main([str(_write(tmp_path, "a.json", RESULT)),
                                 str(_write(tmp_path, "b.json", other))])
    out = capsys.readouterr().out
    assert code == 1
    assert "3 difference(s)" in out
    assert "models[0].checks[0].metrics.leak.value" in out
    assert "models[0].status" in out


def test_tolerance_and_nan(tmp_path):
    other = json.loads(json.dumps(RESULT))
    other["models"][0]["checks"][0]["metrics"]["leak"]["value"] = 5.150000001
    assert compare_results.differences(RESULT, other, rtol=1e-6) == []
    assert compare_results.differences(RESULT, other) != []
    assert compare_results.differences({"x": float("nan")}, {"x": float("nan")}) == []


def test_seconds_quoted_in_messages_are_per_run():
    a = {"message": "evidence for 6 images (decoder, 0.1 s; retrieval)"}
    assert compare_results.differences(a, {"message": "evidence for 6 images (decoder, 12.25 s; "
                                                      "retrieval)"}) == []
    assert compare_results.differences(a, {"message": "evidence for 5 images (decoder, 0.1 s; "
                                                      "retrieval)"}) != []
