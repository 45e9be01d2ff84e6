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
    # The content fingerprint when both runs recorded it; else what identifies the selection.
    return data.get("images_sha256") or [data.get("id"), data.get("images"), data.get("classes")]


# What must match, each read from provenance. A key neither run recorded matches.
PINNED: dict[str, Callable[[dict[str, Any]], Any]] = {
    "joint space": lambda p: [_get("joint_space", "id")(p), _get("joint_space", "weights_hash")(p)],
    "prompts": lambda p: p.get("prompt_templates") or p.get("prompts"),
    "translator architecture": lambda p: [_get("translator", "arch")(p),
                                          _get("translator", "path")(p)],
    "audit images": _images,
    "null-removal reference": lambda p: p.get("null_removal"),
}


def mismatches(base: AuditResult, new: AuditResult) -> list[Mismatch]:
    """What makes the two runs incomparable (empty when they can be compared)."""
    found = []
    for what, read in PINNED.items():
        before, after = read(base.provenance), read(new.provenance)
        if _recorded(before) and _recorded(after) and before != after:
            found.append(Mismatch(what=what, base=before, new=after))
    return found


def _recorded(value: Any) -> bool:
    if isinstance(value, list):
        return any(v is not None for v in value)
    return value is not None


def _short(value: Any, limit: int = 60) -> str:
    if isinstance(value, list):
        value = ", ".join(str(v) for v in value if v is not None)
    text = str(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
