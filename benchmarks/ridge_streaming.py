"""Streaming ridge fit of the linear translator: time linear in N, memory flat in N.

Fits N x 2048 -> 768 synthetic features fed in chunks, for N/4, N/2 and N (each in a fresh
process, so peak RSS is per size), and prints wall time, CPU time (user+sys) and peak RSS with
their ratios. Usage: python benchmarks/ridge_streaming.py [--n 1000000] [--chunk 1024]
[--write-docs] (--write-docs: this run replaces the script's section of docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

from _tables import add_write_docs, markdown_table, write_docs

HELDOUT_ROWS = 20_000  # fixed, so only the streamed training rows grow with N


def synthetic_chunk(rows: int, in_dim: int, out_dim: int, mixing, readout, generator):
    """Post-ReLU-like correlated features and targets affine in them plus noise (float32)."""
    import torch

    # In place: the generator's own temporaries would otherwise dominate the peak it measures.
    features = torch.randn(rows, in_dim, generator=generator).mul_(0.3)
    features.addmm_(torch.randn(rows, mixing.shape[0], generator=generator), mixing).relu_()
    targets = torch.randn(rows, out_dim, generator=generator).mul_(0.1).add_(1.0)
    return features, targets.addmm_(features, readout)


def run_one(n: int, chunk: int, in_dim: int, out_dim: int) -> dict:
    import torch

    from singaudit.maths.translators import RidgeAccumulator, fit_ridge

    generator = torch.Generator().manual_seed(0)
    mixing = torch.randn(64, in_dim, generator=generator) / 8.0
    readout = torch.randn(in_dim, out_dim, generator=generator) / in_dim**0.5
    rss_after_import_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    wall_start, cpu_start = time.perf_counter(), time.process_time()
    train = RidgeAccumulator(in_dim, out_dim)
    heldout = RidgeAccumulator(in_dim, out_dim)
    generate_s = update_s = 0.0
    for accumulator, rows in ((heldout, HELDOUT_ROWS), (train, n)):
        for start in range(0, rows, chunk):
            tick = time.perf_counter()
            x, y = synthetic_chunk(
                min(chunk, rows - start), in_dim, out_dim, mixing, readout, generator
            )
            tock = time.perf_counter()
            accumulator.update(x, y)
            generate_s += tock - tick
            update_s += time.perf_counter() - tock
    tick = time.perf_counter()
    _, alpha, metrics = fit_ridge(train, heldout)
    solve_s = time.perf_counter() - tick
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "n": n,
        "wall_s": time.perf_counter() - wall_start,
        "cpu_s": time.process_time() - cpu_start,
        "generate_wall_s": generate_s,
        "update_wall_s": update_s,
        "solve_wall_s": solve_s,
        "peak_rss_mb": usage.ru_maxrss / 1024,
        "rss_after_import_mb": rss_after_import_mb,
        "alpha": alpha,
        "heldout_r2": metrics["r2"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=1_000_000, help="largest number of training rows")
    parser.add_argument("--chunk", type=int, default=1024, help="rows per update")
    parser.add_argument("--in-dim", type=int, default=2048)
    parser.add_argument("--out-dim", type=int, default=768)
    parser.add_argument("--single", action="store_true", help="internal: run one size, print JSON")
    add_write_docs(parser)
    args = parser.parse_args()
    if args.single:
        print(json.dumps(run_one(args.n, args.chunk, args.in_dim, args.out_dim)))
        return
    sizes = [args.n // 4, args.n // 2, args.n]
    print(
        f"streaming ridge {args.in_dim} -> {args.out_dim}, chunk {args.chunk}, "
        f"held-out {HELDOUT_ROWS} rows, sizes {sizes}"
    )
    results = []
    for n in sizes:
        command = [
            sys.executable,
            __file__,
            "--single",
            "--n",
            str(n),
            "--chunk",
            str(args.chunk),
            "--in-dim",
            str(args.in_dim),
            "--out-dim",
            str(args.out_dim),
        ]
        output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        results.append(json.loads(output.strip().splitlines()[-1]))
        r = results[-1]
        print(
            f"N={n:>9}  wall {r['wall_s']:8.1f} s  cpu {r['cpu_s']:8.1f} s  "
            f"(generate {r['generate_wall_s']:.1f} s, update {r['update_wall_s']:.1f} s, "
            f"solve {r['solve_wall_s']:.1f} s)  peak RSS {r['peak_rss_mb']:7.0f} MB "
            f"(after imports {r['rss_after_import_mb']:.0f} MB)  alpha {r['alpha']:.3g}  "
            f"held-out R2 {r['heldout_r2']:.4f}",
            flush=True,
        )
    first = results[0]
    print("ratios against the smallest size (time should follow N; memory should stay ~1):")
    for r in results[1:]:
        print(
            f"  N x{r['n'] / first['n']:.1f}: wall x{r['wall_s'] / first['wall_s']:.2f}, "
            f"cpu x{r['cpu_s'] / first['cpu_s']:.2f}, "
            f"update x{r['update_wall_s'] / first['update_wall_s']:.2f}, "
            f"peak RSS x{r['peak_rss_mb'] / first['peak_rss_mb']:.2f}"
        )
    if args.write_docs:
        table = markdown_table(
            ["rows", "wall s", "CPU s", "peak RSS MB", "held-out R2"],
            [[f"{r['n']:,}", f"{r['wall_s']:.1f}", f"{r['cpu_s']:.1f}", f"{r['peak_rss_mb']:.0f}",
              f"{r['heldout_r2']:.4f}"] for r in results])
        last = results[-1]
        write_docs(__file__, table, (
            f"{args.in_dim} -> {args.out_dim} features in chunks of {args.chunk} rows, each size "
            f"in a fresh process ({first['rss_after_import_mb']:.0f} MB of RSS after imports). "
            f"{last['n'] / first['n']:.0f}x the rows: CPU x{last['cpu_s'] / first['cpu_s']:.2f}, "
            f"peak RSS x{last['peak_rss_mb'] / first['peak_rss_mb']:.2f}."))


if __name__ == "__main__":
    main()
