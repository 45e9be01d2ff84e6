"""The reproducible training command, at smoke scale (seconds)."""

import json

import torch

from singaudit.adapters.sources import load_classifier, load_generator, load_joint_space
from singaudit.calibration import train


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
