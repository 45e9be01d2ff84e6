"""``photos:``: the real photographs bundled with scikit-image, scikit-learn and matplotlib.

``photos:`` or ``photos:all`` gives every one; ``photos:chelsea,coffee`` a selection. They are
unlabelled (label -1); keys are ``photos/<name>``.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from singaudit.adapters.data._images import FileImageSource
from singaudit.adapters.data.base import ImageRecord
from singaudit.errors import DataError, MissingDependency

# name -> (package, path inside the package)
PHOTOS: dict[str, tuple[str, str]] = {
    "astronaut": ("skimage", "data/astronaut.png"),
    "camera": ("skimage", "data/camera.png"),
    "chelsea": ("skimage", "data/chelsea.png"),
    "coffee": ("skimage", "data/coffee.png"),
    "rocket": ("skimage", "data/rocket.jpg"),
    "motorcycle": ("skimage", "data/motorcycle_left.png"),
    "hubble": ("skimage", "data/hubble_deep_field.jpg"),
    "china": ("sklearn", "datasets/images/china.jpg"),
    "flower": ("sklearn", "datasets/images/flower.jpg"),
    "grace_hopper": ("matplotlib", "mpl-data/sample_data/grace_hopper.jpg"),
}


def photo_path(name: str) -> Path | None:
    """Where a bundled photo lives, or None when its package is not installed."""
    package, inside = PHOTOS[name]
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / inside
    return path if path.is_file() else None


def load(ident: str = "") -> FileImageSource:
    """The bundled photos (all available ones, or the comma-separated names in ``ident``)."""
    wanted = [n.strip() for n in ident.split(",") if n.strip()] if ident not in ("", "all") else []
    unknown = [n for n in wanted if n not in PHOTOS]
    if unknown:
        raise DataError(f"unknown photo(s) {', '.join(unknown)}; available: {', '.join(PHOTOS)}")
    paths = {name: photo_path(name) for name in (wanted or PHOTOS)}
    missing = [name for name, path in paths.items() if path is None]
    if wanted and missing:
        packages = sorted({PHOTOS[n][0] for n in missing})
        raise MissingDependency(
            f"photo(s) {', '.join(missing)} need {', '.join(packages)}: "
            "pip install 'singaudit[photos]'"
        )
    found = {name: path for name, path in paths.items() if path is not None}
    if not found:
        raise MissingDependency("no bundled photos found: pip install 'singaudit[photos]'")
    records = [ImageRecord(f"photos/{name}", -1) for name in found]
    return FileImageSource(
        f"photos:{ident}", [], records, {f"photos/{name}": path for name, path in found.items()}
    )
