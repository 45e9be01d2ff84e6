"""``hf-dataset:<id>``: images from a Hugging Face ``datasets`` dataset.

``id`` is a hub dataset (``org/name``), a folder written by ``save_to_disk`` (read with
``load_from_disk``), a local folder or ``.parquet`` file (``datasets`` picks the builder), or a
packaged builder name (``imagefolder``, ``parquet``, ...) with ``data_dir``/``data_files``.

Options: ``split`` (needed when there are several), ``config``, ``revision``, ``image_column``
(default: the first ``Image`` feature), ``label_column`` (default: the first ``ClassLabel``
feature, else a ``label`` column; none: unlabelled), ``class_names`` (a list, or a mapping from
label value to name, for labels that are not a ``ClassLabel``), ``data_dir``, ``data_files``,
``cache_dir``. ``streaming: true`` reads the rows as a stream instead of downloading the set:
the first ``per_class`` images of each class in stream order are kept (a deterministic
selection; ``max_rows`` caps how many rows are read). The content hash of an image is the sha256
of its stored bytes, so the feature cache and warm replays work; no image is decoded to list the
set. ``content_key: fingerprint`` keys images by the dataset's fingerprint and row instead, so
the driver reads no image at all (``datasets`` changes the fingerprint when the data changes;
an arrow file edited by hand would go unnoticed). Needs ``pip install 'singaudit[integrations]'``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from PIL import Image

from singaudit.adapters.data._encoded import bytes_sha256, decode_image
from singaudit.adapters.data._images import image_content_hash, read_image
from singaudit.adapters.data.base import ImageRecord, ImageSource
from singaudit.errors import DataError, MissingDependency

if TYPE_CHECKING:
    from datasets import Dataset, Features, IterableDataset

# The classes a user may give: names in order, or label value -> name.
GivenClasses = Sequence[str] | Mapping[Any, str] | None

PACKAGED_BUILDERS = ("imagefolder", "parquet", "arrow", "csv", "json", "webdataset")
DEFAULT_PER_CLASS = 100  # streaming: images kept per class when per_class is not given


class HFDatasetSource(ImageSource):
    """Rows of a (memory-mapped) ``datasets.Dataset``; pickles by file reference, so the Ray
    actors read their images themselves."""

    def __init__(self, source_id: str, class_names: Sequence[str], records: Sequence[ImageRecord],
                 rows: Any, images: Any, fingerprint: str | None = None) -> None:
        self.id = source_id
        self.class_names = list(class_names)
        self._records = list(records)
        self._rows = rows  # the rows listed: a range, or the set kept from a stream
        self._images = images  # a one-column Dataset in arrow format, or {row: value}
        self._hashes: dict[str, str] = {}
        self._fingerprint = fingerprint  # set: content keys from it, no image read

    def records(self) -> list[ImageRecord]:
        return list(self._records)

    def _value(self, record: ImageRecord) -> Any:
        prefix, _, row_text = record.key.rpartition("/")
        row = int(row_text) if prefix == self.id and row_text.isdigit() else -1
        if row not in self._rows:
            raise DataError(f"record {record.key!r} does not belong to {self.id}")
        if isinstance(self._images, dict):
            return self._images[row]
        return self._images[row : row + 1].column(0)[0].as_py()

    def load(self, record: ImageRecord) -> Image.Image:
        content = _bytes_or_path(self._value(record), record.key)
        if isinstance(content, bytes):
            return decode_image(content, record.key)
        return read_image(content)

    def content_hash(self, record: ImageRecord) -> str:
        if self._fingerprint is not None and record.key.startswith(f"{self.id}/"):
            return bytes_sha256(f"{self._fingerprint}/{record.key[len(self.id) + 1:]}".encode())
        if record.key not in self._hashes:
            content = _bytes_or_path(self._value(record), record.key)
            self._hashes[record.key] = (bytes_sha256(content) if isinstance(content, bytes)
                                        else image_content_hash(content))
        return self._hashes[record.key]


def _bytes_or_path(value: Any, where: str) -> bytes | str:
    """An image's encoded bytes or its path (a str), from an ``Image`` feature's {bytes, path},
    raw bytes, or a path string."""
    if isinstance(value, dict):
        if value.get("bytes"):
            return bytes(value["bytes"])
        if value.get("path"):
            return str(value["path"])
    elif isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    elif isinstance(value, str) and value:
        return value
    raise DataError(f"{where}: the image column holds no image ({type(value).__name__})")


def load(
    ident: str,
    *,
    split: str | None = None,
    config: str | None = None,
    revision: str | None = None,
    image_column: str | None = None,
    label_column: str | None = None,
    class_names: Sequence[str] | Mapping[Any, str] | None = None,
    data_dir: str | None = None,
    data_files: str | Sequence[str] | Mapping[str, Any] | None = None,
    cache_dir: str | None = None,
    streaming: bool = False,
    per_class: int | None = None,
    max_rows: int | None = None,
    content_key: str = "bytes",
) -> HFDatasetSource:
    """A Hugging Face dataset split as an ImageSource."""
    datasets = _datasets()
    source_id = f"hf-dataset:{ident}"
    if not ident:
        raise DataError("hf-dataset: needs an id: a hub dataset 'org/name', a folder saved with "
                        "save_to_disk, a local folder or parquet file, or a builder name")
    if content_key not in ("bytes", "fingerprint"):
        raise DataError(f"{source_id}: content_key is 'bytes' or 'fingerprint', not "
                        f"{content_key!r}")
    if streaming and content_key == "fingerprint":
        raise DataError(f"{source_id}: a stream has no fingerprint; content_key: bytes")
    if not streaming and (per_class is not None or max_rows is not None):
        raise DataError(f"{source_id}: per_class and max_rows apply to streaming: true only (the "
                        "spec's data section selects images per class)")
    with _quiet(datasets), _dataset_errors(source_id, datasets):
        dataset = _open(datasets, ident, split, config, revision, data_dir, data_files,
                        cache_dir, streaming)
        features = dataset.features
        if features is None and streaming:  # a stream whose features are known once read
            dataset = dataset._resolve_features()
            features = dataset.features
        image_key = _image_column(datasets, features, image_column, source_id)
        label_key = _label_column(datasets, features, label_column, source_id)
        label_feature = features.get(label_key) if label_key else None
        if streaming:
            return _streamed(datasets, dataset, source_id, image_key, label_key, label_feature,
                             class_names, per_class, max_rows)
        source = _mapped(dataset, source_id, image_key, label_key, label_feature, class_names)
        if content_key == "fingerprint":
            source._fingerprint = f"{dataset._fingerprint}/{image_key}"
        return source


def _datasets() -> ModuleType:
    try:
        import datasets
    except ImportError:
        raise MissingDependency("hf-dataset: needs the datasets library: pip install "
                                "'singaudit[integrations]' (or pip install datasets)") from None
    return datasets


@contextlib.contextmanager
def _quiet(datasets: ModuleType) -> Iterator[None]:
    """No progress bars from ``datasets`` while listing (singaudit reports its own progress)."""
    enabled = datasets.is_progress_bar_enabled()
    datasets.disable_progress_bars()
    try:
        yield
    finally:
        if enabled:
            datasets.enable_progress_bars()


@contextlib.contextmanager
def _dataset_errors(source_id: str, datasets: ModuleType) -> Iterator[None]:
    try:
        yield
    except DataError:
        raise
    except (datasets.exceptions.DatasetsError, OSError, ValueError, KeyError, TypeError) as error:
        message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise DataError(f"{source_id}: {message}") from None


def _open(datasets: ModuleType, ident: str, split: str | None, config: str | None,
          revision: str | None, data_dir: str | None,
          data_files: str | Sequence[str] | Mapping[str, Any] | None, cache_dir: str | None,
          streaming: bool) -> Dataset | IterableDataset:
    local = Path(ident).expanduser()
    if local.is_dir() and ((local / "dataset_dict.json").is_file()
                           or (local / "state.json").is_file()):
        if streaming:
            raise DataError(f"hf-dataset:{ident} is a saved dataset (save_to_disk): it is "
                            "memory-mapped, so streaming: false reads it without copying")
        loaded = datasets.load_from_disk(str(local))
    else:
        path = str(local) if local.exists() else ident
        if local.is_file() and local.suffix.lower() == ".parquet" and data_files is None:
            path, data_files = "parquet", str(local)
        elif ident not in PACKAGED_BUILDERS and not local.exists() and "/" not in ident:
            raise DataError(f"hf-dataset:{ident}: neither a local path, a builder "
                            f"({', '.join(PACKAGED_BUILDERS)}) nor a hub id 'org/name'")
        loaded = datasets.load_dataset(
            path, config, split=split, revision=revision, data_dir=data_dir,
            data_files=data_files, cache_dir=cache_dir, streaming=streaming)
    if isinstance(loaded, (datasets.DatasetDict, datasets.IterableDatasetDict)):
        splits = list(loaded)
        if split is None and len(splits) == 1:
            split = splits[0]
        if split not in loaded:
            wanted = "choose one with options: {split: NAME}" if split is None else \
                f"it has no split {split!r}"
            raise DataError(f"hf-dataset:{ident}: {wanted}; splits: {', '.join(splits)}")
        loaded = loaded[split]
    return loaded


def _image_column(datasets: ModuleType, features: Features | None, wanted: str | None,
                  source_id: str) -> str:
    found = _column(features, wanted, datasets.Image, ("image", "img", "jpg", "png"), "image",
                    source_id)
    if found is None:
        raise DataError(f"{source_id}: no Image feature; name the image column with options: "
                        f"{{image_column: NAME}} (columns: {', '.join(features or {})})")
    return found


def _label_column(datasets: ModuleType, features: Features | None, wanted: str | None,
                  source_id: str) -> str | None:
    return _column(features, wanted, datasets.ClassLabel, ("label", "labels", "cls", "class"),
                   "label", source_id)


def _column(features: Features | None, wanted: str | None, feature_type: type,
            usual: tuple[str, ...], what: str, source_id: str) -> str | None:
    """The column the user named, else the first of ``feature_type``, else the first usual name."""
    columns = features or {}
    names = list(columns)
    if wanted is not None:
        if wanted not in names:
            raise DataError(f"{source_id}: no {what} column {wanted!r}; columns: "
                            f"{', '.join(names)}")
        return wanted
    found = [n for n in names if isinstance(columns[n], feature_type)]
    found = found or [n for n in usual if n in names]
    return found[0] if found else None


class _Labels:
    """Label values -> indices into ``names``: a ClassLabel, a given list or mapping, or the
    sorted values seen (only when nothing else names the classes)."""

    def __init__(self, datasets: ModuleType, feature: object, given: GivenClasses,
                 values: Sequence[Any] | None, source_id: str) -> None:
        self.source_id = source_id
        self.by_value: dict[Any, int] = {}
        if isinstance(given, Mapping):
            self.names = [str(name) for name in given.values()]
            self.by_value = {_plain(value): i for i, value in enumerate(given)}
        elif given is not None:
            self.names = [str(name) for name in given]
            self.by_value = {name: i for i, name in enumerate(self.names)}
            self.by_value.update({i: i for i in range(len(self.names))})
        elif isinstance(feature, datasets.ClassLabel):
            self.names = list(feature.names)
            self.by_value = {i: i for i in range(len(self.names))}
        elif values is not None:
            seen = sorted({_plain(v) for v in values if v is not None}, key=lambda v: (
                not isinstance(v, int), v if isinstance(v, int) else str(v)))
            self.names = [str(v) for v in seen]
            self.by_value = {v: i for i, v in enumerate(seen)}
        else:
            raise DataError(f"{source_id}: the labels are not a ClassLabel; give the classes "
                            "with options: {class_names: [...]} to stream them")

    def index(self, value: Any, where: str) -> int:
        if value is None or value == -1:
            return -1
        try:
            return self.by_value[_plain(value)]
        except (KeyError, TypeError):
            pass
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            with contextlib.suppress(KeyError):
                return self.by_value[int(value)]
        raise DataError(f"{where}: label {value!r} is not one of the classes "
                        f"({', '.join(self.names[:10])}{', ...' if len(self.names) > 10 else ''})")


def _plain(value: Any) -> Any:
    """YAML mapping keys may be ints or strings of ints: one key for both."""
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return value


def _mapped(dataset: Dataset, source_id: str, image_key: str, label_key: str | None,
            label_feature: object, class_names: GivenClasses) -> HFDatasetSource:
    import datasets

    count = len(dataset)
    if count == 0:
        raise DataError(f"{source_id} has no rows")
    values: list[Any] = [None] * count
    if label_key is not None:  # the label column alone, as arrow (no image is read)
        values = dataset.select_columns([label_key]).with_format("arrow")[:].column(0).to_pylist()
    unlabelled = label_key is None
    labels = None if unlabelled else _Labels(datasets, label_feature, class_names, values,
                                             source_id)
    records = [ImageRecord(f"{source_id}/{row}",
                           -1 if labels is None else labels.index(value, f"{source_id} row {row}"))
               for row, value in enumerate(values)]
    images = dataset.select_columns([image_key]).with_format("arrow")
    return HFDatasetSource(source_id, [] if labels is None else labels.names, records,
                           range(count), images)


def _streamed(datasets: ModuleType, dataset: IterableDataset, source_id: str, image_key: str,
              label_key: str | None, label_feature: object, class_names: GivenClasses,
              per_class: int | None, max_rows: int | None) -> HFDatasetSource:
    keep = DEFAULT_PER_CLASS if per_class is None else int(per_class)
    if keep < 1 or (max_rows is not None and int(max_rows) < 1):
        raise DataError(f"{source_id}: per_class and max_rows must be at least 1")
    labels = None
    if label_key is not None:
        labels = _Labels(datasets, label_feature, class_names, None, source_id)
    # Raw bytes: nothing is decoded while choosing, and the bytes are what is hashed.
    stream = dataset.select_columns([c for c in (image_key, label_key) if c])
    if isinstance(dataset.features.get(image_key), datasets.Image):
        stream = stream.cast_column(image_key, datasets.Image(decode=False))
    wanted = len(labels.names) if labels is not None else 1
    counts: dict[int, int] = {}
    records, images = [], {}
    for row, example in enumerate(stream):
        if max_rows is not None and row >= int(max_rows):
            break
        label = -1 if labels is None else labels.index(example[label_key],
                                                       f"{source_id} row {row}")
        if counts.get(label, 0) >= keep or (labels is not None and label < 0):
            continue
        counts[label] = counts.get(label, 0) + 1
        key = f"{source_id}/{row}"
        records.append(ImageRecord(key, label))
        images[row] = example[image_key]
        if sum(1 for c in counts.values() if c >= keep) >= wanted:
            break  # every class is full: read no more of the stream
    if not records:
        raise DataError(f"{source_id}: the stream has no labelled rows")
    return HFDatasetSource(source_id, [] if labels is None else labels.names, records,
                           frozenset(images), images)


def offline_problem(ident: str, options: Mapping[str, Any]) -> str | None:
    """What ``singaudit validate`` reports about ``hf-dataset:<ident>`` without loading it."""
    local = Path(ident).expanduser()
    if local.exists():
        return None
    if ident in PACKAGED_BUILDERS:
        data_dir, data_files = options.get("data_dir"), options.get("data_files")
        if data_dir is None and data_files is None:
            return f"the {ident} builder needs options: {{data_dir: FOLDER}} or {{data_files: ...}}"
        if data_dir is not None and not Path(str(data_dir)).expanduser().is_dir():
            return f"options.data_dir: no such folder {data_dir}"
        return None
    if "/" not in ident:
        return (f"{ident!r} is neither a local path, a builder ({', '.join(PACKAGED_BUILDERS)}) "
                "nor a hub id 'org/name'")
    if _offline() and not _hub_dataset_cached(ident, options.get("cache_dir")):
        return (f"hub dataset {ident!r} is not in the local Hugging Face cache and "
                "HF_HUB_OFFLINE=1; download it once or save it with save_to_disk")
    return None


def _offline() -> bool:
    import os

    return any(os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")
               for name in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"))


def _hub_dataset_cached(repo: str, cache_dir: str | None) -> bool:
    """The repo's download folder in the hub cache, or its prepared arrow folder (looked up
    directly: scanning the caches grows with every download)."""
    import os

    home = Path(os.environ.get("HF_HOME", Path.home() / ".cache" / "huggingface")).expanduser()
    hub = Path(os.environ.get("HF_HUB_CACHE", home / "hub")).expanduser()
    prepared = Path(cache_dir or os.environ.get("HF_DATASETS_CACHE") or home / "datasets")
    candidates = [hub / f"datasets--{repo.replace('/', '--')}" / "snapshots",
                  prepared.expanduser() / repo.replace("/", "___")]
    return any(folder.is_dir() and any(folder.iterdir()) for folder in candidates)
