import json
import time

import pytest
import torch
from PIL import Image

from singaudit.adapters.sources import load_joint_space
from singaudit.errors import UnsupportedModel, WeightsNotFound

TINY_CLIP = {
    "embed_dim": 32,
    "vision_cfg": {"image_size": 64, "layers": 2, "width": 64, "head_width": 32, "patch_size": 16},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 64, "heads": 2, "layers": 2},
}


def open_clip_checkpoint(weights_dir, name):
    import open_clip

    from singaudit.io.state_dicts import save_state_dict

    if name == "singaudit-tiny-clip" and name not in open_clip.list_models():
        config = weights_dir / f"{name}.json"
        config.write_text(json.dumps(TINY_CLIP))
        open_clip.add_model_config(config)
    torch.manual_seed(0)
    model = open_clip.create_model(name, pretrained=None)
    path = weights_dir / f"open_clip-{name}.safetensors"
    save_state_dict(model.state_dict(), path)
    return model.eval(), path


@pytest.mark.parametrize(
    "name, size, dim",
    [("singaudit-tiny-clip", 64, 32), pytest.param("ViT-B-32", 224, 512, marks=pytest.mark.slow)],
)
def test_open_clip_local_checkpoint(weights_dir, name, size, dim):
    reference, path = open_clip_checkpoint(weights_dir, name)
    space = load_joint_space(f"open_clip:{name}", pretrained=path)
    assert space.info.embed_dim == dim
    assert space.info.default_generator is None
    pixels = space.preprocessing.transform(Image.new("RGB", (300, 200), (90, 20, 200)))
    assert pixels.shape == (3, size, size)
    batch = torch.stack([pixels, pixels.flip(-1)])
    with torch.inference_mode():
        got = space.encode_images(batch)
        expected = reference.encode_image(batch)
        text = space.encode_text(["an image of a cat", "an image of a jellyfish"])
    assert torch.allclose(got, expected, atol=1e-5)
    assert not torch.allclose(got.norm(dim=-1), torch.ones(2))  # unnormalised
    assert text.shape == (2, dim) and not torch.allclose(text[0], text[1])


def test_open_clip_offline_tags_fail_fast():
    import open_clip  # noqa: F401 -- import time is not what is measured

    start = time.perf_counter()
    with pytest.raises(WeightsNotFound, match="ViT-L-14@openai.*pretrained=PATH"):
        load_joint_space("open_clip:ViT-L-14@openai")
    assert time.perf_counter() - start < 1.0
    with pytest.raises(WeightsNotFound, match="EVA02-L-14@merged2b_s4b_b131k"):
        load_joint_space("open_clip:EVA02-L-14@merged2b_s4b_b131k")  # EVA02-CLIP
    with pytest.raises(WeightsNotFound, match="no pretrained weights 'nope'"):
        load_joint_space("open_clip:ViT-L-14@nope")
    with pytest.raises(UnsupportedModel, match="no model"):
        load_joint_space("open_clip:ViT-Q-99@openai")


@pytest.fixture(scope="module")
def hf_clip_folders(weights_dir, clip_tokenizer_files):
    from transformers import (
        CLIPConfig,
        CLIPImageProcessor,
        CLIPModel,
        CLIPTextModelWithProjection,
        CLIPTokenizer,
        CLIPVisionModelWithProjection,
    )

    vocab, merges, vocab_size = clip_tokenizer_files
    tokenizer = CLIPTokenizer(str(vocab), str(merges))
    processor = CLIPImageProcessor(
        size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}
    )
    layers = {
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
    }
    config = CLIPConfig(
        text_config=dict(vocab_size=vocab_size, max_position_embeddings=77, **layers),
        vision_config=dict(image_size=32, patch_size=8, **layers),
        projection_dim=24,
    )
    config.vision_config.projection_dim = config.text_config.projection_dim = 24
    torch.manual_seed(0)
    model = CLIPModel(config).eval()
    whole = weights_dir / "hf-clip"
    for part in (model, tokenizer, processor):
        part.save_pretrained(whole)
    vision = CLIPVisionModelWithProjection(config.vision_config)
    vision.visual_projection.load_state_dict(model.visual_projection.state_dict())
    vision.vision_model.load_state_dict(model.vision_model.state_dict())
    text = CLIPTextModelWithProjection(config.text_config)
    text.text_model.load_state_dict(model.text_model.state_dict())
    text.text_projection.load_state_dict(model.text_projection.state_dict())
    for part, folder in (
        (vision, "hf-clip-vision"),
        (processor, "hf-clip-vision"),
        (text, "hf-clip-text"),
        (tokenizer, "hf-clip-text"),
    ):
        part.save_pretrained(weights_dir / folder)
    return model, whole, weights_dir / "hf-clip-vision", weights_dir / "hf-clip-text"


def test_hf_clip_model_and_split_towers_agree(hf_clip_folders):
    model, whole, vision, text = hf_clip_folders
    joint = load_joint_space(f"hf_clip:{whole}")
    split = load_joint_space(f"hf_clip:{vision}", text_model=str(text))
    assert joint.info.embed_dim == split.info.embed_dim == 24
    pixels = joint.preprocessing.transform(Image.new("RGB", (40, 50), (200, 10, 10)))
    batch = torch.stack([pixels, pixels * 0.5])
    prompts = ["an image of a goldfish", "an image of a jeep"]
    with torch.inference_mode():
        expected = model.visual_projection(model.vision_model(pixel_values=batch).pooler_output)
        images_a, images_b = joint.encode_images(batch), split.encode_images(batch)
        text_a, text_b = joint.encode_text(prompts), split.encode_text(prompts)
    assert torch.allclose(images_a, expected, atol=1e-5)
    assert torch.allclose(images_a, images_b, atol=1e-5)
    assert torch.allclose(text_a, text_b, atol=1e-5)
    assert not torch.allclose(text_a[0], text_a[1])


def test_hf_clip_vision_only_needs_a_text_model(hf_clip_folders):
    with pytest.raises(UnsupportedModel, match="text_model"):
        load_joint_space(f"hf_clip:{hf_clip_folders[2]}")


def test_hf_clip_missing_offline_fails_fast():
    import transformers  # noqa: F401 -- import time is not what is measured

    start = time.perf_counter()
    with pytest.raises(WeightsNotFound, match="openai/clip-vit-large-patch14"):
        load_joint_space("hf_clip:openai/clip-vit-large-patch14")
    assert time.perf_counter() - start < 1.0
