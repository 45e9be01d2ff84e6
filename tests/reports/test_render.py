from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from singaudit.errors import SingauditError
from singaudit.reports import ReportError, builtin_templates_dir, render_reports
from singaudit.results import AuditResult, CheckResult, ModelResult


def _write_small_audit(folder: Path) -> Path:
    audit = AuditResult(name="small", status="pass", ok=True, models=[
        ModelResult(name="m", id="x:y", status="pass",
                    checks=[CheckResult(name="null_invariance", status="pass")])])
    audit.write(folder / "results.json")
    return folder / "results.json"


def test_report_error_is_a_user_error() -> None:
    assert issubclass(ReportError, SingauditError)


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (None, "no results file"),
        ("{not json", "is not valid JSON"),
        (json.dumps({"name": "x"}), "is not a singaudit results file: status"),
        (json.dumps({"schema_version": 99, "name": "x", "status": "pass", "ok": True}),
         "schema_version 99"),
    ],
)
def test_bad_results_give_one_clear_message(tmp_path: Path, content: str | None,
                                            words: str) -> None:
    path = tmp_path / "results.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ReportError, match=words):
        render_reports(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == (["results.json"] if content else [])


def test_unknown_format_and_missing_templates(tmp_path: Path) -> None:
    results = _write_small_audit(tmp_path)
    with pytest.raises(ReportError, match="unknown report format.*'docx'"):
        render_reports(results, formats=("html", "docx"))
    with pytest.raises(ReportError, match="does not exist"):
        render_reports(results, formats=("html",), templates_dir=tmp_path / "nowhere")


def test_only_requested_formats_are_written_without_leftovers(tmp_path: Path) -> None:
    results = _write_small_audit(tmp_path)
    written = render_reports(tmp_path, formats=("junit", "json"))  # a folder: its results.json
    assert written == {"junit": tmp_path / "junit.xml", "json": results}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["junit.xml", "results.json"]
    assert results.is_file()


def test_user_templates_override_file_by_file(tmp_path: Path) -> None:
    results = _write_small_audit(tmp_path)
    user = tmp_path / "mine"
    user.mkdir()
    (user / "report.css").write_text("body { color: #123456; }")
    html = render_reports(results, formats=("html",), templates_dir=user)["html"].read_text()
    assert "#123456" in html and "Verdict" in html  # the shipped page with the user's CSS
    (user / "report.html.jinja").write_text("<p>{{ audit.name }} {{ audit.nosuchfield }}</p>")
    with pytest.raises(ReportError, match="report template error"):
        render_reports(results, formats=("html",), templates_dir=user)


def test_builtin_templates_are_found() -> None:
    folder = builtin_templates_dir()
    assert (folder / "report.html.jinja").is_file() and (folder / "report.css").is_file()


def test_reports_follow_the_umask(tmp_path: Path) -> None:
    results = _write_small_audit(tmp_path)
    umask = os.umask(0o022)
    try:
        written = render_reports(results, formats=("html", "junit"))
    finally:
        os.umask(umask)
    assert {p.stat().st_mode & 0o777 for p in written.values()} == {0o644}
