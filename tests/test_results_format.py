"""results.json from schema 5 (singaudit.io.results_format): compact on disk, read back into the data
model's layout; files of older schemas still read."""

import json

import numpy as np

from singaudit.results import (
    SCHEMA_VERSION,
    AuditResult,
    CheckResult,
    ClassResult,
    Metric,
    ModelResult,
    Predictions,
    Tiers,
)

CLASSES = [f"class {i}" for i in range(40)]
TIERS = Tiers(metric="leak", statistic="median", warn=2.0, fail=3.0, scope="per_class")


def audit(images_per_class: int = 5, models: int = 2) -> AuditResult:
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(len(CLASSES)), images_per_class).tolist()
    keys = [f"folder/image_{i:05d}.png" for i in range(len(labels))]
    results = []
    for index in range(models):
        checks = []
        for name in ("null_invariance", "class_semantics"):
            per_class = {
                cls: ClassResult(status="pass", n=images_per_class, metrics={
                    "leak": Metric(value=float(rng.normal()), statistic="median", unit="deg",
                                   higher_is_better=False, tiers=TIERS, status="pass",
                                   ci=(0.1, 0.2), description="a long description " * 5),
                    "is": Metric(value=float(rng.normal()), unit="deg",
                                 description="another description")})
                for cls in CLASSES}
            per_class[CLASSES[0]].metrics["is"].description = "this class's own description"
            data = {"leak": rng.normal(size=len(labels)).astype(np.float32).tolist(),
                    "label": labels, "image_keys": keys, "class_names": CLASSES,
                    "by_budget": {"0.1": rng.normal(size=len(labels)).tolist()},
                    "with_gaps": [None, *rng.normal(size=9).tolist()], "short": [0.123456789]}
            checks.append(CheckResult(name=name, status="pass", per_class=per_class, data=data,
                                      metrics={"leak": Metric(value=1.0, tiers=TIERS)}))
        results.append(ModelResult.from_checks(
            name=f"m{index}", id=f"python:m{index}", expect="none", checks=checks,
            predictions=Predictions(image_keys=keys, top1=labels)))
    return AuditResult.from_models(name="format", models=results)


def test_written_file_reads_back_as_the_same_result(tmp_path):
    original = audit()
    path = tmp_path / "results.json"
    original.write(path)
    again = AuditResult.read(path)
    assert again.schema_version == SCHEMA_VERSION
    assert again == original  # nothing rounded, nothing lost
    assert AuditResult.parse(path.read_text(), "results.json") == again


def test_file_is_compact_and_says_each_description_once(tmp_path):
    original = audit(images_per_class=20)
    path = tmp_path / "results.json"
    original.write(path)
    text = path.read_text()
    old_layout = original.model_dump_json(indent=2)
    assert len(text) < len(old_layout) / 3
    assert text.count("a long description") == 5 * 2  # once per check (5 repeats in it)
    assert text.count("this class's own description") == 2  # a class that differs keeps its own
    assert text.count("folder/image_00001.png") == 1  # image keys once for every model and check
    raw = json.loads(text)
    first = raw["models"][0]["checks"][0]
    assert "leak" in first["data"]  # an array kept once stays in its check
    assert first["shared_data"]["image_keys"] in raw["shared_arrays"]


def test_files_of_older_schemas_still_read(tmp_path):
    original = audit(images_per_class=2, models=1)
    old = json.loads(original.model_dump_json())
    old["schema_version"] = 3
    path = tmp_path / "results.json"
    path.write_text(json.dumps(old, indent=2))
    assert AuditResult.read(path).models == original.models
    assert AuditResult.parse(path.read_text(), "old results.json").models == original.models
