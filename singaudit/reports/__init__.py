"""Shareable reports rendered from results.json: self-contained HTML, PDF and JUnit XML.

The ``data`` and ``artefacts`` keys each figure reads are listed in README.md beside this file.
"""

from singaudit.reports.junit import junit_xml
from singaudit.reports.render import (
    FORMATS,
    ReportError,
    builtin_templates_dir,
    load_results,
    render_html,
    render_reports,
)

__all__ = [
    "FORMATS",
    "ReportError",
    "builtin_templates_dir",
    "junit_xml",
    "load_results",
    "render_html",
    "render_reports",
]
