"""The runner's on-disk artefacts: cached features, embeddings, text embeddings and translators,
keyed by everything that determines them, so a warm re-run recomputes nothing."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

import singaudit
from singaudit.errors import SingauditError
from singaudit.pipeline.atomic import atomic_path
from singaudit.runner.extraction import Rows, extract_rows
from singaudit.runner.selection import ImageSelection

CACHE_ENV = "SINGAUDIT_CACHE"


def cache_root(configured: str | Path | None = None) -> Path:
    """The cache folder: the argument or spec, else $SINGAUDIT_CACHE, else the platform's."""
    if configured is not None:
        return Path(configured).expanduser()
    try:
        from singaudit.pipeline.cache import default_cache_dir  # type: ignore[attr-defined]

        return Path(default_cache_dir())
    except ImportError:
        pass
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("singaudit"))


def _digest(payload: Any) -> str:
    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _model_identity(model: Any) -> dict[str, Any]:
    return {
        "id": model.info.id,
        "weights": model.info.weights_hash,
        "preprocessing": model.preprocessing.describe,
        "torch": torch.__version__,
        "singaudit": singaudit.__version__,
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
    encode = model.features if kind == "features" else model.encode_images
    content = [selection.source.content_hash(record) for record in selection.records]
    key = _digest({"kind": kind, **_model_identity(model), "dtype": str(dtype),
                   "keys": selection.keys, "content": content})
    path = cache_dir / kind / f"{key}.safetensors"
    cached = _read_rows(path)
    if cached is not None:
        return cached
    rows = extract_rows(encode, model.preprocessing, selection, batch_size=batch_size,
                        device=device, dtype=dtype)
    _write_rows(path, rows)
    return rows


def _write_rows(path: Path, rows: Rows) -> None:
    metadata = {"keys": json.dumps(rows.keys), "failures": json.dumps(rows.failures)}
    with atomic_path(path) as tmp:
        save_file({"values": rows.values.contiguous()}, str(tmp), metadata=metadata)


def _read_rows(path: Path) -> Rows | None:
    """Cached rows, or None when missing or unreadable (a corrupt entry is recomputed)."""
    if not path.is_file():
        return None
    try:
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
            values = handle.get_tensor("values")
        keys = json.loads(metadata["keys"])
        failures = json.loads(metadata["failures"])
    except (SafetensorError, OSError, KeyError, ValueError):
        return None
    if values.shape[0] != len(keys):
        return None
    return Rows(keys, values, failures)


def text_embeddings_cached(
    space: Any,
    prompts: list[str],
    *,
    cache_dir: Path,
    memo: Callable[[tuple, Callable[[], Any]], Any],
) -> torch.Tensor:
    """Text embeddings per prompt, memoised in the session and cached on disk per prompt list."""
    key = _digest({"kind": "text", "id": space.info.id, "weights": space.info.weights_hash,
                   "prompts": prompts, "torch": torch.__version__})

    def compute() -> torch.Tensor:
        path = cache_dir / "text" / f"{key}.safetensors"
        if path.is_file():
            try:
                return load_file(str(path))["values"]
            except (SafetensorError, OSError, KeyError):
                pass
        with torch.inference_mode():
            values = space.encode_text(prompts).to("cpu", torch.float32)
        with atomic_path(path) as tmp:
            save_file({"values": values.contiguous()}, str(tmp))
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

    folder = cache_dir / "translators" / fingerprint
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
