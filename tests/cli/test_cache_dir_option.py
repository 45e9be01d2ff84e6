"""--cache-dir: every command that reads or writes the cache takes it, with one meaning, and
``singaudit report`` (which draws figures into the cache) keeps them where it says."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import typer.main

from singaudit.cli.main import app, run_cli

SINGAUDIT = Path(sys.executable).with_name("singaudit")
# The commands that read or write the cache (features, translators, checks, figures, runs).
CACHE_COMMANDS = {"run", "explain", "report", "translator fit", "translator eval", "cache ls",
                  "cache clear"}


def _commands(group: Any, prefix: str = "") -> dict[str, Any]:
    """Every leaf command, by the words that call it (typer ships its own click)."""
    found: dict[str, Any] = {}
    for name, command in group.commands.items():
        if hasattr(command, "commands"):
            found.update(_commands(command, f"{prefix}{name} "))
        else:
            found[f"{prefix}{name}"] = command
    return found


def test_exactly_the_commands_that_use_the_cache_take_cache_dir_with_one_meaning():
    commands = _commands(typer.main.get_group(app))
    options = {name: next((o for o in command.params if "--cache-dir" in o.opts), None)
               for name, command in commands.items()}
    assert {name for name, option in options.items() if option is not None} == CACHE_COMMANDS
    assert {options[name].help for name in CACHE_COMMANDS} == {"Cache folder."}


def test_report_draws_its_figures_into_the_cache_dir_it_is_given(spec_file, tmp_path):
    out = tmp_path / "out"
    assert run_cli(["run", str(spec_file), "--out", str(out), "--cache-dir",
                    str(tmp_path / "run-cache")]) == 0
    default, chosen = tmp_path / "default-cache", tmp_path / "report-cache"
    env = {**os.environ, "SINGAUDIT_CACHE": str(default), "HF_HUB_OFFLINE": "1",
           "OMP_NUM_THREADS": "1"}

    def report(*options: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(SINGAUDIT), "report", str(out), "--format", "html",
                               *options], env=env, capture_output=True, text=True, timeout=300,
                              check=False)

    done = report("--cache-dir", str(chosen))
    assert done.returncode == 0, done.stderr
    drawn = sorted(p.name for p in (chosen / "figures").glob("*.png"))
    assert drawn, "the report drew no figure into --cache-dir"
    assert not default.exists()  # nothing went to SINGAUDIT_CACHE
    # Without the option, figures go where every other command puts its cache.
    done = report()
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in (default / "figures").glob("*.png")) == drawn
