"""Audit specs: pydantic models of the YAML audit files, loading, overrides and the JSON Schema."""

from singaudit.spec.loader import (
    Overrides,
    apply_overrides,
    is_audit_spec,
    iter_spec_files,
    load_spec,
    parse_spec_text,
)
from singaudit.spec.models import (
    SPEC_KIND,
    SPEC_VERSION,
    AuditSpec,
    DataSpec,
    GeneratorSpec,
    JointSpaceSpec,
    ModelSpec,
    PromptsSpec,
    ReportSpec,
    TranslatorSpec,
    spec_json_schema,
)

__all__ = [
    "SPEC_KIND",
    "SPEC_VERSION",
    "AuditSpec",
    "DataSpec",
    "GeneratorSpec",
    "JointSpaceSpec",
    "ModelSpec",
    "Overrides",
    "PromptsSpec",
    "ReportSpec",
    "TranslatorSpec",
    "apply_overrides",
    "is_audit_spec",
    "iter_spec_files",
    "load_spec",
    "parse_spec_text",
    "spec_json_schema",
]
