"""The baseline store: a folder of accepted runs, ``STORE/NAME/results.json`` (provenance
included), written by ``singaudit baseline accept`` and read by specs and pytest."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from singaudit.errors import SingauditError
from singaudit.io.atomic import atomic_write_text
from singaudit.regression.comparability import malformed_provenance
from singaudit.results import AuditResult, ResultsFileError
from singaudit.wording import number, seconds

if TYPE_CHECKING:
    import http.client
    import urllib.request

RESULTS = "results.json"


class BaselineError(SingauditError):
    """A baseline that cannot be read or stored."""


MAX_FETCHED_BYTES = 256 * 2**20  # a results.json of 1,000 classes x 50,000 images fits
# The whole download of a baseline URL (each read is bounded apart, by 30 s).
FETCH_DEADLINE_S = 120.0


def is_url(reference: str | Path) -> bool:
    return isinstance(reference, str) and reference.startswith(("http://", "https://"))


def read_results(path: str | Path, *, deadline: float | None = None) -> AuditResult:
    """A results.json (or the folder holding one, or an http(s) URL to one, downloaded within
    ``deadline`` seconds, FETCH_DEADLINE_S by default); every problem is one BaselineError."""
    if is_url(path):
        return _parse(_fetch(str(path), deadline=deadline), str(path))
    path = Path(path)
    if path.is_dir():
        path = path / RESULTS
    if not path.is_file():
        raise BaselineError(f"no results file at {path}")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise BaselineError(f"{path} is not valid JSON: {error}") from None
    return _parse(text, str(path))


def _fetch(url: str, timeout: float = 30.0, deadline: float | None = None) -> str:
    """The body of ``url``: each read bounded by ``timeout`` seconds and the whole download by
    ``deadline`` seconds (a server that sends one byte at a time never times out a read)."""
    import http.client
    import threading
    import time
    import urllib.error

    deadline = FETCH_DEADLINE_S if deadline is None else deadline
    opener, connections = _recording_opener()
    expired, finished = threading.Event(), threading.Event()

    def cut_off() -> None:  # unblocks a read that is waiting on the socket
        if finished.is_set():
            return
        expired.set()
        for connection in list(connections):
            _shut(connection)

    watchdog = threading.Timer(deadline, cut_off)
    watchdog.daemon = True
    watchdog.start()
    stop = time.monotonic() + deadline
    chunks, size = [], 0
    try:
        with opener.open(url, timeout=min(timeout, deadline)) as response:
            while size <= MAX_FETCHED_BYTES:
                if time.monotonic() > stop:
                    expired.set()
                    break
                chunk = response.read1(min(2**20, MAX_FETCHED_BYTES + 1 - size))
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
            finished.set()
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as error:
        if not expired.is_set():
            raise BaselineError(f"cannot fetch the baseline {url}: {error}") from None
    finally:
        watchdog.cancel()
        for connection in connections:
            connection.close()
    if expired.is_set():
        raise BaselineError(f"cannot fetch the baseline {url}: the download did not finish "
                            f"within {seconds(deadline)}")
    body = b"".join(chunks)
    if len(body) > MAX_FETCHED_BYTES:
        raise BaselineError(f"the baseline {url} is larger than {number(MAX_FETCHED_BYTES >> 20)} MiB")
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise BaselineError(f"{url} is not valid JSON: {error}") from None


def _shut(connection: http.client.HTTPConnection) -> None:
    """Ends a connection's socket from another thread, so a read blocked on it returns now."""
    import socket

    sock = getattr(connection, "sock", None)
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def _recording_opener() -> tuple[urllib.request.OpenerDirector,
                                  list[http.client.HTTPConnection]]:
    """A urllib opener that keeps every HTTP(S) connection it opens (to cut them off at the
    deadline) and follows redirects only to http(s)."""
    import urllib.request

    connections: list[http.client.HTTPConnection] = []

    def recorded(base: Callable[..., http.client.HTTPConnection]
                 ) -> Callable[..., http.client.HTTPConnection]:
        def connect(host: str, **options: Any) -> http.client.HTTPConnection:
            connection = base(host, **options)
            connections.append(connection)
            return connection
        return connect

    class HTTPHandler(urllib.request.HTTPHandler):
        def do_open(self, http_class: Any, req: urllib.request.Request, **options: Any) -> Any:
            return super().do_open(recorded(http_class), req, **options)

    class HTTPSHandler(urllib.request.HTTPSHandler):
        def do_open(self, http_class: Any, req: urllib.request.Request, **options: Any) -> Any:
            return super().do_open(recorded(http_class), req, **options)

    class RedirectHandler(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, req: urllib.request.Request, fp: Any, code: int, msg: str,
                             headers: Any, newurl: str) -> urllib.request.Request | None:
            if not is_url(newurl):
                raise BaselineError(f"cannot fetch the baseline {req.full_url}: it redirects "
                                    f"to {newurl}, not to an http(s) URL")
            return super().redirect_request(req, fp, code, msg, headers, newurl)

    return urllib.request.build_opener(HTTPHandler, HTTPSHandler, RedirectHandler), connections


def _parse(text: str, where: str) -> AuditResult:
    try:
        audit = AuditResult.parse(text, where)
    except ResultsFileError as error:
        raise BaselineError(str(error)) from None
    problem = malformed_provenance(audit.provenance)
    if problem:
        raise BaselineError(f"{where} is not a singaudit results file: {problem}")
    return audit


def accept(results: str | Path, store: str | Path, name: str | None = None) -> Path:
    """Copy a run's results.json into ``store/<name or audit name>/results.json`` (atomically,
    replacing the previous baseline of that name); returns the written path."""
    audit = read_results(results)
    name = name or audit.name
    if not name or "/" in name or "\\" in name or name.startswith("."):
        raise BaselineError(f"baseline name {name!r} must be a plain folder name")
    target = Path(store) / name / RESULTS
    blocked = _blocked(target)
    if blocked:
        raise BaselineError(f"cannot accept the baseline into {target}: {blocked}")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(target, audit.model_dump_json(indent=2))
    except OSError as error:
        raise BaselineError(f"cannot accept the baseline into {target}: "
                            f"{error.strerror or error}") from None
    return target


def _blocked(target: Path) -> str | None:
    """Why ``target`` (STORE/NAME/results.json) cannot be written, when a file or folder is in
    the way; None when nothing is."""
    if target.is_dir():
        return f"{target} is a folder"
    for folder in (target.parent.parent, target.parent):
        if folder.exists() and not folder.is_dir():
            role = "the store" if folder == target.parent.parent else "the baseline name"
            return f"{role} {folder} is a file, not a folder"
    return None


def resolve(reference: str, store: str | Path) -> Path | str:
    """A baseline reference: an http(s) URL to a results.json (returned as is), a results.json
    path, a run folder, or a name in the store."""
    if is_url(reference):
        return reference
    path = Path(reference)
    if path.suffix == ".json" or path.is_dir() and (path / RESULTS).is_file():
        return path if path.suffix == ".json" else path / RESULTS
    return Path(store) / reference / RESULTS
