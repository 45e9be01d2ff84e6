"""ImageNet-1k class names (wnid -> short name), shipped as package data.

Built once from timm's bundled ImageNet synset descriptions (first synonym; the two "crane"s and
"maillot"s disambiguated).
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources


@cache
def imagenet_wnid_to_name() -> dict[str, str]:
    """The 1000 ImageNet-1k wnids in class-index order, each with its short class name."""
    text = resources.files("singaudit.adapters.data").joinpath("imagenet_classes.json").read_text()
    return json.loads(text)


def imagenet_class_names() -> list[str]:
    """The 1000 short class names in class-index order ("tench", "goldfish", ...)."""
    return list(imagenet_wnid_to_name().values())
