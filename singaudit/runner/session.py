"""Running audits: a session keeps models and artefacts in memory for every audit it runs."""

from __future__ import annotations

import errno
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from singaudit.results import AuditResult
from singaudit.runner.audit import AuditRun, replay_run
from singaudit.runner.memo import ArtefactStore
from singaudit.runner.outputs import OutputError, output_dir, publish, staged_output
from singaudit.runner.plan import Plan, make_plan
from singaudit.spec.models import AuditSpec

if TYPE_CHECKING:
    from singaudit.runner.artefacts import ArtefactBuilder


class AuditSession(ArtefactStore):
    """An artefact store that runs audits; several audits of one session share their work."""

    def artefacts(self, spec: AuditSpec | Plan) -> ArtefactBuilder:
        """The artefact builder of ``spec`` (or its plan), sharing this session's memory."""
        from singaudit.runner.artefacts import ArtefactBuilder  # torch: only when computing

        return ArtefactBuilder(spec, self)

    def run(
        self,
        spec: AuditSpec | Plan,
        *,
        out_dir: str | Path | None = None,
        only: Sequence[str] | None = None,
        force: bool = False,
        reports: Callable[[Path], object] | None = None,
    ) -> AuditResult:
        """Run one audit and write results.json and its artefacts atomically; ``reports(folder)``
        writes the reports beside a staged results.json, published with it (all or nothing: on
        any failure the previous run's files stay as they were). ``force`` writes into a folder
        singaudit did not create (deleting nothing of it)."""
        plan = make_plan(spec)  # every name resolved before anything runs or is written
        if reports is None:
            return self._run(plan, out_dir, only, force)
        out = output_dir(plan.spec, out_dir)
        try:
            with staged_output(out, force=force) as staging:
                # The run publishes into a fresh folder of its own; that folder, reports added,
                # is then published as one set.
                folder = staging / "run"
                result = self._run(plan, folder, only, False)
                reports(folder)
                publish(folder, out, audit=plan.spec.name)
        except OSError as error:
            if error.errno not in _FULL_OR_READ_ONLY:
                raise
            raise OutputError(f"cannot write the outputs in {out}: {error.strerror or error}"
                              f"{f' ({error.filename})' if error.filename else ''}; the previous "
                              "run's files there are unchanged") from None
        return result

    def _run(self, plan: Plan, out_dir: str | Path | None, only: Sequence[str] | None,
             force: bool) -> AuditResult:
        replayed = replay_run(plan, self, only=only, out_dir=out_dir, force=force)
        if replayed is not None:  # every input unchanged: no model loaded, no torch imported
            return replayed
        run = AuditRun(self.artefacts(plan), only=only, debug=self.debug)
        return run.execute(out_dir=out_dir, force=force)


# A full disk or quota, a file past its size limit, a filesystem remounted read-only.
_FULL_OR_READ_ONLY = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS})


def run_audit(
    spec: AuditSpec | Plan,
    *,
    out_dir: str | Path | None = None,
    device: str | None = None,
    cache_dir: str | Path | None = None,
    progress: bool = True,
    only: Sequence[str] | None = None,
    debug: bool = False,
    session: AuditSession | None = None,
    force: bool = False,
) -> AuditResult:
    """Run an audit; ``only`` keeps models or checks by name or glob, or ``model::check`` pairs.
    ``device``, ``cache_dir``, ``progress`` and ``debug`` configure a new session; a given
    ``session`` keeps its own. Writes results.json and artefacts, no reports; ``force``: also
    into a non-empty folder singaudit did not write (nothing of it deleted)."""
    session = session or AuditSession(cache_dir=cache_dir, device=device, progress=progress,
                                      debug=debug)
    return session.run(spec, out_dir=out_dir, only=only, force=force)
