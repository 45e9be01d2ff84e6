"""Regression tiers: how much worse than its baseline a model may get, and which structural
facts must not change. Spec-level data (the ``regression`` section of an audit spec)."""

from __future__ import annotations

from typing import Literal, cast

from pydantic import Field, model_validator

from singaudit.maths.stats import is_statistic_name
from singaudit.strict import Strict as _Strict
from singaudit.wording import LEVELS, number

# The baseline store folder when a spec names none (relative to the working directory).
DEFAULT_STORE = "baselines"


class Levels(_Strict):
    """How much worse (in the metric's unit) warns and fails."""

    warn: float | None = Field(None, ge=0)
    fail: float | None = Field(None, ge=0)

    @model_validator(mode="after")
    def _one_level(self) -> Levels:
        if self.warn is None and self.fail is None:
            raise ValueError("give warn, fail or both")
        if self.warn is not None and self.fail is not None and self.warn > self.fail:
            raise ValueError(f"warn {number(self.warn)} is above fail {number(self.fail)}")
        return self


class RegressionTier(_Strict):
    """Tiers on the change of one statistic of one metric from the baseline to the candidate.

    ``max_increase`` when higher is worse (e.g. ``leak``), ``max_decrease`` when lower is worse
    (e.g. a translator's ``mean_cosine``). A level is crossed only when the whole confidence
    interval of the worsening lies above it.
    """

    check: str = "class_semantics"
    metric: str
    statistic: str = "median"
    scope: Literal["both", "overall", "per_class"] = "both"
    max_increase: Levels | None = None
    max_decrease: Levels | None = None

    @model_validator(mode="after")
    def _one_direction(self) -> RegressionTier:
        if (self.max_increase is None) == (self.max_decrease is None):
            raise ValueError("give exactly one of max_increase or max_decrease")
        if not is_statistic_name(self.statistic) or self.statistic == "fraction_within":
            raise ValueError(f"unknown statistic {self.statistic!r}; use median, mean, min, "
                             "max, std or qNN (e.g. q90)")
        return self

    @property
    def levels(self) -> Levels:
        # The validator requires exactly one of the two.
        return self.max_increase if self.max_increase is not None else cast(Levels,
                                                                             self.max_decrease)

    @property
    def worse_sign(self) -> float:
        """+1 when an increase is worse, -1 when a decrease is."""
        return 1.0 if self.max_increase is not None else -1.0

    def describe(self) -> str:
        direction = "increase" if self.max_increase is not None else "decrease"
        levels = ", ".join(f"{name} {number(getattr(self.levels, name))}"
                           for name in reversed(LEVELS) if getattr(self.levels, name) is not None)
        return f"{self.check}.{self.metric} {self.statistic} max {direction} ({levels})"


class AgreementLevels(_Strict):
    """Minimum share of audit images on which baseline and candidate predict the same class."""

    warn: float | None = Field(None, ge=0, le=1)
    fail: float | None = Field(None, ge=0, le=1)


class RegressionSpec(_Strict):
    """The ``regression`` section of an audit spec."""

    # Named baselines are store/NAME/results.json (``singaudit baseline accept`` writes them);
    # with a store and no model baseline, each model is compared with store/<audit name>.
    store: str | None = None
    tiers: list[RegressionTier] = Field(default_factory=lambda: list(DEFAULT_TIERS))
    # Facts of the model (results.json models[].info) that must be identical.
    exact: list[str] = Field(default_factory=lambda: ["null_dim", "num_classes", "feature_dim"])
    top1_agreement: AgreementLevels | None = Field(
        default_factory=lambda: AgreementLevels(warn=0.95, fail=0.9))
    # Compare runs that differ in joint space, prompts, translator, images or null removal.
    allow_mismatch: bool = False


# The metric class_semantics judges by default (its DEFAULT_VERDICT_METRIC; regression sits beside
# the checks and cannot import them, tests/regression/test_default_tiers.py holds the two equal).
DEFAULT_METRIC = "carried_share"
# Per class: how much more of its class's contrast a candidate's null component may carry than the
# baseline's did (0.25: a quarter of what the joint space itself sees). Levels from measured noise
# (scripts/regression_world.py; docs/method.md "How a regression is judged"): retrains of clean
# stay far below warn, and a planted leak is beyond fail in the class it leaks.
DEFAULT_TIERS: tuple[RegressionTier, ...] = (
    RegressionTier(check="class_semantics", metric=DEFAULT_METRIC, statistic="median",
                   scope="per_class", max_increase=Levels(warn=0.15, fail=0.25)),
)
# The default tier before the regression judged the default verdict's metric: runs written by an
# older singaudit lack that metric, and a diff with one of them is judged by this tier instead.
FORMER_DEFAULT_TIER = RegressionTier(check="class_semantics", metric="specific_leak",
                                     statistic="median", scope="per_class",
                                     max_increase=Levels(warn=1.0, fail=2.0))


def former_default(tier: RegressionTier) -> RegressionTier | None:
    """The tier that judges a baseline recorded before ``tier`` became a default one; None when
    ``tier`` is not a default tier."""
    return FORMER_DEFAULT_TIER if tier in DEFAULT_TIERS else None
