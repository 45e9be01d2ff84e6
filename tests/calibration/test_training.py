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
    assert names == sorted([f"{n}.safetensors" for n in train.SHIPPED] + ["metadata.json"])
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
