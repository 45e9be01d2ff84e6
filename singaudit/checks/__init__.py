"""Audit checks, registered by name; third parties add theirs through the ``singaudit.checks``
entry-point group or ``CHECKS.add(name, "package.module:CheckClass")``."""

from __future__ import annotations

from singaudit.checks.base import (
    Check,
    CheckParams,
    Measurements,
    MetricSpec,
    ModelContext,
    PromptSpec,
)
from singaudit.registry import Registry

CHECKS: Registry[type[Check]] = Registry("check", base=Check)

for _name in (
    "null_invariance",
    "translator_fidelity",
    "class_semantics",
    "concepts",
    "steering",
    "translation_consistency",
    "evidence",
    "null_probe",
):
    CHECKS.add(_name, f"singaudit.checks.{_name}:{''.join(p.title() for p in _name.split('_'))}Check")

CHECKS.add_entry_points("singaudit.checks")

__all__ = ["CHECKS", "Check", "CheckParams", "Measurements", "MetricSpec", "ModelContext", "PromptSpec"]
