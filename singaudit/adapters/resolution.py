"""Offline resolution of a spec's ``source:id`` names, for ``singaudit validate``: each id is put
to its Source's ``problem`` (singaudit.adapters.sources), which says without building a model
whether the id names something that exists here and suggests the nearest valid name. The helpers
the built-in sources share (nearest names, the hub cache, files, modules) live here too.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from singaudit.registry import Registry, RegistryError


def nearest(name: str, candidates: Iterable[str], count: int = 3) -> str:
    """" (did you mean 'a', 'b'?)" for the closest candidates, or ""."""
    pool = list(dict.fromkeys(candidates))
    lowered = {c.lower(): c for c in pool}
    matches = difflib.get_close_matches(name.lower(), list(lowered), n=count, cutoff=0.6)
    return f" (did you mean {', '.join(repr(lowered[m]) for m in matches)}?)" if matches else ""


def offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def hub_cached(repo: str) -> bool:
    """Whether a Hugging Face model repo has a snapshot in the local cache (its own folder is
    looked at, not a scan of the whole cache, which grows with every download)."""
    try:
        from huggingface_hub import constants
    except ImportError:
        return True  # cannot tell: do not refuse
    snapshots = Path(constants.HF_HUB_CACHE) / f"models--{repo.replace('/', '--')}" / "snapshots"
    try:
        return any(snapshots.iterdir())
    except OSError:  # no such folder: nothing of the repo was downloaded
        return False


def file_option(options: dict[str, Any], key: str) -> str | None:
    value = options.get(key)
    if value is not None and not Path(str(value)).expanduser().exists():
        return f"options.{key}: no such file {value}"
    return None


def hub_repo_problem(ident: str, what: str) -> str | None:
    if Path(ident).expanduser().is_dir():
        return None
    if offline() and not hub_cached(ident):
        return (f"{what} {ident!r} is neither a local folder nor in the local Hugging Face cache, "
                "and HF_HUB_OFFLINE=1")
    return None


def module_problem(dotted: str) -> str | None:
    """Why the module ``dotted`` cannot be found, or None; found on the file system only. A
    package's ``__init__`` is never run: ``importlib.util.find_spec("a.b")`` imports ``a``."""
    import importlib.machinery

    top, *rest = dotted.split(".")
    if not top or not all(part.isidentifier() for part in (top, *rest)):
        return f"{dotted!r} is not a module name"
    try:
        found = importlib.util.find_spec(top)  # a top-level name: found, not imported
    except (ImportError, ValueError):
        found = None
    if found is None:
        return f"no module {top!r}"
    locations = list(found.submodule_search_locations or [])
    suffixes = importlib.machinery.all_suffixes()
    for depth, part in enumerate(rest):
        here = ".".join([top, *rest[:depth]])
        if not locations:
            return f"{here!r} is a module, not a package: it has no {part!r}"
        folders = [Path(p) / part for p in locations if (Path(p) / part).is_dir()]
        if folders:  # a package (or a namespace package) of that name
            locations = [str(f) for f in folders]
            continue
        if any((Path(p) / f"{part}{suffix}").is_file() for p in locations for suffix in suffixes):
            locations = []
            continue
        return f"no module {part!r} in package {here!r}"
    return None


def folder_problem(ident: str) -> str | None:
    return None if Path(ident).expanduser().is_dir() else f"no such folder {ident}"


def file_problem(ident: str) -> str | None:
    return None if Path(ident).expanduser().is_file() else f"no such file {ident}"


def check_id(registry: Registry, name: str, options: dict[str, Any]) -> str | None:
    """A problem with ``source:id`` found offline, or None (also for a source that cannot tell)."""
    from singaudit.adapters.sources import get_source

    source, _, ident = name.partition(":")
    try:
        found = get_source(registry, source)
    except RegistryError:
        return None  # an unknown source is the spec's error, reported on its own
    try:
        return found.problem(ident, dict(options or {}))
    except ImportError as error:  # the library itself is missing: run reports it the same way
        return f"{source} is not installed ({error})"


def spec_id_problems(spec: Any) -> list[str]:
    """Every ``key.path: problem`` of a loaded AuditSpec's ids, found without building models."""
    from singaudit.adapters.sources import (
        CLASSIFIER_SOURCES,
        DATA_SOURCES,
        GENERATOR_SOURCES,
        JOINT_SPACE_SOURCES,
    )

    wanted: list[tuple[str, Registry, str, dict[str, Any]]] = []
    for index, model in enumerate(spec.models):
        wanted.append((f"models.{index}.id", CLASSIFIER_SOURCES, model.id, model.options))
    if spec.joint_space is not None:
        wanted.append(("joint_space.id", JOINT_SPACE_SOURCES, spec.joint_space.id,
                       spec.joint_space.options))
    wanted.append(("data.id", DATA_SOURCES, spec.data.id, spec.data.options))
    fit = getattr(spec.translator, "fit", None)
    if fit is not None:
        wanted.append(("translator.fit.id", DATA_SOURCES, fit.id, fit.options))
    path = getattr(spec.translator, "path", None)
    generator = spec.generator
    if generator is not None and generator.id is not None:
        wanted.append(("generator.id", GENERATOR_SOURCES, generator.id, generator.options))
    problems = [f"{key}: {problem}" for key, registry, name, options in wanted
                if (problem := check_id(registry, name, options))]
    if path is not None and not Path(path).expanduser().exists():
        problems.append(f"translator.path: no saved translator at {path}")
    return problems
