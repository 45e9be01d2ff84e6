"""Regression tiers measured on the calibration world (docs/method.md "How a regression is judged").

Baseline: the shipped ``clean``. Candidates: ``clean`` retrained with other seeds (its shape and
nuisance networks and its mixing matrix; calibration/train.py, unchanged), whose changes are the
no-change noise; and real leaks: ``leaky``, ``mixed`` and ``clean`` with one class marked in its
null space (a constant along a null direction when the model's own top-1 is that class:
singaudit/calibration/variants.py, ``one_class_marker``), the smallest leak the world plants.
Audits the baseline, accepts it into a baseline store, audits the candidates against it (the
default regression tiers judge them into the run) and prints, per candidate and class, the
change of the default tier's statistic with its paired 95% interval, then the figures the
default levels are chosen from: the highest lower end among clean retrains (a level below it
would flag a retrain) and the lowest lower end among the leaks' marked classes.

    PYTHONPATH=scripts HF_HUB_OFFLINE=1 python scripts/regression_world.py
        [--out reports/regression_world] [--seeds 1,2,3] [--write-fixture PATH]

``--write-fixture`` writes the baseline's and candidates' class_semantics results (per-image
values, top-1 predictions, provenance) trimmed to what the diff reads: the fixture of
tests/regression/test_default_tiers.py.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import torch

AUDIT = "model_ci"
MARKED_CLASSES = (0, 3)  # circle, star: the target's class is the only one the marker moves


def retrained_clean(folder: Path, seed: int) -> Path:
    """``folder/clean.safetensors``: clean trained with ``seed`` (trained once, then reused)."""
    from singaudit.calibration import models, scenes, train, zoo
    from singaudit.io.state_dicts import load_state_dict, save_state_dict

    target = folder / "clean.safetensors"
    if target.is_file():
        return target
    folder.mkdir(parents=True, exist_ok=True)

    def log(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    train.train_calibration(folder, seed=seed, phases=["shape", "nuisance"], log=log)
    shape_net, nuisance = models.ShapeNet(), models.NuisanceNet()
    shape_net.load_state_dict(load_state_dict(folder / "shape.safetensors", "shape"))
    nuisance.load_state_dict(load_state_dict(folder / "nuisance.safetensors", "nuisance"))
    clean = models.BlockClassifier(shape_net.eval(), nuisance.eval(), **zoo.BLOCKS["clean"],
                                   mix_seed=zoo.mix_seed(seed, "clean"))
    # The same standardisation as the shipped world (train._evaluate), on this seed's scenes.
    fitting, _ = scenes.generate("train", seed + 7919, 0, train.SCALES["full"]["verify_fit"])
    clean.standardise_on(models.to_tensor(fitting), train.LOGIT_SCALE)
    save_state_dict(clean.eval().state_dict(), target)
    return target


def marked_clean(target: int = 0, size: float = 1.0) -> dict[str, Any]:
    """A ``python:`` factory: the shipped ``clean`` with ``size`` x its median feature norm added
    along a fixed null direction whenever its top-1 prediction is class ``target``."""
    from singaudit.adapters.classifiers.calibration_source import calibration_preprocessing
    from singaudit.calibration import models, scenes, variants, zoo

    module = zoo.load_classifier("clean")
    weight, bias = module.head.weight.detach().double(), module.head.bias.detach().double()
    images, _ = scenes.generate("validation", 0, 0, 300)
    with torch.no_grad():
        norm = float(module.features(models.to_tensor(images)).norm(dim=1).median())
    made = variants.one_class_marker(weight, bias, target, size * norm, kind="direction")
    net = variants.VariantNet(module, made).eval()
    # The marker is not a weight: as a buffer it enters the weights hash, so each target's
    # features are cached apart (a python: model is identified by its state dict, not options).
    net.register_buffer("marker", torch.tensor([float(target), size * norm]))
    return {"module": net, "head": "head",
            "preprocessing": calibration_preprocessing(), "class_names": list(scenes.SHAPES)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("reports/regression_world"))
    parser.add_argument("--seeds", default="1,2,3", help="seeds of the retrained cleans")
    parser.add_argument("--train-only", action="store_true")
    parser.add_argument("--write-fixture", type=Path, default=None)
    parser.add_argument("--measure-only", action="store_true",
                        help="read the runs an earlier call left in --out; audit nothing")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    seeds = [int(s) for s in args.seeds.split(",")]
    weights = {seed: retrained_clean(args.out / f"clean_seed{seed}", seed) for seed in seeds}
    if args.train_only:
        return 0
    sys.path.insert(0, str(Path(__file__).resolve().parent))  # python:regression_world:...
    from singaudit.regression.store import accept, read_results
    from singaudit.runner import run_audit

    if args.measure_only:
        base = read_results(args.out / "baseline")
        candidate = read_results(args.out / "candidates")
        report(base, candidate, seeds)
        if args.write_fixture is not None:
            _write_fixture(args.write_fixture, base, candidate)
        return 0
    store = args.out / "baselines"
    base = run_audit(_spec([{"name": "clean", "id": "calibration:clean", "expect": "pass"}]),
                     out_dir=args.out / "baseline", progress=False)
    accept(args.out / "baseline" / "results.json", store)
    pinned = {"baseline": AUDIT, "baseline_model": "clean"}
    retrains = [{"name": f"clean_seed{seed}", "id": "calibration:clean",
                 "options": {"weights_dir": str(path.parent.resolve())}, "expect": "pass",
                 **pinned} for seed, path in weights.items()]
    leaks = [{"name": "leaky", "id": "calibration:leaky", "expect": "fail", **pinned},
             {"name": "mixed", "id": "calibration:mixed", "expect": "fail", **pinned}]
    leaks += [{"name": f"marked_{_shape(target)}", "id": "python:regression_world:marked_clean",
               "options": {"target": target}, "expect": "fail", **pinned}
              for target in MARKED_CLASSES]
    candidate = run_audit(_spec(retrains + leaks, store), out_dir=args.out / "candidates",
                          progress=False)
    report(base, candidate, seeds)
    print(f"audit ok (expectations met): {candidate.ok}; results: {args.out / 'candidates'}")
    if args.write_fixture is not None:
        _write_fixture(args.write_fixture, base, candidate)
        print(f"fixture: {args.write_fixture}")
    return 0 if candidate.ok else 1


def report(base: Any, candidate: Any, seeds: list[int]) -> None:
    """Per metric the default tier could judge: each candidate's per-class change with its paired
    95% interval, the retrains' highest lower end and the planted leaks' lowest one."""
    from singaudit.regression import compare
    from singaudit.regression.tiers import DEFAULT_TIERS
    from singaudit.wording import fixed

    tier = DEFAULT_TIERS[0]
    pairs = [("clean", m.name) for m in candidate.models]
    diff = compare(base, candidate, pairs=pairs)
    print(f"default tier: {tier.describe()}; a level is crossed when the whole paired 95% "
          "interval of the change is beyond it")
    for model in candidate.models:
        judged = next((c for c in model.checks if c.name == "regression"), None)
        entry = next(m for m in diff.models if m.new_model == model.name)
        agreement = next((f.after for f in entry.facts if f.fact == "top1_agreement"), None)
        print(f"  {model.name:<14} regression {judged.status if judged else 'n/a':<5} "
              f"(failing: {', '.join(entry.failing_classes) or 'none'}); top-1 agreement "
              f"{fixed(agreement, 3)}")
    recorded = {d.metric for m in diff.models for d in m.deltas}
    for metric in dict.fromkeys([tier.metric, "carried", "carried_share", "specific_leak"]):
        if metric not in recorded:
            continue
        print(f"\n{metric} median change per class [95% paired CI]:")
        lows: dict[str, dict[str, float]] = {}
        changes: list[float] = []
        for entry in diff.models:
            rows = [d for d in entry.deltas if d.metric == metric and d.scope != "overall"
                    and d.statistic == "median" and d.delta is not None]
            lows[entry.new_model] = {d.scope: min(d.interval) for d in rows if d.interval}
            if entry.new_model.startswith("clean_"):
                changes += [abs(d.delta) for d in rows if d.delta is not None]
            cells = "; ".join(
                f"{d.scope} {fixed(d.delta, signed=True)} [{fixed(d.interval[0], signed=True)}, "
                f"{fixed(d.interval[1], signed=True)}]" for d in rows if d.interval)
            print(f"  {entry.new_model:<14} {cells}")
        noise = [(low, name, scope) for name in lows if name.startswith("clean_")
                 for scope, low in lows[name].items()]
        planted = [(lows[name][scope], name, scope) for name in lows
                   if not name.startswith("clean_")
                   for scope in _planted_scopes(name, lows[name]) if scope in lows[name]]
        if noise and planted:
            top, lowest = max(noise), min(planted)
            print(f"  no-change noise ({len(seeds)} clean retrains x 6 classes): |change| at "
                  f"most {fixed(max(changes))}; highest lower CI end "
                  f"{fixed(top[0], signed=True)} ({top[1]}, {top[2]})")
            print(f"  planted leaks (leaky, mixed: every class; marked: its class): lowest lower "
                  f"CI end {fixed(lowest[0], signed=True)} ({lowest[1]}, {lowest[2]})")


def _shape(target: int) -> str:
    from singaudit.calibration.scenes import SHAPES

    return SHAPES[target]


def _planted_scopes(name: str, lows: dict[str, float]) -> list[str]:
    """The classes a leak candidate plants: all of them, or a marked model's one class."""
    return [name.removeprefix("marked_")] if name.startswith("marked_") else list(lows)


def _write_fixture(path: Path, base: Any, candidate: Any) -> None:
    """Both runs with only what a diff of class_semantics reads, values to 4 decimals."""
    from singaudit.regression.tiers import DEFAULT_TIERS, FORMER_DEFAULT_TIER

    kept = {DEFAULT_TIERS[0].metric, FORMER_DEFAULT_TIER.metric, "carried", "label",
            "class_names", "image_keys"}

    def trimmed(audit: Any) -> dict[str, Any]:
        document = json.loads(audit.model_dump_json())
        for model in document["models"]:
            model["checks"] = [c for c in model["checks"] if c["name"] == "class_semantics"]
            for check in model["checks"]:
                check["data"] = {k: _rounded(v) for k, v in check["data"].items() if k in kept}
                check["message"], check["artefacts"] = "", {}
                for entry in [check, *check["per_class"].values()]:
                    entry["metrics"] = {k: _fact(v) for k, v in entry["metrics"].items()
                                        if k in kept}
            model["angles"] = None
        document["comparison"] = {}
        return document

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"baseline": trimmed(base), "candidates": trimmed(candidate)},
                               separators=(",", ":")) + "\n")


def _fact(metric: dict[str, Any]) -> dict[str, Any]:
    """A metric without its words and tiers (a diff reads its value, interval and status)."""
    return {k: v for k, v in metric.items() if k not in ("description", "tiers")}


def _rounded(values: Any) -> Any:
    if isinstance(values, list):
        return [round(v, 4) if isinstance(v, float) else v for v in values]
    return values


def _spec(models: list[dict[str, Any]], store: Path | None = None) -> Any:
    """The demo's data, joint space and translator; the checks a regression reads."""
    from singaudit.spec.models import AuditSpec

    document: dict[str, Any] = {
        "version": 1, "kind": "singaudit/audit", "name": AUDIT, "models": models,
        "joint_space": {"id": "calibration:joint"},
        "data": {"id": "calibration:audit", "options": {"scenes": 240},
                 "classes": "all", "images_per_class": 30, "seed": 0},
        "translator": {"arch": "linear", "heldout": 0.2,
                       "fit": {"id": "calibration:validation", "options": {"scenes": 1200}}},
        "checks": {"null_invariance": {}, "class_semantics": {}},
        "report": {"formats": ["json", "markdown"]},
        "device": "cpu", "seed": 0,
    }
    if store is not None:
        document["regression"] = {"store": str(store)}
    return AuditSpec.model_validate(document)


if __name__ == "__main__":
    raise SystemExit(main())
