"""The diff report: ``singaudit diff`` as HTML (with the two runs' violins side by side), PDF,
Markdown and JSON, written into one output folder."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import jinja2
import numpy as np

from singaudit.io.atomic import atomic_write_text
from singaudit.io.output_folder import publish, staged_output
from singaudit.regression.diff import OVERALL, Delta, Diff, per_image
from singaudit.reports.context import data_uri
from singaudit.reports.markdown import diff_markdown
from singaudit.reports.render import ReportError, template_environment, write_pdf
from singaudit.results import STATUS_ORDER, AuditResult, CheckResult
from singaudit.wording import number

if TYPE_CHECKING:  # matplotlib loads when a figure is drawn
    from matplotlib.axes import Axes
    from matplotlib.collections import PolyCollection

DIFF_FORMATS = ("json", "markdown", "html", "pdf")
DIFF_NAMES = {"json": "diff.json", "markdown": "diff.md", "html": "diff.html", "pdf": "diff.pdf"}
DIFF_TEMPLATE = "diff.html.jinja"
BASE_COLOUR, NEW_COLOUR = "#8a8a8a", "#c2410c"


def write_diff(diff: Diff, base: AuditResult, new: AuditResult, out_dir: Path,
               formats: Iterable[str], *, report_url: str | None = None,
               templates_dir: Path | None = None) -> dict[str, Path]:
    """Write the asked formats into ``out_dir``; returns format -> path."""
    wanted = list(dict.fromkeys(formats))
    unknown = [f for f in wanted if f not in DIFF_NAMES]
    if unknown:
        raise ReportError(f"unknown diff format(s) {', '.join(map(repr, unknown))}; choose from "
                          f"{', '.join(DIFF_FORMATS)}")
    if not wanted:
        return {}
    out_dir = Path(out_dir)
    # The output-folder contract: staged, then published; only files singaudit wrote replaced.
    with staged_output(out_dir) as staging:
        if "json" in wanted:
            atomic_write_text(staging / DIFF_NAMES["json"], diff.model_dump_json(indent=2))
        if "markdown" in wanted:
            atomic_write_text(staging / DIFF_NAMES["markdown"], diff_markdown(diff, report_url))
        if "html" in wanted or "pdf" in wanted:
            html = render_diff_html(diff, base, new, templates_dir)
            if "html" in wanted:
                atomic_write_text(staging / DIFF_NAMES["html"], html)
            if "pdf" in wanted:
                write_pdf(html, staging / DIFF_NAMES["pdf"])
        publish(staging, out_dir, audit=f"diff {diff.new.name} vs {diff.base.name}")
    return {fmt: out_dir / DIFF_NAMES[fmt] for fmt in wanted}


def render_diff_html(diff: Diff, base: AuditResult, new: AuditResult,
                     templates_dir: Path | None = None) -> str:
    environment: jinja2.Environment = template_environment(templates_dir)
    try:
        return environment.get_template(DIFF_TEMPLATE).render(**diff_context(diff, base, new))
    except jinja2.TemplateError as error:
        raise ReportError(f"diff template error: {error}") from None


def diff_context(diff: Diff, base: AuditResult, new: AuditResult) -> dict[str, Any]:
    models = []
    for model in diff.models:
        base_model = next(m for m in base.models if m.name == model.base_model)
        new_model = next(m for m in new.models if m.name == model.new_model)
        rows = sorted(model.deltas, key=lambda d: (-STATUS_ORDER.get(d.verdict or "skip", 0),
                                                    d.check, d.scope != OVERALL, d.metric))
        violins = []
        for metric in dict.fromkeys(d.metric for d in model.judged()):
            check = next(d.check for d in model.judged() if d.metric == metric)
            png = side_by_side_violins(_check(base_model.checks, check),
                                       _check(new_model.checks, check), metric)
            if png is not None:
                violins.append({"title": f"{check}.{metric}: baseline vs candidate, per class",
                                "src": data_uri(png)})
        models.append({
            "diff": model,
            "anchor": f"model-{model.new_model}",
            "rows": [_row(d) for d in rows],
            "violins": violins,
        })
    return {"diff": diff, "models": models}


def _row(delta: Delta) -> dict[str, Any]:
    interval = "" if delta.interval is None else (
        f"{number(delta.interval[0], True)} to {number(delta.interval[1], True)}")
    return {
        "check": delta.check, "metric": delta.metric, "statistic": delta.statistic or "",
        "scope": "all" if delta.scope == OVERALL else delta.scope,
        "before": number(delta.before), "after": number(delta.after),
        "delta": number(delta.delta, True), "interval": interval, "method": delta.method,
        "status_before": delta.status_before or "", "status_after": delta.status_after or "",
        "verdict": delta.verdict or "", "bound": "" if delta.bound is None else number(delta.bound),
    }


def _check(checks: list[CheckResult], name: str) -> CheckResult | None:
    return next((c for c in checks if c.name == name), None)


def side_by_side_violins(base: CheckResult | None, new: CheckResult | None,
                         metric: str) -> bytes | None:
    """Per-class violins of a per-image metric: the baseline (grey) above the candidate."""
    import io

    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if base is None or new is None:
        return None
    groups = []
    for check in (base, new):
        values = per_image(check, metric)
        labels, names = check.data.get("label"), check.data.get("class_names")
        if values is None or not isinstance(labels, list) or not isinstance(names, list):
            return None
        array, _ = values
        groups.append({name: array[np.asarray(labels) == i] for i, name in enumerate(names)})
    classes = [name for name in groups[1] if name in groups[0]]
    if not classes:
        return None
    with matplotlib.rc_context({"font.size": 8, "axes.spines.top": False,
                                "axes.spines.right": False}):
        figure = Figure(figsize=(6.4, 0.5 + 0.55 * len(classes)), dpi=110, layout="constrained")
        FigureCanvasAgg(figure)
        axes = figure.add_subplot()
        for offset, colour, group in ((0.2, BASE_COLOUR, groups[0]),
                                      (-0.2, NEW_COLOUR, groups[1])):
            for i, name in enumerate(classes):
                values = group[name][np.isfinite(group[name])]
                position = len(classes) - 1 - i + offset
                if values.size >= 2 and np.ptp(values) > 0:
                    for body in _horizontal_violin(axes, values, position):
                        body.set_facecolor(colour)
                        body.set_alpha(0.5)
                if values.size:
                    axes.plot([np.median(values)] * 2, [position - 0.17, position + 0.17],
                              color=colour, lw=2)
        axes.set_yticks(range(len(classes)), list(reversed(classes)))
        axes.axvline(0.0, color="#444444", lw=0.6)
        axes.set_xlabel(f"{metric} per image (baseline grey, candidate orange; bars: medians)")
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()


def _horizontal_violin(axes: Axes, values: np.ndarray, position: float) -> list[PolyCollection]:
    """The bodies of one horizontal violin at ``position``."""
    try:
        parts = axes.violinplot([values], positions=[position], widths=0.38, showextrema=False,
                                orientation="horizontal")
    except TypeError:  # matplotlib < 3.10 names it vert=False
        parts = axes.violinplot([values], positions=[position], widths=0.38, showextrema=False,
                                vert=False)
    return cast("list[PolyCollection]", parts["bodies"])  # typed as one Collection: a list
