"""Measure candidate estimands for the default class verdict under logit-preserving transforms
(issue 24).

Candidates (per image, degrees; per-class medians judged):
  specific   today's specific leak: one ridge T on the full feature, f_eq = P_p f + P_n mu
  carried    null-only ridge T_n(z), z = V_n^T (f - mu), penalty relative to trace(Z^T Z);
             each image's angles to the prompts centred on their mean over prompts, then
             contrasted over images (maths.null_semantics.class_evidence)
  share      the default verdict: carried over the class's median of the same reading on the
             audit images' own joint embeddings (maths.null_semantics.share_of_joint_contrast)
  centred    carried's contrast for the null contribution alone: angles of T_n(z) - T_n(mean z)
             to the prompts minus their mean (no centring over prompts)
  carried_raw  the same without centring over prompts (angle contrast over images only)
  xfit       carried, but T_n cross-fitted on the audit images alone (no fit data)
  unique     carried on z minus its OLS prediction from the row coordinates
  whitened   specific leak of a full ridge on per-block whitened coordinates
  blockstd   specific leak of a full ridge on per-block trace-standardised coordinates

Transformations (each keeps every logit and the null content's information): row block x s,
null block x s, an invertible row-space map A (cond 10, head W A^-1), a null rotation, global
scale (head / c), a constant null offset (4x the median norm), 32 appended zero dims, 128
appended noise dims, a class relabelling. One-class leaks: a marker from the model's own top-1
prediction (an appended dim; a random null direction; leaky's hidden code on one class only).

    PYTHONPATH=. HF_HUB_OFFLINE=1 python scripts/verdict_estimands.py [--models clean,leaky]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from singaudit.maths import null_semantics as ns
from singaudit.maths.geometry import head_geometry
from singaudit.maths.scores import prompt_leaks, specific_leak
from singaudit.maths.translators import RidgeAccumulator, fit_ridge

ROOT = Path(__file__).resolve().parents[1]
CANDIDATES = ("specific", "carried", "share", "centred", "carried_raw", "xfit", "unique",
              "whitened", "blockstd")
# Levels of candidates whose unit is not the degree of carried (the share's default tiers).
UNIT_TIERS = {"share": (0.4, 0.5)}


@dataclass
class World:
    name: str
    weight: np.ndarray  # (c, m)
    bias: np.ndarray  # (c,)
    audit: np.ndarray  # (n, m)
    labels: np.ndarray
    x_train: np.ndarray
    y_train: np.ndarray
    x_held: np.ndarray
    y_held: np.ndarray
    audit_y: np.ndarray  # joint embeddings of the audit images (for the cross-fitted reading)
    texts: np.ndarray
    classes: list[str]

    def map(self, fn) -> World:
        return replace(self, audit=fn(self.audit), x_train=fn(self.x_train), x_held=fn(self.x_held))


def load_worlds(models: list[str], spec_path: Path = ROOT / "audits" / "demo.yaml") -> list[World]:
    from singaudit.runner.artefacts import ArtefactBuilder
    from singaudit.runner.session import AuditSession
    from singaudit.spec import load_spec

    spec = load_spec(spec_path)
    spec.models = [spec.models[0].model_copy(update={
        "name": n, "id": f"calibration:{n}", "expect": "none"}) for n in models]
    run = ArtefactBuilder(spec, AuditSession(progress=False))
    selection = run.audit_images
    classes = list(selection.class_names)
    texts = run.text_embeddings([spec.prompts.template.replace("{class}", c) for c in classes])
    audit_y = run.image_embeddings(selection).double().numpy()
    worlds = []
    for model in spec.models:
        weight, bias = run.classifier(model.name).head()
        bias = np.zeros(len(weight)) if bias is None else bias.double().numpy()
        fit = [t.double().numpy() for t in run.translator_fit_data(model.name)]
        worlds.append(World(model.name, weight.double().numpy(), bias,
                            run.classifier_features(model.name, selection).double().numpy(),
                            np.asarray(selection.labels), *fit, audit_y,
                            texts.double().numpy(), classes))
    return worlds


def bases(weight: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    geometry = head_geometry(torch.from_numpy(weight))
    return geometry.principal_basis.numpy(), geometry.null_basis.numpy()


# ------------------------------------------------------------------------------ transformations

def row_scale(w: World, s: float) -> World:
    vp, vn = bases(w.weight)
    out = w.map(lambda f: s * (f @ vp) @ vp.T + (f @ vn) @ vn.T)
    return replace(out, weight=w.weight / s)


def null_scale(w: World, s: float) -> World:
    vp, vn = bases(w.weight)
    return w.map(lambda f: (f @ vp) @ vp.T + s * (f @ vn) @ vn.T)


def random_orthogonal(d: int, rng: np.random.Generator) -> np.ndarray:
    q, r = np.linalg.qr(rng.normal(size=(d, d)))
    return q * np.sign(np.diag(r))


def row_map(w: World, condition: float = 10.0, seed: int = 0) -> World:
    rng = np.random.default_rng(seed)
    vp, vn = bases(w.weight)
    r = vp.shape[1]
    a = random_orthogonal(r, rng) @ np.diag(np.geomspace(1, condition, r)) @ random_orthogonal(r, rng)
    full = vp @ a @ vp.T + vn @ vn.T
    out = w.map(lambda f: f @ full.T)
    return replace(out, weight=w.weight @ vp @ np.linalg.inv(a) @ vp.T)


def null_rotation(w: World, seed: int = 0) -> World:
    vp, vn = bases(w.weight)
    rot = vn @ random_orthogonal(vn.shape[1], np.random.default_rng(seed)) @ vn.T
    return w.map(lambda f: (f @ vp) @ vp.T + f @ rot.T)


def global_scale(w: World, c: float) -> World:
    return replace(w.map(lambda f: c * f), weight=w.weight / c)


def null_offset(w: World, size: float = 4.0, seed: int = 0) -> World:
    _, vn = bases(w.weight)
    u = vn @ np.random.default_rng(seed).normal(size=vn.shape[1])
    shift = size * np.median(np.linalg.norm(w.audit, axis=1)) * u / np.linalg.norm(u)
    return w.map(lambda f: f + shift)


def append_dims(w: World, count: int, noise: bool, seed: int = 0) -> World:
    rng = np.random.default_rng(seed)
    sigma = np.median(np.linalg.norm(w.audit - w.audit.mean(0), axis=1)) / np.sqrt(w.audit.shape[1])

    def extend(f):
        extra = sigma * rng.normal(size=(len(f), count)) if noise else np.zeros((len(f), count))
        return np.hstack([f, extra])

    return replace(w.map(extend), weight=np.hstack([w.weight, np.zeros((len(w.weight), count))]))


def relabel(w: World, permutation=(3, 0, 5, 1, 2, 4)) -> World:
    order = np.asarray(permutation)
    inverse = np.argsort(order)
    return replace(w, weight=w.weight[inverse], bias=w.bias[inverse], labels=order[w.labels],
                   texts=w.texts[inverse], classes=[w.classes[i] for i in inverse])


TRANSFORMS = {
    **{f"row x{s:g}": (lambda w, s=s: row_scale(w, s)) for s in (0.01, 0.1, 10, 100)},
    **{f"null x{s:g}": (lambda w, s=s: null_scale(w, s)) for s in (0.01, 0.1, 10, 100)},
    "row map A (cond 10)": row_map,
    "null rotation": null_rotation,
    "global x0.01": lambda w: global_scale(w, 0.01),
    "global x100": lambda w: global_scale(w, 100.0),
    "null offset 4|f|": null_offset,
    "+32 zero dims": lambda w: append_dims(w, 32, noise=False),
    "+128 noise dims": lambda w: append_dims(w, 128, noise=True),
    "relabelled": relabel,
}


def with_ratio(w: World, ratio: float) -> World:
    """Row block rescaled so its per-dimension variance is ``ratio`` x the null block's."""
    return row_scale(w, np.sqrt(ratio / variance_ratio(w)))


def variance_ratio(w: World) -> float:
    vp, vn = bases(w.weight)
    x = np.vstack([w.x_train, w.x_held])
    x = x - x.mean(0)
    return float(((x @ vp) ** 2).sum() / vp.shape[1] / (((x @ vn) ** 2).sum() / vn.shape[1]))


# ------------------------------------------------------------------------- one-class leak worlds

def top1(w: World, f: np.ndarray) -> np.ndarray:
    return (f @ w.weight.T + w.bias).argmax(1)


def marker_dim(w: World, target: int, size: float) -> World:
    norm = np.median(np.linalg.norm(w.audit, axis=1))
    out = w.map(lambda f: np.hstack([f, size * norm * (top1(w, f) == target)[:, None]]))
    return replace(out, weight=np.hstack([w.weight, np.zeros((len(w.weight), 1))]))


def marker_direction(w: World, target: int, size: float, seed: int = 3) -> World:
    _, vn = bases(w.weight)
    u = vn @ np.random.default_rng(seed).normal(size=vn.shape[1])
    u = size * np.median(np.linalg.norm(w.audit, axis=1)) * u / np.linalg.norm(u)
    return w.map(lambda f: f + (top1(w, f) == target)[:, None] * u[None])


def hidden_on_one_class(clean: World, leaky: World, target: int) -> World:
    """clean's features with leaky's null content appended (head ignores it) on images leaky's
    head predicts as ``target``, the fit-set mean of that content elsewhere."""
    _, vn = bases(leaky.weight)
    mean = np.vstack([leaky.x_train, leaky.x_held]).mean(0) @ vn

    def rows(f_clean, f_leaky):
        z = f_leaky @ vn
        keep = (top1(leaky, f_leaky) == target)[:, None]
        return np.hstack([f_clean, np.where(keep, z, mean)])

    out = replace(clean, audit=rows(clean.audit, leaky.audit),
                  x_train=rows(clean.x_train, leaky.x_train),
                  x_held=rows(clean.x_held, leaky.x_held))
    return replace(out, weight=np.hstack([clean.weight, np.zeros((len(clean.weight), vn.shape[1]))]))


# ---------------------------------------------------------------------------------- candidates

def full_ridge(x_train, y_train, x_held, y_held):
    train = RidgeAccumulator(x_train.shape[1], y_train.shape[1]).update(x_train, y_train)
    held = RidgeAccumulator(x_train.shape[1], y_train.shape[1]).update(x_held, y_held)
    _, alpha, _ = fit_ridge(train, held)
    weight, bias = train.merge(held).coefficients(alpha)
    return lambda x: x @ weight.T + bias


def specific_of(predict, audit, audit_eq, texts, labels) -> np.ndarray:
    leaks = prompt_leaks(torch.from_numpy(predict(audit)), torch.from_numpy(predict(audit_eq)),
                         torch.from_numpy(texts))
    return np.asarray(specific_leak(leaks, torch.from_numpy(labels)))


def block_transform(w: World, whiten: bool):
    """Coordinates [p | z] with each block whitened (or divided by its RMS) on the fit rows."""
    vp, vn = bases(w.weight)
    fit = np.vstack([w.x_train, w.x_held])
    mu = fit.mean(0)
    maps = []
    for basis in (vp, vn):
        c = (fit - mu) @ basis
        if whiten:
            values, vectors = np.linalg.eigh(c.T @ c / len(c))
            keep = values > values.max() * 1e-10
            maps.append(basis @ vectors[:, keep] / np.sqrt(values[keep]))
        else:
            maps.append(basis / np.sqrt(max((c ** 2).sum() / len(c), 1e-300)))
    return lambda f: np.hstack([(f - mu) @ maps[0], (f - mu) @ maps[1]]), maps[0].shape[1]


def candidates(w: World, which=CANDIDATES) -> dict[str, np.ndarray]:
    vp, vn = bases(w.weight)
    fit = np.vstack([w.x_train, w.x_held])
    mu = fit.mean(0)
    out = {}
    if "specific" in which:
        predict = full_ridge(w.x_train, w.y_train, w.x_held, w.y_held)
        eq = (w.audit @ vp) @ vp.T + (mu @ vn) @ vn.T
        out["specific"] = specific_of(predict, w.audit, eq, w.texts, w.labels)
    z = {k: ns.null_content(x, vn, mu) for k, x in
         (("train", w.x_train), ("held", w.x_held), ("audit", w.audit))}
    if {"carried", "carried_raw", "share", "centred"} & set(which):
        tn = ns.fit_null_translator(z["train"], w.y_train, z["held"], w.y_held)
        out["carried"] = ns.class_evidence(tn(z["audit"]), w.texts, w.labels)
        out["carried_raw"] = ns.class_contrast(ns.angles_to(tn(z["audit"]), w.texts), w.labels)
        contrast = ns.joint_contrast(w.audit_y, w.texts, w.labels)
        out["share"] = ns.share_of_joint_contrast(out["carried"], contrast, w.labels)[0]
        origin = tn(np.vstack([z["train"], z["held"]]).mean(0, keepdims=True))
        out["centred"] = ns.class_contrast(
            ns.angles_to(tn(z["audit"]) - origin, w.texts - w.texts.mean(0)), w.labels)
    if "xfit" in which:
        za = ns.null_content(w.audit, vn, w.audit.mean(0))
        out["xfit"] = ns.class_evidence(ns.cross_fitted_translations(za, w.audit_y), w.texts,
                                        w.labels)
    if "unique" in which:
        p = {k: x @ vp for k, x in (("train", w.x_train), ("held", w.x_held), ("audit", w.audit))}
        p_fit, z_fit = np.vstack([p["train"], p["held"]]), np.vstack([z["train"], z["held"]])
        u = {k: ns.unique_null_content(z[k], p[k], z_fit, p_fit) for k in z}
        tn = ns.fit_null_translator(u["train"], w.y_train, u["held"], w.y_held)
        out["unique"] = ns.class_evidence(tn(u["audit"]), w.texts, w.labels)
    for name, whiten in (("whitened", True), ("blockstd", False)):
        if name in which:
            coords, rank = block_transform(w, whiten)
            predict = full_ridge(coords(w.x_train), w.y_train, coords(w.x_held), w.y_held)
            a = coords(w.audit)
            eq = a.copy()
            eq[:, rank:] = 0.0  # the null block at its fit mean
            out[name] = specific_of(predict, a, eq, w.texts, w.labels)
    return out


def per_class(values: np.ndarray, labels: np.ndarray, classes: int) -> np.ndarray:
    return np.array([np.nanmedian(values[labels == k]) for k in range(classes)])


def verdict(values: np.ndarray, labels: np.ndarray, classes: int, warn: float, fail: float
            ) -> tuple[str, list[str]]:
    from singaudit.checks.thresholds import class_verdicts
    from singaudit.results import Tiers

    tier = Tiers(metric="m", statistic="median", warn=warn, fail=fail, scope="per_class")
    statuses = class_verdicts([values[labels == k] for k in range(classes)], tier).statuses
    worst = "fail" if "fail" in statuses else "warn" if "warn" in statuses else "pass"
    return worst, statuses


def cells(w: World, tiers, which=CANDIDATES) -> dict[str, tuple[float, float, str, list[str]]]:
    measured = candidates(w, which)
    c = len(w.classes)
    out = {}
    for name, v in measured.items():
        medians = per_class(v, w.labels, c)
        status, statuses = verdict(v, w.labels, c, *tiers.get(name, (2.0, 3.0)))
        out[name] = (float(medians.max()), float(np.nanmedian(v)), status, statuses, medians)
    return out


def fmt(cell) -> str:
    worst, overall, status, *_ = cell
    return f"{worst:+.2f}/{overall:+.2f} {status}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="clean,leaky,mixed,natural,clean_uncentred,"
                        "leaky_uncentred")
    parser.add_argument("--tiers", default="2,3", help="warn,fail for every candidate")
    parser.add_argument("--parts", default="transforms,ratios,oneclass")
    args = parser.parse_args(argv)
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    warn, fail = (float(x) for x in args.tiers.split(","))
    tiers = {name: UNIT_TIERS.get(name, (warn, fail)) for name in CANDIDATES}
    started = time.perf_counter()
    names = [m for m in args.models.split(",") if m]
    worlds = {w.name: w for w in load_worlds(sorted(set(names) | {"clean", "leaky"}))}
    print(f"loaded in {time.perf_counter() - started:.0f} s; cells: worst class median / overall"
          f" median (degrees), verdict at warn {warn:g} / fail {fail:g} (sign test + Holm)",
          file=sys.stderr)
    header = "| world | transform | " + " | ".join(CANDIDATES) + " |"
    rule = "|---|---|" + "---|" * len(CANDIDATES)
    parts = args.parts.split(",")
    if "transforms" in parts:
        print("\n## Transformations (logits and null information unchanged)\n")
        print(header + "\n" + rule)
        for name in names:
            w = worlds[name]
            base = cells(w, tiers)
            print(f"| {name} | as shipped (ratio {variance_ratio(w):.3g}) | "
                  + " | ".join(fmt(base[c]) for c in CANDIDATES) + " |")
            deviation = {c: 0.0 for c in CANDIDATES}
            flips = {c: [] for c in CANDIDATES}
            for label, transform in TRANSFORMS.items():
                moved = cells(transform(w), tiers)
                relabelled = label == "relabelled"
                for c in CANDIDATES:
                    medians = moved[c][4]
                    if relabelled:  # class k of the base is class order[k] now
                        medians = medians[np.array((3, 0, 5, 1, 2, 4))]
                    deviation[c] = max(deviation[c], float(np.abs(medians - base[c][4]).max()))
                    if moved[c][2] != base[c][2]:
                        flips[c].append(f"{label}:{moved[c][2]}")
                print(f"| {name} | {label} | " + " | ".join(fmt(moved[c]) for c in CANDIDATES)
                      + " |", flush=True)
            print(f"| {name} | max per-class change | "
                  + " | ".join(f"{deviation[c]:.2f}" for c in CANDIDATES) + " |")
            print(f"| {name} | status changes | "
                  + " | ".join(", ".join(flips[c]) or "none" for c in CANDIDATES) + " |",
                  flush=True)
    if "ratios" in parts:
        print("\n## Logit-block variance ratio swept (row block rescaled)\n")
        print(header + "\n" + rule)
        for name in names:
            for ratio in (0.01, 0.1, 1.0, 10.0):
                moved = cells(with_ratio(worlds[name], ratio), tiers)
                print(f"| {name} | ratio {ratio:g} | "
                      + " | ".join(fmt(moved[c]) for c in CANDIDATES) + " |", flush=True)
    if "oneclass" in parts:
        print("\n## One-class leaks (target circle = class 0, marker from the top-1 prediction)"
              "; per-class medians of each candidate\n")
        clean, leaky = worlds["clean"], worlds["leaky"]
        made = {}
        for ratio in (None, 10.0):
            base = clean if ratio is None else with_ratio(clean, ratio)
            tag = "" if ratio is None else f" @ratio {ratio:g}"
            for size in (0.25, 1.0, 4.0):
                made[f"marker dim {size}x{tag}"] = marker_dim(base, 0, size)
            made[f"marker direction 1x{tag}"] = marker_direction(base, 0, 1.0)
            lk = leaky if ratio is None else with_ratio(leaky, ratio)
            made[f"leaky hidden code on circle only{tag}"] = hidden_on_one_class(base, lk, 0)
            made[f"leaky hidden code on square only{tag}"] = hidden_on_one_class(base, lk, 1)
        for target in range(1, len(clean.classes)):
            made[f"marker dim 1x on {clean.classes[target]}"] = marker_dim(clean, target, 1.0)
        print("| construction | " + " | ".join(CANDIDATES) + " |\n|---|" + "---|" * len(CANDIDATES))
        for label, w in made.items():
            got = cells(w, tiers)
            print(f"| {label} | " + " | ".join(
                f"{got[c][2]} [{' '.join(f'{m:+.2f}' for m in got[c][4])}] "
                f"{''.join(s[0] for s in got[c][3])}" for c in CANDIDATES) + " |", flush=True)
    print(f"({time.perf_counter() - started:.0f} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
