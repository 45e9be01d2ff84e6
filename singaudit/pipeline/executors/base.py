"""The executor seam: what the extraction path hands an executor, and what it gets back.

``extract`` decides which cache chunks are missing; an executor computes them and yields each
chunk as soon as all its images are done, so the driver writes the cache shard by shard. Every
executor splits chunks into the same batches, so a chunk's values do not depend on who ran it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

import torch
from torch.utils.data import Dataset

from singaudit.adapters.data.base import ImageRecord, ImageSource
from singaudit.pipeline.decoding import BatchedPreprocessing, batched_preprocessing

if TYPE_CHECKING:
    from PIL import Image

    from singaudit.maths.translators import RidgeAccumulator

# A preprocessing's transform: one image to its input tensor.
Transform = Callable[["Image.Image"], torch.Tensor]
# (position, preprocessed tensor or None, why it failed): one item of ``Images``.
Loaded = tuple[int, torch.Tensor | None, str]


@dataclass(frozen=True)
class ModelRecipe:
    """How a worker rebuilds a model without receiving its weights: ``source:id`` + options."""

    role: Literal["classifier", "joint_space"]
    id: str
    options: dict[str, Any] = field(default_factory=dict)

    def build(self) -> Any:
        from singaudit.adapters import sources

        loader = sources.load_classifier if self.role == "classifier" else sources.load_joint_space
        model = loader(self.id, **self.options)
        module = getattr(model, "module", None)
        if isinstance(module, torch.nn.Module):
            module.eval()
        return model


@dataclass
class EncodeJob:
    """The chunks to compute for one model: ``chunks`` hold record indices, ``numbers`` their
    chunk numbers in the extraction."""

    model: Any  # the loaded Classifier / JointSpace / ImageEncoder (the local engine runs it)
    recipe: ModelRecipe | None  # how remote workers rebuild it (None: they receive ``model``)
    kind: str
    label: str
    source: ImageSource
    records: Sequence[ImageRecord]
    chunks: list[list[int]]
    numbers: list[int]
    batch_size: int
    device: torch.device
    dtype: torch.dtype
    num_workers: int = 0
    progress: bool | None = None
    layout: str = "contiguous"  # the input's memory layout (pipeline.layout); part of the cache key

    def batches(self) -> list[list[int]]:
        """Positions in ``flat()`` per batch: each chunk cut into ``batch_size`` pieces."""
        batches: list[list[int]] = []
        start = 0
        for chunk in self.chunks:
            batches.extend(
                list(range(start + i, start + min(i + self.batch_size, len(chunk))))
                for i in range(0, len(chunk), self.batch_size)
            )
            start += len(chunk)
        return batches

    def flat(self) -> list[int]:
        """Record indices of every chunk, in order."""
        return [index for chunk in self.chunks for index in chunk]


# (chunk number, values (ok rows, d) float32 on the CPU, [(position in chunk, reason)])
ChunkResult = tuple[int, torch.Tensor, list[tuple[int, str]]]


class Executor(Protocol):
    name: str

    def start(self) -> None:
        """Acquire what the executor runs on (a cluster) now, from the main thread."""
        ...

    def wait(self, futures: Any) -> None:
        """Wait in the main thread for jobs that use the executor from worker threads (what
        only the main thread may do, such as starting a cluster, is done here meanwhile)."""
        ...

    def encode_chunks(self, job: EncodeJob) -> Iterator[ChunkResult]:
        """Each chunk of ``job`` once, as soon as all its images are done (any order)."""
        ...

    def ridge_statistics(self, x: torch.Tensor, y: torch.Tensor, chunk_size: int) -> Any:
        """The streaming ridge's sufficient statistics (a float64 ``RidgeAccumulator``) of the
        rows of ``x`` (n, m) and ``y`` (n, k), ``chunk_size`` rows at a time."""
        ...


def local_ridge_statistics(x: torch.Tensor, y: torch.Tensor, chunk_size: int) -> RidgeAccumulator:
    from singaudit.maths.translators import RidgeAccumulator

    statistics = RidgeAccumulator(x.shape[1], y.shape[1])
    for start in range(0, len(x), max(1, int(chunk_size))):
        statistics.update(x[start:start + chunk_size], y[start:start + chunk_size])
    return statistics


class ChunkAssembler:
    """Collects per-image results (in any order) into whole chunks."""

    def __init__(self, job: EncodeJob) -> None:
        self._owner: list[tuple[int, int]] = []  # flat position -> (chunk slot, position in chunk)
        for slot, chunk in enumerate(job.chunks):
            self._owner.extend((slot, p) for p in range(len(chunk)))
        self._numbers = job.numbers
        self._pending: dict[int, dict] = {
            slot: {"rows": {}, "failed": [], "left": len(chunk)}
            for slot, chunk in enumerate(job.chunks)
        }
        self._seen: set[int] = set()

    def add(self, position: int, values: torch.Tensor | None, reason: str = "") -> None:
        """One image's row (``values``) or its failure ``reason``; repeats are ignored (a retried
        batch can deliver an image twice, and a chunk must never hold duplicated rows)."""
        if position in self._seen:
            return
        self._seen.add(position)
        slot, inner = self._owner[position]
        state = self._pending[slot]
        if values is None:
            state["failed"].append((inner, reason))
        else:
            state["rows"][inner] = values
        state["left"] -= 1

    def finished(self) -> Iterator[ChunkResult]:
        """Chunks completed since the last call."""
        for slot in [s for s, state in self._pending.items() if state["left"] == 0]:
            state = self._pending.pop(slot)
            rows = [state["rows"][p] for p in sorted(state["rows"])]
            values = torch.stack(rows) if rows else torch.zeros(0, 0)
            yield self._numbers[slot], values, sorted(state["failed"])

    @property
    def complete(self) -> bool:
        return not self._pending


def encode_batch(encode: Callable[[torch.Tensor], torch.Tensor], images: torch.Tensor,
                 device: torch.device, dtype: torch.dtype,
                 layout: str = "contiguous") -> torch.Tensor:
    """One forward pass, float32 on the CPU (reduced precision by autocast only).

    ``layout``: the batch's memory layout; with channels_last input the convolutions run in
    channels_last whatever the weights' layout, so every executor computes the same values.
    """
    from singaudit.pipeline.layout import as_layout

    # Pinned host memory (the DataLoader's, on CUDA) lets the copy overlap the previous batch.
    images = images.to(device=device, non_blocking=device.type == "cuda")
    with torch.inference_mode(), precision(device, dtype):
        return encode(as_layout(images, layout)).float().cpu()


def precision(device: torch.device, dtype: torch.dtype) -> AbstractContextManager[object]:
    """Autocast for reduced precision, so the model's own weights are never down-cast."""
    if dtype == torch.float32:
        return nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def load_image(source: ImageSource, record: ImageRecord, transform: Transform
               ) -> tuple[torch.Tensor | None, str]:
    """(preprocessed tensor, "") or (None, why it failed)."""
    from singaudit.adapters.data.manifest_source import ContentMismatch
    from singaudit.errors import DataError

    try:
        image = source.load(record)
    except ContentMismatch:
        raise  # not a skipped image: the run stops, the chunk is not cached
    except DataError as error:
        return None, str(error)
    try:
        return transform(image), ""
    except (OSError, ValueError, RuntimeError, TypeError) as error:
        return None, f"preprocessing failed for {record.key}: {error}"


def decoding(transform: Transform) -> tuple[BatchedPreprocessing | None, Transform]:
    """(the batched tail of ``transform`` or None, what runs per image before it): every
    executor builds its batches the same way, so their values are equal."""
    batched = batched_preprocessing(transform)
    return batched, (batched.image if batched is not None else transform)


class Images(Dataset):
    """(position, tensor or None, failure reason) for the records to compute."""

    def __init__(self, source: ImageSource, records: Sequence[ImageRecord], transform: Transform,
                 decoders: ThreadPoolExecutor | None = None) -> None:
        self.source, self.records, self.transform = source, records, transform
        self.decoders = decoders  # a thread pool for a batch's images, or None

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, position: int) -> Loaded:
        tensor, reason = load_image(self.source, self.records[position], self.transform)
        return position, tensor, reason

    def __getitems__(self, positions: list[int]) -> list[Loaded]:
        """One batch, in order (the DataLoader's batched fetch)."""
        if self.decoders is None:
            return [self[position] for position in positions]
        return list(self.decoders.map(self.__getitem__, positions))


def collate_images(batched: BatchedPreprocessing | None, layout: str, batch: Sequence[Loaded]
                   ) -> tuple[list[int], list[int], torch.Tensor | None, list[tuple[int, str]]]:
    """(positions, good positions, input batch or None, failures); ``batched``: the
    preprocessing's per-batch tail (None: the images are finished tensors already)."""
    positions = [p for p, _, _ in batch]
    good = [(p, x) for p, x, _ in batch if x is not None]
    failures = [(p, reason) for p, x, reason in batch if x is None]
    images = [x for _, x in good]
    if not images:
        stacked = None
    elif batched is not None:
        stacked = batched.batch(images, layout)
    else:
        stacked = torch.stack(images)
    return positions, [p for p, _ in good], stacked, failures


def progress_bar(progress: bool | None, total: int, label: str
                 ) -> AbstractContextManager[Callable[[int], object]]:
    """A context yielding ``advance(n)``: a rich bar on a terminal (or when asked), else nothing."""
    show = sys.stderr.isatty() if progress is None else progress

    @contextmanager
    def bar() -> Iterator[Callable[[int], object]]:
        if not show or total == 0:
            yield lambda n: None
            return
        from rich.console import Console
        from rich.progress import Progress

        with Progress(console=Console(stderr=True), transient=True) as bar_:
            task = bar_.add_task(label, total=total)
            yield lambda n: bar_.advance(task, n)

    return bar()
