"""Run records: a run whose inputs are all unchanged is replayed from the cache without loading a
model or importing torch, with the same results.json and artefact files; any changed input (spec,
weights, translator file, singaudit's files, library versions, cache) means a computing run."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import singaudit
from singaudit.runner import AuditSession, warm
from singaudit.runner.audit import AuditRun, replay_run
from singaudit.spec import Overrides
from singaudit.spec.loader import load_spec, parse_spec_text

SPEC = """
version: 1
kind: singaudit/audit
name: warm
models:
  - {name: clean, id: "calibration:clean", expect: pass}
  - {name: leaky, id: "calibration:leaky", expect: none}
joint_space: {id: "calibration:joint"}
data: {id: "calibration:audit", options: {scenes: 120}, images_per_class: 8}
translator: {fit: {id: "calibration:validation", options: {scenes: 240}}}
checks:
  null_invariance: {}
  class_semantics: {n_boot: 50}
  evidence: {per_class: 1, max_images: 2}
report: {formats: [json]}
"""
ROOT = Path(singaudit.__file__).parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
from compare_results import PER_RUN_KEYS, differences


@pytest.fixture(scope="module")
def computed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One computing run of SPEC into its own cache (which keeps its run record)."""
    folder = tmp_path_factory.mktemp("warm")
    (folder / "warm.yaml").write_text(SPEC)
    out = folder / "out"  # the spec's hash in provenance covers report.out: one folder for all
    spec = load_spec(folder / "warm.yaml", Overrides(out=str(out)))
    session = AuditSession(cache_dir=folder / "cache", progress=False)
    session.run(spec, out_dir=out)  # cold: computes, keeps the record
    # The reference: a computing run over the warm cache, as before run records.
    fresh = AuditSession(cache_dir=folder / "cache", progress=False)
    AuditRun(fresh.artefacts(spec)).execute(out_dir=out)
    shutil.copytree(out, folder / "computed")
    return {"spec": folder / "warm.yaml", "cache": folder / "cache", "out": out,
            "computed": folder / "computed", "root": folder}


def _files(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and p.name != "results.json"
            and not p.name.startswith(".singaudit")}


def _same_results(a: Path, b: Path, ignore: frozenset[str] = frozenset()) -> None:
    left, right = (json.loads((f / "results.json").read_text()) for f in (a, b))
    assert differences(left, right, ignore=PER_RUN_KEYS | ignore) == []
    assert _files(a) == _files(b) and _files(a)  # the check's artefact files came back too


def test_an_unchanged_run_is_replayed_without_torch(computed: dict[str, Path]) -> None:
    out = computed["out"]
    code = (
        "import runpy, sys\n"
        f"sys.argv = ['singaudit', 'run', {str(computed['spec'])!r}, '--out', {str(out)!r},"
        f" '--cache-dir', {str(computed['cache'])!r}]\n"
        "try:\n    runpy.run_module('singaudit.cli', run_name='__main__')\n"
        "except SystemExit as exit:\n    code = exit.code\n"
        "print('TORCH', 'torch' in sys.modules, 'EXIT', code)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False,
                          env={**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"})
    assert "TORCH False EXIT 0" in done.stdout, done.stdout[-2000:] + done.stderr[-2000:]
    assert "replayed from the cache" in done.stderr
    _same_results(computed["computed"], out)
    provenance = json.loads((out / "results.json").read_text())["provenance"]
    assert len(provenance["cached_checks"]) == 6


def test_a_missing_check_entry_means_computing_again(computed: dict[str, Path],
                                                     tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    shutil.copytree(computed["cache"], cache)
    session = AuditSession(cache_dir=cache, progress=False)
    entries = sorted((cache / "checks").iterdir())
    shutil.rmtree(entries[0])
    out = computed["root"] / "again"
    spec = load_spec(computed["spec"], Overrides(out=str(computed["out"])))
    assert replay_run(spec, session, out_dir=out) is None
    assert not out.exists()  # nothing half-written
    session.run(spec, out_dir=out)  # computes the missing check and stores it again
    _same_results(computed["computed"], out, frozenset({"cached_checks"}))
    assert len(json.loads((out / "results.json").read_text())["provenance"]["cached_checks"]) == 5
    shutil.rmtree(out)
    assert replay_run(spec, session, out_dir=out) is not None
    _same_results(computed["computed"], out)


def _key(spec_text: str = SPEC, cache: Path = Path("/cache"), only=None) -> str | None:
    return warm.record_key(parse_spec_text(spec_text), only, cache, None)


def test_every_input_is_in_the_record_key(tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    base = _key()
    assert base is not None
    assert _key(SPEC.replace("formats: [json]", "formats: [html, pdf]")) == base  # report only
    changed = {
        "check option": _key(SPEC.replace("n_boot: 50", "n_boot: 60")),
        "images": _key(SPEC.replace("scenes: 120", "scenes: 121")),
        "fit images": _key(SPEC.replace("scenes: 240", "scenes: 241")),
        "model": _key(SPEC.replace("calibration:leaky", "calibration:mixed")),
        "seed": _key(SPEC + "seed: 1\n"),
        "only": _key(only=["clean"]),
        "cache": _key(cache=Path("/other")),
    }
    assert None not in changed.values() and base not in changed.values()
    assert len(set(changed.values())) == len(changed)

    weights = tmp_path / "weights"
    weights.mkdir()
    (weights / "clean.safetensors").write_bytes(b"one")
    own = SPEC.replace('id: "calibration:clean"',
                       f'id: "calibration:clean", options: {{weights_dir: "{weights}"}}')
    first = _key(own)
    (weights / "clean.safetensors").write_bytes(b"two")
    assert first is not None and _key(own) not in (first, base)

    translator = tmp_path / "translator.safetensors"
    translator.write_bytes(b"one")
    with_file = SPEC.replace(
        'translator: {fit: {id: "calibration:validation", options: {scenes: 240}}}',
        f"translator: {{path: {translator}}}")
    first = _key(with_file)
    translator.write_bytes(b"two")
    assert first is not None and _key(with_file) != first

    monkeypatch.setattr(warm, "package_fingerprint", lambda: "another singaudit")
    assert _key() != base
    monkeypatch.undo()
    monkeypatch.setattr(warm, "library_versions", lambda: {"torch": "0.0"})
    assert _key() != base


def test_sources_without_a_cheap_identity_always_compute() -> None:
    assert _key(SPEC.replace("calibration:leaky", "calibration:lite0_leaky")) is None
    assert warm.source_identity("folder:/data", {}) is None
    assert warm.source_identity("timm:resnet50", {}) is None
    assert warm.source_identity("calibration:clean", {"weights_dir": "/no/such/folder"}) is None
    assert warm.source_identity("calibration:clean", {}) is not None


def test_cache_listing_and_clearing_include_run_records(computed: dict[str, Path],
                                                        tmp_path: Path) -> None:
    from singaudit.cache import cache_contents, cache_items, clear_cache
    from singaudit.cache.runs import RUNS

    cache = tmp_path / "cache"
    shutil.copytree(computed["cache"], cache)
    rows = {kind: count for kind, count, _ in cache_contents(cache)}
    assert rows[RUNS] == 1
    assert [item.kind for item in cache_items(cache)].count(RUNS) == 1
    clear_cache(cache)
    assert not (cache / RUNS).exists()
