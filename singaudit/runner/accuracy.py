"""How well a model classifies the audit images: top-1 accuracy per data class, matched to the
model's classes by name (an audit of a model that gets its images wrong is a different audit)."""

from __future__ import annotations

from typing import Any

import torch


def _key(name: str) -> str:
    return " ".join(name.lower().replace("_", " ").split())


def audit_accuracy(logits: torch.Tensor, labels: torch.Tensor, data_classes: list[str],
                   model_classes: list[str]) -> dict[str, Any]:
    """``top1`` over the images of matched classes, ``top1_per_class`` for each matched data class,
    and ``unmatched_classes``: data class names the model has no class of (case, spaces and
    underscores ignored); accuracy is None when no class matches."""
    model_index = {_key(name): index for index, name in enumerate(model_classes)}
    predicted = logits.argmax(dim=1)
    per_class: dict[str, float] = {}
    unmatched: list[str] = []
    correct = total = 0
    for label, name in enumerate(data_classes):
        target = model_index.get(_key(name))
        rows = labels == label
        if target is None:
            unmatched.append(name)
            continue
        if not bool(rows.any()):
            continue
        hits = int((predicted[rows] == target).sum())
        per_class[name] = hits / int(rows.sum())
        correct, total = correct + hits, total + int(rows.sum())
    return {"top1": correct / total if total else None, "top1_per_class": per_class,
            "unmatched_classes": unmatched}
