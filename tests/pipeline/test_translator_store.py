"""Translator storage: round trips for every architecture, safe loading of .pt files."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import yaml

from singaudit.errors import SingauditError, WeightsNotFound
from singaudit.maths.translators import AffineTranslator
from singaudit.pipeline.translator_store import (
    METADATA_FILE,
    WEIGHTS_FILE,
    TranslatorFileError,
    fingerprint_arrays,
    load_translator,
    save_translator,
)
from singaudit.pipeline.translators import architecture_names, get_architecture

IN_DIM, OUT_DIM, HIDDEN = 12, 5, 20


def random_translator(arch: str, seed: int = 0):
    torch.manual_seed(seed)
    model = get_architecture(arch).build(IN_DIM, OUT_DIM, HIDDEN).eval()
    with torch.no_grad():  # LayerNorm starts at 1/0: perturb it so its weights matter too
        for parameter in model.parameters():
            parameter.add_(0.1 * torch.randn_like(parameter))
    return model


@pytest.mark.parametrize("arch", architecture_names())
def test_round_trip_gives_identical_outputs(tmp_path, arch):
    model = random_translator(arch)
    metadata = {
        "classifier_id": "timm:resnet50",
        "joint_space_id": "open_clip:ViT-L-14",
        "data_fingerprint": "abc123",
        "fidelity": {"mean_cosine": np.float64(0.9), "mse": 0.08, "r2": 0.5},
        "alpha": np.float32(3.0),
    }
    save_translator(tmp_path / "t", model, metadata)
    assert sorted(p.name for p in (tmp_path / "t").iterdir()) == [METADATA_FILE, WEIGHTS_FILE]
    loaded, record = load_translator(tmp_path / "t")
    features = torch.randn(7, IN_DIM)
    with torch.no_grad():
        assert torch.equal(model(features), loaded(features))
    assert not loaded.training
    assert type(loaded) is type(model)
    assert record["architecture"] == arch and (record["in_dim"], record["out_dim"]) == (
        IN_DIM,
        OUT_DIM,
    )
    assert record["hidden"] == (None if arch == "linear" else HIDDEN)
    assert record["classifier_id"] == "timm:resnet50" and record["alpha"] == 3.0
    assert record["fidelity"]["mean_cosine"] == 0.9
    assert {"torch", "safetensors", "singaudit"} <= set(record["library_versions"])
    assert len(record["weights_sha256"]) == 64
    # The .safetensors path alone also works (the JSON beside it is read).
    again, _ = load_translator(tmp_path / "t" / WEIGHTS_FILE)
    with torch.no_grad():
        assert torch.equal(model(features), again(features))


def test_float64_translator_keeps_its_dtype(tmp_path):
    model = AffineTranslator.from_weights(torch.randn(3, 4), torch.randn(3), dtype=torch.float64)
    save_translator(tmp_path, model, {})
    loaded, record = load_translator(tmp_path)
    assert loaded.weight.dtype == torch.float64 and record["dtype"] == "float64"
    assert torch.equal(loaded.weight, model.weight)


@pytest.mark.parametrize("arch", architecture_names())
def test_weights_only_pt_loads_with_architecture_inferred(tmp_path, arch):
    model = random_translator(arch, seed=1)
    torch.save(model.state_dict(), tmp_path / "weights.pt")
    loaded, record = load_translator(tmp_path / "weights.pt")
    features = torch.randn(4, IN_DIM)
    with torch.no_grad():
        assert torch.equal(model(features), loaded(features))
    assert record["architecture"] == arch


def test_authors_layout_best_pt_with_metadata_yaml(tmp_path):
    model = random_translator("mlp3", seed=2)
    torch.save(
        {"model_state_dict": {f"_orig_mod.{k}": v for k, v in model.state_dict().items()}},
        tmp_path / "best.pt",
    )
    (tmp_path / "metadata.yaml").write_text(
        yaml.safe_dump(
            {
                "architecture": "3layer",
                "in_dim": IN_DIM,
                "out_dim": OUT_DIM,
                "hidden_dim": HIDDEN,
                "model_name": "resnet",
            }
        )
    )
    loaded, record = load_translator(tmp_path / "best.pt")
    features = torch.randn(4, IN_DIM)
    with torch.no_grad():
        assert torch.equal(model(features), loaded(features))
    assert record["architecture"] == "mlp3" and record["model_name"] == "resnet"
    from_folder, _ = load_translator(tmp_path)  # the folder alone finds its one checkpoint
    with torch.no_grad():
        assert torch.equal(model(features), from_folder(features))


def test_embedded_metadata_in_a_pt_dict(tmp_path):
    model = random_translator("residual", seed=3)
    torch.save(
        {"state_dict": model.state_dict(), "metadata": {"classifier_id": "x:y"}}, tmp_path / "t.pth"
    )
    _, record = load_translator(tmp_path / "t.pth")
    assert record["classifier_id"] == "x:y" and record["architecture"] == "residual"


def test_full_pickle_is_refused_with_a_clear_message(tmp_path):
    torch.save(random_translator("linear"), tmp_path / "full.pt")  # the whole module, pickled
    with pytest.raises(TranslatorFileError) as caught:
        load_translator(tmp_path / "full.pt")
    message = str(caught.value)
    assert isinstance(caught.value, SingauditError)
    assert "full pickle, not a weights-only checkpoint" in message
    assert "AffineTranslator" in message  # says what is inside
    assert (
        "arbitrary code" in message and "convert it once" in message and "state_dict()" in message
    )


def test_tampered_or_missing_files_are_clear_errors(tmp_path):
    save_translator(tmp_path / "t", random_translator("linear"), {})
    weights = tmp_path / "t" / WEIGHTS_FILE
    other = tmp_path / "other"
    save_translator(other, random_translator("linear", seed=9), {})
    weights.write_bytes((other / WEIGHTS_FILE).read_bytes())
    with pytest.raises(TranslatorFileError, match="sha256 differs"):
        load_translator(tmp_path / "t")
    (tmp_path / "t" / METADATA_FILE).unlink()
    with pytest.raises(WeightsNotFound, match="missing translator.json"):
        load_translator(tmp_path / "t")
    with pytest.raises(WeightsNotFound, match="does not exist"):
        load_translator(tmp_path / "nowhere.pt")
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(TranslatorFileError, match="not a translator"):
        load_translator(tmp_path / "notes.txt")


def test_mismatched_metadata_and_unknown_layouts_are_clear_errors(tmp_path):
    model = random_translator("mlp4")
    save_translator(tmp_path, model, {})
    record = json.loads((tmp_path / METADATA_FILE).read_text())
    record["hidden"] = HIDDEN + 1
    (tmp_path / METADATA_FILE).write_text(json.dumps(record))
    with pytest.raises(TranslatorFileError, match="weights do not fit a mlp4 translator"):
        load_translator(tmp_path)
    elsewhere = tmp_path / "elsewhere"  # away from the translator.json above
    elsewhere.mkdir()
    torch.save({"encoder.weight": torch.zeros(2, 2)}, elsewhere / "odd.pt")
    with pytest.raises(TranslatorFileError, match="cannot tell the translator architecture"):
        load_translator(elsewhere / "odd.pt")
    torch.save([1, 2, 3], elsewhere / "list.pt")
    with pytest.raises(TranslatorFileError, match="no translator state_dict"):
        load_translator(elsewhere / "list.pt")


@pytest.mark.parametrize("declared", [{"hidden": 10**6}, {"in_dim": 10**7, "out_dim": 10**6},
                                      {"hidden": -3}])
def test_metadata_declaring_shapes_its_weights_lack_is_refused_before_allocating(tmp_path,
                                                                                   declared):
    save_translator(tmp_path, random_translator("mlp4"), {})
    record = json.loads((tmp_path / METADATA_FILE).read_text())
    (tmp_path / METADATA_FILE).write_text(json.dumps({**record, **declared}))
    # A 10**6-wide hidden layer is 4 TB of float32: this must fail on shapes, not on memory.
    with pytest.raises(TranslatorFileError, match="weights do not fit|must be positive"):
        load_translator(tmp_path)


def test_saving_replaces_atomically_and_leaves_no_temporary_files(tmp_path):
    save_translator(tmp_path, random_translator("linear", seed=1), {"alpha": 1.0})
    save_translator(tmp_path, random_translator("linear", seed=2), {"alpha": 2.0})
    assert sorted(p.name for p in tmp_path.iterdir()) == [METADATA_FILE, WEIGHTS_FILE]
    _, record = load_translator(tmp_path)
    assert record["alpha"] == 2.0
    with pytest.raises(TypeError, match="not JSON-serialisable"):
        save_translator(tmp_path / "bad", random_translator("linear"), {"oops": object()})
    assert not (tmp_path / "bad").exists() or not any((tmp_path / "bad").iterdir())


def test_fingerprint_is_stable_and_sensitive():
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    assert fingerprint_arrays(x, x[:, :2]) == fingerprint_arrays(
        torch.from_numpy(x), x[:, :2].copy()
    )
    assert fingerprint_arrays(x) != fingerprint_arrays(x.astype(np.float64))
    changed = x.copy()
    changed[0, 0] = 1.0
    assert fingerprint_arrays(x) != fingerprint_arrays(changed)
    assert len(fingerprint_arrays(x)) == 16
