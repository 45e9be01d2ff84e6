"""Images held as encoded bytes (a dataset's rows, a tar member) rather than as files."""

from __future__ import annotations

import hashlib
import io
import warnings

from PIL import Image, ImageOps, UnidentifiedImageError

from singaudit.adapters.data._images import _truncated_images_fail
from singaudit.errors import DataError


def decode_image(data: bytes, where: str) -> Image.Image:
    """The RGB image encoded in ``data``; ``DataError`` naming ``where`` if it is not one."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image, _truncated_images_fail():
                image.load()  # decode now, so truncated data fails here
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


def bytes_sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
