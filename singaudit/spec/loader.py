"""Reading audit files: yaml.safe_load, command-line overrides, and errors with file, line and key."""

from __future__ import annotations

import difflib
import re
import stat
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError

from singaudit.errors import SpecError
from singaudit.spec.models import SPEC_KIND, AuditSpec
from singaudit.wording import grouped


@dataclass(frozen=True)
class Overrides:
    """Command-line changes applied to the raw spec before validation."""

    data: str | None = None  # a 'source:id' name, or a folder path (becomes 'folder:<path>')
    device: str | None = None
    out: str | None = None
    sets: tuple[str, ...] = ()  # "key.path=value", value parsed as a YAML scalar

    def assignments(self) -> list[tuple[str, Any, str]]:
        """(dotted key path, value, how the user wrote it)."""
        items: list[tuple[str, Any, str]] = []
        if self.data is not None:
            items.append(("data.id", _data_id(self.data), f"--data {self.data}"))
        if self.device is not None:
            items.append(("device", self.device, f"--device {self.device}"))
        if self.out is not None:
            items.append(("report.out", self.out, f"--out {self.out}"))
        for text in self.sets:
            key, sep, value = text.partition("=")
            if not sep or not key.strip():
                raise SpecError(f"--set {text!r}: expected key.path=value")
            parsed = safe_yaml(value, f"--set {text}")[1] if value.strip() else None
            items.append((key.strip(), parsed, f"--set {text}"))
        return items


# A 'source:id' name as --data may give it; anything else is a folder path.
_SOURCE_NAME = re.compile(r"^[A-Za-z0-9_\-]+:")


def _data_id(value: str) -> str:
    """``--data``'s value as a data id: a 'source:id' name stays one (an unregistered source is
    a folder path again, decided by the plan), a path becomes 'folder:<path>'."""
    return value if _SOURCE_NAME.match(value) else f"folder:{value}"


@dataclass(frozen=True)
class SpecOrigin:
    """Where a spec's keys were written: the file (or text's) name, its YAML node tree and the
    keys command-line options set, so that errors found after parsing still name their line."""

    source: str = "<spec>"
    root: yaml.Node | None = None
    touched: Mapping[str, str] = field(default_factory=dict)

    def error(self, error: ValidationError) -> SpecError:
        """One SpecError listing every error of ``error`` at its file:line: key.path."""
        return SpecError(_format_errors(error, self.source, self.root, self.touched))


def _assign(document: dict[str, Any], dotted: str, value: Any, origin: str) -> None:
    parts = dotted.split(".")
    node: Any = document
    for depth, part in enumerate(parts):
        last = depth == len(parts) - 1
        if isinstance(node, list):
            if not part.lstrip("-").isdigit() or not -len(node) <= int(part) < len(node):
                raise SpecError(f"{origin}: {'.'.join(parts[:depth + 1])!r} is not an index of "
                                f"a list of {len(node)}")
            index = int(part)
            if last:
                node[index] = value
            else:
                node = node[index]
        elif isinstance(node, dict):
            if last:
                node[part] = value
            else:
                if node.get(part) is None:
                    node[part] = {}
                node = node[part]
        else:
            raise SpecError(f"{origin}: {'.'.join(parts[:depth])!r} is a value, not a mapping")


def apply_overrides(document: dict[str, Any], overrides: Overrides | None) -> dict[str, str]:
    """Apply overrides in place; return {dotted key path: the option that set it}."""
    touched: dict[str, str] = {}
    for dotted, value, origin in (overrides.assignments() if overrides else []):
        _assign(document, dotted, value, origin)
        touched[dotted] = origin
    return touched


def _node_at(root: yaml.Node | None, loc: Sequence[str | int]) -> yaml.Node | None:
    """The deepest YAML node along a pydantic error location (a key node for mapping keys)."""
    node = root
    found = root
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            match = next(((k, v) for k, v in node.value if k.value == str(part)), None)
            if match is None:
                return found
            found, node = match[0], match[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if not 0 <= part < len(node.value):
                return found
            found = node = node.value[part]
        else:
            return found
    return found


def _format_errors(
    error: ValidationError, source: str, root: yaml.Node | None, touched: Mapping[str, str]
) -> str:
    lines = []
    for detail in error.errors(include_url=False):
        # Unions add the member type as a location step ("literal['all']"); not a key.
        loc = [p for p in detail["loc"] if isinstance(p, int) or "[" not in p]
        key_path = ".".join(str(part) for part in loc) or "(top level)"
        if key_path in touched:
            where = f"{source} ({touched[key_path]})"
        else:
            node = _node_at(root, loc)
            where = f"{source}:{node.start_mark.line + 1}" if node is not None else source
        message = detail["msg"].removeprefix("Value error, ")
        if detail["type"] == "extra_forbidden" and loc:
            message += did_you_mean(str(loc[-1]))
        lines.append(f"{where}: {key_path}: {message}")
    count = len(lines)
    header = f"invalid audit spec ({count} error{'s' if count > 1 else ''}):"
    return "\n".join([header, *("  " + line for line in lines)])


def schema_keys(schema: object) -> set[str]:
    """Every property name in a JSON Schema (at any depth)."""
    names: set[str] = set()
    if isinstance(schema, dict):
        properties = schema.get("properties")
        if isinstance(properties, dict):
            names.update(properties)
        for value in schema.values():
            names |= schema_keys(value)
    elif isinstance(schema, list):
        for value in schema:
            names |= schema_keys(value)
    return names


def did_you_mean(key: str, keys: Iterable[str] = ()) -> str:
    """" (did you mean 'top_k'?)" from ``keys`` and every key of the spec's own schema."""
    names = schema_keys(AuditSpec.model_json_schema()) | set(keys)
    lowered = {name.lower(): name for name in sorted(names)}
    match = difflib.get_close_matches(key.lower(), list(lowered), n=1, cutoff=0.6)
    return f" (did you mean {lowered[match[0]]!r}?)" if match else ""


# A spec is a few hundred nodes; aliases may share a node many times, but expanding them past this
# ("billion laughs") would make validation and hashing allocate without bound.
MAX_EXPANDED_NODES = 100_000
MAX_SPEC_BYTES = 4 * 1024 * 1024


def _check_nodes(root: yaml.Node | None, source: str) -> None:
    """Refuse duplicate mapping keys (naming both lines) and alias expansions past
    MAX_EXPANDED_NODES or recursive ones, before anything is built from the nodes."""
    expanded: dict[int, int] = {}
    in_progress: set[int] = set()

    def size(node: yaml.Node) -> int:
        known = expanded.get(id(node))
        if known is not None:
            return known
        if id(node) in in_progress:
            raise SpecError(f"{source}:{node.start_mark.line + 1}: a YAML alias refers to "
                            "itself (a recursive structure is not an audit spec)")
        in_progress.add(id(node))
        total = 1
        if isinstance(node, yaml.MappingNode):
            seen: dict[str, yaml.Node] = {}
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and key.tag != "tag:yaml.org,2002:merge":
                    if key.value in seen:
                        first = seen[key.value].start_mark.line + 1
                        raise SpecError(
                            f"{source}:{key.start_mark.line + 1}: duplicate key {key.value!r} "
                            f"(first given on line {first}); each key may appear once")
                    seen[key.value] = key
                total += size(key) + size(value)
        elif isinstance(node, yaml.SequenceNode):
            for item in node.value:
                total += size(item)
        if total > MAX_EXPANDED_NODES:
            raise SpecError(f"{source}:{node.start_mark.line + 1}: YAML aliases expand to more "
                            f"than {grouped(MAX_EXPANDED_NODES)} values (an alias bomb?); "
                            "write the spec out instead")
        in_progress.discard(id(node))
        expanded[id(node)] = total
        return total

    if root is not None:
        size(root)


def safe_yaml(text: str, source: str) -> tuple[yaml.Node | None, Any]:
    """(composed node tree, document) of YAML text with safe tags only; duplicate keys, alias
    bombs, recursion and over-deep nesting are SpecErrors naming ``source``."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        _check_nodes(root, source)
        loader = yaml.SafeLoader(text)
        try:
            document = loader.construct_document(root) if root is not None else None
        finally:
            loader.dispose()
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark is not None else source
        problem = getattr(error, "problem", None) or str(error)
        raise SpecError(f"{where}: not valid YAML: {problem}") from None
    except RecursionError:
        raise SpecError(f"{source}: not valid YAML: nested too deeply") from None
    return root, document


# Errors found in a raw document by someone else than the spec's own models (the runner's plan:
# names the registries refuse), reported together with the spec's own.
MoreErrors = Callable[[dict[str, Any], SpecOrigin], list[InitErrorDetails]]


def parse_spec_text(
    text: str, *, source: str = "<spec>", overrides: Overrides | None = None,
    more_errors: MoreErrors | None = None,
) -> AuditSpec:
    """Validate audit YAML text; raise SpecError with file:line: key.path: reason (with
    ``more_errors``' errors of the document, all at once)."""
    root, document = safe_yaml(text, source)
    if not isinstance(document, dict):
        raise SpecError(f"{source}: an audit spec is a YAML mapping (with kind: {SPEC_KIND})")
    touched = apply_overrides(document, overrides)
    origin = SpecOrigin(source, root, touched)
    errors: list[InitErrorDetails] = []
    spec = None
    try:
        spec = AuditSpec.model_validate(document)
    except ValidationError as error:
        errors += _details(error)
    if more_errors is not None:
        errors += more_errors(document, origin)
    if errors:
        order = {key: index for index, key in enumerate(AuditSpec.model_fields)}
        errors.sort(key=lambda e: order.get(str(e["loc"][0]), len(order)) if e["loc"] else -1)
        raise origin.error(ValidationError.from_exception_data("AuditSpec", errors)) from None
    assert spec is not None
    spec._origin = origin
    return spec


def _details(error: ValidationError) -> list[InitErrorDetails]:
    """``error``'s details as ``ValidationError.from_exception_data`` takes them again."""
    found: list[InitErrorDetails] = []
    for detail in error.errors():
        if detail["type"] in ("value_error", "assertion_error"):  # its message as written
            kind = PydanticCustomError("invalid", detail["msg"].removeprefix("Value error, "))
            found.append(InitErrorDetails(type=kind, loc=detail["loc"], input=detail["input"]))
            continue
        entry = InitErrorDetails(type=detail["type"], loc=detail["loc"], input=detail["input"])
        if "ctx" in detail:
            entry["ctx"] = detail["ctx"]
        found.append(entry)
    return found


def load_spec(path: str | Path, overrides: Overrides | None = None, *,
              more_errors: MoreErrors | None = None) -> AuditSpec:
    """Read and validate one audit file."""
    path = Path(path)
    text = _read_spec_text(path)
    spec = parse_spec_text(text, source=str(path), overrides=overrides, more_errors=more_errors)
    spec._source_path = path
    return spec


def _read_spec_text(path: Path) -> str:
    """A spec file's text; a FIFO, device or huge file is refused before it is read."""
    try:
        info = path.stat()
    except FileNotFoundError:
        raise SpecError(f"{path}: no such audit spec") from None
    except OSError as error:
        raise SpecError(f"{path}: cannot read it ({error})") from None
    if not stat.S_ISREG(info.st_mode):
        raise SpecError(f"{path}: not a regular file (an audit spec is a YAML file)")
    if info.st_size > MAX_SPEC_BYTES:
        raise SpecError(f"{path}: {grouped(info.st_size)} bytes is too large for an audit spec "
                        f"(at most {grouped(MAX_SPEC_BYTES)})")
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise SpecError(f"{path}: cannot read it ({error})") from None


def is_audit_spec(path: str | Path) -> bool:
    """Whether a YAML file declares ``kind: singaudit/audit`` (cheap: no validation)."""
    try:
        _, document = safe_yaml(_read_spec_text(Path(path)), str(path))
    except SpecError:
        return False
    return isinstance(document, dict) and document.get("kind") == SPEC_KIND


def iter_spec_files(paths: Iterable[str | Path]) -> list[Path]:
    """Files given, plus audit specs found in folders given (sorted)."""
    found: list[Path] = []
    for entry in map(Path, paths):
        if entry.is_dir():
            candidates = sorted([*entry.rglob("*.yaml"), *entry.rglob("*.yml")])
            found.extend(p for p in candidates if is_audit_spec(p))
        else:
            found.append(entry)
    return found
