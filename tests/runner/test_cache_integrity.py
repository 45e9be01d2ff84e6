"""The cache never decides a verdict: tampered check results are recomputed, and a read-only or
full cache makes the run uncached (one warning), never an error."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import pytest
import runner_world

from singaudit.checks import CHECKS, Check
from singaudit.checks.base import Measurements
from singaudit.runner import AuditSession, run_audit
from singaudit.spec import Overrides, parse_spec_text

sys.path.insert(0, str(Path(__file__).parents[1]))

from filesystems import remount_read_only, tmpfs


class _WritesNote(Check):
    name = "writes_note"
    requires_null_space = False

    def measure(self, ctx, params):
        (ctx.artefact_dir / "note.txt").write_text(ctx.name)
        return Measurements(summary="wrote a note",
                            artefacts={"note": f"{ctx.artefact_prefix}/note.txt"})


@pytest.fixture(autouse=True)
def note_check():
    CHECKS.add("writes_note", _WritesNote, replace=True)
    yield
    CHECKS._entries.pop("writes_note", None)


def spec():
    text = runner_world.SPEC.replace("  translator_fidelity: {}\n", "").replace(
        "checks:\n", "checks:\n  writes_note: {}\n")
    return parse_spec_text(text, overrides=Overrides())


def run(tmp_path, out, cache):
    return run_audit(spec(), out_dir=tmp_path / out, cache_dir=cache, progress=False)


def entry_of(cache: Path, check: str, model: str = "first") -> Path:
    for folder in (cache / "checks").iterdir():
        result = json.loads((folder / "result.json").read_text())
        if result["name"] == check and (not result["artefacts"] or model in str(result)):
            return folder
    raise AssertionError(f"no cached {check}")


def statuses(result):
    return [(m.name, c.name, c.status) for m in result.models for c in m.checks]


def test_a_hand_edited_cached_result_is_recomputed_not_reused(tmp_path):
    cache = tmp_path / "cache"
    first = run(tmp_path, "a", cache)
    entry = entry_of(cache, "null_invariance")
    stored = (entry / "result.json").read_text()
    verdict = json.loads(stored)["status"]
    forged = "fail" if verdict == "pass" else "pass"
    (entry / "result.json").write_text(stored.replace(f'"status":"{verdict}"',
                                                      f'"status":"{forged}"'))
    again = run(tmp_path, "b", cache)
    assert statuses(again) == statuses(first)  # the forged verdict is not reused
    assert len(again.provenance["cached_checks"]) == 5  # 2 models x 3 checks, less the forged
    assert json.loads((entry / "result.json").read_text())["status"] == verdict  # re-stored


def test_a_changed_cached_artefact_file_is_recomputed(tmp_path):
    cache = tmp_path / "cache"
    run(tmp_path, "a", cache)
    notes = list((cache / "checks").glob("*/files/note.txt"))
    assert len(notes) == 2
    notes[0].write_text("edited")
    again = run(tmp_path, "b", cache)
    assert len(again.provenance["cached_checks"]) == 5
    for model in ("first", "second"):
        assert (tmp_path / "b" / "artefacts" / model / "note.txt").read_text() == model


def test_a_read_only_cache_runs_uncached_with_one_warning(tmp_path, caplog):
    reference = run(tmp_path, "ref", tmp_path / "cache")
    with (tmpfs(tmp_path / "ro", read_only=True) as cache,
          caplog.at_level(logging.WARNING, logger="singaudit.cache")):
        result = run(tmp_path, "out", cache)
    assert statuses(result) == statuses(reference)
    assert not [s for s in statuses(result) if s[2] == "error"] and result.ok == reference.ok
    warnings = [r for r in caplog.records if r.name == "singaudit.cache"]
    assert len(warnings) == 1 and "cannot write to the cache" in warnings[0].getMessage()


def test_a_warm_cache_made_read_only_is_still_read(tmp_path, caplog):
    with tmpfs(tmp_path / "cache") as cache:
        first = run(tmp_path, "a", cache)
        remount_read_only(cache)
        before = dict(runner_world.CALLS)
        with caplog.at_level(logging.WARNING, logger="singaudit.cache"):
            again = run_audit(spec(), out_dir=tmp_path / "b", progress=False,
                              session=AuditSession(cache_dir=cache, progress=False))
        assert runner_world.CALLS == before  # every feature and embedding read from it
        assert statuses(again) == statuses(first)
        assert len(again.provenance["cached_checks"]) == 6


def test_a_full_cache_runs_uncached_with_one_warning(tmp_path, caplog):
    reference = run(tmp_path, "ref", tmp_path / "cache")
    with (tmpfs(tmp_path / "full", size="12k") as cache,
          caplog.at_level(logging.WARNING, logger="singaudit.cache")):
        result = run(tmp_path, "out", cache)
    assert statuses(result) == statuses(reference) and result.ok == reference.ok
    warnings = [r for r in caplog.records if r.name == "singaudit.cache"]
    assert len(warnings) == 1 and "No space left" in warnings[0].getMessage()
