"""Weights: local files, hub resolution and the one clear "missing weights" message.

Hub downloads go through each library's own mechanism (Hugging Face cache, torch hub cache);
this module only decides quickly whether they can succeed and turns failures into
``WeightsNotFound``.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch

from singaudit.errors import WeightsNotFound
from singaudit.io.state_dicts import first_line as _first_line

HF_HOST = "huggingface.co"
_TRUE = {"1", "true", "yes", "on"}


def hf_offline() -> bool:
    """True when the Hugging Face hub is switched off by the environment."""
    return any(
        os.environ.get(name, "").strip().lower() in _TRUE
        for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    )


_reachable: dict[str, bool] = {}


def host_reachable(host: str, timeout: float = 1.0) -> bool:
    """Can a TCP connection to ``host:443`` be opened within ``timeout`` seconds (DNS included)?"""
    if host in _reachable:
        return _reachable[host]
    result: list[bool] = []

    def probe() -> None:
        try:
            socket.create_connection((host, 443), timeout=timeout).close()
            result.append(True)
        except OSError:
            result.append(False)

    # A thread bounds the DNS lookup too, which socket timeouts do not cover.
    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout + 0.2)
    _reachable[host] = bool(result and result[0])
    return _reachable[host]


def hub_available(host: str = HF_HOST) -> bool:
    """Whether a download from ``host`` can be attempted now (not offline, host reachable).

    ``HF_HUB_OFFLINE`` switches off every hub (torch hub URLs too), as tests and CI expect.
    """
    if hf_offline():
        return False
    return host_reachable(host)


def missing_message(what: str, how: str) -> str:
    offline = " (HF_HUB_OFFLINE is set)" if hf_offline() else ""
    return f"weights for {what} are not available locally and cannot be downloaded{offline}; {how}"


def require_download(what: str, how: str, host: str = HF_HOST) -> None:
    """Raise ``WeightsNotFound`` at once when weights are not cached and the hub is out of reach."""
    if not hub_available(host):
        raise WeightsNotFound(missing_message(what, how))


@contextmanager
def hub_errors_as_missing(what: str, how: str) -> Iterator[None]:
    """Turn a library's download/cache failures into one ``WeightsNotFound`` message."""
    try:
        yield
    except WeightsNotFound:
        raise
    except Exception as error:
        if _looks_like_missing(error):
            raise WeightsNotFound(f"{missing_message(what, how)} [{_first_line(error)}]") from None
        raise


def _looks_like_missing(error: BaseException) -> bool:
    names = {cls.__name__ for cls in type(error).__mro__}
    known = {
        "LocalEntryNotFoundError",
        "EntryNotFoundError",
        "RepositoryNotFoundError",
        "RevisionNotFoundError",
        "OfflineModeIsEnabled",
        "HfHubHTTPError",
        "URLError",
        "ConnectionError",
        "FileNotFoundError",
    }
    if names & known:
        return True
    text = str(error).lower()
    return any(
        marker in text
        for marker in (
            "offline",
            "couldn't connect",
            "cannot find the requested files",
            "does not appear to have a file",
            "not found in the cache",
            "is not a local folder",
            "failed to download",
            "no such file",
        )
    )



def torch_hub_cached(url: str) -> Path | None:
    """The torch hub cache file for ``url`` (torchvision weights), if it is there."""
    path = Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(url)
    return path if path.is_file() else None


def hf_cached(repo_id: str, filenames: tuple[str, ...]) -> Path | None:
    """The first of ``filenames`` present in the Hugging Face cache for ``repo_id``."""
    from huggingface_hub import try_to_load_from_cache

    for filename in filenames:
        found = try_to_load_from_cache(repo_id, filename)
        if isinstance(found, str):
            return Path(found)
    return None
