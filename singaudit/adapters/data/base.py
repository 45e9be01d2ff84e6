"""The image source interface: labelled records that load as PIL images."""

from __future__ import annotations

import abc
from dataclasses import dataclass

from PIL import Image


@dataclass(frozen=True)
class ImageRecord:
    key: str  # stable identity: a path, or a generator key such as "calibration/seed=0/17"
    label: int  # index into the source's class_names; -1 when unlabelled


class ImageSource(abc.ABC):
    class_names: list[str]
    id: str  # the full "source:id" name

    @abc.abstractmethod
    def records(self) -> list[ImageRecord]:
        """Every record, in a stable order."""

    @abc.abstractmethod
    def load(self, record: ImageRecord) -> Image.Image:
        """The RGB image; raises singaudit.errors.DataError for a corrupt or unreadable one."""

    @abc.abstractmethod
    def content_hash(self, record: ImageRecord) -> str:
        """A hash of the image content (file bytes, or generator parameters)."""
