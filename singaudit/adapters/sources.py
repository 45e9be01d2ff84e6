"""Registries of sources, addressed as ``source:id`` (``timm:resnet50.a1_in1k``).

Third-party packages add sources through the entry-point groups ``singaudit.classifiers``,
``singaudit.joint_spaces``, ``singaudit.data`` and ``singaudit.generators`` (name = the
``source`` prefix, value = ``"package.module:load"``), or with ``CLASSIFIER_SOURCES.add(...)``.
"""

from __future__ import annotations

from typing import Any

from singaudit.errors import SingauditError
from singaudit.registry import Registry, RegistryError

# Each entry is a loader ``(id: str, **options) -> adapter``, registered lazily.
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


def _load(registry: Registry, name: str, options: dict[str, Any]) -> Any:
    source, ident = split_name(name)
    try:
        loader = registry.get(source)
    except RegistryError as error:
        raise SingauditError(str(error)) from None
    return loader(ident, **options)


def load_classifier(name: str, **options: Any):
    return _load(CLASSIFIER_SOURCES, name, options)


def load_joint_space(name: str, **options: Any):
    return _load(JOINT_SPACE_SOURCES, name, options)


def load_data(name: str, **options: Any):
    return _load(DATA_SOURCES, name, options)


def load_generator(name: str, **options: Any):
    return _load(GENERATOR_SOURCES, name, options)


# Built-in sources, resolved lazily so that importing singaudit stays cheap.
# Each module exposes ``load(ident: str, **options)``.
for _name in ("timm", "torchvision", "hf", "hook", "python", "calibration"):
    CLASSIFIER_SOURCES.add(_name, f"singaudit.adapters.classifiers.{_name}_source:load")
for _name in ("open_clip", "hf_clip", "calibration"):
    JOINT_SPACE_SOURCES.add(_name, f"singaudit.adapters.joint_spaces.{_name}_source:load")
for _name in ("folder", "list", "manifest", "photos", "calibration"):
    DATA_SOURCES.add(_name, f"singaudit.adapters.data.{_name}_source:load")
DATA_SOURCES.add("hf-dataset", "singaudit.adapters.data.hf_dataset_source:load")
DATA_SOURCES.add("webdataset", "singaudit.adapters.data.webdataset_source:load")
for _name in ("unclip", "calibration"):
    GENERATOR_SOURCES.add(_name, f"singaudit.adapters.generators.{_name}_source:load")

ENTRY_POINT_GROUPS = {
    "singaudit.classifiers": CLASSIFIER_SOURCES,
    "singaudit.joint_spaces": JOINT_SPACE_SOURCES,
    "singaudit.data": DATA_SOURCES,
    "singaudit.generators": GENERATOR_SOURCES,
}
for _group, _registry in ENTRY_POINT_GROUPS.items():
    _registry.add_entry_points(_group)
