"""The provenance table lists a model's per-class accuracy only up to MAX_CLASS_ROWS classes; at
ImageNet's 1,000 it shows the lowest few (1,000 filled 7 PDF pages per model)."""

from singaudit.reports.context import ACCURACY_CLASSES_SHOWN, MAX_CLASS_ROWS, _model_details
from singaudit.results import Accuracy, ModelResult


def model(classes: int) -> ModelResult:
    per_class = {f"class {i}": (i % 97) / 97 for i in range(classes)}
    return ModelResult(name="m", id="python:m", status="pass",
                       accuracy=Accuracy(top1=0.5, top1_per_class=per_class))


def test_many_classes_show_the_lowest_few():
    shown = _model_details(model(1000))["accuracy"]["top1_per_class"]
    assert len(shown) == ACCURACY_CLASSES_SHOWN + 1
    assert all(value == 0.0 for key, value in shown.items() if key != "…")
    assert "1000 classes" in shown["…"]


def test_few_classes_show_every_class():
    shown = _model_details(model(MAX_CLASS_ROWS))["accuracy"]["top1_per_class"]
    assert len(shown) == MAX_CLASS_ROWS
