"""The audit spec: what a YAML audit file declares, validated with pydantic (unknown keys refused)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SerializeAsAny,
    StrictInt,
    StrictStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from singaudit.checks.base import CheckParams, PromptSpec
from singaudit.pipeline.engines import ExecutionConfig
from singaudit.regression.tiers import RegressionSpec

SPEC_KIND = "singaudit/audit"
SPEC_VERSION = 1

# Names end up in test ids, folder names and JUnit; keep them path- and shell-safe.
Name = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$", max_length=100)]
SourceId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_\-]+:.*$", description="'source:id'")]


def _registry(registry_name: str) -> Any:
    from singaudit.adapters import sources

    return getattr(sources, registry_name)


def _known_source(registry_name: str) -> AfterValidator:
    """A validator: the ``source`` of ``source:id`` must be registered (nothing is loaded)."""

    def check(name: str) -> str:
        registry = _registry(registry_name)
        source = name.partition(":")[0]
        if source not in registry:
            raise ValueError(f"unknown {registry.kind} {source!r}; available: "
                             f"{', '.join(registry.names())}")
        return name

    return AfterValidator(check)


def _unknown_options(options: dict[str, Any], accepted: frozenset[str] | None,
                     what: str) -> list[dict[str, Any]]:
    """One error per unknown option key, located at that key (so its line is found)."""
    if accepted is None:
        return []
    choices = ", ".join(sorted(accepted)) or "none"
    return [{"type": PydanticCustomError(
                "unknown_option", f"unknown option {key!r} for {what}; accepted: {choices}"),
             "loc": (key,), "input": value}
            for key, value in options.items() if key not in accepted]


# Image selection is the data section's alone; sources only list images.
SELECTION = ("classes", "images_per_class", "seed")


def _moved_selection_options(options: dict[str, Any], hints: Any) -> list[dict[str, Any]]:
    """The old ``options`` spelling of selection keys: an error naming the new key (and, from
    the source's ``moved_options``, what its own option of that old meaning is now)."""
    errors = []
    for key in SELECTION:
        if key not in options:
            continue
        message = (f"'{key}' is no longer a data source option: image selection lives in the "
                   f"data section, set data.{key} (translator.fit.{key} for fit data)")
        if key in hints:
            message += f"; {hints[key]}"
        errors.append({"type": PydanticCustomError("moved_option", message), "loc": (key,),
                       "input": options[key]})
    return errors


def _check_source_options(registry_name: str, options: dict[str, Any], info: Any
                          ) -> dict[str, Any]:
    source_id = info.data.get("id")
    if not source_id:
        return options  # the id itself is invalid (or defaulted): reported on its own
    from singaudit.adapters.sources import get_source
    from singaudit.registry import RegistryError

    registry = _registry(registry_name)
    name = source_id.partition(":")[0]
    try:
        source = get_source(registry, name)
    except RegistryError:
        source = None  # it cannot be imported: the run reports it
    moved = (_moved_selection_options(options, source.moved_options if source else {})
             if registry_name == "DATA_SOURCES" else [])
    errors = moved + _unknown_options({k: v for k, v in options.items() if k not in SELECTION},
                                      source.accepted_options() if source else None,
                                      f"{registry.kind} {name!r}")
    if errors:
        raise ValidationError.from_exception_data("options", errors)
    return options


# Seeds feed numpy (non-negative only) and torch (below 2**64).
Seed = Annotated[int, Field(ge=0, lt=2**63)]
# A million images of one class is beyond any labelled dataset; larger counts are typos that
# would otherwise allocate until the machine gives out.
MAX_IMAGES_PER_CLASS = 1_000_000
ImagesPerClass = Annotated[int, Field(gt=0, le=MAX_IMAGES_PER_CLASS)]


ClassifierId = Annotated[SourceId, _known_source("CLASSIFIER_SOURCES")]
JointSpaceId = Annotated[SourceId, _known_source("JOINT_SPACE_SOURCES")]
DataId = Annotated[SourceId, _known_source("DATA_SOURCES")]
GeneratorId = Annotated[SourceId, _known_source("GENERATOR_SOURCES")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ModelSpec(_Strict):
    """One classifier under audit."""

    name: Name
    id: ClassifierId
    options: dict[str, Any] = Field(default_factory=dict)
    # pass: a failure is unexpected (the default, as in pytest); fail: like xfail; none:
    # informational, reported but never part of the verdict.
    expect: Literal["pass", "fail", "none"] = "pass"
    # A run to compare with: a results.json path, a run folder, or a name in regression.store;
    # baseline_model names the model in that run (default: the same name).
    baseline: str | None = None
    baseline_model: Name | None = None

    @field_validator("options")
    @classmethod
    def _known_options(cls, options: dict[str, Any], info) -> dict[str, Any]:
        return _check_source_options("CLASSIFIER_SOURCES", options, info)


class JointSpaceSpec(_Strict):
    id: JointSpaceId
    options: dict[str, Any] = Field(default_factory=dict)

    @field_validator("options")
    @classmethod
    def _known_options(cls, options: dict[str, Any], info) -> dict[str, Any]:
        return _check_source_options("JOINT_SPACE_SOURCES", options, info)


class DataSpec(_Strict):
    """Images: a source, the classes (names, indices or "all"), how many per class, a seed."""

    id: DataId
    options: dict[str, Any] = Field(default_factory=dict)
    classes: Literal["all"] | list[StrictStr | StrictInt] = "all"
    images_per_class: ImagesPerClass | None = None  # None: every image
    seed: Seed = 0

    @field_validator("options")
    @classmethod
    def _known_options(cls, options: dict[str, Any], info) -> dict[str, Any]:
        return _check_source_options("DATA_SOURCES", options, info)

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


def _translator_arch(name: str) -> str:
    """A registered translator architecture (an alias resolves to its name)."""
    from singaudit.errors import SpecError
    from singaudit.pipeline.translators import get_architecture

    try:
        return get_architecture(name).name
    except SpecError as error:
        raise ValueError(str(error)) from None


def _translator_options_errors(arch: str, options: dict[str, Any]) -> list[dict[str, Any]]:
    """``options`` checked against ``arch``'s options model, one error per bad key."""
    from singaudit.pipeline.translators import get_architecture

    model = get_architecture(arch).options
    errors = _unknown_options(options, frozenset(model.model_fields), f"a {arch} translator")
    try:
        model.model_validate({k: v for k, v in options.items() if k in model.model_fields})
    except ValidationError as invalid:
        errors += [{"type": d["type"], "loc": d["loc"], "input": d["input"],
                    **({"ctx": d["ctx"]} if "ctx" in d else {})} for d in invalid.errors()]
    return errors


class TranslatorSpec(_Strict):
    """How T: features -> joint space is obtained: fitted (arch, fit data) or loaded (path)."""

    # A name in singaudit.pipeline.translators.TRANSLATOR_ARCHITECTURES (linear, mlp3, ...).
    arch: Annotated[str, AfterValidator(_translator_arch)] = "linear"
    # None: the data source's images that are not audited (a held-out part of data), all
    # classes, at most fit_images_per_class of each.
    fit: DataSpec | None = None
    fit_images_per_class: ImagesPerClass | None = None
    heldout: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.2  # of the fit data, for alpha/fidelity
    path: str | None = None  # a saved translator (safetensors + metadata); no fitting
    # The architecture's options model: alphas, chunk_size (linear); loss, lr, epochs, ...
    options: dict[str, Any] = Field(default_factory=dict)

    @field_validator("options")
    @classmethod
    def _known_options(cls, options: dict[str, Any], info) -> dict[str, Any]:
        arch = info.data.get("arch")
        errors = _translator_options_errors(arch, options) if arch else []
        if errors:
            raise ValidationError.from_exception_data("options", errors)
        return options

    @model_validator(mode="after")
    def _path_or_fit(self) -> TranslatorSpec:
        if self.path is not None and self.fit is not None:
            raise ValueError("give either 'path' (a saved translator) or 'fit' data, not both")
        return self


class PromptsSpec(_Strict):
    """Class prompts: one template, or an ensemble (mean of unit text embeddings)."""

    template: str = "an image of a {class}"
    ensemble: Annotated[list[str], Field(min_length=1)] | None = None

    @field_validator("template")
    @classmethod
    def _has_placeholder(cls, template: str) -> str:
        if "{class}" not in template:
            raise ValueError("a prompt template must contain '{class}'")
        return template

    @field_validator("ensemble")
    @classmethod
    def _all_have_placeholder(cls, ensemble: list[str] | None) -> list[str] | None:
        for template in ensemble or []:
            cls._has_placeholder(template)
        return ensemble

    def to_prompt_spec(self) -> PromptSpec:
        return PromptSpec(tuple(self.ensemble) if self.ensemble else (self.template,))


class GeneratorSpec(_Strict):
    """Visual evidence; id None: the joint space's default generator."""

    id: GeneratorId | None = None
    options: dict[str, Any] = Field(default_factory=dict)
    seeds: Annotated[list[Seed], Field(min_length=1, max_length=64)] = Field(
        default_factory=lambda: [0])
    size: Annotated[int, Field(gt=0, le=1024)] = 64

    @field_validator("options")
    @classmethod
    def _known_options(cls, options: dict[str, Any], info) -> dict[str, Any]:
        if info.data.get("id") is None:
            return options  # the joint space's default generator: known only when loaded
        return _check_source_options("GENERATOR_SOURCES", options, info)


# Where forward passes run: the executors' own configuration (engines are a registry there).
ExecutionSpec = ExecutionConfig


class MlflowSpec(_Strict):
    """Where ``singaudit run`` logs the audit as MLflow runs (singaudit.integrations)."""

    tracking_uri: str | None = None  # None: MLFLOW_TRACKING_URI, else ./mlruns (a file store)
    experiment: str | None = None  # None: the audit's name
    run_name: str | None = None  # None: the audit's name


class ReportSpec(_Strict):
    formats: list[Literal["html", "pdf", "json", "junit", "markdown"]] = Field(
        default_factory=lambda: ["html", "json"]
    )
    out: str | None = None  # None: reports/<name>, relative to the working directory
    # Where results are tracked changes no result: left out of the spec's hash.
    mlflow: MlflowSpec | None = Field(None, exclude=True)


def _check_params_class(name: str) -> type[CheckParams]:
    from singaudit.checks import CHECKS

    return CHECKS.get(name).Params


def _validate_checks(raw: Any) -> dict[str, CheckParams]:
    """Each entry validated against its own check's Params, errors keeping their key paths."""
    from singaudit.checks import CHECKS
    from singaudit.registry import RegistryError

    if not isinstance(raw, dict):
        raise PydanticCustomError("checks_mapping", "must be a mapping of check name -> parameters")
    errors: list[dict[str, Any]] = []
    validated: dict[str, CheckParams] = {}
    for name, params in raw.items():
        if name not in CHECKS:
            available = ", ".join(CHECKS.names())
            message = f"unknown check {name!r}; available: {available}"
            errors.append({"type": PydanticCustomError("unknown_check", message), "loc": (name,),
                           "input": params})
            continue
        try:
            params_class = CHECKS.get(name).Params
        except RegistryError as error:
            message = f"check {name!r} cannot be loaded: {error}"
            errors.append({"type": PydanticCustomError("check_unloadable", message), "loc": (name,),
                           "input": params})
            continue
        try:
            validated[name] = params_class.model_validate({} if params is None else params)
        except ValidationError as error:
            for detail in error.errors():
                entry = {"type": detail["type"], "loc": (name, *detail["loc"]),
                         "input": detail["input"]}
                if "ctx" in detail:
                    entry["ctx"] = detail["ctx"]
                if detail["type"] in ("value_error", "assertion_error"):
                    entry = {"type": PydanticCustomError("check_params", detail["msg"]),
                             "loc": entry["loc"], "input": detail["input"]}
                errors.append(entry)
    if errors:
        raise ValidationError.from_exception_data("checks", errors)
    return validated


class GeometrySpec(_Strict):
    """How the head's rank (and so its null space) is decided."""

    # Relative tolerance on singular values (rank counts those above rank_tolerance * sigma_max);
    # None: max(classes, features) * float32's epsilon.
    rank_tolerance: Annotated[float, Field(gt=0, lt=1, allow_inf_nan=False)] | None = None


class AuditSpec(_Strict):
    """A whole audit file (``kind: singaudit/audit``, ``version: 1``)."""

    version: Literal[1]
    kind: Literal["singaudit/audit"]
    name: Name
    description: str = ""
    models: Annotated[list[ModelSpec], Field(min_length=1)]
    joint_space: JointSpaceSpec | None = None  # None: geometry-only audits
    data: DataSpec
    translator: TranslatorSpec = Field(default_factory=TranslatorSpec)
    prompts: PromptsSpec = Field(default_factory=PromptsSpec)
    # What null removal leaves in the null space: "mean" (P_p f + P_n mu, mu the translator-fit
    # images' mean feature; immune to a constant offset there) or "zero" (the paper's P_p f).
    null_removal: Literal["zero", "mean"] = "mean"
    geometry: GeometrySpec = Field(default_factory=GeometrySpec)
    checks: Annotated[dict[str, SerializeAsAny[CheckParams]], Field(min_length=1)]
    generator: GeneratorSpec | None = None
    # Regression tiers against baselines (models[].baseline, or the store's run of this audit).
    regression: RegressionSpec | None = None
    report: ReportSpec = Field(default_factory=ReportSpec)
    device: Annotated[str, Field(pattern=r"^(auto|cpu|mps|cuda(:\d+)?)$")] = "auto"
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "float32"
    batch_size: Annotated[int, Field(gt=0)] = 64
    cache_dir: str | None = None  # None: SINGAUDIT_CACHE or the platform cache folder
    seed: Seed = 0
    execution: ExecutionSpec = Field(default_factory=ExecutionSpec)
    _source_path: Path | None = PrivateAttr(default=None)

    @property
    def source_path(self) -> Path | None:
        """The file this spec was read from, if any."""
        return self._source_path

    @field_validator("checks", mode="before")
    @classmethod
    def _checks_by_name(cls, raw: Any) -> dict[str, CheckParams]:
        return _validate_checks(raw)

    @field_validator("models")
    @classmethod
    def _unique_model_names(cls, models: list[ModelSpec]) -> list[ModelSpec]:
        names = [model.name for model in models]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"model names must be unique; repeated: {', '.join(duplicates)}")
        return models

    def spec_hash(self) -> str:
        """sha256 of the validated spec (canonical JSON), for provenance and reports; where the
        forward passes ran (``execution``) changes no result, so it is left out."""
        text = json.dumps(self.model_dump(mode="json", exclude={"execution"}), sort_keys=True,
                          separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    def model_by_name(self, name: str) -> ModelSpec:
        for model in self.models:
            if model.name == name:
                return model
        raise KeyError(name)


def spec_json_schema() -> dict[str, Any]:
    """The JSON Schema of audit files, with each registered check's own parameters."""
    from singaudit.checks import CHECKS
    from singaudit.registry import RegistryError

    schema = AuditSpec.model_json_schema()
    definitions = schema.setdefault("$defs", {})
    check_properties: dict[str, Any] = {}
    for name in CHECKS.names():
        try:
            params_schema = _check_params_class(name).model_json_schema(
                ref_template="#/$defs/{model}"
            )
        except RegistryError:
            check_properties[name] = {"type": "object", "description": "(check not loadable)"}
            continue
        definitions.update(params_schema.pop("$defs", {}))
        check_properties[name] = {"anyOf": [params_schema, {"type": "null"}]}
    schema["properties"]["checks"] = {
        "type": "object",
        "description": "check name -> that check's parameters",
        "properties": check_properties,
        "additionalProperties": False,
        "minProperties": 1,
    }
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "singaudit audit spec"
    return schema
