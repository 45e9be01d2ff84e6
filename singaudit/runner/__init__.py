"""The audit runner: builds each artefact once, runs every model x check, writes results.json."""

from singaudit.runner.artefacts import ArtefactBuilder, TranslatorArtefact
from singaudit.runner.audit import AuditRun, selected
from singaudit.runner.memo import ArtefactStore
from singaudit.runner.outputs import output_dir
from singaudit.runner.session import AuditSession, run_audit

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
