"""Third-party extensions through entry points: the worked example of docs/CONTRIBUTING.md,
installed as a temporary dist-info on sys.path, runs an audit in a fresh interpreter."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "docs" / "CONTRIBUTING.md"


def example_block(name: str) -> str:
    """The fenced block after ``<!-- example: NAME -->`` in the contributing guide."""
    match = re.search(rf"<!-- example: {re.escape(name)} -->\n```\w*\n(.*?)```", GUIDE.read_text(),
                      re.DOTALL)
    assert match, f"no example {name} in {GUIDE}"
    return match.group(1)


@pytest.fixture
def acme_site(tmp_path: Path) -> Path:
    site = tmp_path / "site"
    (site / "acme_singaudit").mkdir(parents=True)
    (site / "acme_singaudit" / "__init__.py").write_text(
        example_block("acme_singaudit/__init__.py"))
    info = site / "acme_singaudit-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-singaudit\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(example_block("entry_points.txt"))
    return site


SCRIPT = """
import json, sys
import singaudit

spec = singaudit.parse_spec_text('''
version: 1
kind: singaudit/audit
name: acme
models: [{name: projection, id: "acme:3"}]
data: {id: "calibration:audit", options: {scenes: 60}, images_per_class: 5}
checks: {acme_null_energy: {}, null_invariance: {}}
report: {formats: [html, json]}
''')
result = singaudit.run_audit(spec, out_dir=sys.argv[1], cache_dir=sys.argv[2], progress=False)
written = singaudit.render_reports(sys.argv[1] + "/results.json", spec.report.formats)
html = written["html"].read_text()
check = result.models[0].checks[0]
print(json.dumps({
    "sources": singaudit.CLASSIFIER_SOURCES.names(), "checks": singaudit.CHECKS.names(),
    "status": check.status, "message": check.message, "name": check.name,
    "null_energy": check.metrics["null_energy"].value, "figure": "Null energy per image" in html,
    "null_invariance": result.models[0].checks[1].status,
}))
"""


def test_a_third_party_source_check_and_figure_run_through_entry_points(acme_site, tmp_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(acme_site)]),
           "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path / "out"),
                           str(tmp_path / "cache")], env=env, capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert "acme" in seen["sources"] and "acme_null_energy" in seen["checks"]
    assert seen["name"] == "acme_null_energy" and seen["null_invariance"] == "pass"
    # 24-d features, 6 classes: 18 of 24 dimensions are null, so most of f is null energy.
    assert 0.5 < seen["null_energy"] < 1.0
    assert seen["status"] in ("pass", "warn", "fail") and "null energy median" in seen["message"]
    assert seen["figure"], "the figure registered for the check is in the report"


def test_the_registries_read_entry_points(acme_site, monkeypatch):
    import importlib

    from singaudit.registry import Registry

    monkeypatch.syspath_prepend(str(acme_site))
    importlib.invalidate_caches()
    registry: Registry = Registry("check")
    registry.add("acme_null_energy", "builtin:Check")  # a built-in of the same name wins
    registry.add_entry_points("singaudit.checks")
    registry.add_entry_points("singaudit.classifiers")
    # singaudit's own calibration world comes in through the same group, as any plugin does
    assert registry.names() == ["acme", "acme_null_energy", "calibration"]
    loaded = registry.get("acme")
    assert loaded.__name__ == "load_classifier"
    assert loaded("5").info.id == "acme:5"


def test_every_source_group_reads_its_entry_points(tmp_path):
    """The joint-space, data and generator groups work like the classifier group: a third-party
    distribution's entry point becomes a ``source:id`` whose loader receives the id."""
    site = tmp_path / "site"
    (site / "zoo_sources").mkdir(parents=True)
    (site / "zoo_sources" / "__init__.py").write_text(
        "def load(ident, **options):\n    return ('zoo', ident, options)\n")
    info = site / "zoo_sources-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: zoo-sources\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("".join(
        f"[{group}]\nzoo = zoo_sources:load\n\n"
        for group in ("singaudit.joint_spaces", "singaudit.data", "singaudit.generators")))
    script = (
        "import json\nfrom singaudit.adapters import sources\n"
        "print(json.dumps([sources.load_joint_space('zoo:space', size=2),"
        " sources.load_data('zoo:images'), sources.load_generator('zoo:painter')]))\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(site)])}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == [
        ["zoo", "space", {"size": 2}], ["zoo", "images", {}], ["zoo", "painter", {}]]
