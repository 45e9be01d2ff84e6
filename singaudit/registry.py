"""A small typed registry with lazy ``"module:object"`` entries (as lm-evaluation-harness does)."""

from __future__ import annotations

import ast
import fnmatch
import importlib
import importlib.util
import inspect
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Generic, TypeVar

T = TypeVar("T")


class RegistryError(LookupError):
    """An unknown or unloadable registry entry; the message lists what is available."""


def load_object(reference: str) -> object:
    """Import ``"package.module:attribute"`` (attribute may be dotted)."""
    module_name, sep, attribute = reference.partition(":")
    if not sep or not module_name or not attribute:
        raise RegistryError(f"{reference!r} is not of the form 'package.module:object'")
    try:
        obj: object = importlib.import_module(module_name)
    except ImportError as error:
        raise RegistryError(f"cannot import {module_name!r} for {reference!r}: {error}") from error
    for part in attribute.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError as error:
            raise RegistryError(f"{module_name!r} has no attribute {attribute!r}") from error
    return obj


def source_signature(reference: str) -> inspect.Signature | None:
    """The parameters (names and kinds) of a ``"package.module:function"`` read from the module's
    source, without importing it (a source module may import torch); None when they cannot be
    read so: not a plain top-level function, or no Python source."""
    module_name, sep, attribute = reference.partition(":")
    if not sep or not attribute.isidentifier():
        return None
    try:
        spec = importlib.util.find_spec(module_name)
        tree = ast.parse(Path(spec.origin).read_text(encoding="utf-8")) if (
            spec is not None and spec.origin and spec.origin.endswith(".py")) else None
    except (ImportError, ValueError, OSError, SyntaxError, UnicodeDecodeError):
        return None
    if tree is None:
        return None
    bound = [node for node in tree.body if attribute in _bound_names(node)]
    definition = bound[-1] if bound else None  # the last binding is what an import would give
    if not isinstance(definition, (ast.FunctionDef, ast.AsyncFunctionDef)) \
            or definition.decorator_list:  # a decorator may change the signature
        return None
    arguments, kind = definition.args, inspect.Parameter
    parameters = [*(kind(a.arg, kind.POSITIONAL_ONLY) for a in arguments.posonlyargs),
                  *(kind(a.arg, kind.POSITIONAL_OR_KEYWORD) for a in arguments.args)]
    if arguments.vararg:
        parameters.append(kind(arguments.vararg.arg, kind.VAR_POSITIONAL))
    parameters += [kind(a.arg, kind.KEYWORD_ONLY) for a in arguments.kwonlyargs]
    if arguments.kwarg:
        parameters.append(kind(arguments.kwarg.arg, kind.VAR_KEYWORD))
    return inspect.Signature(parameters)


def _bound_names(node: ast.stmt) -> set[str]:
    """Names a top-level statement binds (definitions, assignments, imports)."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {node.name}
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return {(a.asname or a.name).split(".")[0] for a in node.names}
    targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
    return {n.id for t in targets if t is not None for n in ast.walk(t) if isinstance(n, ast.Name)}


class Registry(Generic[T]):
    """Name -> entry, where an entry is an object or a lazy ``"module:object"`` string.

    ``base`` (optional) is checked when a lazy entry is resolved: classes must subclass it,
    other objects must be instances of it.
    """

    def __init__(self, kind: str, base: type | None = None) -> None:
        self.kind = kind
        self.base = base
        self._entries: dict[str, T | str] = {}

    def add(self, name: str, entry: T | str, *, replace: bool = False) -> None:
        if name in self._entries and not replace:
            raise RegistryError(f"{self.kind} {name!r} is already registered")
        self._entries[name] = entry

    def remove(self, name: str) -> None:
        """Forget ``name`` (a test's or a session's own entry); unknown names are ignored."""
        self._entries.pop(name, None)

    def register(self, name: str | None = None) -> Callable[[T], T]:
        """Decorator: ``@CHECKS.register("null_invariance")``; the default name is ``__name__``."""

        def decorate(obj: T) -> T:
            self.add(name or obj.__name__, obj)  # type: ignore[attr-defined]  # T: any named object
            return obj

        return decorate

    def get(self, name: str) -> T:
        try:
            entry = self._entries[name]
        except KeyError:
            available = ", ".join(sorted(self._entries)) or "(none)"
            raise RegistryError(f"unknown {self.kind} {name!r}; available: {available}") from None
        if isinstance(entry, str):
            entry = load_object(entry)  # type: ignore[assignment]
            self._check_type(name, entry)
            self._entries[name] = entry
        return entry  # type: ignore[return-value]

    def reference(self, name: str) -> str | None:
        """The ``"module:object"`` of an entry not imported yet; None otherwise."""
        entry = self._entries.get(name)
        return entry if isinstance(entry, str) else None

    def _check_type(self, name: str, entry: object) -> None:
        if self.base is None:
            return
        ok = issubclass(entry, self.base) if isinstance(entry, type) else isinstance(entry, self.base)
        if not ok:
            raise RegistryError(f"{self.kind} {name!r} is not a {self.base.__name__}")

    def add_entry_points(self, group: str) -> None:
        """Register, lazily, every entry point of ``group`` not registered yet (built-ins win)."""
        from importlib.metadata import entry_points

        for entry in entry_points(group=group):
            if entry.name not in self._entries:
                self._entries[entry.name] = entry.value

    def names(self, pattern: str | None = None) -> list[str]:
        names = sorted(self._entries)
        return [n for n in names if fnmatch.fnmatch(n, pattern)] if pattern else names

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._entries)
