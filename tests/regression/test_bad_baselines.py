"""Baselines and results files that are malformed, tampered with, NaN, without provenance, served
too slowly or blocked on disk: each is one line and exit 4, never a traceback or a pass."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from results_builder import audit

from singaudit.cli.main import run_cli
from singaudit.regression import DEFAULT_TIERS, NotComparable, compare
from singaudit.regression.store import BaselineError, read_results

LEAK = np.random.default_rng(1).normal(0.0, 3.0, size=60)


def _document(leak: np.ndarray = LEAK) -> dict:
    """A results.json document with the provenance a run records (spec, start time)."""
    document = json.loads(audit(leak).model_dump_json())
    document["provenance"].update(spec={"path": "audit.yaml", "sha256": "ab" * 32},
                                  started_at="2026-12-05T00:00:00+00:00", null_removal="mean")
    return document


def _write(path: Path, document: dict | str) -> Path:
    path.write_text(document if isinstance(document, str) else json.dumps(document))
    return path


def _diff(tmp_path: Path, base: Path, new: Path, capsys, *options: str) -> tuple[int, list[str]]:
    code = run_cli(["diff", str(base), str(new), "--out", str(tmp_path / "out"), *options])
    return code, capsys.readouterr().err.strip().splitlines()


def _tampered(**changes) -> dict:
    document = _document()
    for dotted, value in changes.items():
        target = document
        *parents, key = dotted.split("__")
        for parent in parents:
            target = target[parent]
        target[key] = value
    return document


MALFORMED = {
    "nested 200,000 deep": ("[" * 200_000 + "]" * 200_000, "nested too deeply"),
    "a 5,000-digit integer": ('{"schema_version": ' + "9" * 5000 + "}", "5000 digits"),
    "provenance.data a list": (_tampered(provenance__data=["x"]),
                               "provenance.data must be an object, not a list"),
    "provenance.spec a string": (_tampered(provenance__spec="audit.yaml"),
                                 "provenance.spec must be an object, not a string"),
    "provenance.started_at a number": (_tampered(provenance__started_at=5),
                                       "provenance.started_at must be a string, not an integer"),
    "schema_version a string": (_tampered(schema_version="99"), "schema_version must be"),
    "schema_version a float": (_tampered(schema_version=99.0), "schema_version must be"),
    "schema_version a boolean": (_tampered(schema_version=True), "schema_version must be"),
    "a list, not an object": ("[1, 2]", "not an object"),
}


@pytest.mark.parametrize("case", list(MALFORMED))
@pytest.mark.parametrize("role", ["baseline", "candidate"])
def test_a_malformed_results_file_is_one_line_naming_the_problem(case, role, tmp_path, capsys):
    content, reason = MALFORMED[case]
    bad = _write(tmp_path / "bad.json", content)
    good = _write(tmp_path / "good.json", _document())
    base, new = (bad, good) if role == "baseline" else (good, bad)
    code, errors = _diff(tmp_path, base, new, capsys)
    assert code == 4 and len(errors) == 1, errors
    assert "bad.json" in errors[0] and reason in errors[0] and "internal error" not in errors[0]


def test_a_tampered_baseline_is_refused_by_the_command_line_program(tmp_path):
    """The same as a user meets it: `singaudit diff` as a subprocess."""
    bad = _write(tmp_path / "bad.json", _tampered(provenance__data=["x"]))
    good = _write(tmp_path / "good.json", _document())
    done = subprocess.run([sys.executable, "-m", "singaudit.cli", "diff", str(bad), str(good),
                           "--out", str(tmp_path / "out")], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 4
    assert done.stderr.strip().splitlines() == [
        (f"singaudit: {bad} is not a singaudit results file: provenance.data must be an object, "
         "not a list")]


def _nan(document: dict, nan: float | None = float("nan")) -> dict:
    """Every measured value of every check replaced by NaN (or null)."""
    document = copy.deepcopy(document)
    for check in document["models"][0]["checks"]:
        for entry in [check, *check["per_class"].values()]:
            for metric in entry["metrics"].values():
                metric["value"], metric["ci"] = nan, None
        for key, values in check["data"].items():
            if key not in ("label", "image_keys", "class_names"):
                check["data"][key] = [nan] * len(values)
    return document


@pytest.mark.parametrize("nan", [float("nan"), None], ids=["NaN", "null"])
def test_a_baseline_without_finite_values_is_not_comparable(nan, tmp_path, capsys):
    base = _write(tmp_path / "base.json", _nan(_document(), nan))
    worse = _write(tmp_path / "worse.json", _document(LEAK + 20.0))
    code, errors = _diff(tmp_path, base, worse, capsys)
    assert code == 4 and len(errors) == 1
    assert "baseline is not comparable" in errors[0]
    assert f"class_semantics.{DEFAULT_TIERS[0].metric} median" in errors[0]
    # The other way round too: a candidate of NaN must not pass either.
    code, errors = _diff(tmp_path, worse, base, capsys)
    assert code == 4 and "candidate is not comparable" in errors[0]


def test_a_baseline_without_provenance_is_not_comparable(tmp_path, capsys):
    bare = _document()
    bare["provenance"] = {}
    other_classes = _document(LEAK + 20.0)
    other_classes["provenance"]["data"]["classes"] = ["dog", "cat", "cow"]
    base = _write(tmp_path / "base.json", bare)
    new = _write(tmp_path / "new.json", other_classes)
    code, errors = _diff(tmp_path, base, new, capsys)
    assert code == 4 and len(errors) == 1
    assert "not comparable" in errors[0] and "none recorded" in errors[0]
    assert "--allow-mismatch" in errors[0]
    code, _ = _diff(tmp_path, base, new, capsys, "--allow-mismatch")
    assert code == 1  # compared when asked to: the candidate is 20 degrees worse


def test_a_pinned_fact_recorded_by_one_run_only_is_a_mismatch():
    base, new = audit(LEAK), audit(LEAK)
    del base.provenance["joint_space"]
    with pytest.raises(NotComparable, match=r"joint space: not recorded -> test:joint"):
        compare(base, new)


def test_the_images_fingerprint_is_compared_only_when_both_runs_recorded_it():
    base, new = audit(LEAK), audit(LEAK)
    new.provenance["data"]["images_sha256"] = "cd" * 32
    assert compare(base, new).status == "pass"  # the selection (id, count, classes) matches
    base.provenance["data"]["images_sha256"] = "ab" * 32
    with pytest.raises(NotComparable, match="audit images"):
        compare(base, new)


# ---------------------------------------------------------------------------- baseline accept


def test_accept_of_a_file_nested_too_deep_to_write_back_is_one_line(tmp_path, capsys):
    document = _document()
    document["models"][0]["checks"][0]["data"]["deep"] = "DEEP"
    text = json.dumps(document).replace('"DEEP"', "[" * 900 + "]" * 900)  # readable by json
    results = _write(tmp_path / "results.json", text)
    code = run_cli(["baseline", "accept", str(results), "--store", str(tmp_path / "store")])
    errors = capsys.readouterr().err.strip().splitlines()
    assert code == 4 and len(errors) == 1 and "nested more than" in errors[0]
    assert not (tmp_path / "store").exists()


def test_accept_onto_a_blocked_target_is_one_line_and_changes_nothing(tmp_path, capsys):
    results = _write(tmp_path / "results.json", _document())
    folder_store = tmp_path / "folder"
    (folder_store / "audit" / "results.json").mkdir(parents=True)  # the target is a folder
    file_store = _write(tmp_path / "file", "mine")  # the store is a file
    name_store = tmp_path / "name"
    name_store.mkdir()
    _write(name_store / "audit", "mine too")  # the baseline's name is taken by a file
    expected = {folder_store: "is a folder", file_store: "the store", name_store: "the baseline"}
    for store, reason in expected.items():
        code = run_cli(["baseline", "accept", str(results), "--store", str(store)])
        errors = capsys.readouterr().err.strip().splitlines()
        assert code == 4 and len(errors) == 1 and reason in errors[0], errors
        assert "internal error" not in errors[0]
    assert file_store.read_text() == "mine" and (name_store / "audit").read_text() == "mine too"
    assert [p.name for p in (folder_store / "audit").iterdir()] == ["results.json"]
    assert not list((folder_store / "audit" / "results.json").iterdir())


# ---------------------------------------------------------------------------- downloads


@pytest.fixture
def dripping():
    """A loopback HTTP server that sends one byte at a time, 50 ms apart, in the body
    (/body) or in the header lines (/headers); each answer stops after 60 s or when the client
    hangs up. /to-file redirects to a local file."""
    import http.server
    import threading

    class Drip(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path == "/to-file":
                self.send_response(302)
                self.send_header("Location", "file:///etc/passwd")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            try:
                if self.path == "/headers":
                    self.wfile.write(b"HTTP/1.1 200 OK\r\nX-Slow: ")
                else:
                    self.send_response(200)
                    self.send_header("Content-Length", "100000")
                    self.end_headers()
                self.wfile.flush()
                for _ in range(1200):
                    self.wfile.write(b" ")
                    self.wfile.flush()
                    time.sleep(0.05)
            except OSError:
                return

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Drip)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("where", ["body", "headers"])
def test_a_dripping_download_ends_at_its_deadline(dripping, where):
    with pytest.raises(BaselineError, match=r"did not finish within 0\.5 s"):
        read_results(f"{dripping}/{where}", deadline=0.5)


def test_a_redirect_to_a_local_file_is_refused(dripping):
    with pytest.raises(BaselineError, match="cannot fetch the baseline .*file:"):
        read_results(f"{dripping}/to-file", deadline=30)


def test_an_unknown_model_is_named_on_one_short_line(tmp_path, capsys):
    runs = [audit(LEAK, name=f"model {i}\n" + "y" * 5000) for i in range(30)]
    base = runs[0].model_copy(update={"models": [r.models[0] for r in runs]})
    path = _write(tmp_path / "base.json", json.loads(base.model_dump_json()))
    code, errors = _diff(tmp_path, path, path, capsys, "--pair", "nobody:else")
    assert code == 4 and len(errors) == 1
    assert "has no model 'nobody'" in errors[0] and "and 20 more" in errors[0]
    assert len(errors[0]) < 2000
