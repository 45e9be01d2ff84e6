"""Translator storage: ``translator.safetensors`` + ``translator.json`` in a folder, atomically.

Also reads weights-only ``.pt`` checkpoints (e.g. the SING authors' ``best.pt``); a full pickle is
refused, since unpickling can run arbitrary code.
"""

from __future__ import annotations

import hashlib
import json
import pickle
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors_bytes
from safetensors.torch import save as save_safetensors_bytes

from singaudit.errors import SingauditError, SpecError, WeightsNotFound
from singaudit.io.atomic import atomic_write_bytes, atomic_write_text
from singaudit.io.versions import library_versions
from singaudit.maths.translators import Translator
from singaudit.pipeline.translators import get_architecture

WEIGHTS_FILE = "translator.safetensors"
METADATA_FILE = "translator.json"
FORMAT_VERSION = 1
_STATE_DICT_KEYS = ("state_dict", "model_state_dict", "translator_state_dict", "model")
class TranslatorFileError(SingauditError):
    """A translator file that cannot be read safely or does not describe a translator."""


def save_translator(path_dir: str | Path, model: Translator, metadata: Mapping[str, Any]) -> Path:
    """Write the weights and a JSON record (metadata + architecture, dims, hash, library versions).

    ``metadata`` should carry classifier_id, joint_space_id, data_fingerprint, fidelity and alpha
    where they apply. The JSON is written last, so a folder with both files is complete.
    """
    folder = Path(path_dir)
    state = {
        name: tensor.detach().to("cpu").contiguous() for name, tensor in model.state_dict().items()
    }
    weights = save_safetensors_bytes(state)
    record = {
        **dict(metadata),
        **model.config(),
        "format_version": FORMAT_VERSION,
        "dtype": str(next(iter(state.values())).dtype).removeprefix("torch."),
        "weights_file": WEIGHTS_FILE,
        "weights_sha256": hashlib.sha256(weights).hexdigest(),
        "library_versions": library_versions(),
    }
    text = json.dumps(record, indent=2, sort_keys=True, default=_json_default)
    atomic_write_bytes(folder / WEIGHTS_FILE, weights)
    atomic_write_text(folder / METADATA_FILE, text + "\n")
    return folder


def load_translator(path: str | Path) -> tuple[Translator, dict[str, Any]]:
    """Load a translator folder (or its ``.safetensors``), or a weights-only ``.pt``/``.pth`` file
    (also a folder holding one, with metadata.yaml or translator.json beside it, or none).

    Returns the model in eval mode and its metadata.
    """
    path = Path(path)
    if path.is_dir():
        checkpoints = sorted(p for p in path.iterdir() if p.suffix in (".pt", ".pth"))
        if not (path / WEIGHTS_FILE).exists() and len(checkpoints) == 1:
            return _load_checkpoint(checkpoints[0])  # e.g. the SING authors' folder: best.pt
        return _load_folder(path)
    if not path.exists():
        raise WeightsNotFound(f"translator not found: {path} does not exist")
    if path.suffix == ".safetensors":
        return _load_folder(path.parent, weights_path=path)
    if path.suffix in (".pt", ".pth", ".bin", ".ckpt"):
        return _load_checkpoint(path)
    raise TranslatorFileError(
        f"{path}: not a translator (expected a folder with {WEIGHTS_FILE} and {METADATA_FILE}, "
        "a .safetensors file or a weights-only .pt file)"
    )


def null_reference_record(fit_features: Any, fit_set: str) -> dict[str, Any]:
    """What a translator carries so that every user of it removes null content alike: the mean
    of the features it was fitted on (the null reference mu) and which fit set that was."""
    rows = torch.as_tensor(fit_features).detach().to("cpu", torch.float64)
    return {"mean": rows.mean(dim=0).tolist(), "rows": int(rows.shape[0]), "fit_set": fit_set,
            "fingerprint": fingerprint_arrays(rows)}


def fingerprint_arrays(*arrays: Any) -> str:
    """A short sha256 of arrays' shapes, dtypes and bytes: identifies the data a translator saw."""
    digest = hashlib.sha256()
    for array in arrays:
        if isinstance(array, torch.Tensor):
            array = array.detach().to("cpu")
            array = array.float().numpy() if array.dtype == torch.bfloat16 else array.numpy()
        array = np.ascontiguousarray(array)
        digest.update(f"{array.shape}|{array.dtype}|".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()[:16]


def _load_folder(
    folder: Path, weights_path: Path | None = None
) -> tuple[Translator, dict[str, Any]]:
    weights_path = weights_path or folder / WEIGHTS_FILE
    metadata_path = folder / METADATA_FILE
    missing = [p.name for p in (weights_path, metadata_path) if not p.is_file()]
    if missing:
        raise WeightsNotFound(
            f"no translator in {folder}: missing {', '.join(missing)} "
            f"(a translator folder holds {WEIGHTS_FILE} and {METADATA_FILE})"
        )
    try:
        record = json.loads(metadata_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise TranslatorFileError(f"{metadata_path}: not valid JSON ({error})") from None
    if not isinstance(record, dict):
        raise TranslatorFileError(f"{metadata_path}: expected a JSON object")
    weights = weights_path.read_bytes()
    expected_hash = record.get("weights_sha256")
    if expected_hash and hashlib.sha256(weights).hexdigest() != expected_hash:
        raise TranslatorFileError(
            f"{weights_path} does not match {metadata_path} (sha256 differs): the folder was "
            "modified or only partly copied; save the translator again"
        )
    try:
        state = load_safetensors_bytes(weights)
    except SafetensorError as error:
        raise TranslatorFileError(
            f"{weights_path}: unreadable safetensors file ({error})"
        ) from None
    model = _build_from_record(record, state, weights_path)
    return model, record


def _load_checkpoint(path: Path) -> tuple[Translator, dict[str, Any]]:
    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        raise TranslatorFileError(
            f"{path} is a full pickle, not a weights-only checkpoint ({_pickle_reason(error)}), "
            "and singaudit will not unpickle it: that can run arbitrary code. "
            "If you trust the file, convert it once: "
            "obj = torch.load(path, weights_only=False); "
            "torch.save(obj.state_dict() if hasattr(obj, 'state_dict') else obj['state_dict'], "
            "'translator_weights.pt') -- or save it with singaudit.pipeline.translator_store."
            "save_translator."
        ) from None
    except (RuntimeError, OSError, EOFError) as error:
        raise TranslatorFileError(f"{path}: not a readable torch checkpoint ({error})") from None
    state, embedded = _extract_state_dict(loaded, path)
    record = {**_sibling_metadata(path), **embedded}
    model = _build_from_record(record, state, path)
    return model, {**record, **model.config(), "weights_file": path.name}


def _pickle_reason(error: Exception) -> str:
    match = re.search(r"Unsupported global: GLOBAL ([\w.]+)", str(error))
    return f"it contains the object {match.group(1)}" if match else "it contains non-tensor objects"


def _extract_state_dict(loaded: Any, path: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    if isinstance(loaded, Mapping):
        metadata = loaded.get("metadata")
        embedded = metadata if isinstance(metadata, Mapping) else {}
        candidates = [loaded] + [
            loaded[k] for k in _STATE_DICT_KEYS if isinstance(loaded.get(k), Mapping)
        ]
        for candidate in candidates:
            tensors = {k: v for k, v in candidate.items() if isinstance(v, torch.Tensor)}
            if tensors and len(tensors) == len(candidate):
                return {k.removeprefix("_orig_mod."): v for k, v in tensors.items()}, dict(embedded)
    raise TranslatorFileError(
        f"{path} holds no translator state_dict (expected a dict of tensors, or one under "
        f"{', '.join(_STATE_DICT_KEYS)})"
    )


def _sibling_metadata(path: Path) -> dict[str, Any]:
    # The SING authors keep metadata.yaml beside best.pt.
    for candidate in (path.with_suffix(".json"), path.parent / METADATA_FILE):
        if candidate.is_file():
            try:
                data = json.loads(candidate.read_text(encoding="utf-8"))
            except json.JSONDecodeError as error:
                raise TranslatorFileError(f"{candidate}: not valid JSON ({error})") from None
            return data if isinstance(data, dict) else {}
    yaml_path = path.parent / "metadata.yaml"
    if yaml_path.is_file():
        try:
            data = yaml.safe_load(yaml_path.read_text(encoding="utf-8"))
        except yaml.YAMLError as error:
            raise TranslatorFileError(f"{yaml_path}: not valid YAML ({error})") from None
        return data if isinstance(data, dict) else {}
    return {}


def _build_from_record(
    record: Mapping[str, Any], state: dict[str, torch.Tensor], source: Path
) -> Translator:
    config = _config_from_record(record) or _infer_config(state, source)
    try:
        architecture = get_architecture(config["architecture"]).name
    except SpecError as error:
        raise TranslatorFileError(f"{source}: {error}") from None
    dims = (config["in_dim"], config["out_dim"], config.get("hidden"))
    _check_declared_shapes(architecture, dims, state, source)
    model = get_architecture(architecture).build(*dims)
    model = model.to(next(iter(state.values())).dtype)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as error:
        detail = str(error).strip().splitlines()[0]
        raise TranslatorFileError(
            f"{source}: weights do not fit a {architecture} translator "
            f"{config['in_dim']} -> {config['out_dim']} (hidden {config.get('hidden')}): {detail}"
        ) from None
    return model.eval()


def _check_declared_shapes(architecture: str, dims: tuple, state: Mapping[str, torch.Tensor],
                           source: Path) -> None:
    """Declared dims must match the weights before anything is allocated: a metadata file that
    declares a billion-wide layer would otherwise be built in memory first."""
    if any(d is not None and (isinstance(d, bool) or d < 1) for d in dims):
        raise TranslatorFileError(f"{source}: declared dims {dims} must be positive")
    with torch.device("meta"):  # shapes only, no memory
        expected = {k: tuple(v.shape) for k, v in get_architecture(architecture).build(*dims)
                    .state_dict().items()}
    found = {k: tuple(v.shape) for k, v in state.items()}
    if expected != found:
        differ = sorted(k for k in expected.keys() | found.keys()
                        if expected.get(k) != found.get(k))[:3]
        detail = "; ".join(f"{k}: declared {expected.get(k)}, weights {found.get(k)}"
                           for k in differ)
        raise TranslatorFileError(
            f"{source}: weights do not fit a {architecture} translator {dims[0]} -> {dims[1]} "
            f"(hidden {dims[2]}) as declared ({detail})")


def _config_from_record(record: Mapping[str, Any]) -> dict[str, Any] | None:
    if not all(key in record for key in ("architecture", "in_dim", "out_dim")):
        return None
    architecture = str(record["architecture"]).lower()
    hidden = record.get("hidden", record.get("hidden_dim"))
    return {
        "architecture": architecture,  # an alias (the SING authors' "3layer") resolves later
        "in_dim": int(record["in_dim"]),
        "out_dim": int(record["out_dim"]),
        "hidden": int(hidden) if hidden is not None else None,
    }


def _infer_config(state: Mapping[str, torch.Tensor], source: Path) -> dict[str, Any]:
    """Architecture and dims from the state_dict's names and shapes (for bare checkpoints)."""
    if set(state) == {"weight", "bias"}:
        out_dim, in_dim = state["weight"].shape
        return {"architecture": "linear", "in_dim": in_dim, "out_dim": out_dim, "hidden": None}
    if "input_proj.weight" in state and "output_proj.3.weight" in state:
        hidden, in_dim = state["input_proj.weight"].shape
        out_dim = state["output_proj.3.weight"].shape[0]
        return {"architecture": "residual", "in_dim": in_dim, "out_dim": out_dim, "hidden": hidden}
    linear_weights = sorted(
        (int(name.split(".")[1]), tensor)
        for name, tensor in state.items()
        if name.startswith("layers.") and name.endswith(".weight") and tensor.ndim == 2
    )
    if len(linear_weights) in (3, 4):
        hidden, in_dim = linear_weights[0][1].shape
        out_dim = linear_weights[-1][1].shape[0]
        architecture = f"mlp{len(linear_weights)}"
        return {
            "architecture": architecture,
            "in_dim": in_dim,
            "out_dim": out_dim,
            "hidden": hidden,
        }
    raise TranslatorFileError(
        f"{source}: cannot tell the translator architecture from its weights; put architecture, "
        f"in_dim, out_dim and hidden in a {METADATA_FILE} beside it"
    )



def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (np.ndarray, torch.Tensor)):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(
        f"translator metadata value {value!r} ({type(value).__name__}) is not JSON-serialisable"
    )
