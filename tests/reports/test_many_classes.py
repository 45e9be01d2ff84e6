"""Reports of an ImageNet-sized audit: the classes that matter shown, every class folded."""

from __future__ import annotations

from pathlib import Path

import lxml.html
import numpy as np
import pytest

from singaudit.reports.context import MAX_CLASS_ROWS, PAGED_CLASS_ROWS, build_context
from singaudit.reports.render import render_html
from singaudit.results import AuditResult, CheckResult, ClassResult, Metric, ModelResult, Tiers

CLASSES = [f"class {i:04d}" for i in range(1000)]
LEAK = Tiers(metric="leak", statistic="median", warn=2.0, fail=3.0)


def _audit(models: int = 2) -> AuditResult:
    rng = np.random.default_rng(0)
    results = []
    for m in range(models):
        leaks = rng.normal(0.0, 1.0, len(CLASSES))
        leaks[[7, 500, 999]] = [9.0, 5.0, 2.5]  # two fail, one (and chance ones) warn
        per_class = {}
        for name, leak in zip(CLASSES, leaks, strict=True):
            status = "fail" if leak > LEAK.fail else "warn" if leak > LEAK.warn else "pass"
            per_class[name] = ClassResult(status=status, n=3, metrics={
                "leak": Metric(value=float(leak), statistic="median", unit="deg", tiers=LEAK,
                               status=status, ci=(float(leak) - 1, float(leak) + 1)),
                "is": Metric(value=float(abs(leak) * 4), statistic="median", unit="deg")})
        labels = np.repeat(np.arange(len(CLASSES)), 3)
        check = CheckResult(
            name="class_semantics", status="fail", message="class 0007 leaks", per_class=per_class,
            metrics={"leak": Metric(value=0.1, statistic="median", unit="deg", tiers=LEAK,
                                    status="pass")},
            data={"is": rng.gamma(4, 4, labels.size).tolist(),
                  "as": (-leaks[labels] + rng.normal(0, 0.3, labels.size)).tolist(),
                  "label": labels.tolist(), "class_names": CLASSES})
        results.append(ModelResult(name=f"model{m}", id=f"python:m{m}", status="fail",
                                   expect="none", checks=[check]))
    return AuditResult(name="imagenet", status="fail", ok=True, models=results)


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    audit = _audit()
    folder = tmp_path_factory.mktemp("many_classes")
    context = build_context(audit, Path(folder))
    return (render_html(audit, folder, context=context),
            render_html(audit, folder, paged=True, context=context))


def _class_tables(html: str) -> list[lxml.html.HtmlElement]:
    document = lxml.html.fromstring(html)
    return document.xpath("//details[contains(@class, 'check')]//h4[starts-with(., 'Per class')]"
                          "/following-sibling::div[@class='scroll'][1]/table")


def test_shown_classes_are_the_worst_first(pages: tuple[str, str]) -> None:
    tables = _class_tables(pages[0])
    assert len(tables) == 2  # one per model
    names = [row.xpath("./td")[0].text_content() for row in tables[0].xpath(".//tr[td]")]
    assert len(names) == MAX_CLASS_ROWS
    assert names[:2] == ["class 0007", "class 0500"]  # the failures, worst first
    assert names[2] == "class 0999" or "class 0999" in names  # then the warnings


def test_every_class_is_in_the_folded_table(pages: tuple[str, str]) -> None:
    document = lxml.html.fromstring(pages[0])
    folded = document.xpath("//details[contains(@class, 'all-classes')]")
    assert len(folded) == 2 and all(d.get("open") is None for d in folded)
    rows = folded[0].xpath(".//table[contains(@class, 'compact')]//tr[td]")
    assert [row.xpath("./td")[0].text_content().strip() for row in rows] == CLASSES
    first = [cell.text_content().strip() for cell in rows[7].xpath("./td")]
    assert first[0] == "class 0007" and first[-1] == "fail"


def test_the_pdf_source_leaves_the_full_table_to_results_json(pages: tuple[str, str]) -> None:
    paged = pages[1]
    assert not lxml.html.fromstring(paged).xpath("//details[contains(@class, 'all-classes')]")
    assert f"{len(CLASSES) - PAGED_CLASS_ROWS} more classes" in paged
    assert len(_class_tables(paged)) == 2


def test_the_folded_table_costs_under_a_hundred_bytes_a_class(pages: tuple[str, str]) -> None:
    html = pages[0]
    start = html.index('<details class="all-classes">')
    length = html.index("</details>", start) - start
    assert length / len(CLASSES) < 100, length / len(CLASSES)  # no per-cell markup or titles


def test_the_pdf_source_shows_fewer_classes_worst_first(pages: tuple[str, str]) -> None:
    tables = _class_tables(pages[1])
    names = [row.xpath("./td")[0].text_content() for row in tables[0].xpath(".//tr[td]")]
    assert len(names) == PAGED_CLASS_ROWS and names[:2] == ["class 0007", "class 0500"]


def test_thirteen_models_keep_the_matrix_on_the_first_screen(tmp_path: Path) -> None:
    from singaudit.reports.context import ATTENTION_SHOWN

    models = [ModelResult(name=f"model{m}", id=f"python:m{m}", status="fail", expect="none",
                          checks=[CheckResult(name=name, status="fail", message=f"{name} fails")
                                  for name in ("class_semantics", "null_probe", "steering")])
              for m in range(13)]
    audit = AuditResult(name="thirteen", status="fail", ok=True, models=models)
    document = lxml.html.fromstring(render_html(audit, tmp_path))
    summary = document.xpath("//section[@id='summary']")[0]
    first = summary.xpath("./table[contains(@class, 'attention')]")[0]
    assert len(first.xpath(".//tr[td]")) == ATTENTION_SHOWN
    folded = summary.xpath("./details[contains(@class, 'more-attention')]")
    assert len(folded) == 1 and folded[0].get("open") is None
    assert len(folded[0].xpath(".//tr[td]")) == 39 - ATTENTION_SHOWN
    assert len(summary.xpath(".//table[contains(@class, 'summary')]//tr[td]")) == 13
    paged = lxml.html.fromstring(render_html(audit, tmp_path, paged=True))  # the PDF: folded too
    assert paged.xpath("//details[contains(@class, 'more-attention')]")[0].get("open") is None


def test_evidence_per_check_shrinks_with_many_models() -> None:
    from singaudit.reports.context import MAX_EVIDENCE_ITEMS, evidence_limit

    assert [evidence_limit(n) for n in (1, 3, 4, 13, 40)] == [MAX_EVIDENCE_ITEMS, 24, 18, 6, 6]


def test_first_screen_messages_are_cut_at_a_word_with_an_ellipsis():
    from singaudit.reports.context import FIRST_SCREEN_CHARACTERS, _first_screen_text

    short = "fail > 4 in classes: circle 17.4"
    assert _first_screen_text(short) == short
    long = "carried median > fail 4 in classes: " + "circle 17.43, " * 60
    cut = _first_screen_text(long)
    assert cut.endswith(" …") and len(cut) <= FIRST_SCREEN_CHARACTERS + 2
    assert long.startswith(cut[:-2]) and not cut[:-2].endswith(",")
