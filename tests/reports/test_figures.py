from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from singaudit.reports import figures


def _size(png: bytes | None) -> tuple[int, int]:
    assert png is not None and png.startswith(b"\x89PNG")
    return Image.open(io.BytesIO(png)).size


def test_violins_cope_with_hostile_names_single_images_and_many_classes() -> None:
    rng = np.random.default_rng(1)
    names = [f"class {i}" for i in range(40)] + ["$x$ costs $5", "lonely"]
    labels = [i for i in range(40) for _ in range(3)] + [40, 40, 41]
    data = {"is": rng.uniform(0, 40, len(labels)).tolist(),
            "as": rng.normal(0, 3, len(labels)).tolist(), "label": labels, "class_names": names}
    width, height = _size(figures.class_violins(data, [3.0, 4.0]))
    assert width == round(figures.PAGE_WIDTH_IN * figures.DPI)
    # Capped at MAX_CLASSES rows, so the figure stays readable.
    assert height <= (0.9 + 0.26 * figures.MAX_CLASSES) * figures.DPI + 1


def test_violins_add_the_specific_leak_panel_when_the_data_has_it() -> None:
    data = {"is": [10.0, 20.0, 30.0, 12.0], "as": [1.0, -2.0, 0.5, -1.0],
            "label": ["a", "a", "b", "b"]}
    assert len(figures.class_violins.draw(data).axes) == 3
    data["specific_leak"] = [4.0, None, -1.0, 0.0]  # NaN serialised as null
    assert len(figures.class_violins.draw(data, specific_limits=[2.0, 3.0]).axes) == 4


def test_violins_without_labels_show_one_group() -> None:
    assert _size(figures.class_violins({"is": [1.0, 2.0, 3.0], "as": [0.1, -0.2, 0.3]}))


@pytest.mark.parametrize(
    ("draw", "data"),
    [
        (figures.class_violins, {"is": [1.0], "as": []}),
        (figures.logit_change, {}),
        (figures.fidelity_histogram, {"cosine": [None]}),
        (figures.concept_arrows, {"concepts": ["red"], "angle_orig": [1.0]}),
        (figures.concept_graph, {"similarity": [[1.0, 0.5], [0.5, 1.0]], "concepts": ["a", "b"]}),
        (figures.steering_plot, {"is": [40.0]}),
        (figures.ratio_ranking, {"models": [{"name": "m", "ratio": None}]}),
        (figures.as_is_scatter, {"models": "not a list"}),
    ],
)
def test_unusable_data_gives_no_figure(draw, data) -> None:
    assert draw(data) is None


def test_logit_change_survives_exact_zeros() -> None:
    png = figures.logit_change({"logit_change_null": [0.0, 0.0, 1e-7],
                                "logit_change_random": [1.0, 2.0], "logit_change_principal": []})
    assert _size(png)


def test_concepts_fall_back_to_the_overall_ranking() -> None:
    data = {"concepts": ["red", "fur", "sand"], "angle_orig": [70.0, 72.0, 75.0],
            "angle_eq": [69.0, 73.0, 75.5], "z": [2.0, -1.0, 0.1],
            "similarity": np.eye(3).tolist()}
    assert _size(figures.concept_arrows(data))
    assert _size(figures.concept_graph(data))


def test_comparison_accepts_a_name_keyed_mapping() -> None:
    comparison = {"models": {"a": {"ratio": 20.0, "median_as": 0.5, "median_is": 20.0,
                                   "is": [10.0, 20.0, 30.0], "as": [0.1, 0.5, 0.9]},
                             "b": {"ratio": 5.0, "median_as": 3.0, "median_is": 15.0}}}
    assert [e["name"] for e in figures.comparison_models(comparison)] == ["a", "b"]
    assert _size(figures.ratio_ranking(comparison))
    assert _size(figures.as_is_scatter(comparison))
    assert figures.steering_comparison([("a", [1.0, 2.0])]) is None  # one model: no comparison
    assert _size(figures.steering_comparison([("a", [1.0, 2.0]), ("b", [-5.0, 6.0])]))


def test_nan_scores_serialised_as_null_are_skipped() -> None:
    data = {"is": [10.0, None, 30.0, 12.0], "as": [1.0, 2.0, None, -1.0],
            "label": ["a", "a", "b", "b"]}
    assert _size(figures.class_violins(data))
    assert _size(figures.steering_plot({"as": [None, 1.0, 2.0], "is": [40.0, None, 39.5]}))


def test_figures_are_cached_by_content(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("SINGAUDIT_CACHE", str(tmp_path))
    data = {"is": [1.0, 2.0, 3.0], "as": [0.1, -0.2, 0.3]}
    first = figures.class_violins(data, [3.0, 4.0])
    stored = list((tmp_path / figures.FIGURE_CACHE_FOLDER).iterdir())
    assert len(stored) == 1 and stored[0].read_bytes() == first
    # Unchanged data is read back, never redrawn: a marker planted in the cache comes back.
    marker = first + b"cached"
    stored[0].write_bytes(marker)
    assert figures.class_violins(dict(data), [3.0, 4.0]) == marker
    # Changed data (or thresholds) is a different figure.
    assert figures.class_violins({**data, "as": [0.1, -0.2, 0.4]}, [3.0, 4.0]) not in (None, marker)
    assert figures.class_violins(data, [3.0, 5.0]) not in (None, marker)
    assert len(list((tmp_path / figures.FIGURE_CACHE_FOLDER).iterdir())) == 3


def test_an_unwritable_figure_cache_only_costs_time(tmp_path, monkeypatch) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("SINGAUDIT_CACHE", str(blocker))
    assert _size(figures.class_violins({"is": [1.0, 2.0, 3.0], "as": [0.1, -0.2, 0.3]}))
