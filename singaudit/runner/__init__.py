"""The audit runner: builds each artefact once, runs every model x check, writes results.json.

Names are imported on first use: the artefact builder imports torch, which a warm run (every
result replayed from the cache, ``singaudit.runner.warm``) never needs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from singaudit.lazy import lazy_exports

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

__all__ = [
    "ArtefactBuilder",
    "ArtefactStore",
    "AuditRun",
    "AuditSession",
    "TranslatorArtefact",
    "output_dir",
    "run_audit",
    "selected",
]

if TYPE_CHECKING:
    from singaudit.runner.artefacts import ArtefactBuilder, TranslatorArtefact
    from singaudit.runner.audit import AuditRun, selected
    from singaudit.runner.memo import ArtefactStore
    from singaudit.runner.outputs import output_dir
    from singaudit.runner.session import AuditSession, run_audit


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
