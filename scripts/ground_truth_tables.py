"""Ground-truth tables of the calibration worlds (issues 13 and 24): the default verdict on every
world, at every logit-block variance ratio, and on worlds built from the shipped weights.

For every world model (constructions in singaudit/calibration/README.md) the scenes are encoded
once; then each variant (singaudit/calibration/variants.py: the row-space block rescaled so that
its per-dimension variance is 0.01, 0.1, 1 or 10 times the null block's; the null coordinates
mixed with noise (partially redundant); a marker from the model's own top-1 prediction added in
the null space for one class; leaky's hidden code kept on one class) is judged as an audit would:
per class, the median of ``carried_share`` (the default verdict's metric) against the default
tiers with the one-sided sign test and Holm's correction. Printed per row: the measured variance
ratio, the worst class's and the overall median of the share, the verdict, the margin (for a
world that must pass: the fail level over its worst class; for one that must fail: its worst
class over the fail level; for a one-class leak: the marked class over the fail level and the
fail level over the worst other class), which classes fail, the worst class of ``carried``
(degrees) and of the translator's specific leak (the previous default), and the null probe's
accuracy (CLIP-free; chance 1/6).

    PYTHONPATH=. HF_HUB_OFFLINE=1 python scripts/ground_truth_tables.py
        [--worlds shapes,uncentred,lite0] [--seed 1]
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
RATIOS = (0.01, 0.1, 1.0, 10.0)
# The leaky world whose hidden code a clean world carries on one class only (same scenes).
LEAKY_OF = {"clean": "leaky", "clean_uncentred": "leaky_uncentred"}


def default_tier():
    from singaudit.checks.class_semantics import ClassSemanticsCheck

    return ClassSemanticsCheck.default_tiers[0]


def variants_of(name: str, world: dict) -> list[tuple[str, str | None, object]]:
    """(label, what the verdict must be, variant) for one encoded world."""
    from singaudit.calibration import scenes, variants

    weight, bias, fit = world["weight"], world["bias"], world["fit"][0]
    expected = EXPECTED.get(name)
    made = [("as shipped", expected, None)]
    made += [(f"variance ratio {r:g}", expected,
              variants.with_variance_ratio(weight, bias, fit, r)) for r in RATIOS]
    if expected == "fail":
        made.append(("partially redundant (null + equal noise)", "fail",
                     variants.partially_redundant(weight, bias, fit, noise=1.0)))
    if expected == "pass" and name in LEAKY_OF:
        for target, shape in enumerate(scenes.SHAPES):
            made.append((f"{LEAKY_OF[name]}'s hidden code on {shape} only", f"fail {shape} only",
                         ("hidden", LEAKY_OF[name], target)))
    if expected == "pass":
        size = float(fit.norm(dim=1).median())
        for target, shape in enumerate(scenes.SHAPES):
            made.append((f"one-class marker on {shape}", f"fail {shape} only",
                         variants.one_class_marker(weight, bias, target, size)))
        made.append(("one-class marker on circle, ratio 10", "fail circle only",
                     _composed(variants.with_variance_ratio(weight, bias, fit, 10.0),
                               lambda w, b: variants.one_class_marker(w, b, 0, size))))
    return made


_LEAKY_CACHE: dict = {}


def leaky_world(name: str, seed: int, sizes: tuple[int, int, int]) -> dict:
    """The leaky world encoded on the same scenes as its clean one (once per run)."""
    from singaudit.calibration import verify, zoo

    if name not in _LEAKY_CACHE:
        n_fit, n_validation, n_eval = sizes
        _LEAKY_CACHE[name] = verify.encoded_world(
            zoo.load_classifier(name), zoo.load_joint(), seed=seed, n_fit=n_fit,
            n_validation=n_validation, n_eval=n_eval)
    return _LEAKY_CACHE[name]


def hidden_world(clean: dict, leaky: dict, target: int) -> dict:
    """``clean`` with ``leaky``'s hidden code appended on the images leaky predicts as
    ``target`` (variants.hidden_code_on_one_class; elsewhere its fit mean)."""
    from singaudit.calibration import variants
    from singaudit.maths.geometry import head_geometry

    fill = (leaky["fit"][0] @ head_geometry(leaky["weight"]).null_basis).mean(0)
    rows, head = variants.hidden_code_on_one_class(clean["weight"], leaky["weight"],
                                                   leaky["bias"], target, fill)
    return {**clean, "weight": head, **{part: (rows(clean[part][0], leaky[part][0]),
                                               clean[part][1])
                                        for part in ("fit", "validation", "audit")}}


def _composed(first, second_builder):
    """The variant ``second`` (built on ``first``'s head) applied after ``first``."""
    from singaudit.calibration.variants import Variant

    second = second_builder(first.weight, first.bias)
    return Variant(lambda f: second.feature_map(first.feature_map(f)), second.weight,
                   second.bias, f"{first.description}; {second.description}")


def judge(measured: dict) -> tuple[str, list[str]]:
    import numpy as np

    from singaudit.checks.thresholds import class_verdicts

    values, labels = measured["values"][default_tier().metric], measured["labels"]
    statuses = class_verdicts([values[labels == k] for k in range(int(labels.max()) + 1)],
                              default_tier()).statuses
    worst = "fail" if "fail" in statuses else "warn" if "warn" in statuses else "pass"
    return worst, [str(s) for s in np.asarray(statuses)]


def row(name: str, label: str, must: str | None, measured: dict) -> tuple[str, bool]:
    from singaudit.calibration import scenes

    tier = default_tier()
    per_class = measured["per_class"]
    share = {c: per_class[c][tier.metric] for c in scenes.SHAPES}
    status, statuses = judge(measured)
    failing = [c for c, s in zip(scenes.SHAPES, statuses, strict=True) if s == "fail"]
    if must is None:
        right, margin = True, "-"
    elif must.endswith("only"):
        right = failing == [must.split()[1]]
        others = max(v for c, v in share.items() if c != must.split()[1])
        margin = f"{share[must.split()[1]] / tier.fail:.1f}x / {tier.fail / others:.1f}x"
    else:
        right = status == must
        margin = (f"{tier.fail / max(share.values()):.1f}x" if must == "pass" else
                  f"{max(share.values()) / tier.fail:.1f}x")
    cells = [
        f"`{name}`", label, must or "-", f"{measured['variance_ratio']:.3g}",
        f"{max(share.values()):.2f} / {measured['overall'][tier.metric]:.2f}",
        f"**{status}**" + ("" if right else " (WRONG)"), margin,
        ", ".join(failing) or "none",
        f"{max(per_class[c]['carried'] for c in scenes.SHAPES):+.2f}",
        f"{max(per_class[c]['specific_leak'] for c in scenes.SHAPES):+.2f}",
        f"{measured['probe']:.2f}",
    ]
    return "| " + " | ".join(cells) + " |", right


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worlds", default="shapes,uncentred", help=f"subset of {','.join(WORLDS)}")
    parser.add_argument("--seed", type=int, default=1, help="scene seed (0 is the training one)")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch

    from singaudit.calibration import verify, zoo

    torch.set_num_threads(max(1, int(os.environ.get("OMP_NUM_THREADS", "1"))))
    worlds = [w.strip() for w in args.worlds.split(",") if w.strip()]
    unknown = sorted(set(worlds) - set(WORLDS))
    if unknown:
        parser.error(f"unknown worlds {unknown}; choose from {sorted(WORLDS)}")
    tier = default_tier()
    print(f"default verdict: per-class median {tier.metric}, warn > {tier.warn:g}, fail > "
          f"{tier.fail:g}, one-sided {tier.confidence:.0%} sign test, Holm over 6 classes; "
          f"scene seed {args.seed}\n")
    print(f"| model | world | must | variance ratio | {tier.metric}: worst class / overall | "
          "verdict | margin | classes failing | carried (deg), worst class | specific leak "
          "(translator), worst class | null probe |")
    print("|---|---|---|---:|---:|---|---:|---|---:|---:|---:|")
    wrong = 0
    for world in worlds:
        n_fit, n_validation, n_eval = SIZES[world]
        for name in WORLDS[world]:
            started = time.perf_counter()
            encoded = verify.encoded_world(zoo.load_classifier(name), zoo.load_joint(),
                                           seed=args.seed, n_fit=n_fit,
                                           n_validation=n_validation, n_eval=n_eval)
            for label, must, variant in variants_of(name, encoded):
                if isinstance(variant, tuple):  # a clean world carrying a leaky one's hidden code
                    measured = verify.variant_ground_truth(hidden_world(
                        encoded, leaky_world(variant[1], args.seed, SIZES[world]), variant[2]))
                else:
                    measured = verify.variant_ground_truth(encoded, variant)
                line, right = row(name, label, must, measured)
                wrong += not right
                print(line, flush=True)
            print(f"({name}: {time.perf_counter() - started:.0f} s)", file=sys.stderr)
    print(f"\n{wrong} world(s) judged against their construction" if wrong else
          "\nevery world judged as its construction says")
    return 1 if wrong else 0


if __name__ == "__main__":
    raise SystemExit(main())
