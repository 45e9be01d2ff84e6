"""UnCLIP (Karlo image variations) rendering images straight from joint-space image embeddings.

Names: ``unclip:kakaobrain/karlo-v1-alpha-image-variations`` (the hub; also ``unclip:`` or
``unclip:karlo``) or ``unclip:/path/to/folder`` holding the pipeline's component folders.

The denoising loop follows diffusers' ``UnCLIPImageVariationPipeline.__call__`` (empty-prompt
text conditioning, classifier-free guidance in the decoder, two super-resolution UNets), but is
driven here because that pipeline needs an image encoder and draws one noise tensor for the whole
batch; SING needs every (embedding, seed) render to see the same noise for its seed.
"""

from __future__ import annotations

import inspect
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from singaudit.adapters.generators.base import Generator, GeneratorInfo
from singaudit.errors import SpecError, WeightsNotFound

logger = logging.getLogger(__name__)

KARLO_IMAGE_VARIATIONS = "kakaobrain/karlo-v1-alpha-image-variations"
ALIASES = {"": KARLO_IMAGE_VARIATIONS, "karlo": KARLO_IMAGE_VARIATIONS}
# The image encoder and feature extractor of the hub pipeline are not needed: we start from embeddings.
COMPONENTS = (
    "decoder",
    "text_proj",
    "super_res_first",
    "super_res_last",
    "decoder_scheduler",
    "super_res_scheduler",
    "text_encoder",
    "tokenizer",
)


@dataclass(frozen=True)
class UnCLIPSettings:
    """Sampling settings; the defaults are the diffusers image-variation pipeline's."""

    decoder_steps: int = 25
    super_res_steps: int = 7
    guidance_scale: float = 8.0
    super_resolution: bool = True  # False: stop at the decoder's resolution (much faster on a CPU)
    batch_size: int | None = None  # renders per UNet call; None: 8 on CUDA, 2 on the CPU

    def __post_init__(self) -> None:
        for name in ("decoder_steps", "super_res_steps", "batch_size"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                raise SpecError(f"UnCLIP {name} must be an integer, not {value!r}")
        if isinstance(self.guidance_scale, bool) or not isinstance(
            self.guidance_scale, (int, float)
        ):
            raise SpecError(f"UnCLIP guidance_scale must be a number, not {self.guidance_scale!r}")
        # UnCLIPScheduler spaces its timesteps by (steps - 1): one step is undefined.
        if self.decoder_steps < 2 or self.super_res_steps < 2:
            raise SpecError("UnCLIP decoder_steps and super_res_steps must be at least 2")
        if self.batch_size is not None and self.batch_size < 1:
            raise SpecError("UnCLIP batch_size must be at least 1")
        if not math.isfinite(self.guidance_scale):
            raise SpecError("UnCLIP guidance_scale must be a finite number")


@dataclass
class UnCLIPComponents:
    decoder: Any  # diffusers UNet2DConditionModel
    text_proj: Any  # UnCLIPTextProjModel
    super_res_first: Any  # UNet2DModel
    super_res_last: Any  # UNet2DModel
    decoder_scheduler: Any  # UnCLIPScheduler
    super_res_scheduler: Any  # UnCLIPScheduler
    text_encoder: Any  # transformers CLIPTextModelWithProjection
    tokenizer: Any  # transformers CLIPTokenizer


def resolve_location(ident: str) -> str:
    """A local folder (as a string) or a hub repository id."""
    ident = ALIASES.get(ident.strip(), ident.strip())
    path = Path(ident).expanduser()
    if path.is_dir():
        missing = [name for name in COMPONENTS if not (path / name).is_dir()]
        if missing:
            raise WeightsNotFound(
                f"UnCLIP folder {str(path)!r} lacks the component folder(s) {', '.join(missing)}; "
                f"it needs {', '.join(COMPONENTS)} (as in the {KARLO_IMAGE_VARIATIONS} repository)"
            )
        return str(path)
    if path.is_absolute() or ident.startswith((".", "~")) or ident.count("/") != 1:
        raise WeightsNotFound(
            f"UnCLIP weights {ident!r}: no such folder, and not a hub id of the form 'org/name' "
            f"(e.g. 'unclip:{KARLO_IMAGE_VARIATIONS}')"
        )
    return ident


def load_components(
    location: str, *, dtype: torch.dtype = torch.float32, local_files_only: bool = False
) -> UnCLIPComponents:
    """Load each component with its own ``from_pretrained`` (a saved deprecated UnCLIP pipeline
    does not load as a whole); raises WeightsNotFound with one message when any is missing."""
    from diffusers import UnCLIPScheduler, UNet2DConditionModel, UNet2DModel
    from diffusers.pipelines.deprecated.unclip.text_proj import UnCLIPTextProjModel
    from transformers import CLIPTextModelWithProjection, CLIPTokenizer

    def fetch(cls: Any, subfolder: str, **options: Any) -> Any:
        try:
            return cls.from_pretrained(
                location, subfolder=subfolder, local_files_only=local_files_only, **options
            )
        except OSError as error:
            raise WeightsNotFound(
                f"cannot load UnCLIP component {subfolder!r} from {location!r} ({_first_line(error)}). "
                f"Fetch the weights once with network access (they are cached by huggingface_hub), "
                f"or point 'unclip:<folder>' at a local copy of {KARLO_IMAGE_VARIATIONS}"
            ) from None

    return UnCLIPComponents(
        decoder=fetch(UNet2DConditionModel, "decoder", torch_dtype=dtype),
        text_proj=fetch(UnCLIPTextProjModel, "text_proj", torch_dtype=dtype),
        super_res_first=fetch(UNet2DModel, "super_res_first", torch_dtype=dtype),
        super_res_last=fetch(UNet2DModel, "super_res_last", torch_dtype=dtype),
        decoder_scheduler=fetch(UnCLIPScheduler, "decoder_scheduler"),
        super_res_scheduler=fetch(UnCLIPScheduler, "super_res_scheduler"),
        text_encoder=fetch(CLIPTextModelWithProjection, "text_encoder", dtype=dtype),
        tokenizer=fetch(CLIPTokenizer, "tokenizer"),
    )


def _device(name: str | torch.device | None) -> torch.device:
    if name is None or name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        return torch.device(name)
    except (RuntimeError, TypeError):
        raise SpecError(
            f"UnCLIP device {name!r} is not a device (e.g. 'cpu', 'cuda', 'cuda:1', 'auto')"
        ) from None


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


class UnCLIPGenerator(Generator):
    """Karlo-style UnCLIP image variations from (n, embed_dim) image embeddings."""

    def __init__(
        self,
        components: UnCLIPComponents,
        *,
        id: str,
        settings: UnCLIPSettings | None = None,
        device: str | torch.device = "cpu",
        dtype: torch.dtype = torch.float32,
    ) -> None:
        self.components = components
        self.settings = settings or UnCLIPSettings()
        self.device = torch.device(device)
        self.dtype = dtype
        for name in ("decoder", "text_proj", "super_res_first", "super_res_last", "text_encoder"):
            module = getattr(components, name)
            # Casting only when needed: diffusers warns on a dtype cast after loading.
            if next(module.parameters()).dtype != dtype:
                module.to(dtype=dtype)
            module.to(device=self.device).eval()
        self.info = GeneratorInfo(
            id=id, embed_dim=int(components.text_proj.config.clip_embeddings_dim)
        )
        self._empty_prompt = self._encode_empty_prompt()

    @property
    def batch_size(self) -> int:
        if self.settings.batch_size is not None:
            return self.settings.batch_size
        return 8 if self.device.type == "cuda" else 2

    @property
    def output_size(self) -> int:
        """The native side length of the rendered images before any resize."""
        unet = (
            self.components.super_res_first
            if self.settings.super_resolution
            else self.components.decoder
        )
        return int(unet.config.sample_size)

    def check_embed_dim(self, embed_dim: int, joint_space_id: str = "the joint space") -> None:
        """Refuse a joint space whose image embeddings this decoder was not trained on."""
        if embed_dim != self.info.embed_dim:
            raise SpecError(
                f"generator {self.info.id!r} decodes {self.info.embed_dim}-d image embeddings but "
                f"{joint_space_id} gives {embed_dim}-d ones; use a joint space of its kind "
                f"(Karlo: CLIP ViT-L/14, 768-d) or retrieval evidence instead"
            )

    @torch.no_grad()
    def render(
        self, embeddings: torch.Tensor, seeds: Sequence[int], size: int
    ) -> list[list[Image.Image]]:
        pixels = self.render_tensors(embeddings, seeds)
        images = [[_to_pil(image) for image in per_embedding] for per_embedding in pixels]
        if size != self.output_size:
            images = [
                [image.resize((size, size), Image.Resampling.BICUBIC) for image in row]
                for row in images
            ]
        return images

    @torch.no_grad()
    def render_tensors(self, embeddings: torch.Tensor, seeds: Sequence[int]) -> torch.Tensor:
        """Pixels in [0, 1], float32 on the CPU, shaped (n_embeddings, n_seeds, 3, H, W)."""
        if embeddings.ndim != 2:
            raise ValueError(
                f"embeddings must be (n, {self.info.embed_dim}), got {tuple(embeddings.shape)}"
            )
        self.check_embed_dim(int(embeddings.shape[1]))
        seeds = [int(seed) for seed in seeds]
        if not seeds:
            raise ValueError("render needs at least one seed")
        if embeddings.shape[0] == 0:
            side = self.output_size
            return torch.empty(0, len(seeds), 3, side, side)
        pairs = [(i, seed) for i in range(embeddings.shape[0]) for seed in seeds]
        chunks = []
        for start in range(0, len(pairs), self.batch_size):
            chunk = pairs[start : start + self.batch_size]
            chunk_embeddings = embeddings[[i for i, _ in chunk]].to(self.device, self.dtype)
            chunks.append(
                self._render_chunk(chunk_embeddings, [seed for _, seed in chunk]).float().cpu()
            )
        out = torch.cat(chunks)
        return out.reshape(embeddings.shape[0], len(seeds), *out.shape[1:])

    def seed_generators(self, seeds: Sequence[int]) -> list[torch.Generator]:
        """One CPU generator per render: every render with one seed walks the same random
        sequence (decoder latents, decoder step noise, super-res latents, super-res step noise),
        whatever the batch it is in, so renders differ only by their embeddings."""
        return [torch.Generator("cpu").manual_seed(int(seed)) for seed in seeds]

    def initial_latents(
        self, generators: Sequence[torch.Generator], shape: Sequence[int], scheduler: Any
    ) -> torch.Tensor:
        """Latents drawn once per render (and so per seed), scaled by init_noise_sigma."""
        drawn = [torch.randn((1, *shape), generator=g, dtype=self.dtype) for g in generators]
        return torch.cat(drawn).to(self.device) * scheduler.init_noise_sigma

    def _encode_empty_prompt(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        # The image-variation pipeline conditions on the text encoder's output for "".
        tokenizer = self.components.tokenizer
        tokens = tokenizer(
            [""], padding="max_length", max_length=tokenizer.model_max_length, return_tensors="pt"
        )
        with torch.no_grad():
            output = self.components.text_encoder(tokens.input_ids.to(self.device))
        mask = tokens.attention_mask.bool().to(self.device)
        return output.text_embeds, output.last_hidden_state, mask

    def _render_chunk(self, image_embeddings: torch.Tensor, seeds: list[int]) -> torch.Tensor:
        parts = self.components
        settings = self.settings
        batch = image_embeddings.shape[0]
        guided = settings.guidance_scale > 1.0
        generators = self.seed_generators(seeds)

        prompt_embeds, text_hidden, text_mask = (
            tensor.repeat_interleave(batch, dim=0) for tensor in self._empty_prompt
        )
        if guided:  # the unconditional half is the same empty prompt
            prompt_embeds = torch.cat([prompt_embeds, prompt_embeds])
            text_hidden = torch.cat([text_hidden, text_hidden])
            text_mask = torch.cat([text_mask, text_mask])
        text_hidden, time_embeddings = parts.text_proj(
            image_embeddings=image_embeddings,
            prompt_embeds=prompt_embeds,
            text_encoder_hidden_states=text_hidden,
            do_classifier_free_guidance=guided,
        )
        decoder_mask = F.pad(text_mask, (parts.text_proj.clip_extra_context_tokens, 0), value=True)

        scheduler = parts.decoder_scheduler
        scheduler.set_timesteps(settings.decoder_steps, device=self.device)
        side = parts.decoder.config.sample_size
        latents = self.initial_latents(
            generators, (parts.decoder.config.in_channels, side, side), scheduler
        )
        timesteps = scheduler.timesteps
        for step, t in enumerate(timesteps):
            model_input = torch.cat([latents, latents]) if guided else latents
            noise_pred = parts.decoder(
                sample=model_input,
                timestep=t,
                encoder_hidden_states=text_hidden,
                class_labels=time_embeddings,
                attention_mask=decoder_mask,
            ).sample
            if guided:
                uncond, cond = noise_pred.chunk(2)
                uncond, _ = uncond.split(latents.shape[1], dim=1)
                cond, predicted_variance = cond.split(latents.shape[1], dim=1)
                noise_pred = torch.cat(
                    [uncond + settings.guidance_scale * (cond - uncond), predicted_variance], dim=1
                )
            prev_t = None if step + 1 == len(timesteps) else timesteps[step + 1]
            latents = _step_each(scheduler, noise_pred, t, latents, prev_t, generators)
        image_small = latents.clamp(-1, 1)
        if not settings.super_resolution:
            return (image_small * 0.5 + 0.5).clamp(0, 1)

        scheduler = parts.super_res_scheduler
        scheduler.set_timesteps(settings.super_res_steps, device=self.device)
        side = parts.super_res_first.config.sample_size
        channels = parts.super_res_first.config.in_channels // 2
        latents = self.initial_latents(generators, (channels, side, side), scheduler)
        # Antialiased bicubic lacks float16 kernels on some devices: upscale in float32.
        upscaled = F.interpolate(
            image_small.float(),
            size=[side, side],
            mode="bicubic",
            align_corners=False,
            **_ANTIALIAS,
        ).to(image_small.dtype)
        timesteps = scheduler.timesteps
        for step, t in enumerate(timesteps):
            unet = parts.super_res_last if step == len(timesteps) - 1 else parts.super_res_first
            noise_pred = unet(sample=torch.cat([latents, upscaled], dim=1), timestep=t).sample
            prev_t = None if step + 1 == len(timesteps) else timesteps[step + 1]
            latents = _step_each(scheduler, noise_pred, t, latents, prev_t, generators)
        return (latents * 0.5 + 0.5).clamp(0, 1)


_ANTIALIAS = (
    {"antialias": True} if "antialias" in inspect.signature(F.interpolate).parameters else {}
)


def _step_each(
    scheduler: Any,
    noise_pred: torch.Tensor,
    t: Any,
    latents: torch.Tensor,
    prev_t: Any,
    generators: Sequence[torch.Generator],
) -> torch.Tensor:
    # One scheduler step per render, each with its own generator, so step noise is per seed too.
    return torch.cat(
        [
            scheduler.step(
                noise_pred[i : i + 1], t, latents[i : i + 1], prev_timestep=prev_t, generator=g
            ).prev_sample
            for i, g in enumerate(generators)
        ]
    )


def _to_pil(pixels: torch.Tensor) -> Image.Image:
    array = (pixels.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    return Image.fromarray(array)


def load(
    ident: str,
    *,
    device: str | torch.device | None = None,
    decoder_steps: int = 25,
    super_res_steps: int = 7,
    guidance_scale: float = 8.0,
    super_resolution: bool = True,
    batch_size: int | None = None,
    local_files_only: bool = False,
) -> UnCLIPGenerator:
    """``unclip:<hub id or folder>``: float16 on CUDA, float32 on the CPU.

    ``local_files_only`` never reaches the hub (as HF_HUB_OFFLINE=1 does): only cached weights."""
    settings = UnCLIPSettings(
        decoder_steps, super_res_steps, guidance_scale, super_resolution, batch_size
    )
    location = resolve_location(ident)
    device = _device(device)
    dtype = torch.float16 if device.type == "cuda" else torch.float32
    if device.type != "cuda":
        logger.warning(
            "UnCLIP runs on the CPU: with Karlo weights expect minutes per image; cap the evidence "
            "images, lower the steps, set super_resolution false, or use a GPU"
        )
    return UnCLIPGenerator(
        load_components(location, dtype=dtype, local_files_only=local_files_only),
        id=f"unclip:{location}",
        settings=settings,
        device=device,
        dtype=dtype,
    )
