"""Batched, cached extraction of classifier features and joint-space image embeddings.

Records are split into chunks (``chunk_size`` images, in record order); each chunk is one cache
entry, so an interrupted extraction resumes at the first missing chunk. Images that cannot be
read are skipped, listed in ``Extraction.failed`` and remembered by the chunk's entry.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch.utils.data import DataLoader, Dataset

from singaudit.adapters.classifiers.base import Classifier, Preprocessing
from singaudit.adapters.data.base import ImageRecord, ImageSource
from singaudit.adapters.joint_spaces.base import JointSpace
from singaudit.errors import DataError
from singaudit.pipeline.cache import FeatureCache, library_versions, make_key
from singaudit.pipeline.device import choose_device, choose_dtype, dtype_name

DEFAULT_CHUNK_SIZE = 256


@dataclass(frozen=True)
class ImageEncoder:
    """What extraction needs from a Classifier (penultimate features) or a JointSpace (image
    embeddings): one shape for both, so the pipeline has no special cases."""

    id: str
    kind: str  # "features" or "embeddings": also the cache namespace
    layer: str
    weights_hash: str
    preprocessing: Preprocessing
    encode: Callable[[torch.Tensor], torch.Tensor]
    module: torch.nn.Module | None = None  # tells which device the model is on
    move: Callable[[torch.device], object] | None = None  # the model's own ``to(device)``


def image_encoder(model: Classifier | JointSpace | ImageEncoder) -> ImageEncoder:
    """The ImageEncoder view of a Classifier or a JointSpace."""
    if isinstance(model, ImageEncoder):
        return model
    module = getattr(model, "module", None)
    module = module if isinstance(module, torch.nn.Module) else None
    move = getattr(model, "to", None)
    if isinstance(model, Classifier):
        return ImageEncoder(
            model.info.id,
            "features",
            "penultimate",
            model.info.weights_hash,
            model.preprocessing,
            model.features,
            module,
            move,
        )
    if isinstance(model, JointSpace):
        return ImageEncoder(
            model.info.id,
            "embeddings",
            "image_embedding",
            model.info.weights_hash,
            model.preprocessing,
            model.encode_images,
            module,
            move,
        )
    raise TypeError(f"expected a Classifier or a JointSpace, got {type(model).__name__}")


@dataclass
class Extraction:
    values: torch.Tensor  # (n, d) float32, one row per key
    keys: list[str]
    labels: list[int]
    failed: list[tuple[str, str]] = field(default_factory=list)  # (key, reason)
    chunks_cached: int = 0  # chunks read from the cache
    chunks_computed: int = 0  # chunks computed by this call


def extract(
    encoder: Classifier | JointSpace | ImageEncoder,
    source: ImageSource,
    records: Sequence[ImageRecord] | None = None,
    *,
    cache: FeatureCache | str | Path | bool | None = None,
    batch_size: int = 32,
    device: str | torch.device | None = None,
    dtype: str | torch.dtype | None = None,
    num_workers: int | None = None,
    progress: bool | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> Extraction:
    """Features or image embeddings of ``records`` (default: all of ``source``).

    ``cache``: a FeatureCache, a folder, True for the default folder, None/False for none.
    ``device``/``dtype``: None or "auto" choose automatically. ``num_workers``: None decodes
    images in worker processes only on a CUDA device (on the CPU the cores run the model).
    ``progress``: None shows a bar only on a terminal.
    """
    view = image_encoder(encoder)
    store = _as_cache(cache)
    records = list(source.records() if records is None else records)
    chunk_size, batch_size = max(int(chunk_size), 1), max(int(batch_size), 1)
    target_device = choose_device(device)
    target_dtype = choose_dtype(target_device, dtype)
    if num_workers is None:
        num_workers = min(8, (os.cpu_count() or 1) - 1) if target_device.type == "cuda" else 0

    failed: dict[int, str] = {}
    hashes: dict[int, str] = {}
    for index, record in enumerate(records):
        try:
            hashes[index] = source.content_hash(record)
        except DataError as error:
            failed[index] = str(error)
    usable = [i for i in range(len(records)) if i in hashes]
    chunks = [usable[i : i + chunk_size] for i in range(0, len(usable), chunk_size)]

    base_key = {
        "kind": view.kind,
        "model": view.id,
        "weights": view.weights_hash,
        "preprocessing": view.preprocessing.describe,
        "layer": view.layer,
        "dtype": dtype_name(target_dtype),
        "versions": library_versions(),
    }
    results: dict[int, torch.Tensor] = {}  # chunk number -> (ok rows, d)
    cached = 0
    missing: list[int] = []
    keys: list[str] = []
    for number, chunk in enumerate(chunks):
        key = make_key(**base_key, images=[hashes[i] for i in chunk])
        keys.append(key)
        entry = _load_chunk(store, view.kind, key, len(chunk)) if store else None
        if entry is None:
            missing.append(number)
            continue
        values, chunk_failed = entry
        results[number] = values
        failed.update({chunk[p]: reason for p, reason in chunk_failed})
        cached += 1

    if missing:
        restore = _module_state(view.module) or torch.device("cpu")
        try:
            if view.move is not None:
                view.move(target_device)  # weights stay float32: autocast below
            for number, values, chunk_failed in _compute(
                view,
                source,
                records,
                [chunks[n] for n in missing],
                missing,
                batch_size,
                target_device,
                target_dtype,
                num_workers,
                progress,
            ):
                results[number] = values
                failed.update({chunks[number][p]: reason for p, reason in chunk_failed})
                if store:
                    _save_chunk(store, view.kind, keys[number], values, chunk_failed, view.id)
        finally:
            if view.move is not None:
                view.move(restore)

    ok_rows = [results[n] for n in range(len(chunks)) if results[n].numel()]
    width = next((r.shape[1] for r in ok_rows), 0)
    values = torch.cat(ok_rows) if ok_rows else torch.zeros(0, width)
    kept = [i for i in usable if i not in failed]
    return Extraction(
        values=values.float(),
        keys=[records[i].key for i in kept],
        labels=[records[i].label for i in kept],
        failed=[(records[i].key, failed[i]) for i in sorted(failed)],
        chunks_cached=cached,
        chunks_computed=len(missing),
    )


def encode_text(
    space: JointSpace,
    prompts: Sequence[str],
    *,
    cache: FeatureCache | str | Path | bool | None = None,
    batch_size: int = 256,
    device: str | torch.device | None = None,
) -> torch.Tensor:
    """Unnormalised text embeddings (n, k) float32 on the CPU, cached by prompts and model.

    The model runs on ``device`` (None/"auto": the automatic choice) in its own dtype, and is
    moved back afterwards.
    """
    prompts = [str(p) for p in prompts]
    store = _as_cache(cache)
    module = getattr(space, "module", None)
    parameter = next(module.parameters(), None) if isinstance(module, torch.nn.Module) else None
    model_dtype = dtype_name(parameter.dtype) if parameter is not None else "float32"
    key = make_key(
        kind="text",
        model=space.info.id,
        weights=space.info.weights_hash,
        dtype=model_dtype,
        versions=library_versions(),
        prompts=prompts,
    )
    if store:
        entry = store.load("text", key, rows=len(prompts))
        if entry is not None:
            return entry[0]["values"].float()
    restore = _module_state(module if isinstance(module, torch.nn.Module) else None)
    space.to(choose_device(device))
    try:
        with torch.inference_mode():
            parts = [
                space.encode_text(prompts[i : i + batch_size]).float().cpu()
                for i in range(0, len(prompts), batch_size)
            ]
    finally:
        space.to(restore or torch.device("cpu"))
    values = torch.cat(parts) if parts else torch.zeros(0, space.info.embed_dim)
    if store:
        store.save("text", key, {"values": values}, {"model": space.info.id})
    return values


class _Images(Dataset):
    """(position, tensor or None, failure reason) for the records to compute."""

    def __init__(self, source: ImageSource, records: list[ImageRecord], transform) -> None:
        self.source, self.records, self.transform = source, records, transform

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, position: int):
        try:
            image = self.source.load(self.records[position])
        except DataError as error:
            return position, None, str(error)
        try:
            return position, self.transform(image), ""
        except (OSError, ValueError, RuntimeError, TypeError) as error:
            return position, None, f"preprocessing failed for {self.records[position].key}: {error}"


def _collate(batch):
    positions = [p for p, _, _ in batch]
    good = [(p, x) for p, x, _ in batch if x is not None]
    failures = [(p, reason) for p, x, reason in batch if x is None]
    stacked = torch.stack([x for _, x in good]) if good else None
    return positions, [p for p, _ in good], stacked, failures


def _compute(
    view, source, records, todo_chunks, numbers, batch_size, device, dtype, num_workers, progress
):
    """Yield (chunk number, values (ok, d) float32 CPU, [(position in chunk, reason)])."""
    flat = [index for chunk in todo_chunks for index in chunk]
    owner: list[tuple[int, int]] = []  # flat position -> (chunk slot, position in chunk)
    batches: list[list[int]] = []
    for slot, chunk in enumerate(todo_chunks):
        start = len(owner)
        owner.extend((slot, p) for p in range(len(chunk)))
        batches.extend(
            list(range(start + i, start + min(i + batch_size, len(chunk))))
            for i in range(0, len(chunk), batch_size)
        )
    dataset = _Images(source, [records[i] for i in flat], view.preprocessing.transform)
    loader = DataLoader(
        dataset, batch_sampler=batches, num_workers=num_workers, collate_fn=_collate
    )
    pending: dict[int, dict] = {
        slot: {"rows": {}, "failed": [], "left": len(chunk)}
        for slot, chunk in enumerate(todo_chunks)
    }
    with (
        _progress_bar(progress, len(flat), f"{view.kind}: {view.id}") as advance,
        torch.inference_mode(),
        _precision(device, dtype),
    ):
        for positions, good, images, failures in loader:
            if images is not None:
                out = view.encode(images.to(device=device)).float().cpu()
                for row, position in enumerate(good):
                    slot, inner = owner[position]
                    pending[slot]["rows"][inner] = out[row]
            for position, reason in failures:
                slot, inner = owner[position]
                pending[slot]["failed"].append((inner, reason))
            for position in positions:
                slot, _ = owner[position]
                pending[slot]["left"] -= 1
            advance(len(positions))
            for slot in [s for s, state in pending.items() if state["left"] == 0]:
                state = pending.pop(slot)
                rows = [state["rows"][p] for p in sorted(state["rows"])]
                values = torch.stack(rows) if rows else torch.zeros(0, 0)
                yield numbers[slot], values, sorted(state["failed"])


def _precision(device: torch.device, dtype: torch.dtype):
    """Autocast for reduced precision, so the model's own weights are never down-cast."""
    from contextlib import nullcontext

    if dtype == torch.float32:
        return nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def _progress_bar(progress: bool | None, total: int, label: str):
    from contextlib import contextmanager

    show = sys.stderr.isatty() if progress is None else progress

    @contextmanager
    def bar():
        if not show or total == 0:
            yield lambda n: None
            return
        from rich.console import Console
        from rich.progress import Progress

        with Progress(console=Console(stderr=True), transient=True) as bar_:
            task = bar_.add_task(label, total=total)
            yield lambda n: bar_.advance(task, n)

    return bar()


def _as_cache(cache) -> FeatureCache | None:
    if cache is None or cache is False:
        return None
    if cache is True:
        return FeatureCache()
    if isinstance(cache, FeatureCache):
        return cache
    return FeatureCache(cache)


def _load_chunk(store: FeatureCache, kind: str, key: str, size: int):
    """(values, [(position, reason)]) from a cache entry, or None (missing or corrupt)."""
    path_exists = store.path(kind, key).is_file()
    if not path_exists:
        return None
    entry = store.load(kind, key)
    if entry is None:
        return None
    tensors, meta = entry
    try:
        chunk_failed = [(int(p), str(r)) for p, r in json.loads(meta.get("failed", "[]"))]
        values = tensors["values"]
        consistent = (
            values.ndim == 2
            and meta.get("size") == str(size)
            and values.shape[0] + len(chunk_failed) == size
        )
    except (ValueError, KeyError, TypeError):
        consistent = False
    if not consistent:
        store.discard(kind, key)
        return None
    return values, chunk_failed


def _save_chunk(store, kind, key, values, chunk_failed, model_id) -> None:
    meta = {
        "model": model_id,
        "size": str(values.shape[0] + len(chunk_failed)),
        "failed": json.dumps(chunk_failed),
    }
    store.save(kind, key, {"values": values}, meta)


def _module_state(module: torch.nn.Module | None):
    if module is None:
        return None
    parameter = next(module.parameters(), None)
    return parameter.device if parameter is not None else None
