"""Latency of the light commands, each in a fresh process as a user types them.

`singaudit --help`, `validate` of every shipped spec (audits/, examples/), `models` and
`models PATTERN`: wall and CPU (user+sys of the child) seconds, the median of ``--repeat`` runs,
in one run of this script. Target: `validate` under 1 s wall per spec. Also measured once: the
first `validate` of a timm / open_clip spec with an empty cache, which builds the libraries' model
lists (imports torch once per library version).

Specs that need a hub download, a dataset or another folder still validate (exit 4 offline, with
the reason): their latency counts the same. Run under the shared benchmark lock:
``flock /work/plan/bench.lock python benchmarks/cli_latency.py [--repeat 5] [--write-docs]``
(``--write-docs``: this run replaces the script's section of docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _tables import add_write_docs, markdown_table, write_docs

ROOT = Path(__file__).resolve().parents[1]
SPECS = [*sorted((ROOT / "audits").glob("*.yaml")),
         *sorted((ROOT / "audits" / "paper").glob("*.yaml")),
         ROOT / "examples" / "model_ci" / "audits" / "candidate.yaml",
         ROOT / "examples" / "custom_model" / "audit.yaml"]


def command() -> list[str]:
    """The installed ``singaudit`` script beside this interpreter, else ``python -m``."""
    script = Path(sys.executable).parent / "singaudit"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "singaudit.cli"]


def timed(args: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float, int]:
    """(wall, child CPU, exit code) of one fresh process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run([*command(), *args], cwd=cwd, env=env, capture_output=True, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, done.returncode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    add_write_docs(parser)
    args = parser.parse_args()
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}

    cases: list[tuple[str, list[str], Path]] = [("--help", ["--help"], ROOT)]
    for spec in SPECS:
        # A python: factory is found in the working folder, so that spec runs from its own.
        cwd = spec.parent if spec.parent.name == "custom_model" else ROOT
        cases.append((f"validate {spec.relative_to(ROOT)}", ["validate", str(spec)], cwd))
    cases += [("models", ["models"], ROOT),
              ("models 'timm:resnet50*'", ["models", "timm:resnet50*"], ROOT)]

    with tempfile.TemporaryDirectory() as scratch:  # empty cache: the model lists are built
        first = timed(["validate", str(ROOT / "audits" / "resnet50.yaml")], ROOT,
                      {**env, "SINGAUDIT_CACHE": scratch})
    for _, case_args, cwd in cases:  # warm-up: the user's cache holds the model lists
        timed(case_args, cwd, env)

    print(f"{'command':<52} {'wall s':>7} {'cpu s':>7} {'exit':>5}")
    validate_walls, rows = [], []
    for label, case_args, cwd in cases:
        runs = [timed(case_args, cwd, env) for _ in range(args.repeat)]
        wall = statistics.median(r[0] for r in runs)
        cpu = statistics.median(r[1] for r in runs)
        if label.startswith("validate"):
            validate_walls.append(wall)
        print(f"{label:<52} {wall:7.2f} {cpu:7.2f} {runs[-1][2]:5d}")
        rows.append([f"singaudit {label}", f"{wall:.2f}", f"{cpu:.2f}", runs[-1][2]])
    print(f"first validate audits/resnet50.yaml with an empty cache (builds the timm, open_clip "
          f"model lists): {first[0]:.2f} s wall, {first[1]:.2f} s cpu")
    print(f"slowest validate: {max(validate_walls):.2f} s wall (target < 1 s); medians of "
          f"{args.repeat} fresh processes each")
    print(f"load average while measuring: {os.getloadavg()[0]:.1f} (1 min), "
          f"{os.cpu_count()} cores")
    if args.write_docs:
        write_docs(__file__, markdown_table(["command", "wall s", "CPU s", "exit"], rows), (
            f"Medians of {args.repeat} fresh processes. The first `validate` of a timm / "
            f"open_clip spec with an empty cache, which builds the libraries' model lists: "
            f"{first[0]:.2f} s wall. Target: `validate` under 1 s per spec (slowest "
            f"{max(validate_walls):.2f} s)."))


if __name__ == "__main__":
    main()
