from singaudit.adapters.classifiers.catalogue import PAPER_MODELS, get_preset, list_presets
from singaudit.adapters.sources import CLASSIFIER_SOURCES, split_name


def test_paper_models_and_extras_are_listed():
    assert len(PAPER_MODELS) == 13
    names = {p.name for p in list_presets()}
    assert {
        "efficientnet_lite0",
        "calibration_clean",
        "calibration_leaky",
        "calibration_natural",
    } <= names
    for preset in list_presets():
        source, _ = split_name(preset.id)
        assert source in CLASSIFIER_SOURCES
        assert preset.null_dim == preset.feature_dim - min(preset.feature_dim, preset.num_classes)


def test_known_dimensions():
    assert get_preset("efficientnet_lite0").null_dim == 280
    assert get_preset("timm:tf_efficientnet_lite0").offline
    assert get_preset("densenet121").null_dim == 24
    assert get_preset("resnet50").top1 == 76.1
    assert get_preset("calibration:leaky").null_dim == 64


def test_patterns():
    assert [p.name for p in list_presets("vgg*")] == ["vgg16", "vgg19"]
    assert {p.name for p in list_presets("calibration")} == {
        "calibration_clean",
        "calibration_leaky",
        "calibration_natural",
    }
    assert [p.title for p in list_presets("timm:eva02*")] == ["EVA-02-L"]
    assert list_presets("no-such-model") == []
