"""The check interface: a check reads shared artefacts from a ModelContext and returns its
Measurements; the framework (Check.run) judges them against tiers and builds the CheckResult
(singaudit.results). Checks never parse YAML, never load models and never decide a status."""

from __future__ import annotations

import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Generic, Protocol, TypeVar

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from singaudit.checks.thresholds import MetricSpec, Observations, judge_all, validate_tiers
from singaudit.results import CheckResult, ClassResult, Metric, Status, Tiers, worst_status
from singaudit.strict import Strict

if TYPE_CHECKING:  # torch loads when a check measures, never to read or validate a spec
    import torch
    from PIL import Image

    from singaudit.adapters.classifiers.base import Classifier
    from singaudit.adapters.generators.base import Generator
    from singaudit.adapters.joint_spaces.base import JointSpace

T = TypeVar("T")


class CheckParams(BaseModel):
    """Parameters of a check as written in a spec; each check subclasses this."""

    model_config = ConfigDict(extra="forbid")
    metric_specs: ClassVar[dict[str, MetricSpec]] = {}  # the check's metrics (set by Check)
    thresholds: list[Tiers] | None = None  # None: the check's default_tiers

    @field_validator("thresholds")
    @classmethod
    def _known_metrics(cls, tiers: list[Tiers] | None) -> list[Tiers] | None:
        return validate_tiers(tiers, cls.metric_specs)


P = TypeVar("P", bound=CheckParams)


class PromptSpec(Strict):
    """How class (and concept) prompts are written: one template, or an ensemble (the mean of
    unit text embeddings). The spec's ``prompts`` section; ``PromptSpec(templates)`` also works."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    template: str = "an image of a {class}"
    ensemble: Annotated[tuple[str, ...], Field(min_length=1)] | None = None

    def __init__(self, templates: Sequence[str] | None = None, /, **fields: Any) -> None:
        if templates is not None:
            fields = {"template": templates[0]} if len(templates) == 1 else {
                "ensemble": tuple(templates)}
        super().__init__(**fields)

    @field_validator("template")
    @classmethod
    def _has_placeholder(cls, template: str) -> str:
        if "{class}" not in template:
            raise ValueError("a prompt template must contain '{class}'")
        return template

    @field_validator("ensemble")
    @classmethod
    def _all_have_placeholder(cls, ensemble: tuple[str, ...] | None) -> tuple[str, ...] | None:
        for template in ensemble or ():
            cls._has_placeholder(template)
        return ensemble

    @property
    def templates(self) -> tuple[str, ...]:
        return self.ensemble if self.ensemble else (self.template,)

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
    null_removal: str  # "zero" or "mean": the null content f_eq keeps (spec's null_removal)
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


@dataclass
class Measurements:
    """What a check measured: judgeable values, reported figures and a one-line summary.

    ``observations`` are what tiers may judge: per image with class labels (judged overall and
    per class) or one model-level value. ``metrics`` and ``per_class`` are the figures reported
    (tiers add their judged statistics to them). ``floor`` is a status the verdict cannot be
    better than, with its reason (e.g. nothing could be measured).
    """

    summary: str
    observations: dict[str, Observations] = field(default_factory=dict)
    metrics: dict[str, Metric] = field(default_factory=dict)
    per_class: dict[str, ClassResult] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)
    artefacts: dict[str, Any] = field(default_factory=dict)
    floor: Status | None = None


class Check(Generic[P]):
    """A registered audit check, typed by its parameters: ``class MyCheck(Check[MyParams])``.

    Subclasses set the class variables and implement measure(); run() judges the measurements
    with the spec's tiers (or the check's defaults), so every check ends the same way. (A check
    that overrides run() itself still works, but then judges on its own.)
    """

    name: ClassVar[str]
    Params: ClassVar[type[CheckParams]] = CheckParams  # set from Check[P]
    metrics: ClassVar[dict[str, MetricSpec]] = {}
    default_tiers: ClassVar[list[Tiers]] = []
    requires_null_space: ClassVar[bool] = True  # the runner skips it when null_dim == 0
    # The metric that sums the check up in one number (one of ``metrics``); None: no headline.
    headline: ClassVar[str | None] = None
    # Set when its data holds per-image IS and AS (singaudit.results.AngleData): the metric, a
    # ratio of IS to |AS|, by which the audit's model comparison ranks (the runner fills the
    # model's Angles from the first such check).
    angle_ratio: ClassVar[str | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for base in getattr(cls, "__orig_bases__", ()):
            arguments = typing.get_args(base) if typing.get_origin(base) is Check else ()
            if arguments and isinstance(arguments[0], type) and issubclass(arguments[0],
                                                                           CheckParams):
                cls.Params = arguments[0]
        if cls.Params is not CheckParams:  # thresholds may only name the check's own metrics
            cls.Params.metric_specs = cls.metrics

    def measure(self, ctx: ModelContext, params: P) -> Measurements:
        """Measure one model. Raise singaudit.errors.NotApplicable to skip with a reason."""
        raise NotImplementedError(f"{type(self).__name__} implements neither measure() nor run()")

    def run(self, ctx: ModelContext, params: P) -> CheckResult:
        """Measure, then judge: the check's status, message and judged metrics."""
        return self.judge(self.measure(ctx, params), params, ctx.class_names, seed=ctx.seed)

    def judge(self, measured: Measurements, params: P, class_names: Sequence[str], *,
              seed: int = 0) -> CheckResult:
        """Apply the tiers to measurements (the one ending every check shares)."""
        verdict = judge_all(self.tiers(params), measured.observations, self.metrics, class_names,
                            seed=seed)
        metrics, per_class = dict(measured.metrics), dict(measured.per_class)
        verdict.apply(metrics, per_class)
        status = verdict.status
        if measured.floor is not None:
            status = worst_status([status, measured.floor])
        return CheckResult(name=self.name, status=status, message=verdict.explain(measured.summary),
                           metrics=metrics, per_class=per_class, data=measured.data,
                           artefacts=measured.artefacts)

    def tiers(self, params: CheckParams) -> list[Tiers]:
        return list(params.thresholds) if params.thresholds is not None else list(self.default_tiers)


def as_array(values: object) -> np.ndarray:
    """float64 numpy values of a tensor or array-like (the form checks measure in)."""
    import torch

    if isinstance(values, torch.Tensor):
        return values.detach().cpu().double().numpy()
    return np.asarray(values, dtype=np.float64)
