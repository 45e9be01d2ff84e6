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
from singaudit.checks.class_semantics import ClassScores, class_scores, equivalent_translations
from singaudit.errors import DataError, NotApplicable, SpecError
from singaudit.io.atomic import atomic_path
from singaudit.results import Metric

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
        None, description="image keys to show; None: chosen by |AS|"
    )
    per_class: int = Field(
        1, ge=1, description="most and this many least leaking images per class"
    )
    max_images: int = Field(8, ge=1, description="cap on images (UnCLIP on a CPU is slow)")
    rank_by: Literal["specific_leak", "abs_as", "leak"] = Field(
        "specific_leak", description="the default verdict's specific leak, |AS| or -AS "
        "toward the class"
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
        chosen = select_images(ctx, scores, params)
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
        seconds = 0.0
        if generator is not None:
            start = time.perf_counter()
            renders_orig, renders_eq = _render_pairs(generator, original, equivalent, seeds, size)
            seconds = time.perf_counter() - start
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
            items.append(
                {
                    "image": writer.audit_image(index, f"{row:03d}_image.png"),
                    "key": ctx.image_keys[index],
                    "render_orig": writer.renders(renders_orig[row], seeds, f"{row:03d}_orig"),
                    "render_eq": writer.renders(renders_eq[row], seeds, f"{row:03d}_eq"),
                    "retrieval_orig": [writer.match(m) for m in matches_orig[row]],
                    "retrieval_eq": [writer.match(m) for m in matches_eq[row]],
                    "is": image_score,
                    "as": attribute_score,
                    "class": class_name,
                    "caption": f"{class_name or ctx.image_keys[index]}: AS {attribute_score:+.2f} "
                    f"deg, IS {image_score:.1f} deg",
                }
            )

        sources = [
            f"{generator.info.id}, seeds {seeds}, {seconds:.1f} s"
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
                    value=seconds, unit="s", description=METRICS["seconds"].description
                ),
            },
            artefacts={
                "items": items,
                "generator": generator.info.id if generator is not None else None,
                "seconds": seconds,
                "seeds": seeds if generator is not None else [],
                "prompts": scores.prompts,
                "gallery": (params.gallery or "audit images") if params.retrieval else None,
            },
        )


def select_images(
    ctx: ModelContext, scores: ClassScores, params: EvidenceParams
) -> list[int]:
    """Audit-image indices: the listed keys, else per class the ``per_class`` most and least
    leaking (by ``rank_by``), taken class by class (most leaking first) up to ``max_images``."""
    keys = ctx.image_keys
    if params.images is not None:
        position = {key: index for index, key in enumerate(keys)}
        unknown = [key for key in params.images if key not in position]
        if unknown:
            raise DataError(f"evidence images not among the audit images: {', '.join(unknown[:5])}")
        return [position[key] for key in params.images][: params.max_images]
    values = {"abs_as": np.abs(scores.attribute_score), "leak": -scores.attribute_score,
              "specific_leak": scores.specific_leak}[params.rank_by]
    labels = ctx.labels.cpu().numpy()
    most: list[list[int]] = []
    least: list[list[int]] = []
    for label in np.unique(labels[labels >= 0]):
        members = np.flatnonzero((labels == label) & np.isfinite(values))
        if members.size == 0:
            continue
        ordered = members[np.argsort(-values[members], kind="stable")].tolist()
        most.append(ordered[: params.per_class])
        least.append(ordered[::-1][: params.per_class])
    # Classes whose worst image leaks most come first, so a cap keeps the strongest evidence.
    class_order = sorted(range(len(most)), key=lambda c: -values[most[c][0]])
    chosen: list[int] = []
    for rank in range(params.per_class):
        for group in (most, least):
            for c in class_order:
                if rank < len(group[c]) and group[c][rank] not in chosen:
                    chosen.append(group[c][rank])
    return chosen[: params.max_images]


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
                thumbnail, f"gallery_{match.index:05d}.png"
            )
        return {
            "image": self._gallery_paths[match.index],
            "key": match.key,
            "similarity": match.similarity,
        }
