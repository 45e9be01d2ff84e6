"""Progress of an audit on a terminal, and how long each stage took."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

from singaudit.io.console import plain


class ProgressReporter:
    """A spinner line per stage on a terminal; quiet otherwise. Records each stage's time."""

    def __init__(self, enabled: bool) -> None:
        self.timings: dict[str, float] = {}
        self._console = None
        if enabled and sys.stderr.isatty():
            from rich.console import Console

            self._console = Console(stderr=True)

    @contextmanager
    def stage(self, key: str, description: str, spinner: bool = True) -> Iterator[None]:
        start = time.perf_counter()
        try:
            if self._console is None or not spinner:
                yield
            else:
                with self._console.status(plain(description)):
                    yield
        finally:
            self.timings[key] = round(self.timings.get(key, 0.0) + time.perf_counter() - start, 4)

    def line(self, text: str) -> None:
        if self._console is not None:
            self._console.print(plain(text))
