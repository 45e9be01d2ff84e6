"""The calibration world's sources (``calibration:``), one per kind: models and scenes whose
ground truth is known, shipped with singaudit. They are registered the way a third-party plugin's
are, through the entry points declared in pyproject.toml (``singaudit.classifiers`` etc.).

Their content is singaudit's own code and shipped weights (or the files of a ``weights_dir``), so
each says what an id's content is without loading it (``identity``), which lets a run be
replayed from its record. Importing this module imports no model library.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any, ClassVar

from singaudit.adapters.classifiers.catalogue import Preset
from singaudit.adapters.resolution import nearest
from singaudit.adapters.sources import Source, folder_hashes


class _CalibrationSource(Source):
    name = "calibration"

    def identity(self, ident: str, options: dict[str, Any]) -> Any | None:
        identity: dict[str, Any] = {"id": f"{self.name}:{ident}", "options": options}
        if options.get("weights_dir") is not None:
            hashes = folder_hashes(options["weights_dir"])
            if hashes is None:
                return None
            identity["weights"] = hashes
        return identity


def _one_of(ident: str, choices: tuple[str, ...], what: str) -> str | None:
    if ident.strip() not in choices:
        return f"no {what} {ident!r}; use {' or '.join(repr(c) for c in choices if c)}"
    return None


class CalibrationClassifiers(_CalibrationSource):
    """``calibration:<variant>``: the calibration classifiers (clean, leaky, mixed, ...)."""

    loader = "singaudit.adapters.classifiers.calibration_source:load"
    # Variants that load a packaged backbone: another distribution's weights, not singaudit's.
    EXTERNAL_WEIGHTS = ("lite0",)

    def problem(self, ident: str, options: dict[str, Any]) -> str | None:
        from singaudit.calibration.zoo import CLASSIFIER_VARIANTS

        if ident not in CLASSIFIER_VARIANTS:
            return (f"no calibration classifier {ident!r}{nearest(ident, CLASSIFIER_VARIANTS)}; "
                    f"available: {', '.join(CLASSIFIER_VARIANTS)}")
        return None

    def identity(self, ident: str, options: dict[str, Any]) -> Any | None:
        if ident.strip().startswith(self.EXTERNAL_WEIGHTS):
            return None
        return super().identity(ident, options)

    def presets(self) -> tuple[Preset, ...]:
        return calibration_presets()


class CalibrationJointSpace(_CalibrationSource):
    """``calibration:joint``: the calibration world's image-text space."""

    loader = "singaudit.adapters.joint_spaces.calibration_source:load"
    vocabulary = "calibration"

    def problem(self, ident: str, options: dict[str, Any]) -> str | None:
        return _one_of(ident, ("", "joint"), "calibration joint space")


class CalibrationScenes(_CalibrationSource):
    """``calibration:<split>``: rendered scenes with known classes and nuisances."""

    loader = "singaudit.adapters.data.calibration_source:load"
    moved_options: ClassVar[Mapping[str, str]] = {
        "images_per_class": "the calibration source's own population option is now 'scenes' "
                            "(the number of scenes rendered: the old images_per_class x 6)",
        "seed": "the calibration source's own population option is now 'scene_seed'",
    }

    def problem(self, ident: str, options: dict[str, Any]) -> str | None:
        from singaudit.calibration.scenes import SPLITS

        if ident not in SPLITS:
            return (f"no calibration split {ident!r}{nearest(ident, SPLITS)}; "
                    f"splits: {', '.join(SPLITS)}")
        return None


class CalibrationDecoder(_CalibrationSource):
    """``calibration:decoder``: the calibration world's image decoder."""

    loader = "singaudit.adapters.generators.calibration_source:load"

    def problem(self, ident: str, options: dict[str, Any]) -> str | None:
        return _one_of(ident, ("", "decoder"), "calibration generator")


CLASSIFIERS = CalibrationClassifiers()
JOINT_SPACE = CalibrationJointSpace()
SCENES = CalibrationScenes()
DECODER = CalibrationDecoder()


def _head_shape(kind: str) -> tuple[int, int]:
    """(classes, feature dim) of a calibration head: read from its shipped weights' header
    (no torch import), else from the network built untrained (weights not shipped)."""
    from safetensors import SafetensorError, safe_open

    from singaudit.calibration import zoo

    try:
        with safe_open(str(zoo.WEIGHTS_DIR / f"{kind}.safetensors"), "numpy") as weights:
            classes, dim = weights.get_slice("head.weight").get_shape()
        return int(classes), int(dim)
    except (OSError, SafetensorError, KeyError, ValueError):
        network: Any = zoo.build_classifier(kind)
        classes, dim = network.head.weight.shape
        return int(classes), int(dim)


_NOTES = {
    "clean": "null space carries only nuisance (colour, background, position)",
    "leaky": "null space carries a hidden shape code (class evidence)",
    "mixed": "null space carries both the hidden shape code and nuisance",
    "natural": "trained end to end",
    "clean_uncentred": "non-negative features; null space carries only nuisance",
    "leaky_uncentred": "non-negative features; null space carries a hidden shape code",
    "lite0_clean": "EfficientNet-Lite0 + linear layer; null space shape-blind",
    "lite0_leaky": "EfficientNet-Lite0 + linear layer; null space shape-sensitive",
    "lite0_natural": "EfficientNet-Lite0, head on all 1280 dimensions",
}


@cache
def calibration_presets() -> tuple[Preset, ...]:
    """The calibration models, null dim = m - c, with m and c read from their shipped weights."""
    from singaudit.calibration import zoo

    presets = []
    for kind in zoo.CLASSIFIER_VARIANTS:
        classes, dim = _head_shape(kind)
        presets.append(Preset(f"calibration_{kind}", f"calibration:{kind}",
                              f"Calibration: {kind}", dim, classes, dim - classes, None, True,
                              _NOTES[kind]))
    return tuple(presets)
