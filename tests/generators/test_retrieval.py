"""Retrieval evidence: cosine nearest neighbours and the gallery around them."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from singaudit.adapters.classifiers.base import Preprocessing
from singaudit.adapters.generators.retrieval import Gallery, nearest_by_cosine
from singaudit.adapters.joint_spaces.base import JointSpace, JointSpaceInfo
from singaudit.errors import DataError, SpecError


def test_nearest_by_cosine_ranks_by_angle_not_length() -> None:
    gallery = torch.tensor([[1.0, 0.0], [10.0, 10.0], [0.0, 1.0], [-1.0, 0.0]])
    indices, similarities = nearest_by_cosine(torch.tensor([[2.0, 0.2]]), gallery, k=3)
    assert indices.tolist() == [[0, 1, 2]]
    expected = [
        np.cos(np.arctan2(0.2, 2.0)),
        np.cos(np.pi / 4 - np.arctan2(0.2, 2.0)),
        np.sin(np.arctan2(0.2, 2.0)),
    ]
    np.testing.assert_allclose(similarities[0].numpy(), expected, rtol=1e-6)


def test_nearest_by_cosine_honours_exclusions_and_small_galleries() -> None:
    gallery = torch.eye(3)
    queries = torch.eye(3)[:2]
    indices, similarities = nearest_by_cosine(queries, gallery, k=5, exclude=[[0], [1]])
    assert indices.shape == (2, 2)  # 3 images, one excluded per query
    assert 0 not in indices[0].tolist() and 1 not in indices[1].tolist()
    assert torch.all(similarities == 0)


def test_a_zero_query_has_zero_similarity_not_nan() -> None:
    _, similarities = nearest_by_cosine(torch.zeros(1, 3), torch.eye(3), k=3)
    assert torch.all(similarities == 0)


class ColourSpace(JointSpace):
    """A tiny real joint space: a fixed random projection of an image's mean colour and layout."""

    def __init__(self) -> None:
        self.info = JointSpaceInfo(id="test:colour", embed_dim=6, weights_hash="0")
        self.preprocessing = Preprocessing(transform=self._to_tensor, describe="resize=8")
        self.projection = torch.randn(3 * 2 * 2, 6, generator=torch.Generator().manual_seed(0))

    @staticmethod
    def _to_tensor(image: Image.Image) -> torch.Tensor:
        array = np.asarray(image.convert("RGB").resize((8, 8)), dtype=np.float32) / 255.0
        return torch.from_numpy(array).permute(2, 0, 1)

    def encode_images(self, images: torch.Tensor) -> torch.Tensor:
        pooled = torch.nn.functional.adaptive_avg_pool2d(images, 2).flatten(1)
        return pooled @ self.projection

    def encode_text(self, prompts: Sequence[str]) -> torch.Tensor:
        raise NotImplementedError("images only")


COLOURS = {
    "red": (220, 20, 20),
    "green": (20, 200, 30),
    "blue": (30, 30, 220),
    "dark_red": (120, 10, 10),
}


@pytest.fixture()
def gallery_folder(tmp_path: Path) -> Path:
    for name, colour in COLOURS.items():
        sub = tmp_path / ("warm" if "red" in name else "cool")
        sub.mkdir(exist_ok=True)
        Image.new("RGB", (20, 12), colour).save(sub / f"{name}.png")
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / "broken.jpg").write_bytes(b"not a jpeg")
    return tmp_path


def test_a_folder_gallery_finds_the_nearest_images(gallery_folder: Path) -> None:
    space = ColourSpace()
    gallery = Gallery.from_folder(gallery_folder, space, batch_size=2)
    assert sorted(gallery.keys) == [
        "cool/blue.png",
        "cool/green.png",
        "warm/dark_red.png",
        "warm/red.png",
    ]
    query = space.encode_images(
        space.preprocessing.transform(Image.new("RGB", (8, 8), (200, 25, 25)))[None]
    )
    matches = gallery.search(query, k=2)[0]
    assert [m.key for m in matches] == ["warm/red.png", "warm/dark_red.png"]
    assert matches[0].similarity > matches[1].similarity > 0.9
    assert gallery.thumbnail(matches[0].index, 10).size == (10, 6)


def test_a_gallery_search_can_exclude_the_query_image(gallery_folder: Path) -> None:
    space = ColourSpace()
    gallery = Gallery.from_folder(gallery_folder, space)
    red = gallery.embeddings[gallery.keys.index("warm/red.png")][None]
    assert gallery.search(red, k=1)[0][0].key == "warm/red.png"
    assert (
        gallery.search(red, k=1, exclude_keys=[["warm/red.png"]])[0][0].key == "warm/dark_red.png"
    )


def test_gallery_errors_are_clear(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        Gallery.from_folder(tmp_path / "missing", ColourSpace())
    with pytest.raises(DataError, match="no readable images"):
        Gallery.from_folder(tmp_path, ColourSpace())
    gallery = Gallery(
        torch.randn(3, 6), ["a", "b", "c"], lambda i: Image.new("RGB", (4, 4)), name="three"
    )
    with pytest.raises(SpecError, match="512-d"):
        gallery.search(torch.randn(1, 512))
