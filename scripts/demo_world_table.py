"""The measured rows of docs/method.md's calibration-world table, from a demo run's results.json.

Run the demo into a scratch folder, then print the rows (Markdown, one column per model):

    HF_HUB_OFFLINE=1 singaudit run audits/demo.yaml --out /tmp/demo
    PYTHONPATH=. python scripts/demo_world_table.py /tmp/demo/results.json

Test accuracy comes from the shipped weights' metadata (1,200 held-out scenes); every other row
from results.json: the translator's held-out cosine, the class_semantics medians (overall and the
worst class, named), the null probe, the verdict, the concepts' top 3 and the own class name's
rank.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def checks_of(model: dict) -> dict[str, dict]:
    return {c["name"]: c for c in model["checks"]}


def worst(check: dict, metric: str, unit: str) -> str:
    per_class = {name: c["metrics"][metric]["value"] for name, c in check["per_class"].items()}
    name = max(per_class, key=per_class.__getitem__)
    return f"{per_class[name]:+.2f}{unit} ({name})"


def median(check: dict, metric: str, unit: str = "°", signed: bool = True) -> str:
    value = check["metrics"][metric]["value"]
    return f"{value:+.2f}{unit}" if signed else f"{value:.2f}{unit}"


def test_accuracy(name: str) -> str:
    from singaudit.calibration import zoo
    from singaudit.errors import WeightsNotFound

    for phase in (None, "uncentred"):
        try:
            metadata = zoo.load_metadata(phase=phase) if phase else zoo.load_metadata()
        except WeightsNotFound:  # a world not shipped: the row says "-"
            metadata = {}
        accuracy = metadata.get("classifier_accuracy", {})
        if name in accuracy:
            return f"{accuracy[name]:.3f}"
    return "-"


def rows(results: dict) -> list[tuple[str, list[str]]]:
    models = results["models"]
    out: list[tuple[str, list[str]]] = []

    def add(label: str, cell) -> None:
        out.append((label, [cell(m, checks_of(m)) for m in models]))

    add("test accuracy (1,200 held-out scenes)", lambda m, c: test_accuracy(m["name"]))
    add("null dim / feature dim",
        lambda m, c: f"{m['info']['null_dim']} / {m['info']['feature_dim']}")
    add("translator held-out mean cosine",
        lambda m, c: f"{m['info']['translator']['mean_cosine']:.3f}")
    add("median IS", lambda m, c: median(c["class_semantics"], "is", signed=False))
    add("median \\|AS\\| (paper's reading)",
        lambda m, c: median(c["class_semantics"], "abs_as", signed=False))
    add("median leak = −AS toward the own class", lambda m, c: median(c["class_semantics"], "leak"))
    add("median specific leak", lambda m, c: median(c["class_semantics"], "specific_leak"))
    add("specific leak, worst class median",
        lambda m, c: worst(c["class_semantics"], "specific_leak", "°"))
    add("median carried (degrees)", lambda m, c: median(c["class_semantics"], "carried"))
    add("carried, worst class median", lambda m, c: worst(c["class_semantics"], "carried", "°"))
    add("joint contrast per class (the share's denominator)",
        lambda m, c: " / ".join(f"{v['metrics']['joint_contrast']['value']:.1f}"
                                for v in c["class_semantics"]["per_class"].values()))
    add("median carried share", lambda m, c: median(c["class_semantics"], "carried_share", ""))
    add("**carried share, worst class median** (the verdict's statistic; warn > 0.4, fail > 0.5)",
        lambda m, c: worst(c["class_semantics"], "carried_share", ""))
    add("null-space probe accuracy (chance 0.17)",
        lambda m, c: f"{c['null_probe']['metrics']['accuracy']['value']:.3f}")
    add("`class_semantics` verdict",
        lambda m, c: f"{c['class_semantics']['status']} (expected {m['expect']})")
    add("top 3 concepts carried",
        lambda m, c: " / ".join(t["concept"] for t in c["concepts"]["data"]["top"][:3]))
    add("own class name's rank among the concepts, per class", own_rank)
    return out


def own_rank(model: dict, checks: dict) -> str:
    ranks = [int(c["metrics"]["own_class_rank"]["value"])
             for c in checks["concepts"]["per_class"].values()]
    return f"{min(ranks)}-{max(ranks)}" if min(ranks) != max(ranks) else str(ranks[0])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path, help="a demo run's results.json")
    args = parser.parse_args(argv)
    results = json.loads(args.results.read_text(encoding="utf-8"))
    names = [f"`{m['name']}`" for m in results["models"]]
    print("| | " + " | ".join(names) + " |")
    print("|---|" + "---|" * len(names))
    for label, cells in rows(results):
        print(f"| {label} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
