"""class_semantics' report figures: the default verdict's carried_share first, then the paper's
IS/AS as what one translator draws; unjudged classes (NaN shares) never break them."""

from __future__ import annotations

import math

import numpy as np

from singaudit.reports import figures
from singaudit.reports.check_figures import class_semantics_figures
from singaudit.results import CheckResult, ClassResult, Metric, Tiers

SHARE_TIERS = Tiers(metric="carried_share", statistic="median", warn=0.4, fail=0.5,
                    scope="per_class")


def _class_semantics(shares_by_class: dict[str, list[float]]) -> CheckResult:
    """A class_semantics result as the check writes it: per-image readings, per-class medians
    (None where the class has no share) and the share's tiers."""
    rng = np.random.default_rng(0)
    names = list(shares_by_class)
    labels = [k for k, name in enumerate(names) for _ in shares_by_class[name]]
    shares = [v for name in names for v in shares_by_class[name]]
    per_class = {}
    for name, values in shares_by_class.items():
        finite = [v for v in values if math.isfinite(v)]
        median = float(np.median(finite)) if finite else None
        per_class[name] = ClassResult(n=len(values), metrics={
            "carried_share": Metric(value=median, statistic="median", tiers=SHARE_TIERS)})
    finite_shares = [v for v in shares if math.isfinite(v)]
    return CheckResult(
        name="class_semantics", status="pass",
        metrics={"carried_share": Metric(
            value=float(np.median(finite_shares)) if finite_shares else None,
            statistic="median", tiers=SHARE_TIERS)},
        per_class=per_class,
        data={"carried_share": shares, "is": rng.uniform(10, 40, len(labels)).tolist(),
              "as": rng.normal(-2, 1, len(labels)).tolist(),
              "specific_leak": rng.normal(0, 1, len(labels)).tolist(),
              "label": labels, "class_names": names,
              "question": "Does the null-space component, on its own, carry the class?"},
    )


def test_the_verdict_figure_comes_first_with_its_levels() -> None:
    check = _class_semantics({"circle": [0.1, 0.2, 0.15, 0.3], "square": [0.9, 1.1, 1.0, 0.8]})
    verdict, translator = class_semantics_figures(check)
    assert verdict is not None and translator is not None
    assert verdict["title"].startswith("Default verdict")
    assert "warn (0.4)" in verdict["caption"] and "fail (0.5)" in verdict["caption"]
    assert "reported, not judged" in translator["caption"]
    assert "default verdict" not in translator["caption"].lower()
    drawn = figures.class_shares.draw(check.data, [0.4, 0.5])
    lines = {round(line.get_xdata()[0], 3) for line in drawn.axes[0].get_lines()
             if line.get_color() == "#b00020"}
    assert lines == {0.4, 0.5}


def test_unjudged_classes_are_named_not_drawn_and_never_crash() -> None:
    nan = float("nan")
    check = _class_semantics({"circle": [0.2, 0.3, nan], "square": [nan, nan, nan],
                              "star": [0.7, 0.6, 0.9]})
    verdict = class_semantics_figures(check)[0]
    assert verdict is not None and verdict["src"].startswith("data:image/png")
    assert "Not judged" in verdict["caption"] and "square" in verdict["caption"]
    drawn = figures.class_shares.draw(check.data, [0.4, 0.5])
    assert [tick.get_text() for tick in drawn.axes[0].get_yticklabels()] == ["star", "circle"]
    # No class judged: the verdict figure is left out, the translator's figure stays.
    nothing = _class_semantics({"circle": [nan, nan], "square": [nan, nan]})
    left_out, translator = class_semantics_figures(nothing)
    assert left_out is None and translator is not None


def test_many_classes_show_those_with_the_highest_median_share() -> None:
    shares = {f"class {k}": [k / 100, k / 100 + 0.01] for k in range(45)}
    check = _class_semantics(shares)
    verdict = class_semantics_figures(check)[0]
    assert verdict is not None
    assert f"The {figures.MAX_CLASSES} of 45 judged classes" in verdict["caption"]
    drawn = figures.class_shares.draw(check.data, [0.4, 0.5])
    shown = {tick.get_text() for tick in drawn.axes[0].get_yticklabels()}
    assert shown == {f"class {k}" for k in range(45 - figures.MAX_CLASSES, 45)}


def test_results_without_a_share_keep_the_translator_figure() -> None:
    check = _class_semantics({"circle": [0.1, 0.2], "square": [0.9, 1.0]})
    del check.data["carried_share"]
    verdict, translator = class_semantics_figures(check)
    assert verdict is None and translator is not None
