"""Report figures are 8-bit palette PNGs: smaller than the truecolour render, same picture."""

import io

import numpy as np
from PIL import Image

from singaudit.reports import figures


def test_a_figure_is_a_palette_png_close_to_its_truecolour_render():
    data = {"is": list(np.linspace(5, 30, 120)), "as": list(np.sin(np.arange(120.0))),
            "label": [i % 6 for i in range(120)],
            "class_names": [f"class {i}" for i in range(6)]}
    png = figures.class_violins.draw(data)
    assert png is not None
    import matplotlib

    with matplotlib.rc_context(figures.STYLE):
        buffer = io.BytesIO()
        png.savefig(buffer, format="png", dpi=figures.DPI)
    truecolour = buffer.getvalue()
    palette = figures.palette_png(truecolour)
    assert len(palette) < len(truecolour)
    small, full = Image.open(io.BytesIO(palette)), Image.open(io.BytesIO(truecolour))
    assert small.mode == "P" and small.size == full.size
    difference = np.abs(np.asarray(small.convert("RGB"), dtype=np.int16)
                        - np.asarray(full.convert("RGB"), dtype=np.int16))
    assert difference.mean() < 1.0 and np.percentile(difference, 99.9) <= 24


def test_a_png_that_would_grow_is_kept():
    noise = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(noise).save(buffer, format="PNG")
    # Random colours cannot be said in 256: the quantised copy is lossy, kept only when smaller.
    result = figures.palette_png(buffer.getvalue())
    assert len(result) <= len(buffer.getvalue())
