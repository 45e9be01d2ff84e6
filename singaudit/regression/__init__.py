"""Regressions: a candidate run compared with a baseline run of the same audit (``singaudit
diff``, a spec's ``baseline``, pytest's ``--singaudit-baseline``)."""

from singaudit.regression.comparability import Mismatch, mismatches
from singaudit.regression.diff import (
    Delta,
    Diff,
    Fact,
    ModelDiff,
    NotComparable,
    compare,
    compare_models,
    per_image,
)
from singaudit.regression.tiers import DEFAULT_TIERS, Levels, RegressionSpec, RegressionTier

__all__ = [
    "DEFAULT_TIERS",
    "Delta",
    "Diff",
    "Fact",
    "Levels",
    "Mismatch",
    "ModelDiff",
    "NotComparable",
    "RegressionSpec",
    "RegressionTier",
    "compare",
    "compare_models",
    "mismatches",
    "per_image",
]
