"""Sources, addressed as ``source:id`` (``timm:resnet50.a1_in1k``): one ``Source`` object per
source prefix and kind, holding everything singaudit knows about it: how to load an id, what is
wrong with an id found offline, the ids it lists, the options it accepts, the presets it offers,
and the identity of an id's content when that is known without loading it.

The built-in sources are declared in each kind's ``catalogue`` module
(``singaudit.adapters.classifiers.catalogue``, ``...joint_spaces.catalogue``, ``...data.catalogue``,
``...generators.catalogue``). Other packages add sources through the entry-point groups
``singaudit.classifiers``, ``singaudit.joint_spaces``, ``singaudit.data`` and
``singaudit.generators`` (name = the ``source`` prefix, value = ``"package.module:load"``, a loader
``(ident, **options) -> adapter``, or ``"package.module:SOURCE"``, a ``Source``), or with
``CLASSIFIER_SOURCES.add(...)``. The calibration world comes in through these entry points too
(``singaudit.adapters.calibration_sources``, declared in pyproject.toml).
"""

from __future__ import annotations

import hashlib
import inspect
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from singaudit.errors import SingauditError
from singaudit.registry import Registry, RegistryError, load_object, source_signature

if TYPE_CHECKING:
    from singaudit.adapters.classifiers.catalogue import Preset


class Source:
    """One ``source:`` prefix. Subclasses override what they know; a bare ``Source(name, loader)``
    (how a plain third-party loader is seen) knows only how to load."""

    name: str = ""
    # "package.module:function" (imported on first load, so that knowing a source stays cheap)
    # or the loader itself: ``(ident, **options) -> adapter``.
    loader: str | Callable[..., Any] = ""
    # Image selection is the spec's data section's; a source whose own option took over a
    # selection key's old meaning says so here: {selection key: what to write now}.
    moved_options: ClassVar[Mapping[str, str]] = {}
    # A joint space whose words are a closed set: the shipped concept vocabulary made of them
    # (what `singaudit init` suggests); None: the general one.
    vocabulary: ClassVar[str | None] = None

    def __init__(self, name: str | None = None,
                 loader: str | Callable[..., Any] | None = None) -> None:
        if name is not None:
            self.name = name
        if loader is not None:
            self.loader = loader

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"

    def load(self, ident: str, **options: Any) -> Any:
        """The adapter for ``source:ident``."""
        loader = load_object(self.loader) if isinstance(self.loader, str) else self.loader
        if not callable(loader):
            raise RegistryError(f"source {self.name!r}: {self.loader!r} is not callable")
        return loader(ident, **options)

    def problem(self, ident: str, options: dict[str, Any]) -> str | None:
        """What is wrong with ``source:ident`` (nothing exists of that name here, a file is
        missing), found without building anything; None when nothing is, or it cannot be told."""
        return None

    def identity(self, ident: str, options: dict[str, Any]) -> Any | None:
        """What ``source:ident``'s content is, told without loading it (for run records); None
        when it cannot be told so (the default: the run then computes)."""
        return None

    def ids(self) -> list[str]:
        """The ids this source lists (e.g. a library's pretrained models), without importing
        heavy libraries when avoidable; raises ImportError when the library is not installed."""
        return []

    def presets(self) -> tuple[Preset, ...]:
        """Named, documented ids of this source (``singaudit models``)."""
        return ()

    def accepted_options(self) -> frozenset[str] | None:
        """Option names the loader accepts; None: any (it takes ``**kwargs``, or it cannot be
        imported, which the run reports). A loader named by reference has its signature read
        from its source, so validating imports no model library."""
        try:
            signature = source_signature(self.loader) if isinstance(self.loader, str) else None
            if signature is None:
                loader = load_object(self.loader) if isinstance(self.loader, str) else self.loader
                if not callable(loader):
                    return None
                signature = inspect.signature(loader)
            parameters = list(signature.parameters.values())[1:]  # after ident
        except (RegistryError, TypeError, ValueError):
            return None
        if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
            return None
        return frozenset(p.name for p in parameters if p.kind in (
            inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD))


def folder_hashes(folder: str | Path) -> dict[str, str] | None:
    """sha256 of each file directly in ``folder`` (an identity's content); None: no folder."""
    path = Path(folder).expanduser()
    if not path.is_dir():
        return None
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(path.iterdir()) if p.is_file()}


# Each entry is a Source, or a loader ``(id: str, **options) -> adapter`` (seen as a bare
# Source), either of them possibly a lazy "module:object" reference.
CLASSIFIER_SOURCES: Registry = Registry("classifier source")
JOINT_SPACE_SOURCES: Registry = Registry("joint-space source")
DATA_SOURCES: Registry = Registry("data source")
GENERATOR_SOURCES: Registry = Registry("generator source")


def split_name(name: str) -> tuple[str, str]:
    """``"timm:resnet50.a1_in1k"`` -> ``("timm", "resnet50.a1_in1k")``."""
    source, sep, ident = name.partition(":")
    if not sep or not source:
        raise SingauditError(f"{name!r} is not a 'source:id' name (e.g. 'timm:resnet50.a1_in1k')")
    return source, ident


def get_source(registry: Registry, source: str) -> Source:
    """The Source registered as ``source``; raises RegistryError when there is none. A plain
    loader named by reference is not imported (its signature is read from its file)."""
    reference = registry.reference(source) if source in registry else None
    if reference is not None and source_signature(reference) is not None:
        return Source(source, reference)  # a plain function: stays unimported until a load
    entry = registry.get(source)
    if isinstance(entry, Source):
        return entry
    if callable(entry):
        return Source(source, entry)
    raise RegistryError(f"{registry.kind} {source!r} is neither a Source nor a loader")


def sources_of(registry: Registry) -> list[Source]:
    """Every source of a registry that can be read (one that cannot import is left out): the
    built-in ones in their declared order, then the others by name."""
    built_in = list(_BUILT_IN[registry][1]) if registry in _BUILT_IN else []
    found = []
    for name in [*built_in, *(n for n in registry.names() if n not in built_in)]:
        try:
            found.append(get_source(registry, name))
        except RegistryError:
            continue
    return found


def _load(registry: Registry, name: str, options: dict[str, Any]) -> Any:
    source, ident = split_name(name)
    try:
        found = get_source(registry, source)
    except RegistryError as error:
        raise SingauditError(str(error)) from None
    loaded = found.load(ident, **options)
    info: Any = getattr(loaded, "info", None)
    if options and isinstance(getattr(info, "weights_hash", None), str):
        # A model's options can change what it computes with the same weights (a token selector,
        # a factory argument): they join the hash that keys cached features and embeddings.
        info.weights_hash = with_options_hash(info.weights_hash, options)
    return loaded


def with_options_hash(weights_hash: str, options: Mapping[str, Any]) -> str:
    """sha256 (16 hex digits) of a weights hash and the options given as plain data (objects,
    such as a module passed to ``hook:``, are described by their own weights or preprocessing)."""
    plain = {key: value for key, value in sorted(options.items()) if _is_plain(value)}
    if not plain:
        return weights_hash
    digest = hashlib.sha256(weights_hash.encode())
    digest.update(json.dumps(plain, sort_keys=True).encode())
    return digest.hexdigest()[:16]


def _is_plain(value: Any) -> bool:
    if isinstance(value, (str, int, float, bool)) or value is None:
        return True
    if isinstance(value, (list, tuple)):
        return all(_is_plain(v) for v in value)
    if isinstance(value, Mapping):
        return all(isinstance(k, str) and _is_plain(v) for k, v in value.items())
    return False


def load_classifier(name: str, **options: Any) -> Any:
    return _load(CLASSIFIER_SOURCES, name, options)


def load_joint_space(name: str, **options: Any) -> Any:
    return _load(JOINT_SPACE_SOURCES, name, options)


def load_data(name: str, **options: Any) -> Any:
    return _load(DATA_SOURCES, name, options)


def load_generator(name: str, **options: Any) -> Any:
    return _load(GENERATOR_SOURCES, name, options)


ENTRY_POINT_GROUPS = {
    "singaudit.classifiers": CLASSIFIER_SOURCES,
    "singaudit.joint_spaces": JOINT_SPACE_SOURCES,
    "singaudit.data": DATA_SOURCES,
    "singaudit.generators": GENERATOR_SOURCES,
}
# Built-in sources, by reference so that importing singaudit stays cheap: one catalogue module
# per kind declares its Source objects.
_BUILT_IN = {
    CLASSIFIER_SOURCES: ("classifiers", {"timm": "TIMM", "torchvision": "TORCHVISION", "hf": "HF",
                                         "hook": "HOOK", "python": "PYTHON"}),
    JOINT_SPACE_SOURCES: ("joint_spaces", {"open_clip": "OPEN_CLIP", "hf_clip": "HF_CLIP"}),
    DATA_SOURCES: ("data", {"folder": "FOLDER", "list": "LIST", "manifest": "MANIFEST",
                            "photos": "PHOTOS", "hf-dataset": "HF_DATASET",
                            "webdataset": "WEBDATASET"}),
    GENERATOR_SOURCES: ("generators", {"unclip": "UNCLIP"}),
}
for _registry, (_package, _objects) in _BUILT_IN.items():
    for _name, _object in _objects.items():
        _registry.add(_name, f"singaudit.adapters.{_package}.catalogue:{_object}")
for _group, _registry in ENTRY_POINT_GROUPS.items():
    _registry.add_entry_points(_group)
