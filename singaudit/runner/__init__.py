"""The audit runner: builds each artefact once, runs every model x check, writes results.json.

Names are imported on first use: the artefact builder imports torch, which a warm run (every
result replayed from the cache, ``singaudit.runner.warm``) never needs.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "ArtefactBuilder": "singaudit.runner.artefacts",
    "TranslatorArtefact": "singaudit.runner.artefacts",
    "AuditRun": "singaudit.runner.audit",
    "selected": "singaudit.runner.audit",
    "ArtefactStore": "singaudit.runner.memo",
    "output_dir": "singaudit.runner.outputs",
    "AuditSession": "singaudit.runner.session",
    "run_audit": "singaudit.runner.session",
}

__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:
    from singaudit.runner.artefacts import ArtefactBuilder, TranslatorArtefact
    from singaudit.runner.audit import AuditRun, selected
    from singaudit.runner.memo import ArtefactStore
    from singaudit.runner.outputs import output_dir
    from singaudit.runner.session import AuditSession, run_audit


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
