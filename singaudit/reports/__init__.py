"""Shareable reports rendered from results.json: self-contained HTML, PDF and JUnit XML.

The ``data`` and ``artefacts`` keys each figure reads are listed in README.md beside this file.
Names are imported on first use, so the PDF worker (``singaudit.reports.pdf``) starts without
jinja2 and pydantic.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

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

__all__ = sorted(_EXPORTS)

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


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
