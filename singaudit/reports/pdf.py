"""The PDF report: weasyprint, imported cheaply, and a worker process that renders the PDF beside
the caller's other work (the audit, the HTML report) on a second core.

This module imports nothing heavy at its top, so the worker starts fast: ``python -m
singaudit.reports.pdf`` reads one job from stdin (a JSON line naming the paged HTML file and
the PDF to write) and answers on stdout with JSON lines (weasyprint's log records, then the
outcome).
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any, Self

from singaudit.errors import SingauditError


class PdfError(SingauditError):
    """A PDF that could not be rendered."""


def import_weasyprint() -> Any:
    """weasyprint, imported without its failed compiler probes: cffi resolves each library alias
    it cannot dlopen through ``ctypes.util.find_library``, which on Linux runs ldconfig and gcc
    for every one; the sonames weasyprint also tries load directly."""
    if "weasyprint" in sys.modules or not sys.platform.startswith("linux"):
        import weasyprint

        return weasyprint
    import ctypes.util

    find_library = ctypes.util.find_library
    ctypes.util.find_library = lambda name: None
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # its "could not import" note, if any
            import weasyprint
    except OSError:  # a library only the full lookup finds: import again with it
        for name in [m for m in sys.modules if m.partition(".")[0] == "weasyprint"]:
            del sys.modules[name]
        ctypes.util.find_library = find_library
        import weasyprint
    finally:
        ctypes.util.find_library = find_library
    return weasyprint


def data_only_fetcher() -> Any:
    """A weasyprint URL fetcher that serves data: URIs only, so rendering never goes online."""
    try:
        from weasyprint.urls import URLFetcher
    except ImportError:  # weasyprint < 66 takes a plain function
        from weasyprint import default_url_fetcher

        def fetch(url: str, *args: object, **kwargs: object) -> dict:
            if not url.startswith("data:"):
                raise ValueError(f"singaudit reports embed everything; refusing {url}")
            return default_url_fetcher(url, *args, **kwargs)

        return fetch
    return URLFetcher(allowed_protocols={"data"})


def write_pdf(html: str, path: Path) -> None:
    """The HTML report as a PDF, written atomically; print CSS lays out the pages."""
    from singaudit.io.atomic import atomic_path

    weasyprint = import_weasyprint()
    document = weasyprint.HTML(string=html, url_fetcher=data_only_fetcher())
    with atomic_path(Path(path)) as tmp:
        document.write_pdf(target=str(tmp))


class PdfWorker:
    """A child process that imports weasyprint at once and renders one PDF when given its HTML.
    Start it before other work, ``submit`` the paged HTML, then ``wait``; ``close`` (or leaving
    the ``with`` block) ends a worker that was never given a job."""

    def __init__(self) -> None:
        import singaudit

        root = str(Path(singaudit.__file__).resolve().parents[1])
        path = os.environ.get("PYTHONPATH")
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([root, path] if path else [root])}
        self._process = subprocess.Popen(
            [sys.executable, "-m", "singaudit.reports.pdf"], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, env=env)
        stdin, stdout = self._process.stdin, self._process.stdout
        assert stdin is not None and stdout is not None  # both piped above
        self._stdin, self._stdout = stdin, stdout
        self._writer: threading.Thread | None = None
        self._job: Path | None = None

    def submit(self, html: str, path: Path) -> None:
        """Hand over the paged HTML; the PDF is written (atomically) to ``path``."""
        import tempfile

        if self._job is not None:
            raise RuntimeError("a PdfWorker renders one PDF")
        # The HTML goes through a temporary file: a pipe would block until weasyprint is imported.
        handle, name = tempfile.mkstemp(prefix="singaudit-report-", suffix=".html")
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(html)
        self._job = Path(name)
        line = json.dumps({"html": name, "pdf": str(Path(path).absolute())}) + "\n"
        self._writer = threading.Thread(target=self._send, args=(line,), daemon=True)
        self._writer.start()

    def _send(self, line: str) -> None:
        try:
            self._stdin.write(line.encode())
            self._stdin.close()
        except OSError:
            pass  # the worker died; wait() says so

    def wait(self) -> None:
        """Block until the PDF is written; PdfError when it could not be."""
        if self._job is None or self._writer is None:
            raise RuntimeError("PdfWorker.wait before submit")
        try:
            self._writer.join()
            outcome = None
            for raw in self._stdout:
                message = json.loads(raw)
                if "log" in message:  # weasyprint's warnings, logged here as if rendered here
                    record = logging.makeLogRecord(message["log"])
                    logging.getLogger(record.name).handle(record)
                else:
                    outcome = message
            code = self._process.wait()
        finally:
            self._job.unlink(missing_ok=True)
        if outcome is None or not outcome.get("ok"):
            reason = outcome.get("error") if outcome else f"the PDF worker exited with {code}"
            raise PdfError(f"the PDF report could not be rendered: {reason}")

    def close(self) -> None:
        """End the worker: an idle one exits once its input closes; one still rendering (the
        caller gave up, e.g. on an error) is stopped."""
        if self._job is None:
            with contextlib.suppress(OSError):
                self._stdin.close()
        elif self._process.poll() is None:
            self._process.kill()
        try:
            self._process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        if self._process.stdout is not None:
            self._process.stdout.close()
        if self._job is not None:
            self._job.unlink(missing_ok=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Forward(logging.Handler):
    """Sends weasyprint's warnings to the parent as JSON lines."""

    def __init__(self, channel: Any) -> None:
        super().__init__(logging.WARNING)
        self.channel = channel

    def emit(self, record: logging.LogRecord) -> None:
        fields = {k: v for k, v in vars(record).items()
                  if k in ("name", "levelno", "levelname", "pathname", "filename", "module",
                           "lineno", "funcName")}
        fields.update(msg=record.getMessage(), args=None)
        self.channel.write(json.dumps({"log": fields}) + "\n")
        self.channel.flush()


def _serve() -> int:
    """The worker: import weasyprint, read one job, render it, answer."""
    channel = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8")
    sys.stdout = sys.stderr  # only protocol lines on the channel
    try:
        import_weasyprint()
        line = sys.stdin.readline()
        if not line:
            return 0  # closed without a job
        job = json.loads(line)
        logging.getLogger("weasyprint").addHandler(_Forward(channel))
        write_pdf(Path(job["html"]).read_text(encoding="utf-8"), Path(job["pdf"]))
        outcome: dict[str, Any] = {"ok": True}
    except Exception as error:  # noqa: BLE001 - one message to the parent, never a traceback
        outcome = {"ok": False, "error": f"{type(error).__name__}: {error}"}
    channel.write(json.dumps(outcome) + "\n")
    channel.close()
    return 0


if __name__ == "__main__":
    sys.exit(_serve())
