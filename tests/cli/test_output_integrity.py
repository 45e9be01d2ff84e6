"""Nothing is written outside the output folder, even through a link inside it; results and
reports are published together, and a run that cannot write them keeps the previous run."""

from __future__ import annotations

import errno
import hashlib
from pathlib import Path

import pytest

from singaudit.cli.main import run_cli
from singaudit.io.output_folder import STAGING_PREFIX, OutputError, publish

WITH_REPORTS = ("--set", "report.formats=[json, html, junit]")


def run(spec_file, out, *extra):
    return run_cli(["run", str(spec_file), "--out", str(out), *WITH_REPORTS, *extra])


def snapshot(folder: Path) -> dict[str, str]:
    """Every file below ``folder`` (links not followed) with the sha256 of its bytes."""
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and not p.is_symlink()}


def no_staging(out: Path) -> bool:
    return not any(p.name.startswith(STAGING_PREFIX) for p in out.iterdir())


def test_a_linked_artefacts_folder_is_refused_and_nothing_is_written_through_it(
        spec_file, tmp_path, capsys):
    out = tmp_path / "out"
    assert run(spec_file, out) == 0
    outside = tmp_path / "user-folder"
    (outside / "first").mkdir(parents=True)
    (outside / "first" / "evidence.png").write_bytes(b"the user's own file")
    before = snapshot(outside)
    (out / "artefacts").symlink_to(outside, target_is_directory=True)
    capsys.readouterr()

    assert run(spec_file, out, "--set", "seed=1") == 4
    err = capsys.readouterr().err
    assert "is a symbolic link" in err and "artefacts" in err
    assert snapshot(outside) == before
    assert no_staging(out)


def test_publish_refuses_a_link_deeper_down_before_moving_anything(tmp_path):
    """A link made after the run's first check (or deeper than the known outputs)."""
    out, staging, outside = tmp_path / "out", tmp_path / "out" / ".staging", tmp_path / "outside"
    (staging / "artefacts" / "model").mkdir(parents=True)
    (staging / "artefacts" / "model" / "evidence.png").write_bytes(b"new")
    (staging / "results.json").write_text("{}")
    outside.mkdir()
    (outside / "evidence.png").write_bytes(b"the user's")
    (out / "artefacts").mkdir()
    (out / "artefacts" / "model").symlink_to(outside, target_is_directory=True)

    with pytest.raises(OutputError, match="is a symbolic link"):
        publish(staging, out, audit="tiny")
    assert (outside / "evidence.png").read_bytes() == b"the user's"
    assert sorted(p.name for p in outside.iterdir()) == ["evidence.png"]
    assert not (out / "results.json").exists()  # nothing was moved


def _disk_full_at(name: str, monkeypatch) -> None:
    """ENOSPC from the file-write layer for files called ``name`` (after part of it is written,
    as a full disk does); every other file is written."""
    from singaudit.io import atomic

    real = atomic.atomic_write_bytes

    def write(path, data):
        if Path(path).name == name:
            with atomic.atomic_path(Path(path)) as partial:
                partial.write_bytes(data[: len(data) // 2])
                raise OSError(errno.ENOSPC, "No space left on device", str(path))
        real(path, data)

    monkeypatch.setattr(atomic, "atomic_write_bytes", write)


def test_a_disk_that_fills_while_a_report_is_written_keeps_the_previous_run(
        spec_file, tmp_path, monkeypatch, capsys):
    out = tmp_path / "out"
    assert run(spec_file, out) == 0
    previous = snapshot(out)
    assert {"results.json", "report.html", "junit.xml"} <= set(previous)
    capsys.readouterr()

    _disk_full_at("report.html", monkeypatch)
    assert run(spec_file, out, "--set", "seed=1") == 4  # another run: other results
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("singaudit:")]
    assert len(lines) == 1 and "No space left on device" in lines[0], err
    assert "previous run's files there are unchanged" in lines[0]
    assert snapshot(out) == previous
    assert no_staging(out)


def test_a_disk_that_fills_while_results_are_written_keeps_the_previous_run(
        spec_file, tmp_path, monkeypatch, capsys):
    out = tmp_path / "out"
    assert run(spec_file, out) == 0
    previous = snapshot(out)
    capsys.readouterr()

    _disk_full_at("results.json", monkeypatch)
    assert run(spec_file, out, "--set", "seed=1") == 4
    assert "No space left on device" in capsys.readouterr().err
    assert snapshot(out) == previous
    assert no_staging(out)
