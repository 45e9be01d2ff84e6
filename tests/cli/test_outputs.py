"""The output-folder contract: singaudit replaces only what it wrote, refuses folders that are not
its own (unless --force), checks outputs before computing, keeps one consistent set of outputs,
works at a mount point, and leaves no staging behind (SIGTERM included)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import runner_world

from singaudit.cli.main import run_cli
from singaudit.io.output_folder import MANIFEST, STAGING_PREFIX

sys.path.insert(0, str(Path(__file__).parents[1]))

from filesystems import tmpfs

RUNNER_TESTS = Path(__file__).parents[1] / "runner"


def run(spec_file, out, *extra):
    return run_cli(["run", str(spec_file), "--out", str(out), *extra])


def files(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def test_a_rerun_replaces_only_what_singaudit_wrote(spec_file, tmp_path):
    out = tmp_path / "project"
    assert run(spec_file, out) == 0
    mine = [out / "artefacts" / "mine.txt", out / "artefacts" / "first" / "notes.md",
            out / "README.md"]
    for path in mine:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("mine")
    assert run(spec_file, out) == 0
    assert all(path.read_text() == "mine" for path in mine)
    written = json.loads((out / MANIFEST).read_text())["files"]
    assert "results.json" in written and not any("mine" in f or "notes" in f for f in written)


def test_a_foreign_folder_is_refused_before_computing_and_force_deletes_nothing(
        spec_file, tmp_path, capsys):
    out = tmp_path / "home"
    (out / "artefacts").mkdir(parents=True)
    (out / "artefacts" / "thesis.tex").write_text("precious")
    (out / "photo.jpg").write_text("precious")
    before = dict(runner_world.CALLS)
    assert run(spec_file, out) == 4
    assert "not written by singaudit" in capsys.readouterr().err
    assert runner_world.CALLS == before  # nothing computed
    assert files(out) == ["artefacts/thesis.tex", "photo.jpg"]
    assert run(spec_file, out, "--force") == 0
    assert (out / "artefacts" / "thesis.tex").read_text() == "precious"
    assert (out / "photo.jpg").read_text() == "precious"
    assert (out / "results.json").is_file()


@pytest.mark.parametrize("kind", ["file", "below a file"])
def test_an_output_that_is_a_file_is_refused_before_computing(spec_file, tmp_path, capsys, kind):
    (tmp_path / "report.txt").write_text("mine")
    out = tmp_path / "report.txt" if kind == "file" else tmp_path / "report.txt" / "out"
    before = dict(runner_world.CALLS)
    assert run(spec_file, out) == 4
    assert "output" in capsys.readouterr().err
    assert runner_world.CALLS == before
    assert (tmp_path / "report.txt").read_text() == "mine"


def test_a_read_only_output_is_refused_before_computing(spec_file, tmp_path, capsys):
    with tmpfs(tmp_path / "ro", read_only=True) as out:
        before = dict(runner_world.CALLS)
        assert run(spec_file, out / "reports") == 4
        assert "cannot be written" in capsys.readouterr().err
        assert runner_world.CALLS == before


def test_an_output_at_a_mount_point_works(spec_file, tmp_path):
    # The usual Docker/CI volume: another filesystem than its parent folder.
    with tmpfs(tmp_path / "volume", size="32m") as out:
        assert os.stat(out).st_dev != os.stat(tmp_path).st_dev
        assert run(spec_file, out) == 0
        assert (out / "results.json").is_file()
        assert not list(out.glob(f"{STAGING_PREFIX}*"))


def test_a_rerun_with_fewer_formats_removes_the_old_reports(spec_file, tmp_path):
    out = tmp_path / "out"
    assert run(spec_file, out, "--set", "report.formats=[json, junit, html]") == 0
    assert (out / "junit.xml").is_file() and (out / "report.html").is_file()
    assert run(spec_file, out, "--set", "report.formats=[json]") == 0
    assert not (out / "junit.xml").exists() and not (out / "report.html").exists()
    assert json.loads((out / MANIFEST).read_text())["files"][-1] == "results.json"


def test_two_specs_with_one_name_into_one_out_are_refused(spec_file, tmp_path, capsys):
    twin = tmp_path / "twin.yaml"
    twin.write_text(spec_file.read_text())
    before = dict(runner_world.CALLS)
    assert run_cli(["run", str(spec_file), str(twin), "--out", str(tmp_path / "out")]) == 4
    assert "would both write to" in capsys.readouterr().err
    assert runner_world.CALLS == before and not (tmp_path / "out").exists()


def test_stale_staging_of_dead_runs_is_removed(spec_file, tmp_path):
    out = tmp_path / "out"
    host = socket.gethostname()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    stale = out / f"{STAGING_PREFIX}{host}--{dead}-abc123"
    live = out / f"{STAGING_PREFIX}{host}--1-def456"  # pid 1 is alive: its run may be running
    for folder in (stale, live):
        (folder / "artefacts").mkdir(parents=True)
    assert run(spec_file, out, "--force") == 0
    assert not stale.exists() and live.exists()


SLOW_RUN = """
import sys, time
sys.path.insert(0, {runner!r})
import runner_world
runner_world.register()
from singaudit.checks import CHECKS, Check

class Slow(Check):
    name = "slow"
    requires_null_space = False

    def measure(self, ctx, params):
        open({flag!r}, "w").close()
        time.sleep(120)

CHECKS.add("slow", Slow)
from singaudit.cli.main import main
main()
"""


def test_sigterm_is_handled_like_sigint(spec_file, tmp_path):
    flag, out = tmp_path / "started", tmp_path / "out"
    spec_file.write_text(spec_file.read_text().replace("checks:\n", "checks:\n  slow: {}\n"))
    script = textwrap.dedent(SLOW_RUN.format(runner=str(RUNNER_TESTS), flag=str(flag)))
    env = {**os.environ, "SINGAUDIT_CACHE": str(tmp_path / "cache")}
    process = subprocess.Popen([sys.executable, "-c", script, "run", str(spec_file), "--out",
                                str(out)], stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.monotonic() + 240
    while not flag.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert flag.exists(), process.communicate(timeout=10)[1]
    assert list(out.glob(f"{STAGING_PREFIX}*"))  # mid-run: staging exists
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 2 and "interrupted" in err
    assert not out.exists()  # staging removed; the folder it created for it too


# ---------------------------------------------------------------- classes the data lacks


def test_a_requested_class_without_images_is_an_error(tmp_path, capsys):
    import numpy as np
    from PIL import Image

    (tmp_path / "list.csv").write_text("path,label\n" + "".join(
        f"{i}.png,{name}\n" for i, name in enumerate(["red", "red", "blue", "blue"])))
    for i in range(4):
        Image.fromarray(np.full((8, 8, 3), 40 * i, dtype=np.uint8)).save(tmp_path / f"{i}.png")
    spec = tmp_path / "spec.yaml"
    spec.write_text(runner_world.SPEC.replace(
        "  id: runnerworld:audit\n  options: {per_class: 6}\n",
        f"  id: \"list:{tmp_path / 'list.csv'}\"\n  options: {{class_names: [red, blue, green]}}\n"
        "  classes: [red, green]\n"))
    assert run(spec, tmp_path / "out") == 4
    assert "no images of the requested class(es) 'green'" in capsys.readouterr().err


def test_a_class_with_fewer_images_than_asked_is_a_warning_in_cli_results_and_report(
        spec_file, tmp_path, capsys):
    out = tmp_path / "out"
    assert run(spec_file, out, "--set", "data.options.per_class=3",
               "--set", "report.formats=[json, html]") == 0
    printed = capsys.readouterr().out
    assert "warning: class 'red' has 3 image(s), fewer than the 5 asked for" in printed
    result = json.loads((out / "results.json").read_text())
    assert result["data_issues"]["short_classes"][0] == {"class": "red", "images": 3,
                                                         "requested": 5}
    assert "short_classes" in (out / "report.html").read_text()


def test_a_hand_edited_manifest_cannot_delete_files_outside_the_folder(spec_file, tmp_path):
    out, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    assert run(spec_file, out) == 0
    elsewhere.mkdir()
    (elsewhere / "keep.txt").write_text("mine")
    (out / "linked").symlink_to(elsewhere)
    manifest = json.loads((out / MANIFEST).read_text())
    manifest["files"] += ["../elsewhere/keep.txt", str(elsewhere / "keep.txt"), "linked/keep.txt"]
    (out / MANIFEST).write_text(json.dumps(manifest))
    assert run(spec_file, out) == 0
    assert (elsewhere / "keep.txt").read_text() == "mine"
