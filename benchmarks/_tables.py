"""A benchmark's dated section of docs/benchmarks.md, written by the benchmark itself.

Each script owns the text between its markers, ``<!-- benchmarks/NAME.py -->`` and
``<!-- /benchmarks/NAME.py -->``. With ``--write-docs`` it replaces that text with the run it
just made: the date, the command, the machine and a Markdown table (and a line of notes).
"""

from __future__ import annotations

import argparse
import datetime
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

DOCS = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"


def add_write_docs(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--write-docs", action="store_true",
                        help=f"replace this script's dated section of {DOCS.name} with this run")


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """Right-aligned numbers, left-aligned text, as docs/benchmarks.md writes its tables."""
    rows = [[str(cell) for cell in row] for row in rows]

    def numeric(column: int) -> bool:
        return all(_looks_numeric(row[column]) for row in rows if row[column])

    align = ["---:" if rows and numeric(i) else "---" for i in range(len(header))]
    lines = [header, align, *rows]
    return "\n".join("| " + " | ".join(line) + " |" for line in lines)


def _looks_numeric(cell: str) -> bool:
    return cell.replace(",", "").replace(".", "").replace("-", "").replace("x", "").replace(
        " ", "").isdigit()


def machine() -> str:
    """CPU cores and GPU, as a section's heading line names the machine."""
    gpus = "no GPU"
    if shutil.which("nvidia-smi"):
        done = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
                              capture_output=True, text=True, check=False)
        names = [line.strip() for line in done.stdout.splitlines() if line.strip()]
        if done.returncode == 0 and names:
            gpus = ", ".join(names)
    return f"{os.cpu_count()} CPU cores, {gpus}"


def command_line(script: str, argv: Sequence[str] | None = None) -> str:
    """How this run was started, without --write-docs, relative to the repository."""
    argv = list(sys.argv[1:] if argv is None else argv)
    return " ".join(["python", f"benchmarks/{Path(script).name}",
                     *(shlex.quote(a) for a in argv if a != "--write-docs")])


def section(script: str, table: str, notes: str = "", *, argv: Sequence[str] | None = None,
            today: datetime.date | None = None) -> str:
    """The text between the markers: date, command, machine, the table, notes."""
    today = today or datetime.date.today()
    text = (f"Measured {today.isoformat()} with `{command_line(script, argv)}`; "
            f"{machine()}.\n\n{table}\n")
    return text + (f"\n{notes.strip()}\n" if notes.strip() else "")


def replace_section(document: str, script: str, body: str) -> str:
    """The document with the script's marked section replaced by ``body``."""
    name = f"benchmarks/{Path(script).name}"
    begin, end = f"<!-- {name} -->", f"<!-- /{name} -->"
    start, stop = document.find(begin), document.find(end)
    if start < 0 or stop < start:
        raise SystemExit(f"{DOCS}: no section for {name}; add the lines {begin} and {end}")
    return document[:start + len(begin)] + "\n" + body + document[stop:]


def write_docs(script: str, table: str, notes: str = "", docs: Path = DOCS) -> Path:
    """Replace the script's section of docs/benchmarks.md with this run (atomic rename)."""
    updated = replace_section(docs.read_text(encoding="utf-8"), script,
                              section(script, table, notes))
    staging = docs.with_name(f".{docs.name}.tmp")
    staging.write_text(updated, encoding="utf-8")
    os.replace(staging, docs)
    print(f"wrote this run into {docs} ({Path(script).name}'s section)")
    return docs
