"""Audit specs: plain pydantic models of the YAML audit files, loading and overrides (the
runner's plan resolves their names against the registries)."""

from singaudit.spec.loader import (
    Overrides,
    SpecOrigin,
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
    ReportSpec,
    TranslatorSpec,
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
    "ReportSpec",
    "SpecOrigin",
    "TranslatorSpec",
    "apply_overrides",
    "is_audit_spec",
    "iter_spec_files",
    "load_spec",
    "parse_spec_text",
]
