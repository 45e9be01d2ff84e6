import time

import numpy as np
import pytest

from singaudit.adapters.sources import load_data
from singaudit.calibration import captions, scenes
from singaudit.errors import DataError


def test_generation_is_deterministic_and_slice_stable():
    images_a, params_a = scenes.generate("train", 3, 0, 600)
    images_b, _ = scenes.generate("train", 3, 0, 600)
    images_slice, params_slice = scenes.generate("train", 3, 250, 100)
    assert np.array_equal(images_a, images_b)
    assert np.array_equal(images_a[250:350], images_slice)
    assert params_a.row_hash(250) == params_slice.row_hash(0)


def test_splits_and_seeds_differ():
    train, _ = scenes.generate("train", 0, 0, 32)
    test, _ = scenes.generate("test", 0, 0, 32)
    other_seed, _ = scenes.generate("train", 1, 0, 32)
    assert not np.array_equal(train, test)
    assert not np.array_equal(train, other_seed)


def test_attribute_ranges():
    images, params = scenes.generate("validation", 0, 0, 1200)
    assert images.shape == (1200, 64, 64, 3) and images.dtype == np.uint8
    assert np.bincount(params.shape, minlength=6).tolist() == [200] * 6
    assert set(np.unique(params.colour)) == set(range(len(scenes.COLOURS)))
    assert set(np.unique(params.pattern)) == set(range(len(scenes.PATTERNS)))
    assert np.all(params.colour != params.background)
    assert params.size.min() >= scenes.SIZE_RANGE[0] and params.size.max() <= scenes.SIZE_RANGE[1]
    assert params.centre.min() >= scenes.CENTRE_RANGE[0]
    assert params.centre.max() <= scenes.CENTRE_RANGE[1]
    assert len(scenes.SHAPES) >= 6 and len(scenes.COLOURS) >= 6 and len(scenes.PATTERNS) >= 4


def test_shapes_have_equal_area_and_the_foreground_colour():
    _, params = scenes.generate("validation", 0, 0, 60)
    plain = params.with_values(pattern=0, size=12.0, centre=np.array([32.0, 32.0]), rotation=0.0)
    images = scenes.render(plain).astype(np.float32)
    foreground = np.abs(images - plain.colour_rgb[:, None, None, :]).sum(-1) < 30
    areas = foreground.reshape(60, -1).sum(1)
    # Equal-area outlines: every class covers about pi * 12^2 = 452 pixels.
    assert np.all(np.abs(areas - np.pi * 144) < 0.12 * np.pi * 144)


def test_throughput_is_measured():
    params = scenes.sample_params("train", 0, 0, 1024)
    start = time.process_time()
    images = scenes.render(params)
    seconds = time.process_time() - start
    print(f"scene throughput: {1024 / seconds:.0f} images per CPU second")
    assert images.shape[0] == 1024


def test_captions_name_only_true_attributes():
    _, params = scenes.generate("train", 0, 0, 300)
    texts = captions.captions_for(params, np.random.default_rng(0))
    for i, text in enumerate(texts):
        named = [s for s in scenes.SHAPES if f" {s}" in text]
        assert named in ([], [scenes.SHAPES[params.shape[i]]]), text
    assert len(set(texts)) > 200
    ids = captions.tokenize(texts)
    assert ids.shape == (300, captions.MAX_TOKENS) and (ids == 1).sum() == 0  # no unknown words
    assert captions.tokenize(["a zebra"])[0, 1] == 1


def test_data_source_serves_labelled_scenes():
    source = load_data("calibration:test", scenes=24, scene_seed=2)
    records = source.records()
    assert len(records) == 24 and source.class_names == list(scenes.SHAPES)
    assert [r.label for r in records[:6]] == list(range(6))
    image = source.load(records[5])
    assert image.size == (64, 64) and image.mode == "RGB"
    again = load_data("calibration:test", scenes=24, scene_seed=2)
    assert np.array_equal(np.asarray(image), np.asarray(again.load(again.records()[5])))
    assert source.content_hash(records[5]) == again.content_hash(again.records()[5])
    assert source.content_hash(records[5]) != source.content_hash(records[6])


def test_data_source_errors_are_clear():
    with pytest.raises(DataError, match="unknown calibration split"):
        load_data("calibration:holdout")
    with pytest.raises(DataError, match="scenes must be at least 1"):
        load_data("calibration:test", scenes=0)
