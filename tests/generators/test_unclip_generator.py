"""The UnCLIP generator on tiny random components loaded like downloaded weights."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from singaudit.adapters.generators.unclip_source import UnCLIPGenerator
from singaudit.adapters.sources import load_generator
from singaudit.errors import SingauditError, SpecError, WeightsNotFound
from singaudit.maths.scores import rescale_to_reference

TINY_EMBED_DIM = 768  # the tiny decoder is built for Karlo-sized embeddings (conftest)


def embeddings(n: int, seed: int = 0, dim: int = TINY_EMBED_DIM) -> torch.Tensor:
    return torch.randn(n, dim, generator=torch.Generator().manual_seed(seed))


def assert_equal_up_to_round_off(first: torch.Tensor, second: torch.Tensor) -> None:
    # Batch-size-dependent kernels round differently; the sampler may amplify that at a few pixels.
    difference = (first - second).abs()
    assert difference.max() < 1e-2
    assert (difference > 1e-5).float().mean() < 1e-3


def test_loads_as_a_registered_source_with_the_decoder_embedding_size(
    tiny_unclip: UnCLIPGenerator,
) -> None:
    assert isinstance(tiny_unclip, UnCLIPGenerator)
    assert tiny_unclip.info.embed_dim == TINY_EMBED_DIM
    assert tiny_unclip.info.id.startswith("unclip:")
    assert tiny_unclip.dtype == torch.float32


def test_same_embedding_and_seed_give_identical_images(tiny_unclip: UnCLIPGenerator) -> None:
    embedding = embeddings(1)
    first = tiny_unclip.render(embedding, seeds=[7], size=64)[0][0]
    second = tiny_unclip.render(embedding.clone(), seeds=[7], size=64)[0][0]
    assert first.size == (64, 64)
    assert np.array_equal(np.asarray(first), np.asarray(second))


def test_different_embeddings_with_one_seed_give_different_images(
    tiny_unclip_decoder_only: UnCLIPGenerator,
) -> None:
    pixels = tiny_unclip_decoder_only.render_tensors(embeddings(2), seeds=[7])
    assert (pixels[0, 0] - pixels[1, 0]).abs().max() > 1e-3


def test_no_embeddings_render_no_images(tiny_unclip_decoder_only: UnCLIPGenerator) -> None:
    assert tiny_unclip_decoder_only.render_tensors(embeddings(0), seeds=[0, 1]).shape == (
        0,
        2,
        3,
        32,
        32,
    )


def test_different_seeds_give_different_images(tiny_unclip_decoder_only: UnCLIPGenerator) -> None:
    pixels = tiny_unclip_decoder_only.render_tensors(embeddings(1), seeds=[1, 2])
    assert (pixels[0, 0] - pixels[0, 1]).abs().max() > 1e-3


def test_noise_is_shared_by_every_render_of_a_seed(tiny_unclip: UnCLIPGenerator) -> None:
    # One embedding twice in one batch: any per-render noise would make the two differ.
    embedding = embeddings(1)
    pixels = tiny_unclip.render_tensors(torch.cat([embedding, embedding]), seeds=[3, 4])
    assert torch.equal(pixels[0], pixels[1])
    assert (pixels[0, 0] - pixels[0, 1]).abs().max() > 1e-3


def test_a_batch_renders_as_each_embedding_alone(tiny_unclip_decoder_only: UnCLIPGenerator) -> None:
    pair = embeddings(2, seed=5)
    together = tiny_unclip_decoder_only.render_tensors(
        pair, seeds=[11, 12]
    )  # 4 renders, chunks of 4
    for i in range(2):
        for j, seed in enumerate([11, 12]):
            alone = tiny_unclip_decoder_only.render_tensors(pair[i : i + 1], seeds=[seed])[0, 0]
            assert_equal_up_to_round_off(together[i, j], alone)


def test_initial_latents_are_drawn_once_per_seed_and_scaled(tiny_unclip: UnCLIPGenerator) -> None:
    scheduler = tiny_unclip.components.decoder_scheduler
    latents = tiny_unclip.initial_latents(
        tiny_unclip.seed_generators([9, 9, 10]), (3, 32, 32), scheduler
    )
    expected = (
        torch.randn((1, 3, 32, 32), generator=torch.Generator().manual_seed(9))
        * scheduler.init_noise_sigma
    )
    assert torch.equal(latents[0], expected[0]) and torch.equal(latents[1], expected[0])
    assert not torch.equal(latents[0], latents[2])


def test_matches_the_diffusers_image_variation_pipeline(tiny_unclip: UnCLIPGenerator) -> None:
    from diffusers.pipelines.deprecated.unclip import UnCLIPImageVariationPipeline
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

    parts = tiny_unclip.components
    # The reference pipeline insists on an image encoder even when given embeddings; it is unused.
    image_encoder = CLIPVisionModelWithProjection(
        CLIPVisionConfig(
            hidden_size=8,
            intermediate_size=8,
            num_hidden_layers=1,
            num_attention_heads=1,
            image_size=8,
            patch_size=4,
            projection_dim=TINY_EMBED_DIM,
        )
    )
    pipeline = UnCLIPImageVariationPipeline(
        decoder=parts.decoder,
        text_encoder=parts.text_encoder,
        tokenizer=parts.tokenizer,
        text_proj=parts.text_proj,
        feature_extractor=None,
        image_encoder=image_encoder,
        super_res_first=parts.super_res_first,
        super_res_last=parts.super_res_last,
        decoder_scheduler=parts.decoder_scheduler,
        super_res_scheduler=parts.super_res_scheduler,
    )
    pipeline.set_progress_bar_config(disable=True)
    embedding = embeddings(1, seed=2)
    settings = tiny_unclip.settings
    reference = pipeline(
        image_embeddings=embedding,
        decoder_num_inference_steps=settings.decoder_steps,
        super_res_num_inference_steps=settings.super_res_steps,
        decoder_guidance_scale=settings.guidance_scale,
        generator=torch.Generator().manual_seed(21),
        output_type="np",
    ).images[0]
    ours = tiny_unclip.render_tensors(embedding, seeds=[21])[0, 0].permute(1, 2, 0).numpy()
    np.testing.assert_allclose(ours, reference, atol=1e-5)


def test_norm_matters_to_the_decoder_and_the_rescale_restores_it(
    tiny_unclip_decoder_only: UnCLIPGenerator,
) -> None:
    reference = embeddings(1, seed=3)
    longer = 3.0 * reference
    pixels = tiny_unclip_decoder_only.render_tensors(
        torch.cat([reference, longer, rescale_to_reference(longer, reference)]), [4]
    )
    assert (pixels[0, 0] - pixels[1, 0]).abs().max() > 1e-3
    assert_equal_up_to_round_off(pixels[2, 0], pixels[0, 0])


def test_resizes_to_the_requested_size_and_can_stop_before_super_resolution(
    tiny_unclip_folder: Path,
) -> None:
    generator = load_generator(
        f"unclip:{tiny_unclip_folder}", device="cpu", decoder_steps=2, super_resolution=False
    )
    assert generator.output_size == 32
    images = generator.render(embeddings(2), seeds=[0, 1, 2], size=48)
    assert [len(row) for row in images] == [3, 3]
    assert {image.size for row in images for image in row} == {(48, 48)}


def test_refuses_a_512_d_joint_space_for_a_768_d_decoder(tiny_unclip: UnCLIPGenerator) -> None:
    with pytest.raises(SpecError, match="768-d image embeddings but .* 512-d"):
        tiny_unclip.render(embeddings(1, dim=512), seeds=[0], size=64)
    with pytest.raises(SpecError, match="open_clip:ViT-B-32"):
        tiny_unclip.check_embed_dim(512, "open_clip:ViT-B-32")
    tiny_unclip.check_embed_dim(768)


def test_hub_weights_missing_offline_is_one_clear_error() -> None:
    with pytest.raises(
        WeightsNotFound, match="kakaobrain/karlo-v1-alpha-image-variations"
    ) as caught:
        load_generator("unclip:karlo", device="cpu", local_files_only=True)
    assert "decoder" in str(caught.value) and "\n" not in str(caught.value)


def test_a_folder_without_some_components_names_them(
    tiny_unclip_folder: Path, tmp_path: Path
) -> None:
    partial = tmp_path / "partial"
    shutil.copytree(tiny_unclip_folder, partial)
    shutil.rmtree(partial / "super_res_last")
    with pytest.raises(WeightsNotFound, match="super_res_last"):
        load_generator(f"unclip:{partial}", device="cpu")


@pytest.mark.parametrize("ident", ["./no/such/folder", "not-a-hub-id", "/abs/missing"])
def test_an_unknown_location_is_a_singaudit_error(ident: str) -> None:
    with pytest.raises(SingauditError, match="no such folder"):
        load_generator(f"unclip:{ident}", device="cpu")


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ({"decoder_steps": 1}, "at least 2"),
        ({"super_res_steps": "fast"}, "integer"),
        ({"guidance_scale": float("nan")}, "finite"),
        ({"batch_size": 0}, "at least 1"),
        ({"device": "gpu0"}, "not a device"),
    ],
)
def test_bad_options_are_one_clear_error(
    tiny_unclip_folder: Path, option: dict, message: str
) -> None:
    with pytest.raises(SpecError, match=message):
        load_generator(f"unclip:{tiny_unclip_folder}", **option)


def test_float16_renders_finite_images(tiny_unclip_folder: Path) -> None:
    # CUDA renders in float16; the CPU runs the same dtype path here (slowly, so one small render).
    from singaudit.adapters.generators.unclip_source import UnCLIPSettings, load_components

    components = load_components(str(tiny_unclip_folder), dtype=torch.float16)
    generator = UnCLIPGenerator(
        components,
        id="tiny",
        settings=UnCLIPSettings(decoder_steps=2, super_res_steps=2),
        dtype=torch.float16,
    )
    pixels = generator.render_tensors(embeddings(1), seeds=[0])
    assert pixels.shape == (1, 1, 3, 64, 64) and pixels.dtype == torch.float32
    assert torch.isfinite(pixels).all() and pixels.std() > 0
