"""Extraction throughput against the best raw forward pass, measured in one process.

For each architecture (random weights of real timm architectures; the cost of a forward pass
does not depend on the weights' values):

- raw contiguous: images/s of ``features`` on preprocessed tensors already in memory, contiguous
  layout (what extraction did before channels_last), fp32, ``inference_mode``;
- raw best: the same with the best exact layout (channels_last where it is faster), fp32;
- extraction: images/s of ``singaudit.pipeline.features.extract`` on a folder of real JPEG files
  (crops of scikit-image and scikit-learn sample photos, 256 px, resized to 224 by the model's
  preprocessing), decoding included, no cache;

and the ratio extraction / raw best (target >= 0.85), by wall time and by this process's CPU time.
Raw forward and extraction alternate for ``--rounds`` and the best round of each counts, so load
spikes on a shared machine hit neither side more than the other. Run: ``python benchmarks/throughput.py [--models resnet50,tf_efficientnet_lite0]
[--images 128] [--batch-size 32] [--threads 2]``.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from singaudit.adapters.sources import load_classifier, load_data
from singaudit.pipeline.features import extract
from singaudit.pipeline.layout import as_layout, choose_layout, model_layout

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
        except Exception:  # an optional data file not installed: skip it
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
    with model_layout(classifier.module, layout), torch.inference_mode():
        for batch in batches[:2]:  # warm-up (and compilation, for both batch sizes)
            forward(as_layout(batch, layout))
        wall, cpu = time.perf_counter(), time.process_time()
        for batch in batches:
            forward(as_layout(batch, layout))
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    images = sum(len(b) for b in batches)
    return images / wall, images / cpu


def extraction_rate(classifier, source, records, batch_size: int,
                    executor=None) -> tuple[float, float]:
    """(images per wall second, per CPU second) of ``extract``, decoding included, no cache."""
    wall, cpu = time.perf_counter(), time.process_time()
    extract(classifier, source, records, batch_size=batch_size, progress=False,
            executor=executor)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return len(records) / wall, len(records) / cpu


def measure(name: str, folder: Path, batch_size: int, rounds: int,
            compiled: bool = False) -> dict[str, float | str]:
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
    contiguous, best, extraction = [], [], []
    for _ in range(rounds):
        contiguous.append(raw_rate(classifier, batches, "contiguous"))
        best.append(raw_rate(classifier, batches, layout))
        extraction.append(extraction_rate(classifier, source, records, batch_size))
    top = lambda rates, i: max(r[i] for r in rates)  # noqa: E731
    row = {"model": name, "layout": layout, "contiguous": top(contiguous, 0),
           "best": top(best, 0), "extraction": top(extraction, 0),
           "best_cpu": top(best, 1), "extraction_cpu": top(extraction, 1)}
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
    parser.add_argument("--images", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--compile", action="store_true",
                        help="also time torch.compile (execution: {compile: true})")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"torch {torch.__version__}, {args.threads} threads, {args.images} JPEG images at "
          f"224 px, batch {args.batch_size}, fp32; load average {load:.1f} at start")
    header = (f"{'model':<24} {'layout':<14} {'raw contig.':>11} {'raw best':>9} "
              f"{'extraction':>10} {'best/contig.':>12} {'extr./best':>10} {'(CPU-s)':>8}")
    print(header)
    with tempfile.TemporaryDirectory() as scratch:
        folder = jpeg_folder(Path(scratch) / "jpegs", args.images)
        for name in args.models.split(","):
            row = measure(name.strip(), folder, args.batch_size, args.rounds, args.compile)
            print(f"{row['model']:<24} {row['layout']:<14} {row['contiguous']:>11.1f} "
                  f"{row['best']:>9.1f} {row['extraction']:>10.1f} "
                  f"{row['best'] / row['contiguous']:>11.2f}x {row['extraction'] / row['best']:>9.2f}x "
                  f"{row['extraction_cpu'] / row['best_cpu']:>7.2f}x",
                  flush=True)
            if "compiled" in row:
                print(f"{'':<24} {'+ torch.compile':<14} {'':>11} {row['compiled']:>9.1f} "
                      f"{row['compiled_extraction']:>10.1f} "
                      f"{row['compiled'] / row['best']:>11.2f}x "
                      f"{row['compiled_extraction'] / row['compiled']:>9.2f}x", flush=True)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"(images/s; load average {load:.1f} at the end)")


if __name__ == "__main__":
    main()
