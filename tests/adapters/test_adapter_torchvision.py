import time

import pytest
from adapter_helpers import assert_logits_match, images

from singaudit.adapters.sources import load_classifier
from singaudit.errors import UnsupportedModel, WeightsNotFound


def test_densenet121_local_weights_reproduce_logits(torchvision_weights):
    classifier = load_classifier(
        "torchvision:densenet121", weights=torchvision_weights("densenet121")
    )
    assert classifier.info.feature_dim == 1024
    assert classifier.info.extra["head_paths"] == ["classifier"]
    assert_logits_match(classifier, images(2, 64))


def test_weights_only_torch_checkpoint_is_accepted(torchvision_weights):
    path = torchvision_weights("mobilenet_v3_small", suffix=".pth", num_classes=10)
    classifier = load_classifier("torchvision:mobilenet_v3_small", weights=path)
    assert classifier.info.num_classes == 10  # read from the file
    assert_logits_match(classifier, images(2, 64))


@pytest.mark.slow
@pytest.mark.parametrize("name, feature_dim", [("resnet50", 2048), ("vgg16", 4096)])
def test_large_architectures(torchvision_weights, name, feature_dim):
    classifier = load_classifier(f"torchvision:{name}", weights=torchvision_weights(name))
    assert classifier.info.feature_dim == feature_dim
    assert_logits_match(classifier, images(2, 64))


def test_missing_enum_weights_fail_fast():
    import torchvision.models  # noqa: F401 -- import time is not what is measured

    start = time.perf_counter()
    with pytest.raises(WeightsNotFound, match="IMAGENET1K_V2"):
        load_classifier("torchvision:resnet50@IMAGENET1K_V2")
    assert time.perf_counter() - start < 1.5


def test_bad_names_are_refused():
    with pytest.raises(UnsupportedModel, match="no weights 'IMAGENET9K'"):
        load_classifier("torchvision:resnet50@IMAGENET9K")
    with pytest.raises(UnsupportedModel, match="no model"):
        load_classifier("torchvision:resnet5000")
    with pytest.raises(UnsupportedModel, match="needs weights"):
        load_classifier("torchvision:resnet18")


def test_squeezenet_relu_after_conv_head_is_refused(torchvision_weights):
    path = torchvision_weights("squeezenet1_1", num_classes=10)
    with pytest.raises(UnsupportedModel, match="ReLU"):
        load_classifier("torchvision:squeezenet1_1", weights=path)
