"""AuditResult -> the plain values the HTML template shows (figures as data URIs)."""

from __future__ import annotations

import base64
import functools
import hashlib
import io
import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from PIL import Image, UnidentifiedImageError

from singaudit.reports import figures
from singaudit.reports.verdicts import (
    ATTENTION,
    all_clear_line,
    check_outcome,
    compact,
    describe_metric,
    expectation_text,
    flatten,
    format_number,
    format_value,
    is_expected_failure,
    outcome_line,
    threshold_text,
)
from singaudit.results import STATUS_ORDER, AuditResult, CheckResult, ClassResult, ModelResult
from singaudit.wording import seconds

THUMBNAIL_PX = 128
PNG_THUMBNAIL_LIMIT = 24_000  # bytes; larger (photographic) thumbnails go as JPEG
MAX_EVIDENCE_ITEMS = 24  # per check, keeps the report within its size budget
EVIDENCE_ITEMS_PER_AUDIT = 72  # shared by the models past three (13 models: 6 each, >= 6)
MAX_CLASS_ROWS = 40
ACCURACY_CLASSES_SHOWN = 10  # per model in the provenance table, past MAX_CLASS_ROWS classes
ATTENTION_SHOWN = 8  # first-screen rows of "what needs a look"; the rest fold below them
PAGED_CLASS_ROWS = 15  # per check in the PDF: 13 models x a few checks stay within ~60 pages
ANGLE_KINDS = {"class_semantics", "concepts", "steering", "evidence"}  # checks reporting IS/AS


def data_uri(payload: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64," + base64.b64encode(payload).decode("ascii")


def report_figure(title: str, png: bytes | None, caption: str = "") -> dict[str, str] | None:
    """One figure of a check's section (None when there is no PNG: the figure is left out)."""
    return None if png is None else {"title": title, "src": data_uri(png), "caption": caption}


_figure = report_figure


def _check_figures(check: CheckResult) -> list[dict[str, str]]:
    build = figures.figure_builder(check.name)
    if build is None or not check.data:
        return []
    return [figure for figure in build(check) if figure is not None]


def thumbnail_uri(results_dir: Path, relative: Any) -> str | None:
    """A small data URI for an artefact image inside the results folder; None if unusable."""
    if not isinstance(relative, str) or not relative:
        return None
    root = results_dir.resolve()
    path = (root / relative).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        return None  # only the results folder's own artefacts are embedded
    stat = path.stat()
    return _encoded_thumbnail(path, stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=1024)
def _encoded_thumbnail(path: Path, mtime_ns: int, size: int) -> str | None:
    """Cached per file version in the process, and by content on disk: gallery images recur
    across evidence items, and a warm re-run writes the same renders again."""
    try:
        payload = path.read_bytes()
    except OSError:
        return None
    key = hashlib.sha256(payload + f"thumbnail {THUMBNAIL_PX}".encode()).hexdigest()
    cached = figures.cached_render(key, ".uri")
    if cached is not None:
        return cached.decode("ascii")
    uri = _thumbnail(payload)
    if uri is not None:
        figures.store_render(key, uri.encode("ascii"), ".uri")
    return uri


def _thumbnail(payload: bytes) -> str | None:
    try:
        with Image.open(io.BytesIO(payload)) as image:
            rgb = image.convert("RGB")
            rgb.thumbnail((THUMBNAIL_PX, THUMBNAIL_PX))
            buffer = io.BytesIO()
            rgb.save(buffer, format="PNG", optimize=True)
            if buffer.tell() <= PNG_THUMBNAIL_LIMIT:
                return data_uri(buffer.getvalue())
            buffer = io.BytesIO()
            image.save(buffer, format="JPEG", quality=85)
            return data_uri(buffer.getvalue(), "image/jpeg")
    except (OSError, UnidentifiedImageError, ValueError, Image.DecompressionBombError):
        return None


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _retrieved(results_dir: Path, matches: Any) -> list[dict[str, Any]]:
    """Gallery matches ({"image", "key", "similarity"}) as thumbnails with their similarity."""
    return [
        {"src": thumbnail_uri(results_dir, m.get("image")), "key": m.get("key"),
         "similarity": format_number(m.get("similarity"))}
        for m in _as_list(matches) if isinstance(m, Mapping)
    ]


def evidence_limit(models: int) -> int:
    """Evidence items per check: 24 for up to three models, fewer past that (never below 6)."""
    return max(6, min(MAX_EVIDENCE_ITEMS, EVIDENCE_ITEMS_PER_AUDIT // max(models, 1)))


def _evidence(check: CheckResult, results_dir: Path, limit: int = MAX_EVIDENCE_ITEMS
              ) -> dict[str, Any] | None:
    items = check.artefacts.get("items")
    if not isinstance(items, list) or not items:
        return None
    rows = []
    for item in items[:limit]:
        if not isinstance(item, Mapping):
            continue
        originals, equivalents = _as_list(item.get("render_orig")), _as_list(item.get("render_eq"))
        seeds = _as_list(item.get("seeds") or check.artefacts.get("seeds"))
        pairs = [
            {
                "seed": seeds[i] if i < len(seeds) else None,
                "orig": thumbnail_uri(results_dir, originals[i]),
                "eq": thumbnail_uri(results_dir, equivalents[i]) if i < len(equivalents) else None,
            }
            for i in range(len(originals))
        ]
        rows.append({
            "class": item.get("class"),
            "key": item.get("key"),
            "caption": item.get("caption"),
            "is": format_value(item.get("is"), "deg"),
            "as": format_value(item.get("as"), "deg"),
            "image": thumbnail_uri(results_dir, item.get("image")),
            "pairs": pairs,
            "retrieval_orig": _retrieved(results_dir, item.get("retrieval_orig")),
            "retrieval_eq": _retrieved(results_dir, item.get("retrieval_eq")),
        })
    return {
        "rows": rows,
        "omitted": max(0, len(items) - limit),
        "generator": check.artefacts.get("generator"),
    }


def _metric_rows(check: CheckResult) -> list[dict[str, Any]]:
    return [
        {
            "name": name,
            "statistic": metric.statistic or "",
            "value": format_value(metric.value, metric.unit),
            "ci": (f"{format_number(metric.ci[0])} – {format_number(metric.ci[1])}"
                   if metric.ci else ""),
            "thresholds": threshold_text(metric),
            "status": metric.status or "",
            "description": metric.description or "",
        }
        for name, metric in check.metrics.items()
    ]


def _per_class_table(check: CheckResult) -> dict[str, Any] | None:
    """The classes that matter (those beyond a level, then the worst, at most MAX_CLASS_ROWS)
    and, past that many classes, every class in a compact folded table (HTML only)."""
    if not check.per_class:
        return None
    columns = list(dict.fromkeys(n for r in check.per_class.values() for n in r.metrics))
    rows: list[dict[str, Any]] = []  # template rows
    for class_name, result in check.per_class.items():
        cells: list[dict[str, Any]] = []
        for column in columns:
            metric = result.metrics.get(column)
            text = format_value(metric.value, metric.unit) if metric else ""
            if metric is not None and metric.p_value is not None:  # judged with a one-sided test
                text += f" (p {format_number(metric.p_value)})"
            cells.append({"text": text, "status": (metric.status or "") if metric else "",
                          "title": (column, metric)})
        rows.append({"name": class_name, "status": result.status or "", "n": result.n,
                     "cells": cells, "worse": _class_badness(result)})
    total = len(rows)
    beyond = sum(row["status"] in ("fail", "warn") for row in rows)
    full = None
    if total > MAX_CLASS_ROWS:  # e.g. 1000 ImageNet classes: every class folded below
        full = [[row["name"], row["n"], *(c["text"] for c in row["cells"]), row["status"]]
                for row in rows]
    if total > PAGED_CLASS_ROWS:  # more than the PDF shows: the worst first
        rows = sorted(rows, key=lambda r: (-STATUS_ORDER.get(r["status"], -1), -r["worse"]))
        rows = rows[:MAX_CLASS_ROWS]
    for row in rows:  # a cell's hover line (value, CI, tiers): only for the rows shown
        for cell in row["cells"]:
            column, metric = cell["title"]
            cell["title"] = describe_metric(column, metric) if metric is not None else ""
    return {"columns": columns, "rows": rows,
            "omitted": total - len(rows), "total": total, "beyond": beyond, "full": full,
            "paged_rows": PAGED_CLASS_ROWS}


def _class_badness(result: Any) -> float:
    """How far a class's judged statistic is on the bad side (larger is worse); -inf if none."""
    worst = -math.inf
    for metric in result.metrics.values():
        if metric.tiers is not None and figures._is_number(metric.value):
            worst = max(worst, -metric.value if metric.tiers.higher_is_better else metric.value)
    return worst


def _check_context(model: ModelResult, check: CheckResult, results_dir: Path,
                   evidence_items: int = MAX_EVIDENCE_ITEMS
                   ) -> dict[str, Any]:
    outcome = check_outcome(model, check)
    return {
        "name": check.name,
        "anchor": _anchor(model.name, check.name),
        "status": check.status,
        "outcome": outcome,
        "open": outcome in ATTENTION,  # failures, errors and warnings start unfolded
        "quiet": outcome in ("passed", "skipped"),  # hidden by the failed-only filter
        "expected_failure": is_expected_failure(model, check),
        "message": check.message,
        # the question the check's verdict answers, in one sentence (class_semantics states it)
        "question": check.data.get("question") if isinstance(check.data, Mapping) else None,
        "duration": seconds(check.duration_s),
        "metrics": _metric_rows(check),
        "per_class": _per_class_table(check),
        "figures": _check_figures(check),
        "evidence": _evidence(check, results_dir, evidence_items),
        "unrepresentable": _unrepresentable(check),
        "left_out": check.name == "concepts",  # it drops them; other checks score them anyway
        "decomposition": _decomposition(check),
        "other_artefacts": flatten({k: v for k, v in check.artefacts.items()
                                    if k not in ("items", "generator", "seeds")}),
    }


def _unrepresentable(check: CheckResult) -> list[dict[str, Any]]:
    """Concepts left out because the joint space cannot represent them, each with its words."""
    left_out = check.data.get("unrepresentable")
    if not isinstance(left_out, Mapping):
        return []
    return [{"concept": str(concept), "words": [str(w) for w in _as_list(words)]}
            for concept, words in left_out.items()]


def _decomposition(check: CheckResult) -> list[dict[str, str]]:
    """The concepts check's sparse method: per class, the concepts the null content adds and
    suppresses, with weights, and the reconstruction cosines."""
    classes = check.data.get("classes") if check.data.get("method") == "sparse" else None
    if not isinstance(classes, Mapping):
        return []

    def named(entries: Any, entry: Mapping[str, Any]) -> str:
        # Nothing is named for a class whose shift is no larger than shuffled labels' (``specific``
        # false) or whose decomposition does not beat random directions: say which.
        unnamed = "not class-specific" if entry.get("specific") is False else "unexplained"
        return ", ".join(f"{e.get('concept')} {format_number(e.get('weight'))}"
                         for e in _as_list(entries) if isinstance(e, Mapping)) or unnamed

    return [{"name": str(name), "added": named(entry.get("added"), entry),
             "cosine_added": format_number(entry.get("cosine_added")),
             "suppressed": named(entry.get("suppressed"), entry),
             "cosine_suppressed": format_number(entry.get("cosine_suppressed"))}
            for name, entry in list(classes.items())[:MAX_CLASS_ROWS] if isinstance(entry, Mapping)]


def _anchor(*parts: str) -> str:
    """A safe fragment id (names may hold any character)."""
    return "c-" + "-".join(re.sub(r"[^A-Za-z0-9_-]+", "_", part) for part in parts)


def _verdict_statistic(model: ModelResult) -> tuple[str, float | None]:
    """The class_semantics verdict of a model and its worst judged statistic (e.g. worst-class
    median leak): what the comparison is ordered by."""
    for check in model.checks:
        if check.name != "class_semantics":
            continue
        worst: float | None = None
        results: list[CheckResult | ClassResult] = [check, *check.per_class.values()]
        for result in results:
            for metric in result.metrics.values():
                if metric.tiers is not None and metric.value is not None \
                        and figures._is_number(metric.value):
                    value = metric.value if not metric.tiers.higher_is_better else -metric.value
                    worst = value if worst is None else max(worst, value)
        return check.status, worst
    return "", None


def _comparison(audit: AuditResult) -> dict[str, Any] | None:
    entries = {e["name"]: e for e in figures.comparison_models(audit.comparison)}
    severity = {"pass": 0, "warn": 1, "skip": 2, "fail": 3, "error": 4, "": 5}
    rows: list[dict[str, Any]] = []  # template rows
    for model in audit.models:
        entry = entries.get(model.name)
        if entry is None:
            continue
        verdict, worst = _verdict_statistic(model)
        rows.append({
            "name": model.name,
            "anchor": _anchor(model.name),
            "verdict": verdict,
            "expected_failure": model.expect == "fail" and verdict == "fail",
            "worst": format_value(worst, "deg") if worst is not None else "",
            "median_is": format_value(entry.get("median_is"), "deg"),
            "median_as": format_value(entry.get("median_as"), "deg"),
            "median_abs_as": format_value(entry.get("median_abs_as"), "deg"),
            "ratio": format_number(entry.get("ratio")),
            "sort": (severity.get(verdict, 5), worst if worst is not None else float("inf")),
        })
    # Best first by the verdict's own statistic; the paper's ratio is shown, not ranked on.
    rows.sort(key=lambda row: row["sort"])
    order = [row["name"] for row in rows]
    steering = [
        (model.name, check.data.get("as") or [])
        for model in audit.models for check in model.checks
        if check.name == "steering" and check.data.get("as")
    ]
    built = [
        _figure("Ratio median(IS) / median(|AS|), the paper's reading",
                figures.ratio_ranking(audit.comparison, order=order),
                "Models in the table's order (best verdict first). A high ratio is rich but "
                "harmless invariance; it is shown beside the verdict, not used for it."),
        _figure("Joint distribution of (AS, IS)", figures.as_is_scatter(audit.comparison),
                "Grey box: changes too small to see; crosses: the paper's reference scale."),
        _figure("Steering across models", figures.steering_comparison(steering)),
    ]
    shown = [figure for figure in built if figure is not None]
    extra = {k: v for k, v in audit.comparison.items() if k not in ("models", "ranking")}
    if not rows and not shown and not extra:
        return None
    return {"rows": rows, "figures": shown, "extra": flatten(extra)}


def first_screen(audit: AuditResult) -> dict[str, Any]:
    """The report's first screen: headline, what needs a look, statuses per model x check."""
    check_names = list(dict.fromkeys(c.name for m in audit.models for c in m.checks))
    rows = []
    for model in audit.models:
        by_name = {check.name: check for check in model.checks}
        rows.append({
            "name": model.name,
            "anchor": _anchor(model.name),
            "id": model.id,
            "status": model.status,
            "expected_failure": model.expect == "fail" and model.status == "fail",
            "expect": model.expect,
            "expectation": expectation_text(model),
            "expectation_met": model.expectation_met,
            "note": model.note,
            "cells": [
                None if name not in by_name else {
                    "status": by_name[name].status,
                    "outcome": check_outcome(model, by_name[name]),
                    "anchor": _anchor(model.name, name),
                    "expected_failure": is_expected_failure(model, by_name[name]),
                    "message": by_name[name].message,
                }
                for name in check_names
            ],
        })
    # Failed first: what needs a look, most severe first (as Data Docs' failed-first view).
    attention = [
        {"model": model.name, "check": check.name, "status": check.status,
         "outcome": check_outcome(model, check), "anchor": _anchor(model.name, check.name),
         "expected_failure": is_expected_failure(model, check),
         "message": _first_screen_text(check.message), "expect": model.expect}
        for model in audit.models for check in model.checks
        if check_outcome(model, check) in ATTENTION
    ]
    attention.sort(key=lambda row: ATTENTION.index(row["outcome"]))
    violated = [row for row in rows if row["expectation_met"] is False]
    return {"check_names": check_names, "rows": rows, "headline": outcome_line(audit.models),
            "attention": attention, "attention_shown": ATTENTION_SHOWN, "violated": violated,
            "all_clear": all_clear_line(audit.models)}


def _data_issues(audit: AuditResult) -> list[tuple[str, str]]:
    """Flattened data issues, or nothing when every entry is empty or zero."""
    rows = flatten(audit.data_issues)
    return rows if any(value not in ("", "0", "n/a", "{}") for _, value in rows) else []


def _model_details(model: ModelResult) -> dict[str, Any]:
    """The provenance table's details of a model: its info and its accuracy."""
    if model.accuracy is None:
        return dict(model.info)
    accuracy = model.accuracy.model_dump()
    per_class = accuracy["top1_per_class"]
    if len(per_class) > MAX_CLASS_ROWS:  # 1,000 classes filled 7 PDF pages per model
        lowest = sorted(per_class.items(), key=lambda item: item[1])[:ACCURACY_CLASSES_SHOWN]
        accuracy["top1_per_class"] = {
            **dict(lowest), "…": f"the lowest {ACCURACY_CLASSES_SHOWN} of {len(per_class)} "
                                 "classes; every class in results.json"}
    return {**model.info, "accuracy": accuracy}


def build_context(audit: AuditResult, results_dir: Path) -> dict[str, Any]:
    """Everything report.html.jinja needs; values are plain strings, numbers and lists."""
    provenance = dict(audit.provenance)
    timings = provenance.pop("timings_s", None)
    models: list[dict[str, Any]] = []
    for model in audit.models:
        checks = [_check_context(model, c, results_dir, evidence_limit(len(audit.models)))
                  for c in model.checks]
        models.append({
            "name": model.name,
            "anchor": _anchor(model.name),
            "id": model.id,
            "status": model.status,
            "expect": model.expect,
            "expected_failure": model.expect == "fail" and model.status == "fail",
            "expectation": expectation_text(model),
            "expectation_met": model.expectation_met,
            "note": model.note,
            "headline": outcome_line([model]),
            "info": compact(_model_details(model)),
            "checks": checks,
            "open": any(c["open"] for c in checks) or model.expectation_met is False,
            "quiet": all(c["quiet"] for c in checks) and model.expectation_met is not False,
        })
    return {
        "audit": audit,
        "summary": first_screen(audit),
        "provenance": compact(provenance),
        "timings": flatten(timings) if isinstance(timings, Mapping) else [],
        "angles_shown": any(c.name in ANGLE_KINDS
                            for m in audit.models for c in m.checks),
        "data_issues": _data_issues(audit),
        "unrepresentable": [
            {"model": model["name"], "check": check["name"], "anchor": f"{check['anchor']}-unknown",
             "concepts": check["unrepresentable"], "left_out": check["left_out"]}
            for model in models for check in model["checks"] if check["unrepresentable"]],
        "models": models,
        "comparison": _comparison(audit),
        "scale": {
            "figure": data_uri(figures.scale_legend() or b""),  # undrawable: blank, not a crash
            "rows": figures.REFERENCE_SCALE,
            "hard_as": figures.HARD_TO_SEE_AS,
            "hard_is": figures.HARD_TO_SEE_IS,
        },
    }


# The first screen's "how badly" column: the verdict and its leading figures; the full message
# (translators, prompts, references) is one click away, in the check.
FIRST_SCREEN_CHARACTERS = 320


def _first_screen_text(message: str, limit: int = FIRST_SCREEN_CHARACTERS) -> str:
    """``message`` cut at a word boundary before ``limit`` characters, with an ellipsis."""
    if len(message) <= limit:
        return message
    return message[:limit].rsplit(" ", 1)[0].rstrip(";,(") + " …"
