"""The runner's artefacts computed or taken from the cache (``singaudit.cache``), keyed by
everything that determines them, so a warm re-run recomputes nothing: features and embeddings
(through the pipeline's chunked extraction), text embeddings, head geometry and fitted
translators."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from singaudit.cache import mark_cache, write_failed
from singaudit.cache.tensors import FeatureCache, load_geometry, make_key, save_geometry
from singaudit.cache.translators import entry_folder
from singaudit.errors import SingauditError
from singaudit.maths._arrays import require_finite
from singaudit.maths.translators import Translator
from singaudit.runner.selection import ImageSelection


@dataclass
class Rows:
    """Vectors for the images that could be read, and why the others could not."""

    keys: list[str]
    values: torch.Tensor  # (len(keys), d) float32 on the CPU
    failures: dict[str, str] = field(default_factory=dict)  # key -> reason

    def aligned(self, keys: list[str]) -> torch.Tensor:
        """Rows in the order of ``keys`` (every key must have a row)."""
        position = {key: row for row, key in enumerate(self.keys)}
        return self.values[[position[key] for key in keys]]


def extract_cached(
    model: Any,
    selection: ImageSelection,
    *,
    cache_dir: Path,
    batch_size: int,
    device: torch.device,
    dtype: torch.dtype,
    progress: bool = False,
    executor: Any = None,
    recipe: Any = None,
) -> Rows:
    """Features (a Classifier) or image embeddings (a JointSpace) of the selection, through the
    pipeline's chunked cache; unreadable images are left out and listed. ``executor`` and
    ``recipe``: see ``pipeline.features.extract``."""
    from singaudit.pipeline.features import extract

    extraction = extract(model, selection.source, selection.records,
                         cache=FeatureCache(cache_dir), batch_size=batch_size, device=device,
                         dtype=dtype, progress=None if progress else False,
                         executor=executor, recipe=recipe)
    kind = "features" if hasattr(model, "head") else "image embeddings"
    require_finite(extraction.values, extraction.keys, f"{kind} of {model.info.id}")
    return Rows(extraction.keys, extraction.values, dict(extraction.failed))


def text_embeddings_cached(
    space: Any,
    prompts: list[str],
    *,
    cache_dir: Path,
    memo: Callable[[tuple, Callable[[], Any]], Any],
) -> torch.Tensor:
    """Text embeddings per prompt list, memoised in the session and cached on disk."""
    from singaudit.pipeline.features import encode_text

    key = ("text", space.info.id, space.info.weights_hash, tuple(prompts))
    return memo(key, lambda: encode_text(space, prompts, cache=FeatureCache(cache_dir)))


def geometry_cached(classifier: Any, *, cache_dir: Path, rank_tolerance: float | None = None
                    ) -> Any:
    """The head's SVD geometry, cached on disk (a float64 SVD of a large head takes seconds)."""
    from singaudit.io.versions import library_versions
    from singaudit.maths.geometry import RANK_EPSILON, head_geometry

    key = make_key(kind="geometry", model=classifier.info.id,
                   weights=classifier.info.weights_hash, versions=library_versions(),
                   rtol=rank_tolerance, epsilon=RANK_EPSILON)
    cached = load_geometry(cache_dir, key)
    if cached is not None:
        return cached
    weight, _ = classifier.head()
    geometry = head_geometry(weight.detach().to("cpu"), rtol=rank_tolerance)
    save_geometry(cache_dir, key, geometry, model=classifier.info.id)
    return geometry


def load_cached_translator(cache_dir: Path, fingerprint: str
                           ) -> tuple[Translator, dict[str, Any]] | None:
    """The translator fitted for ``fingerprint``, from the cache; None when absent or damaged."""
    from singaudit.pipeline.translator_store import load_translator

    folder = entry_folder(cache_dir, fingerprint)
    if not (folder / "translator.json").is_file():
        return None
    try:
        module, record = load_translator(folder)
    except SingauditError:
        return None  # a damaged entry: fit again and overwrite it
    return module, {**record, "source": "cache", "fingerprint": fingerprint}


def save_cached_translator(cache_dir: Path, fingerprint: str, module: Translator,
                           record: dict[str, Any]) -> None:
    """Keep a fitted translator under ``fingerprint`` (an unwritable cache only warns)."""
    from singaudit.pipeline.translator_store import save_translator

    try:
        mark_cache(cache_dir)
        save_translator(entry_folder(cache_dir, fingerprint), module,
                        {**record, "data_fingerprint": fingerprint})
    except OSError as error:
        write_failed(cache_dir, error)


def load_translator_file(path: Path, classifier: Any, space: Any
                         ) -> tuple[Translator, dict[str, Any]]:
    """A saved translator, refused when its dimensions do not fit the classifier and joint space."""
    from singaudit.pipeline.translator_store import load_translator

    module, record = load_translator(path)
    in_dim, out_dim = record.get("in_dim"), record.get("out_dim")
    if in_dim != classifier.info.feature_dim or out_dim != space.info.embed_dim:
        raise SingauditError(
            f"translator {path} maps {in_dim} -> {out_dim} but {classifier.info.id} has "
            f"{classifier.info.feature_dim}-d features and {space.info.id} "
            f"{space.info.embed_dim}-d embeddings"
        )
    return module.float().eval(), {**record, "source": str(path)}
