"""Measure the class-leak verdict candidates against each other (issue 13).

For each calibration model (and for drift constructions built from it: one constant vector added
to every feature inside the head's null space, identical logits, no information added) this
prints per-class medians of

  leak       -AS toward the own class's prompt (the previous default; the paper reads |AS|)
  prompts    (a) contrast over prompts: leak toward the own prompt minus the mean toward the others
  specific   (b) contrast over images: leak toward prompt k on class-k images minus the median
             leak toward prompt k on the other images
  evidence   (c) zero-shot evidence lost: log p(true | T(f)) - log p(true | T(f_eq)), nats,
             softmax over the class prompts at CLIP's logit scale 100

under both null references (zero: f_eq = P_p f; mean: f_eq = P_p f + P_n mu, mu the mean feature
of the translator's training images), and the cross-validated null-space probe accuracy per class.
The translator is the audit's (linear ridge on the demo's fit split), refitted on the shifted
features for each construction, exactly as an audit of the shifted model would.

    PYTHONPATH=. HF_HUB_OFFLINE=1 python scripts/verdict_candidates.py [--models clean,leaky]
        [--spec audits/demo.yaml] [--detail]
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from singaudit.maths.equivalence import null_reference, remove_null
from singaudit.maths.geometry import head_geometry
from singaudit.maths.probe import cross_validated_probe, null_coordinates
from singaudit.maths.scores import evidence_change, prompt_contrast, prompt_leaks, specific_leak
from singaudit.maths.translators import RidgeAccumulator, fit_ridge
from singaudit.runner.artefacts import ArtefactBuilder
from singaudit.runner.session import AuditSession
from singaudit.spec import load_spec

ROOT = Path(__file__).resolve().parents[1]
METRICS = ("leak", "prompts", "specific", "evidence")
SIZES = (0.5, 1.0, 2.0, 4.0)  # constant offsets, in units of the median feature norm


@dataclass
class World:
    """One model's artefacts: audit features and labels, translator fit split, class prompts."""

    name: str
    weight: torch.Tensor
    audit: torch.Tensor
    labels: np.ndarray
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_held: torch.Tensor
    y_held: torch.Tensor
    texts: torch.Tensor
    classes: list[str]


def load_worlds(spec_path: Path, models: list[str] | None) -> list[World]:
    spec = load_spec(spec_path)
    if models:  # a bare name is a calibration model; anything else a source:id
        spec.models = [spec.models[0].model_copy(update={
            "name": n.split(":")[-1], "id": n if ":" in n else f"calibration:{n}",
            "expect": "none"}) for n in models]
    run = ArtefactBuilder(spec, AuditSession(progress=False))
    selection = run.audit_images
    classes = list(selection.class_names)
    texts = run.text_embeddings([spec.prompts.template.replace("{class}", c) for c in classes])
    worlds = []
    for model in spec.models:
        weight, _ = run.classifier(model.name).head()
        x_train, y_train, x_held, y_held = run.translator_fit_data(model.name)
        worlds.append(World(model.name, weight.double(),
                            run.classifier_features(model.name, selection).double(),
                            np.asarray(selection.labels), x_train.double(), y_train.double(),
                            x_held.double(), y_held.double(), texts.double(), classes))
    return worlds


def translator(world: World, shift: torch.Tensor):
    train = RidgeAccumulator(world.audit.shape[1], world.y_train.shape[1])
    held = RidgeAccumulator(world.audit.shape[1], world.y_train.shape[1])
    train.update(world.x_train + shift, world.y_train)
    held.update(world.x_held + shift, world.y_held)
    module, _, _ = fit_ridge(train, held, dtype=torch.float64)
    return module.eval()


def measure(world: World, shift: torch.Tensor) -> dict[str, dict[str, np.ndarray]]:
    """Per-class medians of every candidate under both references, for features + shift."""
    geometry = head_geometry(world.weight.float())
    features = world.audit + shift
    module = translator(world, shift)
    labels = torch.from_numpy(world.labels)
    out = {}
    with torch.no_grad():
        t_orig = module(features)
        for removal in ("zero", "mean"):
            reference = null_reference(removal, geometry, world.x_train + shift)
            t_eq = module(remove_null(features, geometry, reference))
            leaks = prompt_leaks(t_orig, t_eq, world.texts)
            own = leaks.gather(1, labels.unsqueeze(1)).squeeze(1)
            values = {"leak": own, "prompts": prompt_contrast(leaks, labels),
                      "specific": specific_leak(leaks, labels),
                      "evidence": evidence_change(t_orig, t_eq, world.texts, labels)}
            out[removal] = {name: np.array([float(np.median(v.numpy()[world.labels == k]))
                                            for k in range(len(world.classes))])
                            for name, v in values.items()}
    return out


def aimed_direction(world: World, geometry, target: int) -> torch.Tensor:
    """The unit null-space direction whose translation points most toward prompt ``target``:
    removing it drifts T(f_eq) away from that class for every image (the hard case)."""
    module = translator(world, torch.zeros(world.audit.shape[1], dtype=torch.float64))
    weight = next(p for p in module.parameters() if p.ndim == 2).detach().double()
    text = world.texts[target] / world.texts[target].norm()
    direction = geometry.project_null((weight.T @ text).unsqueeze(0))[0]
    return direction / direction.norm()


def probe_accuracy(world: World, geometry) -> tuple[float, np.ndarray]:
    result = cross_validated_probe(null_coordinates(world.audit, geometry), world.labels)
    return result.accuracy, np.array([result.class_accuracy(k)
                                      for k in range(len(world.classes))])


def row(label: str, values: np.ndarray) -> str:
    return f"| {label} | " + " ".join(f"{v:+.1f}" for v in values) + f" | {values.max():+.1f} |"


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    from scipy.stats import spearmanr

    return float(spearmanr(a, b).statistic)


def constructions(world: World, geometry) -> list[tuple[str, torch.Tensor]]:
    """As shipped, then constant null-space offsets: aimed at two class prompts, and random."""
    norm = float(world.audit.norm(dim=1).median())
    made = [("as shipped", torch.zeros(world.audit.shape[1], dtype=torch.float64))]
    for target in (0, 1):
        aimed = aimed_direction(world, geometry, target)
        made += [(f"+{s}x|f| toward '{world.classes[target]}'", s * norm * aimed) for s in SIZES]
    rng = np.random.default_rng(0)
    random = geometry.project_null(torch.from_numpy(rng.normal(size=(1, world.audit.shape[1]))))[0]
    made += [(f"+{s}x|f| random null dir", s * norm * random / random.norm()) for s in (1.0, 4.0)]
    return made


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", type=Path, default=ROOT / "audits" / "demo.yaml")
    parser.add_argument("--models", default="clean,leaky,mixed,natural",
                        help="calibration model names, comma-separated; empty: the spec's models")
    parser.add_argument("--detail", action="store_true",
                        help="also print every construction's per-class medians")
    args = parser.parse_args()
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    worlds = load_worlds(args.spec, [m for m in args.models.split(",") if m])
    print(f"classes: {' '.join(worlds[0].classes)}; per-class medians in degrees (evidence in "
          "nats); judged statistic = the worst class's median (per-class tiers)")
    summary = []
    for world in worlds:
        geometry = head_geometry(world.weight.float())
        mean = world.x_train.mean(0)
        share = float(geometry.project_null(mean.unsqueeze(0)).norm() / mean.norm())
        accuracy, per_class = probe_accuracy(world, geometry)
        measured = [(label, measure(world, shift)) for label, shift in constructions(world, geometry)]
        shipped = measured[0][1]
        print(f"\n## {world.name}: null_dim {geometry.null_dim}, ||P_n mu||/||mu|| {share:.2f}, "
              f"null probe accuracy {accuracy:.3f} (chance {1 / len(world.classes):.3f}), per "
              "class " + " ".join(f"{a:.2f}" for a in per_class))
        rho = spearman(shipped["mean"]["specific"], per_class)
        print(f"rank correlation across classes, specific leak (mean) vs probe accuracy: "
              f"{rho:+.2f}")
        print("| as shipped: reference / metric | per class | worst |\n|---|---|---|")
        for removal in ("zero", "mean"):
            for metric in METRICS:
                print(row(f"{removal} / {metric}", shipped[removal][metric]))
        if args.detail:
            print("| construction / reference / metric | per class | worst |\n|---|---|---|")
            for label, values in measured[1:]:
                for removal in ("zero", "mean"):
                    for metric in METRICS:
                        print(row(f"{label} / {removal} / {metric}", values[removal][metric]))
        for removal in ("zero", "mean"):
            for metric in METRICS:
                worst = [values[removal][metric].max() for _, values in measured]
                summary.append((world.name, removal, metric, worst[0], min(worst), max(worst)))
    print(f"\n## Judged statistic (worst class median), as shipped and its range over the "
          f"{len(SIZES) * 2 + 2} constant null-space offsets (identical logits)")
    print("| model | reference | metric | as shipped | min over offsets | max over offsets |")
    print("|---|---|---|---|---|---|")
    for name, removal, metric, shipped_value, low, high in summary:
        print(f"| {name} | {removal} | {metric} | {shipped_value:+.2f} | {low:+.2f} | "
              f"{high:+.2f} |")


if __name__ == "__main__":
    main()
