#!/usr/bin/env bash
# GPU check: the demo audit and the EfficientNet-Lite0 scenes workload with `dtype: auto`
# (bfloat16 on a CUDA device that supports it) and float32, on CUDA when there is one, else on
# the CPU (then it reports CPU figures, and auto resolves to float32). For each workload it
# checks that the verdicts are identical and that every angle metric (unit deg) agrees within
# 0.1 degrees, and prints images/s of forward passes alone (DataLoader workers on) against the
# whole cold audit. Exit 0 when everything agrees, 1 otherwise.
#
#   benchmarks/gpu_check.sh [OUT_DIR]        (default: a fresh temporary folder)
#   PYTHON=/path/to/python benchmarks/gpu_check.sh   (default: .venv/bin/python, else python3)
#   SPECS="audits/demo.yaml" benchmarks/gpu_check.sh  (a subset of the workloads)
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 )}
OUT=${1:-$(mktemp -d -t singaudit-gpu-check.XXXXXX)}
SPECS=${SPECS:-"audits/demo.yaml benchmarks/efficientnet_lite0_scenes.yaml"}
export HF_HUB_OFFLINE=${HF_HUB_OFFLINE:-1}
mkdir -p "$OUT"
echo "gpu_check: outputs in $OUT"
"$PYTHON" - "$OUT" $SPECS <<'PY'
import json
import math
import os
import sys
import time
from pathlib import Path

import torch

from singaudit.pipeline.features import extract
from singaudit.runner import ArtefactBuilder, ArtefactStore, AuditSession
from singaudit.spec import Overrides, load_spec

out, specs = Path(sys.argv[1]), sys.argv[2:]
device = "cuda" if torch.cuda.is_available() else "cpu"
name = torch.cuda.get_device_name(0) if device == "cuda" else f"CPU ({os.cpu_count()} cores)"
workers = max(1, min(8, (os.cpu_count() or 2) - 1))
print(f"device: {device} = {name}; torch {torch.__version__}; DataLoader workers {workers}")


def forward_only(spec, cache_dir):
    """(images, seconds) of bare forward passes over every image the audit encodes."""
    run = ArtefactBuilder(spec, ArtefactStore(cache_dir=cache_dir, progress=False))
    selections = [run.audit_images]
    if spec.joint_space is not None and spec.translator.path is None:
        selections.append(run.fit_images)
    encoders = [run.classifier(m.name) for m in spec.models]
    if spec.joint_space is not None:
        encoders.append(run.joint_space())
    images = seconds = 0.0
    for encoder in encoders:
        for selection in selections:
            if device == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
            extract(encoder, selection.source, selection.records, cache=None,
                    batch_size=spec.batch_size, device=run.device, dtype=run.dtype,
                    num_workers=workers, progress=False)
            if device == "cuda":
                torch.cuda.synchronize()
            seconds += time.perf_counter() - start
            images += len(selection.records)
    return images, seconds, str(run.dtype).removeprefix("torch.")


def verdicts_and_angles(result):
    verdicts, angles = {}, {}
    for model in result.models:
        for check in model.checks:
            verdicts[f"{model.name}::{check.name}"] = check.status
            for metric_name, metric in check.metrics.items():
                if metric.unit == "deg" and isinstance(metric.value, float):
                    angles[f"{model.name}::{check.name}.{metric_name}"] = metric.value
    return verdicts, angles


failures = 0
for spec_path in specs:
    label = Path(spec_path).stem
    runs = {}
    for dtype in ("auto", "float32"):
        sets = (f"device={device}", f"dtype={dtype}", "report.formats=[json]")
        spec = load_spec(spec_path, Overrides(sets=sets))
        cache = out / f"cache-{label}-{dtype}"
        # Imports and first calls paid on a scratch cache, so "cold" means an empty cache.
        images, forward_s, resolved = forward_only(spec, out / f"scratch-{label}-{dtype}")
        images, forward_s, resolved = forward_only(spec, out / f"scratch-{label}-{dtype}")
        start = time.perf_counter()
        result = AuditSession(cache_dir=cache, progress=False).run(
            spec, out_dir=out / f"{label}-{dtype}")
        audit_s = time.perf_counter() - start
        runs[dtype] = verdicts_and_angles(result)
        print(f"{label} dtype={dtype} ({resolved}): forward-only {images / forward_s:8.1f} "
              f"images/s; cold audit {images / audit_s:8.1f} images/s ({audit_s:.1f} s, "
              f"{int(images)} image passes); audit/forward {audit_s / forward_s:.2f}")
    (auto_verdicts, auto_angles), (fp32_verdicts, fp32_angles) = runs["auto"], runs["float32"]
    changed = {k: (auto_verdicts[k], fp32_verdicts.get(k)) for k in auto_verdicts
               if auto_verdicts[k] != fp32_verdicts.get(k)}
    gaps = {k: abs(v - fp32_angles[k]) for k, v in auto_angles.items()
            if k in fp32_angles and not (math.isnan(v) and math.isnan(fp32_angles[k]))}
    worst = max(gaps.items(), key=lambda item: item[1], default=("none", 0.0))
    ok = not changed and worst[1] <= 0.1
    failures += not ok
    print(f"{label}: verdicts identical: {'yes' if not changed else json.dumps(changed)}; "
          f"largest angle gap auto vs float32 {worst[1]:.4f} deg ({worst[0]}); "
          f"{'OK' if ok else 'FAILED'}")
sys.exit(1 if failures else 0)
PY
