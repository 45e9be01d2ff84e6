"""The results data model: ``reports/<name>/results.json``, written by the runner.

Reports (HTML, PDF, JUnit) and the pytest plugin read only this, plus the artefact files it
names (paths relative to the results file's folder). How check results combine into model and
audit results (statuses, expectations, the model comparison) is decided here.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, TypedDict, cast

from pydantic import BaseModel, ConfigDict, Field, model_validator

from singaudit.errors import SingauditError
from singaudit.wording import LEVELS

# 2: statuses info and insufficient_data, ModelResult.note; provenance null_removal;
# class_semantics specific_leak, prompt_contrast, evidence_change; the null_probe check.
# 3: ModelResult.predictions and ModelResult.angles (model-level facts filled by the runner).
# 4: ModelResult.accuracy (was info["accuracy"]; older files are read into the field).
# 5: compact on disk (singaudit.io.results_format): per-class metric facts in metric_info, repeated
# arrays in shared_arrays; read back into this layout, nothing rounded.
SCHEMA_VERSION = 5
# Nesting a results file may have (singaudit writes under 10; deeper cannot be written back).
MAX_DEPTH = 100

# info: measured and reported, nothing judged (never a pass, never a failure);
# insufficient_data: a class with too few images to be judged (per-class results only).
Status = Literal["pass", "warn", "fail", "skip", "error", "info", "insufficient_data"]
Expectation = Literal["pass", "fail", "none"]
# Severity order used to combine statuses; skip, insufficient data and info never outrank a
# real verdict.
STATUS_ORDER: dict[str, int] = {"skip": 0, "insufficient_data": 1, "info": 2, "pass": 3,
                                "warn": 4, "fail": 5, "error": 6}


def level_status(value: float, *, warn: float | None, fail: float | None,
                 higher_is_better: bool = False) -> Status:
    """The level a value is beyond ("fail" before "warn", strictly beyond), else "pass": one rule
    for check tiers and regression levels."""
    levels = {"fail": fail, "warn": warn}
    for name in LEVELS:
        level = levels[name]
        if level is not None and (value < level if higher_is_better else value > level):
            return "fail" if name == "fail" else "warn"
    return "pass"


def worst_status(statuses: Sequence[Status]) -> Status:
    """The most severe status; "skip" only when every status is a skip (or none given)."""
    return max(statuses, key=STATUS_ORDER.__getitem__, default="skip")


def model_status(check_statuses: Sequence[Status], null_dim: int | None
                 ) -> tuple[Status, str | None]:
    """A model's status and, when it is not the worst of its checks', why.

    A head without a null space (null_dim 0) skips every null-space check: unless another check
    failed or errored, the model is "skip" (not judged), never a pass.
    """
    status = worst_status(check_statuses)
    if null_dim == 0 and status in ("pass", "warn", "info", "skip"):
        return "skip", ("not judged: null_dim is 0 (the head has no invariant subspace), so "
                        "every null-space check was skipped")
    return status, None


def expectation_met(expect: Expectation, status: Status) -> bool | None:
    """pass: judged, nothing failed or errored (skip and info are not a pass); fail: a check
    failed (an error is not the expected failure); none: informational."""
    if expect == "pass":
        return status in ("pass", "warn")
    if expect == "fail":
        return status == "fail"
    return None


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
    # Per class, a level is crossed only when a one-sided test says so at this confidence,
    # Holm-corrected over the classes judged (null: the point estimate alone decides) ...
    confidence: float | None = Field(0.95, gt=0, lt=1)
    # ... and a class with fewer images is "insufficient_data", not judged.
    min_images: int = Field(10, ge=1)


class Metric(BaseModel):
    model_config = ConfigDict(extra="forbid")
    value: float | None
    statistic: str | None = None
    unit: str | None = None  # "deg", "", "ratio", ...
    higher_is_better: bool | None = None
    tiers: Tiers | None = None
    status: Status | None = None  # set when tiers judged this metric
    ci: tuple[float, float] | None = None  # bootstrap confidence interval when computed
    # Per-class verdicts: Holm-adjusted one-sided p-value that the statistic is beyond the
    # tier's fail level (its warn level when it has no fail level).
    p_value: float | None = None
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


class Predictions(BaseModel):
    """Each audit image's top-1 class (an index into the model's classes), by image key."""

    model_config = ConfigDict(extra="forbid")
    image_keys: list[str]
    top1: list[int]


class Accuracy(BaseModel):
    """A model's top-1 accuracy on the audit images, data classes matched to its classes by name
    (an audit of a model that gets its images wrong is a different audit)."""

    model_config = ConfigDict(extra="forbid")
    top1: float | None = None  # over the images of matched classes; None when none matched
    top1_per_class: dict[str, float] = Field(default_factory=dict)
    unmatched_classes: list[str] = Field(default_factory=list)  # data classes the model lacks


class Angles(BaseModel):
    """A model's IS and AS summary, which the audit's model comparison ranks by: medians and the
    headline ratio of the check that measured them; that check result's ``data`` holds the
    per-image values (``AngleData``)."""

    model_config = ConfigDict(extra="forbid")
    check: str  # the check result holding the per-image values
    ratio: float | None = None
    median_is: float | None = None
    median_as: float | None = None
    median_abs_as: float | None = None


# The per-image values a check offering a model's Angles keeps in its data (None: an image that
# could not be measured); the functional form because "is" and "as" are Python keywords.
AngleData = TypedDict("AngleData", {"is": list[float | None], "as": list[float | None]})


class ModelResult(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    id: str
    expect: Expectation = "none"
    status: Status
    expectation_met: bool | None = None  # None when expect == "none"
    note: str | None = None  # why the status is not simply the worst check's (e.g. null_dim 0)
    info: dict[str, Any] = Field(default_factory=dict)  # feature_dim, num_classes, null_dim, hashes
    # Model-level facts the runner fills (None: not measured, or a file older than schema 3).
    predictions: Predictions | None = None
    angles: Angles | None = None
    accuracy: Accuracy | None = None  # None: not measured (or schema 2 and older)
    checks: list[CheckResult] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _accuracy_from_info(cls, raw: Any) -> Any:
        """Schema 3 and older kept the accuracy in ``info``: read it into its field."""
        if isinstance(raw, dict) and isinstance(raw.get("info"), dict) \
                and "accuracy" in raw["info"] and raw.get("accuracy") is None:
            info = dict(raw["info"])
            raw = {**raw, "info": info, "accuracy": info.pop("accuracy")}
        return raw

    @classmethod
    def from_checks(cls, *, name: str, id: str, expect: Expectation, checks: list[CheckResult],
                    info: dict[str, Any] | None = None, predictions: Predictions | None = None,
                    angles: Angles | None = None, accuracy: Accuracy | None = None
                    ) -> ModelResult:
        """A model's result: its worst check status (see model_status), judged against its
        expectation."""
        status, note = model_status([check.status for check in checks],
                                    (info or {}).get("null_dim"))
        return cls(name=name, id=id, expect=expect, status=status,
                   expectation_met=expectation_met(expect, status), note=note, info=info or {},
                   predictions=predictions, angles=angles, accuracy=accuracy, checks=checks)

    def rejudged(self, checks: list[CheckResult]) -> ModelResult:
        """The same model with ``checks``, its status and expectation judged again."""
        return ModelResult.from_checks(name=self.name, id=self.id, expect=self.expect,
                                       checks=checks, info=self.info,
                                       predictions=self.predictions, angles=self.angles,
                                       accuracy=self.accuracy)


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

    @classmethod
    def from_models(cls, *, name: str, models: list[ModelResult],
                    data_issues: dict[str, Any] | None = None,
                    provenance: dict[str, Any] | None = None) -> AuditResult:
        """An audit's result: the worst model status, ok when every expectation was met."""
        return cls(
            name=name,
            status=worst_status([m.status for m in models]),
            ok=all(m.expectation_met is not False for m in models),
            models=models,
            comparison=comparison(models),
            data_issues=data_issues or {},
            provenance=provenance or {},
        )

    def write(self, path: Path) -> None:
        from singaudit.io.atomic import atomic_write_text
        from singaudit.io.results_format import compact

        atomic_write_text(Path(path), compact(json.loads(self.model_dump_json())))

    @classmethod
    def read(cls, path: Path) -> AuditResult:
        from singaudit.io.results_format import expand

        return cls.model_validate(expand(json.loads(Path(path).read_text())))

    @classmethod
    def parse(cls, text: str, where: str) -> AuditResult:
        """A results.json's text; every problem is one ResultsFileError naming ``where``."""
        import pydantic

        try:
            raw = json.loads(text)
        except json.JSONDecodeError as error:
            raise ResultsFileError(f"{where} is not valid JSON: {error}") from None
        except RecursionError:
            raise ResultsFileError(f"{where} is not a singaudit results file: its JSON is "
                                   "nested too deeply to read") from None
        except ValueError as error:  # e.g. an integer of more digits than Python converts
            reason = str(error).split(";")[0]
            raise ResultsFileError(f"{where} is not a singaudit results file: {reason}") from None
        if not isinstance(raw, dict):
            raise ResultsFileError(f"{where} is not a singaudit results file: its JSON is a "
                                   f"{_json_type(raw)}, not an object")
        if _deeper_than(raw, MAX_DEPTH):
            raise ResultsFileError(f"{where} is not a singaudit results file: its JSON is "
                                   f"nested more than {MAX_DEPTH} deep")
        version = raw.get("schema_version", SCHEMA_VERSION)
        if type(version) is not int or version < 1:
            raise ResultsFileError(f"{where} is not a singaudit results file: schema_version "
                                   f"must be a whole number, not {_json_type(version)} "
                                   f"{_excerpt(version)}")
        if version > SCHEMA_VERSION:
            raise ResultsFileError(f"{where} has schema_version {version}; this singaudit reads "
                                   f"up to {SCHEMA_VERSION}: upgrade singaudit")
        from singaudit.io.results_format import expand

        try:
            return cls.model_validate(expand(raw))
        except pydantic.ValidationError as error:
            first = error.errors()[0]
            loc = ".".join(str(part) for part in first["loc"]) or "(top level)"
            raise ResultsFileError(f"{where} is not a singaudit results file: {loc}: "
                                   f"{first['msg']} ({error.error_count()} problem(s))") from None
        except RecursionError:
            raise ResultsFileError(f"{where} is not a singaudit results file: its JSON is "
                                   "nested too deeply to read") from None


def _deeper_than(value: Any, limit: int) -> bool:
    """Whether lists and objects nest more than ``limit`` deep (walked without recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(
            item, list) else ()
        for child in children:
            if isinstance(child, (dict, list)):
                if depth + 1 > limit:
                    return True
                stack.append((child, depth + 1))
    return False


def _json_type(value: Any) -> str:
    """The JSON name of a parsed value's type, for messages."""
    if isinstance(value, bool):
        return "boolean"
    names = {dict: "object", list: "list", str: "string", int: "integer", float: "number",
             type(None): "null"}
    return names.get(type(value), type(value).__name__)


def _excerpt(value: Any, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class ResultsFileError(SingauditError):
    """A results.json that cannot be read as one."""


def comparison(models: list[ModelResult]) -> dict[str, Any]:
    """Per-model ratio, medians and per-image (AS, IS): each model's ``angles`` and the
    per-image values of the check result they name."""
    entries: list[dict[str, Any]] = []
    for model in models:
        angles = model.angles
        check = next((c for c in model.checks if angles is not None and c.name == angles.check),
                     None)
        if angles is None or check is None:
            continue
        values = angle_values(check)
        entries.append({
            "name": model.name,
            "ratio": angles.ratio,
            "median_is": angles.median_is,
            "median_as": angles.median_as,
            "median_abs_as": angles.median_abs_as,
            "is": values["is"],
            "as": values["as"],
        })
    ranked = sorted((e for e in entries if e["ratio"] is not None),
                    key=lambda e: e["ratio"], reverse=True)
    return {"models": entries, "ranking": [e["name"] for e in ranked]} if entries else {}


def angle_values(check: CheckResult) -> dict[str, list[float]]:
    """A check result's measured per-image IS and AS (its ``AngleData``; unmeasured left out)."""
    data = cast(AngleData, check.data)
    return {"is": [float(v) for v in data.get("is", []) if v is not None],
            "as": [float(v) for v in data.get("as", []) if v is not None]}
