"""What produced an audit result: versions, models and hashes, the spec, seed, device, timings."""

from __future__ import annotations

import datetime
import platform
import time
from functools import cache
from importlib import metadata
from typing import TYPE_CHECKING, Any

import singaudit

if TYPE_CHECKING:
    from singaudit.results import ModelResult
    from singaudit.runner.selection import ImageSelection
    from singaudit.runner.session import SpecRun

LIBRARIES = ("torch", "torchvision", "timm", "open_clip_torch", "numpy", "scipy", "scikit-learn",
             "pydantic", "safetensors", "diffusers", "transformers", "pillow")


@cache
def library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version(), "singaudit": singaudit.__version__}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def collect(run: SpecRun, images: ImageSelection | None, started: float,
            results: list[ModelResult] | None = None) -> dict[str, Any]:
    spec = run.spec
    models: dict[str, Any] = {}
    for model in spec.models:
        entry: dict[str, Any] = {"id": model.id}
        classifier = run.loaded_classifiers.get(model.name)
        if classifier is not None:
            entry.update(weights_hash=classifier.info.weights_hash,
                         feature_dim=classifier.info.feature_dim,
                         num_classes=classifier.info.num_classes)
        models[model.name] = entry
    joint: dict[str, Any] | None = None
    if spec.joint_space is not None:
        joint = {"id": spec.joint_space.id}
        space = run.loaded_joint_space
        if space is not None:
            joint.update(weights_hash=space.info.weights_hash, embed_dim=space.info.embed_dim)
    source_path = spec.source_path
    return {
        "spec": {"path": str(source_path) if source_path else None, "sha256": spec.spec_hash(),
                 "name": spec.name},
        "versions": dict(library_versions()),
        "platform": platform.platform(),
        "models": models,
        "joint_space": joint,
        "data": {
            "id": spec.data.id,
            "images": len(images.keys) if images is not None else 0,
            "classes": list(images.class_names) if images is not None else [],
        },
        "prompts": spec.prompts.to_prompt_spec().description,
        "translator": {"arch": spec.translator.arch, "path": spec.translator.path,
                       "fit_data": spec.translator.fit.id if spec.translator.fit else
                       f"{spec.data.id} (images not audited)"},
        "seed": spec.seed,
        "device": str(run.device),
        "dtype": str(run.dtype).removeprefix("torch."),
        "batch_size": spec.batch_size,
        "cache_dir": str(run.cache_dir),
        "timings_s": dict(run.reporter.timings),
        "cached_checks": list(run.cached_checks),
        # Visual evidence is the slow part without a GPU: its generation time, per model.
        "generation_s": {model.name: check.artefacts["seconds"] for model in results or []
                         for check in model.checks if "seconds" in check.artefacts},
        "total_s": round(time.time() - started, 3),
        "started_at": datetime.datetime.fromtimestamp(started, datetime.UTC).isoformat(),
    }
