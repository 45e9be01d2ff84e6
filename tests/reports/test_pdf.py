from __future__ import annotations

import logging
from pathlib import Path

import pypdf
import pytest

from singaudit.reports import render_reports
from singaudit.results import AuditResult


def _images_on(page: pypdf.PageObject) -> int:
    return len(page.images)


def test_pdf_opens_with_summary_page_first(rendered: dict[str, Path],
                                            sample_audit: AuditResult) -> None:
    reader = pypdf.PdfReader(rendered["pdf"])
    pages = len(reader.pages)
    # The summary page, provenance, comparison/legend, then at least one page per model.
    assert pages >= 2 + len(sample_audit.models)
    first = reader.pages[0].extract_text()
    assert "Verdict" in first and "NOT OK" in first
    assert "Provenance" not in first  # the summary has its own page
    assert f"page 1 of {pages}" in first
    assert f"page {pages} of {pages}" in reader.pages[-1].extract_text()


def test_pdf_carries_the_figures_and_hostile_text(rendered: dict[str, Path]) -> None:
    reader = pypdf.PdfReader(rendered["pdf"])
    assert sum(_images_on(page) for page in reader.pages) >= 20
    text = "".join(page.extract_text() for page in reader.pages)
    assert "<script>alert(1)</script>" in text  # shown as text, as in the HTML
    assert "median(abs_as): warn if > 3°" in text


def test_pdf_pages_fit_a4(rendered: dict[str, Path]) -> None:
    reader = pypdf.PdfReader(rendered["pdf"])
    for page in reader.pages:
        width, height = float(page.mediabox.width), float(page.mediabox.height)
        assert abs(width - 595.3) < 1 and abs(height - 841.9) < 1


def test_weasyprint_understands_the_shipped_css(tmp_path: Path,
                                                caplog: pytest.LogCaptureFixture) -> None:
    audit = AuditResult(name="small", status="pass", ok=True)
    audit.write(tmp_path / "results.json")
    with caplog.at_level(logging.WARNING, logger="weasyprint"):
        written = render_reports(tmp_path / "results.json", formats=("pdf",))
    assert written["pdf"].stat().st_size > 1000
    assert [r.getMessage() for r in caplog.records if r.name.startswith("weasyprint")] == []
