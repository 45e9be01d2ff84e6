"""Open-vocabulary concepts: which concepts does the null space carry?

AS toward every concept of a vocabulary, per image. Null removal can move T(f) away from every
concept at once (a generic drift), so each image's AS values are standardised against that
image's own AS distribution over the vocabulary (z-score; also a percentile). A concept is
judged on the images that show it: per image and category, the concept nearest to T(f) counts as
present, and concepts are ranked by their mean z over the images where they are present (the most
negative = most carried by the null space). Averaging over every image instead would dilute an
attribute each image has its own value of (its colour, its background) and reward concepts that
merely become relatively farther when the embedding moves toward another one.

``method: sparse`` names what the null space carries in an open vocabulary instead: the
translated null-space shift Delta = (T(f) - T(f_eq)) / ||T(f_eq)|| is decomposed into a sparse
non-negative combination of centred concept embeddings and their negations
(singaudit.maths.sparse_concepts), per image and per class on the class's mean shift minus the
mean shift of all images: the concepts the null content adds (lost when it is removed) and those
it suppresses. (Not unit(T(f)) - unit(T(f_eq)): averaged over a class, that difference of unit
vectors points away from the class's own embedding whatever the null content is, the curvature
of the sphere, and named the own class as suppressed on a null space that carries none.)
Two null references decide what is named. Explained: the reconstruction cosine beats, by
``cosine_margin``, the 95th percentile of the cosines the same solver reaches on random
directions of the joint space (a fixed cosine means nothing across dimensions and vocabularies).
Class-specific: the class's mean shift is longer than that of 95% of groups of as many images
drawn at random (shuffled labels). A class decomposition names concepts only when both hold.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING, Any, ClassVar, Literal, NotRequired, TypedDict

import numpy as np
import yaml
from pydantic import Field, field_validator

from singaudit.checks.base import (
    Check,
    CheckParams,
    Measurements,
    MetricSpec,
    ModelContext,
    as_array,
)
from singaudit.checks.class_semantics import equivalent_translations
from singaudit.checks.thresholds import (
    Observations,
    format_number,
    scalar_metric,
)
from singaudit.errors import NotApplicable, SpecError
from singaudit.maths.sparse_concepts import DEFAULT_MAX_CONCEPTS, DEFAULT_SPARSITY
from singaudit.results import ClassResult, Metric, Tiers
from singaudit.wording import fixed

if TYPE_CHECKING:  # torch loads when a check measures, not to validate a spec
    import torch

CLASSES_VOCABULARY = "classes"
MIN_SUPPORT = 3  # images that must show a concept before its mean z means anything

METRICS: dict[str, MetricSpec] = {
    "top_z": MetricSpec("mean standardised AS of the most null-carried concept", unit="z",
                        aggregation="min"),
    "top_category_z": MetricSpec(
        "mean over images of the category's lowest z, for the most null-carried category", unit="z",
                                 aggregation="min"),
    "own_class_rank": MetricSpec(
        "rank of the class's own name among the concepts (1 = most carried by the null space)",
        unit="rank", higher_is_better=True, aggregation="min"),
    "own_class_in_top_k": MetricSpec("1 when the class's own name is among its top_k concepts",
                                     unit="", higher_is_better=False, aggregation="max"),
    "class_concepts_in_top_k": MetricSpec(
        "how many class names are among the overall top_k concepts", unit="",
        higher_is_better=False, aggregation="max"),
    # method: sparse
    "own_class_weight": MetricSpec(
        "weight of the class's own name among the concepts its null content adds (sparse "
        "decomposition of the class's mean shift; 0 when absent or unexplained)", unit="",
        higher_is_better=False, aggregation="max"),
    "forbidden_weight": MetricSpec(
        "largest weight of a forbidden concept among the concepts the null content adds",
        unit="", higher_is_better=False, aggregation="max"),
    "reconstruction_cosine": MetricSpec(
        "cosine between the shift and its sparse reconstruction (per image; per class: the "
        "class's mean shift)", unit="", higher_is_better=True, aggregation="median"),
}
SPARSE_VOCABULARY = "words"  # the default vocabulary of method: sparse
REFERENCE_DRAWS = 64  # random directions the reference cosine is measured on
REFERENCE_QUANTILE = 0.95
SHUFFLES = 199  # label shuffles of the class-specificity test (p-values in steps of 1/200)
SPECIFICITY_LEVEL = 0.05


# One ranked concept (method rank); "as" is a keyword, hence the functional form.
RankedConcept = TypedDict("RankedConcept", {
    "concept": str, "category": str, "z": float, "percentile": float, "as": float,
    "angle_orig": float, "angle_eq": float})
# The check's data with method rank: per concept (in vocabulary order) its median AS, mean z
# (None: shown by too few images), percentile, angles and support; the rankings.
RankedConceptsData = TypedDict("RankedConceptsData", {
    "vocabulary": str, "concepts": list[str], "unrepresentable": dict[str, list[str]],
    "categories": list[str], "as": list[float], "z": list[float | None],
    "percentile": list[float], "angle_orig": list[float], "angle_eq": list[float],
    "top": list[RankedConcept], "top_per_class": dict[str, list[RankedConcept]],
    "ranked_per_class": dict[str, int], "category_z": dict[str, float], "top_category": str,
    "similarity": list[list[float]], "similarity_concepts": list[str],
    "similarity_z": list[float], "support": list[int]})


class NamedConcept(TypedDict):
    concept: str
    weight: float


class SparseDecompositionData(TypedDict):
    """One decomposition (an image's shift, or the mean shift of all images): what it names
    (empty when unexplained) and its reconstruction cosines."""

    added: list[NamedConcept]
    suppressed: list[NamedConcept]
    cosine_added: float
    cosine_suppressed: float
    concepts_limited: bool  # cut to max_concepts


class SparseClassData(SparseDecompositionData):
    """A class's mean shift (contrasted): named only when explained and class-specific."""

    explained_added: bool
    explained_suppressed: bool
    specific: bool
    specificity_p: float
    shift_norm: float
    own_class_weight: float
    forbidden_weight: NotRequired[float]


class SparseSolverData(TypedDict):
    optimal: bool  # False: a working set filled before the optimality conditions held
    limited: int  # decompositions cut to max_concepts
    iterations: int


class SparseConceptsData(TypedDict):
    """The concepts check's data with method sparse (results.json; the report reads classes)."""

    method: Literal["sparse"]
    vocabulary: str
    concept_count: int
    unrepresentable: dict[str, list[str]]
    sparsity: float
    max_concepts: int
    cosine_margin: float
    reference_cosine: float  # 95th percentile on random directions
    explained_from_cosine: float  # reference_cosine + cosine_margin
    specificity_level: float
    forbidden: list[str]
    shift: str
    contrast: bool
    sides: str
    classes: dict[str, SparseClassData]
    overall: SparseDecompositionData
    images: list[SparseDecompositionData]
    solver: SparseSolverData
    index_of_class: dict[str, int | None]


@dataclass(frozen=True)
class Vocabulary:
    """Concepts with their categories and the prompt each concept is embedded with."""

    name: str
    concepts: list[str]
    categories: list[str]
    templates: dict[str, str]  # category -> template with "{concept}"; missing: the spec's prompts


def available_vocabularies() -> list[str]:
    """Names of the vocabularies shipped in singaudit/checks/vocabularies."""
    folder = resources.files("singaudit.checks.vocabularies")
    return sorted(p.name.rsplit(".", 1)[0] for p in folder.iterdir()
                  if p.name.endswith((".yaml", ".txt")))


def load_vocabulary(name: str) -> Vocabulary:
    """A shipped vocabulary by name (e.g. "default", "calibration")."""
    folder = resources.files("singaudit.checks.vocabularies")
    resource = folder / f"{name}.yaml"
    if re.fullmatch(r"[A-Za-z0-9_-]+", name) and (folder / f"{name}.txt").is_file():
        return _from_word_list(name, (folder / f"{name}.txt").read_text(encoding="utf-8"))
    if not re.fullmatch(r"[A-Za-z0-9_-]+", name) or not resource.is_file():
        raise SpecError(f"unknown concept vocabulary {name!r}; shipped: "
                        f"{', '.join(available_vocabularies())}, or {CLASSES_VOCABULARY!r}, "
                        "or a list of concepts, or a mapping category -> concepts")
    content = yaml.safe_load(resource.read_text(encoding="utf-8"))
    return _from_mapping(name, content["categories"], content.get("templates") or {})


def _from_word_list(name: str, text: str) -> Vocabulary:
    """A plain word list (scripts/build_vocabulary.py): '#' comments, one concept a line, an
    optional '# template: ...' line for the prompt of every concept."""
    lines = [line.strip() for line in text.splitlines()]
    template = next((line.split(":", 1)[1].strip() for line in lines
                     if line.startswith("# template:")), None)
    concepts = [line for line in lines if line and not line.startswith("#")]
    return Vocabulary(name, concepts, ["words"] * len(concepts),
                      {"words": template} if template else {})


def _from_mapping(name: str, categories: dict[str, list[str]], templates: dict[str, str]
                  ) -> Vocabulary:
    concepts = [str(c) for members in categories.values() for c in members]
    labels = [str(category) for category, members in categories.items() for _ in members]
    return Vocabulary(name, concepts, labels, dict(templates))


class ConceptsParams(CheckParams):
    """Which concepts, how to prompt them, and how many to show."""

    vocabulary: str | list[str] | dict[str, list[str]] | None = Field(
        None, description='a shipped vocabulary ("default", "calibration", "words"), "classes" '
        "(the class names), a list of concepts, or a mapping category -> concepts; default: "
        '"default" ("words" with method sparse)')
    template: str | None = Field(
        None, description='prompt for every concept, with "{concept}"; default: the '
        "vocabulary's per-category templates, else the audit's class prompts")
    top_k: int = Field(10, ge=1, description="concepts shown per class and overall")
    rank_by: Literal["present", "all"] = Field(
        "present", description='"present": mean z over the images whose T(f) is nearest to the '
        'concept within its category (needs a joint space that recognises the concepts); '
        '"all": mean z over every image')

    method: Literal["rank", "sparse"] = Field(
        "rank", description='"rank": concepts ranked by standardised AS; "sparse": sparse '
        "non-negative decomposition of the null-space shift into concepts (added and "
        'suppressed), over the vocabulary (default there: "words")')
    extra_concepts: list[str] = Field(default_factory=list, description="concepts added to "
                                      "the vocabulary (e.g. your own attributes)")
    forbidden: list[str] = Field(default_factory=list, description="method sparse: concepts "
                                 "whose weight among the added concepts is reported (and can be "
                                 "judged as forbidden_weight); added to the vocabulary")
    sparsity: float = Field(DEFAULT_SPARSITY, ge=0.0, lt=1.0, description="method sparse: the "
                            "lasso penalty as a share of the smallest penalty that names nothing "
                            "(a floor: raised where a decomposition would name more than "
                            "max_concepts)")
    max_concepts: int = Field(DEFAULT_MAX_CONCEPTS, ge=1, description="method sparse: the most "
                              "concepts (added and suppressed together) one decomposition names")
    sides: Literal["joint", "separate"] = Field(
        "joint", description='method sparse: "joint": one non-negative decomposition of the '
        'shift over the concepts and their negations (added = positive, suppressed = negated); '
        '"separate": one non-negative decomposition of the shift and one of its negation')
    contrast: bool = Field(True, description="method sparse: decompose each class's mean "
                           "shift minus the mean shift of all images (class-specific; the "
                           "common shift is decomposed and reported on its own)")
    cosine_margin: float = Field(0.05, ge=0.0, le=1.0, description="method sparse: a "
                                 "decomposition is explained (names concepts) when its "
                                 "reconstruction cosine exceeds the reference cosine, what the "
                                 "same solver reaches on random directions of the joint space "
                                 "(95th percentile), by at least this much")

    @field_validator("vocabulary")
    @classmethod
    def _enough_concepts(cls, vocabulary: Any) -> Any:
        if vocabulary is None:
            return vocabulary
        if isinstance(vocabulary, str):
            if vocabulary != CLASSES_VOCABULARY:
                try:
                    load_vocabulary(vocabulary)  # unknown names fail at validation
                except SpecError as error:
                    raise ValueError(str(error)) from None
            return vocabulary
        members = vocabulary if isinstance(vocabulary, list) else [
            c for cs in vocabulary.values() for c in cs]
        if len(set(members)) < 3:
            raise ValueError("a concept vocabulary needs at least 3 distinct concepts")
        if len(set(members)) != len(members):
            raise ValueError("concepts must be distinct")
        return vocabulary

    @field_validator("template")
    @classmethod
    def _has_placeholder(cls, template: str | None) -> str | None:
        if template is not None and "{concept}" not in template:
            raise ValueError('the concept template needs a "{concept}" placeholder')
        return template


class ConceptsCheck(Check[ConceptsParams]):
    """Concepts ranked by standardised AS; informational unless tiers are set."""

    name = "concepts"
    headline = "top_z"
    metrics = METRICS
    default_tiers: ClassVar[list[Tiers]] = []
    requires_null_space = True

    def measure(self, ctx: ModelContext, params: ConceptsParams) -> Measurements:
        import torch
        from scipy.stats import rankdata  # lazy: scipy.stats costs ~1.5 s to import

        from singaudit.maths.scores import angle_matrix, concept_attribute_scores  # lazy: torch

        if params.method == "sparse":
            return measure_sparse(ctx, params)
        vocabulary, unrepresentable = _representable(
            _resolve(_chosen(params), ctx.class_names, params.extra_concepts), ctx.joint_space)
        texts = _concept_embeddings(ctx, vocabulary, params.template)
        pair = equivalent_translations(ctx)
        attribute = as_array(concept_attribute_scores(pair.original, pair.equivalent, texts))
        angle_orig = as_array(angle_matrix(pair.original, texts))
        angle_eq = as_array(angle_matrix(pair.equivalent, texts))
        z = _standardise(attribute)
        percentile = (rankdata(attribute, axis=1) - 0.5) / attribute.shape[1]
        labels = ctx.labels.cpu().numpy().astype(np.int64)
        concepts, top_k = vocabulary.concepts, min(params.top_k, len(vocabulary.concepts))
        lowered = {c.lower(): i for i, c in enumerate(concepts)}

        present = (_present(angle_orig, vocabulary.categories) if params.rank_by == "present"
                   else np.ones(z.shape, dtype=bool))

        def ranking(rows: np.ndarray) -> tuple[np.ndarray, list[RankedConcept]]:
            mean_z = _mean_where_present(z[rows], present[rows])
            order = np.argsort(mean_z, kind="stable")
            order = order[np.isfinite(mean_z[order])]  # too few images show it: not ranked
            top: list[RankedConcept] = [
                {"concept": concepts[i], "category": vocabulary.categories[i],
                 "z": float(mean_z[i]), "percentile": float(percentile[rows, i].mean()),
                 "as": float(np.median(attribute[rows, i])),
                 "angle_orig": float(np.median(angle_orig[rows, i])),
                 "angle_eq": float(np.median(angle_eq[rows, i]))} for i in order[:top_k]]
            return order, top

        everything = np.ones(len(labels), dtype=bool)
        order, top = ranking(everything)
        if not top:
            raise NotApplicable(f"no concept is shown by {MIN_SUPPORT} or more audit images: "
                                "nothing to rank")
        mean_z = _mean_where_present(z, present)
        # A category's score: per image its most carried member, averaged (each image has its
        # own colour, so a mean over the members would dilute a carried category).
        category_z = {c: float(z[:, [i for i, k in enumerate(vocabulary.categories) if k == c]]
                               .min(axis=1).mean()) for c in dict.fromkeys(vocabulary.categories)}
        top_category = min(category_z, key=category_z.__getitem__)
        class_positions = [lowered.get(name.lower()) for name in ctx.class_names]
        class_in_top = len({p for p in class_positions if p is not None} & set(order[:top_k].tolist()))

        per_class: dict[str, ClassResult] = {}
        top_per_class: dict[str, list[RankedConcept]] = {}
        own_rank: dict[int, float] = {}
        ranked_per_class: dict[str, int] = {}  # concepts shown by enough of the class's images
        for index, class_name in enumerate(ctx.class_names):
            rows = labels == index
            if not rows.any():
                continue
            class_order, class_top = ranking(rows)
            top_per_class[class_name] = class_top
            ranked_per_class[class_name] = len(class_order)
            if not class_top:  # no concept shown by enough of this class's images
                per_class[class_name] = ClassResult(n=int(rows.sum()))
                continue
            class_metrics = {"top_z": scalar_metric(class_top[0]["z"], METRICS["top_z"])}
            class_metrics["top_z"].description = (
                f"most null-carried concept: {class_top[0]['concept']!r}")
            position = class_positions[index]
            if position is not None and position in class_order:
                own_rank[index] = float(np.flatnonzero(class_order == position)[0] + 1)
                class_metrics["own_class_rank"] = scalar_metric(own_rank[index],
                                                                METRICS["own_class_rank"])
            per_class[class_name] = ClassResult(n=int(rows.sum()), metrics=class_metrics)

        metrics: dict[str, Metric] = {
            "top_z": scalar_metric(top[0]["z"], METRICS["top_z"]),
            "top_category_z": scalar_metric(category_z[top_category], METRICS["top_category_z"]),
        }
        metrics["top_z"].description = f"most null-carried concept: {top[0]['concept']!r}"
        metrics["top_category_z"].description = f"most null-carried category: {top_category!r}"
        observations = {
            "top_z": Observations.of([top[0]["z"]]),
            "top_category_z": Observations.of([category_z[top_category]]),
        }
        if own_rank:
            ranks = np.array(list(own_rank.values()))
            class_index = np.array(list(own_rank.keys()))
            metrics["own_class_rank"] = scalar_metric(ranks.min(), METRICS["own_class_rank"])
            metrics["own_class_in_top_k"] = scalar_metric(float((ranks <= top_k).any()),
                                                          METRICS["own_class_in_top_k"])
            metrics["class_concepts_in_top_k"] = scalar_metric(class_in_top,
                                                               METRICS["class_concepts_in_top_k"])
            # One value per class (not a sample of images): judged as it is.
            observations["own_class_rank"] = Observations.of(ranks, class_index, per_image=False)
            observations["own_class_in_top_k"] = Observations.of(
                (ranks <= top_k).astype(float), class_index, per_image=False)
            observations["class_concepts_in_top_k"] = Observations.of([class_in_top])

        shown = ", ".join(f"{t['concept']} (z {fixed(t['z'])})" for t in top[:5])
        summary = (
            f"most null-carried concepts ({vocabulary.name} vocabulary, {len(concepts)} "
            f"concepts): {shown}; top category: {top_category} (mean z "
            f"{format_number(category_z[top_category])})"
        )
        if own_rank:
            summary += f"; best rank of a class's own name: {int(min(own_rank.values()))}"
        if unrepresentable:
            left_out = ", ".join(list(unrepresentable)[:5])
            summary += (f"; {len(unrepresentable)} concept(s) left out, unknown to the joint "
                        f"space's text tower: {left_out}"
                        + (" ..." if len(unrepresentable) > 5 else ""))
        similar = order[:top_k]
        unit = torch.nn.functional.normalize(texts.double(), dim=-1)
        similarity = (unit[similar] @ unit[similar].T).numpy()
        data: RankedConceptsData = {
            "vocabulary": vocabulary.name,
            "concepts": list(concepts),
            "unrepresentable": unrepresentable,  # concept -> its unknown words
            "categories": list(vocabulary.categories),
            "as": np.median(attribute, axis=0).tolist(),
            "z": [float(v) if np.isfinite(v) else None for v in mean_z],
            "percentile": percentile.mean(axis=0).tolist(),
            "angle_orig": np.median(angle_orig, axis=0).tolist(),
            "angle_eq": np.median(angle_eq, axis=0).tolist(),
            "top": top,
            "top_per_class": top_per_class,
            "ranked_per_class": ranked_per_class,
            "category_z": category_z,
            "top_category": top_category,
            "similarity": similarity.tolist(),
            "similarity_concepts": [concepts[i] for i in similar],
            "similarity_z": [float(mean_z[i]) for i in similar],  # ranked: finite
            "support": present.sum(axis=0).tolist(),
        }
        return Measurements(summary, observations=observations, metrics=metrics,
                            per_class=per_class, data=dict(data))


def _representable(vocabulary: Vocabulary, space: Any) -> tuple[Vocabulary, dict[str, list[str]]]:
    """Leave out concepts with words the joint space cannot represent (a closed vocabulary maps
    them all to one unknown token, so their scores would be scores of nothing)."""
    unknown_words = getattr(space, "unknown_words", None)
    if unknown_words is None:
        return vocabulary, {}
    unknown = {c: words for c in vocabulary.concepts if (words := unknown_words(c))}
    if not unknown:
        return vocabulary, {}
    keep = [i for i, c in enumerate(vocabulary.concepts) if c not in unknown]
    if len(keep) < 3:
        examples = ", ".join(list(unknown)[:3])
        raise NotApplicable(
            f"the joint space {space.info.id} cannot represent {len(unknown)} of the "
            f"{len(vocabulary.concepts)} concepts of the {vocabulary.name} vocabulary (e.g. "
            f"{examples}): choose a vocabulary in its words")
    return Vocabulary(vocabulary.name, [vocabulary.concepts[i] for i in keep],
                      [vocabulary.categories[i] for i in keep], vocabulary.templates), unknown


def _chosen(params: ConceptsParams) -> str | list[str] | dict[str, list[str]]:
    if params.vocabulary is not None:
        return params.vocabulary
    return SPARSE_VOCABULARY if params.method == "sparse" else "default"


def _resolve(vocabulary: str | list[str] | dict[str, list[str]], class_names: list[str],
             extra: Sequence[str] = ()) -> Vocabulary:
    """The vocabulary, with ``extra`` concepts it lacks appended (category "extra")."""
    base = _resolve_base(vocabulary, class_names)
    known = {c.lower() for c in base.concepts}
    added = [c for c in dict.fromkeys(extra) if c.lower() not in known]
    if not added:
        return base
    templates = dict(base.templates)
    if len(set(templates.values())) == 1:  # the vocabulary's one prompt, for its additions too
        templates["extra"] = next(iter(templates.values()))
    return Vocabulary(base.name, base.concepts + added, base.categories + ["extra"] * len(added),
                      templates)


def _resolve_base(vocabulary: str | list[str] | dict[str, list[str]], class_names: list[str]
                  ) -> Vocabulary:
    if vocabulary == CLASSES_VOCABULARY:
        return Vocabulary(CLASSES_VOCABULARY, list(class_names), ["classes"] * len(class_names), {})
    if isinstance(vocabulary, str):
        return load_vocabulary(vocabulary)
    if isinstance(vocabulary, list):
        return Vocabulary("custom", list(vocabulary), ["custom"] * len(vocabulary), {})
    return _from_mapping("custom", vocabulary, {})


def _concept_embeddings(ctx: ModelContext, vocabulary: Vocabulary, template: str | None
                        ) -> torch.Tensor:
    """(V, k) text embeddings: one template for all, per-category templates, or the spec's."""
    import torch

    rows: list[torch.Tensor | None] = [None] * len(vocabulary.concepts)
    plain = []
    by_prompt: dict[int, str] = {}
    for i, (concept, category) in enumerate(zip(vocabulary.concepts, vocabulary.categories,
                                                strict=True)):
        chosen = template or vocabulary.templates.get(category)
        if chosen is None:
            plain.append(i)
        else:
            by_prompt[i] = chosen.replace("{concept}", concept)
    if by_prompt:
        embedded = ctx.text_embeddings(list(by_prompt.values()))
        for row, i in enumerate(by_prompt):
            rows[i] = embedded[row]
    if plain:
        embedded = ctx.prompt_embeddings([vocabulary.concepts[i] for i in plain])
        for row, i in enumerate(plain):
            rows[i] = embedded[row]
    return torch.stack([r.float().cpu() for r in rows])  # type: ignore[union-attr]


def _present(angles: np.ndarray, categories: list[str]) -> np.ndarray:
    """(n, V) mask: per image and category, the concept nearest to the image's T(f)."""
    present = np.zeros(angles.shape, dtype=bool)
    category_of = np.array(categories)
    rows = np.arange(angles.shape[0])
    for category in dict.fromkeys(categories):
        members = np.flatnonzero(category_of == category)
        present[rows, members[angles[:, members].argmin(axis=1)]] = True
    return present


def _mean_where_present(z: np.ndarray, present: np.ndarray) -> np.ndarray:
    """Mean z per concept over the images showing it; NaN (excluded from the ranking, never a
    z of 0 that would rank it among the rest) for concepts shown by fewer than MIN_SUPPORT
    images (or 2% of them)."""
    support = present.sum(axis=0)
    enough = support >= max(MIN_SUPPORT, 0.02 * len(z))
    total = np.where(present, z, 0.0).sum(axis=0)
    return np.where(enough, total / np.maximum(support, 1), np.nan)


def _standardise(values: np.ndarray) -> np.ndarray:
    """Row-wise z-scores (a row with no spread gets zeros)."""
    spread = values.std(axis=1, keepdims=True)
    centred = values - values.mean(axis=1, keepdims=True)
    return np.divide(centred, spread, out=np.zeros_like(centred), where=spread > 0)



def measure_sparse(ctx: ModelContext, params: ConceptsParams) -> Measurements:
    """method: sparse: the null-space shift decomposed into added and suppressed concepts."""
    import torch

    from singaudit.maths.sparse_concepts import (
        Decomposition,
        centred_concepts,
        nonnegative_lasso,
    )

    appended = list(params.extra_concepts) + list(ctx.class_names) + list(params.forbidden)
    vocabulary, unrepresentable = _representable(
        _resolve(_chosen(params), ctx.class_names, appended), ctx.joint_space)
    concepts = vocabulary.concepts
    index_of = {c.lower(): i for i, c in enumerate(concepts)}
    dictionary = centred_concepts(_concept_embeddings(ctx, vocabulary, params.template))
    pair = equivalent_translations(ctx)
    original, equivalent = pair.original.float(), pair.equivalent.float()
    # The translated null content in units of the equivalent's length: linear in the null
    # content (a linear translator's A P_n (f - reference)), so class means do not curve.
    shift = (original - equivalent) / equivalent.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    labels = ctx.labels.cpu().numpy().astype(np.int64)
    present = [(i, name) for i, name in enumerate(ctx.class_names) if (labels == i).any()]
    mean_shift = shift.mean(dim=0)
    # Contrast: what the class's images share beyond what every image's shift shares (a drift).
    class_shifts = [shift[torch.from_numpy(labels == i)].mean(dim=0)
                    - (mean_shift if params.contrast else 0.0) for i, _ in present]
    specificity = _specificity_p(shift, labels, [i for i, _ in present], params.contrast)
    generator = torch.Generator().manual_seed(0)
    random = torch.randn(REFERENCE_DRAWS, shift.shape[1], generator=generator)
    targets = torch.cat([shift, torch.stack(class_shifts + [mean_shift]), random])
    device = ctx.device

    def solve(targets: torch.Tensor, dictionary: torch.Tensor) -> Decomposition:
        return nonnegative_lasso(targets.to(device), dictionary.to(device),
                                 sparsity=params.sparsity, max_concepts=params.max_concepts)

    if params.sides == "joint":
        # One decomposition over the concepts and their negations: a suppressed concept is one
        # negative atom, not (as in two non-negative runs over centred concepts) the sum of the
        # rest of its category, which the L1 cost makes the costlier explanation.
        both = solve(targets, torch.cat([dictionary, -dictionary]))
        size = len(dictionary)
        added = Decomposition(both.weights[:, :size], both.cosine, both.iterations, both.limited,
                              both.optimal)
        suppressed = Decomposition(both.weights[:, size:], both.cosine, both.iterations,
                                   both.limited, both.optimal)
    else:
        added, suppressed = solve(targets, dictionary), solve(-targets, dictionary)
    added_cos, suppressed_cos = as_array(added.cosine), as_array(suppressed.cosine)
    limited = (added.limited | suppressed.limited).cpu().numpy()
    n, reference_rows = len(shift), slice(len(targets) - REFERENCE_DRAWS, len(targets))
    reference = float(np.quantile(np.concatenate([added_cos[reference_rows],
                                                  suppressed_cos[reference_rows]]),
                                  REFERENCE_QUANTILE))
    needed = reference + params.cosine_margin
    forbidden = {c.lower() for c in params.forbidden}

    def named(decomposition: Decomposition, row: int, cosine: float, shown: bool = True
              ) -> list[NamedConcept]:
        if cosine < needed or not shown:
            return []
        return [{"concept": concepts[i], "weight": w}
                for i, w in decomposition.top(row, params.top_k)]

    def weight_of(entries: list[NamedConcept], wanted: set[str]) -> float:
        return max((e["weight"] for e in entries if e["concept"].lower() in wanted), default=0.0)

    def decomposition(row: int) -> SparseDecompositionData:
        return {"added": named(added, row, added_cos[row]),
                "suppressed": named(suppressed, row, suppressed_cos[row]),
                "cosine_added": float(added_cos[row]),
                "cosine_suppressed": float(suppressed_cos[row]),
                "concepts_limited": bool(limited[row])}

    images = [decomposition(r) for r in range(n)]
    per_class: dict[str, ClassResult] = {}
    classes: dict[str, SparseClassData] = {}
    own_weights: list[float] = []
    forbidden_weights: list[float] = []
    for offset, (index, name) in enumerate(present):
        row = n + offset
        specific = bool(specificity[offset] <= SPECIFICITY_LEVEL)
        named_added = named(added, row, added_cos[row], specific)
        entry: SparseClassData = {
            "added": named_added,
            "suppressed": named(suppressed, row, suppressed_cos[row], specific),
            "cosine_added": float(added_cos[row]),
            "cosine_suppressed": float(suppressed_cos[row]),
            "concepts_limited": bool(limited[row]),
            "explained_added": bool(added_cos[row] >= needed),
            "explained_suppressed": bool(suppressed_cos[row] >= needed),
            "specific": specific, "specificity_p": float(specificity[offset]),
            "shift_norm": float(class_shifts[offset].norm()),
            "own_class_weight": weight_of(named_added, {name.lower()})}
        own_weights.append(entry["own_class_weight"])
        class_metrics = {"own_class_weight": scalar_metric(entry["own_class_weight"],
                                                           METRICS["own_class_weight"]),
                         "reconstruction_cosine": scalar_metric(
                             entry["cosine_added"], METRICS["reconstruction_cosine"])}
        if forbidden:
            entry["forbidden_weight"] = weight_of(named_added, forbidden)
            forbidden_weights.append(entry["forbidden_weight"])
            class_metrics["forbidden_weight"] = scalar_metric(entry["forbidden_weight"],
                                                              METRICS["forbidden_weight"])
        classes[name] = entry
        per_class[name] = ClassResult(n=int((labels == index).sum()), metrics=class_metrics)
    overall_row = n + len(present)
    overall = decomposition(overall_row)

    class_index = np.array([i for i, _ in present])
    metrics: dict[str, Metric] = {
        "reconstruction_cosine": scalar_metric(float(np.median(added_cos[:n])),
                                               METRICS["reconstruction_cosine"]),
    }
    observations = {"reconstruction_cosine": Observations.of(added_cos[:n], labels)}
    if present:
        metrics["own_class_weight"] = scalar_metric(max(own_weights), METRICS["own_class_weight"])
        observations["own_class_weight"] = Observations.of(own_weights, class_index,
                                                           per_image=False)
    if forbidden and present:
        metrics["forbidden_weight"] = scalar_metric(max(forbidden_weights),
                                                    METRICS["forbidden_weight"])
        observations["forbidden_weight"] = Observations.of(forbidden_weights, class_index,
                                                           per_image=False)

    def shown(entries: list[NamedConcept]) -> str:
        return ", ".join(f"{e['concept']} {fixed(e['weight'])}" for e in entries[:3]) or "-"

    def described(name: str, entry: SparseClassData) -> str:
        if not entry["specific"]:
            return f"{name}: not class-specific (p {fixed(entry['specificity_p'])})"
        if not entry["explained_added"]:
            return f"{name}: unexplained (cos {fixed(entry['cosine_added'])})"
        return f"{name}: {shown(entry['added'])} (cos {fixed(entry['cosine_added'])})"

    named_count = sum(bool(e["added"] or e["suppressed"]) for e in classes.values())
    limited_count = int(limited[:overall_row + 1].sum())
    summary = (f"sparse decomposition of the null-space shift over {len(concepts)} concepts "
               f"({vocabulary.name} vocabulary, at most {params.max_concepts} each); added per "
               f"class: {'; '.join(described(name, e) for name, e in classes.items())}; "
               f"{named_count} of {len(classes)} class shift(s) named (class-specific, and "
               f"cosine at least {fixed(needed)}: random directions reach {fixed(reference)})")
    if limited_count:
        summary += (f"; {limited_count} of {overall_row + 1} decompositions stopped at "
                    f"{params.max_concepts} concepts")
    optimal = added.optimal and suppressed.optimal
    if not optimal:
        summary += "; the solver's working set filled before the optimality conditions held"
    if unrepresentable:
        summary += (f"; {len(unrepresentable)} concept(s) left out, unknown to the joint "
                    "space's text tower")
    data: SparseConceptsData = {
        "method": "sparse", "vocabulary": vocabulary.name, "concept_count": len(concepts),
        "unrepresentable": unrepresentable, "sparsity": params.sparsity,
        "max_concepts": params.max_concepts, "cosine_margin": params.cosine_margin,
        "reference_cosine": reference, "explained_from_cosine": needed,
        "specificity_level": SPECIFICITY_LEVEL, "forbidden": list(params.forbidden),
        "shift": "(T(f) - T(f_eq)) / ||T(f_eq)||", "contrast": params.contrast,
        "sides": params.sides, "classes": classes, "overall": overall, "images": images,
        "solver": {"optimal": optimal, "limited": limited_count,
                   "iterations": max(added.iterations, suppressed.iterations)},
        "index_of_class": {name: index_of.get(name.lower()) for _, name in present}}
    return Measurements(summary, observations=observations, metrics=metrics,
                        per_class=per_class, data=dict(data))


def _specificity_p(shift: torch.Tensor, labels: np.ndarray, classes: list[int],
                   contrast: bool) -> np.ndarray:
    """Per class, the permutation p-value of its mean shift's length: the share of label
    shuffles (and the observed labels) giving the class's images a mean shift at least as long
    (with ``contrast``: measured from the mean shift of all images)."""
    import torch

    values = shift.double().cpu()
    mask = np.isin(labels, classes)
    values, kept = values[torch.from_numpy(mask)], labels[mask]
    position = {c: i for i, c in enumerate(classes)}
    group = torch.tensor([position[int(label)] for label in kept], dtype=torch.int64)
    counts = torch.bincount(group, minlength=len(classes)).double().unsqueeze(-1)
    centre = values.mean(dim=0) if contrast else torch.zeros(values.shape[1], dtype=torch.float64)

    def lengths(assignment: torch.Tensor) -> torch.Tensor:
        sums = torch.zeros(len(classes), values.shape[1], dtype=torch.float64).index_add_(
            0, assignment, values)
        return (sums / counts - centre).norm(dim=-1)

    observed = lengths(group)
    generator = torch.Generator().manual_seed(0)
    at_least = torch.ones(len(classes), dtype=torch.float64)  # the observed labels count
    for _ in range(SHUFFLES):
        at_least += lengths(group[torch.randperm(len(group), generator=generator)]) >= observed
    return (at_least / (SHUFFLES + 1)).numpy()
