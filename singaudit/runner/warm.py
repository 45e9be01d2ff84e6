"""Run records: what a computing run needs to replay itself without loading a model or importing
torch, when every input is unchanged.

A run record is keyed by everything a run's results depend on that can be told without loading
a model: the spec (but its report section), ``--only``, every file of the singaudit package
(code and shipped weights), library versions, the device the run would pick, the cache folder,
and each source's identity. Only sources whose identity is known without loading them take
part (those whose ``Source.identity`` tells it, as the calibration world's do: their content is
singaudit's own code and shipped weights, or the files of a ``weights_dir``); any other source
means a computing run, as before.
A record names each check result by its check-cache key, so a replay reads the same verified
entries (result, measurements, artefact files, checksums) a computing warm run reuses, and judges
each verdict again from its measurements. Records are stored by ``singaudit.cache.runs``.
"""

from __future__ import annotations

import glob
import hashlib
import os
import platform
import sys
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

from singaudit.adapters.sources import (
    CLASSIFIER_SOURCES,
    DATA_SOURCES,
    GENERATOR_SOURCES,
    JOINT_SPACE_SOURCES,
    folder_hashes,
    get_source,
)
from singaudit.cache.runs import RECORD_VERSION
from singaudit.io.versions import library_versions
from singaudit.registry import Registry, RegistryError
from singaudit.runner.memo import digest
from singaudit.runner.plan import Plan, make_plan
from singaudit.spec.models import AuditSpec


@cache
def package_fingerprint() -> str:
    """sha256 of every file of the singaudit package (code, vocabularies, shipped weights)."""
    import singaudit

    root = Path(singaudit.__file__).resolve().parent
    digest_ = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        if "__pycache__" in path.parts or not path.is_file():
            continue
        digest_.update(path.relative_to(root).as_posix().encode())
        digest_.update(path.read_bytes())
    return digest_.hexdigest()


def source_identity(name: str, options: dict[str, Any],
                    registry: Registry | None = None) -> Any | None:
    """What a source's content is, told without loading it (its Source's ``identity``); None
    when it cannot be told. ``registry``: the kind of source (default: classifiers)."""
    source, _, ident = name.partition(":")
    try:
        found = get_source(registry if registry is not None else CLASSIFIER_SOURCES, source)
    except RegistryError:
        return None
    return found.identity(ident, options)


def device_probe(requested: str) -> dict[str, Any]:
    """What decides the device and default dtype a run picks, read without torch."""
    cpu_flags = ""
    if Path("/proc/cpuinfo").is_file():
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as info:
            cpu_flags = next((line for line in info if line.startswith("flags")), "")
    return {
        "requested": requested,
        "gpus": sorted(glob.glob("/dev/nvidia[0-9]*")) + sorted(glob.glob("/dev/dri/renderD*")),
        "visible": {k: v for k, v in os.environ.items()
                    if k in ("CUDA_VISIBLE_DEVICES", "HIP_VISIBLE_DEVICES")},
        "platform": [sys.platform, platform.machine(), platform.processor()],
        "cpu_flags": hashlib.sha256(cpu_flags.encode()).hexdigest(),
    }


def record_key(spec: AuditSpec | Plan, only: Sequence[str] | None, cache_dir: Path,
               device: str | None) -> str | None:
    """The run record key of ``spec`` (planned); None when some input's identity cannot be
    told."""
    plan = make_plan(spec)
    spec = plan.spec
    sources: list[tuple[str, dict[str, Any], Registry]] = [
        (m.id, m.options, CLASSIFIER_SOURCES) for m in spec.models]
    sources.append((spec.data.id, spec.data.options, DATA_SOURCES))
    if spec.joint_space is not None:
        sources.append((spec.joint_space.id, spec.joint_space.options, JOINT_SPACE_SOURCES))
    if spec.translator.fit is not None:
        sources.append((spec.translator.fit.id, spec.translator.fit.options, DATA_SOURCES))
    if spec.generator is not None and spec.generator.id is not None:
        sources.append((spec.generator.id, spec.generator.options, GENERATOR_SOURCES))
    elif spec.generator is not None:
        return None  # the joint space's default generator: named only by the loaded space
    identities = [source_identity(name, dict(options), registry)
                  for name, options, registry in sources]
    if any(identity is None for identity in identities):
        return None
    translator_file = None
    if spec.translator.path is not None:
        path = Path(spec.translator.path).expanduser()
        hashes = folder_hashes(path) if path.is_dir() else (
            {path.name: hashlib.sha256(path.read_bytes()).hexdigest()} if path.is_file() else None)
        if hashes is None:
            return None
        translator_file = hashes
    return digest({
        "record": RECORD_VERSION,
        # Where forward passes run changes no result (nor any check key): not part of the key.
        "spec": {k: v for k, v in plan.spec_dump().items() if k not in ("report", "execution")},
        "only": sorted(only) if only else None,
        "package": package_fingerprint(),
        "versions": library_versions(),
        "device": device_probe(device or spec.device),
        "cache_dir": str(cache_dir.absolute()),
        "sources": identities,
        "translator_file": translator_file,
        "python": sys.version,
    })
