"""The library versions singaudit records and keys its caches on: one list, one rule."""

from __future__ import annotations

import platform
from functools import cache
from importlib import metadata

import singaudit

# Every library whose version can change a computed number, a saved file or a report.
LIBRARIES = ("torch", "torchvision", "timm", "open_clip_torch", "numpy", "scipy", "scikit-learn",
             "pydantic", "safetensors", "diffusers", "transformers", "pillow")


@cache
def library_versions() -> dict[str, str]:
    """Python, singaudit and each installed library of ``LIBRARIES`` (missing ones left out).

    Provenance records it; translator files and calibration metadata carry it; every cache key
    includes it, so any version change recomputes cached artefacts rather than reusing them.
    """
    versions = {"python": platform.python_version(), "singaudit": singaudit.__version__}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions
