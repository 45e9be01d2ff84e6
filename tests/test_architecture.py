"""The package's imports: no cycle between modules, and no import up the layer map.

Every ``import`` statement counts, at module level or inside a function (lazy imports too);
only imports under ``if TYPE_CHECKING:`` are left out of the cycle rule (they never run).
Run: ``python -m pytest -q tests/test_architecture.py``.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import singaudit

ROOT = Path(singaudit.__file__).parent

# Layers, bottom first (docs/CONTRIBUTING.md): a package may import its own modules and those of
# lower layers only. The bare ``singaudit`` package is importable from everywhere: it defines
# ``__version__`` and exports its public API lazily (by name, on first attribute access).
LAYERS: dict[str, int] = {
    "errors": 0, "lazy": 0, "strict": 0,
    "io": 1, "registry": 1, "wording": 1,
    "maths": 2, "results": 2,
    "calibration": 3, "cache": 3,
    "adapters": 4,
    "pipeline": 5,
    "checks": 6, "regression": 6,
    "spec": 7,
    "runner": 8,
    "reports": 9, "integrations": 9,  # integrations: results.json to MLflow and model cards
    "cli": 10, "pytest_plugin": 10,
}


@dataclass(frozen=True)
class Import:
    importer: str
    target: str
    line: int
    type_checking: bool


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(p): p for p in ROOT.rglob("*.py")}


def _type_checking_lines(tree: ast.AST) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                lines.update(range(child.lineno, (child.end_lineno or child.lineno) + 1))
    return lines


def imports_of(name: str) -> list[Import]:
    """singaudit modules imported by module ``name`` (a ``from package import submodule``
    names the submodule; a module's own ancestor packages are always initialised first)."""
    path = MODULES[name]
    tree = ast.parse(path.read_text(), filename=str(path))
    guarded = _type_checking_lines(tree)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: list[Import] = []

    def add(target: str, node: ast.AST) -> None:
        if target == "singaudit" or not target.startswith("singaudit."):
            return
        if name.startswith(target + ".") and target not in MODULES:
            return
        found.append(Import(name, target, node.lineno, node.lineno in guarded))

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name, node)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            for alias in node.names:
                submodule = f"{module}.{alias.name}"
                if submodule in MODULES:
                    add(submodule, node)
                elif not (name == module or name.startswith(module + ".")):
                    add(module, node)
                elif module != "singaudit":
                    add(module, node)  # a name from an ancestor package's __init__
    return found


def layer_of(module: str) -> str:
    return module.split(".")[1]


ALL_IMPORTS = [imp for name in sorted(MODULES) for imp in imports_of(name)]


def test_every_package_has_a_layer():
    packages = {layer_of(name) for name in MODULES if name != "singaudit"}
    assert packages - {"__main__"} <= set(LAYERS), sorted(packages - set(LAYERS))


def test_no_import_goes_up_the_layers():
    upward = [f"{imp.importer}:{imp.line} imports {imp.target}" for imp in ALL_IMPORTS
              if imp.importer != "singaudit" and layer_of(imp.importer) != layer_of(imp.target)
              and LAYERS.get(layer_of(imp.target), 99) >= LAYERS.get(layer_of(imp.importer), -1)]
    assert not upward, "imports up the layer map:\n" + "\n".join(upward)


def test_the_bare_package_imports_only_the_ground_floor():
    # `import singaudit` stays cheap: its public API is exported lazily, by name.
    eager = {imp.target for imp in ALL_IMPORTS if imp.importer == "singaudit"}
    assert eager and all(LAYERS[layer_of(target)] == 0 for target in eager), eager


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in edges.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycle():
    edges: dict[str, set[str]] = defaultdict(set)
    for imp in ALL_IMPORTS:
        if not imp.type_checking and imp.target in MODULES:
            edges[imp.importer].add(imp.target)
    assert not cycles(edges), f"import cycles: {cycles(edges)}"


def test_the_checker_sees_cycles_and_lazy_imports():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []
    lazy = [imp for imp in ALL_IMPORTS if imp.importer == "singaudit.cli.run"]
    assert any(imp.target.startswith("singaudit.runner") for imp in lazy)  # inside functions


# Layers below the checks must not know one check from another: a string key naming a check
# (reading its data, picking its result) is a dependency the import rules above cannot see.
# The regression package sits beside the checks but compares any two runs, so it is held too.
BELOW_THE_CHECKS = {name for name, layer in LAYERS.items() if layer < LAYERS["checks"]} | {
    "regression"}
# module -> check names it may spell, each with its documented reason.
CHECK_NAMES_ALLOWED: dict[str, dict[str, str]] = {
    "singaudit.regression.tiers": {
        "class_semantics": "the regression section's documented default tier (docs/results.md) "
                           "is spec data: it names the check as a user's spec would"},
}


def _check_name_literals(path: Path, names: set[str]) -> list[tuple[int, str]]:
    """(line, name) of each string constant in ``path`` equal to one of ``names``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef,
                                       ast.AsyncFunctionDef))
                  and node.body and isinstance(node.body[0], ast.Expr)}
    return [(node.lineno, node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str)
            and node.value in names and id(node) not in docstrings]


def test_nothing_below_the_checks_names_a_check():
    from singaudit.checks import CHECKS

    names = set(CHECKS.names())
    found = [f"{module}:{line}: {literal!r}"
             for module, path in sorted(MODULES.items())
             if "." in module and layer_of(module) in BELOW_THE_CHECKS
             for line, literal in _check_name_literals(path, names)
             if literal not in CHECK_NAMES_ALLOWED.get(module, {})]
    assert not found, "check names below the checks layer:\n" + "\n".join(found)


def test_the_check_name_rule_sees_a_check_name(tmp_path):
    module = tmp_path / "reader.py"
    module.write_text('"""Docstring naming class_semantics is fine."""\n'
                      'KEY = "class_semantics"\n', encoding="utf-8")
    assert _check_name_literals(module, {"class_semantics"}) == [(2, "class_semantics")]
