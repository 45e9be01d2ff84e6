"""False-fail rate and power of the default per-class verdict, by simulation.

The per-class verdict (singaudit.checks.thresholds.class_verdicts, called here exactly as the
checks call it) fails a class only when a one-sided sign test says its median is beyond the fail
level at 95% confidence, Holm-corrected over the classes judged. This script measures how often
that verdict fails a model whose null space carries no class information, for 16, 100 and 1,000
classes and 10, 30 and 100 images per class, and how often it finds one planted leaking class.

The simulation is at the level of the statistic the verdict reads: per-image metric values
(in the metric's unit: the default verdict's ``carried_share``), drawn from one heavy-tailed
distribution for every class (Student t with 3 degrees of freedom, scale SCALE: "no class
information" means every class has the same distribution). SCALE and SHIFT are fixed fractions
of the fail level, so the table does not depend on the metric's unit (the same outcomes as with
the former 4 deg level, 3 deg scale and 3 deg shift). Under the null that distribution's median
is exactly the fail level, the least favourable case for false alarms (a model whose typical
image sits right at the bound); a real clean model sits below it and fails even less often. The verdict's test is a sign test, which
depends only on how many values lie at or under the level, so the shape of the distribution does
not change the false-fail rate. With a planted leak, one class has its median FAIL + SHIFT and
the others have median 0 (a clean model with one leaking class); the power is the
share of runs in which that class fails. Beside the simulated false-fail rate, the exact rate
of the same verdict under the same null is computed in closed form. The old rule (the point
estimate of the median against the level, ``confidence: null``) is shown for comparison.

A second part (``--part real``) measures the default verdict (class_semantics' ``carried_share``
metric and tiers) on the calibration world's real features: a pool of 200 audit scenes per class
and the demo's 1,200 translator-fit scenes, the null-only translator fitted once per world; each
replicate draws 30 images per class from the pool and judges every class. Rows: the clean worlds
(false fail: any class fails), the leaky worlds (every class fails), and one-class leaks built from
the shipped weights (calibration/variants.py: a marker from the model's own top-1 prediction, on
an appended dimension or a null direction, or leaky's hidden code on one class only), where the
verdict must flag the marked class and only it.

Run: ``python benchmarks/verdict_calibration.py [--replicates 400] [--seed 0] [--part sim,real]``
(``--part pool``: each world's per-class medians of the readings over the whole pool)
(the simulation takes about 2-4 minutes on 2 cores, the real features about one more). Prints
markdown tables; docs/method.md shows one run's output.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from scipy import stats

from singaudit.checks.thresholds import class_verdicts
from singaudit.results import Tiers


def _default_tier() -> Tiers:
    from singaudit.checks.class_semantics import ClassSemanticsCheck

    return ClassSemanticsCheck.default_tiers[0]


FAIL = float(_default_tier().fail or 0.0)  # class_semantics' default fail level
SCALE = 0.75 * FAIL  # spread of the per-image values
SHIFT = 0.75 * FAIL  # a planted leak: its class median is FAIL + SHIFT
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


REAL_SPEC = """
version: 1
kind: singaudit/audit
name: verdict_calibration
models: [{models}]
joint_space: {{id: "calibration:joint"}}
data: {{id: "calibration:audit", options: {{scenes: 1800}}, classes: all, images_per_class: 200}}
translator:
  arch: linear
  fit: {{id: "calibration:validation", options: {{scenes: 1200}}}}
  heldout: 0.2
checks: {{class_semantics: {{}}}}
"""


def real_worlds():
    """(name, what the verdict must do, features, weight, bias, fit features, fit embeddings)
    for every calibration world of the table, the audit labels, class prompts and the audit
    images' joint embeddings, from the runner's artefacts."""
    import torch

    from singaudit.calibration import variants
    from singaudit.runner.artefacts import ArtefactBuilder
    from singaudit.runner.session import AuditSession
    from singaudit.spec import parse_spec_text

    names = ("clean", "clean_uncentred", "leaky", "mixed", "leaky_uncentred")
    spec = parse_spec_text(REAL_SPEC.format(models=", ".join(
        f'{{name: {n}, id: "calibration:{n}"}}' for n in names)))
    run = ArtefactBuilder(spec, AuditSession(progress=False))
    selection = run.audit_images
    texts = run.text_embeddings([spec.prompts.template.replace("{class}", c)
                                 for c in selection.class_names])
    labels = np.asarray(selection.labels)
    embeddings = run.image_embeddings(selection).double().numpy()
    base = {}
    for name in names:
        weight, bias = run.classifier(name).head()
        fit = run.translator_fit_data(name)
        base[name] = (run.classifier_features(name, selection).double(), weight.double(),
                      bias.double(), fit[0].double(), fit[1].double())
    worlds = [(name, "pass" if name.startswith("clean") else "fail all", *base[name])
              for name in names]
    features, weight, bias, fit_x, fit_y = base["clean"]
    size = float(features.norm(dim=1).median())
    for target, class_name in enumerate(selection.class_names):
        for kind in ("dimension", "direction"):
            variant = variants.one_class_marker(weight, bias, target, size, kind=kind)
            worlds.append((f"clean + marker ({kind}) on {class_name}", f"only {target}",
                           variant.apply(features), variant.weight, variant.bias,
                           variant.apply(fit_x), fit_y))
    leaky_x, leaky_w, leaky_b, leaky_fit, _ = base["leaky"]
    for target, class_name in enumerate(selection.class_names):
        def hidden(f_clean, f_leaky, target=target):
            from singaudit.maths.geometry import head_geometry

            null = head_geometry(leaky_w).null_basis
            code = f_leaky @ null
            keep = ((f_leaky @ leaky_w.T + leaky_b).argmax(1) == target).unsqueeze(1)
            return torch.cat([f_clean, torch.where(keep, code, (leaky_fit @ null).mean(0))], 1)

        extended = torch.cat([weight, torch.zeros(len(weight), leaky_w.shape[1] - 6,
                                                  dtype=weight.dtype)], 1)
        worlds.append((f"clean + leaky's hidden code on {class_name} only", f"only {target}",
                       hidden(features, leaky_x), extended, bias, hidden(fit_x, leaky_fit), fit_y))
    return worlds, labels, texts.double(), embeddings


def real_rates(replicates: int, seed: int, images: int = 30) -> list[tuple]:
    """Per world: the share of replicates with each outcome of the default verdict."""
    from singaudit.checks.class_semantics import ClassSemanticsCheck
    from singaudit.maths import null_semantics as ns
    from singaudit.maths.geometry import head_geometry

    tier = ClassSemanticsCheck.default_tiers[0]
    worlds, labels, texts, embeddings = real_worlds()
    classes = int(labels.max()) + 1
    rng = np.random.default_rng(seed)
    rows = []
    for name, must, features, weight, _bias, fit_x, fit_y in worlds:
        null = head_geometry(weight).null_basis.numpy()
        mean = fit_x.mean(0).numpy()
        translator = ns.fit_null_translator_split(ns.null_content(fit_x, null, mean), fit_y)
        translated = translator(ns.null_content(features, null, mean))
        counts = {"target": 0, "only": 0, "others": 0, "any": 0, "all": 0}
        for _ in range(replicates):
            rows_drawn = np.concatenate([rng.choice(np.flatnonzero(labels == k), images,
                                                    replace=False) for k in range(classes)])
            drawn = labels[rows_drawn]
            carried = ns.class_evidence(translated[rows_drawn], texts, drawn)
            contrast = ns.joint_contrast(embeddings[rows_drawn], texts, drawn)
            values = ns.share_of_joint_contrast(carried, contrast, drawn)[0]
            statuses = class_verdicts([values[drawn == k] for k in range(classes)],
                                      tier).statuses
            failed = [k for k, s in enumerate(statuses) if s == "fail"]
            counts["any"] += bool(failed)
            counts["all"] += len(failed) == classes
            if must.startswith("only"):
                target = int(must.split()[1])
                counts["target"] += target in failed
                counts["others"] += any(k != target for k in failed)
                counts["only"] += failed == [target]
        rows.append((name, must, {k: v / replicates for k, v in counts.items()}))
    return rows


def print_pool() -> None:
    """Per world, per class: the pool medians (200 images per class) of carried (degrees), of
    the centred contribution (angles of T_n(z) - T_n(mean z) to the prompts minus their mean, a
    candidate measured against it) and of carried_share (the verdict)."""
    from singaudit.maths import null_semantics as ns
    from singaudit.maths.geometry import head_geometry

    worlds, labels, texts, embeddings = real_worlds()
    texts = texts.numpy()
    classes = int(labels.max()) + 1
    contrast = ns.joint_contrast(embeddings, texts, labels)
    print("\nPool medians per class (circle ... heart), 200 images per class; joint contrast "
          + " ".join(f"{np.median(contrast[labels == k]):.2f}" for k in range(classes)) + "\n")
    print("| world | carried (deg) | centred contribution (deg) | carried share |")
    print("|---|---|---|---|")
    for name, _must, features, weight, _bias, fit_x, fit_y in worlds:
        null = head_geometry(weight).null_basis.numpy()
        mean = fit_x.mean(0).numpy()
        z_fit = ns.null_content(fit_x, null, mean)
        translator = ns.fit_null_translator_split(z_fit, fit_y)
        translated = translator(ns.null_content(features, null, mean))
        carried = ns.class_evidence(translated, texts, labels)
        centred = ns.class_contrast(ns.angles_to(
            translated - translator(z_fit.mean(0, keepdims=True)), texts - texts.mean(0)), labels)
        share = ns.share_of_joint_contrast(carried, contrast, labels)[0]
        cells = [" ".join(f"{np.median(v[labels == k]):+.2f}" for k in range(classes))
                 for v in (carried, centred, share)]
        print(f"| {name} | " + " | ".join(cells) + " |")


def print_real(replicates: int, seed: int) -> None:
    from singaudit.checks.class_semantics import ClassSemanticsCheck

    tier = ClassSemanticsCheck.default_tiers[0]
    start = time.perf_counter()
    rows = real_rates(replicates, seed)
    print(f"\nDefault verdict on real calibration features: {tier.metric} per-class median, warn "
          f"> {tier.warn:g}, fail > {tier.fail:g} ({tier.confidence:.0%} one-sided, Holm); "
          f"30 images per class drawn from 200, {replicates} replicates\n")
    print("| world | must | any class fails | every class fails | marked class fails | "
          "another class fails | flagged for the marked class only |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for name, must, rate in rows:
        one = must.startswith("only")
        cells = [f"{rate['any']:.1%}", f"{rate['all']:.1%}",
                 *(f"{rate[k]:.1%}" if one else "-" for k in ("target", "others", "only"))]
        print(f"| {name} | {must} | " + " | ".join(cells) + " |")
    print(f"({time.perf_counter() - start:.0f} s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicates", type=int, default=400)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--part", default="sim,real", help="sim (simulated values), real "
                        "(calibration features), pool (per-class pool medians of the readings), "
                        "comma-separated")
    args = parser.parse_args()
    if "pool" in args.part:
        print_pool()
    if "real" in args.part:
        print_real(args.replicates, args.seed)
    if "sim" not in args.part:
        return
    start = time.perf_counter()
    rows = []
    for classes in CLASSES:
        for images in IMAGES:
            result = simulate(classes, images, args.replicates, args.seed)
            rows.append((classes, images, result))
    margin = 2 * np.sqrt(LEVEL * (1 - LEVEL) / args.replicates)
    print(f"{args.replicates} runs per cell; false-fail rate must be <= {LEVEL:.0%} "
          f"(binomial noise +- {margin:.1%}); t3 values, scale {SCALE:g}, fail level "
          f"{FAIL:g}, planted class median {FAIL + SHIFT:g} (the default metric's unit)\n")
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
