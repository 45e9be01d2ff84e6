"""Render report.html, report.pdf and junit.xml beside a results.json, atomically."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import jinja2

import singaudit
from singaudit.errors import SingauditError
from singaudit.io.atomic import atomic_write_text
from singaudit.io.output_folder import record_outputs
from singaudit.reports.context import build_context
from singaudit.reports.junit import junit_xml
from singaudit.reports.pdf import PdfWorker, write_pdf
from singaudit.results import AuditResult, ResultsFileError

FORMATS = ("html", "pdf", "junit", "markdown")
OUTPUT_NAMES = {"html": "report.html", "pdf": "report.pdf", "junit": "junit.xml",
                "markdown": "report.md"}
MAIN_TEMPLATE = "report.html.jinja"


class ReportError(SingauditError):
    """A results file or templates folder that cannot be turned into a report."""


def builtin_templates_dir() -> Path:
    """The shipped templates: ``singaudit/_templates`` in a wheel, ``<repo>/templates`` else."""
    package_dir = Path(singaudit.__file__).resolve().parent
    for candidate in (package_dir / "_templates", package_dir.parent / "templates"):
        if (candidate / MAIN_TEMPLATE).is_file():
            return candidate
    raise ReportError(f"singaudit's report templates are missing (looked for {MAIN_TEMPLATE} in "
                      f"{package_dir / '_templates'} and {package_dir.parent / 'templates'}); "
                      "reinstall singaudit")


def template_environment(templates_dir: Path | None = None) -> jinja2.Environment:
    """Jinja2 with autoescape; a user folder overrides the shipped templates file by file."""
    folders = [builtin_templates_dir()]
    if templates_dir is not None:
        user_dir = Path(templates_dir)
        if not user_dir.is_dir():
            raise ReportError(f"templates folder {user_dir} does not exist")
        folders.insert(0, user_dir)
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader([str(f) for f in folders]),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def load_results(results_path: Path) -> AuditResult:
    """Read results.json; every problem is one ReportError message."""
    path = Path(results_path)
    if path.is_dir():
        path = path / "results.json"
    if not path.is_file():
        raise ReportError(f"no results file at {path}; run `singaudit run SPEC` first")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise ReportError(f"{path} is not valid JSON: {error}") from None
    try:
        return AuditResult.parse(text, str(path))
    except ResultsFileError as error:
        raise ReportError(str(error)) from None


def render_html(audit: AuditResult, results_dir: Path, templates_dir: Path | None = None,
                paged: bool = False, context: dict | None = None,
                environment: jinja2.Environment | None = None) -> str:
    """The self-contained HTML report; ``paged`` gives the PDF's source, in which folded
    sections are their summary line only (weasyprint's time grows with what it parses).
    ``environment``: one shared by several renderings, so templates compile once."""
    environment = environment or template_environment(templates_dir)
    try:
        template = environment.get_template(MAIN_TEMPLATE)
        context = context if context is not None else build_context(audit, Path(results_dir))
        return template.render(**context, paged=paged)
    except jinja2.TemplateError as error:
        raise ReportError(f"report template error: {error}") from None


def render_reports(
    results_path: Path | str,
    formats: Iterable[str] = FORMATS,
    templates_dir: Path | str | None = None,
    *,
    pdf_worker: PdfWorker | None = None,
) -> dict[str, Path]:
    """Write report.html / report.pdf / junit.xml beside ``results_path``; returns format -> path.
    "json" names results.json itself: it is validated and returned, never rewritten.
    ``pdf_worker`` (started early by the caller) lays out the PDF while the other formats are
    written here; without one the PDF is rendered in this process."""
    wanted = [f for f in dict.fromkeys(formats) if f != "json"]
    unknown = [f for f in wanted if f not in OUTPUT_NAMES]
    if unknown:
        raise ReportError(f"unknown report format(s) {', '.join(map(repr, unknown))}; "
                          f"choose from {', '.join(FORMATS)} (json is results.json itself)")
    results_path = Path(results_path)
    if results_path.is_dir():
        results_path = results_path / "results.json"
    audit = load_results(results_path)
    out_dir = results_path.parent
    written: dict[str, Path] = {"json": results_path} if "json" in formats else {}
    templates = Path(templates_dir) if templates_dir else None
    # Listed before writing, so even a report a crash left half-done is replaced by the next run.
    record_outputs(out_dir, [out_dir / OUTPUT_NAMES[f] for f in wanted])
    context = environment = None
    if "html" in wanted or "pdf" in wanted:
        context = build_context(audit, out_dir)
        environment = template_environment(templates)
    def page(paged: bool) -> str:
        return render_html(audit, out_dir, paged=paged, context=context, environment=environment)

    if "pdf" in wanted and pdf_worker is not None:  # first, so its layout overlaps the rest
        written["pdf"] = out_dir / OUTPUT_NAMES["pdf"]
        pdf_worker.submit(page(paged=True), written["pdf"])
    if "html" in wanted:
        written["html"] = out_dir / OUTPUT_NAMES["html"]
        atomic_write_text(written["html"], page(paged=False))
    if "pdf" in wanted and pdf_worker is None:
        written["pdf"] = out_dir / OUTPUT_NAMES["pdf"]
        write_pdf(page(paged=True), written["pdf"])
    if "junit" in wanted:
        written["junit"] = out_dir / OUTPUT_NAMES["junit"]
        atomic_write_text(written["junit"], junit_xml(audit))
    if "markdown" in wanted:
        from singaudit.reports.markdown import run_markdown

        written["markdown"] = out_dir / OUTPUT_NAMES["markdown"]
        atomic_write_text(written["markdown"], run_markdown(audit))
    if "pdf" in wanted and pdf_worker is not None:
        pdf_worker.wait()
    order = ["json", *OUTPUT_NAMES]
    return dict(sorted(written.items(), key=lambda item: order.index(item[0])))
