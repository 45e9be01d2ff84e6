"""The Ray executor: forward passes in a Ray Data actor pool, one model load per actor.

Each dataset row is one batch of the local executor (the same images in the same order), so a
chunk's values are what the local executor computes. Actors rebuild the model from its recipe
(``source:id`` + options) and read images themselves; only the finished rows come back to the
driver, which assembles whole chunks and writes each to the cache as soon as it is complete. Ray
Data restarts a killed actor and retries its batches; the assembler drops repeated rows.
"""

from __future__ import annotations

import logging
import math
import os
import queue
import re
import socket
import threading
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from singaudit.errors import ClusterLost, ClusterUnavailable, MissingDependency, SingauditError
from singaudit.pipeline.engines import ExecutionConfig
from singaudit.pipeline.executors.base import (
    ChunkAssembler,
    ChunkResult,
    EncodeJob,
    Images,
    collate_images,
    decoding,
    encode_batch,
    local_ridge_statistics,
    progress_bar,
)
from singaudit.pipeline.executors.memory import WORKER_ENV
from singaudit.pipeline.executors.ray_connect import MainThreadStarts, start_or_join

if TYPE_CHECKING:
    from ray.data import Dataset

    from singaudit.maths.translators import RidgeAccumulator

_CONNECT_LOCK = threading.Lock()


def import_ray() -> ModuleType:
    """The ``ray`` module, or a clear MissingDependency."""
    try:
        import ray
        import ray.data  # the extra is ray[data]
    except ImportError as error:
        raise MissingDependency(
            f"the ray engine needs Ray Data ({error}); install it with "
            "pip install 'singaudit[ray]'"
        ) from None
    return ray


def connect(config: ExecutionConfig, starts: MainThreadStarts | None = None) -> ModuleType:
    """Join ``config.address``, else the cluster this process already joined, else start a local
    one with a spare CPU slot beyond the actors (actors holding every slot can stall a dataset).
    Only the main thread starts or joins: a worker thread asks it through ``starts``."""
    ray = import_ray()
    if (not ray.is_initialized() and starts is not None
            and threading.current_thread() is not threading.main_thread()):
        starts.ask(lambda: connect(config))  # before the lock, which the main thread takes
    with _CONNECT_LOCK:
        if not ray.is_initialized():
            # Ray's C++ core logs notes about actor restarts on stderr; singaudit reports failures.
            os.environ.setdefault("RAY_BACKEND_LOG_LEVEL", "fatal")
            needed = math.ceil(config.workers * config.cpus_per_worker) + 2
            # A local cluster is a new one, not one that another process left on this machine.
            start_or_join(ray, config.address, num_cpus=max(os.cpu_count() or 1, needed))
        _quiet_ray_data()
    return ray


def _quiet_ray_data() -> None:
    from ray.data import DataContext

    # Per-dataset INFO lines and a note that bars are off would land on the user's stderr.
    logging.getLogger("ray.data").setLevel(logging.ERROR)
    context = DataContext.get_current()
    context.enable_progress_bars = False  # the driver shows singaudit's own bar
    context.print_on_execution_start = False


class RayExecutor:
    name = "ray"

    def __init__(self, config: ExecutionConfig) -> None:
        self.config = config
        self.starts = MainThreadStarts()

    def start(self) -> None:
        """Join or start the cluster now, from the main thread (a local cluster's services die
        with the thread that started them)."""
        connect(self.config)

    def wait(self, futures: Iterable[Future]) -> None:
        """Wait in the main thread for jobs running in worker threads; the cluster is started
        here when the first of them needs it (none: a run whose rows are all cached)."""
        self.starts.serve(futures)

    def encode_chunks(self, job: EncodeJob) -> Iterator[ChunkResult]:
        ray = connect(self.config, self.starts)
        flat = job.flat()
        items = [
            {
                "positions": batch,
                "keys": [job.records[flat[p]].key for p in batch],
                "labels": [int(job.records[flat[p]].label) for p in batch],
            }
            for batch in job.batches()
        ]
        # A recipe rebuilds the model in each actor; without one, the loaded model travels once.
        model = job.recipe if job.recipe is not None else ray.put(job.model)
        source = ray.put(job.source)  # held here for the whole run: restarted actors need it
        workers = max(1, int(self.config.workers))
        threads = max(1, int(self.config.cpus_per_worker))
        try:
            # Several batches per Ray Data block and call: the driver spends CPU per block (7 s
            # for 512 one-batch blocks in benchmarks/scale_out.py); still 4 blocks per worker.
            rows_per_call = max(1, min(_MAX_ROWS_PER_CALL,
                                       len(items) // (_BLOCKS_PER_WORKER * workers)))
            dataset = ray.data.from_items(
                items, override_num_blocks=max(1, math.ceil(len(items) / rows_per_call)))
            dataset = dataset.map_batches(
                _EncodeActor,
                batch_size=rows_per_call,  # a row is one of the local executor's batches
                batch_format="numpy",
                # ``workers`` actors from the start (Ray Data's default of one, grown on a backlog,
                # left half of a 2-worker run on one actor); concurrent models may shrink it to one.
                compute=ray.data.ActorPoolStrategy(min_size=1, max_size=workers,
                                                   initial_size=workers),
                fn_constructor_kwargs={
                    "model": [model],  # inside a list: passed as is, resolved by the actor
                    "source": [source],
                    "dtype": job.dtype,
                    "layout": job.layout,
                    "use_gpu": self.config.gpus_per_worker > 0,
                    "threads": threads,
                },
                num_cpus=self.config.cpus_per_worker,
                num_gpus=self.config.gpus_per_worker or None,
                # Freed activations stay in the actor (memory.py); one torch thread pool size.
                runtime_env={"env_vars": {**WORKER_ENV, "OMP_NUM_THREADS": str(threads)}},
            )
            assembler = ChunkAssembler(job)
            with progress_bar(job.progress, len(flat), f"{job.label} (ray)") as advance:
                for batch in _watched(ray, dataset):
                    for position, values, reason in zip(
                        batch["position"], batch["values"], batch["failed"], strict=True
                    ):
                        row = _row(values) if not reason else None
                        assembler.add(int(position), row, str(reason))
                    advance(len(batch["position"]))
                    yield from assembler.finished()
        except SingauditError:
            raise
        except Exception as error:  # sorted below into user errors and cluster losses
            cause = _user_error(error)
            if cause is not None:
                raise cause from None
            if _failed_to_start(error):
                raise ClusterUnavailable(
                    f"the Ray workers cannot build {job.label.split(': ', 1)[-1]}: "
                    f"{_last_line(error)} (every node needs singaudit, the model's source and "
                    "its weights at the same paths)"
                ) from None
            if isinstance(error, _Lost) or _is_cluster_loss(ray, error):
                raise ClusterLost(
                    f"the Ray cluster was lost while computing {job.label}: "
                    f"{_first_line(error)}. Every finished chunk is in the cache; run again "
                    "to compute only the rest"
                ) from None
            raise
        if not assembler.complete:
            raise ClusterLost(f"the Ray cluster returned incomplete results for {job.label}; "
                              "finished chunks are cached, run again to compute the rest")

    def ridge_statistics(self, x: torch.Tensor, y: torch.Tensor, chunk_size: int
                         ) -> RidgeAccumulator:
        """Per-block statistics computed by Ray tasks, merged on the driver in block order
        (Chan's pairwise update: the same statistics as one stream, to rounding)."""
        ray = connect(self.config)
        size = max(1, int(chunk_size))
        partial = ray.remote(num_cpus=1)(local_ridge_statistics)
        x64, y64 = x.detach().cpu().double(), y.detach().cpu().double()
        refs = [partial.remote(x64[start:start + size], y64[start:start + size], size)
                for start in range(0, len(x64), size)]
        try:
            parts = ray.get(refs)
        except Exception as error:  # a lost cluster here is as mid-extraction
            if _is_cluster_loss(ray, error):
                raise ClusterLost(f"the Ray cluster was lost while reducing ridge statistics: "
                                  f"{_first_line(error)}") from None
            raise
        total = local_ridge_statistics(x64[:0], y64[:0], size)
        for part in parts:
            total = total.merge(part)
        return total


_MAX_ROWS_PER_CALL, _BLOCKS_PER_WORKER = 8, 4


class _Lost(Exception):
    """The cluster's control service stopped answering."""


def _watched(ray: ModuleType, dataset: Dataset) -> Iterator[dict[str, np.ndarray]]:
    """The dataset's batches, read by a helper thread so that a lost cluster is noticed here:
    Ray itself waits for its control service (GCS) for a minute and then ends the process,
    which would leave the user without a message."""
    rows: queue.Queue = queue.Queue(maxsize=16)

    def pump() -> None:
        try:
            for batch in dataset.iter_batches(batch_size=None, batch_format="numpy"):
                rows.put(("batch", batch))
            rows.put(("done", None))
        except BaseException as error:  # noqa: BLE001 -- handed to the reading thread
            rows.put(("error", error))

    threading.Thread(target=pump, daemon=True, name="singaudit-ray-rows").start()
    control = _control_address(ray)
    silent = 0
    while True:
        try:
            kind, value = rows.get(timeout=1.0)
        except queue.Empty:
            if control is not None:
                silent = 0 if _answers(control) else silent + 1
                if silent >= _LOST_AFTER_S:
                    raise _Lost(f"its control service at {control[0]}:{control[1]} stopped "
                                f"answering for {_LOST_AFTER_S} s") from None
            continue
        if kind == "done":
            return
        if kind == "error":
            raise value
        yield value


_LOST_AFTER_S = 5


def _control_address(ray: ModuleType) -> tuple[str, int] | None:
    try:
        host, _, port = str(ray.get_runtime_context().gcs_address).rpartition(":")
        return (host, int(port)) if host else None
    except (AttributeError, ValueError, RuntimeError):
        return None  # e.g. a Ray Client connection: its own errors reach the reader


def _answers(address: tuple[str, int]) -> bool:
    try:
        with socket.create_connection(address, timeout=2.0):
            return True
    except OSError:
        return False


class _EncodeActor:
    """One model per actor, loaded once; called with one batch of image records at a time."""

    def __init__(self, model: list, source: list, dtype: torch.dtype, use_gpu: bool,
                 threads: int, layout: str = "contiguous") -> None:
        import ray

        from singaudit.pipeline.encoders import image_encoder
        from singaudit.pipeline.executors.base import ModelRecipe

        torch.set_num_threads(threads)
        loaded = model[0]
        loaded = ray.get(loaded) if isinstance(loaded, ray.ObjectRef) else loaded
        loaded = loaded.build() if isinstance(loaded, ModelRecipe) else loaded
        self.view = image_encoder(loaded)
        # A logical GPU on a machine without CUDA (a CPU-only node) falls back to the CPU.
        self.device = torch.device("cuda" if use_gpu and torch.cuda.is_available() else "cpu")
        if self.view.move is not None:
            self.view.move(self.device)
        self.source = ray.get(source[0])
        self.dtype, self.layout = dtype, layout
        # A row's images are decoded as the local executor decodes a batch (over the actor's
        # threads, in turn with its forward pass), so the rows are equal.
        self.batched, self.transform = decoding(self.view.preprocessing.transform)
        self.decoders = (ThreadPoolExecutor(threads, thread_name_prefix="singaudit-decode")
                         if self.batched is not None and threads > 1 else None)
        if self.view.module is not None and layout != "contiguous":  # the actor's own copy
            from singaudit.pipeline.layout import as_layout_module

            as_layout_module(self.view.module, layout)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        positions, values, reasons = [], [], []
        for row_positions, keys, labels in zip(batch["positions"], batch["keys"],
                                               batch["labels"], strict=True):
            row = self._encode_row(row_positions, keys, labels)  # one forward pass per row
            positions.extend(row[0])
            values.extend(row[1])
            reasons.extend(row[2])
        return {
            "position": np.asarray(positions, dtype=np.int64),
            "values": np.asarray(values, dtype=object),
            "failed": np.asarray(reasons, dtype=object),
        }

    def _encode_row(self, row_positions: np.ndarray, keys: np.ndarray, labels: np.ndarray
                    ) -> tuple[list[int], list[bytes], list[str]]:
        """One of the local executor's batches: the same images in one forward pass."""
        from singaudit.adapters.data.base import ImageRecord

        records = [ImageRecord(str(key), int(label)) for key, label in zip(keys, labels,
                                                                          strict=True)]
        images = Images(self.source, records, self.transform, self.decoders)
        _, good, batch, failures = collate_images(self.batched, self.layout,
                                                  images.__getitems__(list(range(len(records)))))
        values: list[bytes] = [b""] * len(records)
        reasons = [""] * len(records)
        for index, reason in failures:
            reasons[index] = reason
        if batch is not None:
            out = encode_batch(self.view.encode, batch, self.device, self.dtype, self.layout)
            for row, index in enumerate(good):
                values[index] = out[row].numpy().astype(np.float32).tobytes()
        return [int(p) for p in row_positions], values, reasons


def _row(values: Any) -> torch.Tensor:
    return torch.from_numpy(np.frombuffer(bytes(values), dtype=np.float32).copy())


def _user_error(error: BaseException) -> SingauditError | None:
    """A SingauditError raised inside a worker (e.g. missing weights), unwrapped from Ray's."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, SingauditError):
            return current
        cause = getattr(current, "cause", None)
        current = cause if isinstance(cause, BaseException) else current.__cause__
    return None


def _is_cluster_loss(ray: ModuleType, error: BaseException) -> bool:
    from ray import exceptions

    lost = (exceptions.RaySystemError, exceptions.ActorDiedError, exceptions.NodeDiedError,
            exceptions.ObjectLostError, exceptions.OwnerDiedError, exceptions.GetTimeoutError,
            exceptions.WorkerCrashedError, ConnectionError)
    return isinstance(error, lost) or not ray.is_initialized()


def _failed_to_start(error: BaseException) -> bool:
    """An actor whose constructor raised: the model could not be built on a worker."""
    return "error raised in its creation task" in str(error)


def _last_line(error: BaseException) -> str:
    """The remote exception's own line, from the end of Ray's report (colour codes removed)."""
    lines = [re.sub(r"\x1b\[[0-9;]*m", "", line).strip() for line in str(error).splitlines()]
    return next((line for line in reversed(lines) if line), type(error).__name__)


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else ""
