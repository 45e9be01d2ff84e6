import time

import pytest
import torch
from adapter_helpers import assert_logits_match, images

from singaudit.adapters.sources import load_classifier
from singaudit.errors import UnsupportedModel, WeightsNotFound


@pytest.fixture(scope="module")
def convnext(timm_weights):
    return load_classifier("timm:convnext_atto", weights=timm_weights("convnext_atto"))


def test_convnext_local_weights_reproduce_logits(convnext):
    assert convnext.info.feature_dim == 320
    assert convnext.info.num_classes == 1000
    assert convnext.info.class_names[1] == "goldfish"
    assert "crop_pct" in convnext.preprocessing.describe
    assert_logits_match(convnext, images(2, 64))


def test_small_vit_local_weights_reproduce_logits(timm_weights):
    path = timm_weights("vit_tiny_patch16_224", img_size=32)
    classifier = load_classifier("timm:vit_tiny_patch16_224", weights=path, img_size=32)
    assert classifier.info.feature_dim == 192
    assert_logits_match(classifier, images(2, 32))


def test_weights_hash_follows_the_weights(convnext, tmp_path):
    import timm

    from singaudit.io.state_dicts import save_state_dict

    torch.manual_seed(1)
    other = tmp_path / "other.safetensors"
    save_state_dict(timm.create_model("convnext_atto").state_dict(), other)
    second = load_classifier("timm:convnext_atto", weights=other)
    assert convnext.info.weights_hash != second.info.weights_hash


def test_head_norm_is_inside_the_features(convnext):
    # convnext's head applies a LayerNorm before fc: features must be taken after it.
    with torch.inference_mode():
        features = convnext.features(images(3, 64))
    # A LayerNorm output (no affine drift at init) has zero mean per row.
    assert features.mean(dim=1).abs().max() < 1e-4


def test_distilled_deit_reads_both_heads_exactly(timm_weights):
    path = timm_weights("deit_tiny_distilled_patch16_224", img_size=32)
    classifier = load_classifier("timm:deit_tiny_distilled_patch16_224", weights=path, img_size=32)
    assert classifier.info.feature_dim == 2 * 192
    assert "distilled" in classifier.info.extra["head"]
    assert_logits_match(classifier, images(2, 32))


@pytest.mark.slow
def test_resnet50_local_weights(timm_weights):
    classifier = load_classifier("timm:resnet50", weights=timm_weights("resnet50"))
    assert classifier.info.feature_dim == 2048
    assert_logits_match(classifier, images(2, 64))


def test_changed_num_classes_is_read_from_the_file(weights_dir):
    import timm

    from singaudit.io.state_dicts import save_state_dict

    path = weights_dir / "vit-7.safetensors"
    model = timm.create_model("vit_tiny_patch16_224", num_classes=7, img_size=32)
    save_state_dict(model.state_dict(), path)
    classifier = load_classifier("timm:vit_tiny_patch16_224", weights=path, img_size=32)
    assert classifier.info.num_classes == 7
    assert classifier.info.class_names == [f"class_{i}" for i in range(7)]
    assert_logits_match(classifier, images(1, 32))


def test_missing_hub_weights_offline_fail_fast():
    import timm  # noqa: F401 -- import time is not what is measured

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


@pytest.mark.slow
def test_bit_one_by_one_conv_head(weights_dir):
    import timm

    from singaudit.io.state_dicts import save_state_dict

    path = weights_dir / "bit-10.safetensors"
    save_state_dict(timm.create_model("resnetv2_50x1_bit", num_classes=10).state_dict(), path)
    classifier = load_classifier("timm:resnetv2_50x1_bit", weights=path)
    assert isinstance(classifier.heads[0], torch.nn.Conv2d)
    assert classifier.info.feature_dim == 2048 and classifier.info.num_classes == 10
    assert_logits_match(classifier, images(2, 64))
