"""Summaries of per-image scores: quantiles, a bootstrap CI of the median, named statistics."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from singaudit.errors import SpecError

STATISTIC_NAMES = ("median", "mean", "max", "min", "std", "q<NN>", "fraction_within")
_QUANTILE = re.compile(r"^q(\d{1,2}(?:\.\d+)?|100)$")


@dataclass
class Summary:
    """Distribution of one score over images (NaN entries dropped; std with ddof=1)."""

    n: int
    mean: float
    std: float
    median: float
    q05: float
    q25: float
    q75: float
    q95: float
    min: float
    max: float
    ci_low: float  # bootstrap CI of the median
    ci_high: float

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


def summarize(values: Any, *, ci: float = 0.95, n_boot: int = 1000, seed: int = 0) -> Summary:
    """Summary statistics and a percentile-bootstrap CI of the median."""
    array = _clean(values)
    if array.size == 0:
        nan = math.nan
        return Summary(0, nan, nan, nan, nan, nan, nan, nan, nan, nan, nan, nan)
    q05, q25, median, q75, q95 = (
        float(q) for q in np.quantile(array, [0.05, 0.25, 0.5, 0.75, 0.95])
    )
    ci_low, ci_high = bootstrap_ci(array, np.median, ci=ci, n_boot=n_boot, seed=seed)
    return Summary(
        n=int(array.size),
        mean=float(array.mean()),
        std=float(array.std(ddof=1)) if array.size > 1 else 0.0,
        median=median,
        q05=q05,
        q25=q25,
        q75=q75,
        q95=q95,
        min=float(array.min()),
        max=float(array.max()),
        ci_low=ci_low,
        ci_high=ci_high,
    )


def bootstrap_ci(
    values: Any,
    statistic: Callable[..., Any] = np.median,
    *,
    ci: float = 0.95,
    n_boot: int = 1000,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile-bootstrap CI of ``statistic`` (a numpy reducer taking ``axis``); NaN dropped.

    One value gives a zero-width interval; none gives (nan, nan).
    """
    array = _clean(values)
    if array.size == 0:
        return math.nan, math.nan
    if array.size == 1 or np.all(array == array[0]):
        value = float(statistic(array))
        return value, value
    from scipy import stats as scipy_stats  # lazy: scipy.stats costs ~1.5 s to import

    result = scipy_stats.bootstrap(
        (array,),
        statistic,
        n_resamples=n_boot,
        confidence_level=ci,
        method="percentile",
        vectorized=True,
        batch=100,  # bounds memory to 100 resamples at a time
        rng=np.random.default_rng(seed),
    )
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def bootstrap_ci_rows(
    groups: Sequence[Any],
    statistic: Callable[..., Any] = np.median,
    *,
    ci: float = 0.95,
    n_boot: int = 1000,
    seed: int = 0,
    rows_per_batch: int = 256,
) -> list[tuple[float, float]]:
    """``bootstrap_ci`` of every group (e.g. one per class): the intervals of calling it group by
    group (to round-off), in one resampling per group size.

    Each call draws from a fresh generator seeded with ``seed``, so groups of one size get the
    same resampling indices: they are resampled together, as the rows of one array.
    """
    cleaned = [_clean(group) for group in groups]
    intervals: list[tuple[float, float]] = [(math.nan, math.nan)] * len(cleaned)
    by_size: dict[int, list[int]] = {}
    for index, array in enumerate(cleaned):
        if array.size == 0:
            continue
        if array.size == 1 or np.all(array == array[0]):
            value = float(statistic(array))
            intervals[index] = (value, value)
        else:
            by_size.setdefault(array.size, []).append(index)
    if not by_size:
        return intervals
    from scipy import stats as scipy_stats  # lazy: scipy.stats costs ~1.5 s to import

    for members in by_size.values():
        for start in range(0, len(members), rows_per_batch):
            chunk = members[start:start + rows_per_batch]
            result = scipy_stats.bootstrap(
                (np.stack([cleaned[i] for i in chunk]),), statistic, n_resamples=n_boot,
                confidence_level=ci, method="percentile", vectorized=True, batch=100, axis=-1,
                rng=np.random.default_rng(seed))
            lows = np.atleast_1d(result.confidence_interval.low)
            highs = np.atleast_1d(result.confidence_interval.high)
            for row, index in enumerate(chunk):
                intervals[index] = (float(lows[row]), float(highs[row]))
    return intervals


def statistic(values: Any, name: str, *, bound: float | None = None) -> float:
    """A named statistic of ``values`` (NaN dropped; NaN when nothing is left).

    Names: median, mean, max, min, std (ddof=1), q<NN> (percentile, e.g. q90) and
    fraction_within (share of values <= ``bound``).
    """
    array = _clean(values)
    reducer = _reducer(name, bound)
    if array.size == 0:
        return math.nan
    return float(reducer(array))


def is_statistic_name(name: str) -> bool:
    """Whether ``name`` is a statistic ``statistic`` understands (for spec validation)."""
    return name in _SIMPLE or name == "fraction_within" or bool(_QUANTILE.match(name))


_SIMPLE: dict[str, Callable[[np.ndarray], float]] = {
    "median": lambda a: float(np.median(a)),
    "mean": lambda a: float(a.mean()),
    "max": lambda a: float(a.max()),
    "min": lambda a: float(a.min()),
    "std": lambda a: float(a.std(ddof=1)) if a.size > 1 else 0.0,
}


def _reducer(name: str, bound: float | None) -> Callable[[np.ndarray], float]:
    if name in _SIMPLE:
        return _SIMPLE[name]
    if name == "fraction_within":
        if bound is None:
            raise SpecError(
                "statistic 'fraction_within' needs a bound (fraction of values <= bound)"
            )
        return lambda a: float(np.mean(a <= bound))
    match = _QUANTILE.match(name)
    if match:
        percent = float(match.group(1))
        return lambda a: float(np.percentile(a, percent))
    raise SpecError(f"unknown statistic {name!r}; available: {', '.join(STATISTIC_NAMES)}")


def _clean(values: Any) -> np.ndarray:
    if hasattr(values, "detach"):
        values = values.detach().cpu().double().numpy()
    array = np.asarray(values, dtype=np.float64).ravel()
    return array[~np.isnan(array)]


def exceedance_p_values(
    values: Any, name: str, level: float, *, higher_is_better: bool = False,
    bound: float | None = None,
) -> np.ndarray | None:
    """One-sided p-values, one per row of ``values`` (groups; NaN = no value): small when the
    row's population statistic ``name`` is beyond ``level`` (above it, or below it when higher
    is better). None for statistics without a test here (max, min, std).

    Quantiles (median, qNN) and fraction_within use the exact binomial (sign) test, free of any
    distributional assumption; mean uses Student's one-sided t-test. H0 is the boundary case
    (the statistic exactly at ``level``), the least favourable one.
    """
    from scipy import stats as scipy_stats  # lazy: scipy.stats costs ~1.5 s to import

    array = np.atleast_2d(np.asarray(_numpy(values), dtype=np.float64))
    present = ~np.isnan(array)
    n = present.sum(axis=-1)
    if name == "fraction_within":
        if bound is None:
            raise SpecError("statistic 'fraction_within' needs a bound")
        within = (array <= bound).sum(axis=-1)  # NaN compares false
        # Beyond: the true share within the bound is below ``level`` (always higher-is-better).
        return scipy_stats.binom.cdf(within, n, level)
    quantile = 0.5 if name == "median" else _quantile_of(name)
    if quantile is not None:
        if higher_is_better:  # beyond: the quantile is below level, so many values are below it
            below = (array < level).sum(axis=-1)
            return scipy_stats.binom.sf(below - 1, n, quantile)
        at_most = (array <= level).sum(axis=-1)  # beyond: few values at or under level
        return scipy_stats.binom.cdf(at_most, n, quantile)
    if name == "mean":
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.nanmean(np.where(present, array, np.nan), axis=-1)
            spread = np.nanstd(array, axis=-1, ddof=1) / np.sqrt(n)
            excess = (level - mean) if higher_is_better else (mean - level)
            t = excess / spread
            p = scipy_stats.t.sf(t, np.maximum(n - 1, 1))
        # No spread: the mean is known exactly (beyond or not); one value: nothing to test.
        exact = np.where(excess > 0, 0.0, 1.0)
        p = np.where(spread > 0, p, exact)
        return np.where(n >= 2, p, 1.0)
    return None


def holm_adjusted(p_values: Any) -> np.ndarray:
    """Holm's step-down adjustment: reject where adjusted <= alpha keeps the family-wise error
    rate at alpha over all the tests, whatever their dependence."""
    p = np.asarray(p_values, dtype=np.float64)
    if p.size == 0:
        return p
    order = np.argsort(p, kind="stable")
    scaled = p[order] * (p.size - np.arange(p.size))
    adjusted = np.empty_like(p)
    adjusted[order] = np.minimum(np.maximum.accumulate(scaled), 1.0)
    return adjusted


def _quantile_of(name: str) -> float | None:
    match = _QUANTILE.match(name)
    return float(match.group(1)) / 100 if match else None


def _numpy(values: Any) -> Any:
    if hasattr(values, "detach"):
        return values.detach().cpu().double().numpy()
    return values
