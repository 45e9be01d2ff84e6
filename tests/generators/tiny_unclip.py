"""Tiny random UnCLIP components built in code and saved like hub weights (test helper)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch

TINY_EMBED_DIM = 768  # Karlo's CLIP ViT-L/14 image-embedding size


@contextmanager
def one_torch_thread() -> Iterator[None]:
    # Tiny models on a shared 2-core machine: a second thread mostly spin-waits (20x slower).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def build_tiny_unclip(folder: Path, embed_dim: int = TINY_EMBED_DIM) -> Path:
    """Save a ~0.8 M-parameter UnCLIP (32x32 decoder, 64x64 super-res) in the hub layout."""
    from diffusers import UnCLIPScheduler, UNet2DConditionModel, UNet2DModel
    from diffusers.pipelines.deprecated.unclip.text_proj import UnCLIPTextProjModel
    from transformers import CLIPTextConfig, CLIPTextModelWithProjection, CLIPTokenizer

    torch.manual_seed(0)
    cross_attention_dim, time_embed_dim = 32, 64  # time_embed_dim = 4 * the first block's width
    decoder = UNet2DConditionModel(
        sample_size=32,
        in_channels=3,
        out_channels=6,  # epsilon and a learned variance range
        layers_per_block=1,
        block_out_channels=(16, 32),
        down_block_types=("ResnetDownsampleBlock2D", "SimpleCrossAttnDownBlock2D"),
        up_block_types=("SimpleCrossAttnUpBlock2D", "ResnetUpsampleBlock2D"),
        mid_block_type="UNetMidBlock2DSimpleCrossAttn",
        cross_attention_dim=cross_attention_dim,
        attention_head_dim=8,
        resnet_time_scale_shift="scale_shift",
        class_embed_type="identity",
        norm_num_groups=8,
    )
    text_proj = UnCLIPTextProjModel(
        clip_extra_context_tokens=2,
        clip_embeddings_dim=embed_dim,
        time_embed_dim=time_embed_dim,
        cross_attention_dim=cross_attention_dim,
    )

    def super_res() -> UNet2DModel:
        return UNet2DModel(
            sample_size=64,
            in_channels=6,
            out_channels=3,
            layers_per_block=1,
            block_out_channels=(16, 32),
            down_block_types=("ResnetDownsampleBlock2D", "ResnetDownsampleBlock2D"),
            up_block_types=("ResnetUpsampleBlock2D", "ResnetUpsampleBlock2D"),
            resnet_time_scale_shift="scale_shift",
            norm_num_groups=8,
        )

    text_encoder = CLIPTextModelWithProjection(
        CLIPTextConfig(
            vocab_size=16,
            hidden_size=embed_dim,  # text_proj maps text hidden states from the embedding size
            intermediate_size=37,
            num_hidden_layers=1,
            num_attention_heads=2,
            projection_dim=embed_dim,
            max_position_embeddings=8,
            bos_token_id=0,
            eos_token_id=1,
            pad_token_id=1,
        )
    )
    vocab_folder = folder / "_vocab"
    vocab_folder.mkdir(parents=True)
    (vocab_folder / "vocab.json").write_text(
        json.dumps({"<|startoftext|>": 0, "<|endoftext|>": 1, "a</w>": 2})
    )
    (vocab_folder / "merges.txt").write_text("#version: 0.2\n")
    tokenizer = CLIPTokenizer(
        vocab_file=str(vocab_folder / "vocab.json"),
        merges_file=str(vocab_folder / "merges.txt"),
        model_max_length=8,
    )
    components = {
        "decoder": decoder,
        "text_proj": text_proj,
        "super_res_first": super_res(),
        "super_res_last": super_res(),
        "text_encoder": text_encoder,
        "tokenizer": tokenizer,
        "decoder_scheduler": UnCLIPScheduler(
            variance_type="learned_range",
            prediction_type="epsilon",
            clip_sample=True,
            clip_sample_range=1.0,
        ),
        "super_res_scheduler": UnCLIPScheduler(
            variance_type="fixed_small_log", prediction_type="epsilon"
        ),
    }
    for name, component in components.items():
        save = getattr(component, "save_pretrained", None) or component.save_config
        save(str(folder / name))
    return folder
