"""singaudit diff, baseline accept, the spec's baselines and the Markdown outputs, on the runner
tests' tiny real world."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import runner_world
import yaml
from markdown_it import MarkdownIt

from singaudit.cli.main import run_cli
from singaudit.reports import render_reports
from singaudit.results import AuditResult
from singaudit.runner import run_audit
from singaudit.runner.regressions import regressions_of
from singaudit.spec.models import AuditSpec

# The runner world's seed-3 model differs from seed 2 in what the translator draws from the null
# space (specific_leak moves by up to 13 degrees) but not in what the null space carries (the
# default tier's metric stays within 0.2 degrees): these front-end tests judge by the former tier.
LEAK_TIER = {"check": "class_semantics", "metric": "specific_leak", "statistic": "median",
             "scope": "per_class", "max_increase": {"warn": 1.0, "fail": 2.0}}


def _document(second_seed: int, changes: dict) -> dict:
    document = yaml.safe_load(runner_world.SPEC)
    document["models"][1]["id"] = f"runnerworld:seed{second_seed}"
    document["models"][1]["expect"] = "pass"
    document["checks"].pop("translator_fidelity")
    regression = {"tiers": [LEAK_TIER], **changes.pop("regression", {})}
    document.update(changes, regression=regression)
    return document


def _spec(second_seed: int = 2, **changes) -> AuditSpec:
    return AuditSpec.model_validate(_document(second_seed, changes))


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    """A baseline run and a candidate whose second model is another (leakier) classifier."""
    runner_world.register()
    root = tmp_path_factory.mktemp("runs")
    cache = root / "cache"
    paths = {}
    for name, seed in (("base", 2), ("new", 3)):
        run_audit(_spec(seed), out_dir=root / name, progress=False, cache_dir=cache)
        paths[name] = root / name / "results.json"
    paths["root"] = root
    return paths


def test_diff_exits_1_on_a_failing_regression_and_0_without(runs, tmp_path, capsys):
    tiers = _spec_file(tmp_path, str(runs["base"]))
    assert run_cli(["diff", str(runs["base"]), str(runs["base"])]) == 0
    assert run_cli(["diff", str(runs["base"]), str(runs["new"]), "--out", str(tmp_path / "diff"),
                    "--format", "json", "--format", "html", "--format", "pdf",
                    "--spec", str(tiers)]) == 1
    output = capsys.readouterr().out
    assert "second fail (failing classes: red, grey)" in output
    written = json.loads((tmp_path / "diff" / "diff.json").read_text())
    assert written["status"] == "fail" and written["models"][1]["failing_classes"] == ["red", "grey"]
    html = (tmp_path / "diff" / "diff.html").read_text()
    assert html.count("data:image/png;base64,") >= 2  # the violins of both models
    assert (tmp_path / "diff" / "diff.pdf").read_bytes().startswith(b"%PDF")


def test_diff_refuses_incomparable_runs_unless_allowed(runs, tmp_path, capsys):
    other = json.loads(runs["new"].read_text())
    other["provenance"]["prompt_templates"] = ["a photo of a {class}"]
    changed = tmp_path / "changed.json"
    changed.write_text(json.dumps(other))
    assert run_cli(["diff", str(runs["base"]), str(changed)]) == 4
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1
    assert "not comparable" in error and "prompts" in error and "--allow-mismatch" in error
    assert run_cli(["diff", str(runs["base"]), str(changed), "--allow-mismatch"]) == 1
    assert "compared despite a difference: prompts" in capsys.readouterr().out


def test_diff_usage_errors_exit_4(runs, tmp_path, capsys):
    assert run_cli(["diff", str(tmp_path / "missing.json"), str(runs["new"])]) == 4
    assert run_cli(["diff", str(runs["base"]), str(runs["new"]), "--pair", "first"]) == 4
    assert run_cli(["diff", str(runs["base"]), str(runs["new"]), "--pair", "nobody:first"]) == 4
    assert "has no model 'nobody'" in capsys.readouterr().err


def _tables(markdown: str) -> list[list[list[str]]]:
    """Every table as rows of cell texts, parsed by markdown-it (GFM tables)."""
    tokens = MarkdownIt("commonmark").enable("table").parse(markdown)
    tables, rows, row = [], None, None
    for token in tokens:
        if token.type == "table_open":
            rows = []
        elif token.type == "tr_open":
            row = []
        elif token.type == "inline" and row is not None:
            row.append(token.content)
        elif token.type == "tr_close":
            rows.append(row)
            row = None
        elif token.type == "table_close":
            tables.append(rows)
    return tables


def test_the_markdown_summary_parses_as_well_formed_tables_failing_first(runs, tmp_path):
    run_cli(["diff", str(runs["base"]), str(runs["new"]), "--out", str(tmp_path / "diff"),
             "--format", "markdown", "--report-url", "https://ci.example/diff.html",
             "--spec", str(_spec_file(tmp_path, str(runs["base"])))])
    markdown = (tmp_path / "diff" / "diff.md").read_text()
    tables = _tables(markdown)
    assert len(tables) >= 2
    for rows in tables:  # every row has the header's number of cells
        assert len({len(row) for row in rows}) == 1
    summary, tiers = tables[0], tables[1]
    assert summary[0][:3] == ["model", "regression", "failing classes"]
    assert summary[2][:3] == ["second", "fail", "red, grey"]
    verdicts = [row[-1] for row in tiers[1:]]
    assert verdicts[0] == "fail" and verdicts == sorted(verdicts, key=("fail", "warn",
                                                                        "pass").index)
    assert "[Full report](https://ci.example/diff.html)" in markdown


def test_a_pipe_in_a_name_cannot_break_a_table():
    from singaudit.reports.markdown import table

    rows = _tables("\n".join(table(["a", "b"], [["x | y", "z\nw"]])))[0]
    assert rows == [["a", "b"], ["x | y", "z w"]]  # one cell, the pipe kept as text


def test_markdown_is_a_report_format_with_the_first_screen(runs, tmp_path):
    audit = AuditResult.read(runs["new"])
    first = audit.models[0]
    failed = first.checks[-1].model_copy(update={"status": "fail", "message": "too | leaky"})
    first = first.model_copy(update={"checks": [*first.checks[:-1], failed], "status": "fail",
                                     "expectation_met": False})
    audit = audit.model_copy(update={"models": [first, *audit.models[1:]], "status": "fail",
                                     "ok": False})
    folder = tmp_path / "run"
    folder.mkdir()
    audit.write(folder / "results.json")
    markdown = render_reports(folder / "results.json", ["markdown"])["markdown"].read_text()
    attention, statuses = _tables(markdown)
    # What needs a look first (as the HTML's first screen), then every model x check.
    assert attention[0] == ["model", "check", "outcome", "how badly"]
    assert attention[1][:3] == ["first", "expectation", "fail"]
    assert attention[2] == ["first", failed.name, "failed", "too | leaky"]
    assert statuses[0] == ["model", "expect", *(c.name for c in first.checks)]
    assert [row[0] for row in statuses[1:]] == [m.name for m in audit.models]
    assert statuses[1][-1] == "fail" and statuses[1][1] == "pass: VIOLATED"
    assert "**NOT OK" in markdown


def test_baseline_accept_then_a_spec_store_judges_regressions_into_the_results(runs, tmp_path):
    store = tmp_path / "store"
    assert run_cli(["baseline", "accept", str(runs["base"]), "--store", str(store)]) == 0
    accepted = AuditResult.read(store / "tiny" / "results.json")
    assert accepted.provenance == AuditResult.read(runs["base"]).provenance

    spec = _spec(3, regression={"store": str(store)})
    result = run_audit(spec, out_dir=tmp_path / "candidate", progress=False,
                       cache_dir=runs["root"] / "cache")
    first, second = result.models
    assert first.checks[-1].name == "regression" and first.checks[-1].status == "pass"
    assert second.checks[-1].status == "fail" and second.status == "fail"
    assert second.expectation_met is False and result.ok is False
    assert any("class_semantics.specific_leak" in entry.metrics
               for entry in second.checks[-1].per_class.values())
    status, lines = regressions_of(second, "class_semantics")
    assert status == "fail" and "worse than baseline by" in lines[0] and "(> fail 2)" in lines[0]


def test_a_spec_baseline_that_is_not_comparable_is_an_error_not_a_crash(runs, tmp_path):
    spec = _spec(3, prompts={"template": "a photo of a {class}"})
    spec.models[1].baseline = str(runs["base"])
    result = run_audit(spec, out_dir=tmp_path / "candidate", progress=False,
                       cache_dir=runs["root"] / "cache")
    regression = result.models[1].checks[-1]
    assert regression.status == "error" and "not comparable" in regression.message
    assert "prompts" in regression.message
    assert all(c.name != "regression" for c in result.models[0].checks)


def test_bad_baselines_are_one_clear_line_and_touch_nothing(runs, tmp_path, capsys):
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    store = tmp_path / "store"
    assert run_cli(["baseline", "accept", str(broken), "--store", str(store)]) == 4
    assert run_cli(["baseline", "accept", str(runs["base"]), "--store", str(store),
                    "--name", "../escape"]) == 4
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 2 and "is not valid JSON" in errors[0] and "plain folder" in errors[1]
    assert not store.exists() and broken.read_text() == "{not json"


def test_diff_writes_only_into_a_folder_of_its_own(runs, tmp_path, capsys):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "diff.md").write_text("my notes")
    assert run_cli(["diff", str(runs["base"]), str(runs["new"]), "--out", str(mine),
                    "--format", "markdown"]) == 4
    assert "not written by singaudit" in capsys.readouterr().err
    assert (mine / "diff.md").read_text() == "my notes"
    out = tmp_path / "diff"
    for formats in (["markdown", "json"], ["markdown"]):  # a second run replaces the first's set
        run_cli(["diff", str(runs["base"]), str(runs["new"]), "--out", str(out),
                 *[f"--format={f}" for f in formats]])
    assert sorted(p.name for p in out.iterdir()) == [".singaudit-output.json", "diff.md"]


def test_a_model_baseline_is_a_path_a_run_folder_or_a_name_in_the_store(runs, tmp_path):
    from singaudit.runner.regressions import baseline_path

    store = tmp_path / "store"
    spec = _spec(3, regression={"store": str(store)})
    assert baseline_path(spec, "first") == store / "tiny" / "results.json"  # the audit's name
    spec.models[0].baseline = "accepted"
    assert baseline_path(spec, "first") == store / "accepted" / "results.json"
    spec.models[0].baseline = str(runs["base"].parent)
    assert baseline_path(spec, "first") == runs["base"]
    spec.models[0].baseline = str(runs["base"])
    assert baseline_path(spec, "first") == runs["base"]
    assert baseline_path(_spec(3), "first") is None  # no baseline, no store: nothing judged


@pytest.fixture
def served(runs):
    """The baseline run's folder served over HTTP on the loopback interface."""
    import functools
    import http.server
    import threading

    handler = functools.partial(http.server.SimpleHTTPRequestHandler,
                                directory=str(runs["base"].parent))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_baseline_can_be_a_url(runs, served, tmp_path, capsys):
    from singaudit.runner.regressions import baseline_path

    spec = _spec(3)
    spec.models[1].baseline = f"{served}/results.json"
    assert baseline_path(spec, "second") == f"{served}/results.json"  # fetched, never a path
    result = run_audit(spec, out_dir=tmp_path / "judged", progress=False,
                       cache_dir=runs["root"] / "cache")
    regression = next(c for c in result.models[1].checks if c.name == "regression")
    assert regression.status == "fail" and "red" in regression.message
    # diff reads URLs too; a URL that answers 404 is one clear line, exit 4
    assert run_cli(["diff", f"{served}/results.json", str(runs["new"])]) == 1
    assert run_cli(["diff", f"{served}/missing.json", str(runs["new"])]) == 4
    assert "cannot fetch the baseline" in capsys.readouterr().err


def _spec_file(tmp_path: Path, second_baseline: str, **changes) -> Path:
    """The candidate's spec as a YAML file, its second model judged against ``second_baseline``."""
    document = _document(3, changes)
    document["models"][1].update(baseline=second_baseline)
    path = tmp_path / "candidate.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def _nan_baseline(runs, tmp_path: Path) -> Path:
    """The baseline run with every measured class_semantics value replaced by NaN."""
    document = json.loads(AuditResult.read(runs["base"]).model_dump_json())  # the full layout
    for model in document["models"]:
        for check in model["checks"]:
            if check["name"] != "class_semantics":
                continue
            for entry in [check, *check["per_class"].values()]:
                for metric in entry["metrics"].values():
                    metric["value"], metric["ci"] = float("nan"), None
            for key, values in check["data"].items():
                if isinstance(values, list) and values and isinstance(values[0], float):
                    check["data"][key] = [float("nan")] * len(values)
    path = tmp_path / "nan.json"
    path.write_text(json.dumps(document))
    return path


@pytest.mark.parametrize("case", ["prompts changed", "NaN baseline", "malformed baseline"])
def test_a_refused_baseline_in_a_spec_exits_4_with_its_reason(case, runs, tmp_path, capsys):
    changes, baseline = {}, str(runs["base"])
    if case == "prompts changed":
        changes = {"prompts": {"template": "a photo of a {class}"}}
    elif case == "NaN baseline":
        baseline = str(_nan_baseline(runs, tmp_path))
    else:
        (tmp_path / "bad.json").write_text('{"schema_version": "99"}')
        baseline = str(tmp_path / "bad.json")
    spec = _spec_file(tmp_path, baseline, **changes)
    code = run_cli(["run", str(spec), "--out", str(tmp_path / "out"),
                    "--cache-dir", str(runs["root"] / "cache")])
    output = capsys.readouterr().out
    assert code == 4
    reason = {"prompts changed": "not comparable with the baseline (prompts",
              "NaN baseline": "baseline is not comparable: it has no finite value",
              "malformed baseline": "schema_version must be a whole number"}[case]
    errors = [line for line in output.splitlines() if line.startswith("ERROR")]
    assert len(errors) == 1 and "second::regression" in errors[0] and reason in errors[0]
    assert "internal error" not in output and "a baseline was refused" in output
    # Nothing computed is lost: the run's results are written, the refusal in them.
    written = AuditResult.read(tmp_path / "out" / "results.json")
    assert written.models[1].checks[-1].status == "error"
