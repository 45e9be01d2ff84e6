"""What produced an audit result: versions, models and hashes, the spec, seed, device, timings."""

from __future__ import annotations

import datetime
import platform
import time
from dataclasses import dataclass, field
from typing import Any

from singaudit.io.versions import library_versions
from singaudit.results import ModelResult
from singaudit.runner.plan import Plan


@dataclass(frozen=True)
class RunFacts:
    """What a run learnt while computing, as plain values (the artefact builder fills it)."""

    device: str
    dtype: str  # "float32", without the "torch." prefix
    cache_dir: str
    # Per model name, of the models that were loaded: weights_hash, feature_dim, num_classes.
    classifiers: dict[str, dict[str, Any]] = field(default_factory=dict)
    joint_space: dict[str, Any] | None = None  # weights_hash, embed_dim when it was loaded
    images: int = 0
    classes: list[str] = field(default_factory=list)
    # Keys, content, labels and class names of the audited images: regression diffs pin them.
    images_sha256: str | None = None
    timings_s: dict[str, float] = field(default_factory=dict)
    cached_checks: list[str] = field(default_factory=list)  # model::check reused from the cache


def collect(plan: Plan, facts: RunFacts, started: float,
            results: list[ModelResult] | None = None) -> dict[str, Any]:
    """The provenance block of results.json."""
    spec = plan.spec
    models: dict[str, Any] = {}
    for model in spec.models:
        models[model.name] = {"id": model.id, **facts.classifiers.get(model.name, {})}
    joint: dict[str, Any] | None = None
    if spec.joint_space is not None:
        joint = {"id": spec.joint_space.id, **(facts.joint_space or {})}
    source_path = spec.source_path
    return {
        "spec": {"path": str(source_path) if source_path else None, "sha256": plan.spec_hash(),
                 "name": spec.name},
        "versions": dict(library_versions()),
        "platform": platform.platform(),
        "models": models,
        "joint_space": joint,
        "data": {"id": spec.data.id, "images": facts.images, "classes": list(facts.classes),
                 "images_sha256": facts.images_sha256},
        "prompts": plan.prompts.description,
        "prompt_templates": list(plan.prompts.templates),
        "null_removal": spec.null_removal,
        "translator": {"arch": spec.translator.arch, "path": spec.translator.path,
                       "fit_data": spec.translator.fit.id if spec.translator.fit else
                       f"{spec.data.id} (images not audited)"},
        "seed": spec.seed,
        "device": facts.device,
        "dtype": facts.dtype,
        "batch_size": spec.batch_size,
        "cache_dir": facts.cache_dir,
        "timings_s": dict(facts.timings_s),
        "cached_checks": list(facts.cached_checks),
        # Visual evidence is the slow part without a GPU: its generation time, per model.
        "generation_s": {model.name: check.artefacts["seconds"] for model in results or []
                         for check in model.checks if "seconds" in check.artefacts},
        "total_s": round(time.time() - started, 3),
        "started_at": datetime.datetime.fromtimestamp(started, datetime.UTC).isoformat(),
    }
