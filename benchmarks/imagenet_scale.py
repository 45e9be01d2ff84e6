"""A synthetic ImageNet-shaped audit, offline: where time, memory and report size go with classes.

The world: ImageNet-1k's class names (the first C of them), N synthetic 32x32 images per class
(a class colour pattern plus noise, PNG files listed for the ``list:`` source), a translator-fit
split of the same kind, classifiers through ``python:`` whose penultimate layers are 2,048-d and
768-d (a one-layer backbone on the pixels, then a C-class linear head; the shape is what matters)
and a joint space of a real open_clip CLIP architecture (``ViT-S-32`` widened to 768-d embeddings,
its real tokenizer, random weights saved to a local checkpoint, images forced to 32 px so the
image tower stays cheap on a CPU). Every check runs, evidence by retrieval (no generator).

Each shape runs in a fresh subprocess (so peak RSS is that shape's). Printed per stage: wall and
CPU seconds and the process's peak RSS at the stage's end; then the size of results.json,
report.html, report.pdf and report.md and the PDF's page count; then, between the smallest and the
largest class count, the ratio of each figure (classes x10: ~10 means linear, ~100 quadratic), and
a linear extrapolation to 1,000 classes x 50 images x 13 models.

Run: ``python benchmarks/imagenet_scale.py [--classes 100 1000] [--images 10] [--models 3]
[--write-docs]`` (``--write-docs``: this run replaces the script's section of
docs/benchmarks.md). ``--keep DIR`` keeps each shape's output folder (for screenshots).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from _tables import add_write_docs, markdown_table, write_docs

IMAGE_SIZE = 32
# (name, penultimate width): ResNet-50-like 2,048-d and ViT-B-like 768-d, alternating.
MODEL_WIDTHS = (2048, 768)
JOINT_ARCH = "ViT-S-32"
JOINT_EMBED_DIM = 768  # ViT-L/14's embedding width


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


# ---------------------------------------------------------------------------------------------
# The world (written into a folder; used by the child process)


def make_classifier(width: int = 2048, classes: int = 1000, seed: int = 0):
    """A ``python:`` factory: pixels -> ``width``-d ReLU features -> a ``classes``-way head."""
    import torch
    from torch import nn

    from singaudit.adapters.classifiers.base import Preprocessing

    generator = torch.Generator().manual_seed(seed)
    module = nn.Sequential(nn.Flatten(), nn.Linear(3 * IMAGE_SIZE * IMAGE_SIZE, width), nn.ReLU(),
                           nn.Linear(width, classes))
    with torch.no_grad():
        for parameter in module.parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=generator)
                            / parameter.shape[-1] ** 0.5)
    return {"module": module.eval(), "head": "3",
            "preprocessing": Preprocessing(_to_tensor, f"to_tensor,size={IMAGE_SIZE}")}


def _to_tensor(image):
    import numpy as np
    import torch

    pixels = np.asarray(image.convert("RGB").resize((IMAGE_SIZE, IMAGE_SIZE)), dtype=np.float32)
    return torch.from_numpy(pixels / 255.0).permute(2, 0, 1).contiguous()


def write_images(folder: Path, class_names: list[str], per_class: int, seed: int) -> Path:
    """PNG images (a class pattern plus noise) and a list file for ``list:``."""
    import numpy as np
    from PIL import Image

    patterns = np.random.default_rng(12345).uniform(0, 255, (len(class_names), IMAGE_SIZE,
                                                              IMAGE_SIZE, 3))
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    images = []
    for label in range(len(class_names)):
        for i in range(per_class):
            pixels = np.clip(patterns[label] + rng.normal(0, 40, patterns[label].shape), 0, 255)
            path = folder / f"{label:04d}_{i:03d}.png"
            Image.fromarray(pixels.astype(np.uint8)).save(path)
            images.append({"path": path.name, "label": label})
    listing = folder / "images.json"
    listing.write_text(json.dumps({"classes": class_names, "images": images}))
    return listing


def write_joint_space(folder: Path) -> Path:
    """A real open_clip architecture with random weights, saved where ``pretrained=`` reads it."""
    import open_clip
    import torch

    torch.manual_seed(0)
    model = open_clip.create_model(JOINT_ARCH, pretrained=None, force_image_size=IMAGE_SIZE,
                                   embed_dim=JOINT_EMBED_DIM)
    path = folder / "joint_space.pt"
    torch.save(model.state_dict(), path)
    return path


# Its defaults (erasure figures on), with the solver auto picks above 100 classes forced at every
# shape, so that the ratio between two class counts compares one algorithm.
NULL_PROBE = "{solver: ridge}"


def write_spec(folder: Path, classes: int, per_class: int, models: int) -> Path:
    from singaudit.adapters.data._imagenet import imagenet_class_names

    names = imagenet_class_names()[:classes]
    audit = write_images(folder / "audit", names, per_class, seed=1)
    fit = write_images(folder / "fit", names, max(2, per_class // 2), seed=2)
    checkpoint = write_joint_space(folder)
    model_entries = "\n".join(
        f"  - name: m{i}_{MODEL_WIDTHS[i % 2]}d\n"
        f"    id: python:imagenet_scale:make_classifier\n"
        f"    options: {{width: {MODEL_WIDTHS[i % 2]}, classes: {classes}, seed: {i}}}\n"
        f"    expect: none" for i in range(models))
    spec = folder / "scale.yaml"
    spec.write_text(f"""version: 1
kind: singaudit/audit
name: imagenet_scale
models:
{model_entries}
joint_space:
  id: open_clip:{JOINT_ARCH}
  options: {{pretrained: {checkpoint}, force_image_size: {IMAGE_SIZE}, embed_dim: {JOINT_EMBED_DIM}}}
data:
  id: list:{audit}
  images_per_class: {per_class}
translator:
  fit:
    id: list:{fit}
  heldout: 0.2
checks:
  null_invariance: {{}}
  translator_fidelity: {{}}
  class_semantics: {{}}
  concepts: {{}}
  steering: {{max_images: 32}}
  translation_consistency: {{}}
  null_probe: {NULL_PROBE}
  evidence: {{per_class: 1, max_images: 6}}
report:
  formats: [html, pdf, json, junit, markdown]
device: cpu
dtype: float32
batch_size: 256
""")
    return spec


# ---------------------------------------------------------------------------------------------
# One shape, in this process (the child)


def run_shape(classes: int, per_class: int, models: int, keep: Path | None) -> dict:
    sys.path.insert(0, str(Path(__file__).resolve().parent))  # python:imagenet_scale:...
    from singaudit.runner import progress

    stages: dict[str, dict] = {}
    original = progress.ProgressReporter.stage

    @contextmanager
    def measured_stage(self, key, description, spinner=True):
        wall, cpu = time.perf_counter(), time.process_time()
        with original(self, key, description, spinner):
            yield
        entry = stages.setdefault(key, {"wall": 0.0, "cpu": 0.0})
        entry["wall"] += time.perf_counter() - wall
        entry["cpu"] += time.process_time() - cpu
        entry["rss"] = peak_rss_mb()

    progress.ProgressReporter.stage = measured_stage

    @contextmanager
    def stage(key):
        wall, cpu = time.perf_counter(), time.process_time()
        yield
        stages[key] = {"wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu,
                       "rss": peak_rss_mb()}

    with tempfile.TemporaryDirectory(prefix="imagenet_scale_") as temporary:
        root = Path(keep) if keep else Path(temporary)
        root.mkdir(parents=True, exist_ok=True)
        with stage("setup: world written (not singaudit)"):
            spec_path = write_spec(root / "world", classes, per_class, models)
        from singaudit.reports.context import build_context
        from singaudit.reports.junit import junit_xml
        from singaudit.reports.markdown import run_markdown
        from singaudit.reports.pdf import write_pdf
        from singaudit.reports.render import load_results, render_html, template_environment
        from singaudit.runner import AuditSession
        from singaudit.spec import load_spec

        spec = load_spec(spec_path)
        out = root / "out"
        with stage("audit (total)"):
            AuditSession(cache_dir=root / "cache", progress=False).run(spec, out_dir=out)
        per_class_statistics(classes, per_class, stage)
        results = out / "results.json"
        with stage("report: results.json read"):
            audit = load_results(results)
        with stage("report: context + figures"):
            context = build_context(audit, out)
        environment = template_environment()
        with stage("report: html"):
            html = render_html(audit, out, context=context, environment=environment)
            (out / "report.html").write_text(html, encoding="utf-8")
        with stage("report: pdf"):
            write_pdf(render_html(audit, out, paged=True, context=context,
                                  environment=environment), out / "report.pdf")
        with stage("report: junit"):
            (out / "junit.xml").write_text(junit_xml(audit), encoding="utf-8")
        with stage("report: markdown"):
            (out / "report.md").write_text(run_markdown(audit), encoding="utf-8")
        sizes = {name: (out / name).stat().st_size for name in
                 ("results.json", "report.html", "report.pdf", "report.md", "junit.xml")}
        sizes["pdf pages"] = _pdf_pages(out / "report.pdf")
        figures = sum(p.stat().st_size for p in out.rglob("*") if p.is_file()
                      and p.suffix in (".png", ".svg"))
        sizes["figure files"] = figures
    return {"classes": classes, "per_class": per_class, "models": models, "stages": stages,
            "sizes": sizes, "peak_rss_mb": peak_rss_mb()}


def per_class_statistics(classes: int, per_class: int, stage) -> None:
    """The framework's per-class statistics at this shape, apart from any check: one tier judged
    per class (statistic, Holm-corrected test, bootstrap CI) and nine metrics summarised per
    class (what class_semantics reports for each class)."""
    import numpy as np

    from singaudit.checks import thresholds
    from singaudit.results import Tiers

    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(classes), per_class)
    values = rng.normal(size=labels.size)
    names = [f"class {i}" for i in range(classes)]
    tier = Tiers(metric="leak", statistic="median", warn=2.0, fail=3.0)
    with stage("per-class statistics: judge one tier"):
        thresholds.judge(tier, thresholds.Observations.of(values, labels), names)
    spec = thresholds.MetricSpec(description="a metric", aggregation="median")
    with stage("per-class statistics: 9 metrics summarised"):
        for _ in range(9):
            if hasattr(thresholds, "class_summary_metrics"):
                thresholds.class_summary_metrics(values, labels, names, spec)
            else:  # before it existed: one summary_metric per class
                for index in range(classes):
                    thresholds.summary_metric(values[labels == index], spec)


def _pdf_pages(path: Path) -> int:
    from pypdf import PdfReader

    return len(PdfReader(path).pages)


# ---------------------------------------------------------------------------------------------
# The parent: one subprocess per shape, then the tables


def start_child(classes: int, per_class: int, models: int, keep: str | None) -> tuple:
    command = [sys.executable, __file__, "--child", str(classes), str(per_class), str(models)]
    if keep:
        command += ["--keep", str(Path(keep) / f"c{classes}")]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    # Files, not pipes: a child blocked on a full pipe would wait for the parent forever.
    out = tempfile.TemporaryFile("w+")  # noqa: SIM115 (closed by finish_child)
    err = tempfile.TemporaryFile("w+")  # noqa: SIM115
    return subprocess.Popen(command, stdout=out, stderr=err, text=True, env=env), out, err


def finish_child(child: tuple, shape: str) -> dict:
    process, out, err = child
    process.wait()
    with out, err:
        stdout, stderr = (stream.seek(0) or stream.read() for stream in (out, err))
    if process.returncode != 0:
        sys.stderr.write(stderr[-4000:])
        raise SystemExit(f"shape {shape} failed ({process.returncode})")
    return json.loads(stdout.strip().splitlines()[-1])


def _group(key: str) -> str:
    """Stage keys as a table reads them: per-model keys summed by what they do."""
    parts = key.split(":")
    if parts[0] == "check" and len(parts) >= 3:
        return f"check: {parts[2]}"
    if len(parts) >= 2 and parts[0] not in ("report", "setup", "audit (total)"):
        return parts[0]
    return key


def grouped(stages: dict) -> dict:
    table: dict[str, dict] = {}
    for key, value in stages.items():
        entry = table.setdefault(_group(key), {"wall": 0.0, "cpu": 0.0, "rss": 0.0})
        entry["wall"] += value["wall"]
        entry["cpu"] += value["cpu"]
        entry["rss"] = max(entry["rss"], value.get("rss", 0.0))
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--classes", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--images", type=int, default=10, help="images per class")
    parser.add_argument("--models", type=int, default=3)
    parser.add_argument("--keep", help="keep each shape's folder under this one")
    parser.add_argument("--parallel", action="store_true", help="run the shapes at once (on a "
                        "busy machine: compare CPU seconds, wall seconds include the others)")
    parser.add_argument("--child", type=int, nargs=3, help=argparse.SUPPRESS)
    add_write_docs(parser)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(run_shape(*args.child, Path(args.keep) if args.keep else None)))
        return 0

    runs, started = [], []
    for classes in args.classes:
        print(f"running {classes} classes x {args.images} images x {args.models} models ...",
              flush=True)
        shape = f"{classes}x{args.images}x{args.models}"
        started.append((start_child(classes, args.images, args.models, args.keep), shape))
        if not args.parallel:
            runs.append(finish_child(*started.pop()))
    runs += [finish_child(*process) for process in started]
    small, large = runs[0], runs[-1]
    growth = large["classes"] / small["classes"]
    tables = [grouped(r["stages"]) for r in runs]
    keys = list(dict.fromkeys(k for t in tables for k in t))
    header = ["stage", *(f"{r['classes']} cl wall s" for r in runs),
              *(f"{r['classes']} cl CPU s" for r in runs), f"{large['classes']} cl peak RSS MB",
              f"ratio wall x{growth:g} classes", f"ratio CPU x{growth:g} classes"]
    rows = []
    for key in keys:
        walls = [t.get(key, {}).get("wall", 0.0) for t in tables]
        cpus = [t.get(key, {}).get("cpu", 0.0) for t in tables]
        ratio = walls[-1] / walls[0] if walls[0] > 0.005 else float("nan")
        # CPU seconds: on a shared machine the wall clock also counts the other processes.
        cpu_ratio = cpus[-1] / cpus[0] if cpus[0] > 0.005 else float("nan")
        rows.append([key, *(f"{w:.2f}" for w in walls), *(f"{c:.2f}" for c in cpus),
                     f"{tables[-1].get(key, {}).get('rss', 0.0):.0f}", f"{ratio:.1f}",
                     f"{cpu_ratio:.1f}"])
    stage_table = markdown_table(header, rows)
    size_rows = []
    for name in small["sizes"]:
        values = [r["sizes"][name] for r in runs]
        shown = [f"{v:,}" if name == "pdf pages" else f"{v / 1e6:.3f}" for v in values]
        ratio = values[-1] / values[0] if values[0] else float("nan")
        size_rows.append([name + ("" if name == "pdf pages" else " MB"), *shown, f"{ratio:.1f}"])
    size_table = markdown_table(["output", *(f"{r['classes']} classes" for r in runs),
                                 f"ratio x{growth:g} classes"], size_rows)
    # Extrapolation: linear in classes x images for extraction and checks, and in models.
    target_images = 1000 * 50
    scale = target_images / (large["classes"] * large["per_class"]) * 13 / large["models"]
    audit_wall = tables[-1]["audit (total)"]["wall"]
    print(f"\nshapes: classes {args.classes} x {args.images} images x {args.models} models "
          f"(widths {', '.join(str(MODEL_WIDTHS[i % 2]) for i in range(args.models))}), joint "
          f"space open_clip {JOINT_ARCH} at {JOINT_EMBED_DIM}-d, random weights; "
          f"{os.cpu_count()} CPUs (shared: wall noisy)\n")
    print(stage_table)
    print()
    print(size_table)
    peaks = ", ".join(f"{r['classes']} classes {r['peak_rss_mb']:.0f} MB" for r in runs)
    notes = (
        f"Peak RSS per shape: {peaks}. "
        f"Linear extrapolation to 1,000 classes x 50 images x 13 models (x{scale:.1f} the largest "
        f"shape's images x models): audit {audit_wall * scale / 60:.0f} min on this machine with "
        f"these toy backbones (real backbones add their forward passes: benchmarks/throughput.py); "
        f"report sizes depend on classes x models, not images: HTML "
        f"~{large['sizes']['report.html'] / 1e6 * 13 / large['models']:.1f} MB, PDF "
        f"~{large['sizes']['pdf pages'] * 13 / large['models']:.0f} pages if each grows with "
        f"models; results.json (per-image arrays: grows with images x models) "
        f"~{large['sizes']['results.json'] / 1e6 * scale:.0f} MB.")
    print("\n" + notes)
    if args.write_docs:
        write_docs(__file__, stage_table + "\n\n" + size_table, notes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
