from __future__ import annotations

import re
from pathlib import Path

import lxml.html
from report_sample_audit import HOSTILE

from singaudit.reports import render_reports
from singaudit.results import AuditResult, CheckResult, ClassResult, ModelResult

SIZE_BUDGET = 5 * 1024 * 1024


def _document(path: Path) -> lxml.html.HtmlElement:
    return lxml.html.fromstring(path.read_bytes())


def test_html_parses_with_every_section(rendered: dict[str, Path]) -> None:
    document = _document(rendered["html"])
    ids = set(document.xpath("//@id"))
    assert {"summary", "provenance", "comparison", "scale"} <= ids
    assert document.xpath("//section[@id='summary']//table[@class='summary']//tr")
    # The verdict summary comes first, provenance last (no timings dump before any result).
    sections = [section.get("id") for section in document.xpath("//main/section")]
    assert sections[0] == "summary" and sections[-1] == "provenance"
    assert document.xpath("//section[@id='provenance']//details[@class='timings']") or \
        "timings_s" not in rendered["html"].read_text()


def test_first_screen_lists_what_failed_first(rendered: dict[str, Path]) -> None:
    document = _document(rendered["html"])
    summary = document.xpath("//section[@id='summary']")[0]
    tables = summary.xpath(".//table")
    assert tables[0].get("class") == "attention"  # before the model x check matrix
    rows = [[" ".join(cell.text_content().split()) for cell in row.xpath("./td")]
            for row in tables[0].xpath(".//tr[td]")]
    # Most severe first: the error, then the informational failure, then the expected one.
    assert [(row[0], row[1]) for row in rows] == [
        ("head <script>alert(1)</script>", "class_semantics"),
        ("resnet50", "class_semantics"), ("leaky_cal", "class_semantics")]
    assert [row[2] for row in rows] == ["error", "fail informational", "xfail"]
    assert all(row[3] for row in rows[1:]), "each row says how badly"


def test_models_and_checks_fold_open_only_where_something_failed(
        rendered: dict[str, Path]) -> None:
    document = _document(rendered["html"])
    checks = document.xpath("//details[contains(@class, 'check')]")
    assert len(checks) == 20
    for check in checks:
        status = check.xpath("./summary//span[contains(@class, 'badge')]")[0].text_content()
        assert (check.get("open") is not None) == (status not in ("pass", "skip")), status
        assert ("quiet" in check.get("class")) == (status in ("pass", "skip"))
    models = {m.get("id"): m for m in document.xpath("//details[contains(@class, 'model')]")}
    assert models["c-dino_vit"].get("open") is None and "quiet" in models["c-dino_vit"].get("class")
    assert models["c-resnet50"].get("open") is not None


def test_failed_only_filter_works_without_scripts(rendered: dict[str, Path]) -> None:
    document = _document(rendered["html"])
    toggle = document.xpath("//input[@id='failed-only']")[0]
    # The checkbox precedes nav and main, so a sibling selector can hide quiet sections.
    assert toggle.getnext().tag == "nav"
    assert document.xpath("//label[@for='failed-only']")
    css = "".join(document.xpath("//style/text()"))
    assert "#failed-only:checked ~ main .quiet { display: none; }" in css
    assert not document.xpath("//script")
    nav = document.xpath("//nav[@class='toc']")[0]
    assert [a.get("href") for a in nav.xpath(".//a")][-1] == "#provenance"


def test_comparison_is_ordered_by_verdict_not_by_ratio(rendered: dict[str, Path]) -> None:
    document = _document(rendered["html"])
    rows = document.xpath("//section[@id='comparison']//table//tr[td]")
    names = [row.xpath("./td")[0].text_content() for row in rows]
    # dino_vit passes; the two failing models follow, the lower worst statistic first.
    assert names == ["dino_vit", "resnet50", "leaky_cal"]
    headers = [th.text_content() for th in
               document.xpath("//section[@id='comparison']//table//th")]
    assert "ratio (paper)" in headers and "worst judged statistic" in headers


def test_html_is_self_contained(rendered: dict[str, Path]) -> None:
    document = _document(rendered["html"])
    sources = document.xpath("//@src")
    links = document.xpath("//@href")
    assert sources, "figures are embedded as images"
    assert all(s.startswith("data:image/") for s in sources)
    assert all(link.startswith("#") for link in links)
    assert not document.xpath("//script | //link | //iframe | //object")
    assert "url(" not in "".join(document.xpath("//style/text()"))
    # Every in-page link points at an anchor that exists.
    ids = set(document.xpath("//@id"))
    assert {link[1:] for link in links} <= ids


def test_hostile_names_are_shown_as_text(rendered: dict[str, Path]) -> None:
    text = rendered["html"].read_text()
    assert HOSTILE not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    document = _document(rendered["html"])
    assert HOSTILE in document.text_content()
    assert not document.xpath("//script")


def test_html_within_size_budget(rendered: dict[str, Path]) -> None:
    assert rendered["html"].stat().st_size <= SIZE_BUDGET


def test_figures_and_evidence_are_present(rendered: dict[str, Path],
                                          sample_audit: AuditResult) -> None:
    document = _document(rendered["html"])
    titles = [a for a in document.xpath("//figure/img/@alt")]
    for expected in ("Per-class IS, signed AS and |AS|",
                     "Ratio median(IS) / median(|AS|), the paper's reading",
                     "Joint distribution of (AS, IS)", "Translator fidelity (cosine)",
                     "Concept similarity graph", "Null-space steering", "reference scale",
                     "Logit change under matched-norm perturbations",
                     "Top concepts per class: original vs equivalent angle"):
        assert expected in titles
    judged_models = [m for m in sample_audit.models if m.checks[0].status != "skip"]
    assert titles.count("Per-class IS, signed AS and |AS|") == len(judged_models)
    evidence = document.xpath("//div[@class='evidence']")
    assert len(evidence) == len(judged_models)
    # 3 classes x (input + 2 seeds x 2 renders + 2 x 2 gallery matches) thumbnails; the unsafe
    # and missing paths are not embedded but marked missing.
    first = evidence[0]
    assert len(first.xpath(".//img")) == 3 * 9
    assert len(first.xpath(".//div[@class='missing']")) == 2
    text = first.text_content()
    assert "jeep: AS +4.70 deg, IS 23.0 deg" in text  # the check's own caption
    assert "missing files · IS 1° · AS 0.5°" in " ".join(text.split())  # built without one
    assert "seed 1" in text and "nearest to T(f_eq)" in text


def test_thresholds_and_numbers_behind_verdicts(rendered: dict[str, Path]) -> None:
    text = _document(rendered["html"]).text_content()
    assert "median(abs_as): warn if > 3°, fail if > 4°" in text
    assert "mean(cosine): warn if < 0.8, fail if < 0.6" in text
    assert "expected fail: met" in text
    assert "null_dim is 0: no invariant subspace" in text
    assert re.search(r"versions\s*torch 2\.14\.1 · singaudit 0\.1\.0", text)


def test_missing_figure_data_is_omitted(tmp_path: Path) -> None:
    audit = AuditResult(
        name="bare", status="pass", ok=True,
        models=[ModelResult(name="m", id="x:y", status="pass", checks=[
            CheckResult(name="class_semantics", status="pass", data={"is": [1.0]}),
            CheckResult(name="concepts", status="pass", data={"similarity": [[1.0]]}),
            CheckResult(name="steering", status="pass", data={"as": []}),
            CheckResult(name="my_plugin_check", status="pass", data={"anything": 1}),
        ])],
    )
    audit.write(tmp_path / "results.json")
    written = render_reports(tmp_path / "results.json", formats=("html",))
    assert set(written) == {"html"}
    document = _document(written["html"])
    assert document.xpath("//figure/img/@alt") == ["reference scale"]
    assert "my_plugin_check" in document.text_content()


def test_many_classes_keep_the_report_small(tmp_path: Path) -> None:
    per_class = {f"class {i}": ClassResult(status="fail" if i == 999 else "pass", n=5)
                 for i in range(1000)}
    audit = AuditResult(name="imagenet", status="fail", ok=False, models=[ModelResult(
        name="m", id="x:y", status="fail", checks=[
            CheckResult(name="class_semantics", status="fail", per_class=per_class)])])
    audit.write(tmp_path / "results.json")
    document = _document(render_reports(tmp_path, formats=("html",))["html"])
    shown, folded = document.xpath("//table[tr/th[1]='class']")
    rows = shown.xpath("./tr/td[1]/text()")
    assert len(rows) == 40 and rows[0] == "class 999"  # the failing class first
    assert len(folded.xpath("./tr/td[1]")) == 1000  # every class, folded: the browser finds it
    assert folded.xpath("ancestor::details[contains(@class, 'all-classes')]")


def test_geometry_only_audit_has_no_angle_legend(tmp_path: Path) -> None:
    audit = AuditResult(name="geometry", status="pass", ok=True, models=[ModelResult(
        name="m", id="x:y", status="pass", checks=[
            CheckResult(name="null_invariance", status="pass")])])
    audit.write(tmp_path / "results.json")
    document = _document(render_reports(tmp_path, formats=("html",))["html"])
    assert not document.xpath("//*[@id='scale']")
    assert not document.xpath("//a[@href='#scale']")


def test_summary_counts_expected_failures_apart(rendered: dict[str, Path]) -> None:
    verdict = _document(rendered["html"]).xpath("//div[contains(@class, 'verdict')]")[0]
    assert ("1 error, 16 passed, 1 skipped, 1 xfailed, 1 failed (informational)"
            in " ".join(verdict.text_content().split()))
