"""Every user-facing number is worded by singaudit.wording: no number format spec (an f-string's
``:.2f``, ``%``-formatting, ``format(x, "g")``) anywhere else in the package, except machine
formats named below with their reason and files still being reworked by other hands."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import singaudit
from singaudit.wording import gibibytes, grouped, percent

ROOT = Path(singaudit.__file__).parent
# A %-format that formats a number (%s and %r word nothing).
PERCENT_NUMBER = re.compile(r"%[-+ #0]*\d*(?:\.\d+)?[dieEfFgG]")
# Hexadecimal specs escape characters (\x1b, \u00e9): code points, not numbers a reader weighs.
CHARACTER_CODE = re.compile(r"0?\d*x")

# (file, formatted expression): formats a machine reads, not a person.
MACHINE_FORMATS = {
    ("reports/junit.py", "max(seconds, 0.0)"): "JUnit's time attribute: seconds to the ms",
    ("cache/tensors.py", "time.time()"): "an entry header's creation time, in whole seconds",
    ("checks/thresholds.py", "tiers.bound"): "a metrics key (leak_within_4): results.json",
    ("checks/null_invariance.py", "budget"): "a data key per budget: results.json",
    ("checks/null_invariance.py", "params.budgets[0]"): "the same data key, read back",
}
# Modules other hands are reworking (issue 26): their number formats move to wording.py there.
# Remove a file once it is clean (a clean file listed here fails the test).
OWNED_ELSEWHERE: set[str] = set()


def number_formats(path: Path) -> list[tuple[int, str]]:
    """(line, formatted expression) of every number format spec in a module."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.FormattedValue) and node.format_spec is not None:
            spec = ast.unparse(node.format_spec)[2:-1]  # f'.2f' -> .2f
            if not CHARACTER_CODE.fullmatch(spec):
                found.append((node.lineno, ast.unparse(node.value)))
        elif (isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod)
              and isinstance(node.left, ast.Constant) and isinstance(node.left.value, str)
              and PERCENT_NUMBER.search(node.left.value)):
            found.append((node.lineno, ast.unparse(node.right)))
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
              and node.func.id == "format" and len(node.args) == 2):
            found.append((node.lineno, ast.unparse(node.args[0])))
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
              and node.func.attr == "format" and isinstance(node.func.value, ast.Constant)
              and isinstance(node.func.value.value, str) and re.search(
                  r"\{[^{}]*:[^{}]*\}", node.func.value.value)):
            found.append((node.lineno, ast.unparse(node.func.value)))
    return sorted(found)


def _all_formats() -> dict[str, list[tuple[int, str]]]:
    formats = {}
    for path in sorted(ROOT.rglob("*.py")):
        where = path.relative_to(ROOT).as_posix()
        if where != "wording.py":
            formats[where] = number_formats(path)
    return formats


def test_numbers_are_worded_by_wording_only():
    stray = [f"singaudit/{where}:{line}: {expression}"
             for where, found in _all_formats().items() if where not in OWNED_ELSEWHERE
             for line, expression in found if (where, expression) not in MACHINE_FORMATS]
    assert not stray, ("number formats outside singaudit/wording.py (use number, fixed, "
                       "significant, percent, seconds ...):\n" + "\n".join(stray))


def test_the_exceptions_are_still_needed():
    formats = _all_formats()
    stale = [f"{where}: {expression}" for where, expression in MACHINE_FORMATS
             if expression not in {e for _, e in formats.get(where, [])}]
    stale += [f"{where}: clean now" for where in OWNED_ELSEWHERE if not formats.get(where)]
    assert not stale, "remove from this test's exceptions:\n" + "\n".join(stale)


def test_the_scan_finds_each_kind_of_format(tmp_path):
    module = tmp_path / "module.py"
    module.write_text('a = f"{x:.2f} {y}"\nb = "%.3g" % z\nc = format(w, "g")\n'
                      'd = "{:,}".format(v)\ne = f"{ord(c):04x}"\n')
    assert number_formats(module) == [(1, "x"), (2, "z"), (3, "w"), (4, "'{:,}'")]


def test_the_new_helpers():
    assert [percent(0.95), percent(0.125, 1), percent(None)] == ["95%", "12.5%", "n/a"]
    assert [grouped(1_048_576), grouped(12)] == ["1,048,576", "12"]
    assert [gibibytes(4 * 1024**3), gibibytes(1.6 * 1024**3)] == ["4 GiB", "2 GiB"]
