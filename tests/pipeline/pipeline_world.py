"""Small real models and images for the pipeline tests (also imported by subprocesses)."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import torch
from PIL import Image
from torch import nn

from singaudit.adapters.classifiers.base import Preprocessing
from singaudit.adapters.joint_spaces.base import JointSpace, JointSpaceInfo
from singaudit.adapters.sources import load_classifier
from singaudit.io.state_dicts import state_dict_hash


class ResizeToTensor:
    """32x32, scaled to [-1, 1] (written here so subprocesses need not import torchvision)."""

    def __call__(self, image: Image.Image) -> torch.Tensor:
        pixels = torch.frombuffer(
            bytearray(image.convert("RGB").resize((32, 32)).tobytes()), dtype=torch.uint8
        )
        return pixels.reshape(32, 32, 3).permute(2, 0, 1).float() / 127.5 - 1.0


PREPROCESSING = Preprocessing(ResizeToTensor(), "resize=32,scale=[-1,1]")


def tiny_classifier(seed: int = 0):
    torch.manual_seed(seed)
    module = nn.Sequential(
        nn.Conv2d(3, 8, 3, 2),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(8, 12),
        nn.ReLU(),
        nn.Linear(12, 3),
    )
    return load_classifier(
        f"hook:tiny-{seed}", module=module, head="6", preprocessing=PREPROCESSING
    )


class TinySpace(JointSpace):
    """A small real vision-language pair: a conv image tower, a bag-of-characters text tower."""

    def __init__(self, seed: int = 0) -> None:
        torch.manual_seed(seed)
        self.module = nn.ModuleDict(
            {
                "image": nn.Sequential(
                    nn.Conv2d(3, 6, 3, 2),
                    nn.ReLU(),
                    nn.AdaptiveAvgPool2d(1),
                    nn.Flatten(),
                    nn.Linear(6, 5),
                ),
                "text": nn.EmbeddingBag(128, 5),
            }
        )
        self.preprocessing = PREPROCESSING
        self.info = JointSpaceInfo(
            id=f"tiny-space-{seed}", embed_dim=5, weights_hash=state_dict_hash(self.module)
        )
        self.text_calls = 0

    def encode_images(self, images: torch.Tensor) -> torch.Tensor:
        return self.module["image"](images)

    def encode_text(self, prompts: Sequence[str]) -> torch.Tensor:
        self.text_calls += 1
        codes = [torch.tensor([ord(c) % 128 for c in p] or [0]) for p in prompts]
        offsets = torch.tensor([0] + [len(c) for c in codes[:-1]]).cumsum(0)
        return self.module["text"](torch.cat(codes), offsets)


def write_images(folder: Path, per_class: int = 5, classes: Sequence[str] = ("a", "b")) -> Path:
    for c, name in enumerate(classes):
        (folder / name).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            colour = (30 * i + 10, 90 * c + 20, (17 * i * (c + 1)) % 255)
            image = Image.new("RGB", (40, 36), colour)
            image.putpixel((i, c), (255, 255, 255))
            image.save(folder / name / f"{i}.png")
    return folder


if __name__ == "__main__":  # used by the concurrency test: extract into a shared cache
    from singaudit.adapters.sources import load_data
    from singaudit.pipeline.features import extract

    folder, cache_dir, out = sys.argv[1:4]
    result = extract(
        tiny_classifier(),
        load_data(f"folder:{folder}"),
        cache=cache_dir,
        batch_size=2,
        chunk_size=2,
        progress=False,
    )
    torch.save(result.values, out)
