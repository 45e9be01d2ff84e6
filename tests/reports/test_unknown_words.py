"""Concepts a joint space cannot represent are flagged, one by one, in the terminal and in the
HTML and PDF reports.

A real audit on the calibration world, whose joint space has a closed vocabulary: "Kerry blue
terrier" and "Irish setter" hold words its tokenizer maps to its unknown token (ground truth:
its word list), "red" and "circle" do not.
"""

from __future__ import annotations

import contextlib
import io
import re

import pypdf
import pytest

from singaudit.cli.main import run_cli
from singaudit.results import AuditResult

SPEC = """
version: 1
kind: singaudit/audit
name: unknown_words
models: [{name: clean, id: "calibration:clean", expect: none}]
joint_space: {id: "calibration:joint"}
data: {id: "calibration:audit", options: {scenes: 60}, images_per_class: 10}
translator: {arch: linear, fit: {id: "calibration:validation", options: {scenes: 300}}}
checks:
  concepts:
    vocabulary: [red, blue, green, circle, square, Kerry blue terrier, Irish setter]
    top_k: 3
  steering: {max_images: 6}  # the default target, "an image of a jellyfish"
report: {formats: [json, html, pdf]}
"""
# Class names the joint space cannot represent: class_semantics refuses (its prompts).
FOREIGN_CLASSES = """
version: 1
kind: singaudit/audit
name: foreign_classes
models: [{name: clean, id: "calibration:clean", expect: none}]
joint_space: {id: "calibration:joint"}
data: {id: "folder:images", images_per_class: 10}
translator: {arch: linear, fit: {id: "calibration:validation", options: {scenes: 300}}}
checks: {class_semantics: {}}
report: {formats: [json, html]}
"""
LEFT_OUT = {"Kerry blue terrier": "kerry, terrier", "Irish setter": "irish, setter"}


@pytest.fixture(scope="module")
def audit(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One `singaudit run`: its terminal output and its reports."""
    folder = tmp_path_factory.mktemp("unknown_words")
    (folder / "spec.yaml").write_text(SPEC, encoding="utf-8")
    terminal = io.StringIO()
    with contextlib.redirect_stdout(terminal):
        code = run_cli(["run", str(folder / "spec.yaml"), "--out", str(folder / "out")])
    assert code == 0, terminal.getvalue()
    concepts = AuditResult.read(folder / "out" / "results.json").models[0].checks[0]
    assert concepts.data["unrepresentable"] == {c: w.split(", ") for c, w in LEFT_OUT.items()}
    steering = AuditResult.read(folder / "out" / "results.json").models[0].checks[1]
    assert steering.data["unrepresentable"] == {"an image of a jellyfish": ["jellyfish"]}
    return {"terminal": terminal.getvalue(), "html": folder / "out" / "report.html",
            "pdf": folder / "out" / "report.pdf"}


def _rows(table: str) -> dict[str, str]:
    cells = re.findall(r"<tr[^>]*><td>(.*?)</td><td>(.*?)</td></tr>", table)
    return dict(cells)


def test_the_html_lists_each_unknown_concept_with_its_words_in_its_check(audit) -> None:
    html = audit["html"].read_text(encoding="utf-8")
    section = re.search(r'<div class="unrepresentable" id="(c-clean-concepts)-unknown">(.*?)</div>',
                        html, re.DOTALL)
    assert section, "the concepts check lists what it left out"
    assert _rows(section.group(2)) == LEFT_OUT  # every unknown concept, nothing representable
    summary = re.search(r'<details class="check[^"]*" id="c-clean-concepts".*?</summary>', html,
                        re.DOTALL).group(0)
    assert "2 unknown</span>" in summary  # visible while the check is folded


def test_the_first_screen_flags_them_before_any_model(audit) -> None:
    html = audit["html"].read_text(encoding="utf-8")
    first_screen = html.split('<section id="models">', 1)[0]
    flagged = first_screen.split('id="unrepresentable"', 1)[1]
    assert 'href="#c-clean-concepts-unknown"' in flagged
    for concept, words in LEFT_OUT.items():
        assert f"<strong>{concept}</strong> ({words})" in flagged


def test_the_pdf_prints_them_although_the_check_is_folded_there(audit) -> None:
    text = " ".join(page.extract_text() for page in pypdf.PdfReader(audit["pdf"]).pages)
    text = " ".join(text.split())
    in_check = text.split("Left out: 2 concepts the joint space cannot represent", 1)
    assert len(in_check) == 2, "the folded check prints its left-out concepts"
    for concept, words in LEFT_OUT.items():
        assert f"{concept} {words}" in in_check[1]  # the per-concept table
        assert f"{concept} ({words})" in in_check[0]  # the first screen


def test_the_terminal_names_each_unknown_concept_with_its_words(audit) -> None:
    warning = next(line for line in audit["terminal"].splitlines() if "left out" in line
                   and line.startswith("warning"))
    assert warning.startswith("warning: clean::concepts: 2 concept(s) left out")
    for concept, words in LEFT_OUT.items():
        assert f"'{concept}' ({words})" in warning


def test_a_report_without_unknown_concepts_flags_none(rendered) -> None:
    html = rendered["html"].read_text(encoding="utf-8")
    assert "concepts" in html and 'id="unrepresentable"' not in html
    assert "cannot represent" not in html


def test_the_steering_target_is_flagged_where_it_is_scored(audit) -> None:
    html = audit["html"].read_text(encoding="utf-8")
    section = re.search(r'<div class="unrepresentable" id="c-clean-steering-unknown">(.*?)</div>',
                        html, re.DOTALL)
    assert section and _rows(section.group(1)) == {"an image of a jellyfish": "jellyfish"}
    assert "measure nothing" in section.group(1)
    assert "clean::steering: words unknown to the joint space's text tower, scored anyway" \
        in audit["terminal"]


def test_class_names_the_joint_space_cannot_represent_are_refused_by_name(tmp_path) -> None:
    import numpy as np
    from PIL import Image

    generator = np.random.default_rng(0)
    for name in ("circle", "square", "Kerry blue terrier"):
        (tmp_path / "images" / name).mkdir(parents=True)
        for index in range(10):
            pixels = generator.integers(0, 256, (64, 64, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(tmp_path / "images" / name / f"{index}.png")
    (tmp_path / "spec.yaml").write_text(FOREIGN_CLASSES, encoding="utf-8")
    terminal = io.StringIO()
    with contextlib.chdir(tmp_path), contextlib.redirect_stdout(terminal):
        code = run_cli(["run", "spec.yaml", "--out", "out"])
    assert code == 0, terminal.getvalue()
    check = AuditResult.read(tmp_path / "out" / "results.json").models[0].checks[0]
    assert check.name == "class_semantics" and check.status == "skip"
    assert "cannot represent 1 of the 3 class names" in check.message
    assert "'Kerry blue terrier' (kerry, terrier)" in check.message
    assert "'circle'" not in check.message  # only the names it cannot represent
    assert "Kerry blue terrier" in (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert "SKIPPED clean::class_semantics" in terminal.getvalue()
