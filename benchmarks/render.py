"""Report rendering time, measured in one run.

1. a warm `singaudit run SPEC` (a second run over a warm cache, replayed from its run record)
   with the spec's formats (the demo: html, pdf, json, junit) and with none (`--set
   report.formats=[json]`): the difference is what rendering costs a warm run; and once more
   with the run record removed (a computing warm run: models loaded, torch imported);
2. `singaudit report OUT --format F` for html, pdf, junit and json, each its own process;
3. in this process: the HTML report with an empty figure cache (every figure drawn) and again
   with the cache filled (nothing redrawn), and the PDF alone.

Each command is a fresh process, as a user runs it, so import time counts. Prints wall seconds
and the CPU seconds of the child (user+sys), which the other load on a shared machine moves
less than the wall time. Targets (2-core machine): warm demo <= 4 s with every format, HTML
alone <= 1.5 s, PDF <= 3 s. Run: ``python benchmarks/render.py [--spec audits/demo.yaml]
[--write-docs]`` (``--write-docs``: this run replaces the script's section of
docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _tables import add_write_docs, markdown_table, write_docs

CLI = [sys.executable, "-m", "singaudit.cli"]
# Issue 16's targets on a 2-core machine (wall seconds).
TARGETS = {"warm run, every format of the spec": 4.0, "singaudit report --format html": 1.5,
           "singaudit report --format pdf": 3.0}


def timed_command(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall, child CPU) seconds of one command; it must succeed."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(args, check=False, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode not in (0, 1):
        sys.exit(f"{' '.join(args)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def timed(action) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    action()
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", default="audits/demo.yaml")
    add_write_docs(parser)
    options = parser.parse_args()
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    rows: list[tuple[str, float, float]] = []
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "out"
        env["SINGAUDIT_CACHE"] = str(Path(scratch) / "cache")
        run = [*CLI, "run", options.spec, "--out", str(out)]
        timed_command(run, env)  # cold: fills the cache (features, translators, figures)
        rows.append(("warm run, every format of the spec", *timed_command(run, env)))
        rows.append(("warm run, results.json only",
                     *timed_command([*run, "--set", "report.formats=[json]"], env)))
        # The same without run records: the warm run that loads every model and reads every
        # cached check result (what an unchanged run cost before records).
        shutil.rmtree(Path(env["SINGAUDIT_CACHE"]) / "runs", ignore_errors=True)
        rows.append(("warm run, results.json only, no run record (computing)",
                     *timed_command([*run, "--set", "report.formats=[json]"], env)))
        for fmt in ("html", "pdf", "junit", "json"):
            rows.append((f"singaudit report --format {fmt}",
                         *timed_command([*CLI, "report", str(out), "--format", fmt], env)))
        rows.append(("python -c 'import singaudit.cli.main' (start-up)",
                     *timed_command([sys.executable, "-c", "import singaudit.cli.main"], env)))

        from singaudit.reports import render_reports

        os.environ["SINGAUDIT_CACHE"] = str(Path(scratch) / "empty")
        rows.append(("in process: HTML, empty figure cache",
                     *timed(lambda: render_reports(out, ("html",)))))
        rows.append(("in process: HTML, figures cached",
                     *timed(lambda: render_reports(out, ("html",)))))
        rows.append(("in process: PDF, figures cached",
                     *timed(lambda: render_reports(out, ("pdf",)))))
        pages = _pages(out / "report.pdf")
        height = len((out / "report.html").read_bytes())

    width = max(len(name) for name, _, _ in rows)
    print(f"{'what':<{width}}  {'wall s':>7}  {'CPU s':>7}")
    for name, wall, cpu in rows:
        print(f"{name:<{width}}  {wall:7.2f}  {cpu:7.2f}")
    by_name = {name: (wall, cpu) for name, wall, cpu in rows}
    full, bare = by_name["warm run, every format of the spec"], by_name["warm run, results.json only"]
    cold, warm = by_name["in process: HTML, empty figure cache"], by_name[
        "in process: HTML, figures cached"]
    print(f"rendering share of a warm run: {full[0] - bare[0]:.2f} s wall "
          f"({full[1] - bare[1]:.2f} s CPU)")
    print(f"figure cache: HTML render {cold[0] / warm[0]:.1f}x faster warm "
          f"({cold[0]:.2f} s -> {warm[0]:.2f} s)")
    print(f"PDF pages: {pages}; HTML size: {height / 1e6:.2f} MB")
    for name, target in TARGETS.items():
        wall = by_name[name][0]
        verdict = "met" if wall <= target else f"missed by {wall - target:.2f} s"
        print(f"target {name} <= {target:g} s: {wall:.2f} s, {verdict}")
    print(f"load average while measuring: {os.getloadavg()[0]:.1f} "
          f"on {os.cpu_count()} cores")
    if options.write_docs:
        table = markdown_table(
            ["what", "wall s", "CPU s", "target wall s"],
            [[name, f"{wall:.2f}", f"{cpu:.2f}", f"{TARGETS[name]:g}" if name in TARGETS else ""]
             for name, wall, cpu in rows])
        write_docs(__file__, table, (
            f"Spec `{options.spec}`; each command a fresh process (CPU: the child's user + "
            f"system). Rendering's share of a warm run: {full[0] - bare[0]:.2f} s wall; the "
            f"figure cache makes the HTML render {cold[0] / warm[0]:.1f}x faster; the PDF has "
            f"{pages} pages."))


def _pages(pdf: Path) -> int:
    import pypdf

    return len(pypdf.PdfReader(pdf).pages)


if __name__ == "__main__":
    main()
