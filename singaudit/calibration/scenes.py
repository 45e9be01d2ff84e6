"""Deterministic, vectorised generator of small labelled RGB scenes (the calibration world).

A scene is one shape (the class) of one colour, placed, sized and rotated on a patterned
background of another colour. Every scene is a pure function of (split, seed, index): scenes are
drawn in fixed chunks, each chunk from its own ``SeedSequence(seed, spawn_key=(split, chunk))``,
so any prefix or slice of a stream is reproducible on its own.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass, fields, replace

import numpy as np

GENERATOR_VERSION = "scenes-v1"
IMAGE_SIZE = 64
CHUNK = 256

SHAPES = ("circle", "square", "triangle", "star", "cross", "heart")
COLOURS = ("red", "orange", "yellow", "green", "blue", "purple", "white")
PALETTE = np.array(
    [
        (215, 35, 35),
        (245, 135, 20),
        (240, 215, 40),
        (40, 160, 60),
        (40, 80, 220),
        (140, 50, 180),
        (240, 240, 240),
    ],
    dtype=np.float32,
)
PATTERNS = ("plain", "stripes", "dots", "checker", "noise")
SIZES = ("small", "medium", "large")
HORIZONTAL = ("left", "centre", "right")
VERTICAL = ("top", "middle", "bottom")
SPLITS = ("train", "validation", "test", "audit")

# Radius of the equal-area circle, in pixels; every shape has the same area at a given size, so
# area (and hence a colour histogram) says nothing about the class.
SIZE_RANGE = (9.0, 14.0)
CENTRE_RANGE = (21.0, 43.0)
ROTATION_RANGE = np.deg2rad(30.0)  # small, so that an average over rotations keeps the shape
COLOUR_JITTER = 18.0


@dataclass(frozen=True)
class SceneParams:
    """Per-scene attributes, each an array over scenes (length n)."""

    shape: np.ndarray  # int, index into SHAPES (the class label)
    colour: np.ndarray  # int, index into COLOURS
    colour_rgb: np.ndarray  # (n, 3) float, jittered foreground colour
    size: np.ndarray  # equal-area radius in pixels
    centre: np.ndarray  # (n, 2) float, (x, y) in pixels
    rotation: np.ndarray  # radians
    pattern: np.ndarray  # int, index into PATTERNS
    background: np.ndarray  # int, index into COLOURS, never equal to ``colour``
    background_rgb: np.ndarray  # (n, 3) float
    pattern_period: np.ndarray  # pixels
    pattern_angle: np.ndarray  # radians (stripes)
    pattern_phase: np.ndarray  # (n, 2) in [0, 1)
    noise_seed: np.ndarray  # uint32

    def __len__(self) -> int:
        return len(self.shape)

    def take(self, index: np.ndarray | slice) -> SceneParams:
        return SceneParams(**{f.name: getattr(self, f.name)[index] for f in fields(self)})

    def with_values(self, **values: np.ndarray | int) -> SceneParams:
        """A copy with some attributes replaced (scalars are broadcast), e.g. ``colour=2``."""
        n = len(self)
        updates = {
            k: np.broadcast_to(np.asarray(v), (n, *np.shape(getattr(self, k))[1:])).copy()
            for k, v in values.items()
        }
        if "colour" in values and "colour_rgb" not in values:
            updates["colour_rgb"] = PALETTE[updates["colour"]]
        if "background" in values and "background_rgb" not in values:
            updates["background_rgb"] = PALETTE[updates["background"]]
        return replace(self, **updates)

    def row_hash(self, i: int) -> str:
        """sha256 of scene ``i``'s generation parameters (and the generator version)."""
        digest = hashlib.sha256(GENERATOR_VERSION.encode())
        for f in fields(self):
            digest.update(np.ascontiguousarray(getattr(self, f.name)[i]).tobytes())
        return digest.hexdigest()

    @staticmethod
    def concat(parts: list[SceneParams]) -> SceneParams:
        return SceneParams(
            **{
                f.name: np.concatenate([getattr(p, f.name) for p in parts])
                for f in fields(SceneParams)
            }
        )


def size_word(size: np.ndarray) -> np.ndarray:
    """0 small, 1 medium, 2 large: thirds of SIZE_RANGE."""
    lo, hi = SIZE_RANGE
    return np.clip(((size - lo) / (hi - lo) * 3).astype(int), 0, 2)


def position_words(centre: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(horizontal, vertical) word indices: thirds of CENTRE_RANGE."""
    lo, hi = CENTRE_RANGE
    thirds = np.clip(((centre - lo) / (hi - lo) * 3).astype(int), 0, 2)
    return thirds[:, 0], thirds[:, 1]


def _chunk_rng(split: str, seed: int, chunk: int) -> np.random.Generator:
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {SPLITS}")
    return np.random.default_rng(
        np.random.SeedSequence(seed, spawn_key=(SPLITS.index(split), chunk))
    )


def _sample_chunk(rng: np.random.Generator, first_index: int, n: int) -> SceneParams:
    colour = rng.integers(0, len(COLOURS), n)
    # Any colour but the foreground one, so the shape is always visible.
    background = (colour + rng.integers(1, len(COLOURS), n)) % len(COLOURS)
    jitter = lambda: rng.uniform(-COLOUR_JITTER, COLOUR_JITTER, (n, 3)).astype(np.float32)
    return SceneParams(
        # Round-robin classes: any 6k consecutive scenes are exactly balanced.
        shape=(np.arange(first_index, first_index + n) % len(SHAPES)).astype(np.int64),
        colour=colour,
        colour_rgb=np.clip(PALETTE[colour] + jitter(), 0, 255),
        size=rng.uniform(*SIZE_RANGE, n).astype(np.float32),
        centre=rng.uniform(*CENTRE_RANGE, (n, 2)).astype(np.float32),
        rotation=rng.uniform(-ROTATION_RANGE, ROTATION_RANGE, n).astype(np.float32),
        pattern=rng.integers(0, len(PATTERNS), n),
        background=background,
        background_rgb=np.clip(PALETTE[background] + jitter(), 0, 255),
        pattern_period=rng.uniform(7.0, 12.0, n).astype(np.float32),
        pattern_angle=rng.uniform(0, np.pi, n).astype(np.float32),
        pattern_phase=rng.uniform(0, 1, (n, 2)).astype(np.float32),
        noise_seed=rng.integers(0, 2**32, n, dtype=np.uint32),
    )


def sample_params(split: str, seed: int, start: int, count: int) -> SceneParams:
    """Parameters of scenes ``start .. start+count-1`` of the stream (split, seed)."""
    parts = []
    first_chunk, last_chunk = start // CHUNK, (start + count - 1) // CHUNK
    for chunk in range(first_chunk, last_chunk + 1):
        params = _sample_chunk(_chunk_rng(split, seed, chunk), chunk * CHUNK, CHUNK)
        lo = max(start - chunk * CHUNK, 0)
        hi = min(start + count - chunk * CHUNK, CHUNK)
        parts.append(params.take(slice(lo, hi)))
    return SceneParams.concat(parts)


# --- shape membership: g(u, v) <= 1 inside, homogeneous of degree 1 (so 1 - g ~ distance/R) ---


def _circle(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    return np.sqrt(u * u + v * v)


def _square(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    return np.maximum(np.abs(u), np.abs(v))


def _triangle(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    # Equilateral, pointing up (v grows downwards in images), circumradius 1, inradius 0.5.
    a = v
    b = 0.8660254 * u - 0.5 * v
    c = -0.8660254 * u - 0.5 * v
    return np.maximum(np.maximum(a, b), c) / 0.5


def _star(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    r = np.sqrt(u * u + v * v)
    theta = np.arctan2(u, -v)  # 0 at the top point
    tri = np.abs((theta * (5 / (2 * np.pi))) % 1.0 * 2 - 1)  # 1 at points, 0 between
    inner = 0.45
    return r / (inner + (1 - inner) * tri)


def _cross(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    au, av = np.abs(u), np.abs(v)
    arm = 0.36
    return np.minimum(np.maximum(au, av / arm), np.maximum(au / arm, av))


def _heart(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    # A square rotated 45 degrees with two circles on its upper edges.
    v = v + 0.3
    body = (np.abs(u) + np.abs(v)) * 0.70710678 / 0.55
    vl = (v + 0.39) ** 2
    lobes = np.sqrt(np.minimum((u + 0.39) ** 2, (u - 0.39) ** 2) + vl) / 0.55
    return np.minimum(body, lobes)


_SHAPE_FUNCTIONS = (_circle, _square, _triangle, _star, _cross, _heart)


def _unit_areas(resolution: int = 801) -> np.ndarray:
    axis = np.linspace(-1.5, 1.5, resolution, dtype=np.float64)
    u, v = np.meshgrid(axis, axis)
    cell = (axis[1] - axis[0]) ** 2
    return np.array([(fn(u, v) <= 1).sum() * cell for fn in _SHAPE_FUNCTIONS])


@functools.cache
def _shape_scale() -> np.ndarray:
    """Scale of each shape's unit outline so that its area equals that of the unit circle
    (computed on first render, not at import: it takes ~0.2 s)."""
    return np.sqrt(np.pi / _unit_areas()).astype(np.float32)


def _hash_noise(seeds: np.ndarray, size: int) -> np.ndarray:
    """Per-pixel uniform noise in [0, 1) from an integer hash: (n, size, size), deterministic."""
    y, x = np.mgrid[0:size, 0:size].astype(np.uint32)
    h = (x * np.uint32(73856093)) ^ (y * np.uint32(19349663))
    h = h[None] ^ (seeds.astype(np.uint32)[:, None, None] * np.uint32(83492791))
    h ^= h >> np.uint32(13)
    h *= np.uint32(0x5BD1E995)
    h ^= h >> np.uint32(15)
    return (h >> np.uint32(8)).astype(np.float32) / np.float32(1 << 24)


def _pattern_mask(params: SceneParams, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """(n, H, W) weight of the pattern's second tone."""
    n, size = len(params), xs.shape[-1]
    mask = np.zeros((n, size, size), dtype=np.float32)
    period = params.pattern_period[:, None, None]
    phase_x = params.pattern_phase[:, 0, None, None]
    phase_y = params.pattern_phase[:, 1, None, None]
    for code, name in enumerate(PATTERNS):
        idx = np.flatnonzero(params.pattern == code)
        if name == "plain" or len(idx) == 0:
            continue
        p, px, py = period[idx], phase_x[idx], phase_y[idx]
        if name == "stripes":
            angle = params.pattern_angle[idx, None, None]
            s = (xs * np.cos(angle) + ys * np.sin(angle)) / p + px
            mask[idx] = (s % 1.0) < 0.5
        elif name == "dots":
            du = (xs / p + px) % 1.0 - 0.5
            dv = (ys / p + py) % 1.0 - 0.5
            mask[idx] = (du * du + dv * dv) < 0.09
        elif name == "checker":
            mask[idx] = (np.floor(xs / p + px) + np.floor(ys / p + py)) % 2
        elif name == "noise":
            mask[idx] = _hash_noise(params.noise_seed[idx], size)
    return mask


def _second_tone(rgb: np.ndarray) -> np.ndarray:
    # Darker for light colours, lighter for dark ones: the pattern stays visible on any colour.
    luminance = rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    target = np.where(luminance[:, None] > 140, 0.0, 255.0).astype(np.float32)
    return rgb + 0.45 * (target - rgb)


def render(params: SceneParams, size: int = IMAGE_SIZE) -> np.ndarray:
    """uint8 images (n, size, size, 3). ``size`` rescales the geometry (64 is the reference)."""
    n = len(params)
    scale = size / IMAGE_SIZE
    coords = (np.arange(size, dtype=np.float32) + 0.5) / scale
    xs, ys = coords[None, None, :], coords[None, :, None]

    tone = _pattern_mask(params, xs, ys)
    second = _second_tone(params.background_rgb)
    # Channel-first: broadcasting over a trailing axis of 3 is several times slower in numpy.
    image = np.empty((n, 3, size, size), dtype=np.float32)
    for c in range(3):
        base = params.background_rgb[:, c, None, None]
        image[:, c] = base + tone * (second[:, c, None, None] - base)

    cos = np.cos(params.rotation)[:, None, None]
    sin = np.sin(params.rotation)[:, None, None]
    dx = xs - params.centre[:, 0, None, None]
    dy = ys - params.centre[:, 1, None, None]
    radius = (params.size * _shape_scale()[params.shape])[:, None, None]
    u = (cos * dx + sin * dy) / radius
    v = (-sin * dx + cos * dy) / radius
    g = np.empty((n, size, size), dtype=np.float32)
    for code, fn in enumerate(_SHAPE_FUNCTIONS):
        idx = np.flatnonzero(params.shape == code)
        if len(idx):
            g[idx] = fn(u[idx], v[idx])
    # Anti-aliased edge: coverage falls from 1 to 0 over about one pixel.
    alpha = np.clip((1.0 - g) * radius * scale + 0.5, 0.0, 1.0)
    for c in range(3):
        image[:, c] += alpha * (params.colour_rgb[:, c, None, None] - image[:, c])
    image += 0.5
    np.clip(image, 0, 255, out=image)
    return image.astype(np.uint8).transpose(0, 2, 3, 1).copy()


def generate(split: str, seed: int, start: int, count: int, size: int = IMAGE_SIZE
             ) -> tuple[np.ndarray, SceneParams]:
    """(images uint8 (n, size, size, 3), params) for scenes ``start .. start+count-1``."""
    params = sample_params(split, seed, start, count)
    return render(params, size), params
