"""Batched, cached extraction of classifier features and joint-space image embeddings.

Records are split into chunks (``chunk_size`` images, in record order); each chunk is one cache
entry, so an interrupted extraction resumes at the first missing chunk. Images that cannot be
read are skipped, listed in ``Extraction.failed`` and remembered by the chunk's entry.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch

from singaudit.adapters.classifiers.base import Classifier
from singaudit.adapters.data.base import ImageRecord, ImageSource
from singaudit.adapters.joint_spaces.base import JointSpace
from singaudit.cache.tensors import FeatureCache, make_key
from singaudit.errors import DataError
from singaudit.io.versions import library_versions
from singaudit.pipeline.device import choose_device, choose_dtype, dtype_name
from singaudit.pipeline.encoders import ImageEncoder, image_encoder
from singaudit.pipeline.executors import EncodeJob, Executor, ModelRecipe, local_executor
from singaudit.pipeline.executors.local import module_device as _module_device
from singaudit.pipeline.layout import choose_layout

__all__ = ["DEFAULT_CHUNK_SIZE", "Extraction", "ImageEncoder", "encode_text", "extract",
           "image_encoder"]

DEFAULT_CHUNK_SIZE = 256


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
    executor: Executor | None = None,
    recipe: ModelRecipe | None = None,
) -> Extraction:
    """Features or image embeddings of ``records`` (default: all of ``source``).

    ``cache``: a FeatureCache, a folder, True for the default folder, None/False for none.
    ``device``/``dtype``: None or "auto" choose automatically. ``num_workers``: None decodes
    images in worker processes only on a CUDA device (on the CPU the cores run the model).
    ``progress``: None shows a bar only on a terminal. ``executor``: who runs the forward
    passes (default: this process); ``recipe`` lets a remote executor rebuild the model instead
    of receiving it. Values and cache entries do not depend on the executor.
    """
    view = image_encoder(encoder)
    store = _as_cache(cache)
    records = list(source.records() if records is None else records)
    chunk_size, batch_size = max(int(chunk_size), 1), max(int(batch_size), 1)
    target_device = choose_device(device)
    target_dtype = choose_dtype(target_device, dtype)
    layout = choose_layout(view.module)
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
        "layout": layout,  # channels_last features differ from contiguous ones by ~1e-6
        "versions": library_versions(),
        # torch.compile's kernels change features by ~1e-7: such features are cached apart
        **({"compiled": True} if getattr(executor, "compile", False) else {}),
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
        job = EncodeJob(
            model=encoder,
            recipe=recipe,
            kind=view.kind,
            label=f"{view.kind}: {view.id}",
            source=source,
            records=records,
            chunks=[chunks[n] for n in missing],
            numbers=missing,
            batch_size=batch_size,
            device=target_device,
            dtype=target_dtype,
            num_workers=num_workers,
            progress=progress,
            layout=layout,
        )
        for number, values, chunk_failed in (executor or local_executor()).encode_chunks(job):
            results[number] = values
            failed.update({chunks[number][p]: reason for p, reason in chunk_failed})
            if store:  # shard by shard: an interrupted run keeps every finished chunk
                _save_chunk(store, view.kind, keys[number], values, chunk_failed, view.id)

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
    restore = _module_device(module if isinstance(module, torch.nn.Module) else None)
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


def _as_cache(cache: FeatureCache | str | Path | bool | None) -> FeatureCache | None:
    if cache is None or cache is False:
        return None
    if cache is True:
        return FeatureCache()
    if isinstance(cache, str | os.PathLike):
        return FeatureCache(cache)
    # A cache object (not an isinstance test: pytest's in-process runs re-import the package,
    # so a cache made before holds another FeatureCache class object)
    return cache


def _load_chunk(store: FeatureCache, kind: str, key: str, size: int
                ) -> tuple[torch.Tensor, list[tuple[int, str]]] | None:
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


def _save_chunk(store: FeatureCache, kind: str, key: str, values: torch.Tensor,
                chunk_failed: list[tuple[int, str]], model_id: str) -> None:
    meta = {
        "model": model_id,
        "size": str(values.shape[0] + len(chunk_failed)),
        "failed": json.dumps(chunk_failed),
    }
    store.save(kind, key, {"values": values}, meta)
