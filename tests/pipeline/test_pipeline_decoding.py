"""Batched preprocessing: the same input tensors as the per-image path, bit for bit."""

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision import transforms

from singaudit.adapters.classifiers._preprocess import RGBThen, described, standard_preprocessing
from singaudit.adapters.sources import load_data
from singaudit.pipeline.decoding import BatchedPreprocessing, batched_preprocessing
from singaudit.pipeline.executors import base
from singaudit.pipeline.features import extract


def photos() -> list[Image.Image]:
    """Noisy images of several sizes and modes (grey, RGBA, palette), so rounding is exercised."""
    rng = np.random.default_rng(0)
    rgb = [Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8))
           for h, w in ((37, 45), (64, 40), (30, 30))]
    grey = Image.fromarray(rng.integers(0, 256, (33, 50), dtype=np.uint8))
    return [*rgb, grey, rgb[0].convert("RGBA"), rgb[1].convert("P")]


def preprocessings():
    timm = pytest.importorskip("timm")
    config = {"input_size": (3, 28, 28), "interpolation": "bicubic", "crop_pct": 0.875,
              "mean": (0.5, 0.5, 0.5), "std": (0.5, 0.5, 0.5)}
    return [standard_preprocessing(resize=32, crop=28),
            described(timm.data.create_transform(**config), "timm")]


@pytest.mark.parametrize("layout", ["channels_last", "contiguous"])
def test_batched_preprocessing_equals_the_per_image_transform_exactly(layout):
    for preprocessing in preprocessings():
        batched = batched_preprocessing(preprocessing.transform)
        assert batched is not None
        expected = torch.stack([preprocessing.transform(image) for image in photos()])
        got = batched.batch([batched.image(image) for image in photos()], layout)
        assert got.dtype == expected.dtype == torch.float32
        assert torch.equal(got, expected)
        memory_format = torch.channels_last if layout == "channels_last" else torch.contiguous_format
        assert got.is_contiguous(memory_format=memory_format)


def test_a_batch_mixing_pixels_and_finished_tensors_equals_the_per_image_path():
    mean, std = (0.1, 0.2, 0.3), (0.7, 0.8, 0.9)

    def steps(image):  # a float array is finished per image (ToTensor does not scale it)
        return np.asarray(image, dtype=np.float32) / 7 if image.getpixel((0, 0))[0] == 9 else image

    batched = BatchedPreprocessing(RGBThen(steps), mean, std)
    reference = RGBThen(transforms.Compose(
        [steps, transforms.ToTensor(), transforms.Normalize(mean, std)]))
    images = [Image.new("RGB", (20, 16), (9, 99, 199)), Image.new("RGB", (20, 16), (1, 2, 3))]
    parts = [batched.image(image) for image in images]
    assert [p.dtype for p in parts] == [torch.float32, torch.uint8]
    got = batched.batch(parts, "channels_last")
    assert torch.equal(got, torch.stack([reference(image) for image in images]))
    assert got.is_contiguous(memory_format=torch.channels_last)


def test_other_preprocessings_keep_the_per_image_path():
    normalise_last = transforms.Compose([transforms.ToTensor(), transforms.Normalize(0.5, 0.5)])
    assert batched_preprocessing(RGBThen(normalise_last)) is not None  # scalar mean: 3 channels
    tensor_step_after = transforms.Compose(
        [transforms.ToTensor(), transforms.Normalize(0.5, 0.5), transforms.RandomErasing()])
    no_normalise = transforms.Compose([transforms.Resize(8), transforms.ToTensor()])
    for transform in (RGBThen(tensor_step_after), RGBThen(no_normalise), normalise_last,
                      RGBThen(lambda image: image), lambda image: image):
        assert batched_preprocessing(transform) is None


def test_extraction_values_identical_with_and_without_batched_preprocessing(
    image_folder, monkeypatch
):
    """Same values bit for bit, so features cached by the per-image path stay valid."""
    timm = pytest.importorskip("timm")
    torch.manual_seed(0)
    model = timm.create_model("resnet10t", pretrained=False, num_classes=3).eval()
    from singaudit.adapters.classifiers.hook_source import from_module

    classifier = from_module(model, "fc", name="hook:resnet10t", verify=False,
                             preprocessing=standard_preprocessing(resize=36, crop=32))
    source = load_data(f"folder:{image_folder}")
    batched = extract(classifier, source, batch_size=4, progress=False)
    monkeypatch.setattr(base, "batched_preprocessing", lambda transform: None)
    per_image = extract(classifier, source, batch_size=4, progress=False)
    assert batched.values.shape == (10, model.num_features)
    assert torch.equal(batched.values, per_image.values)


def test_a_batch_decoded_over_threads_keeps_its_order_and_values(image_folder):
    from concurrent.futures import ThreadPoolExecutor

    source = load_data(f"folder:{image_folder}")
    records = list(source.records())
    batched = batched_preprocessing(standard_preprocessing(resize=36, crop=32).transform)
    alone = base.Images(source, records, batched.image)
    positions = [3, 0, 2, 1]
    with ThreadPoolExecutor(2) as pool:
        pooled = base.Images(source, records, batched.image, pool).__getitems__(positions)
    assert [item[0] for item in pooled] == positions
    for (_, tensor, reason), (_, expected, _) in zip(pooled, alone.__getitems__(positions),
                                                     strict=True):
        assert reason == "" and np.array_equal(np.asarray(tensor), np.asarray(expected))


def test_a_decoding_error_reaches_the_caller():
    from concurrent.futures import ThreadPoolExecutor

    class Broken(base.Images):
        def __getitem__(self, position):
            if position == 1:
                raise RuntimeError("disk vanished")
            return position, torch.zeros(1), ""

    with ThreadPoolExecutor(2) as pool, pytest.raises(RuntimeError, match="disk vanished"):
        Broken(None, [None] * 3, None, pool).__getitems__([0, 1, 2])
