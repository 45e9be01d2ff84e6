"""The runner's on-disk artefacts: cached features, embeddings, text embeddings and translators,
keyed by everything that determines them, so a warm re-run recomputes nothing."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from singaudit.errors import SingauditError
from singaudit.runner.extraction import Rows, extract_rows
from singaudit.runner.selection import ImageSelection

TRANSLATORS = "translators"  # a namespace beside the pipeline cache's features/embeddings/text


def cache_root(configured: str | Path | None = None) -> Path:
    """The cache folder: the argument or spec, else $SINGAUDIT_CACHE, else the platform's."""
    from singaudit.pipeline.cache import default_cache_dir

    return Path(configured).expanduser() if configured is not None else default_cache_dir()


def _model_identity(model: Any) -> dict[str, Any]:
    from singaudit.pipeline.cache import library_versions

    return {
        "id": model.info.id,
        "weights": model.info.weights_hash,
        "preprocessing": model.preprocessing.describe,
        "versions": library_versions(),
    }


def extract_cached(
    kind: str,
    model: Any,
    selection: ImageSelection,
    *,
    cache_dir: Path,
    batch_size: int,
    device: torch.device,
    dtype: torch.dtype,
    progress: bool = False,
) -> Rows:
    """Features ("features", a Classifier) or image embeddings ("embeddings", a JointSpace) of
    the selection, read from the cache when every input is unchanged."""
    from singaudit.pipeline.cache import FeatureCache, make_key

    encode = model.features if kind == "features" else model.encode_images
    content = [selection.source.content_hash(record) for record in selection.records]
    key = make_key(kind=kind, **_model_identity(model), dtype=str(dtype), keys=selection.keys,
                   content=content)
    cache = FeatureCache(cache_dir)
    entry = cache.load(kind, key)
    if entry is not None:
        tensors, metadata = entry
        try:
            keys, failures = json.loads(metadata["keys"]), json.loads(metadata["failures"])
        except (KeyError, ValueError):
            keys = None
        if keys is not None and tensors["values"].shape[0] == len(keys):
            return Rows(keys, tensors["values"], failures)
    rows = extract_rows(encode, model.preprocessing, selection, batch_size=batch_size,
                        device=device, dtype=dtype)
    cache.save(kind, key, {"values": rows.values},
               {"keys": json.dumps(rows.keys), "failures": json.dumps(rows.failures),
                "model": model.info.id})
    return rows


def text_embeddings_cached(
    space: Any,
    prompts: list[str],
    *,
    cache_dir: Path,
    memo: Callable[[tuple, Callable[[], Any]], Any],
) -> torch.Tensor:
    """Text embeddings per prompt list, memoised in the session and cached on disk."""
    from singaudit.pipeline.cache import FeatureCache, library_versions, make_key

    key = make_key(kind="text", id=space.info.id, weights=space.info.weights_hash,
                   prompts=prompts, versions=library_versions())

    def compute() -> torch.Tensor:
        cache = FeatureCache(cache_dir)
        entry = cache.load("text", key, rows=len(prompts))
        if entry is not None:
            return entry[0]["values"]
        with torch.inference_mode():
            values = space.encode_text(prompts).to("cpu", torch.float32)
        cache.save("text", key, {"values": values}, {"model": space.info.id})
        return values

    return memo(("text", key), compute)


def fit_or_load_translator(
    fingerprint: str,
    arch: str,
    options: dict[str, Any],
    fit_data: Callable[[], tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]],
    *,
    cache_dir: Path,
    seed: int,
    meta: dict[str, Any],
) -> tuple[torch.nn.Module, dict[str, Any]]:
    """The translator for ``fingerprint`` from the cache, else fitted on ``fit_data()`` and saved."""
    from singaudit.pipeline.translator_store import load_translator, save_translator

    folder = cache_dir / TRANSLATORS / fingerprint
    if (folder / "translator.json").is_file():
        try:
            module, record = load_translator(folder)
            return module, {**record, "source": "cache", "fingerprint": fingerprint}
        except SingauditError:
            pass  # a damaged entry: fit again and overwrite it
    module, info = fit_translator(arch, options, *fit_data(), seed=seed)
    save_translator(folder, module, {**meta, **info, "data_fingerprint": fingerprint})
    return module, {**meta, **info, "architecture": arch, "source": "fitted",
                    "fingerprint": fingerprint}


def fit_translator(
    arch: str,
    options: dict[str, Any],
    x_train: torch.Tensor,
    y_train: torch.Tensor,
    x_heldout: torch.Tensor,
    y_heldout: torch.Tensor,
    *,
    seed: int = 0,
) -> tuple[torch.nn.Module, dict[str, Any]]:
    """Streaming ridge (linear) or gradient training (MLPs); held-out fidelity in ``info``."""
    from singaudit.maths import translators

    if arch == "linear":
        unknown = set(options) - {"alphas", "chunk_size"}
        if unknown:
            raise SingauditError(f"translator.options: unknown option(s) for a linear "
                                 f"translator: {', '.join(sorted(unknown))} (alphas, chunk_size)")
        chunk = int(options.get("chunk_size", 4096))
        train = translators.RidgeAccumulator(x_train.shape[1], y_train.shape[1])
        heldout = translators.RidgeAccumulator(x_train.shape[1], y_train.shape[1])
        for start in range(0, len(x_train), chunk):
            train.update(x_train[start:start + chunk], y_train[start:start + chunk])
        heldout.update(x_heldout, y_heldout)
        module, alpha, metrics = translators.fit_ridge(train, heldout, options.get("alphas"))
        info: dict[str, Any] = {"alpha": alpha, "curve": metrics["curve"]}
    else:
        try:
            module, history = translators.train_translator(
                arch, x_train, y_train, x_heldout, y_heldout, seed=seed, **options)
        except TypeError as error:
            raise SingauditError(f"translator.options: {error}") from None
        info = {"best_epoch": history.get("best_epoch"), "epochs": len(history["val_loss"])}
    module.eval()
    with torch.inference_mode():
        predicted = module(x_heldout.to(torch.float32))
    info.update(translators.fidelity(predicted, y_heldout))
    info["row_cosines"] = translators.row_cosines(predicted, y_heldout).tolist()
    info.update(n_train=len(x_train), n_heldout=len(x_heldout), architecture=arch)
    return module, info


def load_translator_file(path: Path, classifier: Any, space: Any) -> tuple[torch.nn.Module, dict]:
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
