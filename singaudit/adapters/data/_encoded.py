"""Images held as encoded bytes (a dataset's rows, a tar member) rather than as files."""

from __future__ import annotations

import hashlib
import io

from PIL import Image

from singaudit.adapters.data._images import decode


def decode_image(data: bytes, where: str) -> Image.Image:
    """The RGB image encoded in ``data``; ``DataError`` naming ``where`` if it is not one."""
    return decode(io.BytesIO(data), where)


def bytes_sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
