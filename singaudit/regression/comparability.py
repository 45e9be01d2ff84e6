"""Whether two audit runs can be compared: the same joint space, prompts, translator, images and
null-removal reference (read from each run's provenance)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

from singaudit.results import AuditResult


class Mismatch(BaseModel):
    """One thing that differs between the baseline's run and the candidate's."""

    what: str
    base: Any = None
    new: Any = None

    def describe(self) -> str:
        return f"{self.what}: {_short(self.base)} -> {_short(self.new)}"


def _get(*path: str) -> Callable[[dict[str, Any]], Any]:
    def read(provenance: dict[str, Any]) -> Any:
        value: Any = provenance
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        return value

    return read


def _images(provenance: dict[str, Any]) -> Any:
    data = provenance.get("data") or {}
    return {"sha256": data.get("images_sha256"),
            "selection": [data.get("id"), data.get("images"), data.get("classes")]}


# What must match, each read from provenance. A key neither run recorded matches; a key one run
# recorded and the other did not is a mismatch.
PINNED: dict[str, Callable[[dict[str, Any]], Any]] = {
    "joint space": lambda p: [_get("joint_space", "id")(p), _get("joint_space", "weights_hash")(p)],
    "prompts": lambda p: p.get("prompt_templates") or p.get("prompts"),
    "translator architecture": lambda p: [_get("translator", "arch")(p),
                                          _get("translator", "path")(p)],
    "audit images": _images,
    "null-removal reference": lambda p: p.get("null_removal"),
}

# What comparing reads from provenance, and the JSON type each must have where recorded.
PROVENANCE_TYPES: dict[str, tuple[type, ...]] = {
    "spec": (dict,), "spec.sha256": (str,), "started_at": (str,),
    "joint_space": (dict,), "joint_space.id": (str,), "joint_space.weights_hash": (str,),
    "prompts": (str, list), "prompt_templates": (list,),
    "translator": (dict,), "translator.arch": (str,), "translator.path": (str,),
    "data": (dict,), "data.id": (str,), "data.images": (int,), "data.classes": (list,),
    "data.images_sha256": (str,), "null_removal": (str,),
}
JSON_TYPES = {dict: "an object", list: "a list", str: "a string", int: "an integer",
              float: "a number", bool: "a boolean", type(None): "null"}


def malformed_provenance(provenance: dict[str, Any]) -> str | None:
    """What in a run's provenance has the wrong type for comparing (None when nothing)."""
    for key, types in PROVENANCE_TYPES.items():
        value = _get(*key.split("."))(provenance)
        if value is not None and (not isinstance(value, types) or isinstance(value, bool)):
            wanted = " or ".join(JSON_TYPES[t] for t in types)
            found = JSON_TYPES.get(type(value), type(value).__name__)
            return f"provenance.{key} must be {wanted}, not {found}"
    return None


def mismatches(base: AuditResult, new: AuditResult) -> list[Mismatch]:
    """What makes the two runs incomparable (empty when they can be compared)."""
    recorded = [_recorded_any(run.provenance) for run in (base, new)]
    if not all(recorded):
        return [Mismatch(what="provenance (what the numbers were computed on)",
                         base="recorded" if recorded[0] else "none recorded",
                         new="recorded" if recorded[1] else "none recorded")]
    found = []
    for what, read in PINNED.items():
        before, after = read(base.provenance), read(new.provenance)
        if what == "audit images":
            # The content fingerprint when both runs recorded it; else what names the selection.
            key = "sha256" if before["sha256"] and after["sha256"] else "selection"
            before, after = before[key], after[key]
        if _recorded(before) != _recorded(after) or _recorded(before) and before != after:
            found.append(Mismatch(what=what, base=before, new=after))
    return found


def _recorded_any(provenance: dict[str, Any]) -> bool:
    return any(_recorded(value) for value in (read(provenance) for read in PINNED.values()))


def _recorded(value: Any) -> bool:
    if isinstance(value, dict):
        return any(_recorded(v) for v in value.values())
    if isinstance(value, list):
        return any(v is not None for v in value)
    return value is not None


def _short(value: Any, limit: int = 60) -> str:
    if not _recorded(value):
        return "not recorded"
    if isinstance(value, list):
        value = ", ".join(str(v) for v in value if v is not None)
    text = " ".join(str(value).split())  # one line, whatever the value holds
    return text if len(text) <= limit else text[: limit - 3] + "..."
