"""Sparse concept decomposition (singaudit.maths.sparse_concepts) at vocabulary scale.

Decomposes N shifts over V concepts of dimension K (default 1,000 x 15,000 x 768, ViT-L/14's
joint space) with the concepts check's defaults (sparsity 0.1, at most 5 concepts per shift,
joint sides: the dictionary is the concepts and their negations, 2V atoms), each case in a fresh
process so peak RSS is its own. Concepts are Gaussian with a shared component (as text embeddings share one), centred like
the check's; shifts are either sparse (5 concepts with random signs plus 5% noise: what a null
space that carries a few concepts gives) or dense Gaussian (nothing sparse to find: the worst
case). Prints wall and CPU time, peak RSS, and time in units of one dense N x 2V x K product
(the cost floor of any solver that looks at every concept once). Then the shipped "words"
vocabulary's text embeddings through the calibration joint space's text tower, in two fresh
processes sharing one cache folder: computed by the first, read from the cache by the second.

    .venv/bin/python benchmarks/concept_decomposition.py [--n 1000] [--concepts 15000]
        [--dim 768] [--device cpu|cuda] [--kinds sparse,dense] [--write-docs]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time

from _tables import add_write_docs, markdown_table, write_docs


def run_one(n: int, concepts: int, dim: int, kind: str, device: str) -> dict:
    import torch

    from singaudit.maths.sparse_concepts import (
        DEFAULT_MAX_CONCEPTS,
        DEFAULT_SPARSITY,
        centred_concepts,
        nonnegative_lasso,
    )

    generator = torch.Generator().manual_seed(0)
    raw = torch.randn(concepts, dim, generator=generator) + 2.0 * torch.randn(
        1, dim, generator=generator)
    dictionary = centred_concepts(raw)
    if kind == "sparse":
        picks = torch.randint(0, concepts, (n, 5), generator=generator)
        signs = torch.where(torch.rand(n, 5, generator=generator) < 0.5, -1.0, 1.0)
        scales = torch.rand(n, 5, generator=generator) + 0.2
        targets = torch.einsum("nj,njk->nk", signs * scales, dictionary[picks])
        targets = torch.nn.functional.normalize(targets, dim=-1)
        targets += 0.05 * torch.randn(n, dim, generator=generator) / dim ** 0.5
    else:
        targets = torch.randn(n, dim, generator=generator)
    atoms = torch.cat([dictionary, -dictionary]).to(device)
    targets = targets.to(device)
    synchronise = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    rss_before_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    tick = time.perf_counter()
    _ = targets @ atoms.T
    synchronise()
    product_s = time.perf_counter() - tick
    wall_start, cpu_start = time.perf_counter(), time.process_time()
    result = nonnegative_lasso(targets, atoms, sparsity=DEFAULT_SPARSITY,
                               max_concepts=DEFAULT_MAX_CONCEPTS)
    synchronise()
    wall_s, cpu_s = time.perf_counter() - wall_start, time.process_time() - cpu_start
    support = (result.weights > 0).sum(dim=-1).float()
    peak_gpu_mb = (torch.cuda.max_memory_allocated() / 2**20 if device.startswith("cuda")
                   else None)
    return {"kind": kind, "wall_s": wall_s, "cpu_s": cpu_s, "product_s": product_s,
            "rss_before_mb": rss_before_mb,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "peak_gpu_mb": peak_gpu_mb, "support_mean": float(support.mean()),
            "support_max": int(support.max()), "cosine_median": float(result.cosine.median()),
            "optimal": result.optimal, "iterations": result.iterations,
            "limited": int(result.limited.sum()),
            "threads": torch.get_num_threads()}


def embed_words(cache: str) -> dict:
    from singaudit.adapters.sources import load_joint_space
    from singaudit.checks.concepts import load_vocabulary
    from singaudit.pipeline.features import encode_text

    space = load_joint_space("calibration:joint")
    words = load_vocabulary("words").concepts
    tick = time.perf_counter()
    embeddings = encode_text(space, words, cache=cache)
    return {"seconds": time.perf_counter() - tick, "rows": len(embeddings)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--concepts", type=int, default=15_000)
    parser.add_argument("--dim", type=int, default=768)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--kinds", default="sparse,dense", help="which shifts (comma-separated)")
    add_write_docs(parser)
    parser.add_argument("--one", help=argparse.SUPPRESS)  # internal: run one case, print JSON
    parser.add_argument("--embed", help=argparse.SUPPRESS)  # internal: embed into this cache
    args = parser.parse_args()
    if args.embed:
        print(json.dumps(embed_words(args.embed)))
        return
    if args.one:
        print(json.dumps(run_one(args.n, args.concepts, args.dim, args.one, args.device)))
        return
    print(f"{args.n} shifts x {args.concepts} concepts (x2 with negations) x {args.dim} dims, "
          f"device {args.device}")
    header = ("shifts", "wall s", "CPU s", "x dense product", "peak RSS MB", "peak GPU MB",
              "concepts/shift (mean, max)", "stopped at max_concepts", "median cosine",
              "KKT met")
    rows = []
    for kind in args.kinds.split(","):
        output = subprocess.run(
            [sys.executable, __file__, "--one", kind, "--n", str(args.n), "--concepts",
             str(args.concepts), "--dim", str(args.dim), "--device", args.device],
            capture_output=True, text=True, check=True).stdout
        row = json.loads(output.strip().splitlines()[-1])
        gpu = "-" if row["peak_gpu_mb"] is None else f"{row['peak_gpu_mb']:.0f}"
        rows.append([
            kind, f"{row['wall_s']:.1f}", f"{row['cpu_s']:.1f}",
            f"{row['wall_s'] / max(row['product_s'], 1e-9):.0f}",
            f"{row['peak_rss_mb']:.0f} (inputs {row['rss_before_mb']:.0f})", gpu,
            f"{row['support_mean']:.1f}, {row['support_max']}", f"{row['limited']}/{args.n}",
            f"{row['cosine_median']:.3f}", str(row["optimal"])])
        print(" | ".join(rows[-1]))
    with tempfile.TemporaryDirectory() as cache:
        first, second = (json.loads(subprocess.run(
            [sys.executable, __file__, "--embed", cache], capture_output=True, text=True,
            check=True).stdout.strip().splitlines()[-1]) for _ in range(2))
    cached = (f"text embeddings of the words vocabulary ({first['rows']} prompts, "
              f"calibration:joint): computed {first['seconds']:.2f} s, from the cache "
              f"{second['seconds']:.3f} s ({first['seconds'] / max(second['seconds'], 1e-9):.0f}x)")
    print(cached)
    if args.write_docs:
        notes = (f"{args.n} shifts x {args.concepts:,} concepts (and their negations) x "
                 f"{args.dim} dimensions, device {args.device}. Sparse shifts: 5 concepts with "
                 "random signs plus 5% noise; dense: Gaussian (nothing sparse to find). "
                 f"{cached}. Compare CPU s: wall s depends on what else the machine runs.")
        write_docs(__file__, markdown_table(header, rows), notes)


if __name__ == "__main__":
    main()
