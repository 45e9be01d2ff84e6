"""One way to word numbers, units, thresholds and statuses: check messages, the HTML/PDF and
JUnit reports, the CLI and the pytest plugin all print through here (pure, no singaudit
imports, so every layer may use it).

One rule for missing values: None and NaN both read "n/a".
"""

from __future__ import annotations

import math
from typing import Any

NOT_AVAILABLE = "n/a"
# Units worth printing; counts, ranks, z-scores and ratios read better bare.
UNIT_SUFFIX = {"deg": "°", "degrees": "°", "%": " %", "s": " s"}
STATUS_MEANING = {
    "pass": "judged, within every threshold",
    "warn": "judged, beyond a warn threshold",
    "fail": "judged, beyond a fail threshold",
    "error": "the check could not be computed",
    "skip": "not applicable (never a pass)",
    "info": "measured and shown, not judged (never a pass, never a failure)",
    "insufficient_data": "too few images to be judged",
}


def number(value: Any, signed: bool = False) -> str:
    """Short and stable: 9.12, 4, 0.0523, 1.2e-07, 2.5e+04, inf, n/a (None or NaN), yes/no;
    ``signed`` puts "+" before positive numbers (changes, deltas)."""
    text = _unsigned_number(value)
    positive = not isinstance(value, bool) and _is_positive(value)
    return "+" + text if signed and positive else text


def _is_positive(value: Any) -> bool:
    try:
        return float(value) > 0  # NaN compares False
    except (TypeError, ValueError):
        return False


def _unsigned_number(value: Any) -> str:
    if value is None:
        return NOT_AVAILABLE
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if not isinstance(value, float):
        try:
            value = float(value)  # numpy scalars
        except (TypeError, ValueError):
            return str(value)
    if math.isnan(value):
        return NOT_AVAILABLE
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if value == 0:
        return "0"
    magnitude = abs(value)
    if value.is_integer() and magnitude < 1e4:  # thresholds and counts: 4, not 4.00
        return str(int(value))
    if 1 <= magnitude < 1e4:
        return f"{value:.2f}"
    if 0.001 <= magnitude < 1:
        return f"{value:.3g}"
    return f"{value:.1e}"


def fixed(value: Any, digits: int = 2, signed: bool = False) -> str:
    """A fixed number of decimals, for values read side by side (angles of one image, per-class
    accuracies): fixed(0.5) is "0.50", fixed(1.234, 2, signed=True) "+1.23"; n/a when missing."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        return NOT_AVAILABLE if value is None else str(value)
    if math.isnan(value):
        return NOT_AVAILABLE
    return f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"


def significant(value: Any, digits: int = 4) -> str:
    """``digits`` significant digits, for fit diagnostics where 0.9996 and 0.99 differ:
    significant(0.99961) is "0.9996", significant(1.2e-05) "1.2e-05"; n/a when missing."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        return NOT_AVAILABLE if value is None else str(value)
    return NOT_AVAILABLE if math.isnan(value) else f"{value:.{digits}g}"


def percent(fraction: Any, digits: int = 0) -> str:
    """A fraction as a percentage: percent(0.95) is "95%", percent(0.125, 1) "12.5%"; n/a when
    missing."""
    try:
        fraction = float(fraction)
    except (TypeError, ValueError):
        return NOT_AVAILABLE if fraction is None else str(fraction)
    return NOT_AVAILABLE if math.isnan(fraction) else f"{fraction:.{digits}%}"


def grouped(value: int) -> str:
    """A whole number with thousands separated, for sizes and limits: "1,048,576"."""
    return f"{int(value):,}"


def gibibytes(size_bytes: float) -> str:
    """A large size in memory: "12 GiB" (binary gibibytes, whole)."""
    return f"{size_bytes / 1024**3:.0f} GiB"


def megabytes(size_bytes: float) -> str:
    """A size on disk: "12.3 MB" (decimal megabytes, one decimal)."""
    return f"{size_bytes / 1e6:.1f} MB"


def seconds(duration: float) -> str:
    """A duration: "1.2 s"."""
    return f"{duration:.1f} s"


def with_unit(value: Any, unit: str | None = None) -> str:
    """number() with the unit's suffix (degrees as °); bare for missing values."""
    text = number(value)
    if text == NOT_AVAILABLE or unit not in UNIT_SUFFIX:
        return text
    return text + UNIT_SUFFIX[unit]


def describe_tiers(tiers: Any, unit: str | None = None, *, subject: bool = True) -> str:
    """A tier in words, e.g. "median(leak): warn if > 3°, fail if > 4°" (duck-typed Tiers);
    without the subject where the line already names the metric and statistic."""
    if tiers.statistic == "fraction_within":
        what = f"fraction of images with {tiers.metric} within {with_unit(tiers.bound, unit)}"
        unit = None
    else:
        what = f"{tiers.statistic}({tiers.metric})"
    comparison = "<" if tiers.higher_is_better else ">"
    parts = [f"{level} if {comparison} {with_unit(bound, unit)}"
             for level, bound in (("warn", tiers.warn), ("fail", tiers.fail)) if bound is not None]
    if getattr(tiers, "mostly", None) is not None:
        parts.append(f"at least {number(tiers.mostly)} required")
    if not parts:
        return f"{what}: informational" if subject else "informational"
    return (f"{what}: " if subject else "") + ", ".join(parts)


# A tier's levels, most severe first: a value beyond a level takes the level's name as its
# status (check tiers and regression levels alike).
LEVELS = ("fail", "warn")


def beyond(level_name: str, level: Any, *, higher_is_better: bool = False) -> str:
    """A value beyond a level: "> fail 4" ("< fail 0.5" where higher is better)."""
    return f"{'<' if higher_is_better else '>'} {level_name} {number(level)}"


def within(level_name: str, level: Any, *, higher_is_better: bool = False) -> str:
    """A value at or within a level: "<= warn 3" (">= warn 0.95" where higher is better)."""
    return f"{'>=' if higher_is_better else '<='} {level_name} {number(level)}"


def describe_status(status: str | None) -> str:
    """What a status means, for legends and notes."""
    return STATUS_MEANING.get(status or "", status or NOT_AVAILABLE)
