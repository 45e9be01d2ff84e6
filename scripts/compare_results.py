"""Compare two singaudit results.json files, ignoring what differs from run to run.

    python scripts/compare_results.py A.json B.json [--ignore KEY ...] [--rtol 1e-9]

Exit 0 when every metric, status, message and per-image value is identical (timestamps,
durations, timings and per-run paths aside), 1 with the list of differences otherwise, 2 when a
file cannot be read. Used to show that a refactoring changes no result.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from pathlib import Path
from typing import Any

from singaudit.io.results_format import expand

# Keys whose values change between two runs of the same code on the same inputs.
PER_RUN_KEYS = frozenset({
    "duration_s",     # every check's wall time
    "seconds",        # evidence generation time (check artefacts)
    "timings_s",      # provenance: per-stage times
    "total_s",
    "started_at",
    "generation_s",   # provenance: evidence time per model
    "cache_dir",      # provenance: where this run's cache was
    "platform",       # provenance: the machine
})
# Paths (dotted, from the top) that name per-run places rather than results.
PER_RUN_PATHS = frozenset({"provenance.spec.path"})
# Wall times quoted inside messages ("decoder, seeds [0, 1], 0.1 s; ..."): compared as "<t> s".
SECONDS_IN_TEXT = re.compile(r"\b\d+(?:\.\d+)? s\b")


def differences(a: Any, b: Any, *, ignore: frozenset[str] = PER_RUN_KEYS, rtol: float = 0.0,
                path: str = "") -> list[str]:
    """Every difference between two JSON values, as 'path: a != b' lines."""
    if path in PER_RUN_PATHS:
        return []
    if isinstance(a, dict) and isinstance(b, dict):
        found = []
        for key in sorted(set(a) | set(b), key=str):
            if key in ignore:
                continue
            where = f"{path}.{key}" if path else str(key)
            if key not in a:
                found.append(f"{where}: only in B")
            elif key not in b:
                found.append(f"{where}: only in A")
            else:
                found.extend(differences(a[key], b[key], ignore=ignore, rtol=rtol, path=where))
        return found
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{path}: {len(a)} items != {len(b)} items"]
        found = []
        for index, (left, right) in enumerate(zip(a, b, strict=True)):
            found.extend(differences(left, right, ignore=ignore, rtol=rtol, path=f"{path}[{index}]"))
        return found
    if _numbers_equal(a, b, rtol):
        return []
    if isinstance(a, str) and isinstance(b, str) and (
            SECONDS_IN_TEXT.sub("<t> s", a) == SECONDS_IN_TEXT.sub("<t> s", b)):
        return []
    return [f"{path}: {_short(a)} != {_short(b)}"]


def _numbers_equal(a: Any, b: Any, rtol: float) -> bool:
    if isinstance(a, bool) or isinstance(b, bool) or not (
            isinstance(a, int | float) and isinstance(b, int | float)):
        return a == b and type(a) is type(b)
    if math.isnan(a) and math.isnan(b):
        return True
    return a == b or (rtol > 0 and math.isclose(a, b, rel_tol=rtol))


def _short(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 80 else text[:77] + "..."


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("a", type=Path)
    parser.add_argument("b", type=Path)
    parser.add_argument("--ignore", action="append", default=[],
                        help="another key to ignore wherever it appears")
    parser.add_argument("--rtol", type=float, default=0.0,
                        help="relative tolerance on numbers (default: exact)")
    parser.add_argument("--max", type=int, default=50, help="differences to print at most")
    args = parser.parse_args(argv)
    try:
        # Schema 5 files are compact on disk: compared in the data model's layout.
        a, b = (expand(json.loads(Path(p).read_text())) for p in (args.a, args.b))
    except (OSError, ValueError) as error:
        print(f"cannot read results: {error}", file=sys.stderr)
        return 2
    found = differences(a, b, ignore=PER_RUN_KEYS | set(args.ignore), rtol=args.rtol)
    if not found:
        print(f"identical: {args.a} and {args.b} (ignoring {', '.join(sorted(PER_RUN_KEYS))})")
        return 0
    print(f"{len(found)} difference(s) between {args.a} and {args.b}:")
    for line in found[:args.max]:
        print(f"  {line}")
    if len(found) > args.max:
        print(f"  ... and {len(found) - args.max} more")
    return 1


if __name__ == "__main__":
    sys.exit(main())
