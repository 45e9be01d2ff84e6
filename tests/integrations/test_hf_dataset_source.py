"""``hf-dataset:`` on datasets the tests build with the real ``datasets`` library, offline."""

from __future__ import annotations

import hashlib
import io
import pickle

import pytest
from PIL import Image

from singaudit.adapters.sources import load_data
from singaudit.errors import DataError

datasets = pytest.importorskip("datasets", reason="hf-dataset: needs singaudit[integrations]")

NAMES = ["cat", "dog", "fox"]


def pictures(count_per_class: int = 4) -> tuple[list[Image.Image], list[int]]:
    images, labels = [], []
    for label in range(len(NAMES)):
        for i in range(count_per_class):
            images.append(Image.new("RGB", (16, 12), (60 * label, 20 * i, 7)))
            labels.append(label)
    return images, labels


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
def saved(tmp_path):
    """A DatasetDict with a ClassLabel feature, written with save_to_disk."""
    images, labels = pictures()
    features = datasets.Features({"img": datasets.Image(),
                                  "label": datasets.ClassLabel(names=NAMES)})
    train = datasets.Dataset.from_dict({"img": images, "label": labels}, features=features)
    test = train.select([1, 5, 9, 10])
    path = tmp_path / "saved"
    datasets.DatasetDict({"train": train, "test": test}).save_to_disk(str(path))
    return path, images, labels


def test_saved_dataset_lists_classes_labels_and_decodes_rows(saved):
    path, images, labels = saved
    source = load_data(f"hf-dataset:{path}", split="train")
    assert source.class_names == NAMES
    records = source.records()
    assert [r.label for r in records] == labels
    assert len({r.key for r in records}) == len(records)
    assert source.load(records[6]).tobytes() == images[6].tobytes()
    # The stored bytes are the content: one hash per distinct image, stable across loads.
    again = load_data(f"hf-dataset:{path}", split="train")
    assert [source.content_hash(r) for r in records] == [again.content_hash(r) for r in records]
    assert len({source.content_hash(r) for r in records}) == len(records)


def test_split_is_required_when_there_are_several(saved):
    path, _, _ = saved
    with pytest.raises(DataError, match="choose one with options: {split: NAME}; splits: train"):
        load_data(f"hf-dataset:{path}")
    with pytest.raises(DataError, match="no split 'validation'; splits: train, test"):
        load_data(f"hf-dataset:{path}", split="validation")
    assert [r.label for r in load_data(f"hf-dataset:{path}", split="test").records()] == [0, 1,
                                                                                          2, 2]


def test_source_pickles_small_and_loads_after_unpickling(saved):
    """The Ray engine ships the source to its actors: a memory-mapped set travels by path."""
    path, images, _ = saved
    source = load_data(f"hf-dataset:{path}", split="train")
    shipped = pickle.dumps(source)
    assert len(shipped) < 8000  # file references and row keys, not the images
    copy = pickle.loads(shipped)
    record = copy.records()[11]
    assert copy.load(record).tobytes() == images[11].tobytes()


def test_parquet_file_with_string_labels_and_a_class_mapping(tmp_path):
    images, labels = pictures(2)
    table = datasets.Dataset.from_dict({
        "picture": [{"bytes": png(im), "path": None} for im in images],
        "species": [NAMES[label] for label in labels],
    }, features=datasets.Features({"picture": datasets.Image(),
                                   "species": datasets.Value("string")}))
    path = tmp_path / "flat.parquet"
    table.to_parquet(str(path))
    source = load_data(f"hf-dataset:{path}", label_column="species")
    assert source.class_names == ["cat", "dog", "fox"]  # sorted label values
    assert [r.label for r in source.records()] == labels
    record = source.records()[3]
    assert source.content_hash(record) == hashlib.sha256(png(images[3])).hexdigest()
    ordered = load_data(f"hf-dataset:{path}", label_column="species",
                        class_names=["fox", "dog", "cat"])
    assert [r.label for r in ordered.records()] == [2 - label for label in labels]


def test_integer_labels_named_by_a_mapping(tmp_path):
    images, labels = pictures(1)
    data = datasets.Dataset.from_dict({"image": images, "label": [7 + x for x in labels]},
                                      features=datasets.Features({
                                          "image": datasets.Image(),
                                          "label": datasets.Value("int64")}))
    data.save_to_disk(str(tmp_path / "ints"))
    source = load_data(f"hf-dataset:{tmp_path / 'ints'}",
                       class_names={7: "cat", "8": "dog", 9: "fox"})
    assert source.class_names == NAMES and [r.label for r in source.records()] == [0, 1, 2]
    with pytest.raises(DataError, match="label 9 is not one of the classes"):
        load_data(f"hf-dataset:{tmp_path / 'ints'}", class_names={7: "cat", 8: "dog"})


def test_imagefolder_builder_reads_the_files(tmp_path):
    images, labels = pictures(2)
    for i, (image, label) in enumerate(zip(images, labels, strict=True)):
        folder = tmp_path / "pics" / "train" / NAMES[label]
        folder.mkdir(parents=True, exist_ok=True)
        image.save(folder / f"{i}.png")
    source = load_data("hf-dataset:imagefolder", data_dir=str(tmp_path / "pics"), split="train")
    assert source.class_names == NAMES
    assert sorted(r.label for r in source.records()) == sorted(labels)
    record = source.records()[0]
    assert source.load(record).size == (16, 12)
    folder_source = load_data(f"folder:{tmp_path / 'pics' / 'train'}")
    assert {source.content_hash(r) for r in source.records()} == {
        folder_source.content_hash(r) for r in folder_source.records()}


def test_streaming_keeps_the_first_images_of_each_class_in_stream_order(tmp_path):
    images, labels = pictures(5)
    order = [i for pair in zip(range(5), range(5, 10), range(10, 15), strict=True)
             for i in pair]  # classes interleaved: cat, dog, fox, cat, ...
    data = datasets.Dataset.from_dict(
        {"img": [images[i] for i in order], "label": [labels[i] for i in order]},
        features=datasets.Features({"img": datasets.Image(),
                                    "label": datasets.ClassLabel(names=NAMES)}))
    path = tmp_path / "stream.parquet"
    data.to_parquet(str(path))
    source = load_data(f"hf-dataset:{path}", streaming=True, per_class=2)
    records = source.records()
    assert [r.label for r in records] == [0, 1, 2, 0, 1, 2]
    assert [r.key.rsplit("/", 1)[1] for r in records] == ["0", "1", "2", "3", "4", "5"]
    assert source.load(records[4]).tobytes() == images[order[4]].tobytes()
    mapped = load_data(f"hf-dataset:{path}")
    assert [source.content_hash(r) for r in records] == [
        mapped.content_hash(r) for r in mapped.records()[:6]]
    capped = load_data(f"hf-dataset:{path}", streaming=True, per_class=9, max_rows=4)
    assert [r.label for r in capped.records()] == [0, 1, 2, 0]


def test_bad_ids_and_columns_are_one_clear_data_error(tmp_path, saved):
    path, _, _ = saved
    with pytest.raises(DataError, match="no image column 'photo'; columns: img, label"):
        load_data(f"hf-dataset:{path}", split="train", image_column="photo")
    with pytest.raises(DataError, match="neither a local path"):
        load_data("hf-dataset:nonexistent-thing")
    with pytest.raises(DataError, match="hf-dataset:nobody/no-such-set"):
        load_data("hf-dataset:nobody/no-such-set")  # HF_HUB_OFFLINE=1: nothing is fetched
    with pytest.raises(DataError, match="apply to streaming: true only"):
        load_data(f"hf-dataset:{path}", split="train", per_class=3)


def test_fingerprint_keys_need_no_image_and_follow_the_data(saved, tmp_path):
    import shutil

    path, _, _ = saved
    keyed = load_data(f"hf-dataset:{path}", split="train", content_key="fingerprint")
    records = keyed.records()
    keys = [keyed.content_hash(r) for r in records]
    assert len(set(keys)) == len(records)
    keyed._images = None  # the rows are never read for a key
    assert keyed.content_hash(records[2]) == keys[2]
    # The same data moved keeps its keys (the fingerprint travels with it) ...
    shutil.copytree(path, tmp_path / "moved")
    moved = load_data(f"hf-dataset:{tmp_path / 'moved'}", split="train",
                      content_key="fingerprint")
    assert [moved.content_hash(r) for r in moved.records()] == keys
    # ... and other data saved in its place gets other keys.
    changed = datasets.load_from_disk(str(path))["train"].map(
        lambda row: {"label": (row["label"] + 1) % 3})
    datasets.DatasetDict({"train": changed}).save_to_disk(str(tmp_path / "changed"))
    other = load_data(f"hf-dataset:{tmp_path / 'changed'}", split="train",
                      content_key="fingerprint")
    assert not {other.content_hash(r) for r in other.records()} & set(keys)
    with pytest.raises(DataError, match="a stream has no fingerprint"):
        load_data(f"hf-dataset:{path}", streaming=True, content_key="fingerprint")
