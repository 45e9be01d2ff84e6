"""The shipped calibration weights: accuracies, interface contracts and the decoder."""

import numpy as np
import pytest
import torch

from singaudit.adapters.sources import load_classifier, load_generator, load_joint_space
from singaudit.calibration import scenes, zoo
from singaudit.calibration.train import zero_shot_accuracies
from singaudit.errors import SpecError, WeightsNotFound
from singaudit.maths.geometry import head_geometry

VARIANTS = ("clean", "leaky", "mixed", "natural")


@pytest.fixture(scope="module")
def held_out():
    # 50 scenes per class from the test split, which no model was trained or selected on.
    return scenes.generate("test", 0, 0, 300)


def _batch(source, images):
    return torch.stack([source.preprocessing.transform(_pil(im)) for im in images])


def _pil(pixels):
    from PIL import Image

    return Image.fromarray(pixels)


def test_metadata_records_every_accuracy_and_fits_the_size_budget():
    metadata = zoo.load_metadata()
    assert metadata["zero_shot"]["shape"] >= 0.95
    assert metadata["zero_shot"]["colour"] >= 0.90
    assert metadata["zero_shot"]["pattern"] >= 0.85
    assert all(metadata["classifier_accuracy"][v] >= 0.97 for v in VARIANTS)
    assert metadata["weights_total_bytes"] <= 10 * 1024 * 1024
    assert metadata["decoder"]["render_shape_accuracy_natural"] >= 0.9
    assert metadata["decoder"]["head_accuracy"]["shape"] >= 0.95
    assert {"seed", "versions", "timing", "ground_truth"} <= set(metadata)


def test_zero_shot_accuracy_of_the_shipped_joint_space(held_out):
    accuracies = zero_shot_accuracies(zoo.load_joint(), *held_out)
    # The bars, less a margin for a 300-scene sample.
    assert accuracies["shape"] >= 0.93
    assert accuracies["colour"] >= 0.87
    assert accuracies["pattern"] >= 0.82


@pytest.mark.parametrize("variant", VARIANTS)
def test_classifier_accuracy_and_linear_head_contract(variant, held_out):
    classifier = load_classifier(f"calibration:{variant}")
    images, params = held_out
    x = _batch(classifier, images)
    features = classifier.features(x)
    weight, bias = classifier.head()
    own_logits = classifier.forward(x)
    assert features.shape == (300, classifier.info.feature_dim)
    assert torch.allclose(classifier.logits(features), own_logits, atol=1e-5)
    assert torch.allclose(features @ weight.T + bias, own_logits, atol=1e-5)
    accuracy = (own_logits.argmax(1).numpy() == params.shape).mean()
    assert accuracy >= 0.95, accuracy
    geometry = head_geometry(weight)
    assert geometry.rank == 6 and geometry.null_dim == classifier.info.feature_dim - 6
    assert classifier.info.class_names == list(scenes.SHAPES)


@pytest.mark.parametrize("variant,null_dim", [("clean", 48), ("leaky", 16), ("mixed", 64)])
def test_block_heads_read_one_block_through_an_orthogonal_mix(variant, null_dim):
    weight, _ = load_classifier(f"calibration:{variant}").head()
    # W = [D^-1 | 0] Q^T with Q orthogonal and D diagonal: W W^T is diagonal, and no feature
    # axis is the null space.
    gram = weight @ weight.T
    assert torch.allclose(gram, torch.diag(torch.diagonal(gram)), atol=1e-4 * gram.max().item())
    assert head_geometry(weight).null_dim == null_dim
    assert (weight.abs() > 1e-6 * weight.abs().max()).float().mean() > 0.9


def test_joint_space_encodes_images_and_any_prompt(held_out):
    space = load_joint_space("calibration:joint")
    images = _batch(space, held_out[0][:4])
    embeddings = space.encode_images(images)
    text = space.encode_text(["an image of a star", "a zebra on the moon"])
    assert embeddings.shape == (4, space.info.embed_dim) and text.shape == (2, space.info.embed_dim)
    assert space.info.default_generator == "calibration:decoder"
    assert torch.isfinite(text).all()


@pytest.fixture(scope="module")
def decoder_and_embeddings(held_out):
    space = load_joint_space("calibration:joint")
    return load_generator("calibration:decoder"), space.encode_images(_batch(space, held_out[0]))


def _pixels(renders, seed_index=0):
    return np.stack([np.asarray(row[seed_index]) for row in renders])


def test_decoder_is_deterministic_and_depends_only_on_the_direction(decoder_and_embeddings):
    decoder, embeddings = decoder_and_embeddings
    first = decoder.render(embeddings[:6], seeds=[0, 1, 2], size=64)
    again = decoder.render(embeddings[:6], seeds=[0, 1, 2], size=64)
    scaled = decoder.render(embeddings[:6] * 3.0, seeds=[0, 1, 2], size=64)
    assert len(first) == 6 and all(len(row) == 3 for row in first)
    for k in range(3):
        assert np.array_equal(_pixels(first, k), _pixels(again, k))
        assert np.array_equal(_pixels(first, k), _pixels(scaled, k))
    assert decoder.render(embeddings[:1], seeds=[0], size=32)[0][0].size == (32, 32)
    with pytest.raises(SpecError, match="64-d"):
        decoder.render(torch.zeros(2, 10), seeds=[0], size=64)


def test_seed_zero_renders_the_most_probable_scene(decoder_and_embeddings):
    decoder, embeddings = decoder_and_embeddings
    module = decoder.module
    with torch.no_grad():
        logits = module(embeddings[:12])
    bins = {name: scores.argmax(1).numpy() for name, scores in logits.items()}
    # The background excludes the shape's colour; where its argmax is that colour, the next one.
    clash = bins["background"] == bins["colour"]
    runner_up = logits["background"].topk(2, dim=1).indices[:, 1].numpy()
    bins["background"] = np.where(clash, runner_up, bins["background"])
    expected = scenes.render(module.scene_params(bins))
    assert np.array_equal(_pixels(decoder.render(embeddings[:12], seeds=[0], size=64)), expected)


def test_one_seed_shares_its_draws_so_renders_differ_only_by_embedding(decoder_and_embeddings):
    decoder, embeddings = decoder_and_embeddings
    same = decoder.render(embeddings[[3, 3]], seeds=[7], size=64)
    assert np.array_equal(np.asarray(same[0][0]), np.asarray(same[1][0]))
    different = _pixels(decoder.render(embeddings[:6], seeds=[7], size=64))
    assert all(not np.array_equal(different[0], other) for other in different[1:])
    # Other seeds sample: some render of these scenes differs from the most probable one.
    sampled = _pixels(decoder.render(embeddings[:30], seeds=[7], size=64))
    assert not np.array_equal(sampled, _pixels(decoder.render(embeddings[:30], seeds=[0], size=64)))


def test_decoder_renders_show_the_shape_and_colour(held_out, decoder_and_embeddings):
    decoder, embeddings = decoder_and_embeddings
    params = held_out[1]
    pixels = _pixels(decoder.render(embeddings, seeds=[0], size=64))
    natural = load_classifier("calibration:natural")
    recognised = natural.forward(_batch(natural, pixels)).argmax(1).numpy() == params.shape
    assert recognised.mean() >= 0.8, recognised.mean()
    accuracies = zero_shot_accuracies(zoo.load_joint(), pixels, params)
    assert accuracies["colour"] >= 0.9


def test_unknown_names_and_missing_weights_are_clear(tmp_path):
    with pytest.raises(WeightsNotFound, match="unknown calibration classifier"):
        load_classifier("calibration:sneaky")
    with pytest.raises(WeightsNotFound, match="missing"):
        load_classifier("calibration:clean", weights_dir=tmp_path)
    with pytest.raises(WeightsNotFound, match="calibration:joint"):
        load_joint_space("calibration:clip")
