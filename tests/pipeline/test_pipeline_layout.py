"""The channels_last layout: the same features as the contiguous one to 1e-5, its own cache key."""

import pytest
import torch
from torch import nn

from singaudit.adapters.sources import load_classifier, load_data
from singaudit.cache.tensors import FeatureCache
from singaudit.pipeline import features as features_module
from singaudit.pipeline.features import extract
from singaudit.pipeline.layout import choose_layout

pytest.importorskip("timm")


@pytest.fixture(scope="module")
def lite0():
    torch.manual_seed(0)
    # Random weights of a real convolutional architecture, at a small input size to stay cheap.
    return load_classifier("timm:tf_efficientnet_lite0", pretrained=False, verify=False)


def contiguous_features(classifier, source):
    """Today's path: contiguous weights and input."""
    transform = classifier.preprocessing.transform
    batch = torch.stack([transform(source.load(r)) for r in source.records()])
    with torch.inference_mode():
        return classifier.features(batch.contiguous())


def test_channels_last_features_equal_contiguous_ones_and_have_their_own_cache_key(
    lite0, image_folder, tmp_path, monkeypatch
):
    source = load_data(f"folder:{image_folder}")
    assert choose_layout(lite0.module) == "channels_last"
    cache = FeatureCache(tmp_path / "cache")
    fast = extract(lite0, source, cache=cache, batch_size=5, chunk_size=5)
    exact = contiguous_features(lite0, source)
    relative = ((fast.values - exact).norm(dim=1) / exact.norm(dim=1)).max().item()
    assert relative <= 1e-5
    # The user's model keeps its contiguous weights.
    assert all(p.is_contiguous() for p in lite0.module.parameters())
    assert extract(lite0, source, cache=cache, chunk_size=5).chunks_computed == 0
    monkeypatch.setattr(features_module, "choose_layout", lambda module: "contiguous")
    other = extract(lite0, source, cache=cache, batch_size=5, chunk_size=5)
    assert (other.chunks_cached, other.chunks_computed) == (0, 2)
    assert torch.allclose(other.values, exact, rtol=0, atol=1e-6 * exact.abs().max().item())


def test_layout_rule_convolutional_models_only():
    convolutional = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Conv2d(4, 4, 3))
    patch_embedding = nn.Sequential(nn.Conv2d(3, 8, 16, 16), nn.Flatten(2), nn.Linear(4, 4))
    assert choose_layout(convolutional) == "channels_last"
    assert choose_layout(patch_embedding) == "contiguous"
    assert choose_layout(nn.Linear(3, 3)) == "contiguous"
    assert choose_layout(None) == "contiguous"


def test_layout_rule_on_real_architectures():
    """channels_last where it measured faster (benchmarks/throughput.py), contiguous for a ViT,
    whose one convolution is its patch embedding (no difference measured)."""
    import timm

    assert choose_layout(timm.create_model("resnet18", pretrained=False)) == "channels_last"
    vit = timm.create_model("vit_tiny_patch16_224", pretrained=False)
    assert choose_layout(vit) == "contiguous"
