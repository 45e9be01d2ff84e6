"""Helpers shared by the adapter tests."""

import torch


def images(n: int = 2, size: int = 64, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, 3, size, size, generator=torch.Generator().manual_seed(seed))


def assert_logits_match(classifier, batch: torch.Tensor, tolerance: float = 1e-5) -> None:
    """features @ W.T + b reproduces the model's own logits."""
    with torch.inference_mode():
        features = classifier.features(batch)
        expected = classifier.forward(batch)
        got = classifier.logits(features)
    assert features.shape == (batch.shape[0], classifier.info.feature_dim)
    assert got.shape == expected.shape == (batch.shape[0], classifier.info.num_classes)
    assert torch.allclose(got, expected, atol=tolerance, rtol=tolerance), (
        (got - expected).abs().max()
    )
