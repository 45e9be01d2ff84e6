"""Class names with any character a CSV allows (control characters, rich markup, HTML,
very long, right-to-left) give valid JUnit XML, HTML, PDF and terminal output."""

from __future__ import annotations

import csv
import json
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from lxml import etree
from PIL import Image

from singaudit.cli.main import run_cli

HOSTILE = [
    "circle[/]",
    "[bold red]loud[/bold red] <b onmouseover=alert(1)>&amp; \"quoted\" 'single'",
    "tab\there\x01\x07bell\x7f\x1b[31mred\x1b[0m\nnew line",
    "\u202eevil\u202c \u05e2\u05d9\u05d2\u05d5\u05dc \u0645\u0631\u0628\u0639",
    "x" * 300 + "\u00e9" * 20,
]
SCHEMA = etree.XMLSchema(etree.parse(str(Path(__file__).parents[1] / "reports" / "junit.xsd")))


@pytest.fixture
def hostile_audit(tmp_path):
    rng = np.random.default_rng(0)
    (tmp_path / "data").mkdir()
    with open(tmp_path / "data" / "labels.csv", "w", newline="") as handle:
        rows = csv.writer(handle)
        rows.writerow(["path", "label"])
        for label, name in enumerate(HOSTILE):
            for index in range(12):
                pixels = rng.integers(0, 80, size=(8, 8, 3))
                pixels[..., label % 3] += 150
                Image.fromarray(pixels.astype(np.uint8)).save(
                    tmp_path / "data" / f"{label}_{index}.png")
                rows.writerow([f"{label}_{index}.png", name])
    spec = tmp_path / "hostile.yaml"
    spec.write_text(f"""\
version: 1
kind: singaudit/audit
name: hostile
models:
  - name: first
    id: runnerworld:seed1
joint_space:
  id: runnerworld:joint
data:
  id: "list:{tmp_path / 'data' / 'labels.csv'}"
  images_per_class: 5
checks:
  null_invariance: {{}}
  class_semantics:
    n_boot: 20
    thresholds: [{{metric: abs_as, statistic: median, fail: 0, scope: per_class, min_images: 1, confidence: null}}]
report:
  formats: [html, json, junit]
device: cpu
""")
    return spec


class _Collect(HTMLParser):
    def __init__(self):
        super().__init__()
        self.text, self.tags = [], []

    def handle_data(self, data):
        self.text.append(data)

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)


@pytest.mark.filterwarnings("error::UserWarning")  # e.g. matplotlib's "Glyph 27 missing"
def test_hostile_class_names_give_valid_outputs(hostile_audit, tmp_path, capsys):
    out = tmp_path / "out[/]"
    code = run_cli(["run", str(hostile_audit), "--out", str(out)])
    printed = capsys.readouterr()
    assert code == 1, printed.err  # a failing verdict, not an internal error (3)
    assert "out[/]" in printed.out  # markup shown as text, not interpreted
    assert "[bold red]loud[/bold red]" in printed.out, printed.out
    assert "\x1b" not in printed.out and "\u202e" not in printed.out  # no escape sequence or
    assert "\\x1b[31m" in printed.out and "\\u202e" in printed.out  # override: shown instead
    result = json.loads((out / "results.json").read_text())
    per_class = result["models"][0]["checks"][1]["per_class"]
    assert sorted(per_class) == sorted(HOSTILE)  # names kept exactly in results.json
    junit = etree.parse(str(out / "junit.xml")).getroot()  # parses: only XML-legal characters
    SCHEMA.assertValid(junit)
    html = (out / "report.html").read_text()
    page = _Collect()
    page.feed(html)
    assert "circle[/]" in "".join(page.text)
    assert "onmouseover" not in " ".join(page.tags) and "<b onmouseover" not in html
    assert not (out / "report.pdf").exists()


@pytest.mark.slow
@pytest.mark.filterwarnings("error::UserWarning")
def test_hostile_class_names_give_a_pdf(hostile_audit, tmp_path):
    out = tmp_path / "out"
    assert run_cli(["run", str(hostile_audit), "--out", str(out), "--set",
                    "report.formats=[pdf]"]) == 1
    assert (out / "report.pdf").read_bytes().startswith(b"%PDF")
