"""Weights: local files, hub resolution and the one clear "missing weights" message.

Hub downloads go through each library's own mechanism (Hugging Face cache, torch hub cache);
this module only decides quickly whether they can succeed and turns failures into
``WeightsNotFound``.
"""

from __future__ import annotations

import hashlib
import os
import socket
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import torch

from singaudit.errors import WeightsNotFound

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


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0][:200] if text else type(error).__name__


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


def require_file(path: str | os.PathLike, what: str) -> Path:
    """``path`` as an existing file, or ``WeightsNotFound`` naming it."""
    resolved = Path(path).expanduser()
    if not resolved.exists():
        raise WeightsNotFound(f"weights file for {what} not found: {resolved}")
    return resolved


def load_state_dict(path: str | os.PathLike, what: str = "the model") -> dict[str, torch.Tensor]:
    """A state dict from safetensors, or a torch checkpoint loaded with ``weights_only=True``."""
    resolved = require_file(path, what)
    if resolved.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(resolved))
    try:
        loaded = torch.load(resolved, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 -- pickles with code are refused by weights_only
        raise WeightsNotFound(
            f"cannot read {resolved} as plain weights (safetensors or a weights-only torch "
            f"checkpoint): {_first_line(error)}"
        ) from None
    for wrapper in ("state_dict", "model", "model_state_dict"):
        if isinstance(loaded, Mapping) and isinstance(loaded.get(wrapper), Mapping):
            loaded = loaded[wrapper]
    if not isinstance(loaded, Mapping):
        raise WeightsNotFound(f"{resolved} does not hold a state dict")
    return {key.removeprefix("module."): value for key, value in loaded.items()}


def save_state_dict(state_dict: Mapping[str, torch.Tensor], path: str | os.PathLike) -> None:
    """Write weights as safetensors (contiguous, shared storage broken)."""
    from safetensors.torch import save_file

    save_file({k: v.detach().contiguous().clone() for k, v in state_dict.items()}, str(path))


def state_dict_hash(module: torch.nn.Module) -> str:
    """sha256 (16 hex digits) of a module's parameters and buffers: names, shapes and bytes."""
    digest = hashlib.sha256()
    for name, tensor in module.state_dict().items():
        tensor = tensor.detach().cpu().contiguous()
        digest.update(f"{name}:{tuple(tensor.shape)}:{tensor.dtype}".encode())
        digest.update(
            tensor.reshape(-1).view(torch.uint8).numpy().tobytes() if tensor.numel() else b""
        )
    return digest.hexdigest()[:16]
