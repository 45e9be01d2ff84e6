import time

import pytest
import torch
from adapter_helpers import assert_logits_match, images

from singaudit.adapters.sources import load_classifier
from singaudit.errors import WeightsNotFound


@pytest.fixture(scope="module")
def hf_folders(weights_dir):
    from transformers import (
        Dinov2Config,
        Dinov2ForImageClassification,
        ViTConfig,
        ViTForImageClassification,
        ViTImageProcessor,
    )

    torch.manual_seed(0)
    small = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2}
    vit = ViTForImageClassification(
        ViTConfig(
            image_size=32,
            patch_size=8,
            intermediate_size=64,
            num_labels=5,
            id2label={i: f"label{i}" for i in range(5)},
            label2id={f"label{i}": i for i in range(5)},
            **small,
        )
    )
    vit.save_pretrained(weights_dir / "hf-vit")
    ViTImageProcessor(size={"height": 32, "width": 32}).save_pretrained(weights_dir / "hf-vit")
    dino = Dinov2ForImageClassification(
        Dinov2Config(image_size=32, patch_size=8, mlp_ratio=2, num_labels=7, **small)
    )
    dino.save_pretrained(weights_dir / "hf-dinov2")
    return weights_dir / "hf-vit", weights_dir / "hf-dinov2"


def test_vit_folder_reproduces_logits(hf_folders):
    classifier = load_classifier(f"hf:{hf_folders[0]}")
    assert classifier.info.class_names == [f"label{i}" for i in range(5)]
    assert classifier.info.feature_dim == 32
    from PIL import Image

    pixels = classifier.preprocessing.transform(Image.new("RGB", (50, 40), (10, 200, 30)))
    assert pixels.shape == (3, 32, 32)
    assert_logits_match(classifier, images(2, 32))


def test_dinov2_head_reads_class_and_mean_patch_tokens(hf_folders):
    classifier = load_classifier(f"hf:{hf_folders[1]}")
    assert classifier.info.feature_dim == 64  # [class token; mean patch token]
    assert_logits_match(classifier, images(2, 32))


def test_missing_hub_model_offline_fails_fast(tmp_path):
    import transformers  # noqa: F401 -- import time is not what is measured

    start = time.perf_counter()
    with pytest.raises(WeightsNotFound, match="dinov2-large-imagenet1k-1-layer"):
        load_classifier("hf:facebook/dinov2-large-imagenet1k-1-layer")
    assert time.perf_counter() - start < 1.0
    with pytest.raises(WeightsNotFound, match="no such model folder"):
        load_classifier(f"hf:{tmp_path / 'absent'}")


def test_deit_with_teacher_averages_two_heads_exactly(weights_dir):
    from transformers import DeiTConfig, DeiTForImageClassificationWithTeacher

    torch.manual_seed(0)
    config = DeiTConfig(
        image_size=32,
        patch_size=8,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        num_labels=4,
    )
    DeiTForImageClassificationWithTeacher(config).save_pretrained(weights_dir / "hf-deit")
    classifier = load_classifier(f"hf:{weights_dir / 'hf-deit'}")
    assert classifier.info.extra["head_paths"] == ["cls_classifier", "distillation_classifier"]
    assert classifier.info.feature_dim == 64
    assert_logits_match(classifier, images(2, 32))
