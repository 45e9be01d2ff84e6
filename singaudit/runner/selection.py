"""Which images an audit uses: classes by name or index, a seeded per-class sample."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from singaudit.adapters.data.base import ImageRecord, ImageSource
from singaudit.errors import DataError


@dataclass(frozen=True)
class ImageSelection:
    """Records chosen from a source; labels index ``class_names`` (-1: unlabelled)."""

    source: ImageSource
    records: tuple[ImageRecord, ...]
    labels: tuple[int, ...]
    class_names: tuple[str, ...]
    # (class name, images found) for classes with fewer images than images_per_class asked for.
    short_classes: tuple[tuple[str, int], ...] = ()

    @property
    def keys(self) -> list[str]:
        return [record.key for record in self.records]

    def subset(self, positions: Sequence[int]) -> ImageSelection:
        return ImageSelection(
            self.source,
            tuple(self.records[i] for i in positions),
            tuple(self.labels[i] for i in positions),
            self.class_names,
            self.short_classes,
        )


def resolve_classes(source: ImageSource, classes: str | Sequence[str | int]) -> list[int]:
    """Source class indices for ``"all"`` or a list of names / indices."""
    names = list(source.class_names)
    if classes == "all":
        return list(range(len(names)))
    by_name = {name: index for index, name in enumerate(names)}
    chosen: list[int] = []
    for entry in classes:
        if isinstance(entry, int):
            if not 0 <= entry < len(names):
                raise DataError(f"class index {entry} is out of range: {source.id} has "
                                f"{len(names)} classes")
            chosen.append(entry)
        elif entry in by_name:
            chosen.append(by_name[entry])
        else:
            close = [n for n in names if entry.lower() in n.lower()][:5]
            hint = f"; close: {', '.join(close)}" if close else ""
            raise DataError(f"unknown class {entry!r} in {source.id} ({len(names)} classes){hint}")
    return list(dict.fromkeys(chosen))


def select_images(
    source: ImageSource,
    classes: str | Sequence[str | int] = "all",
    images_per_class: int | None = None,
    seed: int = 0,
    exclude: set[str] | frozenset[str] = frozenset(),
) -> ImageSelection:
    """A seeded per-class sample in the source's stable order; unlabelled sources keep every image
    (capped at ``images_per_class``). A requested class without any image is a DataError (unless
    images are excluded: the rest of a source after the audit may lack some classes); classes
    with fewer images than asked for are listed in ``short_classes``."""
    records = [record for record in source.records() if record.key not in exclude]
    rng = random.Random(seed)
    if not source.class_names:  # unlabelled images
        chosen = records
        if images_per_class is not None and len(records) > images_per_class:
            chosen = sorted(rng.sample(records, images_per_class), key=records.index)
        return ImageSelection(source, tuple(chosen), tuple(-1 for _ in chosen), ())
    class_indices = resolve_classes(source, classes)
    position = {source_index: label for label, source_index in enumerate(class_indices)}
    by_class: dict[int, list[int]] = {index: [] for index in class_indices}
    for row, record in enumerate(records):
        if record.label in by_class:
            by_class[record.label].append(row)
    empty = [source.class_names[index] for index in class_indices if not by_class[index]]
    if empty and not exclude:
        raise DataError(f"{source.id} has no images of the requested class(es) "
                        f"{', '.join(map(repr, empty))}")
    short = tuple((source.class_names[index], len(by_class[index])) for index in class_indices
                  if images_per_class is not None and len(by_class[index]) < images_per_class
                  and not exclude)
    kept: list[int] = []
    for index in class_indices:
        rows = by_class[index]
        if images_per_class is not None and len(rows) > images_per_class:
            rows = rng.sample(rows, images_per_class)
        kept.extend(rows)
    kept.sort()
    if not kept:
        raise DataError(f"no images of the selected classes in {source.id}")
    return ImageSelection(
        source,
        tuple(records[row] for row in kept),
        tuple(position[records[row].label] for row in kept),
        tuple(source.class_names[index] for index in class_indices),
        short,
    )
