"""The singaudit command: pytest's exit codes, one-line user errors, and every subcommand."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import runner_world

from singaudit.adapters.sources import load_data as load_data_source
from singaudit.checks import CHECKS
from singaudit.checks.base import Check
from singaudit.cli.main import run_cli
from singaudit.runner import AuditSession

STRICT = "checks.class_semantics.thresholds=[{metric: abs_as, statistic: median, fail: 0}]"


def test_run_exits_0_when_everything_is_as_expected(spec_file, tmp_path, capsys):
    out = tmp_path / "out"
    assert run_cli(["run", str(spec_file), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "first" in printed and "second" in printed and "as expected" in printed
    result = json.loads((out / "results.json").read_text())
    assert result["ok"] is True


def test_run_exits_1_when_an_expectation_is_violated(spec_file, tmp_path, capsys):
    code = run_cli(["run", str(spec_file), "--out", str(tmp_path / "out"), "--set", STRICT])
    assert code == 1
    printed = capsys.readouterr().out
    assert "NOT as expected" in printed
    assert "first::class_semantics" in printed  # the failure's reason is shown


def test_expect_fail_turns_the_failure_into_exit_0(spec_file, tmp_path):
    args = ["run", str(spec_file), "--out", str(tmp_path / "out"), "--set", STRICT,
            "--set", "models.0.expect=fail"]
    assert run_cli(args) == 0


def test_spec_error_exits_4_with_file_and_line(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    text = runner_world.SPEC.replace("batch_size: 7", "batch_size: seven")
    bad.write_text(text)
    line = text.splitlines().index("batch_size: seven") + 1
    assert run_cli(["run", str(bad)]) == 4
    err = capsys.readouterr().err
    assert f"{bad}:{line}: batch_size:" in err
    assert "Traceback" not in err
    assert not (tmp_path / "reports").exists()


def test_usage_errors_exit_4(capsys):
    assert run_cli(["run"]) == 4
    assert run_cli(["run", "x.yaml", "--no-such-option"]) == 4
    assert run_cli(["no-such-command"]) == 4
    assert "No such command" in capsys.readouterr().err


def test_validate_computes_nothing(spec_file, tmp_path, capsys):
    before = dict(runner_world.CALLS)
    assert run_cli(["validate", str(spec_file)]) == 0
    assert runner_world.CALLS == before
    assert not (tmp_path / "cache").exists()
    assert "ok (tiny" in capsys.readouterr().out


def test_validate_reports_a_bad_override(spec_file, capsys):
    assert run_cli(["validate", str(spec_file), "--set", "checks.nope={}"]) == 4
    assert "checks.nope: unknown check" in capsys.readouterr().err


def test_internal_errors_exit_3_and_interrupts_exit_2(spec_file, monkeypatch, capsys):
    def broken(self, spec, **kwargs):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(AuditSession, "run", broken)
    assert run_cli(["run", str(spec_file)]) == 3
    err = capsys.readouterr().err
    assert "internal error: ZeroDivisionError: a bug" in err and "Traceback" not in err
    assert run_cli(["run", str(spec_file), "--debug"]) == 3
    assert "Traceback" in capsys.readouterr().err

    def interrupted(self, spec, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(AuditSession, "run", interrupted)
    assert run_cli(["run", str(spec_file)]) == 2


def test_schema_prints_the_json_schema(capsys):
    assert run_cli(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert "null_invariance" in schema["properties"]["checks"]["properties"]


def test_models_lists_presets(capsys):
    assert run_cli(["models", "calibration*"]) == 0
    printed = capsys.readouterr().out
    assert "calibration_leaky" in printed and "resnet50" not in printed


def test_report_rerenders_without_recomputing(spec_file, tmp_path):
    out = tmp_path / "out"
    assert run_cli(["run", str(spec_file), "--out", str(out)]) == 0
    before = dict(runner_world.CALLS)
    assert run_cli(["report", str(out / "results.json"), "--format", "junit"]) == 0
    assert (out / "junit.xml").is_file()
    assert runner_world.CALLS == before


def _cache_rows(printed: str) -> list[list[str]]:
    """The rows of `cache ls`'s table (model, kind, entries, [images,] size, MB, date, time)."""
    return [line.split() for line in printed.splitlines()
            if line.split() and line.split()[0].startswith(("runnerworld:", "-"))
            and not line.startswith("─")]


def test_cache_ls_and_clear(spec_file, tmp_path, capsys):
    cache = tmp_path / "own_cache"
    assert run_cli(["run", str(spec_file), "--out", str(tmp_path / "o"),
                    "--cache-dir", str(cache)]) == 0
    capsys.readouterr()
    assert run_cli(["cache", "ls", "--cache-dir", str(cache)]) == 0
    listing: dict[str, int] = {}
    for line in _cache_rows(capsys.readouterr().out):  # model, kind, entries, ...
        listing[line[1]] = listing.get(line[1], 0) + int(line[2])
    assert set(listing) == {"features", "embeddings", "text", "geometry", "translators", "checks"}
    assert listing["checks"] == 4 and listing["translators"] == 2 and listing["geometry"] == 2
    assert run_cli(["cache", "clear", "--yes", "--cache-dir", str(cache)]) == 0
    assert not list((cache / "features").rglob("*.safetensors"))
    assert not (cache / "translators").exists() and not (cache / "checks").exists()
    capsys.readouterr()
    assert run_cli(["cache", "ls", "--cache-dir", str(cache)]) == 0
    printed = capsys.readouterr().out
    assert not _cache_rows(printed) and printed.splitlines()[-1] == "0 entries, 0.0 MB"
    # Clear means clear: the next run reuses no verdict.
    assert run_cli(["run", str(spec_file), "--out", str(tmp_path / "o2"),
                    "--cache-dir", str(cache)]) == 0
    rerun = json.loads((tmp_path / "o2" / "results.json").read_text())
    assert rerun["provenance"]["cached_checks"] == []


def test_cache_clear_deletes_only_what_singaudit_wrote(spec_file, tmp_path, capsys):
    cache = tmp_path / "shared"
    assert run_cli(["run", str(spec_file), "--out", str(tmp_path / "o"),
                    "--cache-dir", str(cache)]) == 0
    (cache / "figures").mkdir()
    (cache / "figures" / f"{'a' * 64}.png").write_bytes(b"png")  # as reports.figures stores them
    mine = [cache / "notes.txt", cache / "figures" / "logo.png", cache / "translators" / "README",
            cache / "translators" /
            "my_model" / "weights.pt", cache / "checks" / "todo.txt",
            cache / "features" / "ab" / "holiday.safetensors",
            cache / "features" / "mine.safetensors"]
    for path in mine:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("mine")
    assert run_cli(["cache", "clear", "--yes", "--cache-dir", str(cache)]) == 0
    assert all(path.read_text() == "mine" for path in mine)
    left = sorted(p.relative_to(cache).as_posix() for p in cache.rglob("*") if p.is_file())
    assert left == sorted([".singaudit-cache", *(p.relative_to(cache).as_posix() for p in mine)])


def test_cache_clear_refuses_a_folder_that_is_not_a_cache(tmp_path, capsys):
    project = tmp_path / "project"
    (project / "translators").mkdir(parents=True)
    (project / "translators" / "model.pt").write_text("precious")
    (project / "README.md").write_text("precious")
    assert run_cli(["cache", "clear", "--yes", "--cache-dir", str(project)]) == 4
    assert "is not a singaudit cache" in capsys.readouterr().err
    assert sorted(p.name for p in project.rglob("*")) == ["README.md", "model.pt", "translators"]


def test_translator_fit_then_eval(spec_file, tmp_path, capsys):
    saved = tmp_path / "translator"
    assert run_cli(["translator", "fit", str(spec_file), "--out", str(saved)]) == 4
    assert "choose one with --model (first, second)" in capsys.readouterr().err
    assert not saved.exists()
    assert run_cli(["translator", "fit", str(spec_file), "--model", "first",
                    "--out", str(saved)]) == 0
    assert "translator of first saved to" in capsys.readouterr().out
    before = (saved / "translator.safetensors").read_bytes()
    # A second fit never overwrites silently.
    assert run_cli(["translator", "fit", str(spec_file), "--model", "second",
                    "--out", str(saved)]) == 4
    assert "already exists and is not empty" in capsys.readouterr().err
    assert (saved / "translator.safetensors").read_bytes() == before
    assert (saved / "translator.safetensors").is_file()
    capsys.readouterr()
    assert run_cli(["translator", "eval", str(spec_file), "--model", "first",
                    "--path", str(saved)]) == 0
    printed = capsys.readouterr().out
    assert "mean_cosine=" in printed


def test_explain_one_image(tmp_path, capsys):
    source = runner_world.load_data("photos", per_class=1)
    image = tmp_path / "square.png"
    source.load(source.records()[2]).save(image)
    args = ["explain", str(image), "--model", "runnerworld:seed1", "--joint", "runnerworld:joint",
            "--fit-data", "runnerworld:fit", "--top", "2", "--json"]
    assert run_cli(args) == 0
    explanation = json.loads(capsys.readouterr().out)
    assert 0.0 <= explanation["image_score"] <= 180.0
    assert len(explanation["top_classes"]) == 2
    assert explanation["concepts"] and "z" in explanation["concepts"][0]
    assert explanation["null_reference"].startswith("mean feature of the")
    assert run_cli([*args, "--null-removal", "zero"]) == 0
    paper = json.loads(capsys.readouterr().out)
    assert paper["null_reference"].startswith("zero")
    assert paper["image_score"] != explanation["image_score"]  # the reference is really used
    assert run_cli([*args, "--null-removal", "median"]) == 4
    assert "null removal must be one of zero, mean" in capsys.readouterr().err
    # Without --json: the translator's held-out fidelity, judged against the audit's bounds.
    assert run_cli(args[:-1]) == 0
    printed = capsys.readouterr().out
    fidelity = explanation["translator"]["mean_cosine"]
    assert f"translator: linear, held-out mean cosine {fidelity:.3f}" in printed
    assert ("below the audit's" in printed) == (fidelity < 0.7)


def test_words_a_closed_vocabulary_cannot_represent_are_flagged(tmp_path, capsys):
    from singaudit.adapters.sources import load_joint_space

    space = load_joint_space("calibration:joint")
    assert space.unknown_words("Kerry blue terrier") == ["kerry", "terrier"]
    assert space.unknown_words("a red circle") == []
    assert load_joint_space("runnerworld:joint").unknown_words("anything at all") == []
    image = tmp_path / "scene.png"
    source = load_data_source("calibration:audit", scenes=6)
    source.load(source.records()[0]).save(image)
    args = ["explain", str(image), "--model", "calibration:leaky", "--joint", "calibration:joint",
            "--fit-data", "calibration:validation", "--fit-images-per-class", "3",
            "--concepts", "Kerry blue terrier,circle"]
    assert run_cli([*args, "--json"]) == 0
    rows = {r["concept"]: r for r in json.loads(capsys.readouterr().out)["concepts"]}
    assert rows["Kerry blue terrier"]["unknown_words"] == ["kerry", "terrier"]
    assert rows["circle"]["unknown_words"] == []
    assert run_cli(args) == 0
    line = next(l for l in capsys.readouterr().out.splitlines() if "Kerry" in l)
    assert "UNREPRESENTABLE: 'kerry', 'terrier'" in line


def test_explain_needs_a_translator(tmp_path, capsys):
    image = tmp_path / "x.png"
    runner_world.load_data("a").load(runner_world.load_data("a").records()[0]).save(image)
    args = ["explain", str(image), "--model", "runnerworld:seed1", "--joint", "runnerworld:joint"]
    assert run_cli(args) == 4
    assert "needs a translator" in capsys.readouterr().err


def test_console_script_exit_code_in_a_subprocess(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nkind: singaudit/audit\nname: x\n")
    completed = subprocess.run(
        [sys.executable, "-c", "from singaudit.cli.main import main; main()", "validate",
         str(bad)], capture_output=True, text=True, timeout=120, check=False)
    assert completed.returncode == 4
    assert "models: Field required" in completed.stderr
    assert "Traceback" not in completed.stderr


def test_zoo_train_calibration_smoke(tmp_path):
    assert run_cli(["zoo", "train", "calibration", "--smoke", "--out", str(tmp_path / "w")]) == 0
    assert list((tmp_path / "w").glob("*.safetensors"))


def test_only_naming_an_unknown_check_is_a_usage_error(spec_file, tmp_path, capsys):
    before = dict(runner_world.CALLS)
    assert run_cli(["run", str(spec_file), "--out", str(tmp_path / "out"),
                    "--only", "first::class_semantix"]) == 4
    err = capsys.readouterr().err
    assert "--only first::class_semantix names no model::check" in err
    assert "checks: class_semantics" in err and "models: first, second" in err
    assert runner_world.CALLS == before and not (tmp_path / "out").exists()


def test_only_typo_lists_models_and_checks(spec_file, tmp_path, capsys):
    assert run_cli(["run", str(spec_file), "--only", "typo"]) == 4
    err = capsys.readouterr().err
    assert "models: first, second" in err and "checks: class_semantics, null_invariance" in err


def test_only_with_known_names_and_globs_runs(spec_file, tmp_path):
    out = tmp_path / "out"
    assert run_cli(["run", str(spec_file), "--out", str(out), "--only", "first::null_*"]) == 0
    result = json.loads((out / "results.json").read_text())
    assert [(m["name"], [c["name"] for c in m["checks"]]) for m in result["models"]] == [
        ("first", ["null_invariance"])]


def test_engine_options_become_execution_overrides(spec_file, capsys):
    from singaudit.cli._common import _execution_sets

    assert _execution_sets(None, None) == []
    assert _execution_sets("ray", None) == ["execution.engine=ray"]
    assert _execution_sets(None, "ray://head:10001") == ["execution.engine=ray",
                                                         'execution.address="ray://head:10001"']
    assert run_cli(["run", str(spec_file), "--engine", "spark"]) == 4
    assert "execution.engine" in capsys.readouterr().err
    assert run_cli(["run", str(spec_file), "--engine", "local",
                    "--ray-address", "ray://head:10001"]) == 4


def test_a_model_without_null_space_expected_to_pass_is_not_met_exit_1(spec_file, tmp_path,
                                                                        capsys):
    """null_dim 0 skips every null-space check: the model is not judged, never a pass."""
    text = spec_file.read_text().replace("    id: runnerworld:seed1\n",
                                         "    id: runnerworld:seed1\n    options: {num_classes: 30}\n")
    spec_file.write_text(text)
    out = tmp_path / "out"
    assert run_cli(["run", str(spec_file), "--out", str(out)]) == 1
    printed = capsys.readouterr().out
    assert "first: skip, not judged: null_dim is 0" in printed
    assert "expect: pass is NOT met" in printed and "NOT as expected" in printed
    first = json.loads((out / "results.json").read_text())["models"][0]
    assert first["status"] == "skip" and first["expectation_met"] is False
    assert first["note"].startswith("not judged: null_dim is 0")
    statuses = {c["name"]: c["status"] for c in first["checks"]}
    assert statuses["null_invariance"] == statuses["class_semantics"] == "skip"


class _RaisesInMeasure(Check):
    """A third-party check with a bug: the audit goes on, the run is an internal error."""

    name = "raises_in_measure"
    requires_null_space = False

    def measure(self, ctx, params):
        raise RuntimeError("a bug in a check")


def test_a_check_that_raises_exits_3_after_writing_everything(spec_file, tmp_path, capsys):
    CHECKS.add(_RaisesInMeasure.name, _RaisesInMeasure, replace=True)
    try:
        spec_file.write_text(spec_file.read_text().replace(
            "checks:\n", "checks:\n  raises_in_measure: {}\n"))
        out = tmp_path / "out"
        # second is expect: none; an error is an error whatever the expectation.
        assert run_cli(["run", str(spec_file), "--out", str(out)]) == 3
    finally:
        CHECKS._entries.pop(_RaisesInMeasure.name, None)
    printed = capsys.readouterr().out
    assert "ERROR first::raises_in_measure - RuntimeError: a bug in a check" in printed
    assert "internal error in a check" in printed and "(exit 3)" in printed
    assert (out / "results.json").is_file()


def test_summary_reads_like_pytest_fits_80_columns_and_ends_with_the_report(
        spec_file, tmp_path, capsys):
    out = tmp_path / "out"
    args = ["run", str(spec_file), "--out", str(out), "--set", STRICT,
            "--set", "models.0.expect=fail", "--set", "report.formats=[html, json]",
            "--set", "models.1.options={num_classes: 30}"]  # no null space: skips
    code = run_cli(args)
    lines = capsys.readouterr().out.splitlines()
    assert code == 0
    table = lines[: lines.index("short summary")]
    assert table and max(len(line) for line in table) <= 80
    assert any(line.startswith("XFAIL first::class_semantics - ") for line in lines)
    # A skip prints its reason, as pytest -rs does.
    assert any(line.startswith("SKIPPED second::") and " - " in line for line in lines)
    assert lines[-2].startswith("tiny: ") and "xfailed" in lines[-2] and "(exit 0)" in lines[-2]
    assert lines[-1] == f"report: {out / 'report.html'}"
    # the model's accuracy on its audit images is shown and recorded
    assert any(line.startswith("first: top-1 accuracy on the audit images ") for line in lines)
    accuracy = json.loads((out / "results.json").read_text())["models"][0]["accuracy"]
    assert 0 <= accuracy["top1"] <= 1 and accuracy["unmatched_classes"] == []
    assert "accuracy.top1_per_class" in (out / "report.html").read_text()


def test_piped_progress_is_plain_timed_lines(spec_file, tmp_path, capsys):
    assert run_cli(["run", str(spec_file), "--out", str(tmp_path / "out")]) == 0
    progress = capsys.readouterr().err.splitlines()  # captured: not a terminal, as in CI
    assert progress and all(re.match(r"\[ *\d+\.\d+s\] ", line) for line in progress), progress
    assert any("fitting the translator for first (linear, " in line for line in progress)
    assert any(line.endswith("check first::class_semantics") for line in progress)
    assert "\x1b[" not in "".join(progress)  # no terminal control codes in a CI log


def test_version_completion_and_examples_in_help(capsys):
    from importlib.metadata import version

    assert run_cli(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"singaudit {version('singaudit')}"
    assert run_cli(["--help"]) == 0
    assert "--install-completion" in capsys.readouterr().out
    for command in (["run"], ["validate"], ["report"], ["models"], ["explain"], ["cache", "ls"],
                    ["translator", "fit"]):
        assert run_cli([*command, "--help"]) == 0
        assert "Examples" in capsys.readouterr().out, command


def test_validate_resolves_every_id_offline_with_suggestions(spec_file, tmp_path, capsys):
    calibration = ("models.0.id=calibration:leakyy", "data.id=calibration:audti",
                   "data.options={}")
    args = ["validate", str(spec_file)]
    for override in calibration:
        args += ["--set", override]
    assert run_cli(args) == 4
    err = capsys.readouterr().err
    assert "models.0.id: no calibration classifier 'leakyy' (did you mean 'leaky'" in err
    assert "data.id: no calibration split 'audti' (did you mean 'audit'?)" in err
    missing = tmp_path / "no_such_folder"
    assert run_cli(["validate", str(spec_file), "--set", f"data.id=folder:{missing}",
                    "--set", "data.options={}", "--set", "models.1.id=timm:resnet5o"]) == 4
    err = capsys.readouterr().err
    assert f"data.id: no such folder {missing}" in err
    assert "models.1.id: timm has no model 'resnet5o' (did you mean 'resnet50'" in err
    # Hub weights absent offline (the tests run with HF_HUB_OFFLINE=1) are found before a run.
    assert run_cli(["validate", str(spec_file), "--set", "models.1.id=timm:resnet50.a1_in1k"]) == 4
    assert "not in the local Hugging Face cache and HF_HUB_OFFLINE=1" in capsys.readouterr().err
    assert run_cli(["validate", str(spec_file), "--set",
                    "models.1.id=python:no_such_module_here:build"]) == 4
    assert "no module 'no_such_module_here' (looked in" in capsys.readouterr().err


def test_validate_finds_a_factory_in_the_working_folder(spec_file, tmp_path, monkeypatch,
                                                        capsys):
    (tmp_path / "my_factory_module.py").write_text("def build():\n    raise RuntimeError\n")
    monkeypatch.chdir(tmp_path)
    assert run_cli(["validate", str(spec_file), "--set",
                    "models.1.id=python:my_factory_module:build"]) == 0
    assert "every id resolved" in capsys.readouterr().out


def test_models_lists_library_models_and_never_an_empty_table(capsys):
    assert run_cli(["models", "timm:resnet50.a1*"]) == 0
    printed = capsys.readouterr().out
    assert "timm:resnet50.a1_in1k" in printed and "┏" not in printed  # no preset, no table
    assert run_cli(["models", "calibration_leakyy"]) == 0
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "no model preset, timm or open_clip model matches" in captured.err
    assert "did you mean 'calibration_leaky'" in captured.err
    assert run_cli(["models", "calibration:leaky"]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines()
               if "calibration:leaky " in line)
    assert row.split()[5:8] == ["22", "│", "6"]  # from the model's definition


def test_the_rank_tolerance_passes_through_the_spec(spec_file, tmp_path):
    out = tmp_path / "out"
    assert run_cli(["run", str(spec_file), "--out", str(out), "--only", "first::null_invariance",
                    "--set", "geometry.rank_tolerance=0.99"]) in (0, 1)
    info = json.loads((out / "results.json").read_text())["models"][0]["info"]
    default = run_cli(["run", str(spec_file), "--out", str(tmp_path / "default"),
                       "--only", "first::null_invariance"])
    assert default in (0, 1)
    base = json.loads((tmp_path / "default" / "results.json").read_text())["models"][0]["info"]
    assert info["rank"] < base["rank"] and info["null_dim"] > base["null_dim"]
    assert info["rank_tolerance"] > base["rank_tolerance"]


def test_a_misspelt_key_gets_the_nearest_known_key(spec_file, capsys):
    assert run_cli(["validate", str(spec_file), "--set", "checks.class_semantics.nboot=3",
                    "--set", "data.imags_per_class=3"]) == 4
    err = capsys.readouterr().err
    assert "checks.class_semantics.nboot: Extra inputs are not permitted (did you mean " \
           "'n_boot'?)" in err
    assert "(did you mean 'images_per_class'?)" in err


def test_cache_ls_lists_entries_and_clear_removes_only_the_selection(spec_file, tmp_path,
                                                                      capsys):
    cache = tmp_path / "cache"
    assert run_cli(["run", str(spec_file), "--out", str(tmp_path / "out"),
                    "--cache-dir", str(cache)]) == 0
    capsys.readouterr()
    assert run_cli(["cache", "ls", "--cache-dir", str(cache)]) == 0
    rows = {tuple(line.split()[:2]): line.split() for line in capsys.readouterr().out.splitlines()
            if line.startswith("runnerworld:")}
    assert ("runnerworld:seed1", "features") in rows and ("runnerworld:seed2", "features") in rows
    assert int(rows[("runnerworld:seed1", "features")][3]) > 0  # images
    assert run_cli(["cache", "clear", "--cache-dir", str(cache), "--model", "runnerworld:seed1",
                    "--kind", "features", "--yes"]) == 0
    said = capsys.readouterr().out
    assert "removed from" in said and "features" in said and "translators" not in said
    assert run_cli(["cache", "ls", "--cache-dir", str(cache), "--kind", "features"]) == 0
    listed = capsys.readouterr().out
    assert "runnerworld:seed1" not in listed and "runnerworld:seed2" in listed
    assert run_cli(["cache", "ls", "--cache-dir", str(cache), "--kind", "feature"]) == 4
    assert "choose from features, embeddings" in capsys.readouterr().err
    assert run_cli(["cache", "clear", "--cache-dir", str(cache), "--older-than", "365",
                    "--yes"]) == 0
    assert "nothing selected; nothing removed" in capsys.readouterr().out


def test_a_check_that_judges_nothing_is_info_in_the_terminal_never_a_pass(
        spec_file, tmp_path, capsys):
    out = tmp_path / "out"
    args = ["run", str(spec_file), "--out", str(out), "--only", "first",
            "--set", "checks.null_invariance.thresholds=[]"]  # measured, not judged
    assert run_cli(args) == 0
    lines = capsys.readouterr().out.splitlines()
    row = next(line for line in lines if line.startswith("first "))
    assert "info" in row
    outcome = lines[-2]
    assert "1 info" in outcome and outcome.startswith("tiny: ")
    # class_semantics is judged (a pass), null_invariance only measured (info): one pass, not two
    assert "1 passed" in outcome
    result = json.loads((out / "results.json").read_text())
    statuses = {c["name"]: c["status"] for c in result["models"][0]["checks"]}
    assert statuses["null_invariance"] == "info"
