"""The reproducible training command, at smoke scale (seconds)."""

import json

import torch

from singaudit.adapters.sources import load_classifier, load_generator, load_joint_space
from singaudit.calibration import models, train


def test_smoke_training_command_writes_loadable_weights(tmp_path, capsys):
    assert train.main(["--smoke", "--out", str(tmp_path), "--seed", "3"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert set(summary["zero_shot"]) == {"shape", "colour", "pattern"}
    names = sorted(p.name for p in tmp_path.iterdir())
    worlds = [n for names in train.SHIPPED_WORLDS.values() for n in names]
    assert names == sorted(
        [f"{n}.safetensors" for n in (*train.SHIPPED, *worlds)]
        + ["metadata.json"]
        + [f"metadata_{phase}.json" for phase in train.WORLDS]
    )
    metadata = json.loads((tmp_path / "metadata.json").read_text())
    assert metadata["seed"] == 3 and metadata["scale"] == "smoke"
    assert set(metadata["ground_truth"]) == {"clean", "leaky", "mixed", "natural"}
    assert metadata["timing"]["total_cpu_s"] > 0

    classifier = load_classifier("calibration:leaky", weights_dir=tmp_path)
    images = torch.randn(2, 3, 64, 64)
    assert torch.allclose(
        classifier.logits(classifier.features(images)), classifier.forward(images), atol=1e-5
    )
    space = load_joint_space("calibration:joint", weights_dir=tmp_path)
    decoder = load_generator("calibration:decoder", weights_dir=tmp_path)
    renders = decoder.render(space.encode_images(images), seeds=[0], size=64)
    assert renders[0][0].size == (64, 64)


def test_decoder_phase_retrains_alone_and_evaluation_keeps_the_other_figures(tmp_path, capsys):
    # The shipped folder holds no shape/nuisance parts: re-evaluation reads the block classifiers.
    assert train.main(["--smoke", "--out", str(tmp_path), "--seed", "3"]) == 0
    before = json.loads((tmp_path / "metadata.json").read_text())
    joint_bytes = (tmp_path / "joint.safetensors").read_bytes()
    args = ["--smoke", "--out", str(tmp_path), "--seed", "3", "--phases", "decoder,evaluate"]
    assert train.main(args) == 0
    capsys.readouterr()
    after = json.loads((tmp_path / "metadata.json").read_text())
    for key in ("zero_shot", "classifier_accuracy", "nuisance_block", "ground_truth"):
        assert after[key] == before[key], key
    for name in ("joint", "clean", "leaky", "mixed", "natural"):
        assert after["weights"][name] == before["weights"][name]
    assert (tmp_path / "joint.safetensors").read_bytes() == joint_bytes
    assert set(after["timing"]["phases"]) == set(train.PHASES) | {"evaluate"}
    assert set(after["decoder"]["head_accuracy"]) == {a.name for a in models.DECODED_ATTRIBUTES}


def test_new_worlds_rebuild_alone_and_leave_the_original_world_untouched(tmp_path, capsys):
    assert train.main(["--smoke", "--out", str(tmp_path), "--seed", "3"]) == 0
    original = {
        p.name: p.read_bytes()
        for p in tmp_path.iterdir()
        if p.name == "metadata.json" or p.stem in train.SHIPPED
    }
    uncentred = json.loads((tmp_path / "metadata_uncentred.json").read_text())
    (tmp_path / "clean_uncentred.safetensors").unlink()
    args = ["--smoke", "--out", str(tmp_path), "--seed", "3", "--phases", "uncentred,lite0"]
    assert train.main(args) == 0
    capsys.readouterr()
    for name, content in original.items():
        assert (tmp_path / name).read_bytes() == content, name
    again = json.loads((tmp_path / "metadata_uncentred.json").read_text())
    # Seeded: the rebuilt weights are the same ones.
    assert again["weights"] == uncentred["weights"]
    lite0 = json.loads((tmp_path / "metadata_lite0.json").read_text())
    assert set(lite0["ground_truth"]) == set(train.SHIPPED_WORLDS["lite0"])
    assert lite0["backbone"]["input_size"] == train.SCALES["smoke"]["lite0_size"]
    classifier = load_classifier("calibration:lite0_leaky", weights_dir=tmp_path)
    images = torch.randn(2, 3, 64, 64)
    assert torch.allclose(
        classifier.logits(classifier.features(images)), classifier.forward(images), atol=1e-4
    )
