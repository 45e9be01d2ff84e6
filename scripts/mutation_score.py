"""Mutation score per module from mutmut's results (run `make mutation` first): killed / total,
and the survivors by name (inspect one with `mutmut show NAME`).

    python scripts/mutation_score.py
"""

from __future__ import annotations

import collections
import re
import shutil
import subprocess
import sys
from pathlib import Path

LINE = re.compile(r"^\s*(?P<name>[\w.]+)__mutmut_\d+: (?P<status>.+?)\s*$")
KILLED = {"killed", "timeout", "caught by type check", "segfault"}  # the tests noticed


def main() -> None:
    mutmut = shutil.which("mutmut") or str(Path(sys.executable).with_name("mutmut"))
    output = subprocess.run([mutmut, "results", "--all", "true"], capture_output=True, text=True,
                            check=True).stdout
    counts: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    survivors: list[str] = []
    for line in output.splitlines():
        match = LINE.match(line)
        if not match:
            continue
        module = match["name"].rsplit(".", 1)[0]  # singaudit.maths.geometry.x_head_geometry
        status = match["status"]
        counts[module][status] += 1
        if status == "survived":
            survivors.append(line.strip().split(":")[0])
    print(f"{'module':34} {'killed':>7} {'total':>6} {'score':>6}  other")
    for module, tally in sorted(counts.items()):
        tested = sum(tally.values()) - tally["not checked"]
        killed = sum(tally[s] for s in KILLED)
        others = ", ".join(f"{s} {n}" for s, n in sorted(tally.items()) if s not in KILLED)
        score = f"{killed / tested:.0%}" if tested else "-"
        print(f"{module:34} {killed:7d} {tested:6d} {score:>6}  {others}")
    print(f"\n{len(survivors)} survivors:")
    for name in survivors:
        print(f"  {name}")


if __name__ == "__main__":
    main()
