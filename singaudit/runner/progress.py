"""Progress of an audit on a terminal, and how long each stage took."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from singaudit.io.console import plain, visible
from singaudit.wording import fixed

if TYPE_CHECKING:
    from rich.console import Console
    from rich.status import Status


class ProgressReporter:
    """Progress on stderr: a spinner naming the innermost stage on a terminal, plain lines
    (elapsed, stage) when piped, as in a CI log. Records each stage's time."""

    def __init__(self, enabled: bool) -> None:
        self.timings: dict[str, float] = {}
        self._console: Console | None = None
        self._plain = enabled and not sys.stderr.isatty()
        self._began = time.perf_counter()
        self._status: Status | None = None
        self._shown: list[str] = []  # the descriptions of the open stages, innermost last
        if enabled and not self._plain:
            from rich.console import Console

            self._console = Console(stderr=True)

    def _say(self, text: str) -> None:
        elapsed = time.perf_counter() - self._began
        print(f"[{fixed(elapsed, 1).rjust(7)}s] {visible(text)}", file=sys.stderr, flush=True)

    @contextmanager
    def stage(self, key: str, description: str, spinner: bool = True) -> Iterator[None]:
        start = time.perf_counter()
        console = self._console
        shown = bool(description) and (self._plain or (console is not None and spinner))
        if shown and self._plain:
            self._say(description)
        elif shown and console is not None:  # nested stages name themselves (a translator
            if self._status is None:          # fitted inside a check)
                self._status = console.status(plain(description))
                self._status.start()
            else:
                self._status.update(plain(description))
        if shown:
            self._shown.append(description)
        try:
            yield
        finally:
            self.timings[key] = round(self.timings.get(key, 0.0) + time.perf_counter() - start, 4)
            if shown:
                self._shown.pop()
                if self._status is not None:
                    if self._shown:
                        self._status.update(plain(self._shown[-1]))
                    else:
                        self._status.stop()
                        self._status = None

    def line(self, text: str) -> None:
        if self._plain:
            self._say(text)
        elif self._console is not None:
            self._console.print(plain(text))
