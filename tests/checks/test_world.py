"""The synthetic test worlds differ in what the tests say they do: the leaky world is the clean
world plus class evidence planted in the head's null space, and nothing else."""

import pytest
import torch
from world import CLASSES, LEAK_AMPLITUDE, make_world


@pytest.fixture(scope="module")
def worlds(tmp_path_factory):
    path = tmp_path_factory.mktemp("worlds")
    return make_world(path / "clean"), make_world(path / "leaky", leaky=True)


def test_same_images_labels_embeddings_and_head(worlds):
    clean, leaky = worlds
    assert torch.equal(clean.labels, leaky.labels)
    assert torch.equal(clean.image_embeddings, leaky.image_embeddings)
    assert torch.equal(clean.classifier.weight, leaky.classifier.weight)
    assert torch.equal(clean.classifier.bias, leaky.classifier.bias)
    for clean_part, leaky_part in zip(clean.fit[1::2], leaky.fit[1::2], strict=True):
        assert torch.equal(clean_part, leaky_part)  # translator targets (embeddings) too


def _leak_by_class(clean, leaky) -> torch.Tensor:
    """(classes, m): the leaky-minus-clean feature of each class's audit images (one row each)."""
    difference = (leaky.features - clean.features).double()
    rows = []
    for i in range(len(CLASSES)):
        of_class = difference[clean.labels == i]
        assert len(of_class) > 0
        torch.testing.assert_close(of_class, of_class[:1].expand_as(of_class), atol=1e-5, rtol=0)
        rows.append(of_class[0])
    return torch.stack(rows)


def test_leak_is_one_null_space_vector_per_class(worlds):
    clean, leaky = worlds
    leak = _leak_by_class(clean, leaky)
    # Norm LEAK_AMPLITUDE each, mutually orthogonal (class evidence a * e_label, rotated)...
    torch.testing.assert_close(
        leak @ leak.T,
        LEAK_AMPLITUDE**2 * torch.eye(len(CLASSES), dtype=torch.float64),
        atol=1e-4,
        rtol=0,
    )
    # ...entirely in the null space: nothing the head reads differs.
    assert torch.linalg.vector_norm(clean.geometry.project_principal(leak), dim=1).max() < 1e-5


@pytest.mark.parametrize("part", [0, 2], ids=["fit train", "fit held-out"])
def test_translator_fit_rows_differ_by_the_same_leak_only(worlds, part):
    clean, leaky = worlds
    leak = _leak_by_class(clean, leaky)
    difference = (leaky.fit[part] - clean.fit[part]).double()
    distance_to_nearest = torch.cdist(difference, leak).min(dim=1).values
    assert distance_to_nearest.max() < 1e-5
    torch.testing.assert_close(
        clean.classifier.logits(clean.fit[part]),
        leaky.classifier.logits(leaky.fit[part]),
        atol=1e-4,
        rtol=0,
    )


def test_audit_logits_are_identical(worlds):
    clean, leaky = worlds
    torch.testing.assert_close(
        clean.classifier.logits(clean.features),
        leaky.classifier.logits(leaky.features),
        atol=1e-4,
        rtol=0,
    )
