"""results.json on disk from schema 4: one line of compact JSON that stays small at 1,000 classes.

What the data model holds many times is written once: a per-class metric's description, unit,
statistic, direction and tiers go to ``metric_info`` (per check and metric) when they equal the
first class's, and a long array that several checks or models keep (image keys, labels, class
names) goes to ``shared_arrays``, named from where it was. Nothing is rounded: :func:`expand`
turns such a file back into the very same result; files of schema 4 and older have nothing to
expand.
"""

from __future__ import annotations

import json
from typing import Any, TypeGuard

# Lists at least this long are per-image (or per-class) arrays, shared when repeated.
LONG = 8
# Per-class metric fields that are the same for every class of a check's metric.
METRIC_INFO_FIELDS = ("description", "unit", "statistic", "higher_is_better", "tiers")
# Per-class metric fields whose absence means null.
NULLABLE_FIELDS = ("status", "ci", "p_value")


def compact(document: dict[str, Any]) -> str:
    """The JSON text of a results document (``AuditResult.model_dump(mode="json")``)."""
    metric_info: dict[str, dict[str, dict[str, Any]]] = {}
    shared = _Shared(_repeated(document))
    for model in document.get("models", []):
        predictions = model.get("predictions")
        if isinstance(predictions, dict) and shared.holds(predictions.get("image_keys")):
            predictions["image_keys"] = shared.name(predictions["image_keys"], "image_keys")
        for check in model.get("checks", []):
            info = metric_info.setdefault(check["name"], {})
            for result in check.get("per_class", {}).values():
                for name, metric in result.get("metrics", {}).items():
                    _factor_metric(metric, info.setdefault(
                        name, {key: metric[key] for key in METRIC_INFO_FIELDS if key in metric}))
            data = check.get("data", {})
            references = {key: shared.name(value, key) for key, value in data.items()
                          if shared.holds(value)}
            for key in references:
                del data[key]
            if references:
                check["shared_data"] = references
    document["metric_info"] = {check: info for check, info in metric_info.items() if info}
    document["shared_arrays"] = shared.arrays
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def expand(raw: dict[str, Any]) -> dict[str, Any]:
    """A parsed results file in the data model's layout (in place; unchanged before schema 5)."""
    metric_info = raw.pop("metric_info", None) or {}
    arrays = raw.pop("shared_arrays", None) or {}
    if not isinstance(metric_info, dict) or not isinstance(arrays, dict):
        return raw  # validation names what is wrong with the rest
    for model in raw.get("models", []) if isinstance(raw.get("models"), list) else []:
        if not isinstance(model, dict):
            continue
        predictions = model.get("predictions")
        if isinstance(predictions, dict) and isinstance(predictions.get("image_keys"), str) \
                and predictions["image_keys"] in arrays:
            predictions["image_keys"] = list(arrays[predictions["image_keys"]])
        for check in model.get("checks", []) if isinstance(model.get("checks"), list) else []:
            if not isinstance(check, dict):
                continue
            references = check.pop("shared_data", None) or {}
            if isinstance(references, dict) and isinstance(check.setdefault("data", {}), dict):
                for key, name in references.items():
                    if name in arrays:
                        check["data"][key] = list(arrays[name])
            info = metric_info.get(check.get("name"), {})
            per_class = check.get("per_class")
            if not isinstance(info, dict) or not isinstance(per_class, dict):
                continue
            for result in per_class.values():
                metrics = result.get("metrics") if isinstance(result, dict) else None
                for name, metric in (metrics or {}).items():
                    if isinstance(metric, dict) and isinstance(info.get(name), dict):
                        for key, value in info[name].items():
                            metric.setdefault(key, value)
    return raw


def _factor_metric(metric: dict[str, Any], info: dict[str, Any]) -> None:
    for key in METRIC_INFO_FIELDS:
        if key in metric and key in info and metric[key] == info[key]:
            del metric[key]
    for key in NULLABLE_FIELDS:
        if key in metric and metric[key] is None:
            del metric[key]


def _repeated(document: dict[str, Any]) -> set[tuple]:
    """The contents of the long arrays that occur more than once (check data, image keys)."""
    seen: set[tuple] = set()
    repeated: set[tuple] = set()
    for model in document.get("models", []):
        predictions = model.get("predictions")
        values: list[Any] = [predictions.get("image_keys")] \
            if isinstance(predictions, dict) else []
        values += [value for check in model.get("checks", [])
                   for value in check.get("data", {}).values()]
        for value in values:
            if _is_long(value):
                content = _hashable(value)
                (repeated if content in seen else seen).add(content)
    return repeated


class _Shared:
    """Long arrays kept more than once, each stored once under a name from where it was first
    seen; an array kept once stays where it is."""

    def __init__(self, repeated: set[tuple]) -> None:
        self.arrays: dict[str, list] = {}
        self._repeated = repeated
        self._by_content: dict[tuple, str] = {}

    def holds(self, value: Any) -> bool:
        return _is_long(value) and _hashable(value) in self._repeated

    def name(self, value: list, key: str) -> str:
        content = _hashable(value)
        found = self._by_content.get(content)
        if found is None:
            found = key if key not in self.arrays else f"{key}#{len(self.arrays)}"
            self.arrays[found] = value
            self._by_content[content] = found
        return found


def _hashable(value: list) -> tuple:
    return tuple(json.dumps(item, sort_keys=True) if isinstance(item, (list, dict)) else item
                 for item in value)


def _is_long(value: Any) -> TypeGuard[list]:
    return isinstance(value, list) and len(value) >= LONG
