"""Shareable reports rendered from results.json: self-contained HTML, PDF and JUnit XML.

The ``data`` and ``artefacts`` keys each figure reads are listed in README.md beside this file.
Names are imported on first use, so the PDF worker (``singaudit.reports.pdf``) starts without
jinja2 and pydantic.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from singaudit.lazy import lazy_exports

_EXPORTS = {
    "FORMATS": "singaudit.reports.render",
    "ReportError": "singaudit.reports.render",
    "builtin_templates_dir": "singaudit.reports.render",
    "junit_xml": "singaudit.reports.junit",
    "load_results": "singaudit.reports.render",
    "render_html": "singaudit.reports.render",
    "render_reports": "singaudit.reports.render",
    "PdfWorker": "singaudit.reports.pdf",
}

__all__ = [
    "FORMATS",
    "PdfWorker",
    "ReportError",
    "builtin_templates_dir",
    "junit_xml",
    "load_results",
    "render_html",
    "render_reports",
]

if TYPE_CHECKING:
    from singaudit.reports.junit import junit_xml
    from singaudit.reports.pdf import PdfWorker
    from singaudit.reports.render import (
        FORMATS,
        ReportError,
        builtin_templates_dir,
        load_results,
        render_html,
        render_reports,
    )


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
