"""A tiny real world for runner and CLI tests, registered as ``runnerworld:`` sources.

Images: 8x8 RGB squares whose colour channel encodes the class, plus seeded noise. Classifier: a
seeded random linear feature map (192 -> 24) and a 4-class head, so null_dim is 20. Joint space: a
seeded random linear image tower (192 -> 16) and a bag-of-words text tower. Untrained but real:
every number the runner reports is computed by the same code as for real models.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np
import torch
from PIL import Image

from singaudit.adapters.classifiers.base import Classifier, ClassifierInfo, Preprocessing
from singaudit.adapters.data.base import ImageRecord, ImageSource
from singaudit.adapters.joint_spaces.base import JointSpace, JointSpaceInfo
from singaudit.adapters.sources import CLASSIFIER_SOURCES, DATA_SOURCES, JOINT_SPACE_SOURCES
from singaudit.errors import DataError

CLASSES = ["red", "green", "blue", "grey"]
PIXELS = 8 * 8 * 3
# Counts forward passes, so tests can prove a warm run computes nothing.
CALLS = {"features": 0, "embeddings": 0, "text": 0}


def _to_tensor(image: Image.Image) -> torch.Tensor:
    return torch.from_numpy(np.asarray(image, dtype=np.float32) / 255.0).permute(2, 0, 1)


PREPROCESSING = Preprocessing(transform=_to_tensor, describe="to_tensor,8x8")


class Squares(ImageSource):
    def __init__(self, split: str, per_class: int, corrupt: Sequence[int] = ()) -> None:
        self.id = f"runnerworld:{split}"
        self.class_names = list(CLASSES)
        self.split = split
        self.corrupt = set(corrupt)
        self._records = [ImageRecord(f"{split}/{i}", i % len(CLASSES))
                         for i in range(per_class * len(CLASSES))]

    def records(self) -> list[ImageRecord]:
        return list(self._records)

    def _index(self, record: ImageRecord) -> int:
        return int(record.key.split("/")[1])

    def load(self, record: ImageRecord) -> Image.Image:
        index = self._index(record)
        if index in self.corrupt:
            raise DataError(f"{record.key}: truncated image file")
        rng = np.random.default_rng([sum(map(ord, self.split)), index])
        pixels = rng.integers(0, 80, size=(8, 8, 3))
        channel = record.label % 3
        pixels[..., channel] += 150 if record.label < 3 else 60
        return Image.fromarray(pixels.clip(0, 255).astype(np.uint8))

    def content_hash(self, record: ImageRecord) -> str:
        return hashlib.sha256(f"{self.split}/{self._index(record)}".encode()).hexdigest()[:16]


class LinearClassifier(Classifier):
    def __init__(self, seed: int, num_classes: int = len(CLASSES)) -> None:
        generator = torch.Generator().manual_seed(seed)
        self.embed = torch.randn(24, PIXELS, generator=generator) / PIXELS**0.5
        # More classes than features (num_classes > 24) leaves no null space.
        self.weight = torch.randn(num_classes, 24, generator=generator)
        self.bias = torch.zeros(num_classes)
        names = [*CLASSES, *(f"extra{i}" for i in range(num_classes - len(CLASSES)))]
        self.info = ClassifierInfo(id=f"runnerworld:seed{seed}", feature_dim=24,
                                   num_classes=num_classes, class_names=names[:num_classes],
                                   weights_hash=f"seed{seed}-c{num_classes}")
        self.preprocessing = PREPROCESSING

    def features(self, images: torch.Tensor) -> torch.Tensor:
        CALLS["features"] += 1
        return torch.tanh(images.reshape(len(images), -1).float() @ self.embed.T)

    def head(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        return self.weight, self.bias

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.logits(self.features(images))


class BagOfWords(JointSpace):
    def __init__(self) -> None:
        generator = torch.Generator().manual_seed(7)
        self.tower = torch.randn(16, PIXELS, generator=generator) / PIXELS**0.5
        self.info = JointSpaceInfo(id="runnerworld:joint", embed_dim=16, weights_hash="joint7")
        self.preprocessing = PREPROCESSING

    def encode_images(self, images: torch.Tensor) -> torch.Tensor:
        CALLS["embeddings"] += 1
        return images.reshape(len(images), -1).float() @ self.tower.T

    def encode_text(self, prompts: Sequence[str]) -> torch.Tensor:
        CALLS["text"] += 1
        rows = []
        for prompt in prompts:
            vector = torch.zeros(16)
            for word in prompt.split():
                seed = int(hashlib.sha256(word.encode()).hexdigest()[:8], 16)
                vector += torch.randn(16, generator=torch.Generator().manual_seed(seed))
            rows.append(vector)
        return torch.stack(rows)


def load_data(ident: str, *, per_class: int = 10, corrupt: Sequence[int] = ()) -> Squares:
    return Squares(ident or "audit", per_class, corrupt)


def load_classifier(ident: str, num_classes: int = len(CLASSES)) -> LinearClassifier:
    return LinearClassifier(int(ident.removeprefix("seed") or 0), num_classes)


def load_joint(ident: str, **options) -> BagOfWords:
    return BagOfWords()


def register() -> None:
    DATA_SOURCES.add("runnerworld", load_data, replace=True)
    CLASSIFIER_SOURCES.add("runnerworld", load_classifier, replace=True)
    JOINT_SPACE_SOURCES.add("runnerworld", load_joint, replace=True)


SPEC = """\
version: 1
kind: singaudit/audit
name: tiny
models:
  - name: first
    id: runnerworld:seed1
  - name: second
    id: runnerworld:seed2
    expect: none
joint_space:
  id: runnerworld:joint
data:
  id: runnerworld:audit
  options: {per_class: 6}
  images_per_class: 5
  seed: 3
translator:
  arch: linear
  fit:
    id: runnerworld:fit
    options: {per_class: 30}
checks:
  null_invariance: {}
  translator_fidelity: {}
  class_semantics: {n_boot: 50}
report:
  formats: [json]
device: cpu
batch_size: 7
seed: 0
"""
