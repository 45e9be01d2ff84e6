from __future__ import annotations

from pathlib import Path

import pytest
from report_sample_audit import build_sample_audit

from singaudit.reports import render_reports
from singaudit.results import AuditResult


@pytest.fixture(scope="session")
def sample_results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """results.json of the sample audit, with its evidence PNGs beside it."""
    folder = tmp_path_factory.mktemp("sample_audit")
    build_sample_audit(folder).write(folder / "results.json")
    return folder / "results.json"


@pytest.fixture(scope="session")
def sample_audit(sample_results: Path) -> AuditResult:
    return AuditResult.read(sample_results)


@pytest.fixture(scope="session")
def rendered(sample_results: Path) -> dict[str, Path]:
    """All three reports of the sample audit, rendered once for the session."""
    return render_reports(sample_results)
