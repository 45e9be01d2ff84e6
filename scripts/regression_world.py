"""Regression tiers measured on the calibration world (docs/method.md "How a regression is judged").

Baseline: the shipped ``clean``. Candidates: ``clean`` retrained with another seed (its shape and
nuisance networks and its mixing matrix; calibration/train.py, unchanged), ``leaky`` and
``mixed``. Audits the baseline, accepts it into a baseline store, audits the candidates against
it and prints the regression verdicts.

    python scripts/regression_world.py [--out reports/regression_world] [--seed 1]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch


def retrained_clean(folder: Path, seed: int) -> Path:
    """``folder/clean.safetensors``: clean trained with ``seed`` (trained once, then reused)."""
    from singaudit.calibration import models, scenes, train, zoo
    from singaudit.io.state_dicts import load_state_dict, save_state_dict

    target = folder / "clean.safetensors"
    if target.is_file():
        return target
    folder.mkdir(parents=True, exist_ok=True)
    log = lambda line: print(line, file=sys.stderr, flush=True)
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("reports/regression_world"))
    parser.add_argument("--seed", type=int, default=1, help="seed of the retrained clean")
    parser.add_argument("--train-only", action="store_true")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    weights = retrained_clean(args.out / f"clean_seed{args.seed}", args.seed)
    print(f"retrained clean: {weights}")
    if args.train_only:
        return 0
    from singaudit.regression import compare
    from singaudit.regression.store import accept
    from singaudit.reports.diff_report import write_diff
    from singaudit.runner import run_audit

    store = args.out / "baselines"
    base = run_audit(_spec([{"name": "clean", "id": "calibration:clean", "expect": "pass"}]),
                     out_dir=args.out / "baseline", progress=False)
    accept(args.out / "baseline" / "results.json", store)
    pinned = {"baseline": AUDIT, "baseline_model": "clean"}
    candidates = [
        {"name": f"clean_seed{args.seed}", "id": "calibration:clean",
         "options": {"weights_dir": str(weights.parent.resolve())}, "expect": "pass", **pinned},
        {"name": "leaky", "id": "calibration:leaky", "expect": "fail", **pinned},
        {"name": "mixed", "id": "calibration:mixed", "expect": "fail", **pinned},
    ]
    candidate = run_audit(_spec(candidates, store), out_dir=args.out / "candidates",
                          progress=False)
    diff = compare(base, candidate, pairs=[("clean", m["name"]) for m in candidates])
    write_diff(diff, base, candidate, args.out / "diff", ["markdown", "html", "json"])
    print(f"{'candidate':<13} {'regression':<10} {'failing classes':<40} worst class: specific_leak "
          "median change [95% paired CI]; top-1 agreement")
    for model in candidate.models:
        judged = next(c for c in model.checks if c.name == "regression")
        entry = next(m for m in diff.models if m.new_model == model.name)
        rows = [d for d in entry.judged() if d.scope != "overall"]
        worst = max(rows, key=lambda d: d.delta)
        agreement = next(f.after for f in entry.facts if f.fact == "top1_agreement")
        print(f"{model.name:<13} {judged.status:<10} {', '.join(entry.failing_classes) or '-':<40} "
              f"{worst.scope} {worst.delta:+.2f} [{worst.interval[0]:+.2f}, "
              f"{worst.interval[1]:+.2f}] ({worst.before:+.2f} -> {worst.after:+.2f}); "
              f"{agreement:.3f}")
    print(f"audit ok (expectations met): {candidate.ok}; diff: {args.out / 'diff'}")
    return 0 if candidate.ok else 1


AUDIT = "model_ci"


def _spec(models: list[dict], store: Path | None = None):
    """The demo's data, joint space and translator; the checks a regression reads."""
    from singaudit.spec.models import AuditSpec

    document = {
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
