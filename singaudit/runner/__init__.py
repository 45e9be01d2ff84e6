"""The audit runner: builds each artefact once, runs every model x check, writes results.json."""

from singaudit.runner.session import (
    AuditSession,
    comparison,
    expectation_met,
    output_dir,
    run_audit,
    selected,
)
from singaudit.spec import load_spec

__all__ = [
    "AuditSession",
    "comparison",
    "expectation_met",
    "load_spec",
    "output_dir",
    "run_audit",
    "selected",
]
