"""Verdicts never taken from the cache: a cached check result is judged again from the
measurements stored with it (``singaudit.checks.thresholds`` is the one judge), and one whose
verdict disagrees is a corrupt entry (docs/cache.md)."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any

import numpy as np

from singaudit.cache.checks import StoredCheck
from singaudit.checks.base import Check, Measurements
from singaudit.checks.thresholds import Observations
from singaudit.results import CheckResult, ClassResult, Metric

logger = logging.getLogger("singaudit.cache")
MEASUREMENTS_VERSION = 1
_VERDICT = {"status", "message", "metrics", "per_class"}  # what judging decides


def measurements_record(measured: Measurements, class_names: Sequence[str], seed: int, *,
                        model: str, check: str) -> dict[str, Any]:
    """What judging needs, as JSON: the observations, the unjudged metrics, the class names and
    seed, the floor and summary (the data and artefact names are the result's own)."""
    return {
        "version": MEASUREMENTS_VERSION, "model": model, "check": check,
        "class_names": list(class_names), "seed": seed, "summary": measured.summary,
        "floor": measured.floor,
        "observations": {name: {"values": np.asarray(obs.values, dtype=np.float64).tolist(),
                                "labels": None if obs.labels is None else
                                np.asarray(obs.labels, dtype=np.int64).tolist(),
                                "per_image": obs.per_image}
                         for name, obs in measured.observations.items()},
        "metrics": {name: metric.model_dump(mode="json")
                    for name, metric in measured.metrics.items()},
        "per_class": {name: entry.model_dump(mode="json")
                      for name, entry in measured.per_class.items()},
    }


def judged_again(stored: StoredCheck, check: Check, params: Any) -> CheckResult:
    """The verdict the stored measurements give now (KeyError/TypeError/ValueError when the
    record is not one ``measurements_record`` wrote)."""
    record = stored.measurements
    if record["version"] != MEASUREMENTS_VERSION:
        raise ValueError("another layout")
    measured = Measurements(
        summary=record["summary"],
        observations={name: Observations(
            np.asarray(obs["values"], dtype=np.float64),
            None if obs["labels"] is None else np.asarray(obs["labels"], dtype=np.int64),
            bool(obs["per_image"])) for name, obs in record["observations"].items()},
        metrics={name: Metric.model_validate(value) for name, value in record["metrics"].items()},
        per_class={name: ClassResult.model_validate(value)
                   for name, value in record["per_class"].items()},
        data=stored.result.data, artefacts=stored.result.artefacts, floor=record["floor"])
    return check.judge(measured, params, list(record["class_names"]), seed=int(record["seed"]))


def trusted(stored: StoredCheck, check: Check, params: Any, model: str,
            check_name: str) -> CheckResult | None:
    """The stored result when judging its measurements again gives its verdict; else None,
    with one warning (a corrupt entry: the caller discards it and computes)."""
    where = f"{model}::{check_name}"
    record = stored.measurements
    if record.get("model") != model or record.get("check") != check_name:
        _corrupt(where, "it was stored for another model or check")
        return None
    try:
        again = judged_again(stored, check, params)
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        _corrupt(where, f"its measurements cannot be judged ({type(error).__name__})")
        return None
    if _verdict(again) != _verdict(stored.result):
        detail = (f"stored {stored.result.status}, its measurements judge {again.status}"
                  if again.status != stored.result.status else "its metrics differ")
        _corrupt(where, f"its verdict disagrees with its own measurements: {detail}")
        return None
    return stored.result


def _verdict(result: CheckResult) -> str:
    """What judging decides, as canonical JSON (mappings compared regardless of their order)."""
    return json.dumps(json.loads(result.model_dump_json(include=_VERDICT)), sort_keys=True)


def _corrupt(where: str, reason: str) -> None:
    logger.warning("singaudit: the cached result of %s does not hold (%s): a corrupt cache "
                   "entry, computed again", where, reason)
