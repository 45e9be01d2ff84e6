"""``manifest:/path/to/images.parquet`` (or ``.csv``/``.tsv``): one row per image, no folder
listing, so a million-image audit starts without walking a file tree.

Columns: ``path`` (required; relative paths are resolved against ``root``, default the manifest's
folder), ``label`` (optional: a class name, or an index into ``class_names``) and ``sha256``
(optional: the file's sha256; when given it is the image's content hash, so the driver reads no
image to key the cache). A declared sha256 is compared with the bytes read whenever the image is
read (to compute its features): a mismatch is a data error (exit 4) and nothing is computed or
cached for it. An image already cached under its declared hash is not read again, so a wrong hash
that equals another image's can still reuse that image's features. Two rows that name the same
file (the same path after ``.``, ``..`` and repeated separators are resolved; links are not
followed) are refused. Options: ``class_names``
(class order; default the sorted label names) and ``root``; selecting classes and images per
class is the spec's ``data`` section.
Parquet needs pyarrow (installed with ``singaudit[ray]``); CSV needs nothing.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import re
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from singaudit.adapters.data._images import FileImageSource, _regular_file, _truncated_images_fail
from singaudit.adapters.data.base import ImageRecord
from singaudit.errors import DataError, MissingDependency

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class ContentMismatch(DataError):
    """An image whose bytes do not have the sha256 its manifest declares: the run stops (the
    declared hash keys the cache, so nothing may be computed or cached for it)."""


class ManifestSource(FileImageSource):
    """File images listed by a manifest; content hashes from its ``sha256`` column if given,
    checked against the bytes whenever an image is read."""

    def __init__(self, source_id: str, class_names: Sequence[str], records: Sequence[ImageRecord],
                 paths: Mapping[str, Path], hashes: Mapping[str, str],
                 rows: Mapping[str, int] | None = None) -> None:
        super().__init__(source_id, class_names, records, paths)
        self._hashes.update(hashes)  # FileImageSource computes the missing ones on demand
        self._declared = dict(hashes)
        self._rows = dict(rows or {})  # key -> manifest row number, for messages

    def load(self, record: ImageRecord) -> Image.Image:
        declared = self._declared.get(record.key)
        if declared is None:
            return super().load(record)
        path = self.path(record)
        _regular_file(path)
        try:
            data = path.read_bytes()
        except OSError as error:
            raise DataError(f"cannot read image {path}: {error}") from None
        actual = hashlib.sha256(data).hexdigest()
        if actual != declared:
            row = self._rows.get(record.key)
            raise ContentMismatch(
                f"{self.id}{f' row {row}' if row else ''}: {path} has sha256 {actual}, not the "
                f"declared {declared}; nothing was computed or cached for it (correct the "
                "sha256 column, or leave it empty to hash the file)")
        return _decoded(data, path)  # the very bytes that were checked


def load(
    ident: str,
    *,
    class_names: Sequence[str] | None = None,
    root: str | None = None,
) -> ManifestSource:
    """A Parquet or CSV manifest of path[,label][,sha256] as an ImageSource."""
    manifest = Path(ident).expanduser()
    if not manifest.is_file():
        raise DataError(f"manifest:{ident}: no such file {manifest}")
    suffix = manifest.suffix.lower()
    if suffix == ".parquet":
        columns = _read_parquet(manifest)
    elif suffix in (".csv", ".tsv"):
        columns = _read_csv(manifest, "\t" if suffix == ".tsv" else ",")
    else:
        raise DataError(f"manifest:{ident}: expected a .parquet, .csv or .tsv file")
    paths, labels, hashes = columns["path"], columns.get("label"), columns.get("sha256")
    if not paths:
        raise DataError(f"manifest:{ident} lists no images")
    class_names = list(class_names or sorted({str(v) for v in labels or [] if v not in (None, "")}))
    index = {name: i for i, name in enumerate(class_names)}
    base = Path(root).expanduser() if root is not None else manifest.parent
    records: list[ImageRecord] = []
    files: dict[str, Path] = {}
    given: dict[str, str] = {}
    rows: dict[str, int] = {}
    seen: dict[str, int] = {}  # normalised path -> first row naming it
    for row, raw_path in enumerate(paths):
        if raw_path in (None, ""):
            raise DataError(f"{manifest} row {row + 1}: empty path")
        path = Path(str(raw_path)).expanduser()
        key = str(path if path.is_absolute() else base / path)
        label = _label(labels[row] if labels else None, index, class_names, manifest, row)
        same = os.path.normpath(os.path.abspath(key))  # one file, however the rows spell it
        if same in seen:
            raise DataError(f"{manifest} lists an image more than once: rows {seen[same]} and "
                            f"{row + 1} name the same file {same}; list each image once")
        seen[same] = row + 1
        records.append(ImageRecord(key, label))
        files[key] = Path(key)
        rows[key] = row + 1
        if hashes and hashes[row] not in (None, ""):
            digest = str(hashes[row]).lower()
            if not _SHA256.match(digest):
                raise DataError(f"{manifest} row {row + 1}: sha256 {hashes[row]!r} is not a "
                                "64-digit hex digest")
            given[key] = digest
    return ManifestSource(f"manifest:{ident}", class_names, records, files, given, rows)


def _decoded(data: bytes, path: Path) -> Image.Image:
    """The RGB image in ``data`` (read from ``path``), as ``read_image`` decodes a file."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image, _truncated_images_fail():
                image.load()
                return ImageOps.exif_transpose(image).convert("RGB")
    except (OSError, UnidentifiedImageError, ValueError, SyntaxError,
            Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise DataError(f"cannot read image {path}: {error}") from None


def _label(value: object, index: dict[str, int], class_names: list[str], where: Path, row: int
           ) -> int:
    if value is None or value == "":
        return -1
    if str(value) in index:
        return index[str(value)]
    if isinstance(value, int) or (isinstance(value, str) and value.strip().isdigit()):
        number = int(value)
        if 0 <= number < len(class_names):
            return number
    raise DataError(f"{where} row {row + 1}: unknown label {value!r}")


def _read_parquet(path: Path) -> dict[str, list]:
    try:
        import pyarrow
        from pyarrow import parquet
    except ImportError:
        raise MissingDependency(
            f"{path}: reading Parquet needs pyarrow (pip install pyarrow, or 'singaudit[ray]'); "
            "a CSV manifest needs nothing"
        ) from None
    try:
        schema = parquet.read_schema(path)
        wanted = [name for name in ("path", "label", "sha256") if name in schema.names]
        if "path" not in wanted:
            raise DataError(f"{path}: a manifest needs a 'path' column (and optionally 'label', "
                            f"'sha256'); it has {', '.join(schema.names)}")
        table = parquet.read_table(path, columns=wanted)
    except (OSError, ValueError, pyarrow.lib.ArrowException) as error:  # a damaged file
        raise DataError(f"cannot read {path}: {error}") from None
    return {name: table.column(name).to_pylist() for name in wanted}


def _read_csv(path: Path, delimiter: str) -> dict[str, list]:
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle, delimiter=delimiter)
            names = reader.fieldnames or []
            if "path" not in names:
                raise DataError(f"{path}: a manifest needs a 'path' column (and optionally "
                                "'label', 'sha256')")
            wanted = [name for name in ("path", "label", "sha256") if name in names]
            columns: dict[str, list] = {name: [] for name in wanted}
            for row in reader:
                for name in wanted:
                    columns[name].append(row.get(name))
    except (OSError, csv.Error, UnicodeDecodeError) as error:
        raise DataError(f"cannot read {path}: {error}") from None
    return columns
