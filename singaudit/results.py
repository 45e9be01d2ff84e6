"""The results data model: ``reports/<name>/results.json``, owned by the runner.

Reports (HTML, PDF, JUnit) and the pytest plugin read only this, plus the artefact files it
names (paths relative to the results file's folder).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION = 1

Status = Literal["pass", "warn", "fail", "skip", "error"]
Expectation = Literal["pass", "fail", "none"]
# Severity order used to combine statuses; skip never outranks a real verdict.
STATUS_ORDER: dict[str, int] = {"skip": 0, "pass": 1, "warn": 2, "fail": 3, "error": 4}


def worst_status(statuses: list[str]) -> str:
    """The most severe status; "skip" only when every status is a skip (or none given)."""
    return max(statuses, key=STATUS_ORDER.__getitem__, default="skip")


class Tiers(BaseModel):
    """pass / warn / fail tiers on one statistic of one metric."""

    model_config = ConfigDict(extra="forbid")
    metric: str  # e.g. "abs_as"
    statistic: str  # "median", "mean", "q90", "fraction_within"
    # Non-finite levels are refused: a NaN compares false with everything and would pass all.
    warn: float | None = Field(None, allow_inf_nan=False)
    fail: float | None = Field(None, allow_inf_nan=False)
    higher_is_better: bool = False
    bound: float | None = Field(None, allow_inf_nan=False)  # fraction_within: per-image bound
    # fraction_within: the fraction that must be within (0 would make the tier vacuous).
    mostly: float | None = Field(None, gt=0, le=1, allow_inf_nan=False)
    # Where the statistic is judged: over all images, within each class, or both (the default).
    scope: Literal["both", "overall", "per_class"] = "both"


class Metric(BaseModel):
    model_config = ConfigDict(extra="forbid")
    value: float | None
    statistic: str | None = None
    unit: str | None = None  # "deg", "", "ratio", ...
    higher_is_better: bool | None = None
    tiers: Tiers | None = None
    status: Status | None = None  # set when tiers judged this metric
    ci: tuple[float, float] | None = None  # bootstrap confidence interval when computed
    description: str | None = None


class ClassResult(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: Status | None = None
    n: int = 0
    metrics: dict[str, Metric] = Field(default_factory=dict)


class CheckResult(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    status: Status
    message: str = ""  # why: the failed metric, statistic, value and threshold; a skip's reason
    metrics: dict[str, Metric] = Field(default_factory=dict)
    per_class: dict[str, ClassResult] = Field(default_factory=dict)
    # Per-image arrays for figures, e.g. {"is": [...], "as": [...], "label": [...]}.
    data: dict[str, Any] = Field(default_factory=dict)
    # Files produced for the report (relative to results.json), e.g. evidence images.
    artefacts: dict[str, Any] = Field(default_factory=dict)
    duration_s: float = 0.0


class ModelResult(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    id: str
    expect: Expectation = "none"
    status: Status
    expectation_met: bool | None = None  # None when expect == "none"
    info: dict[str, Any] = Field(default_factory=dict)  # feature_dim, num_classes, null_dim, hashes
    checks: list[CheckResult] = Field(default_factory=list)


class AuditResult(BaseModel):
    model_config = ConfigDict(extra="forbid")
    schema_version: int = SCHEMA_VERSION
    name: str
    status: Status  # the worst model status
    ok: bool  # every expectation met and no unexpected failure: the CLI's exit 0
    models: list[ModelResult] = Field(default_factory=list)
    comparison: dict[str, Any] = Field(default_factory=dict)  # ratio ranking, (AS, IS) medians
    data_issues: dict[str, Any] = Field(default_factory=dict)  # skipped/corrupt images
    provenance: dict[str, Any] = Field(default_factory=dict)

    def write(self, path: Path) -> None:
        from singaudit.pipeline.atomic import atomic_write_text

        atomic_write_text(Path(path), self.model_dump_json(indent=2))

    @classmethod
    def read(cls, path: Path) -> AuditResult:
        return cls.model_validate_json(Path(path).read_text())
