"""The local executor: forward passes in this process, images decoded by a torch DataLoader."""

from __future__ import annotations

import concurrent.futures
import contextlib
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import TYPE_CHECKING

import torch
from torch.utils.data import DataLoader

from singaudit.pipeline.encoders import ImageEncoder, image_encoder
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
from singaudit.pipeline.executors.memory import freed_memory_retained
from singaudit.pipeline.layout import model_layout

if TYPE_CHECKING:
    from singaudit.maths.translators import RidgeAccumulator


class LocalExecutor:
    name = "local"

    def __init__(self, compile: bool = False) -> None:
        # torch.compile of the forward pass (opt-in: no reliable gain measured on 2 CPU cores,
        # see README); its features differ by ~1e-7 relative, so extraction keys them apart.
        self.compile = compile

    def start(self) -> None:
        """Nothing to acquire: this process is the executor."""

    def wait(self, futures: Iterable[concurrent.futures.Future]) -> None:
        concurrent.futures.wait(list(futures))

    def ridge_statistics(self, x: torch.Tensor, y: torch.Tensor, chunk_size: int
                         ) -> RidgeAccumulator:
        return local_ridge_statistics(x, y, chunk_size)

    def encode_chunks(self, job: EncodeJob) -> Iterator[ChunkResult]:
        view = image_encoder(job.model)
        restore = module_device(view.module) or torch.device("cpu")
        try:
            if view.move is not None:
                view.move(job.device)  # weights stay float32: autocast does the rest
            with model_layout(view.module, job.layout), freed_memory_retained():
                yield from self._compute(view, job)
        finally:
            if view.move is not None:
                view.move(restore)

    def _compute(self, view: ImageEncoder, job: EncodeJob) -> Iterator[ChunkResult]:
        flat = job.flat()
        # Batches leave the loader finished, in the job's layout (pipeline.decoding).
        batched, transform = decoding(view.preprocessing.transform)
        # In this process, a batch's images are decoded over the model's cores, in turn with its
        # forward pass: decoding beside the forward pass's threads made them wait (README,
        # measured figures). Only PIL runs there (batched preprocessing), which frees the GIL.
        threads = torch.get_num_threads() if batched is not None and job.num_workers == 0 else 1
        pool = (ThreadPoolExecutor(threads, thread_name_prefix="singaudit-decode")
                if threads > 1 else contextlib.nullcontext())
        with pool as decoders:
            dataset = Images(job.source, [job.records[i] for i in flat], transform, decoders)
            loader = DataLoader(dataset, batch_sampler=job.batches(),
                                num_workers=job.num_workers,
                                collate_fn=partial(collate_images, batched, job.layout),
                                pin_memory=job.device.type == "cuda")
            assembler = ChunkAssembler(job)
            encode = torch.compile(view.encode) if self.compile else view.encode
            with progress_bar(job.progress, len(flat), job.label) as advance:
                for positions, good, images, failures in loader:
                    if images is not None:
                        out = encode_batch(encode, images, job.device, job.dtype, job.layout)
                        for row, position in enumerate(good):
                            assembler.add(position, out[row])
                    for position, reason in failures:
                        assembler.add(position, None, reason)
                    advance(len(positions))
                    yield from assembler.finished()


def module_device(module: torch.nn.Module | None) -> torch.device | None:
    if module is None:
        return None
    parameter = next(module.parameters(), None)
    return parameter.device if parameter is not None else None
