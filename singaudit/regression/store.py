"""The baseline store: a folder of accepted runs, ``STORE/NAME/results.json`` (provenance
included), written by ``singaudit baseline accept`` and read by specs and pytest."""

from __future__ import annotations

from pathlib import Path

from singaudit.errors import SingauditError
from singaudit.io.atomic import atomic_write_text
from singaudit.results import AuditResult, ResultsFileError

RESULTS = "results.json"


class BaselineError(SingauditError):
    """A baseline that cannot be read or stored."""


MAX_FETCHED_BYTES = 256 * 2**20  # a results.json of 1,000 classes x 50,000 images fits


def is_url(reference: str | Path) -> bool:
    return isinstance(reference, str) and reference.startswith(("http://", "https://"))


def read_results(path: str | Path) -> AuditResult:
    """A results.json (or the folder holding one, or an http(s) URL to one); every problem is
    one BaselineError."""
    if is_url(path):
        return _parse(_fetch(str(path)), str(path))
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


def _fetch(url: str, timeout: float = 30.0) -> str:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            body = response.read(MAX_FETCHED_BYTES + 1)
    except (urllib.error.URLError, OSError, ValueError) as error:
        raise BaselineError(f"cannot fetch the baseline {url}: {error}") from None
    if len(body) > MAX_FETCHED_BYTES:
        raise BaselineError(f"the baseline {url} is larger than {MAX_FETCHED_BYTES >> 20} MiB")
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise BaselineError(f"{url} is not valid JSON: {error}") from None


def _parse(text: str, where: str) -> AuditResult:
    try:
        return AuditResult.parse(text, where)
    except ResultsFileError as error:
        raise BaselineError(str(error)) from None


def accept(results: str | Path, store: str | Path, name: str | None = None) -> Path:
    """Copy a run's results.json into ``store/<name or audit name>/results.json`` (atomically,
    replacing the previous baseline of that name); returns the written path."""
    audit = read_results(results)
    name = name or audit.name
    if not name or "/" in name or "\\" in name or name.startswith("."):
        raise BaselineError(f"baseline name {name!r} must be a plain folder name")
    target = Path(store) / name / RESULTS
    target.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(target, audit.model_dump_json(indent=2))
    return target


def resolve(reference: str, store: str | Path) -> Path | str:
    """A baseline reference: an http(s) URL to a results.json (returned as is), a results.json
    path, a run folder, or a name in the store."""
    if is_url(reference):
        return reference
    path = Path(reference)
    if path.suffix == ".json" or path.is_dir() and (path / RESULTS).is_file():
        return path if path.suffix == ".json" else path / RESULTS
    return Path(store) / reference / RESULTS
