"""Artefacts kept in memory across the audits of one process, each computed once."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


@dataclass
class _Failure:
    """A computation that failed once; re-raised for every check that needs it."""

    error: BaseException


class ArtefactStore:
    """Loaded models and computed artefacts, kept in memory so several audits in one process
    (a pytest session, a notebook) share work; the disk cache shares it across processes."""

    def __init__(
        self,
        *,
        cache_dir: str | Path | None = None,
        device: str | None = None,
        progress: bool = True,
        debug: bool = False,
        recompute: bool = False,
        replay: bool = True,
    ) -> None:
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self.device = device
        self.progress = progress
        self.debug = debug
        # recompute: cached check results and run records are ignored (and stored over); the
        # features, embeddings, geometry and translators are still reused. replay=False: run
        # records are ignored, cached check results (judged again) are still reused.
        self.recompute = recompute
        self.replay = replay
        self._memo: dict[tuple, Any] = {}

    def memo(self, key: tuple, compute: Callable[[], T]) -> T:
        """``compute()`` once per key for the store's lifetime (failures are remembered too)."""
        if key not in self._memo:
            try:
                self._memo[key] = compute()
            except Exception as error:  # noqa: BLE001 - re-raised to each caller
                self._memo[key] = _Failure(error)
        value = self._memo[key]
        if isinstance(value, _Failure):
            raise value.error
        return value

    def clear(self) -> None:
        self._memo.clear()


def digest(payload: Any) -> str:
    """A short sha256 of a JSON-able payload (cache keys and fingerprints)."""
    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]
