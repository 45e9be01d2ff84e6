"""``webdataset:`` on shards written by the real ``webdataset`` library."""

from __future__ import annotations

import gzip
import io
import pickle
import shutil

import pytest
from PIL import Image

from singaudit.adapters.sources import load_data
from singaudit.errors import DataError

webdataset = pytest.importorskip("webdataset", reason="webdataset: needs singaudit[integrations]")


def encoded(index: int, fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (10, 8), (25 * index, 90, 200 - 20 * index)).save(buffer, format=fmt)
    return buffer.getvalue()


@pytest.fixture
def shards(tmp_path):
    """Two shards of 4 samples: png images (one jpg), int classes, a text caption."""
    folder = tmp_path / "shards"
    folder.mkdir()
    for shard in range(2):
        with webdataset.TarWriter(str(folder / f"train-{shard:03d}.tar")) as writer:
            for i in range(4):
                index = shard * 4 + i
                fmt = "jpg" if index == 5 else "png"
                writer.write({"__key__": f"sample{index:04d}",
                              fmt: encoded(index, "JPEG" if fmt == "jpg" else "PNG"),
                              "cls": index % 3, "txt": f"caption {index}"})
    return folder


def test_records_match_what_webdataset_itself_reads(shards):
    pattern = str(shards / "train-{000..001}.tar")
    source = load_data(f"webdataset:{pattern}")
    assert source.class_names == ["0", "1", "2"]
    records = source.records()
    reference = list(webdataset.WebDataset(pattern, shardshuffle=False))
    assert [r.key.rsplit("#", 1)[1] for r in records] == [s["__key__"] for s in reference]
    assert [r.label for r in records] == [int(s["cls"]) for s in reference]
    for record, sample in zip(records, reference, strict=True):
        stored = sample.get("png") or sample["jpg"]
        expected = Image.open(io.BytesIO(stored)).convert("RGB")
        assert source.load(record).tobytes() == expected.tobytes()
    assert len({source.content_hash(r) for r in records}) == len(records)


def test_a_folder_a_glob_and_a_brace_pattern_name_the_same_shards(shards):
    keys = [[r.key for r in load_data(f"webdataset:{ident}").records()]
            for ident in (str(shards), str(shards / "train-*.tar"),
                          str(shards / "train-{000..001}.tar"))]
    assert keys[0] == keys[1] == keys[2] and len(keys[0]) == 8
    with pytest.raises(DataError, match="no tar shards match"):
        load_data(f"webdataset:{shards / 'val-*.tar'}")


def test_keys_classes_and_names_are_configurable(shards):
    only_png = str(shards / "train-000.tar")
    captions = load_data(f"webdataset:{only_png}", class_key="txt")
    assert captions.class_names == [f"caption {i}" for i in range(4)]
    unlabelled = load_data(f"webdataset:{only_png}", class_key=None)
    assert unlabelled.class_names == [] and {r.label for r in unlabelled.records()} == {-1}
    named = load_data(f"webdataset:{only_png}", class_names={0: "cat", 1: "dog", 2: "fox"})
    assert named.class_names == ["cat", "dog", "fox"]
    assert [r.label for r in named.records()] == [0, 1, 2, 0]
    with pytest.raises(DataError, match="has no webp member .*set options: {image_key: EXT}"):
        load_data(f"webdataset:{only_png}", image_key="webp")
    with pytest.raises(DataError, match="class 2 is not one of cat, dog"):
        load_data(f"webdataset:{only_png}", class_names=["cat", "dog"])


def test_a_gzip_compressed_shard_reads_the_same_images(shards, tmp_path):
    plain = shards / "train-001.tar"
    packed = tmp_path / "train-001.tar.gz"
    with open(plain, "rb") as source_file, gzip.open(packed, "wb") as target:
        shutil.copyfileobj(source_file, target)
    a, b = load_data(f"webdataset:{plain}"), load_data(f"webdataset:{packed}")
    assert [r.label for r in a.records()] == [r.label for r in b.records()]
    for x, y in zip(a.records(), b.records(), strict=True):
        assert a.content_hash(x) == b.content_hash(y)
        assert a.load(x).tobytes() == b.load(y).tobytes()


def test_stat_keys_read_no_image_and_the_source_pickles_small(shards):
    pattern = str(shards / "train-*.tar")
    by_bytes = load_data(f"webdataset:{pattern}")
    by_stat = load_data(f"webdataset:{pattern}", content_key="stat")
    assert len(pickle.dumps(by_stat)) < 4000  # offsets, not images: what a Ray actor receives
    for path in shards.iterdir():
        path.unlink()
    record = by_stat.records()[3]
    assert len(by_stat.content_hash(record)) == 64  # keyed without the shard
    with pytest.raises(DataError, match="cannot read image"):
        by_bytes.content_hash(record)


def test_a_damaged_image_is_a_data_error_for_that_record_only(tmp_path):
    shard = tmp_path / "bad.tar"
    with webdataset.TarWriter(str(shard)) as writer:
        writer.write({"__key__": "good", "png": encoded(1), "cls": 0})
        writer.write({"__key__": "bad", "png": encoded(2)[:40], "cls": 1})
    source = load_data(f"webdataset:{shard}")
    good, bad = source.records()
    assert source.load(good).size == (10, 8)
    with pytest.raises(DataError, match="cannot read image .*bad"):
        source.load(bad)
