"""Extraction throughput against the best raw forward pass, measured in one process.

For each architecture (random weights of real timm architectures; the cost of a forward pass
does not depend on the weights' values):

- raw contiguous / raw channels_last: images/s of ``features`` on preprocessed tensors already
  in memory, in each layout (their order alternating by round), fp32, ``inference_mode``, with
  freed memory kept in the process as extraction does (``pipeline.executors.memory``);
  "raw best" is the faster of the two by CPU time (also printed: channels_last / contiguous images per CPU
  second), and the row says whether ``choose_layout`` picked a layout more than 3% slower;
- extraction: images/s of ``singaudit.pipeline.features.extract`` on a folder of real JPEG files
  (crops of scikit-image and scikit-learn sample photos, 256 px, resized to 224 by the model's
  preprocessing), decoding included, no cache, for each ``--workers`` count (DataLoader worker
  processes decoding while the model runs; 0: this process decodes each batch over a thread
  pool, in turn with the forward pass); ``--per-image`` also times extraction with per-image preprocessing (each image
  finished to a float tensor, then stacked and converted to the layout: the path before
  ``pipeline.decoding``) for comparison;

and the ratio extraction (first ``--workers`` value) / raw best (target >= 0.85): best rounds by
wall time, by this process's CPU time (worker processes' CPU not counted), and the median over
rounds of each round's extraction / the raw forward timed just before it ("paired"). Raw forward
and extraction alternate for ``--rounds`` and the best round of each counts, so load spikes on a
shared machine hit neither side more than the other. Run: ``python benchmarks/throughput.py
[--models resnet50,tf_efficientnet_lite0] [--images 512] [--rounds 3] [--batch-size 32] [--threads 2]
[--workers 0,1,2] [--per-image] [--write-docs]`` (``--write-docs``: this run replaces the script's
section of docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from _tables import add_write_docs, markdown_table, write_docs
from PIL import Image

from singaudit.adapters.sources import load_classifier, load_data
from singaudit.pipeline.executors.memory import freed_memory_retained
from singaudit.pipeline.features import extract
from singaudit.pipeline.layout import LAYOUTS, as_layout, choose_layout, model_layout

DEFAULT_MODELS = "tf_efficientnet_lite0,resnet50,convnext_tiny,vit_small_patch16_224"


def bundled_photos() -> list[np.ndarray]:
    """Real RGB photos shipped by scikit-image and scikit-learn (no download)."""
    from skimage import data
    from sklearn.datasets import load_sample_images

    names = ("astronaut", "chelsea", "coffee", "rocket", "motorcycle_left", "hubble_deep_field",
             "immunohistochemistry", "retina", "cat", "colorwheel")
    photos = []
    for name in names:
        loader = getattr(data, name, None)
        try:
            image = loader() if loader is not None else None
        except Exception:  # noqa: BLE001 -- an optional data file not installed: skip it
            image = None
        if image is not None and image.ndim == 3 and image.shape[2] == 3:
            photos.append(np.ascontiguousarray(image))
    photos.extend(load_sample_images().images)
    return photos


def jpeg_folder(folder: Path, count: int, size: int = 256, seed: int = 0) -> Path:
    """``count`` random ``size`` px crops of the bundled photos as JPEG files, two classes."""
    rng = np.random.default_rng(seed)
    photos = bundled_photos()
    for index in range(count):
        photo = photos[index % len(photos)]
        side = int(rng.integers(size // 2, min(photo.shape[:2]) + 1))
        top = int(rng.integers(0, photo.shape[0] - side + 1))
        left = int(rng.integers(0, photo.shape[1] - side + 1))
        crop = Image.fromarray(photo[top : top + side, left : left + side]).resize((size, size))
        target = folder / f"class_{index % 2}"
        target.mkdir(parents=True, exist_ok=True)
        crop.save(target / f"{index:05d}.jpg", quality=90)
    return folder


def raw_rate(classifier, batches: list[torch.Tensor], layout: str,
             forward=None) -> tuple[float, float]:
    """(images per wall second, per CPU second) of the forward pass alone over ``batches``
    (one warm-up batch first)."""
    forward = forward or classifier.features
    # The allocator setting extraction runs under (pipeline.executors.memory), so the raw pass
    # is the machine's limit and not slowed by page faults extraction avoids.
    with model_layout(classifier.module, layout), torch.inference_mode(), \
            freed_memory_retained():
        for batch in batches[:2]:  # warm-up (and compilation, for both batch sizes)
            forward(as_layout(batch, layout))
        wall, cpu = time.perf_counter(), time.process_time()
        for batch in batches:
            forward(as_layout(batch, layout))
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    images = sum(len(b) for b in batches)
    return images / wall, images / cpu


def extraction_rate(classifier, source, records, batch_size: int, executor=None,
                    num_workers: int = 0) -> tuple[float, float]:
    """(images per wall second, per CPU second) of ``extract``, decoding included, no cache."""
    wall, cpu = time.perf_counter(), time.process_time()
    extract(classifier, source, records, batch_size=batch_size, progress=False,
            executor=executor, num_workers=num_workers)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return len(records) / wall, len(records) / cpu


@contextmanager
def per_image_decoding():
    """The previous decoding path: no batched preprocessing tail."""
    from singaudit.pipeline.executors import base

    batched = base.batched_preprocessing
    base.batched_preprocessing = lambda transform: None
    try:
        yield
    finally:
        base.batched_preprocessing = batched


def measure(name: str, folder: Path, batch_size: int, rounds: int, workers: list[int],
            compiled: bool = False, per_image: bool = False) -> dict:
    """Raw forward and extraction alternate for ``rounds``; the best round of each counts, so
    load spikes on a shared machine hit neither side more than the other."""
    torch.manual_seed(0)
    classifier = load_classifier(f"timm:{name}", pretrained=False, verify=False)
    classifier.module.eval()
    source = load_data(f"folder:{folder}")
    records = list(source.records())
    tensors = torch.stack([classifier.preprocessing.transform(source.load(r)) for r in records])
    batches = list(tensors.split(batch_size))
    layout = choose_layout(classifier.module)
    extract(classifier, source, records[:batch_size], batch_size=batch_size, progress=False)
    raw = {name: [] for name in LAYOUTS}
    extraction = {count: [] for count in workers}
    previous = []
    for round_ in range(rounds):
        # Whole passes per layout (switching the weights' layout between batches would make
        # oneDNN reorder them again each time), in alternating order from round to round.
        for name_ in LAYOUTS if round_ % 2 == 0 else LAYOUTS[::-1]:
            raw[name_].append(raw_rate(classifier, batches, name_))
        for count in workers:
            extraction[count].append(
                extraction_rate(classifier, source, records, batch_size, num_workers=count))
        if per_image:
            with per_image_decoding():
                previous.append(extraction_rate(classifier, source, records, batch_size))
    top = lambda rates, i: max(r[i] for r in rates)
    # By CPU time: descheduling by other processes inflates wall times, not CPU times.
    fastest = max(LAYOUTS, key=lambda name_: top(raw[name_], 1))
    row = {"model": name, "layout": layout, "fastest": fastest,
           "contiguous": top(raw["contiguous"], 0), "channels_last": top(raw["channels_last"], 0),
           "layout_cpu": top(raw["channels_last"], 1) / top(raw["contiguous"], 1),
           "best": top(raw[fastest], 0), "best_cpu": top(raw[fastest], 1),
           "extraction": {count: top(extraction[count], 0) for count in workers},
           "extraction_cpu": top(extraction[workers[0]], 1),
           # Each round's extraction over the raw forward timed just before it: robust to load
           # that changes between rounds.
           "paired": statistics.median(e[0] / r[0] for e, r in zip(extraction[workers[0]],
                                                                    raw[fastest]))}
    if per_image:
        row["per_image"] = top(previous, 0)
    if compiled:  # execution: {compile: true}; compilation itself is outside the timings
        from singaudit.pipeline.executors import LocalExecutor

        executor = LocalExecutor(compile=True)
        extract(classifier, source, records, batch_size=batch_size, progress=False,
                executor=executor)  # compiles (full and last-batch sizes) before timing
        row["compiled"] = raw_rate(classifier, batches, layout,
                                   torch.compile(classifier.features))[0]
        row["compiled_extraction"] = extraction_rate(classifier, source, records, batch_size,
                                                     executor)[0]
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=DEFAULT_MODELS)
    # Passes of a few seconds each: shorter ones are too short to time on a shared machine.
    parser.add_argument("--images", type=int, default=512)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", default="0",
                        help="comma-separated DataLoader worker counts to time extraction with")
    parser.add_argument("--per-image", action="store_true",
                        help="also time the previous per-image decoding path")
    parser.add_argument("--compile", action="store_true",
                        help="also time torch.compile (execution: {compile: true})")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    add_write_docs(parser)
    args = parser.parse_args()
    workers = [int(w) for w in args.workers.split(",")]
    torch.set_num_threads(args.threads)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"torch {torch.__version__}, {args.threads} threads, {args.images} JPEG images at "
          f"224 px, batch {args.batch_size}, fp32, best of {args.rounds} rounds; load average "
          f"{load:.1f} at start")
    extraction_heads = "".join(f" {f'extr. w={w}':>10}" for w in workers)
    print(f"{'model':<24} {'chosen':<14} {'raw contig.':>11} {'raw ch.last':>11} "
          f"{'best/contig.':>12} {'CL/c. CPU':>9}{extraction_heads} {'extr./best':>10} {'(CPU-s)':>8} {'(paired)':>8}"
          + (f" {'per-image':>10}" if args.per_image else ""))
    table_rows = []
    with tempfile.TemporaryDirectory() as scratch:
        folder = jpeg_folder(Path(scratch) / "jpegs", args.images)
        for name in args.models.split(","):
            row = measure(name.strip(), folder, args.batch_size, args.rounds, workers,
                          args.compile, args.per_image)
            # Within 3% by CPU time the layouts are equal on this machine (run-to-run noise).
            slower = row["layout"] != row["fastest"] and abs(row["layout_cpu"] - 1) > 0.03
            chosen = row["layout"] + (" (slower!)" if slower else "")
            rates = "".join(f" {row['extraction'][w]:>10.1f}" for w in workers)
            first = row["extraction"][workers[0]]
            print(f"{row['model']:<24} {chosen:<14} {row['contiguous']:>11.1f} "
                  f"{row['channels_last']:>11.1f} {row['best'] / row['contiguous']:>11.2f}x "
                  f"{row['layout_cpu']:>8.2f}x"
                  f"{rates} {first / row['best']:>9.2f}x "
                  f"{row['extraction_cpu'] / row['best_cpu']:>7.2f}x {row['paired']:>7.2f}x"
                  + (f" {row['per_image']:>10.1f}" if "per_image" in row else ""), flush=True)
            table_rows.append([
                row["model"], row["layout"], f"{row['contiguous']:.1f}",
                f"{row['channels_last']:.1f}",
                *(f"{row['extraction'][w]:.1f}" for w in workers),
                f"{first / row['best']:.2f}x", f"{row['extraction_cpu'] / row['best_cpu']:.2f}x",
                f"{row['paired']:.2f}x"])
            if "compiled" in row:
                print(f"{'':<24} {'+ torch.compile':<14} {'':>11} {row['compiled']:>11.1f} "
                      f"{row['compiled'] / row['best']:>11.2f}x "
                      f"{row['compiled_extraction']:>10.1f} "
                      f"{row['compiled_extraction'] / row['compiled']:>9.2f}x", flush=True)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"(images/s; load average {load:.1f} at the end)")
    if args.write_docs:
        header = ["model", "layout chosen", "raw contiguous", "raw channels_last",
                  *(f"extraction, {w} workers" for w in workers), "extraction / raw best",
                  "by CPU time", "paired"]
        write_docs(__file__, markdown_table(header, table_rows), (
            f"Images/s; {args.images} JPEG images at 224 px, batch {args.batch_size}, fp32, "
            f"{args.threads} torch threads, best of {args.rounds} rounds. Target: extraction "
            f">= 0.85x the raw best."))


if __name__ == "__main__":
    main()
