"""The audit spec: what a YAML audit file declares, as plain data validated with pydantic
(unknown keys refused). Names are checked against the registries (checks, sources, translator
architectures, engines) in one step by the runner's plan (``singaudit.runner.plan``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    Field,
    PrivateAttr,
    StrictInt,
    StrictStr,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from singaudit.checks.base import PromptSpec
from singaudit.pipeline.engines import ExecutionConfig
from singaudit.regression.tiers import RegressionSpec
from singaudit.strict import Strict

SPEC_KIND = "singaudit/audit"
SPEC_VERSION = 1

# Names end up in test ids, folder names and JUnit; keep them path- and shell-safe.
Name = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$", max_length=100)]
SourceId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_\-]+:.*$", description="'source:id'")]

# Image selection is the data section's alone; sources only list images.
SELECTION = ("classes", "images_per_class", "seed")


# Seeds feed numpy (non-negative only) and torch (below 2**64).
Seed = Annotated[int, Field(ge=0, lt=2**63)]
# A million images of one class is beyond any labelled dataset; larger counts are typos that
# would otherwise allocate until the machine gives out.
MAX_IMAGES_PER_CLASS = 1_000_000
ImagesPerClass = Annotated[int, Field(gt=0, le=MAX_IMAGES_PER_CLASS)]


class ModelSpec(Strict):
    """One classifier under audit."""

    name: Name
    id: SourceId
    options: dict[str, Any] = Field(default_factory=dict)
    # pass: a failure is unexpected (the default, as in pytest); fail: like xfail; none:
    # informational, reported but never part of the verdict.
    expect: Literal["pass", "fail", "none"] = "pass"
    # A run to compare with: a results.json path, a run folder, or a name in regression.store;
    # baseline_model names the model in that run (default: the same name).
    baseline: str | None = None
    baseline_model: Name | None = None


class JointSpaceSpec(Strict):
    id: SourceId
    options: dict[str, Any] = Field(default_factory=dict)


class DataSpec(Strict):
    """Images: a source, the classes (names, indices or "all"), how many per class, a seed."""

    id: SourceId
    options: dict[str, Any] = Field(default_factory=dict)
    classes: Literal["all"] | list[StrictStr | StrictInt] = "all"
    images_per_class: ImagesPerClass | None = None  # None: every image
    seed: Seed = 0

    @field_validator("classes", mode="before")
    @classmethod
    def _class_selection(cls, classes: Any) -> Any:
        # One clear message instead of one per union member.
        if classes == "all":
            return classes
        if not isinstance(classes, list) or not classes or not all(
            isinstance(c, (str, int)) and not isinstance(c, bool) for c in classes
        ):
            raise ValueError("classes must be 'all' or a non-empty list of class names or indices")
        return classes


class TranslatorSpec(Strict):
    """How T: features -> joint space is obtained: fitted (arch, fit data) or loaded (path)."""

    # A name in singaudit.pipeline.translators.TRANSLATOR_ARCHITECTURES (linear, mlp3, ...).
    arch: str = "linear"
    # None: the data source's images that are not audited (a held-out part of data), all
    # classes, at most fit_images_per_class of each.
    fit: DataSpec | None = None
    fit_images_per_class: ImagesPerClass | None = None
    heldout: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.2  # of the fit data, for alpha/fidelity
    path: str | None = None  # a saved translator (safetensors + metadata); no fitting
    # The architecture's options model: alphas, chunk_size (linear); loss, lr, epochs, ...
    options: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _path_or_fit(self) -> TranslatorSpec:
        if self.path is not None and self.fit is not None:
            raise ValueError("give either 'path' (a saved translator) or 'fit' data, not both")
        return self


class GeneratorSpec(Strict):
    """Visual evidence; id None: the joint space's default generator."""

    id: SourceId | None = None
    options: dict[str, Any] = Field(default_factory=dict)
    seeds: Annotated[list[Seed], Field(min_length=1, max_length=64)] = Field(
        default_factory=lambda: [0])
    size: Annotated[int, Field(gt=0, le=1024)] = 64


class MlflowSpec(Strict):
    """Where ``singaudit run`` logs the audit as MLflow runs (singaudit.integrations)."""

    tracking_uri: str | None = None  # None: MLFLOW_TRACKING_URI, else ./mlruns (a file store)
    experiment: str | None = None  # None: the audit's name
    run_name: str | None = None  # None: the audit's name


ReportFormat = Literal["html", "pdf", "json", "junit", "markdown"]


def _default_formats() -> list[ReportFormat]:
    return ["html", "json"]


class ReportSpec(Strict):
    formats: list[ReportFormat] = Field(default_factory=_default_formats)
    out: str | None = None  # None: reports/<name>, relative to the working directory
    # Where results are tracked changes no result: left out of the spec's hash.
    mlflow: MlflowSpec | None = Field(None, exclude=True)


class GeometrySpec(Strict):
    """How the head's rank (and so its null space) is decided."""

    # Relative tolerance on singular values (rank counts those above rank_tolerance * sigma_max);
    # None: max(classes, features) * float32's epsilon.
    rank_tolerance: Annotated[float, Field(gt=0, lt=1, allow_inf_nan=False)] | None = None


class AuditSpec(Strict):
    """A whole audit file (``kind: singaudit/audit``, ``version: 1``)."""

    version: Literal[1]
    kind: Literal["singaudit/audit"]
    name: Name
    description: str = ""
    models: Annotated[list[ModelSpec], Field(min_length=1)]
    joint_space: JointSpaceSpec | None = None  # None: geometry-only audits
    data: DataSpec
    translator: TranslatorSpec = Field(default_factory=TranslatorSpec)
    prompts: PromptSpec = Field(default_factory=PromptSpec)
    # What null removal leaves in the null space: "mean" (P_p f + P_n mu, mu the translator-fit
    # images' mean feature; immune to a constant offset there) or "zero" (the paper's P_p f).
    null_removal: Literal["zero", "mean"] = "mean"
    geometry: GeometrySpec = Field(default_factory=GeometrySpec)
    # check name -> its parameters as written; the plan validates them against the check's Params
    checks: Annotated[dict[str, Any], Field(min_length=1)]
    generator: GeneratorSpec | None = None
    # Regression tiers against baselines (models[].baseline, or the store's run of this audit).
    regression: RegressionSpec | None = None
    report: ReportSpec = Field(default_factory=ReportSpec)
    device: Annotated[str, Field(pattern=r"^(auto|cpu|mps|cuda(:\d+)?)$")] = "auto"
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "float32"
    batch_size: Annotated[int, Field(gt=0)] = 64
    cache_dir: str | None = None  # None: SINGAUDIT_CACHE or the platform cache folder
    seed: Seed = 0
    execution: ExecutionConfig = Field(default_factory=ExecutionConfig)
    _source_path: Path | None = PrivateAttr(default=None)
    # Where each key was written (singaudit.spec.loader.SpecOrigin), for errors found later.
    _origin: Any = PrivateAttr(default=None)

    @property
    def source_path(self) -> Path | None:
        """The file this spec was read from, if any."""
        return self._source_path

    @property
    def origin(self) -> Any:
        """Where this spec's keys were written (a ``SpecOrigin``; None: built in Python)."""
        return self._origin

    @field_validator("checks", mode="before")
    @classmethod
    def _checks_by_name(cls, raw: Any) -> Any:
        if not isinstance(raw, dict):
            raise PydanticCustomError("checks_mapping",
                                      "must be a mapping of check name -> parameters")
        return raw

    @field_validator("models")
    @classmethod
    def _unique_model_names(cls, models: list[ModelSpec]) -> list[ModelSpec]:
        names = [model.name for model in models]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"model names must be unique; repeated: {', '.join(duplicates)}")
        return models

    def model_by_name(self, name: str) -> ModelSpec:
        for model in self.models:
            if model.name == name:
                return model
        raise KeyError(name)
