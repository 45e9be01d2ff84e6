import pytest
import torch

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


def test_patterns():
    assert [p.name for p in list_presets("vgg*")] == ["vgg16", "vgg19"]
    from singaudit.calibration import zoo

    assert {p.name for p in list_presets("calibration")} == {
        f"calibration_{variant}" for variant in zoo.CLASSIFIER_VARIANTS
    }
    assert [p.title for p in list_presets("timm:eva02*")] == ["EVA-02-L"]
    assert list_presets("no-such-model") == []


@pytest.mark.parametrize(
    "preset",
    [p for p in list_presets() if p.id.split(":")[0] in ("timm", "torchvision", "hf")],
    ids=lambda p: p.name,
)
def test_preset_dimensions_match_the_architectures(preset):
    # Built on the meta device: real shapes, no memory, no weights.
    import timm
    import torchvision
    from transformers import Dinov2Config, Dinov2ForImageClassification

    from singaudit.adapters.classifiers._heads import final_linear

    source, ident = split_name(preset.id)
    with torch.device("meta"):
        if source == "timm":
            model = timm.create_model(ident.split(".")[0], pretrained=False)
            heads = model.get_classifier()
            heads = heads if isinstance(heads, tuple) else (heads,)
        elif source == "torchvision":
            from singaudit.adapters.classifiers.torchvision_source import _head_path

            model = torchvision.models.get_model(ident.split("@")[0], weights=None)
            path = _head_path(model)
            heads = (final_linear(model.get_submodule(path), path),)
        else:
            assert ident == "facebook/dinov2-large-imagenet1k-1-layer"
            config = Dinov2Config(
                hidden_size=1024, num_hidden_layers=24, num_attention_heads=16, num_labels=1000
            )
            heads = (Dinov2ForImageClassification(config).classifier,)
    weight_shape = heads[0].weight.shape
    assert (weight_shape[0], weight_shape[1] * len(heads)) == (
        preset.num_classes,
        preset.feature_dim,
    )


def test_calibration_presets_follow_the_calibration_models():
    from singaudit.calibration import models

    natural = models.NaturalNet().head
    preset = get_preset("calibration:natural")
    assert (preset.feature_dim, preset.num_classes) == (natural.in_features, natural.out_features)
    assert get_preset("calibration:clean").null_dim == models.NUISANCE_DIM
    assert get_preset("calibration:leaky").null_dim == models.SHAPE_HIDDEN
    assert get_preset("calibration:mixed").null_dim == models.SHAPE_HIDDEN + models.NUISANCE_DIM
    assert get_preset("calibration:clean_uncentred").null_dim == 2 * models.NUISANCE_DIM
    assert get_preset("calibration:lite0_natural").null_dim == 1280 - 6


def test_calibration_presets_match_built_networks_without_importing_torch(tmp_path):
    """Sizes come from the shipped weights' headers: listing models must not import torch."""
    import subprocess
    import sys

    from singaudit.calibration import zoo

    for kind in zoo.CLASSIFIER_VARIANTS:
        preset = get_preset(f"calibration:{kind}")
        built = zoo.build_classifier(kind).head.weight.shape
        assert (preset.num_classes, preset.feature_dim) == tuple(built), kind
    probe = ("import sys; from singaudit.adapters.classifiers.catalogue import all_presets; "
             "all_presets(); print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
