"""report.md and diff.md as PR comments: no live @mentions, names cut to a bounded length, the
whole text under GitHub's comment limit with a note of what was cut (full names in the JSON)."""

from __future__ import annotations

import json
import re

import numpy as np
from markdown_it import MarkdownIt
from results_builder import audit

from singaudit.regression import compare
from singaudit.regression.diff import Diff, ModelDiff, RunRef
from singaudit.reports.diff_report import write_diff
from singaudit.reports.markdown import diff_markdown, run_markdown
from singaudit.results import AuditResult, CheckResult, ModelResult

LEAK = np.random.default_rng(2).normal(0.0, 3.0, size=60)
MAX_CHARS = 60_000  # what the issue asks for; GitHub refuses comments over 65,536 characters
LONG = 200  # no name this long may reach a summary
# GitHub links "@" followed by a letter or digit (users, org/team); an inert mention is not that.
LIVE_MENTION = re.compile(r"@[A-Za-z0-9]")


def _renamed(run: AuditResult, model: str, classes: dict[str, str]) -> AuditResult:
    """``run`` with its model and classes renamed (as a user's spec could name them)."""
    run = run.model_copy(deep=True)
    run.models[0].name = model
    for check in run.models[0].checks:
        check.per_class = {classes.get(k, k): v for k, v in check.per_class.items()}
        check.data["class_names"] = [classes.get(k, k) for k in check.data["class_names"]]
    return run


def _well_formed(markdown: str) -> None:
    """Every table parses with the same number of cells in each row."""
    tokens = MarkdownIt("commonmark").enable("table").parse(markdown)
    widths: list[int] = []
    for token in tokens:
        if token.type == "tr_open":
            widths.append(0)
        elif token.type in ("th_open", "td_open"):
            widths[-1] += 1
        elif token.type == "table_close":
            assert len(set(widths)) == 1, widths
            widths = []


def _regressed(model: str, classes: dict[str, str]):
    base = _renamed(audit(LEAK), model, classes)
    new = _renamed(audit(LEAK + 5.0), model, classes)
    return base, new, compare(base, new)


def test_mentions_in_model_and_class_names_notify_no_one():
    _, new, diff = _regressed("@octocat", {"circle": "@github/security", "square": "a@b"})
    assert diff.status == "fail"
    summaries = {"diff.md": diff_markdown(diff), "report.md": run_markdown(new)}
    for where, markdown in summaries.items():
        assert not LIVE_MENTION.search(markdown), where
        assert "@\u200docto" in markdown  # still reads "@octocat"
        _well_formed(markdown)
    assert "@\u200dgithub/security" in summaries["diff.md"]


def test_a_40000_character_class_name_is_cut_in_diff_md_but_whole_in_diff_json(tmp_path):
    long_name = "x" * 40_000
    base, new, diff = _regressed("model", {"circle": long_name})
    written = write_diff(diff, base, new, tmp_path, ["markdown", "json"])
    markdown = written["markdown"].read_text(encoding="utf-8")
    assert len(markdown) < MAX_CHARS
    assert "x" * LONG not in markdown and "x\u2026" in markdown
    assert "are shortened here" in markdown  # the note of what was cut
    _well_formed(markdown)
    assert long_name in json.loads(written["json"].read_text())["models"][0]["failing_classes"]


def test_a_long_model_name_is_cut_in_report_md():
    run = _renamed(audit(LEAK), "m" * 40_000, {})
    markdown = run_markdown(run)
    assert len(markdown) < MAX_CHARS and "m" * LONG not in markdown
    assert "are shortened here" in markdown
    _well_formed(markdown)


def _many_models(count: int) -> list[ModelResult]:
    check = CheckResult(name="class_semantics", status="fail", message="leaks")
    return [ModelResult(name=f"model-{i:05d}-" + "n" * 60, id=f"test:{i}", status="fail",
                        checks=[check]) for i in range(count)]


def test_report_md_of_thousands_of_models_stays_under_the_limit_and_says_so():
    run = AuditResult.from_models(name="many", models=_many_models(3000))
    markdown = run_markdown(run)
    assert len(markdown) < MAX_CHARS
    assert re.search(r"Cut: \d+ more line\(s\) left out", markdown)
    assert markdown.rstrip().endswith("(REPORT_URL)")  # the link to everything survives the cut
    _well_formed(markdown)


def test_diff_md_of_thousands_of_models_stays_under_the_limit_and_says_so():
    models = [ModelDiff(base_model=m.name, new_model=m.name, status="fail",
                        status_before="pass", status_after="fail", message="worse " * 40)
              for m in _many_models(3000)]
    diff = Diff(base=RunRef(name="base"), new=RunRef(name="new"), status="fail", models=models)
    markdown = diff_markdown(diff, "https://ci.example/diff.html")
    assert len(markdown) < MAX_CHARS
    assert re.search(r"Cut: \d+ more line\(s\) left out", markdown)
    assert "[Full report](https://ci.example/diff.html)" in markdown
    _well_formed(markdown)
