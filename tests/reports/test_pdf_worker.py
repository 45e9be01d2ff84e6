"""The PDF worker process (the CLI renders the PDF there, beside the audit and the HTML) and the
cheap weasyprint import."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pypdf
import pytest

import singaudit
from singaudit.errors import SingauditError
from singaudit.reports import render_reports
from singaudit.reports.pdf import PdfError, PdfWorker

PYTHONPATH = {**os.environ, "PYTHONPATH": str(Path(singaudit.__file__).parents[1])}


def _pages_text(path: Path) -> list[str]:
    return [page.extract_text() for page in pypdf.PdfReader(path).pages]


def _worker_temp_files() -> set[str]:
    return {p.name for p in Path(tempfile.gettempdir()).glob("singaudit-report-*.html")}


def test_worker_pdf_matches_the_in_process_pdf(sample_results: Path, tmp_path: Path) -> None:
    alone, worked = tmp_path / "alone", tmp_path / "worked"
    for folder in (alone, worked):
        folder.mkdir()
        (folder / "results.json").write_bytes(sample_results.read_bytes())
    before = _worker_temp_files()
    render_reports(alone / "results.json", ("pdf",))
    with PdfWorker() as worker:
        written = render_reports(worked / "results.json", ("html", "pdf", "junit"),
                                 pdf_worker=worker)
    assert list(written) == ["html", "pdf", "junit"]
    expected = _pages_text(alone / "report.pdf")
    assert len(expected) >= 3
    assert _pages_text(written["pdf"]) == expected
    assert sum(len(p.images) for p in pypdf.PdfReader(written["pdf"]).pages) == sum(
        len(p.images) for p in pypdf.PdfReader(alone / "report.pdf").pages)
    assert _worker_temp_files() == before  # the HTML handed over is removed


def test_an_idle_worker_ends_when_closed() -> None:
    worker = PdfWorker()
    worker.close()
    assert worker._process.returncode == 0


def test_a_failed_pdf_is_one_message_and_nothing_is_written(tmp_path: Path) -> None:
    target = tmp_path / "report.pdf"
    target.mkdir()  # a folder where the PDF should go: it cannot be replaced
    with PdfWorker() as worker:
        worker.submit("<p>hello</p>", target)
        with pytest.raises(PdfError) as error:
            worker.wait()
    assert isinstance(error.value, SingauditError)
    assert "could not be rendered" in str(error.value) and "Traceback" not in str(error.value)
    assert target.is_dir() and not any(target.iterdir())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.pdf"]  # no temporary left


def test_weasyprint_warnings_of_the_worker_are_logged_here(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    html = "<style>p { colour: red }</style><p>x</p>"
    with caplog.at_level(logging.WARNING, logger="weasyprint"), PdfWorker() as worker:
        worker.submit(html, tmp_path / "report.pdf")
        worker.wait()
    assert (tmp_path / "report.pdf").stat().st_size > 500
    css = [r for r in caplog.records if r.name.startswith("weasyprint")
           and f"{os.sep}css{os.sep}" in r.pathname]
    assert css and "colour" in css[0].getMessage()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the probes are Linux's")
def test_weasyprint_is_imported_without_compiler_probes() -> None:
    """cffi asks ctypes.util.find_library for each library alias it cannot open, which runs
    ldconfig and gcc each time; the import must start no process and leave ctypes as it was."""
    code = (
        "import ctypes.util, subprocess\n"
        "original = ctypes.util.find_library\n"
        "started = []\n"
        "real = subprocess.Popen.__init__\n"
        "def counting(self, *a, **k):\n"
        "    started.append(a[0] if a else k.get('args'))\n"
        "    real(self, *a, **k)\n"
        "subprocess.Popen.__init__ = counting\n"
        "from singaudit.reports.pdf import import_weasyprint\n"
        "weasyprint = import_weasyprint()\n"
        "assert ctypes.util.find_library is original\n"
        "weasyprint.HTML(string='<p>x</p>').write_pdf()\n"
        "print(len(started))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=PYTHONPATH, check=True)
    assert done.stdout.split()[-1] == "0"
    # Without it the same import does probe (the check above can fail).
    plain = code.replace("from singaudit.reports.pdf import import_weasyprint\n", "").replace(
        "import_weasyprint()", "__import__('weasyprint')")
    done = subprocess.run([sys.executable, "-c", plain], capture_output=True, text=True,
                          env=PYTHONPATH, check=True)
    assert int(done.stdout.split()[-1]) > 0


def test_the_worker_starts_without_jinja_or_pydantic() -> None:
    code = ("import sys, singaudit.reports.pdf; "
            "print(sorted(m for m in ('jinja2', 'pydantic', 'torch', 'weasyprint') "
            "if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=PYTHONPATH, check=True)
    assert done.stdout.strip() == "[]"
