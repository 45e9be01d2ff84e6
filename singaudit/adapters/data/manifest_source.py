"""``manifest:/path/to/images.parquet`` (or ``.csv``/``.tsv``): one row per image, no folder
listing, so a million-image audit starts without walking a file tree.

Columns: ``path`` (required; relative paths are resolved against ``root``, default the manifest's
folder), ``label`` (optional: a class name, or an index into ``class_names``) and ``sha256``
(optional: the file's sha256; when given it is the image's content hash, so the driver reads no
image to key the cache -- it must be right, or cached features go stale). Options: ``class_names``
(class order; default the sorted label names) and ``root``; selecting classes and images per
class is the spec's ``data`` section.
Parquet needs pyarrow (installed with ``singaudit[ray]``); CSV needs nothing.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Sequence
from pathlib import Path

from singaudit.adapters.data._images import FileImageSource
from singaudit.adapters.data.base import ImageRecord
from singaudit.errors import DataError, MissingDependency

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class ManifestSource(FileImageSource):
    """File images listed by a manifest; content hashes from its ``sha256`` column if given."""

    def __init__(self, source_id, class_names, records, paths, hashes) -> None:
        super().__init__(source_id, class_names, records, paths)
        self._hashes.update(hashes)  # FileImageSource computes the missing ones on demand


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
    records, files, given = [], {}, {}
    for row, raw_path in enumerate(paths):
        if raw_path in (None, ""):
            raise DataError(f"{manifest} row {row + 1}: empty path")
        path = Path(str(raw_path)).expanduser()
        key = str(path if path.is_absolute() else base / path)
        label = _label(labels[row] if labels else None, index, class_names, manifest, row)
        records.append(ImageRecord(key, label))
        files[key] = Path(key)
        if hashes and hashes[row] not in (None, ""):
            digest = str(hashes[row]).lower()
            if not _SHA256.match(digest):
                raise DataError(f"{manifest} row {row + 1}: sha256 {hashes[row]!r} is not a "
                                "64-digit hex digest")
            given[key] = digest
    if len(files) != len(records):
        raise DataError(f"{manifest} lists an image more than once")
    return ManifestSource(f"manifest:{ident}", class_names, records, files, given)


def _label(value, index: dict[str, int], class_names: list[str], where: Path, row: int) -> int:
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
