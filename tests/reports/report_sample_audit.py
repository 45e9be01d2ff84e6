"""A realistic AuditResult for report tests: several models and classes, every check kind,
a hostile class name and evidence PNGs written to disk (shapes as the checks will write them)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from singaudit.results import (
    AuditResult,
    CheckResult,
    ClassResult,
    Metric,
    ModelResult,
    Tiers,
    worst_status,
)

HOSTILE = "<script>alert(1)</script>"
CLASSES = ["jeep", "lionfish", "sports car", "jellyfish", "goldfish", HOSTILE]
IMAGES_PER_CLASS = 12
ABS_AS_TIERS = Tiers(metric="abs_as", statistic="median", warn=3.0, fail=4.0)


def _status(value: float, tiers: Tiers) -> str:
    if tiers.fail is not None and value > tiers.fail:
        return "fail"
    if tiers.warn is not None and value > tiers.warn:
        return "warn"
    return "pass"


def _class_semantics(rng: np.random.Generator, leak: float) -> CheckResult:
    labels = np.repeat(np.arange(len(CLASSES)), IMAGES_PER_CLASS)
    image_scores = rng.gamma(6.0, 4.0, labels.size)
    attribute_scores = rng.normal(leak * (1 + labels / len(CLASSES)), 1.2)
    per_class = {}
    for index, name in enumerate(CLASSES):
        median = float(np.median(np.abs(attribute_scores[labels == index])))
        status = _status(median, ABS_AS_TIERS)
        per_class[name] = ClassResult(status=status, n=IMAGES_PER_CLASS, metrics={
            "abs_as": Metric(value=median, statistic="median", unit="deg", tiers=ABS_AS_TIERS,
                             status=status),
            "is": Metric(value=float(np.median(image_scores[labels == index])),
                         statistic="median", unit="deg"),
        })
    overall = float(np.median(np.abs(attribute_scores)))
    status = worst_status([c.status for c in per_class.values()])
    message = ("" if status == "pass" else
               f"abs_as median {overall:.2f} deg; class medians up to "
               f"{max(c.metrics['abs_as'].value for c in per_class.values()):.2f} deg "
               f"(warn > 3, fail > 4)")
    return CheckResult(
        name="class_semantics", status=status, message=message, duration_s=1.25,
        metrics={
            "abs_as": Metric(value=overall, statistic="median", unit="deg", tiers=ABS_AS_TIERS,
                             status=_status(overall, ABS_AS_TIERS), ci=(overall - 0.3, overall + 0.3),
                             description="|AS| toward the true-class prompt"),
            "is": Metric(value=float(np.median(image_scores)), statistic="median", unit="deg"),
            "ratio": Metric(value=float(np.median(image_scores) / overall), unit="ratio",
                            higher_is_better=True),
        },
        per_class=per_class,
        data={"is": image_scores.tolist(), "as": attribute_scores.tolist(),
              "label": labels.tolist(), "class_names": CLASSES,
              "prompt": "an image of a {class}"},
    )


def _null_invariance(rng: np.random.Generator) -> CheckResult:
    n = len(CLASSES) * IMAGES_PER_CLASS
    null = np.abs(rng.normal(0, 1e-6, n))
    null[:5] = 0.0  # exact zeros happen and must survive the log axis
    return CheckResult(
        name="null_invariance", status="pass", duration_s=0.4,
        metrics={
            "max_logit_change_null": Metric(value=float(null.max()), statistic="max",
                                            tiers=Tiers(metric="logit_change_null",
                                                        statistic="max", fail=1e-3),
                                            status="pass"),
            "null_dim": Metric(value=280, unit=""),
            "null_energy": Metric(value=0.31, statistic="median", unit=""),
        },
        data={"logit_change_null": null.tolist(),
              "logit_change_random": rng.lognormal(0.5, 0.3, n).tolist(),
              "logit_change_principal": rng.lognormal(2.0, 0.3, n).tolist()},
    )


def _concepts(rng: np.random.Generator) -> CheckResult:
    concepts = ["red", "striped", "metallic", "underwater", "wheel", "fur", "glass", "sand",
                "blurry", "night", "water", "grass"]
    as_values = rng.normal(0.2, 1.0, len(concepts))
    z = (as_values - as_values.mean()) / as_values.std()
    angle_orig = rng.uniform(70, 80, len(concepts))
    angle_eq = angle_orig - as_values
    embeddings = rng.normal(size=(len(concepts), 8))
    embeddings /= np.linalg.norm(embeddings, axis=1, keepdims=True)
    top = {
        name: [{"concept": concepts[i], "as": float(as_values[i]), "z": float(z[i]),
                "angle_orig": float(angle_orig[i]), "angle_eq": float(angle_eq[i])}
               for i in rng.permutation(len(concepts))[:5]]
        for name in CLASSES[:4]
    }
    return CheckResult(
        name="concepts", status="pass", duration_s=0.8,
        metrics={"max_z": Metric(value=float(z.max()), unit="")},
        data={"concepts": concepts, "as": as_values.tolist(), "z": z.tolist(),
              "angle_orig": angle_orig.tolist(), "angle_eq": angle_eq.tolist(),
              "top_per_class": top, "similarity": (embeddings @ embeddings.T).tolist(),
              "similarity_concepts": concepts, "similarity_z": z.tolist()},
    )


def _steering(rng: np.random.Generator, mean: float) -> CheckResult:
    n = 20
    return CheckResult(
        name="steering", status="pass", duration_s=2.0,
        metrics={"abs_as": Metric(value=mean, statistic="mean", unit="deg")},
        data={"as": rng.normal(mean, 0.5, n).tolist(), "is": rng.normal(40, 0.2, n).tolist(),
              "target": "an image of a jellyfish", "target_is": 40.0,
              "eps": rng.uniform(1, 3, n).tolist()},
    )


def _fidelity(rng: np.random.Generator) -> CheckResult:
    return CheckResult(
        name="translator_fidelity", status="pass", duration_s=0.3,
        metrics={"cosine": Metric(value=0.89, statistic="mean", unit="",
                                  tiers=Tiers(metric="cosine", statistic="mean", warn=0.8,
                                              fail=0.6, higher_is_better=True),
                                  status="pass"),
                 "mse": Metric(value=0.091, statistic="mean", unit="")},
        data={"cosine": np.clip(rng.normal(0.89, 0.03, 200), -1, 1).tolist(),
              "audit_cosine": np.clip(rng.normal(0.87, 0.04, 72), -1, 1).tolist(),
              "architecture": "linear"},
    )


def _evidence(folder: Path, model: str, rng: np.random.Generator) -> CheckResult:
    """As singaudit.checks.evidence writes it: renders per seed, gallery matches, seeds on top."""
    prefix = f"artefacts/{model}/evidence"
    (folder / prefix).mkdir(parents=True, exist_ok=True)

    def save(name: str) -> str:
        pixels = rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / prefix / name)
        return f"{prefix}/{name}"

    items = []
    for row, name in enumerate(CLASSES[:3]):
        items.append({
            "image": save(f"{row:03d}_image.png"), "key": f"{name}/{row}.jpg",
            "render_orig": [save(f"{row:03d}_orig_seed{s}.png") for s in (0, 1)],
            "render_eq": [save(f"{row:03d}_eq_seed{s}.png") for s in (0, 1)],
            "retrieval_orig": [{"image": save(f"gallery_{row}{k}.png"), "key": f"g{k}.jpg",
                                "similarity": 0.9 - 0.1 * k} for k in range(2)],
            "retrieval_eq": [{"image": save(f"gallery_{row}{k}e.png"), "key": f"h{k}.jpg",
                              "similarity": 0.8 - 0.1 * k} for k in range(2)],
            "is": 23.0 + row, "as": 4.7 - row, "class": name,
            "caption": f"{name}: AS {4.7 - row:+.2f} deg, IS {23.0 + row:.1f} deg",
        })
    items.append({"class": "missing files", "is": 1.0, "as": 0.5,
                  "render_orig": ["artefacts/nowhere.png"], "render_eq": ["../../etc/passwd"]})
    return CheckResult(
        name="evidence", status="pass", duration_s=3.0,
        message=f"evidence for {len(items)} images (calibration decoder, seeds [0, 1])",
        artefacts={"items": items, "generator": "calibration:decoder", "seconds": 2.5,
                   "seeds": [0, 1], "prompts": "single template 'an image of a {class}'",
                   "gallery": "audit images"})


def build_sample_audit(folder: Path) -> AuditResult:
    """Write evidence PNGs under ``folder`` and return the AuditResult that names them."""
    rng = np.random.default_rng(0)
    models = []
    specs = [("resnet50", "timm:resnet50", "none", 3.4), ("dino_vit", "timm:vit_small", "none", 0.6),
             ("leaky_cal", "calibration:leaky", "fail", 5.0)]
    for name, ident, expect, leak in specs:
        checks = [_null_invariance(rng), _fidelity(rng), _class_semantics(rng, leak),
                  _concepts(rng), _steering(rng, leak * 2), _evidence(folder, name, rng)]
        status = worst_status([c.status for c in checks])
        met = None if expect == "none" else (status == "fail") == (expect == "fail")
        models.append(ModelResult(
            name=name, id=ident, expect=expect, status=status, expectation_met=met,
            info={"feature_dim": 2048, "num_classes": 1000, "null_dim": 1048,
                  "weights_sha256": "ab" * 32}, checks=checks))
    models.append(ModelResult(
        name=f"head {HOSTILE}", id="timm:vit_base_patch16_224", status="skip",
        info={"null_dim": 0},
        checks=[CheckResult(name="null_invariance", status="skip",
                            message="null_dim is 0: no invariant subspace (not applicable)"),
                CheckResult(name="class_semantics", status="error",
                            message="translator fit failed: singular matrix")]))
    comparison = {"models": []}
    for model in models[:3]:
        semantics = next(c for c in model.checks if c.name == "class_semantics")
        is_values, as_values = semantics.data["is"], semantics.data["as"]
        comparison["models"].append({
            "name": model.name, "median_is": float(np.median(is_values)),
            "median_as": float(np.median(as_values)),
            "median_abs_as": float(np.median(np.abs(as_values))),
            "ratio": float(np.median(is_values) / np.median(np.abs(as_values))),
            "is": is_values, "as": as_values})
    status = worst_status([m.status for m in models])
    return AuditResult(
        name="sample audit", status=status, ok=False, models=models, comparison=comparison,
        data_issues={"skipped_images": ["broken.jpg"], "reason": {"broken.jpg": "truncated"}},
        provenance={"spec": "audits/sample.yaml", "spec_sha256": "cd" * 32, "seed": 0,
                    "device": "cpu", "versions": {"torch": "2.14.1", "singaudit": "0.1.0"},
                    "timings": {"features_s": 12.5, "total_s": 30.1},
                    "started_at": "2026-11-28T09:00:00+00:00",
                    "prompt": f"an image of a {{class}} {HOSTILE}"},
    )
