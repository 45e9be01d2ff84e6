"""Small results.json documents built from per-image values (what a class_semantics run writes),
so the diff maths is tested on known shifts."""

from __future__ import annotations

import numpy as np

from singaudit.maths.stats import bootstrap_ci
from singaudit.regression import DEFAULT_TIERS
from singaudit.results import AuditResult, CheckResult, ClassResult, Metric, ModelResult

CLASSES = ["circle", "square", "star"]
# What a class_semantics run records for the regression: the default tier's metric (the one the
# check judges by default) and the former default tier's.
JUDGED = (DEFAULT_TIERS[0].metric, "specific_leak")


def _metric(values: np.ndarray) -> Metric:
    return Metric(value=float(np.median(values)), statistic="median", unit="deg",
                  higher_is_better=False, ci=bootstrap_ci(values, n_boot=200))


def class_semantics(leak: np.ndarray, keys: list[str], labels: list[int],
                    judged: tuple[str, ...] = JUDGED) -> CheckResult:
    """A class_semantics result whose per-image signed AS is -leak and whose ``judged`` metrics
    are the same values, stored per image (a run of an older singaudit: only ``specific_leak``)."""
    labels_array = np.asarray(labels)
    per_class = {name: ClassResult(n=int((labels_array == i).sum()),
                                   metrics={key: _metric(leak[labels_array == i])
                                            for key in ("leak", *judged)})
                 for i, name in enumerate(CLASSES) if (labels_array == i).any()}
    return CheckResult(name="class_semantics", status="pass",
                       metrics={key: _metric(leak) for key in ("leak", *judged)},
                       per_class=per_class,
                       data={"as": (-leak).tolist(), **{key: leak.tolist() for key in judged},
                             "label": list(labels),
                             "class_names": CLASSES, "image_keys": list(keys)})


def audit(leak: np.ndarray, *, keys: list[str] | None = None, labels: list[int] | None = None,
          name: str = "model", info: dict | None = None, joint_hash: str = "j1",
          with_arrays: bool = True, judged: tuple[str, ...] = JUDGED) -> AuditResult:
    count = len(leak)
    keys = keys if keys is not None else [f"img{i}" for i in range(count)]
    labels = labels if labels is not None else [i % len(CLASSES) for i in range(count)]
    check = class_semantics(np.asarray(leak, dtype=float), keys, labels, judged)
    if not with_arrays:
        check.data = {}
    model = ModelResult(name=name, id=f"test:{name}", status="pass",
                        info=info if info is not None else {"null_dim": 10, "num_classes": 3},
                        checks=[check])
    provenance = {"joint_space": {"id": "test:joint", "weights_hash": joint_hash},
                  "prompts": "single template 'a {class}'",
                  "translator": {"arch": "linear", "path": None},
                  "data": {"id": "test:data", "images": count, "classes": CLASSES}}
    return AuditResult(name="audit", status="pass", ok=True, models=[model],
                       provenance=provenance)
