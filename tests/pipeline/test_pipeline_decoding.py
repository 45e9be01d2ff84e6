"""Batched preprocessing: the same input tensors as the per-image path, bit for bit."""

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision import transforms

from singaudit.adapters.classifiers._preprocess import RGBThen, described, standard_preprocessing
from singaudit.adapters.sources import load_data
from singaudit.pipeline.decoding import BatchedPreprocessing, batched_preprocessing
from singaudit.pipeline.executors import local
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
    monkeypatch.setattr(local, "batched_preprocessing", lambda transform: None)
    per_image = extract(classifier, source, batch_size=4, progress=False)
    assert batched.values.shape == (10, model.num_features)
    assert torch.equal(batched.values, per_image.values)


def decode_threads() -> list:
    import threading

    return [t for t in threading.enumerate() if t.name == "singaudit-decode"]


def test_decoding_ahead_keeps_order_and_threads_and_stops_with_its_consumer():
    torch.set_num_threads(2)
    batches = [torch.full((2,), float(i)) for i in range(5)]
    seen = []
    for batch in local._decoded(batches, num_workers=0):
        seen.append(batch)
        assert torch.get_num_threads() == 2  # the model's thread keeps its intra-op threads
    assert [b[0].item() for b in seen] == [0, 1, 2, 3, 4]
    assert torch.get_num_threads() == 2
    early = local._decoded(iter(batches), num_workers=0)
    assert next(early)[0].item() == 0
    early.close()  # the consumer stops (an error in the forward pass): the thread ends too
    assert not decode_threads()


def test_a_decoding_error_reaches_the_caller_and_leaves_no_thread():
    class Broken:
        def __iter__(self):
            yield torch.zeros(1)
            raise RuntimeError("disk vanished")

    got = []
    with pytest.raises(RuntimeError, match="disk vanished"):
        got.extend(local._decoded(Broken(), num_workers=0))
    assert len(got) == 1 and not decode_threads()
