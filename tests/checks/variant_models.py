"""A ``python:`` factory, as a user would write one: a shipped calibration classifier seen through a
calibration variant (singaudit/calibration/variants.py), for the runner-level verdict axioms."""

from __future__ import annotations

from singaudit.adapters.classifiers.calibration_source import calibration_preprocessing
from singaudit.calibration import scenes, variants, zoo


def build(base: str = "leaky", transform: str = "none", scale: float = 1.0, target: int = 0,
          seed: int = 0) -> dict:
    module = zoo.load_classifier(base)
    weight, bias = module.head.weight.detach().double(), module.head.bias.detach().double()
    made = {
        "none": lambda: variants.global_scale(weight, bias, 1.0),
        "row_scale": lambda: variants.row_block_scale(weight, bias, scale),
        "null_scale": lambda: variants.null_block_scale(weight, bias, scale),
        "row_map": lambda: variants.row_space_map(weight, bias, condition=scale, seed=seed),
        "null_rotation": lambda: variants.null_rotation(weight, bias, seed=seed),
        "global_scale": lambda: variants.global_scale(weight, bias, scale),
        "zero_dims": lambda: variants.appended_dims(weight, bias, int(scale)),
        "marker": lambda: variants.one_class_marker(weight, bias, target, scale),
    }[transform]()
    return {"module": variants.VariantNet(module, made).eval(), "head": "head",
            "preprocessing": calibration_preprocessing(), "class_names": list(scenes.SHAPES)}
