"""A small, real synthetic world for the checks: a bag-of-words joint space, a linear classifier
over block-structured features, and an affine ridge translator fitted on them.

Features are blocks mixed by a random orthogonal matrix Q: [class evidence (6) | colour (6) |
stripes (1) | second class block or noise (6) | noise]; the head reads only the first block, so
everything else lies in the null space. In the ``leaky`` world the fourth block carries class
evidence (the null space leaks the class); in the clean world it is noise. The two worlds draw
the same random numbers, so with one seed they differ ONLY by that planted leak, which lies in the
null space: same labels, same noise in the block the head reads, same embeddings
(tests/checks/test_world.py holds this). Image embeddings are the sum of the class, colour and
(for striped images) "striped" word vectors.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from singaudit.adapters.classifiers.base import Classifier, ClassifierInfo, Preprocessing
from singaudit.adapters.joint_spaces.base import JointSpace, JointSpaceInfo
from singaudit.checks.base import PromptSpec
from singaudit.maths.geometry import head_geometry
from singaudit.maths.scores import ensemble_text
from singaudit.maths.translators import RidgeAccumulator, fit_ridge

CLASSES = ["circle", "square", "triangle", "star", "cross", "heart"]
COLOURS = ["red", "green", "blue", "yellow", "purple", "white"]
FILLER = ["an", "image", "of", "a", "photo", "shape", "something"]
EMBED_DIM = 48
FEATURE_DIM = 32
# Block (before mixing) where the leaky world plants class evidence; the head never reads it.
LEAK_BLOCK = slice(2 * len(CLASSES) + 1, 3 * len(CLASSES) + 1)
# Its strength: with the same noise (0.3) in the class block of both worlds, a leak of 2 (the
# class block's own) gives leaky a median leak of -2.5 deg, specific leak +5.5; 4 gives +11.9 and
# +25.0 deg (measured, seed 0): the translator leans on the null block enough to see its removal.
LEAK_AMPLITUDE = 4.0


def _identity_preprocessing() -> Preprocessing:
    return Preprocessing(transform=lambda image: torch.zeros(1), describe="identity")


class BagOfWordsJointSpace(JointSpace):
    """Text = sum of fixed random word vectors; images are already their embeddings."""

    def __init__(self, words: dict[str, np.ndarray]) -> None:
        self.words = words
        self.info = JointSpaceInfo(id="test:bag-of-words", embed_dim=EMBED_DIM, weights_hash="0")
        self.preprocessing = _identity_preprocessing()

    def encode_images(self, images: torch.Tensor) -> torch.Tensor:
        return images.reshape(len(images), -1).float()

    def encode_text(self, prompts: Sequence[str]) -> torch.Tensor:
        rows = [sum(self.words[w] for w in prompt.split() if w in self.words) for prompt in prompts]
        return torch.tensor(np.stack(rows), dtype=torch.float32)


class FeatureClassifier(Classifier):
    """A linear head over inputs that are already penultimate features."""

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor) -> None:
        self.weight, self.bias = weight, bias
        self.info = ClassifierInfo(id="test:linear", feature_dim=weight.shape[1],
                                   num_classes=weight.shape[0], class_names=list(CLASSES),
                                   weights_hash="0")
        self.preprocessing = _identity_preprocessing()

    def features(self, images: torch.Tensor) -> torch.Tensor:
        return images.float()

    def head(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        return self.weight, self.bias

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.logits(self.features(images))


@dataclass
class WorldContext:
    """A ModelContext filled from the synthetic world (the runner's role in these tests)."""

    name: str
    classifier: Classifier
    joint_space: JointSpace
    class_names: list[str]
    labels: torch.Tensor
    image_keys: list[str]
    features: torch.Tensor
    image_embeddings: torch.Tensor
    geometry: Any
    translator: torch.nn.Module
    translator_info: dict[str, Any]
    prompts: PromptSpec
    seed: int
    device: torch.device
    artefact_dir: Path
    artefact_prefix: str
    fit: tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]
    attributes: dict[str, np.ndarray]
    generator_seeds: list[int] = field(default_factory=lambda: [0])
    generator_size: int = 64
    null_removal: str = "mean"
    _shared: dict[str, Any] = field(default_factory=dict)

    def translate(self, features: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return self.translator(features.float())

    def text_embeddings(self, prompts: Sequence[str]) -> torch.Tensor:
        return self.joint_space.encode_text(list(prompts))

    def prompt_embeddings(self, names: Sequence[str]) -> torch.Tensor:
        filled = [self.text_embeddings(self.prompts.fill(name)) for name in names]
        if len(self.prompts.templates) == 1:
            return torch.cat(filled)
        return torch.stack([ensemble_text(rows) for rows in filled])

    def generator(self) -> None:
        return None

    def load_image(self, index: int) -> Image.Image:
        return Image.new("RGB", (8, 8))

    def fit_data(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        return self.fit

    def shared(self, key: str, compute: Callable[[], Any]) -> Any:
        if key not in self._shared:
            self._shared[key] = compute()
        return self._shared[key]


def _words(seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    words = {w: rng.normal(size=EMBED_DIM) / np.sqrt(EMBED_DIM) for w in CLASSES + COLOURS}
    words["striped"] = rng.normal(size=EMBED_DIM) / np.sqrt(EMBED_DIM)
    # Extra concepts the images never show (the rest of a vocabulary).
    for extra in ("wooden", "metallic", "furry", "glass", "sky", "forest", "beach", "blurry",
                  "bright", "dark", "wheel", "leaf"):
        words[extra] = rng.normal(size=EMBED_DIM) / np.sqrt(EMBED_DIM)
    for filler in FILLER:
        words[filler] = 0.2 * rng.normal(size=EMBED_DIM) / np.sqrt(EMBED_DIM)
    return words


def _draw(n: int, seed: int, *, leaky: bool, mixing: np.ndarray, words: dict[str, np.ndarray],
          striped_class: int | None) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    c = len(CLASSES)
    label = rng.integers(0, c, n)
    colour = rng.integers(0, len(COLOURS), n)
    if striped_class is None:
        striped = (rng.random(n) < 0.5).astype(float)
    else:  # only one class is striped: a planted concept for that class
        striped = (label == striped_class).astype(float)
    blocks = rng.normal(size=(n, FEATURE_DIM)) * 0.3
    # The block the head reads: the same noise (and draws) in both worlds.
    blocks[:, :c] = np.eye(c)[label] * 2 + rng.normal(size=(n, c)) * 0.3
    blocks[:, c : 2 * c] += np.eye(c)[colour] * 2
    blocks[:, 2 * c] += striped * 2
    if leaky:  # the only difference between the worlds: class evidence in a null-space block
        blocks[:, LEAK_BLOCK] += np.eye(c)[label] * LEAK_AMPLITUDE
    features = blocks @ mixing.T
    embeddings = (
        np.stack([words[CLASSES[i]] for i in label])
        + np.stack([words[COLOURS[i]] for i in colour])
        + 0.7 * striped[:, None] * words["striped"]
        + rng.normal(size=(n, EMBED_DIM)) * 0.05
    )
    attributes = {"label": label, "colour": colour, "striped": striped}
    return features.astype(np.float32), embeddings.astype(np.float32), attributes


def make_world(
    tmp_path: Path, *, leaky: bool = False, n: int = 240, seed: int = 0,
    null_space: bool = True, striped_class: int | None = None,
    prompts: PromptSpec | None = None,
) -> WorldContext:
    """A ModelContext over ``n`` audit images of the synthetic world (see the module docstring)."""
    rng = np.random.default_rng(seed)
    words = _words(seed)
    c = len(CLASSES)
    mixing = np.linalg.qr(rng.normal(size=(FEATURE_DIM, FEATURE_DIM)))[0]
    if null_space:
        reads_first_block = np.hstack([np.eye(c), np.zeros((c, FEATURE_DIM - c))])
        weight = (rng.normal(size=(c, c)) + 3 * np.eye(c)) @ reads_first_block @ mixing.T
    else:  # a full-rank head: more classes' worth of rows than feature dimensions
        weight = rng.normal(size=(FEATURE_DIM + 8, FEATURE_DIM))
    weight_t = torch.tensor(weight, dtype=torch.float32)
    bias = torch.tensor(rng.normal(size=weight.shape[0]), dtype=torch.float32)

    draw = {"leaky": leaky, "mixing": mixing, "words": words, "striped_class": striped_class}
    x_train, y_train, _ = _draw(1500, seed + 1, **draw)
    x_held, y_held, _ = _draw(400, seed + 2, **draw)
    features, embeddings, attributes = _draw(n, seed + 3, **draw)
    train = RidgeAccumulator(FEATURE_DIM, EMBED_DIM).update(x_train, y_train)
    heldout = RidgeAccumulator(FEATURE_DIM, EMBED_DIM).update(x_held, y_held)
    translator, alpha, heldout_metrics = fit_ridge(train, heldout)
    translator.eval()
    with torch.no_grad():
        predicted = translator(torch.from_numpy(x_held))
    cosines = torch.nn.functional.cosine_similarity(predicted, torch.from_numpy(y_held), dim=-1)

    classifier = FeatureClassifier(weight_t, bias)
    if not null_space:
        classifier.info.num_classes = weight.shape[0]
    artefacts = tmp_path / "artefacts"
    artefacts.mkdir(parents=True, exist_ok=True)
    return WorldContext(
        name="leaky" if leaky else "clean",
        classifier=classifier,
        joint_space=BagOfWordsJointSpace(words),
        class_names=list(CLASSES),
        labels=torch.from_numpy(attributes["label"]).long(),
        image_keys=[f"image-{i}" for i in range(n)],
        features=torch.from_numpy(features),
        image_embeddings=torch.from_numpy(embeddings),
        geometry=head_geometry(weight_t),
        translator=translator,
        translator_info={  # as the runner records it (pipeline/translators.py fit_translator)
            "architecture": "linear", "alpha": alpha, "source": "fitted",
            "mean_cosine": float(cosines.mean()), "mse": heldout_metrics["mse"],
            "r2": heldout_metrics["r2"], "row_cosines": cosines.tolist(),
            "n_train": len(x_train), "n_heldout": len(x_held),
        },
        prompts=prompts or PromptSpec(),
        seed=seed,
        device=torch.device("cpu"),
        artefact_dir=artefacts,
        artefact_prefix="artefacts",
        fit=tuple(torch.from_numpy(a) for a in (x_train, y_train, x_held, y_held)),
        attributes=attributes,
    )
