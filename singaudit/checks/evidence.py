"""Visual evidence for people: what the classifier sees (T(f)) beside an equivalent it cannot
tell apart (T(f_eq), f_eq = P_p f), rendered by the configured generator and/or retrieved from a
gallery. Informational: every verdict comes from the other checks' logits and embeddings.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np
from PIL import Image
from pydantic import Field

from singaudit.checks.base import Check, CheckParams, Measurements, MetricSpec, ModelContext
from singaudit.checks.class_semantics import (
    DEFAULT_VERDICT_METRIC,
    ClassScores,
    class_scores,
    equivalent_translations,
    null_alone_scores,
)
from singaudit.errors import DataError, NotApplicable, SpecError
from singaudit.io.atomic import atomic_path
from singaudit.results import Metric
from singaudit.wording import fixed, seconds

if TYPE_CHECKING:  # torch loads when a check measures, not to validate a spec
    import torch

    from singaudit.adapters.generators.base import Generator
    from singaudit.adapters.generators.retrieval import Gallery, Match

logger = logging.getLogger(__name__)

METRICS = {
    "images": MetricSpec("images with visual evidence", unit=""),
    "seconds": MetricSpec("generation time", unit="s"),
}


class EvidenceParams(CheckParams):
    """Which images get evidence and how."""

    images: list[str] | None = Field(
        None, description="image keys to show; None: chosen by rank_by"
    )
    per_class: int = Field(
        1, ge=1, description="most and this many least leaking images per class"
    )
    max_images: int = Field(8, ge=1, description="cap on images (UnCLIP on a CPU is slow)")
    rank_by: Literal[
        "carried_share", "carried", "unique", "specific_leak", "abs_as", "leak"
    ] | None = Field(
        None, description="None: the reading class_semantics judges by default; or another of "
        "its per-image readings (carried_share, carried, unique: the null component alone; "
        "specific_leak, abs_as, leak: what the translator draws)"
    )
    seeds: list[int] | None = Field(
        None, min_length=1, description="None: the spec's generator seeds"
    )
    size: int | None = Field(None, gt=0, le=1024, description="None: the spec's generator size")
    retrieval: bool = Field(True, description="also show the nearest gallery images")
    retrieval_k: int = Field(3, ge=1, description="gallery images per query")
    gallery: str | None = Field(None, description="an image folder; None: the audit's images")


class EvidenceCheck(Check[EvidenceParams]):
    """Renders and/or retrieves images for the most and least leaking images of each class."""

    name = "evidence"
    headline = "images"
    metrics: ClassVar[dict[str, MetricSpec]] = METRICS
    requires_null_space = True

    def measure(self, ctx: ModelContext, params: EvidenceParams) -> Measurements:
        from singaudit.maths.scores import rescale_to_reference  # lazy: torch

        require_joint_space = getattr(ctx, "require_joint_space", None)
        if require_joint_space is not None:
            require_joint_space()
        generator, no_generator_reason = _configured_generator(ctx)
        if generator is None and not params.retrieval:
            raise NotApplicable(f"{no_generator_reason} and retrieval is off: no evidence to show")
        scores = class_scores(ctx)
        rank_by = params.rank_by or DEFAULT_VERDICT_METRIC
        ranking = ranking_values(ctx, scores, rank_by) if params.images is None else None
        chosen = select_images(ctx, ranking, params)
        if not chosen:
            raise NotApplicable("no labelled audit images to show evidence for")
        # The runner may pass the spec's generator seeds and size; the check's own params win.
        seeds = list(params.seeds or ctx.generator_seeds)
        size = int(params.size or ctx.generator_size)

        pair = equivalent_translations(ctx)
        original = pair.original[chosen]
        # A generator reads the norm; the scores read only angles (METHOD.md, norm rescale).
        equivalent = rescale_to_reference(pair.equivalent[chosen], original)
        renders_orig: list[list[Image.Image]] = [[] for _ in chosen]
        renders_eq = renders_orig
        elapsed = 0.0
        if generator is not None:
            start = time.perf_counter()
            renders_orig, renders_eq = _render_pairs(generator, original, equivalent, seeds, size)
            elapsed = time.perf_counter() - start
        matches_orig: list[list[Match]] = [[] for _ in chosen]
        matches_eq = matches_orig
        gallery: Gallery | None = None
        if params.retrieval:
            gallery = _gallery(ctx, params)
            # In the audit's own gallery an image would find itself first: leave it out.
            exclude = [[ctx.image_keys[i]] for i in chosen] if params.gallery is None else None
            matches_orig = gallery.search(original, params.retrieval_k, exclude)
            matches_eq = gallery.search(equivalent, params.retrieval_k, exclude)

        writer = _EvidenceWriter(ctx, size, gallery)
        items = []
        for row, index in enumerate(chosen):
            label = int(ctx.labels[index])
            class_name = ctx.class_names[label] if label >= 0 else ""
            image_score = float(scores.image_score[index])
            attribute_score = float(scores.attribute_score[index])
            ranked = "" if ranking is None else (
                f"{rank_by} {fixed(ranking.reshape(len(ranking), -1)[index, 0], 2, signed=True)}"
                f"{'' if rank_by in _NULL_SHARES else ' deg'}, ")
            stem = _padded(row, 3)
            items.append(
                {
                    "image": writer.audit_image(index, f"{stem}_image.png"),
                    "key": ctx.image_keys[index],
                    "render_orig": writer.renders(renders_orig[row], seeds, f"{stem}_orig"),
                    "render_eq": writer.renders(renders_eq[row], seeds, f"{stem}_eq"),
                    "retrieval_orig": [writer.match(m) for m in matches_orig[row]],
                    "retrieval_eq": [writer.match(m) for m in matches_eq[row]],
                    "is": image_score,
                    "as": attribute_score,
                    "class": class_name,
                    "caption": f"{class_name or ctx.image_keys[index]}: {ranked}AS "
                    f"{fixed(attribute_score, 2, signed=True)} deg, IS {fixed(image_score, 1)} deg",
                }
            )

        sources = [
            f"{generator.info.id}, seeds {seeds}, {seconds(elapsed)}"
            if generator is not None
            else no_generator_reason
        ]
        if params.retrieval:
            sources.append(f"retrieval from {params.gallery or 'the audit images'}")
        return Measurements(
            f"evidence for {len(items)} images ({'; '.join(sources)}); "
            "T(f_eq) rescaled to the norm of T(f)",
            metrics={
                "images": Metric(
                    value=len(items), unit="", description=METRICS["images"].description
                ),
                "seconds": Metric(
                    value=elapsed, unit="s", description=METRICS["seconds"].description
                ),
            },
            artefacts={
                "items": items,
                "generator": generator.info.id if generator is not None else None,
                "seconds": elapsed,
                "seeds": seeds if generator is not None else [],
                "prompts": scores.prompts,
                "gallery": (params.gallery or "audit images") if params.retrieval else None,
            },
        )


def ranking_values(ctx: ModelContext, scores: ClassScores, rank_by: str) -> np.ndarray:
    """Per audit image (NaN unlabelled), the reading evidence ranks by (by default the one the
    class_semantics verdict judges, shared with that check); for a share, (n, 2) with ``carried``
    beside it: a share is undefined (NaN) in a class the joint space separates too little, where
    ``carried``, its numerator, still orders the images."""
    values = _reading(ctx, scores, rank_by)
    if rank_by == "carried" or rank_by not in _NULL_SHARES:
        return values
    return np.stack([values, _reading(ctx, scores, "carried")], axis=1)


# Null-component readings that divide by a per-class quantity (NaN where it is too small).
_NULL_SHARES = ("carried_share",)


def _reading(ctx: ModelContext, scores: ClassScores, rank_by: str) -> np.ndarray:
    translator_readings = {
        "specific_leak": lambda: scores.specific_leak,
        "abs_as": lambda: np.abs(scores.attribute_score),
        "leak": lambda: -scores.attribute_score,
    }
    if rank_by in translator_readings:
        return np.asarray(translator_readings[rank_by](), dtype=float)
    values = getattr(null_alone_scores(ctx), rank_by, None)  # the null component's readings
    if not isinstance(values, np.ndarray):
        raise SpecError(f"evidence cannot rank by {rank_by!r}: class_semantics has no such "
                        "per-image reading")
    return values.astype(float)


def select_images(
    ctx: ModelContext, values: np.ndarray | None, params: EvidenceParams
) -> list[int]:
    """Audit-image indices: the listed keys, else per class the ``per_class`` most and least
    leaking by ``values`` (per audit image, one reading or several, see ``ranking_values``),
    taken class by class (most leaking first) up to ``max_images``."""
    keys = ctx.image_keys
    if params.images is not None:
        position = {key: index for index, key in enumerate(keys)}
        unknown = [key for key in params.images if key not in position]
        if unknown:
            raise DataError(f"evidence images not among the audit images: {', '.join(unknown[:5])}")
        return [position[key] for key in params.images][: params.max_images]
    if values is None:
        raise ValueError("select_images needs per-image values when no images are listed")
    labels = ctx.labels.cpu().numpy()
    readings = values.reshape(len(values), -1)
    # Descending by the first reading, then by the next where it is missing (NaN sorts last).
    keys_desc = -np.where(np.isfinite(readings), readings, -np.inf)
    defined = np.isfinite(readings).any(axis=1)
    most: list[list[int]] = []
    least: list[list[int]] = []
    for label in np.unique(labels[labels >= 0]):
        members = np.flatnonzero((labels == label) & defined)
        if members.size == 0:
            continue
        order = np.lexsort(keys_desc[members].T[::-1])  # stable; the first reading leads
        ordered = members[order].tolist()
        most.append(ordered[: params.per_class])
        least.append(ordered[::-1][: params.per_class])
    # Classes whose worst image leaks most come first, so a cap keeps the strongest evidence.
    class_order = sorted(range(len(most)), key=lambda c: tuple(keys_desc[most[c][0]]))
    chosen: list[int] = []
    for rank in range(params.per_class):
        for group in (most, least):
            for c in class_order:
                if rank < len(group[c]) and group[c][rank] not in chosen:
                    chosen.append(group[c][rank])
    return chosen[: params.max_images]


def _padded(index: int, digits: int) -> str:
    """A file-name index with leading zeros (a machine format: files sort in order)."""
    return str(index).zfill(digits)


def _configured_generator(ctx: ModelContext) -> tuple[Generator | None, str]:
    try:
        generator = ctx.generator()
    except NotApplicable as reason:
        return None, str(reason)
    return generator, "no generator configured"


def _gallery(ctx: ModelContext, params: EvidenceParams) -> Gallery:
    from singaudit.adapters.generators.retrieval import Gallery  # lazy: torch

    if params.gallery is not None:
        return Gallery.from_folder(Path(params.gallery), ctx.joint_space)
    return Gallery(ctx.image_embeddings, ctx.image_keys, ctx.load_image, name="audit images")


def _render_pairs(
    generator: Generator,
    original: torch.Tensor,
    equivalent: torch.Tensor,
    seeds: list[int],
    size: int,
) -> tuple[list[list[Image.Image]], list[list[Image.Image]]]:
    """Renders of T(f) and T_hat(f_eq) in one call, so each seed's noise is shared by the pair."""
    import torch

    if generator.info.embed_dim != original.shape[1]:
        raise SpecError(
            f"generator {generator.info.id!r} decodes {generator.info.embed_dim}-d embeddings but "
            f"the joint space gives {original.shape[1]}-d ones; choose a matching generator, or "
            f"remove the generator to get retrieval evidence only"
        )
    logger.info(
        "evidence: rendering %d image pairs x %d seeds with %s (slow without a GPU)",
        original.shape[0],
        len(seeds),
        generator.info.id,
    )
    rendered = generator.render(torch.cat([original, equivalent]), seeds, size)
    return rendered[: original.shape[0]], rendered[original.shape[0] :]


class _EvidenceWriter:
    """Writes evidence PNGs under the context's artefact folder; returns results-relative paths."""

    def __init__(self, ctx: ModelContext, size: int, gallery: Gallery | None) -> None:
        self.ctx = ctx
        self.size = size
        self.gallery = gallery
        self.folder = ctx.artefact_dir / "evidence"
        self.prefix = f"{ctx.artefact_prefix}/evidence" if ctx.artefact_prefix else "evidence"
        self._gallery_paths: dict[int, str] = {}  # a gallery image may match many queries

    def save(self, image: Image.Image, name: str) -> str:
        with atomic_path(self.folder / name) as tmp:
            image.save(tmp, format="PNG")
        return f"{self.prefix}/{name}"

    def audit_image(self, index: int, name: str) -> str:
        image = self.ctx.load_image(index).convert("RGB")
        image.thumbnail((self.size, self.size), Image.Resampling.BICUBIC)
        return self.save(image, name)

    def renders(self, images: list[Image.Image], seeds: list[int], stem: str) -> list[str]:
        return [self.save(image, f"{stem}_seed{seed}.png") for image, seed in zip(images, seeds)]

    def match(self, match: Match) -> dict[str, Any]:
        if match.index not in self._gallery_paths:
            assert self.gallery is not None
            thumbnail = self.gallery.thumbnail(match.index, self.size)
            self._gallery_paths[match.index] = self.save(
                thumbnail, f"gallery_{_padded(match.index, 5)}.png"
            )
        return {
            "image": self._gallery_paths[match.index],
            "key": match.key,
            "similarity": match.similarity,
        }
