"""Hook specifications of the singaudit pytest plugin (implement them in a conftest.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest


def pytest_singaudit_audit_finished(
    config: pytest.Config, spec: Any, result: Any, path: Path | None
) -> None:
    """Called once per audit run, with its AuditSpec and AuditResult (``path``: the spec file,
    None for an in-code audit), e.g. to upload results or fail on a custom rule."""


@pytest.hookspec(firstresult=True)
def pytest_singaudit_check_properties(
    item: pytest.Item, model: Any, check: Any
) -> list[tuple[str, Any]] | None:
    """Return the (name, value) pairs recorded as JUnit properties for one model x check
    item (ModelResult, CheckResult), replacing the default key metrics."""
