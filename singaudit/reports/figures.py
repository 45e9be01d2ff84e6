"""Static report figures (matplotlib Agg, one style). Each function returns PNG bytes, or None
when the data it needs is absent or unusable, so a report simply omits that figure."""

from __future__ import annotations

import functools
import hashlib
import io
import json
import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeGuard, cast

import numpy as np

from singaudit.cache.figures import FIGURES
from singaudit.registry import Registry
from singaudit.wording import fixed, significant

if TYPE_CHECKING:  # matplotlib is imported only when a figure is drawn, not when it is cached
    from matplotlib.axes import Axes
    from matplotlib.collections import PolyCollection
    from matplotlib.figure import Figure
    from matplotlib.typing import RcKeyType

# Report figures per check: check name -> builder(CheckResult) -> [report_figure(...), ...].
# Built-in and third-party builders register alike: CHECK_FIGURES.add(name, builder or
# "module:function") or the ``singaudit.figures`` entry-point group.
CHECK_FIGURES: Registry[Callable[..., list]] = Registry("report figures")
for _check in ("class_semantics", "null_invariance", "translator_fidelity", "concepts",
               "steering"):
    CHECK_FIGURES.add(_check, f"singaudit.reports.check_figures:{_check}_figures")
_entry_points_loaded = False


def figure_builder(check_name: str) -> Callable[..., list] | None:
    """The figure builder registered for a check name, or None (the check has no figures)."""
    global _entry_points_loaded
    if not _entry_points_loaded:
        _entry_points_loaded = True
        CHECK_FIGURES.add_entry_points("singaudit.figures")
    return CHECK_FIGURES.get(check_name) if check_name in CHECK_FIGURES else None


# Okabe-Ito: distinguishable with the common colour-vision deficiencies.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"]
MARKERS = ["D", "o", "s", "^"]
LINE_STYLES = ["-", "--", ":", "-."]
IS_COLOUR, AS_COLOUR, ABS_AS_COLOUR = "#0072B2", "#E69F00", "#D55E00"
FAINT = "#8a8a8a"
# The paper's reference scale (one image): (AS, IS, visible change).
REFERENCE_SCALE = [(1.58, 4.0, "barely visible"), (4.70, 23.0, "clear"), (11.29, 36.2, "large")]
HARD_TO_SEE_AS, HARD_TO_SEE_IS = 3.0, 10.0

PAGE_WIDTH_IN = 7.2  # fits A4 with the print margins at 100 %
DPI = 110
MAX_CLASSES = 30
MAX_CONCEPT_CLASSES = 8
MAX_LABEL = 28

STYLE: dict[RcKeyType, Any] = {
    "font.family": "DejaVu Sans",
    "font.size": 8.5,
    "axes.titlesize": 9.5,
    "axes.labelsize": 8.5,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "#e4e4e4",
    "grid.linewidth": 0.6,
    "axes.axisbelow": True,
    "xtick.labelsize": 7.5,
    "ytick.labelsize": 7.5,
    "legend.fontsize": 7.5,
    "legend.frameon": False,
}


def _figure(width: float, height: float) -> Figure:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return palette_png(buffer.getvalue())


PALETTE_COLOURS = 256


def palette_png(png: bytes) -> bytes:
    """The same picture as an 8-bit palette PNG: a plot's few flat colours and their
    anti-aliased edges survive 256 colours in far fewer bytes (the HTML embeds every figure, 13
    models' worth at ImageNet scale). The original when that is not smaller."""
    from PIL import Image

    with Image.open(io.BytesIO(png)) as opened:
        opened.load()
        image: Image.Image = opened
        if image.mode == "RGBA" and image.getchannel("A").getextrema() == (255, 255):
            image = image.convert("RGB")
        if image.mode == "RGB":
            quantized = image.quantize(colors=PALETTE_COLOURS, method=Image.Quantize.MEDIANCUT,
                                       dither=Image.Dither.NONE)
        else:  # transparency: the quantiser that keeps the alpha channel
            quantized = image.convert("RGBA").quantize(colors=PALETTE_COLOURS,
                                                       method=Image.Quantize.FASTOCTREE,
                                                       dither=Image.Dither.NONE)
        buffer = io.BytesIO()
        quantized.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue() if buffer.tell() < len(png) else png


# Bump when a figure's look changes without this module's source changing (e.g. the style).
FIGURE_CACHE_VERSION = 2
FIGURE_CACHE_FOLDER = FIGURES  # the cache kind's folder (singaudit.cache.figures)


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return repr(value)


@functools.cache
def _drawing_code_version() -> str:
    """This module's source and matplotlib's version: a change to either redraws every figure."""
    from importlib.metadata import version

    source = Path(__file__).read_bytes()
    return hashlib.sha256(source + version("matplotlib").encode()).hexdigest()[:16]


def figure_key(name: str, args: tuple, kwargs: Mapping[str, Any]) -> str:
    """Content address of one figure: its builder, its inputs and the drawing code."""
    payload = json.dumps([FIGURE_CACHE_VERSION, _drawing_code_version(), name, args, kwargs],
                         sort_keys=True, default=_jsonable, allow_nan=True)
    return hashlib.sha256(payload.encode()).hexdigest()


def figure_cache_dir() -> Path:
    """Where drawn figures are kept: the cache's figures/ folder (``singaudit.cache.figures``)."""
    from singaudit.cache.figures import figure_folder

    return figure_folder()


def cached_render(key: str, suffix: str = ".png") -> bytes | None:
    """A rendered artefact (figure, thumbnail) stored under ``key``, or None."""
    from singaudit.cache.figures import read_figure

    return read_figure(key, suffix)


def store_render(key: str, payload: bytes, suffix: str = ".png") -> None:
    """Keep a rendered artefact for the next report (an unwritable cache only costs time)."""
    from singaudit.cache.figures import write_figure

    write_figure(key, payload, suffix)


class StyledFigure(Protocol):
    """A figure builder run by ``_styled``: called, the PNG (or None); ``draw``, the builder."""

    draw: Callable[..., Figure | None]

    def __call__(self, *args: Any, **kwargs: Any) -> bytes | None: ...


def _styled(draw: Callable[..., Figure | None]) -> StyledFigure:
    """Run a figure builder under the report style; unusable data gives None, never a crash.
    PNGs are cached by content (builder, inputs, drawing code): unchanged data is never redrawn."""

    def wrapper(*args: Any, **kwargs: Any) -> bytes | None:
        key = figure_key(draw.__name__, args, kwargs)
        cached = cached_render(key)
        if cached is not None:
            return cached
        import matplotlib

        with matplotlib.rc_context(STYLE):
            try:
                figure = draw(*args, **kwargs)
            except (KeyError, TypeError, ValueError, IndexError):
                return None
            if figure is None:
                return None
            png = _png(figure)
        store_render(key, png)
        return png

    wrapper.__name__ = draw.__name__
    wrapper.__doc__ = draw.__doc__
    styled = cast(StyledFigure, wrapper)  # a function given its builder as an attribute
    styled.draw = draw  # uncached, for tests
    return styled


def short(text: Any, limit: int = MAX_LABEL) -> str:
    """A label for a figure: shortened, with "$" escaped so names never trigger mathtext, and
    control characters shown as escapes (no font has glyphs for them)."""
    from singaudit.io.console import visible

    text = visible(str(text))
    text = text if len(text) <= limit else text[: limit - 1] + "…"
    return text.replace("$", r"\$")


def _floats(values: Any) -> np.ndarray:
    """A 1-D float array of the finite entries of ``values`` (None and NaN dropped)."""
    if values is None:
        return np.zeros(0)
    array = np.asarray([np.nan if v is None else v for v in values], dtype=float).ravel()
    return array[np.isfinite(array)]


def class_labels(data: Mapping[str, Any], count: int) -> list[str] | None:
    """Per-image class names from ``label`` (names, or indices into ``class_names``)."""
    labels = data.get("label")
    if labels is None or len(labels) != count:
        return None
    names = data.get("class_names")
    if names is not None and all(isinstance(label, int) for label in labels):
        return [str(names[label]) for label in labels]
    return [str(label) for label in labels]


def _groups(labels: list[str], values: np.ndarray, order: list[str]) -> list[np.ndarray]:
    label_array = np.asarray(labels, dtype=object)
    return [values[label_array == name] for name in order]


def _class_order(data: Mapping[str, Any], labels: list[str]) -> list[str]:
    names = [str(n) for n in data.get("class_names") or []]
    seen = set(labels)
    order = [n for n in names if n in seen]
    order += [n for n in dict.fromkeys(labels) if n not in set(order)]
    return order


def _violins(axes: Axes, groups: list[np.ndarray], colour: str) -> None:
    positions = np.arange(len(groups))
    spread = [i for i, g in enumerate(groups) if g.size >= 2 and np.ptp(g) > 0]
    if spread:
        values = [groups[i] for i in spread]
        options: dict[str, Any] = {"positions": positions[spread], "widths": 0.8,
                                   "showextrema": False}
        try:
            parts = axes.violinplot(values, orientation="horizontal", **options)
        except TypeError:  # matplotlib < 3.10
            parts = axes.violinplot(values, vert=False, **options)
        for body in cast("list[PolyCollection]", parts["bodies"]):  # typed as one Collection
            body.set_facecolor(colour)
            body.set_edgecolor(colour)
            body.set_alpha(0.45)
    for i, group in enumerate(groups):
        if group.size:
            axes.scatter(group, np.full(group.size, i), s=3, color=colour, alpha=0.5, lw=0)
            axes.plot([np.median(group)] * 2, [i - 0.35, i + 0.35], color="black", lw=1.4)


@_styled
def class_violins(data: Mapping[str, Any], abs_as_limits: Sequence[float] = (),
                  signed_as_limits: Sequence[float] = (),
                  specific_limits: Sequence[float] = ()) -> Figure | None:
    """Per-class violins of IS, signed AS, |AS| and, when given, the specific leak (data: is, as,
    label[, class_names, specific_leak])."""
    image_scores = np.asarray(data["is"], dtype=float)
    attribute_scores = np.asarray(data["as"], dtype=float)
    if image_scores.size == 0 or image_scores.shape != attribute_scores.shape:
        return None
    labels = class_labels(data, image_scores.size) or ["all images"] * image_scores.size
    order = _class_order(data, labels)
    note = ""
    if len(order) > MAX_CLASSES:
        medians = {
            name: np.median(np.abs(g))
            for name, g in zip(order, _groups(labels, attribute_scores, order), strict=True)
        }
        order = sorted(order, key=medians.__getitem__, reverse=True)[:MAX_CLASSES]
        note = f" (the {MAX_CLASSES} classes with the highest median |AS|)"
    order = order[::-1]  # first class at the top
    figure = _figure(PAGE_WIDTH_IN, 0.9 + 0.26 * len(order))
    series = [
        ("IS (deg)", image_scores, IS_COLOUR, HARD_TO_SEE_IS),
        ("signed AS (deg)", attribute_scores, AS_COLOUR, None),
        ("|AS| (deg)", np.abs(attribute_scores), ABS_AS_COLOUR, HARD_TO_SEE_AS),
    ]
    specific = np.asarray(data.get("specific_leak", []), dtype=float)
    if specific.shape == image_scores.shape:  # the default verdict's metric (schema 2)
        series.append(("specific leak (deg)", specific, AS_COLOUR, None))
    panels = figure.subplots(1, len(series), sharey=True)
    for axes, (title, values, colour, hard_to_see) in zip(panels, series, strict=True):
        finite = np.isfinite(values)
        _violins(axes, _groups([l for l, f in zip(labels, finite) if f], values[finite], order),
                 colour)
        axes.set_xlabel(title)
        axes.grid(axis="y", visible=False)
        if hard_to_see is not None:
            axes.axvspan(0, hard_to_see, color="#f1f1f1", zorder=0, lw=0)
    panels[1].axvline(0, color=FAINT, lw=0.8)
    limits_by_panel = [(panels[1], signed_as_limits), (panels[2], abs_as_limits)]
    if len(series) == 4:
        panels[3].axvline(0, color=FAINT, lw=0.8)
        limits_by_panel.append((panels[3], specific_limits))
    for panel, limits in limits_by_panel:
        for limit, style in zip(limits, ("--", "-"), strict=False):
            panel.axvline(limit, color="#b00020", lw=0.9, ls=style)
    panels[0].set_yticks(range(len(order)), [short(n) for n in order])
    figure.suptitle("Per-class scores" + note + "; grey band: hard to see", fontsize=9)
    return figure


@_styled
def class_shares(data: Mapping[str, Any], limits: Sequence[float] = ()) -> Figure | None:
    """Per-class violins of the default verdict's carried_share with its warn and fail levels
    (data: carried_share, label[, class_names]); classes without a share (NaN) are left out,
    and beyond MAX_CLASSES the classes with the highest median share are shown."""
    shares = np.asarray([np.nan if v is None else v for v in data["carried_share"]], dtype=float)
    labels = class_labels(data, shares.size)
    judged = np.isfinite(shares)
    if labels is None or not judged.any():
        return None
    judged_labels = [label for label, keep in zip(labels, judged, strict=True) if keep]
    order = _class_order(data, judged_labels)
    groups = dict(zip(order, _groups(judged_labels, shares[judged], order), strict=True))
    note = ""
    if len(order) > MAX_CLASSES:
        order = sorted(order, key=lambda name: np.median(groups[name]), reverse=True)
        note = f" (the {MAX_CLASSES} of {len(order)} with the highest median)"
        order = order[:MAX_CLASSES]
    order = order[::-1]  # first class at the top
    figure = _figure(PAGE_WIDTH_IN, 1.0 + 0.26 * len(order))
    axes = figure.subplots()
    _violins(axes, [groups[name] for name in order], AS_COLOUR)
    axes.axvline(0, color=FAINT, lw=0.8)
    for limit, style in zip(limits, ("--", "-"), strict=False):
        axes.axvline(limit, color="#b00020", lw=0.9, ls=style)
    axes.set_yticks(range(len(order)), [short(name) for name in order])
    axes.grid(axis="y", visible=False)
    axes.set_xlabel("carried share: the null component alone / the joint space's own class "
                    "contrast (1: all of it)")
    figure.suptitle("Default verdict: carried share per class" + note, fontsize=9)
    return figure


def _confidence_ellipse(axes: Axes, x: np.ndarray, y: np.ndarray, colour: str, line: str = "-"
                        ) -> None:
    """95 % ellipse of a 2-D Gaussian fitted to (x, y)."""
    if x.size < 3:
        return
    covariance = np.cov(x, y)
    if not np.all(np.isfinite(covariance)):
        return
    eigenvalues, eigenvectors = np.linalg.eigh(covariance)
    eigenvalues = np.clip(eigenvalues, 0, None)
    scale = math.sqrt(5.991)  # chi-square, 2 degrees of freedom, 95 %
    width, height = 2 * scale * np.sqrt(eigenvalues[::-1])
    angle = math.degrees(math.atan2(eigenvectors[1, -1], eigenvectors[0, -1]))
    from matplotlib.patches import Ellipse

    axes.add_patch(Ellipse((x.mean(), y.mean()), width, height, angle=angle, fill=False,
                           edgecolor=colour, lw=1.2, ls=line))


def comparison_models(comparison: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The comparison's per-model entries, from a list or a name-keyed mapping."""
    models = comparison.get("models")
    if isinstance(models, Mapping):
        return [{"name": name, **dict(entry)} for name, entry in models.items()]
    if isinstance(models, list):
        return [dict(entry) for entry in models if isinstance(entry, Mapping) and "name" in entry]
    return []


@_styled
def ratio_ranking(comparison: Mapping[str, Any], order: Sequence[str] = ()) -> Figure | None:
    """Horizontal bars of median(IS) / median(|AS|) per model, in ``order`` (top first; by
    ratio when not given)."""
    entries = [e for e in comparison_models(comparison) if _is_number(e.get("ratio"))]
    if not entries:
        return None
    position = {name: i for i, name in enumerate(order)}
    if position:
        entries.sort(key=lambda e: -position.get(e["name"], len(position)))
    else:
        entries.sort(key=lambda e: e["ratio"])
    figure = _figure(PAGE_WIDTH_IN * 0.62, 0.8 + 0.3 * len(entries))
    axes = figure.subplots()
    ratios = [e["ratio"] for e in entries]
    axes.barh(range(len(entries)), ratios, color=PALETTE[0], height=0.6)
    for i, ratio in enumerate(ratios):
        axes.text(ratio, i, f" {fixed(ratio, 1)}", va="center", fontsize=7.5)
    axes.set_yticks(range(len(entries)), [short(e["name"]) for e in entries])
    axes.set_xlabel("median IS / median |AS| (higher is better)")
    axes.set_xlim(0, max(ratios) * 1.18 or 1)
    axes.grid(axis="y", visible=False)
    axes.set_title("Ratio (paper's reading)")
    return figure


def _is_number(value: Any) -> TypeGuard[float]:
    return isinstance(value, (int, float)) and math.isfinite(value)


@_styled
def as_is_scatter(comparison: Mapping[str, Any]) -> Figure | None:
    """Per-image (AS, IS) per model with 95 % ellipses and medians; reference scale marked."""
    entries = comparison_models(comparison)
    if not entries:
        return None
    figure = _figure(PAGE_WIDTH_IN * 0.75, 3.6)
    axes = figure.subplots()
    from matplotlib.patches import Rectangle

    axes.add_patch(Rectangle((-HARD_TO_SEE_AS, 0), 2 * HARD_TO_SEE_AS, HARD_TO_SEE_IS,
                             color="#f1f1f1", zorder=0, lw=0, label="hard to see"))
    drawn = False
    for index, entry in enumerate(entries):
        # Beyond 8 models the colours repeat, so the marker and ellipse line style change.
        colour = PALETTE[index % len(PALETTE)]
        marker = MARKERS[(index // len(PALETTE)) % len(MARKERS)]
        line = LINE_STYLES[(index // len(PALETTE)) % len(LINE_STYLES)]
        x, y = _floats(entry.get("as")), _floats(entry.get("is"))
        if x.size and x.size == y.size:
            axes.scatter(x, y, s=5, alpha=0.35 if len(entries) <= 4 else 0.12, color=colour, lw=0)
            _confidence_ellipse(axes, x, y, colour, line)
            drawn = True
        median_as, median_is = entry.get("median_as"), entry.get("median_is")
        if _is_number(median_as) and _is_number(median_is):
            axes.scatter([median_as], [median_is], s=40, marker=marker, color=colour,
                         edgecolor="black", lw=0.6, label=short(entry["name"]), zorder=3)
            drawn = True
    if not drawn:
        return None
    for as_value, is_value, words in REFERENCE_SCALE:
        axes.scatter([as_value], [is_value], marker="x", color=FAINT, s=18, zorder=2)
        axes.annotate(words, (as_value, is_value), fontsize=6.5, color="#555555",
                      xytext=(3, 3), textcoords="offset points")
    axes.axvline(0, color=FAINT, lw=0.6)
    axes.set_xlabel("AS toward the true-class prompt (deg)")
    axes.set_ylabel("IS (deg)")
    axes.set_ylim(bottom=0)
    axes.set_title("(AS, IS) per image: large markers are medians, ellipses 95 %")
    axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return figure


@_styled
def steering_comparison(entries: Sequence[tuple[str, Sequence[float]]]) -> Figure | None:
    """Mean +- std |AS| toward the steering target per model (the paper's Table 1)."""
    rows = [(name, np.abs(_floats(values))) for name, values in entries]
    rows = [(name, values) for name, values in rows if values.size][::-1]  # first on top
    if len(rows) < 2:
        return None
    figure = _figure(PAGE_WIDTH_IN * 0.62, 0.8 + 0.3 * len(rows))
    axes = figure.subplots()
    means = [values.mean() for _, values in rows]
    stds = [values.std() for _, values in rows]
    axes.barh(range(len(rows)), means, xerr=stds, color=PALETTE[1], height=0.6, capsize=2)
    axes.set_yticks(range(len(rows)), [short(name) for name, _ in rows])
    axes.set_xlabel("|AS| toward the steering target (deg, mean ± std; lower is better)")
    axes.grid(axis="y", visible=False)
    axes.set_title("Steering across models")
    return figure


@_styled
def logit_change(data: Mapping[str, Any]) -> Figure | None:
    """Distributions of ||l(f + delta) - l(f)|| for null / random / principal perturbations."""
    kinds = [("null", PALETTE[2]), ("random", PALETTE[0]), ("principal", PALETTE[5])]
    series = [(k, c, _floats(data.get(f"logit_change_{k}"))) for k, c in kinds]
    series = [(k, c, v) for k, c, v in series if v.size]
    if not series:
        return None
    floor = 1e-12  # exact zeros (float round-off vanished) cannot sit on a log axis
    everything = np.concatenate([np.clip(v, floor, None) for _, _, v in series])
    low, high = everything.min(), everything.max()
    if high <= low:
        high = low * 10
    bins = np.logspace(np.log10(low) - 0.1, np.log10(high) + 0.1, 40).tolist()
    figure = _figure(PAGE_WIDTH_IN * 0.75, 2.6)
    axes = figure.subplots()
    for kind, colour, values in series:
        axes.hist(np.clip(values, floor, None), bins=bins, histtype="stepfilled", alpha=0.35,
                  color=colour, label=f"{kind} (median {significant(np.median(values), 2)})")
        axes.hist(np.clip(values, floor, None), bins=bins, histtype="step", color=colour, lw=1)
    axes.set_xscale("log")
    axes.set_xlabel("logit change ||l(f + δ) − l(f)|| (log scale; exact zeros drawn at 1e-12)")
    axes.set_ylabel("images")
    axes.set_title("Logit change per perturbation kind")
    axes.legend(loc="upper center")
    return figure


@_styled
def fidelity_histogram(data: Mapping[str, Any]) -> Figure | None:
    """cosine(T(f), E_img(x)): held-out, on the audit images, and per compared architecture."""
    series: list[tuple[str, np.ndarray]] = []
    for key, label in (("cosine", "held-out"), ("audit_cosine", "audit images")):
        if _floats(data.get(key)).size:
            series.append((label, _floats(data.get(key))))
    by_arch = data.get("cosine_by_architecture")
    if isinstance(by_arch, Mapping):
        series += [(str(name), _floats(v)) for name, v in by_arch.items() if _floats(v).size]
    if not series:
        return None
    everything = np.concatenate([v for _, v in series])
    bins = np.linspace(min(everything.min(), 0.999), min(1.0, everything.max() + 1e-6),
                       30).tolist()
    figure = _figure(PAGE_WIDTH_IN * 0.75, 2.4)
    axes = figure.subplots()
    for index, (name, values) in enumerate(series):
        colour = PALETTE[index % len(PALETTE)]
        axes.hist(values, bins=bins, histtype="step", lw=1.4, color=colour,
                  label=f"{short(name)} (mean {fixed(values.mean(), 3)})")
        axes.axvline(values.mean(), color=colour, lw=0.8, ls="--")
    axes.set_xlabel("cosine(T(f), image embedding)")
    axes.set_ylabel("images")
    axes.set_title("Translator fidelity")
    axes.legend(loc="upper left")
    return figure


def _concept_rows(data: Mapping[str, Any], top_k: int
                  ) -> dict[str, list[Mapping[str, Any]]]:
    """Class -> its top concepts with angle_orig / angle_eq; falls back to the overall ranking."""
    rows: dict[str, list[Mapping[str, Any]]] = {}
    per_class = data.get("top_per_class")
    if isinstance(per_class, Mapping):
        for name, entries in per_class.items():
            usable = [
                e for e in entries or []
                if isinstance(e, Mapping) and _is_number(e.get("angle_orig"))
                and _is_number(e.get("angle_eq"))
            ]
            if usable:
                rows[str(name)] = usable[:top_k]
    if rows:
        return rows
    overall = [e for e in data.get("top") or [] if isinstance(e, Mapping)
               and _is_number(e.get("angle_orig")) and _is_number(e.get("angle_eq"))]
    if overall:
        return {"all classes": overall[:top_k]}
    concepts = data.get("concepts") or []
    orig, eq = data.get("angle_orig") or [], data.get("angle_eq") or []
    if not concepts or len(orig) != len(concepts) or len(eq) != len(concepts):
        return {}
    rank = data.get("z") or data.get("as") or [0.0] * len(concepts)
    order = sorted(range(len(concepts)), key=lambda i: -abs(float(rank[i] or 0.0)))[:top_k]
    return {"all classes": [
        {"concept": concepts[i], "angle_orig": orig[i], "angle_eq": eq[i],
         "z": (data.get("z") or [None] * len(concepts))[i]} for i in order
    ]}


@_styled
def concept_arrows(data: Mapping[str, Any], max_classes: int = MAX_CONCEPT_CLASSES, top_k: int = 5
                   ) -> Figure | None:
    """Per class, the top concepts: arrow from angle(T(f), t) to angle(T(f_eq), t)."""
    rows = _concept_rows(data, top_k)
    if not rows:
        return None
    classes = list(rows)[:max_classes]
    columns = 2 if len(classes) > 1 else 1
    lines = math.ceil(len(classes) / columns)
    figure = _figure(PAGE_WIDTH_IN, 0.5 + lines * (0.35 + 0.24 * top_k))
    axes_grid = np.atleast_1d(figure.subplots(lines, columns, squeeze=False)).ravel()
    for axes, name in zip(axes_grid, classes, strict=False):
        entries = rows[name][::-1]
        for i, entry in enumerate(entries):
            start, end = float(entry["angle_orig"]), float(entry["angle_eq"])
            colour = PALETTE[2] if end < start else PALETTE[5]
            axes.annotate("", xy=(end, i), xytext=(start, i),
                          arrowprops={"arrowstyle": "-|>", "color": colour, "lw": 1.3})
            axes.scatter([start], [i], s=10, color="black", zorder=3)
        axes.set_yticks(range(len(entries)), [short(e.get("concept", "?"), 22) for e in entries])
        angles = [float(e[k]) for e in entries for k in ("angle_orig", "angle_eq")]
        pad = max(0.5, (max(angles) - min(angles)) * 0.15)
        axes.set_xlim(min(angles) - pad, max(angles) + pad)
        axes.set_ylim(-0.6, len(entries) - 0.4)
        axes.set_title(short(name, 40))
        axes.grid(axis="y", visible=False)
    for axes in axes_grid[len(classes):]:
        axes.set_visible(False)
    figure.supxlabel("angle to the concept (deg): dot = original, arrow head = equivalent",
                     fontsize=8)
    return figure


def _classical_mds(distance: np.ndarray) -> np.ndarray:
    """2-D coordinates whose Euclidean distances approximate ``distance``."""
    count = distance.shape[0]
    centring = np.eye(count) - np.ones((count, count)) / count
    gram = -0.5 * centring @ (distance**2) @ centring
    eigenvalues, eigenvectors = np.linalg.eigh(gram)
    top = np.argsort(eigenvalues)[::-1][:2]
    return eigenvectors[:, top] * np.sqrt(np.clip(eigenvalues[top], 1e-12, None))


@_styled
def concept_graph(data: Mapping[str, Any], max_nodes: int = 25) -> Figure | None:
    """Concepts placed by text similarity; edges join the most similar pairs."""
    similarity = np.asarray(data["similarity"], dtype=float)
    names = list(data.get("similarity_concepts") or data.get("concepts") or [])
    if similarity.ndim != 2 or similarity.shape[0] != similarity.shape[1]:
        return None
    count = similarity.shape[0]
    if count < 3 or len(names) < count or not np.all(np.isfinite(similarity)):
        return None
    keep = np.arange(min(count, max_nodes))
    similarity, names = similarity[np.ix_(keep, keep)], [names[i] for i in keep]
    coordinates = _classical_mds(np.sqrt(np.clip(2 - 2 * similarity, 0, None)))
    off_diagonal = similarity[~np.eye(len(keep), dtype=bool)]
    share = 0.15 if len(keep) > 8 else 1.0  # few concepts: every pair, width = similarity
    cut = np.quantile(off_diagonal, 1 - share)
    figure = _figure(PAGE_WIDTH_IN * 0.7, 3.2)
    axes = figure.subplots()
    low, high = off_diagonal.min(), off_diagonal.max()
    for i in range(len(keep)):
        for j in range(i + 1, len(keep)):
            if similarity[i, j] >= cut:
                strength = (similarity[i, j] - low) / (high - low) if high > low else 1.0
                axes.plot(*coordinates[[i, j]].T, color=FAINT, lw=0.3 + 2.2 * strength,
                          alpha=0.3 + 0.5 * strength, zorder=1)
    xs, ys = coordinates.T
    z_scores = data.get("similarity_z")
    if z_scores is not None and len(z_scores) >= len(keep) and all(
            _is_number(z) for z in list(z_scores)[: len(keep)]):
        values = np.asarray(list(z_scores)[: len(keep)], dtype=float)
        limit = max(1.0, float(np.abs(values).max()))
        points = axes.scatter(xs, ys, s=34, c=values, cmap="coolwarm_r", vmin=-limit,
                              vmax=limit, zorder=2, edgecolor="black", lw=0.4)
        figure.colorbar(points, ax=axes, shrink=0.7, label="mean z of AS (negative: carried)")
    else:
        axes.scatter(xs, ys, s=34, color=PALETTE[0], zorder=2)
    # Near-identical concepts sit on top of each other: fan their labels out.
    span = float(np.ptp(coordinates, axis=0).max()) or 1.0
    offsets = [((4, 3), "left"), ((4, -10), "left"), ((-4, 3), "right"), ((-4, -10), "right")]
    for index, ((x, y), name) in enumerate(zip(coordinates, names, strict=True)):
        crowd = int(np.sum(np.linalg.norm(coordinates[:index] - (x, y), axis=1) < 0.06 * span))
        offset, align = offsets[crowd % len(offsets)]
        axes.annotate(short(name, 20), (x, y), fontsize=7, xytext=offset, ha=align,
                      textcoords="offset points")
    axes.margins(0.12)
    for spine in axes.spines.values():
        spine.set_visible(False)
    axes.set_xticks([])
    axes.set_yticks([])
    axes.grid(False)
    axes.set_title("Top concepts by text similarity" if share == 1.0
                   else "Concept similarity (edges: 15 % most similar)")
    return figure


@_styled
def steering_plot(data: Mapping[str, Any]) -> Figure | None:
    """|AS| toward the steering target, and the IS each image reached against its target."""
    abs_as = np.abs(_floats(data.get("as")))
    reached = _floats(data.get("is"))
    if not abs_as.size:
        return None
    panels_wanted = 2 if reached.size else 1
    figure = _figure(PAGE_WIDTH_IN * (0.95 if panels_wanted == 2 else 0.6), 2.4)
    panels = np.atleast_1d(figure.subplots(1, panels_wanted))
    panels[0].hist(abs_as, bins=20, color=PALETTE[1], alpha=0.8)
    panels[0].axvline(abs_as.mean(), color="black", lw=0.9, ls="--")
    panels[0].set_xlabel("|AS| toward the target (deg; lower is better)")
    panels[0].set_ylabel("images")
    target = data.get("target")
    panels[0].set_title(short(f"Steering toward {target!r}" if target else "Steering", 60))
    if panels_wanted == 2:
        panels[1].hist(reached, bins=20, color=PALETTE[0], alpha=0.8)
        target_is = data.get("target_is")
        if _is_number(target_is):
            panels[1].axvline(target_is, color="#b00020", lw=1,
                              label=f"target {significant(target_is, 6)}°")
            panels[1].legend(loc="upper left")
        from matplotlib.ticker import MaxNLocator

        panels[1].xaxis.set_major_locator(MaxNLocator(5))
        panels[1].set_xlabel("IS reached (deg)")
        panels[1].set_title("Calibration of the step size")
    return figure


@_styled
def scale_legend() -> Figure:
    """The paper's reference scale: which (|AS|, IS) a person can see."""
    figure = _figure(PAGE_WIDTH_IN * 0.55, 2.3)
    axes = figure.subplots()
    from matplotlib.patches import Rectangle

    axes.add_patch(Rectangle((0, 0), HARD_TO_SEE_AS, HARD_TO_SEE_IS, color="#e9e9e9", lw=0))
    axes.text(0.2, HARD_TO_SEE_IS + 0.8, "grey: hard to see", fontsize=6.5, va="bottom",
              color="#555555")
    for as_value, is_value, words in REFERENCE_SCALE:
        axes.scatter([as_value], [is_value], color=PALETTE[5], s=22, zorder=3)
        axes.annotate(f"{words} (AS {as_value}, IS {is_value})", (as_value, is_value),
                      xytext=(6, 0), textcoords="offset points", fontsize=7, va="center")
    axes.set_xlim(0, 24)
    axes.set_ylim(0, 45)
    axes.set_xlabel("|AS| (deg)")
    axes.set_ylabel("IS (deg)")
    axes.set_title("Reading the angles (reference image, SING paper)")
    return figure
