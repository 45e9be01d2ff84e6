"""``list:/path/to/images.csv`` or ``.json``: image paths with labels.

CSV: a header with a ``path`` column and an optional ``label`` column. JSON: a list of
``{"path": ..., "label": ...}`` objects, or ``{"classes": [...], "images": [...]}`` of them.
Labels are class names, or indices into the class names (the ``class_names`` option or the JSON
``classes`` key). Relative paths are resolved against the list file's folder. The source lists
every image; selecting classes and images per class is the spec's ``data`` section.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path

from singaudit.adapters.data._images import FileImageSource, labelled_source
from singaudit.errors import DataError


def load(
    ident: str,
    *,
    class_names: Sequence[str] | None = None,
) -> FileImageSource:
    """A CSV or JSON image list as an ImageSource."""
    list_file = Path(ident).expanduser()
    if not list_file.is_file():
        raise DataError(f"list:{ident}: no such file {list_file}")
    if list_file.suffix.lower() == ".json":
        rows, listed_classes = _read_json(list_file)
    elif list_file.suffix.lower() in (".csv", ".tsv"):
        rows, listed_classes = _read_csv(list_file), None
    else:
        raise DataError(f"list:{ident}: expected a .csv, .tsv or .json file")
    class_names = list(class_names or listed_classes or [])
    if not class_names:
        names = {str(label) for _, label in rows if label not in (None, "")}
        class_names = sorted(names)
    index = {name: i for i, name in enumerate(class_names)}
    items = []
    for line, (raw_path, label) in enumerate(rows, start=1):
        path = Path(raw_path).expanduser()
        path = path if path.is_absolute() else list_file.parent / path
        items.append((str(path), path, _label(label, index, class_names, list_file, line)))
    return labelled_source(f"list:{ident}", class_names, items)


def _label(label: object, index: dict[str, int], class_names: list[str], where: Path, line: int
           ) -> int:
    if label is None or label == "":
        return -1
    if str(label) in index:
        return index[str(label)]
    if isinstance(label, int) or (isinstance(label, str) and label.strip().isdigit()):
        number = int(label)
        if 0 <= number < len(class_names):
            return number
    raise DataError(f"{where} entry {line}: unknown label {label!r}")


def _read_csv(path: Path) -> list[tuple[str, object]]:
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    try:
        with open(path, newline="") as handle:
            reader = csv.DictReader(handle, delimiter=delimiter)
            if not reader.fieldnames or "path" not in reader.fieldnames:
                raise DataError(
                    f"{path}: the header needs a 'path' column (and optionally 'label')"
                )
            return [(row["path"], row.get("label")) for row in reader if row.get("path")]
    except (OSError, csv.Error, UnicodeDecodeError) as error:
        raise DataError(f"cannot read {path}: {error}") from None


def _read_json(path: Path) -> tuple[list[tuple[str, object]], list[str] | None]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise DataError(f"cannot read {path}: {error}") from None
    classes = None
    if isinstance(data, dict):
        classes = data.get("classes")
        data = data.get("images")
    if not isinstance(data, list) or not all(isinstance(d, dict) and "path" in d for d in data):
        raise DataError(
            f"{path}: expected a list of {{'path': ..., 'label': ...}} objects "
            "(or {'classes': [...], 'images': [...]})"
        )
    return [(str(d["path"]), d.get("label")) for d in data], classes
