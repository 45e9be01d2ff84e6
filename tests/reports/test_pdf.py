from __future__ import annotations

import logging
import os
from pathlib import Path

import pypdf
import pytest

from singaudit.reports import render_reports
from singaudit.results import AuditResult, CheckResult, ModelResult

# The demo's class_semantics result for its leaky model (per-class table with CIs and
# p-values, the widest the report prints); its figure data left out.
DEMO_CLASS_SEMANTICS = Path(__file__).parent / "data" / "demo_class_semantics.json"


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


def _css_warnings(records: list[logging.LogRecord]) -> list[str]:
    """Warnings weasyprint's CSS parser and validator logged; other warnings (fonts, the optional
    HarfBuzz-Subset library) depend on the machine, not on our stylesheet."""
    return [r.getMessage() for r in records
            if r.name.startswith("weasyprint") and f"{os.sep}css{os.sep}" in r.pathname]


def test_weasyprint_understands_the_shipped_css(tmp_path: Path,
                                                caplog: pytest.LogCaptureFixture) -> None:
    audit = AuditResult(name="small", status="pass", ok=True)
    audit.write(tmp_path / "results.json")
    with caplog.at_level(logging.WARNING, logger="weasyprint"):
        written = render_reports(tmp_path / "results.json", formats=("pdf",))
    assert written["pdf"].stat().st_size > 1000
    assert _css_warnings(caplog.records) == []


def test_css_warnings_are_seen_when_the_css_is_wrong(caplog: pytest.LogCaptureFixture) -> None:
    """The filter above is not vacuous: a stylesheet weasyprint cannot understand is reported."""
    import weasyprint

    with caplog.at_level(logging.WARNING, logger="weasyprint"):
        weasyprint.HTML(string="<p>x</p>").write_pdf(
            stylesheets=[weasyprint.CSS(string="p { colour: red; width: banana }")])
    assert len(_css_warnings(caplog.records)) >= 2


def test_pdf_prints_passing_checks_as_one_line(rendered: dict[str, Path],
                                               caplog: pytest.LogCaptureFixture) -> None:
    reader = pypdf.PdfReader(rendered["pdf"])
    text = " ".join("".join(page.extract_text() for page in reader.pages).split())
    html = rendered["html"].read_text()
    # Every check is named with its reason, but only checks that need a look carry figures:
    # the PDF holds fewer images than the HTML and no passing check's figure titles.
    assert "Null-space steering" in html and "Null-space steering" not in text
    assert "Per-class IS, signed AS and |AS|" in text  # a failing check, printed in full
    assert "their tables and figures are in report.html" in text
    assert sum(_images_on(page) for page in reader.pages) < html.count("<img ")


def test_pdf_links_resolve(sample_results: Path, tmp_path: Path,
                           caplog: pytest.LogCaptureFixture) -> None:
    folder = tmp_path / "copy"
    folder.mkdir()
    (folder / "results.json").write_bytes(sample_results.read_bytes())
    with caplog.at_level(logging.WARNING, logger="weasyprint"):
        render_reports(folder / "results.json", formats=("pdf",))
    assert not [r for r in caplog.records if "anchor" in r.getMessage()]


def test_pdf_tables_fit_the_page_width(sample_results: Path, sample_audit: AuditResult) -> None:
    """Wide per-class tables scroll on a screen; on paper nothing may run past the margin."""
    from singaudit.reports.pdf import data_only_fetcher, import_weasyprint
    from singaudit.reports.render import render_html

    demo_check = CheckResult.model_validate_json(DEMO_CLASS_SEMANTICS.read_text())
    leaky = ModelResult(name="leaky", id="calibration:leaky", expect="fail", status="fail",
                        expectation_met=True, checks=[demo_check])
    audit = sample_audit.model_copy(update={"models": [*sample_audit.models, leaky]})
    html = render_html(audit, sample_results.parent, paged=True)
    document = import_weasyprint().HTML(string=html, url_fetcher=data_only_fetcher()).render()
    tables = 0
    for page in document.pages:
        box = page._page_box
        right = box.margin_left + box.padding_left + box.width
        for child in box.descendants():
            if type(child).__name__ == "TableBox":
                tables += 1
                assert child.position_x + child.margin_width() <= right + 0.5
    assert tables >= 5
