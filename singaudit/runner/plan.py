"""The plan of an audit: its spec (plain data, as written) resolved against the registries in one
step. Checks become their classes with validated parameters, source names their registered
sources (options checked against each loader), the translator architecture its canonical name
and the engine its ``Engine``; every name that resolves to nothing is one SpecError at its
file:line: key.path, all errors at once.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from pydantic import ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError

from singaudit.adapters import sources
from singaudit.checks import CHECKS, Check, CheckParams
from singaudit.checks.base import PromptSpec
from singaudit.errors import SpecError
from singaudit.pipeline.engines import (
    EXECUTORS,
    Engine,
    ExecutionConfig,
    get_engine,
    misplaced_options,
)
from singaudit.pipeline.translators import get_architecture
from singaudit.registry import Registry, RegistryError
from singaudit.spec.loader import (
    Overrides,
    SpecOrigin,
    did_you_mean,
    load_spec,
    parse_spec_text,
    schema_keys,
)
from singaudit.spec.models import SELECTION, AuditSpec

# Error details as pydantic's ValidationError.from_exception_data takes them.
Errors = list[InitErrorDetails]
Loc = tuple[str | int, ...]


@dataclass(frozen=True)
class PlannedCheck:
    """One check of the audit: its class and its parameters, validated."""

    name: str
    check: type[Check[Any]]
    params: CheckParams


@dataclass(frozen=True)
class Plan:
    """What a run executes: the spec (translator architecture and ``--data`` resolved), every
    check with its parameters, the prompts and the execution engine."""

    spec: AuditSpec
    checks: Mapping[str, PlannedCheck]
    engine: Engine

    @property
    def prompts(self) -> PromptSpec:
        return self.spec.prompts

    def params(self) -> Iterator[tuple[str, CheckParams]]:
        """(check name, parameters) in the spec's order."""
        return ((name, planned.params) for name, planned in self.checks.items())

    def spec_dump(self) -> dict[str, Any]:
        """The spec as JSON values, each check's parameters in full (defaults included)."""
        dumped = self.spec.model_dump(mode="json")
        dumped["checks"] = {name: planned.params.model_dump(mode="json")
                            for name, planned in self.checks.items()}
        return dumped

    def spec_hash(self) -> str:
        """sha256 of the resolved spec (canonical JSON), for provenance and reports; where the
        forward passes ran (``execution``) changes no result, so it is left out."""
        dumped = self.spec_dump()
        dumped.pop("execution", None)
        text = json.dumps(dumped, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()


def make_plan(spec: AuditSpec | Plan) -> Plan:
    """The plan of ``spec`` (a plan is its own); SpecError listing every name or parameter the
    registries refuse, each at its file:line: key.path."""
    if isinstance(spec, Plan):
        return spec
    if not isinstance(spec, AuditSpec) and hasattr(spec, "engine"):
        return cast(Plan, spec)  # a Plan of another import of this module (pytester re-imports)
    origin = spec.origin if isinstance(spec.origin, SpecOrigin) else SpecOrigin()
    resolved = _Resolution(spec.model_dump(), origin)
    if resolved.errors:
        raise origin.error(ValidationError.from_exception_data("AuditSpec", resolved.errors))
    assert resolved.engine is not None  # no error: the engine resolved
    data = spec.data.model_copy(update={"id": resolved.data_id})
    translator = spec.translator.model_copy(update={"arch": resolved.arch})
    return Plan(spec=spec.model_copy(update={"data": data, "translator": translator}),
                checks=resolved.checks, engine=resolved.engine)


def load_plan(path: str | Path, overrides: Overrides | None = None) -> Plan:
    """Read, validate and plan one audit file: every error, of its structure and of its
    names, in one SpecError."""
    return make_plan(load_spec(path, overrides, more_errors=document_errors))


def plan_text(text: str, *, source: str = "<spec>", overrides: Overrides | None = None) -> Plan:
    """``load_plan`` of audit YAML text."""
    return make_plan(parse_spec_text(text, source=source, overrides=overrides,
                                     more_errors=document_errors))


def document_errors(document: Mapping[str, Any], origin: SpecOrigin) -> Errors:
    """What the registries refuse in a raw audit document (overrides applied), for the loader to
    report with its own errors; parts of the wrong shape are left to those."""
    return _Resolution(document, origin).errors


def _error(kind: str, message: str, loc: Loc, value: Any) -> InitErrorDetails:
    return InitErrorDetails(type=PydanticCustomError(kind, message), loc=loc, input=value)


def _under(loc: Loc, errors: Errors) -> Errors:
    """``errors`` located under ``loc``."""
    return [{**error, "loc": (*loc, *error.get("loc", ()))} for error in errors]


def _nested(error: ValidationError, loc: Loc = (), *, keep_messages: bool = True) -> Errors:
    """``error``'s details located under ``loc``; a validator's own message kept as written
    (``keep_messages``) rather than prefixed by pydantic's "Value error, "."""
    found: Errors = []
    for detail in error.errors():
        where = (*loc, *detail["loc"])
        if keep_messages and detail["type"] in ("value_error", "assertion_error"):
            found.append(_error("invalid", detail["msg"].removeprefix("Value error, "), where,
                                detail["input"]))
            continue
        if detail["type"] == "extra_forbidden" and detail["loc"]:  # the loader knows no check's
            message = detail["msg"] + did_you_mean(str(detail["loc"][-1]),
                                                  schema_keys(spec_json_schema()))
            found.append(_error("unknown_key", message, where, detail["input"]))
            continue
        entry = InitErrorDetails(type=detail["type"], loc=where, input=detail["input"])
        if "ctx" in detail:
            entry["ctx"] = detail["ctx"]
        found.append(entry)
    return found


# ---------------------------------------------------------------- resolution


def _mapping(value: Any) -> Mapping[str, Any]:
    """``value`` if it is a mapping; else nothing (its shape is the loader's error)."""
    return value if isinstance(value, Mapping) else {}


class _Resolution:
    """A raw audit document's names resolved against the registries, with every error (in the
    spec's order of keys). Values of the wrong shape are skipped: the spec's own validation
    reports them."""

    def __init__(self, document: Mapping[str, Any], origin: SpecOrigin) -> None:
        self.origin = origin
        self.errors: Errors = []
        self.checks: dict[str, PlannedCheck] = {}
        self.engine: Engine | None = None
        models = document.get("models")
        for index, model in enumerate(models if isinstance(models, list) else []):
            self._source(sources.CLASSIFIER_SOURCES, _mapping(model), ("models", index))
        if document.get("joint_space") is not None:
            self._source(sources.JOINT_SPACE_SOURCES, _mapping(document["joint_space"]),
                         ("joint_space",))
        data = _mapping(document.get("data"))
        self.data_id = self._data_id(data.get("id"))
        self._source(sources.DATA_SOURCES, {**data, "id": self.data_id}, ("data",))
        self.arch = self._translator(_mapping(document.get("translator")))
        self._checks(_mapping(document.get("checks")))
        generator = _mapping(document.get("generator"))
        if generator.get("id") is not None:  # None: the joint space's own generator
            self._source(sources.GENERATOR_SOURCES, generator, ("generator",))
        execution = document.get("execution")
        self._engine(_mapping(execution) if execution is not None else {})

    def _data_id(self, data_id: Any) -> Any:
        """``--data a:b`` whose ``a`` is no data source: the folder path it was (``C:/x``)."""
        given = self.origin.touched.get("data.id", "")
        if (isinstance(data_id, str) and given.startswith("--data ")
                and data_id.partition(":")[0] not in sources.DATA_SOURCES):
            return f"folder:{data_id}"
        return data_id

    def _source(self, registry: Registry[Any], section: Mapping[str, Any], loc: Loc) -> None:
        """An unregistered ``source`` of ``source:id`` (nothing is loaded), or the options its
        loader does not accept."""
        source_id = section.get("id")
        if not isinstance(source_id, str) or ":" not in source_id:
            return
        name = source_id.partition(":")[0]
        if name not in registry:
            message = f"unknown {registry.kind} {name!r}; available: {', '.join(registry.names())}"
            self.errors.append(_error("unknown_source", message, (*loc, "id"), source_id))
            return
        options = section.get("options")
        if not isinstance(options, Mapping):
            return
        try:
            source = sources.get_source(registry, name)
        except RegistryError:
            return  # it cannot be imported: the run reports it
        moved = _moved_selection_options(options, source.moved_options) \
            if registry is sources.DATA_SOURCES else []
        unknown = _unknown_options({k: v for k, v in options.items() if k not in SELECTION},
                                   source.accepted_options(), f"{registry.kind} {name!r}")
        self.errors += _under((*loc, "options"), moved + unknown)

    def _translator(self, translator: Mapping[str, Any]) -> Any:
        """The canonical architecture name (errors of the translator section noted)."""
        arch = translator.get("arch", "linear")
        if not isinstance(arch, str):
            return arch
        try:
            architecture = get_architecture(arch)
        except SpecError as error:
            self.errors.append(_error("unknown_arch", str(error), ("translator", "arch"), arch))
            architecture = None
        options = translator.get("options", {})
        if architecture is not None and isinstance(options, Mapping):
            model = architecture.options
            self.errors += _under(("translator", "options"), _unknown_options(
                options, frozenset(model.model_fields), f"a {architecture.name} translator"))
            try:
                model.model_validate({k: v for k, v in options.items()
                                      if k in model.model_fields})
            except ValidationError as invalid:
                self.errors += _nested(invalid, ("translator", "options"), keep_messages=False)
        fit = translator.get("fit")
        if fit is not None:
            self._source(sources.DATA_SOURCES, _mapping(fit), ("translator", "fit"))
        return architecture.name if architecture is not None else arch

    def _checks(self, raw: Mapping[str, Any]) -> None:
        """Each entry validated against its own check's Params, errors keeping their key paths."""
        for name, params in raw.items():
            loc: Loc = ("checks", name)
            if name not in CHECKS:
                message = f"unknown check {name!r}; available: {', '.join(CHECKS.names())}"
                self.errors.append(_error("unknown_check", message, loc, params))
                continue
            try:
                check = CHECKS.get(name)
            except RegistryError as error:
                self.errors.append(_error(
                    "check_unloadable", f"check {name!r} cannot be loaded: {error}", loc, params))
                continue
            try:
                validated = check.Params.model_validate({} if params is None else params)
            except ValidationError as error:
                self.errors += _nested(error, loc)
                continue
            self.checks[name] = PlannedCheck(name, check, validated)

    def _engine(self, execution: Mapping[str, Any]) -> None:
        name = execution.get("engine", "local")
        if not isinstance(name, str):
            return
        try:
            self.engine = get_engine(name)
        except RegistryError:
            message = (f"unknown execution engine {name!r}; available: "
                       f"{', '.join(EXECUTORS.names())}")
            self.errors.append(_error("unknown_engine", message, ("execution", "engine"), name))
            return
        try:
            config = ExecutionConfig.model_validate(execution)
        except ValidationError:
            return
        misplaced = misplaced_options(config)
        if misplaced is not None:
            self.errors.append(_error("engine_options", misplaced, ("execution",),
                                      dict(execution)))


def _unknown_options(options: Mapping[str, Any], accepted: frozenset[str] | None,
                     what: str) -> Errors:
    """One error per unknown option key, located at that key (so its line is found)."""
    if accepted is None:
        return []
    choices = ", ".join(sorted(accepted)) or "none"
    return [_error("unknown_option", f"unknown option {key!r} for {what}; accepted: {choices}",
                   (key,), value)
            for key, value in options.items() if key not in accepted]


def _moved_selection_options(options: Mapping[str, Any], hints: Mapping[str, str]) -> Errors:
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
        errors.append(_error("moved_option", message, (key,), options[key]))
    return errors

# ---------------------------------------------------------------- the JSON Schema


def spec_json_schema() -> dict[str, Any]:
    """The JSON Schema of audit files, with each registered check's own parameters."""
    schema = AuditSpec.model_json_schema()
    definitions = schema.setdefault("$defs", {})
    check_properties: dict[str, Any] = {}
    for name in CHECKS.names():
        try:
            params_schema = CHECKS.get(name).Params.model_json_schema(
                ref_template="#/$defs/{model}")
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
