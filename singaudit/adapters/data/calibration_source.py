"""``calibration:<split>``: labelled synthetic scenes of the calibration world (label = shape).

Scenes are rendered in bulk on first load and served from memory (a warm run, which only hashes
them, renders none). Splits draw from disjoint seed streams;
the calibration models are trained on ``train`` (and selected on ``validation``) only, so audits
should use ``audit`` (the default) or ``test``.
"""

from __future__ import annotations

from functools import cached_property

import numpy as np
from PIL import Image

from singaudit.adapters.data.base import ImageRecord, ImageSource
from singaudit.calibration import scenes
from singaudit.errors import DataError
from singaudit.wording import gibibytes, grouped

DEFAULT_SPLIT = "audit"
# Scenes are rendered into memory up front: refuse counts that could not fit before allocating.
MAX_BYTES = 4 * 1024**3


class CalibrationScenes(ImageSource):
    def __init__(self, split: str, scene_seed: int, count: int) -> None:
        if split not in scenes.SPLITS:
            choices = ", ".join(scenes.SPLITS)
            raise DataError(f"unknown calibration split {split!r}; choose one of {choices}")
        if count < 1:
            raise DataError(f"scenes must be at least 1, got {count}")
        self.split, self.seed = split, int(scene_seed)
        self.class_names = list(scenes.SHAPES)
        self.id = f"calibration:{split}"
        needed = count * scenes.IMAGE_SIZE**2 * 3
        if needed > MAX_BYTES:
            raise DataError(f"calibration:{split} with scenes={count} would hold "
                            f"{gibibytes(needed)} of scenes in memory (at most "
                            f"{gibibytes(MAX_BYTES)}: {grouped(MAX_BYTES // (needed // count))} "
                            "scenes)")
        self.params = scenes.sample_params(split, self.seed, 0, count)
        self._hashes: dict[int, str] = {}
        self._records = [
            ImageRecord(f"calibration/{split}/seed={self.seed}/{i}", int(self.params.shape[i]))
            for i in range(count)
        ]

    @cached_property
    def pixels(self) -> np.ndarray:
        """Every scene, uint8 (count, size, size, 3), rendered at once on first use."""
        return scenes.render(self.params)

    def records(self) -> list[ImageRecord]:
        return list(self._records)

    def _index(self, record: ImageRecord) -> int:
        prefix = f"calibration/{self.split}/seed={self.seed}/"
        if not record.key.startswith(prefix):
            raise DataError(
                f"record {record.key!r} does not belong to {self.id} (seed {self.seed})"
            )
        index = int(record.key[len(prefix) :])
        if not 0 <= index < len(self._records):
            raise DataError(f"record {record.key!r} is out of range for {self.id}")
        return index

    def load(self, record: ImageRecord) -> Image.Image:
        return Image.fromarray(self.pixels[self._index(record)])

    def content_hash(self, record: ImageRecord) -> str:
        index = self._index(record)
        if index not in self._hashes:  # asked for by every extraction and fingerprint
            self._hashes[index] = self.params.row_hash(index)
        return self._hashes[index]


def load(
    ident: str = "", *, scenes: int = 300, scene_seed: int = 0, split: str | None = None
) -> CalibrationScenes:
    """``calibration:audit`` (default), ``calibration:test``, ...; ``split`` overrides the id.

    ``scenes`` are rendered from the split's seed stream ``scene_seed`` (shapes drawn at random,
    so about scenes / 6 per class): the population the spec's ``data`` section selects from."""
    return CalibrationScenes(split or ident or DEFAULT_SPLIT, scene_seed, scenes)
