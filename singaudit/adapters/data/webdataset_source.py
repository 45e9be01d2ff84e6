"""``webdataset:<shards>``: images from WebDataset tar shards.

``shards``: a tar file, a folder of them, a glob (``data/train-*.tar``) or a brace pattern
(``data/train-{000..015}.tar``), as ``webdataset`` writes and reads them: the members of one
sample share a key (the path up to the first dot of the file name) and differ by extension.
Options: ``image_key`` (the extension holding the image; default the first of jpg, jpeg, png,
webp, ppm, bmp, tif, tiff a sample has; several as ``"jpg;png"``), ``class_key`` (the extension
holding the class, default ``cls``; ``null``: unlabelled) and ``class_names`` (a list, or a
mapping from class value to name; default: a ``cls`` value indexes nothing, so the sorted values
are the classes). Listing reads the tar headers and the class members, not the images; each image
is read from its offset in the shard, so the Ray actors read their own. Uncompressed shards (the
WebDataset convention) are read by offset; compressed ones are decompressed for each image.
The content hash of an image is the sha256 of its bytes; ``content_key: stat`` keys it by the
shard's path, size and modification time and the member's place instead, so the driver reads no
image (a shard rewritten in place with the same size and time would go unnoticed).
Needs ``pip install 'singaudit[integrations]'``.
"""

from __future__ import annotations

import glob
import os
import tarfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from singaudit.adapters.data._encoded import bytes_sha256, decode_image
from singaudit.adapters.data.base import ImageRecord, ImageSource
from singaudit.errors import DataError, MissingDependency

IMAGE_EXTENSIONS = ("jpg", "jpeg", "png", "webp", "ppm", "bmp", "tif", "tiff")


@dataclass(frozen=True)
class _Member:
    shard: str
    name: str  # the member's path in the tar
    offset: int  # where its bytes start (uncompressed shards)
    size: int
    compressed: bool
    stamp: str = ""  # the shard's size and modification time when listed


class WebDatasetSource(ImageSource):
    """Samples of tar shards, each image read at its offset when needed."""

    def __init__(self, source_id: str, class_names: Sequence[str],
                 records: Sequence[ImageRecord], members: Mapping[str, _Member],
                 by_stat: bool = False) -> None:
        self.id = source_id
        self.class_names = list(class_names)
        self._records = list(records)
        self._members = dict(members)
        self._hashes: dict[str, str] = {}
        self._by_stat = by_stat

    def records(self) -> list[ImageRecord]:
        return list(self._records)

    def _bytes(self, record: ImageRecord) -> bytes:
        try:
            member = self._members[record.key]
        except KeyError:
            raise DataError(f"record {record.key!r} does not belong to {self.id}") from None
        try:
            if member.compressed:
                with tarfile.open(member.shard, "r:*") as tar:
                    handle = tar.extractfile(member.name)
                    data = handle.read() if handle is not None else b""
            else:
                with open(member.shard, "rb") as handle:
                    handle.seek(member.offset)
                    data = handle.read(member.size)
        except (OSError, tarfile.TarError, KeyError) as error:
            raise DataError(f"cannot read image {record.key}: {error}") from None
        if len(data) != member.size:
            raise DataError(f"cannot read image {record.key}: the shard changed since it was "
                            "listed")
        return data

    def load(self, record: ImageRecord) -> Image.Image:
        return decode_image(self._bytes(record), record.key)

    def content_hash(self, record: ImageRecord) -> str:
        if record.key not in self._hashes:
            member = self._members.get(record.key)
            if self._by_stat and member is not None:
                self._hashes[record.key] = bytes_sha256(
                    f"{member.shard}:{member.stamp}:{member.name}:{member.offset}:{member.size}"
                    .encode())
            else:
                self._hashes[record.key] = bytes_sha256(self._bytes(record))
        return self._hashes[record.key]


def load(
    ident: str,
    *,
    image_key: str | None = None,
    class_key: str | None = "cls",
    class_names: Sequence[str] | Mapping[Any, str] | None = None,
    content_key: str = "bytes",
) -> WebDatasetSource:
    """WebDataset tar shards as an ImageSource."""
    source_id = f"webdataset:{ident}"
    if content_key not in ("bytes", "stat"):
        raise DataError(f"{source_id}: content_key is 'bytes' or 'stat', not {content_key!r}")
    shards = shard_paths(ident)
    if not shards:
        raise DataError(f"{source_id}: no tar shards match {ident}")
    wanted = [k.strip().lower() for k in image_key.split(";")] if image_key else IMAGE_EXTENSIONS
    samples: list[tuple[str, _Member, Any]] = []
    for shard in shards:
        for key, members, label in _samples(shard, class_key):
            image = next((members[ext] for ext in wanted if ext in members), None)
            if image is None:
                raise DataError(f"{source_id}: sample {key!r} in {shard} has no "
                                f"{' or '.join(wanted)} member (it has "
                                f"{', '.join(sorted(members)) or 'none'}); set options: "
                                "{image_key: EXT}")
            if class_key and label is None:
                raise DataError(f"{source_id}: sample {key!r} in {shard} has no .{class_key} "
                                "member; set options: {class_key: EXT}, or null for unlabelled")
            samples.append((f"{shard}#{key}", image, label))
    names, index = _classes(class_key, class_names, [label for _, _, label in samples],
                            source_id)
    records = [ImageRecord(key, index(label, key)) for key, _, label in samples]
    if len({r.key for r in records}) != len(records):
        raise DataError(f"{source_id}: a sample key occurs twice in one shard")
    return WebDatasetSource(source_id, names, records, {k: m for k, m, _ in samples},
                            by_stat=content_key == "stat")


def shard_paths(ident: str) -> list[str]:
    """The shard files ``ident`` names: a file, a folder's ``*.tar*``, globs, brace patterns."""
    try:
        from braceexpand import braceexpand  # installed with webdataset
    except ImportError:
        raise MissingDependency("webdataset: needs the webdataset library: pip install "
                                "'singaudit[integrations]' (or pip install webdataset)") from None
    found: list[str] = []
    for pattern in braceexpand(ident):
        path = Path(pattern).expanduser()
        if path.is_dir():
            found.extend(sorted(str(p) for p in path.iterdir()
                                if p.is_file() and (".tar" in p.name or p.suffix == ".tgz")))
        elif path.is_file():
            found.append(str(path))
        else:
            found.extend(sorted(glob.glob(str(path))))
    return list(dict.fromkeys(found))


def _samples(shard: str, class_key: str | None
             ) -> Iterator[tuple[str, dict[str, _Member], Any]]:
    """(key, {extension: member}, class value or None) per sample, in shard order."""
    from webdataset.tariterators import base_plus_ext  # webdataset's own key rule

    grouped: dict[str, dict[str, _Member]] = {}
    labels: dict[str, Any] = {}
    try:
        with open(shard, "rb") as handle:
            compressed = handle.read(2) == b"\x1f\x8b" or shard.endswith((".bz2", ".xz"))
            status = os.fstat(handle.fileno())
        stamp = f"{status.st_size}:{status.st_mtime_ns}"
        with tarfile.open(shard, "r:*") as tar:
            for info in tar:  # headers only: tarfile seeks past an uncompressed member's data
                if not info.isfile():
                    continue
                prefix, extension = base_plus_ext(info.name)
                if prefix is None or Path(prefix).name.startswith("__"):
                    continue
                extension = extension.lower()
                grouped.setdefault(prefix, {})[extension] = _Member(
                    shard, info.name, info.offset_data, info.size, compressed, stamp)
                if class_key and extension == class_key.lower():
                    member = tar.extractfile(info)
                    labels[prefix] = _class_value(member.read() if member else b"", shard,
                                                  info.name)
    except (OSError, tarfile.TarError) as error:
        raise DataError(f"cannot read shard {shard}: {error}") from None
    for prefix, members in grouped.items():
        yield prefix, members, labels.get(prefix)


def _class_value(data: bytes, shard: str, name: str) -> Any:
    try:
        text = data.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise DataError(f"{shard}: {name} is not a UTF-8 class value") from None
    return int(text) if text.lstrip("-").isdigit() else text


def _classes(class_key: str | None, given: Sequence[str] | Mapping[Any, str] | None,
             values: list[Any], source_id: str) -> tuple[list[str], Callable[[Any, str], int]]:
    """(class names, label value -> index) from the given names or the values seen."""
    if not class_key:
        return [], lambda value, key: -1
    if isinstance(given, Mapping):
        names = [str(n) for n in given.values()]
        by_value = {_plain(v): i for i, v in enumerate(given)}
    elif given is not None:
        names = [str(n) for n in given]
        by_value = {**{n: i for i, n in enumerate(names)}, **{i: i for i in range(len(names))}}
    else:
        seen = sorted(set(values), key=lambda v: (not isinstance(v, int), str(v).zfill(12)))
        names = [str(v) for v in seen]
        by_value = {v: i for i, v in enumerate(seen)}

    def index(value: Any, key: str) -> int:
        try:
            return by_value[_plain(value)]
        except KeyError:
            raise DataError(f"{source_id}: sample {key}: class {value!r} is not one of "
                            f"{', '.join(names[:10])}{', ...' if len(names) > 10 else ''}"
                            ) from None

    return names, index


def _plain(value: Any) -> Any:
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return value


def offline_problem(ident: str, options: Mapping[str, Any]) -> str | None:
    """What ``singaudit validate`` reports about ``webdataset:<ident>`` without reading it."""
    try:
        shards = shard_paths(ident)
    except MissingDependency as error:
        return str(error)
    return None if shards else f"no tar shards match {ident}"
