"""The runner's ModelContext: every artefact comes from the artefact builder, on first use."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar

import torch
from PIL import Image

from singaudit.adapters.classifiers.base import Classifier
from singaudit.adapters.generators.base import Generator
from singaudit.adapters.joint_spaces.base import JointSpace
from singaudit.checks.base import PromptSpec
from singaudit.runner.artefacts import ArtefactBuilder
from singaudit.runner.selection import ImageSelection

T = TypeVar("T")


class AuditModelContext:
    """One model of one audit run; implements singaudit.checks.base.ModelContext."""

    def __init__(self, artefacts: ArtefactBuilder, name: str, classifier: Classifier,
                 artefact_dir: Path, artefact_prefix: str) -> None:
        self._artefacts = artefacts
        self.name = name
        self.classifier = classifier
        self.prompts: PromptSpec = artefacts.plan.prompts
        self.null_removal: str = artefacts.spec.null_removal
        self.seed = artefacts.spec.seed
        generator = artefacts.spec.generator
        self.generator_seeds = list(generator.seeds) if generator else [0]
        self.generator_size = generator.size if generator else 64
        self.device = torch.device("cpu")  # checks work on the CPU; extraction uses the builder's
        self.artefact_dir = artefact_dir
        self.artefact_prefix = artefact_prefix
        self._shared: dict[str, Any] = {}

    # The audit images (the same for every model of the run).
    @property
    def selection(self) -> ImageSelection:
        return self._artefacts.audit_images

    @property
    def class_names(self) -> list[str]:
        return list(self.selection.class_names)

    @property
    def labels(self) -> torch.Tensor:
        return torch.tensor(self.selection.labels, dtype=torch.int64)

    @property
    def image_keys(self) -> list[str]:
        return self.selection.keys

    @cached_property
    def joint_space(self) -> JointSpace:
        return self._artefacts.joint_space()

    @cached_property
    def features(self) -> torch.Tensor:
        return self._artefacts.classifier_features(self.name, self.selection)

    @cached_property
    def image_embeddings(self) -> torch.Tensor:
        return self._artefacts.image_embeddings(self.selection)

    @cached_property
    def geometry(self) -> Any:
        return self._artefacts.geometry(self.name)

    @property
    def translator(self) -> torch.nn.Module:
        return self._artefacts.translator(self.name).module

    @property
    def translator_info(self) -> dict[str, Any]:
        return self._artefacts.translator(self.name).info

    def translate(self, features: torch.Tensor) -> torch.Tensor:
        translator = self.translator
        with torch.inference_mode():
            return translator(features.to(torch.float32)).float()

    def text_embeddings(self, prompts: Sequence[str]) -> torch.Tensor:
        return self._artefacts.text_embeddings(list(prompts))

    def prompt_embeddings(self, names: Sequence[str]) -> torch.Tensor:
        from singaudit.maths.scores import ensemble_text

        templates = self.prompts.templates
        prompts = [prompt for name in names for prompt in self.prompts.fill(name)]
        embeddings = self.text_embeddings(prompts)
        if len(templates) == 1:
            return embeddings
        return ensemble_text(embeddings.reshape(len(names), len(templates), -1))

    def generator(self) -> Generator | None:
        return self._artefacts.generator()

    def load_image(self, index: int) -> Image.Image:
        record = self.selection.records[index]
        return self.selection.source.load(record)

    def fit_data(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        return self._artefacts.translator_fit_data(self.name)

    def shared(self, key: str, compute: Callable[[], T]) -> T:
        if key not in self._shared:
            self._shared[key] = compute()
        return self._shared[key]
