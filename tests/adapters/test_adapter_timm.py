import time

import pytest
import torch
from conftest import assert_logits_match, images

from singaudit.adapters.sources import load_classifier
from singaudit.errors import UnsupportedModel, WeightsNotFound


@pytest.mark.parametrize(
    "name, feature_dim",
    [("vit_tiny_patch16_224", 192), ("convnext_atto", 320)],
)
def test_local_weights_reproduce_logits(timm_weights, name, feature_dim):
    path = timm_weights(name)
    classifier = load_classifier(f"timm:{name}", weights=path)
    assert classifier.info.feature_dim == feature_dim
    assert classifier.info.num_classes == 1000
    assert classifier.info.class_names[1] == "goldfish"
    assert "crop_pct" in classifier.preprocessing.describe
    size = 224 if name.startswith("vit") else 64
    assert_logits_match(classifier, images(2, size))


def test_weights_hash_follows_the_weights(timm_weights, tmp_path):
    import timm

    from singaudit.adapters.weights import save_state_dict

    first = load_classifier("timm:convnext_atto", weights=timm_weights("convnext_atto"))
    torch.manual_seed(1)
    other = tmp_path / "other.safetensors"
    save_state_dict(timm.create_model("convnext_atto").state_dict(), other)
    second = load_classifier("timm:convnext_atto", weights=other)
    assert first.info.weights_hash != second.info.weights_hash


def test_head_norm_is_inside_the_features(timm_weights):
    # convnext's head applies a LayerNorm before fc: features must be taken after it.
    classifier = load_classifier("timm:convnext_atto", weights=timm_weights("convnext_atto"))
    with torch.inference_mode():
        features = classifier.features(images(3, 64))
    # A LayerNorm output (no affine drift at init) has zero mean per row.
    assert features.mean(dim=1).abs().max() < 1e-4


def test_distilled_deit_reads_both_heads_exactly(timm_weights):
    path = timm_weights("deit_tiny_distilled_patch16_224")
    classifier = load_classifier("timm:deit_tiny_distilled_patch16_224", weights=path)
    assert classifier.info.feature_dim == 2 * 192
    assert "distilled" in classifier.info.extra["head"]
    assert_logits_match(classifier, images(2, 224))


@pytest.mark.slow
def test_resnet50_local_weights(timm_weights):
    classifier = load_classifier("timm:resnet50", weights=timm_weights("resnet50"))
    assert classifier.info.feature_dim == 2048
    assert_logits_match(classifier, images(2, 64))


def test_changed_num_classes_is_read_from_the_file(weights_dir):
    import timm

    from singaudit.adapters.weights import save_state_dict

    path = weights_dir / "convnext-7.safetensors"
    save_state_dict(timm.create_model("convnext_atto", num_classes=7).state_dict(), path)
    classifier = load_classifier("timm:convnext_atto", weights=path)
    assert classifier.info.num_classes == 7
    assert classifier.info.class_names == [f"class_{i}" for i in range(7)]
    assert_logits_match(classifier, images(1, 64))


def test_missing_hub_weights_offline_fail_fast():
    start = time.perf_counter()
    with pytest.raises(WeightsNotFound, match="resnet50.a1_in1k.*weights=PATH"):
        load_classifier("timm:resnet50.a1_in1k")
    assert time.perf_counter() - start < 1.0


def test_missing_local_file_is_named(tmp_path):
    with pytest.raises(WeightsNotFound, match="nope.safetensors"):
        load_classifier("timm:resnet50", weights=tmp_path / "nope.safetensors")


def test_unknown_architecture_and_headless_model_are_refused():
    with pytest.raises(UnsupportedModel, match="no model 'resnet5000'"):
        load_classifier("timm:resnet5000")
    with pytest.raises(UnsupportedModel, match="num_classes=0"):
        load_classifier("timm:convnext_atto", pretrained=False, num_classes=0)
