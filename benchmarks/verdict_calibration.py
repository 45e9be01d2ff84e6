"""False-fail rate and power of the default per-class verdict, by simulation.

The per-class verdict (singaudit.checks.thresholds.class_verdicts, called here exactly as the
checks call it) fails a class only when a one-sided sign test says its median is beyond the fail
level at 95% confidence, Holm-corrected over the classes judged. This script measures how often
that verdict fails a model whose null space carries no class information, for 16, 100 and 1,000
classes and 10, 30 and 100 images per class, and how often it finds one planted leaking class.

The simulation is at the level of the statistic the verdict reads: per-image metric values
(degrees), drawn from one heavy-tailed distribution for every class (Student t with 3 degrees of
freedom, scale SCALE degrees: "no class information" means every class has the same
distribution). Under the null that distribution's median is exactly the fail level, the least
favourable case for false alarms (a model whose typical image sits right at the bound); a real
clean model sits below it and fails even less often. The verdict's test is a sign test, which
depends only on how many values lie at or under the level, so the shape of the distribution does
not change the false-fail rate. With a planted leak, one class has its median FAIL + SHIFT
degrees and the others have median 0 (a clean model with one leaking class); the power is the
share of runs in which that class fails. Beside the simulated false-fail rate, the exact rate
of the same verdict under the same null is computed in closed form. The old rule (the point estimate of the median against
the level, ``confidence: null``) is shown for comparison.

Run: ``python benchmarks/verdict_calibration.py [--replicates 400] [--seed 0]`` (about 2-4
minutes on 2 cores). Prints a markdown table; the README shows one run's output.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from scipy import stats

from singaudit.checks.thresholds import class_verdicts
from singaudit.results import Tiers

FAIL = 3.0  # class_semantics' default fail level (degrees of specific leak)
SCALE = 3.0  # spread of the per-image values (degrees)
SHIFT = 3.0  # a planted leak: its class median is FAIL + SHIFT
CLASSES = (16, 100, 1000)
IMAGES = (10, 30, 100)
LEVEL = 0.05  # the documented false-fail rate: 1 - the tier's default confidence


def draw(rng: np.random.Generator, classes: int, images: int, median: float) -> np.ndarray:
    return median + SCALE * rng.standard_t(3, size=(classes, images))


def any_class_fails(values: np.ndarray, tier: Tiers) -> tuple[bool, list[str]]:
    statuses = class_verdicts(list(values), tier).statuses
    return "fail" in statuses, statuses


def exact_false_fail(classes: int, images: int) -> float:
    """The same rate computed exactly: Holm rejects anything iff the smallest p-value is at most
    LEVEL / classes, and under the boundary null each class's sign-test p-value is at most that
    with probability binom.cdf(k*, images, 1/2) for the largest such k* (classes independent)."""
    cdf = stats.binom.cdf(np.arange(images + 1), images, 0.5)
    reachable = cdf[cdf <= LEVEL / classes]
    per_class = float(reachable.max()) if reachable.size else 0.0
    return 1 - (1 - per_class) ** classes


def simulate(classes: int, images: int, replicates: int, seed: int) -> dict[str, float]:
    rng = np.random.default_rng([seed, classes, images])
    calibrated = Tiers(metric="leak", statistic="median", fail=FAIL, scope="per_class")
    point = calibrated.model_copy(update={"confidence": None})
    false_fail = {"calibrated": 0, "point": 0}
    found = 0
    for _ in range(replicates):
        null = draw(rng, classes, images, FAIL)
        false_fail["calibrated"] += any_class_fails(null, calibrated)[0]
        false_fail["point"] += any_class_fails(null, point)[0]
        planted = draw(rng, classes, images, 0.0)
        planted[0] += FAIL + SHIFT
        found += class_verdicts(list(planted), calibrated).statuses[0] == "fail"
    return {"false_fail": false_fail["calibrated"] / replicates,
            "false_fail_point": false_fail["point"] / replicates, "power": found / replicates}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicates", type=int, default=400)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    start = time.perf_counter()
    rows = []
    for classes in CLASSES:
        for images in IMAGES:
            result = simulate(classes, images, args.replicates, args.seed)
            rows.append((classes, images, result))
    margin = 2 * np.sqrt(LEVEL * (1 - LEVEL) / args.replicates)
    print(f"{args.replicates} runs per cell; false-fail rate must be <= {LEVEL:.0%} "
          f"(binomial noise +- {margin:.1%}); t3 values, scale {SCALE:g} deg, fail level "
          f"{FAIL:g} deg, planted class median {FAIL + SHIFT:g} deg\n")
    print("| classes | images per class | false-fail rate, exact | false-fail rate, simulated | "
          "old rule (point estimate), simulated | power: planted leak found |")
    print("|---:|---:|---:|---:|---:|---:|")
    for classes, images, result in rows:
        print(f"| {classes} | {images} | {exact_false_fail(classes, images):.2%} | "
              f"{result['false_fail']:.1%} | {result['false_fail_point']:.1%} | "
              f"{result['power']:.1%} |")
    exact = max(exact_false_fail(classes, images) for classes, images, _ in rows)
    simulated = max(result["false_fail"] for _, _, result in rows)
    print(f"\nworst cell: exact {exact:.2%} (<= {LEVEL:.0%}: {'yes' if exact <= LEVEL else 'NO'}),"
          f" simulated {simulated:.1%} (within noise: "
          f"{'yes' if simulated <= LEVEL + margin else 'NO'}); {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
