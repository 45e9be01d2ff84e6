"""The check interface: a check reads shared artefacts from a ModelContext and returns a
CheckResult (singaudit.results). Checks never parse YAML and never load models themselves."""

from __future__ import annotations

import abc
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Protocol, TypeVar

import torch
from PIL import Image
from pydantic import BaseModel, ConfigDict, field_validator

from singaudit.adapters.classifiers.base import Classifier
from singaudit.adapters.generators.base import Generator
from singaudit.adapters.joint_spaces.base import JointSpace
from singaudit.results import CheckResult, Tiers

T = TypeVar("T")


class CheckParams(BaseModel):
    """Parameters of a check as written in a spec; each check subclasses this."""

    model_config = ConfigDict(extra="forbid")
    metric_specs: ClassVar[dict[str, MetricSpec]] = {}  # the check's metrics (set by Check)
    thresholds: list[Tiers] | None = None  # None: the check's default_tiers

    @field_validator("thresholds")
    @classmethod
    def _known_metrics(cls, tiers: list[Tiers] | None) -> list[Tiers] | None:
        from singaudit.checks.thresholds import validate_tiers  # thresholds imports this module

        return validate_tiers(tiers, cls.metric_specs)


@dataclass(frozen=True)
class MetricSpec:
    """What a metric means, so runner, reports and JUnit need no special cases."""

    description: str
    unit: str = "deg"
    higher_is_better: bool | None = None  # None: informational
    aggregation: str = "median"


@dataclass(frozen=True)
class PromptSpec:
    """How class (and concept) prompts are written: one template or an ensemble."""

    templates: tuple[str, ...] = ("an image of a {class}",)

    @property
    def description(self) -> str:
        if len(self.templates) == 1:
            return f"single template {self.templates[0]!r}"
        return f"ensemble of {len(self.templates)} templates (mean of unit embeddings)"

    def fill(self, name: str) -> list[str]:
        return [template.replace("{class}", name) for template in self.templates]


class ModelContext(Protocol):
    """What the runner computes once per model and shares across checks (all on the CPU)."""

    name: str  # the model's name in the spec
    classifier: Classifier
    joint_space: JointSpace
    class_names: list[str]  # the audited classes' names, indexed by labels
    labels: torch.Tensor  # (n,) int64 into class_names
    image_keys: list[str]  # (n,) stable image identities
    features: torch.Tensor  # (n, m) float32 penultimate features of the audit images
    image_embeddings: torch.Tensor  # (n, k) joint-space image embeddings of the audit images
    geometry: Any  # singaudit.maths.geometry.HeadGeometry
    translator: torch.nn.Module  # features -> joint space, fitted or loaded
    translator_info: dict[str, Any]  # arch, alpha, held-out fidelity and row cosines, source
    prompts: PromptSpec
    seed: int
    generator_seeds: list[int]  # the spec's generator seeds (evidence renders one image per seed)
    generator_size: int  # the spec's generator image size in pixels
    device: torch.device
    artefact_dir: Path  # where a check may write files (exists)
    artefact_prefix: str  # artefact_dir relative to the results folder, for CheckResult paths

    def translate(self, features: torch.Tensor) -> torch.Tensor:
        """Batched T(f) in float32."""

    def text_embeddings(self, prompts: Sequence[str]) -> torch.Tensor:
        """Joint-space text embeddings (cached across checks and runs)."""

    def prompt_embeddings(self, names: Sequence[str]) -> torch.Tensor:
        """(len(names), k): each name through the spec's template or template ensemble."""

    def generator(self) -> Generator | None:
        """The configured generator, loaded on first use; None when none is configured."""

    def load_image(self, index: int) -> Image.Image:
        """The audit image at ``index`` (for evidence and retrieval)."""

    def fit_data(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """(x_train, y_train, x_heldout, y_heldout): the translator's fit split, features ->
        joint-space image embeddings, for checks that compare translator architectures."""

    def shared(self, key: str, compute: Callable[[], T]) -> T:
        """Compute a derived artefact once per model (e.g. per-image IS and AS)."""


class Check(abc.ABC):
    """A registered audit check. Subclasses set the class variables and implement run()."""

    name: ClassVar[str]
    Params: ClassVar[type[CheckParams]] = CheckParams
    metrics: ClassVar[dict[str, MetricSpec]] = {}
    default_tiers: ClassVar[list[Tiers]] = []
    requires_null_space: ClassVar[bool] = True  # the runner skips it when null_dim == 0

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.Params is not CheckParams:  # thresholds may only name the check's own metrics
            cls.Params.metric_specs = cls.metrics

    @abc.abstractmethod
    def run(self, ctx: ModelContext, params: CheckParams) -> CheckResult:
        """Judge one model. Raise singaudit.errors.NotApplicable to skip with a reason."""

    def tiers(self, params: CheckParams) -> list[Tiers]:
        return list(params.thresholds) if params.thresholds is not None else list(self.default_tiers)
