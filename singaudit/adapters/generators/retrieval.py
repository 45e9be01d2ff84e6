"""Retrieval evidence: the gallery images nearest to T(f) and T(f_eq) by cosine similarity.

It needs no generator, so it works for every joint space: the audit's own images or a user's
gallery folder, embedded by the same joint space as the queries.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from PIL import Image, UnidentifiedImageError

from singaudit.adapters.joint_spaces.base import JointSpace
from singaudit.errors import DataError, SpecError

logger = logging.getLogger(__name__)

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp"})


def nearest_by_cosine(
    queries: torch.Tensor,
    gallery: torch.Tensor,
    k: int,
    exclude: Sequence[Sequence[int]] | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(indices, similarities), each (q, min(k, available)), best first, for (q, d) queries
    against an (n, d) gallery. ``exclude[i]`` lists gallery indices query i must not return."""
    if queries.ndim != 2 or gallery.ndim != 2 or queries.shape[1] != gallery.shape[1]:
        raise ValueError(
            f"queries {tuple(queries.shape)} and gallery {tuple(gallery.shape)} must be (q, d), (n, d)"
        )
    if k < 1:
        raise ValueError("k must be at least 1")
    # A zero vector has cosine 0 with everything rather than NaN.
    unit_queries = torch.nn.functional.normalize(queries.double(), dim=1)
    unit_gallery = torch.nn.functional.normalize(gallery.double(), dim=1)
    similarities = unit_queries @ unit_gallery.T
    available = gallery.shape[0]
    if exclude is not None:
        if len(exclude) != queries.shape[0]:
            raise ValueError("exclude needs one list of indices per query")
        for row, indices in enumerate(exclude):
            if len(indices):
                similarities[row, list(indices)] = float("-inf")
        available -= max((len(set(indices)) for indices in exclude), default=0)
    top = torch.topk(similarities, k=max(0, min(k, available)), dim=1)
    return top.indices, top.values.float()


@dataclass(frozen=True)
class Match:
    key: str
    index: int  # into the gallery
    similarity: float  # cosine, in [-1, 1]


class Gallery:
    """Embeddings (n, d) with their keys and a loader of each image, for nearest-image search."""

    def __init__(
        self,
        embeddings: torch.Tensor,
        keys: Sequence[str],
        load_image: Callable[[int], Image.Image],
        name: str = "",
    ) -> None:
        if embeddings.ndim != 2 or embeddings.shape[0] != len(keys):
            raise ValueError(f"{len(keys)} keys for embeddings of shape {tuple(embeddings.shape)}")
        if embeddings.shape[0] == 0:
            raise DataError(f"the retrieval gallery {name!r} holds no images")
        self.embeddings = embeddings.detach().float().cpu()
        self.keys = list(keys)
        self._load_image = load_image
        self.name = name
        self._index_of = {key: index for index, key in enumerate(self.keys)}

    def __len__(self) -> int:
        return len(self.keys)

    @property
    def embed_dim(self) -> int:
        return int(self.embeddings.shape[1])

    def search(
        self, queries: torch.Tensor, k: int = 4, exclude_keys: Sequence[Sequence[str]] | None = None
    ) -> list[list[Match]]:
        """The k nearest gallery images per query; ``exclude_keys[i]`` (e.g. query i's own image
        when the gallery is the audit's images) are never returned for query i."""
        if queries.shape[-1] != self.embed_dim:
            raise SpecError(
                f"retrieval queries are {queries.shape[-1]}-d but the gallery {self.name!r} holds "
                f"{self.embed_dim}-d embeddings; embed the gallery with the audit's joint space"
            )
        exclude = None
        if exclude_keys is not None:
            exclude = [
                [self._index_of[key] for key in keys if key in self._index_of]
                for keys in exclude_keys
            ]
        indices, similarities = nearest_by_cosine(
            queries.detach().float().cpu(), self.embeddings, k, exclude
        )
        return [
            [Match(self.keys[i], i, s) for i, s in zip(row.tolist(), sims.tolist(), strict=True)]
            for row, sims in zip(indices, similarities, strict=True)
        ]

    def image(self, index: int) -> Image.Image:
        return self._load_image(index)

    def thumbnail(self, index: int, size: int) -> Image.Image:
        """The image fitted inside size x size, aspect kept."""
        image = self.image(index).convert("RGB")
        image.thumbnail((size, size), Image.Resampling.BICUBIC)
        return image

    @classmethod
    def from_folder(
        cls, folder: str | Path, joint_space: JointSpace, batch_size: int = 32
    ) -> Gallery:
        """Every readable image under ``folder`` (recursively, sorted), embedded by ``joint_space``;
        unreadable files are skipped with a warning."""
        root = Path(folder).expanduser()
        if not root.is_dir():
            raise DataError(f"retrieval gallery folder {str(root)!r} does not exist")
        paths = sorted(
            p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
        )
        device, dtype = _placement(joint_space)
        kept: list[Path] = []
        embeddings: list[torch.Tensor] = []
        for start in range(0, len(paths), batch_size):
            tensors = []
            for path in paths[start : start + batch_size]:
                try:
                    tensors.append(joint_space.preprocessing.transform(_open_rgb(path)))
                except (OSError, UnidentifiedImageError) as error:
                    logger.warning(
                        "retrieval gallery: skipping unreadable image %s (%s)", path, error
                    )
                    continue
                kept.append(path)
            if tensors:
                batch = torch.stack(tensors).to(device=device, dtype=dtype)
                with torch.no_grad():
                    embeddings.append(joint_space.encode_images(batch).float().cpu())
        if not kept:
            raise DataError(f"retrieval gallery folder {str(root)!r} holds no readable images")
        return cls(
            torch.cat(embeddings),
            [path.relative_to(root).as_posix() for path in kept],
            lambda index: _open_rgb(kept[index]),
            name=str(root),
        )


def _placement(joint_space: JointSpace) -> tuple[torch.device, torch.dtype]:
    # Adapters expect inputs on their module's device and in its dtype (the runner moves them).
    module = getattr(joint_space, "module", None)
    parameter = next(module.parameters(), None) if isinstance(module, torch.nn.Module) else None
    if parameter is None:
        return torch.device("cpu"), torch.float32
    return parameter.device, parameter.dtype


def _open_rgb(path: Path) -> Image.Image:
    with Image.open(path) as image:
        return image.convert("RGB")
