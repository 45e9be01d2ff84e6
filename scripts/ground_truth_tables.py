"""Ground-truth tables of the calibration worlds (issue 13): what each reading says per class.

For every world model (constructions in singaudit/calibration/README.md) this fits the audit's
linear ridge translator, removes the null component under both references (zero: the paper's
f_eq = P_p f; mean: f_eq = P_p f + P_n mu, mu the translator-fit mean) and prints, per class and
overall, the medians of

  |AS|      the paper's reading, toward the true-class prompt
  leak      -AS (signed; the previous default)
  specific  the class-specific leak (contrast over images; the default verdict's statistic)
  probe     cross-validated accuracy of a linear probe on P_n f (no joint space; chance 1/6)

with the verdict the default tiers give on the medians (an audit also asks a class to cross a level
with one-sided confidence, which matters only near a level) and the Spearman rank correlation
across classes between
the specific leak and the probe. The real-backbone world runs EfficientNet-Lite0 at 224 px (a few
scenes per CPU-second): it uses fewer scenes and takes minutes.

    PYTHONPATH=. HF_HUB_OFFLINE=1 python scripts/ground_truth_tables.py
        [--worlds shapes,uncentred,lite0] [--seed 1] [--markdown]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

WORLDS = {
    "shapes": ("clean", "leaky", "mixed", "natural"),
    "uncentred": ("clean_uncentred", "leaky_uncentred"),
    "lite0": ("lite0_clean", "lite0_leaky", "lite0_natural"),
}
# What the construction says the default verdict must be (natural ones: nothing planted).
EXPECTED = {
    "clean": "pass", "leaky": "fail", "mixed": "fail", "natural": None,
    "clean_uncentred": "pass", "leaky_uncentred": "fail",
    "lite0_clean": "pass", "lite0_leaky": "fail", "lite0_natural": None,
}
# Scenes per world: (translator fit, ridge validation, audit); lite0 pays 224-px forward passes.
SIZES = {"shapes": (1500, 300, 600), "uncentred": (1500, 300, 600), "lite0": (600, 180, 300)}


def default_tiers() -> tuple[str, float, float]:
    """(metric, warn, fail) of class_semantics' default per-class tier."""
    from singaudit.checks.class_semantics import ClassSemanticsCheck

    tier = ClassSemanticsCheck.default_tiers[0]
    return tier.metric, float(tier.warn), float(tier.fail)


def verdict(per_class_values: list[float], warn: float, fail: float) -> str:
    worst = max(per_class_values)
    return "fail" if worst > fail else "warn" if worst > warn else "pass"


def spearman(a: list[float], b: list[float]) -> float:
    from scipy.stats import spearmanr

    return float(spearmanr(a, b).statistic)


def measure(name: str, sizes: tuple[int, int, int], seed: int) -> dict:
    from singaudit.calibration import verify, zoo

    n_fit, n_validation, n_eval = sizes
    return verify.world_ground_truth(
        zoo.load_classifier(name), zoo.load_joint(), seed=seed, n_fit=n_fit,
        n_validation=n_validation, n_eval=n_eval,
    )


def table(name: str, truth: dict, warn: float, fail: float, markdown: bool) -> list[str]:
    from singaudit.calibration import scenes

    mean, zero, probe = truth["references"]["mean"], truth["references"]["zero"], truth["probe"]
    classes = list(scenes.SHAPES)
    specific = [mean["per_class"][c]["specific_leak"] for c in classes]
    accuracy = [probe["per_class"][c] for c in classes]
    got = verdict(specific, warn, fail)
    expected = EXPECTED.get(name)
    header = (
        f"{name}: null dim {truth['null_dim']}, ||P_n mu||/||mu|| "
        f"{truth['mean_null_fraction']:.2f}, translator cosine "
        f"{truth['translator']['eval_cosine']:.3f}; default verdict {got}"
        + (f" (construction: {expected})" if expected else " (nothing planted)")
        + f"; worst class specific leak {max(specific):+.2f} (fail > {fail:g}); "
        f"Spearman(specific leak, probe) over classes {spearman(specific, accuracy):+.2f}"
    )
    columns = ["class", "|AS| zero", "leak zero", "specific zero", "|AS| mean", "leak mean",
               "specific mean", "probe"]
    rows = []
    for label, cz, cm, acc in [
        *[(c, zero["per_class"][c], mean["per_class"][c], probe["per_class"][c]) for c in classes],
        ("overall", zero["overall"], mean["overall"], probe["accuracy"]),
    ]:
        rows.append([label, f"{cz['abs_as']:.2f}", f"{cz['leak']:+.2f}",
                     f"{cz['specific_leak']:+.2f}", f"{cm['abs_as']:.2f}", f"{cm['leak']:+.2f}",
                     f"{cm['specific_leak']:+.2f}", f"{acc:.2f}"])
    if markdown:
        columns = [c.replace("|", "\\|") for c in columns]
        lines = [f"**{header}**", "", "| " + " | ".join(columns) + " |",
                 "|" + "---|" * len(columns)]
        lines += ["| " + " | ".join(row) + " |" for row in rows]
    else:
        widths = [max(len(r[i]) for r in [columns, *rows]) for i in range(len(columns))]
        lines = [header, "  ".join(c.rjust(w) for c, w in zip(columns, widths))]
        lines += ["  ".join(v.rjust(w) for v, w in zip(row, widths)) for row in rows]
    return [*lines, ""]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worlds", default=",".join(WORLDS), help=f"subset of {','.join(WORLDS)}")
    parser.add_argument("--seed", type=int, default=1, help="scene seed (0 is the training one)")
    parser.add_argument("--markdown", action="store_true", help="markdown tables")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch

    torch.set_num_threads(max(1, int(os.environ.get("OMP_NUM_THREADS", "1"))))
    worlds = [w.strip() for w in args.worlds.split(",") if w.strip()]
    unknown = sorted(set(worlds) - set(WORLDS))
    if unknown:
        parser.error(f"unknown worlds {unknown}; choose from {sorted(WORLDS)}")
    metric, warn, fail = default_tiers()
    print(f"default verdict: per-class median {metric}, warn > {warn:g}, fail > {fail:g} "
          f"(degrees); null removal 'mean' unless marked zero; scene seed {args.seed}\n")
    measured = {}
    for world in worlds:
        for name in WORLDS[world]:
            started = time.perf_counter()
            measured[name] = truth = measure(name, SIZES[world], args.seed)
            print("\n".join(table(name, truth, warn, fail, args.markdown)))
            print(f"({time.perf_counter() - started:.0f} s)", file=sys.stderr)
    print("\n".join(summary(measured, warn, fail)))
    return 0


def summary(measured: dict, warn: float, fail: float) -> list[str]:
    """One markdown row per model: each reading's worst class (the per-class verdict's statistic)
    and overall median, the probe, the verdicts and the rank correlation."""
    from singaudit.calibration import scenes

    columns = ["model", "must", "\\|AS\\| zero (paper)", "leak zero (previous default)",
               "specific zero", "specific mean (default)", "probe (chance 0.17)",
               "default tiers on the medians", "Spearman over classes"]
    lines = ["worst class / overall median, degrees", "",
             "| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for name, truth in measured.items():
        zero, mean = truth["references"]["zero"], truth["references"]["mean"]

        def cell(reference: dict, metric: str) -> str:
            worst = max(reference["per_class"][c][metric] for c in scenes.SHAPES)
            return f"{worst:+.2f} / {reference['overall'][metric]:+.2f}"

        specific = [mean["per_class"][c]["specific_leak"] for c in scenes.SHAPES]
        accuracy = [truth["probe"]["per_class"][c] for c in scenes.SHAPES]
        lines.append("| " + " | ".join([
            f"`{name}`", EXPECTED.get(name) or "-", cell(zero, "abs_as"), cell(zero, "leak"),
            cell(zero, "specific_leak"), cell(mean, "specific_leak"),
            f"{truth['probe']['accuracy']:.2f}", verdict(specific, warn, fail),
            f"{spearman(specific, accuracy):+.2f}",
        ]) + " |")
    return lines


if __name__ == "__main__":
    raise SystemExit(main())
