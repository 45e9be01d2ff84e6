"""Shared pieces of the file-based image sources: reading, hashing, per-class sampling."""

from __future__ import annotations

import hashlib
import os
import stat
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from singaudit.adapters.data.base import ImageRecord, ImageSource
from singaudit.errors import DataError

IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm"}
)


def _regular_file(path: str | Path) -> None:
    """Refuse FIFOs, devices and folders before opening: reading one can block or never end."""
    try:
        mode = os.stat(path).st_mode
    except OSError as error:
        raise DataError(f"cannot read image {path}: {error}") from None
    if not stat.S_ISREG(mode):
        raise DataError(f"cannot read image {path}: not a regular file")


@contextmanager
def _truncated_images_fail() -> Iterator[None]:
    """Truncated files raise while decoding, whatever the process-wide PIL setting says
    (importing weasyprint, to write a PDF, sets it to load them padded with grey)."""
    previous = ImageFile.LOAD_TRUNCATED_IMAGES
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        yield
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = previous


def read_image(path: str | Path) -> Image.Image:
    """The decoded RGB image at ``path``; ``DataError`` if it is missing, truncated or not one."""
    _regular_file(path)
    return decode(path, str(path))


def decode(source: str | Path | IO[bytes], where: str) -> Image.Image:
    """The RGB image in ``source`` (a path or a binary stream), upright; ``DataError`` naming
    ``where`` if it is truncated, a decompression bomb or not an image."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(source) as image, _truncated_images_fail():
                image.load()  # decode now, so truncated files fail here
                # Phone photos store their rotation in EXIF: show them the way people see them.
                return ImageOps.exif_transpose(image).convert("RGB")
    except (
        OSError,
        UnidentifiedImageError,
        ValueError,
        SyntaxError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
    ) as error:
        raise DataError(f"cannot read image {where}: {error}") from None


EXIF_ORIENTATION = 0x0112


def exif_orientation(path: str | Path) -> int:
    """The EXIF orientation tag (1: upright, the default; 2-8: mirrored or rotated)."""
    try:
        with Image.open(path) as image:
            return int(image.getexif().get(EXIF_ORIENTATION, 1))
    except Exception:  # noqa: BLE001 - an unreadable header is reported when the image is read
        return 1


def image_content_hash(path: str | Path) -> str:
    """sha256 of the file; for images that EXIF rotates, salted with the orientation, so
    features cached before images were read upright are not reused (upright ones keep theirs)."""
    digest = file_sha256(path)
    orientation = exif_orientation(path)
    if orientation == 1:
        return digest
    return hashlib.sha256(f"{digest}:exif-orientation={orientation}".encode()).hexdigest()


def file_sha256(path: str | Path) -> str:
    """sha256 of a file's bytes; ``DataError`` if it cannot be read."""
    _regular_file(path)
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except OSError as error:
        raise DataError(f"cannot read image {path}: {error}") from None
    return digest.hexdigest()


class FileImageSource(ImageSource):
    """Records whose keys map to image files; content hash = sha256 of the file."""

    def __init__(
        self,
        source_id: str,
        class_names: Sequence[str],
        records: Sequence[ImageRecord],
        paths: Mapping[str, Path],
    ) -> None:
        self.id = source_id
        self.class_names = list(class_names)
        self._records = list(records)
        self._paths = dict(paths)
        self._hashes: dict[str, str] = {}

    def records(self) -> list[ImageRecord]:
        return list(self._records)

    def path(self, record: ImageRecord) -> Path:
        try:
            return self._paths[record.key]
        except KeyError:
            raise DataError(f"record {record.key!r} does not belong to {self.id}") from None

    def load(self, record: ImageRecord) -> Image.Image:
        return read_image(self.path(record))

    def content_hash(self, record: ImageRecord) -> str:
        if record.key not in self._hashes:
            self._hashes[record.key] = image_content_hash(self.path(record))
        return self._hashes[record.key]


def labelled_source(
    source_id: str,
    class_names: Sequence[str],
    items: Sequence[tuple[str, Path, int]],
) -> FileImageSource:
    """A FileImageSource from (key, path, label) items (every one: selecting is the spec's)."""
    if not items:
        raise DataError(f"{source_id} has no images")
    records = [ImageRecord(key, label) for key, _, label in items]
    return FileImageSource(source_id, class_names, records, {k: p for k, p, _ in items})
