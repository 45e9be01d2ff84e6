import json

import numpy as np
import pytest
from PIL import Image

from singaudit.adapters.sources import load_data
from singaudit.errors import DataError


def write_image(path, colour, size=(20, 16)):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, colour).save(path)
    return path


@pytest.fixture
def wnid_folder(tmp_path):
    root = tmp_path / "val"
    for c, wnid in enumerate(["n01443537", "n03594945"]):  # goldfish, jeep
        for i in range(4):
            write_image(root / wnid / f"img{i}.png", (40 * i, 100 * c, 7))
    return root


def test_folder_maps_wnids_to_class_names(wnid_folder):
    source = load_data(f"folder:{wnid_folder}")
    assert source.class_names == ["goldfish", "jeep"]
    records = source.records()
    assert [r.label for r in records] == [0] * 4 + [1] * 4
    image = source.load(records[5])
    assert image.mode == "RGB" and image.size == (20, 16)
    assert source.content_hash(records[0]) != source.content_hash(records[1])
    assert source.records() == records  # stable order


def test_sources_list_every_image_and_the_spec_selection_samples(wnid_folder):
    from singaudit.runner.selection import select_images

    source = load_data(f"folder:{wnid_folder}")
    assert [r.label for r in source.records()] == [0] * 4 + [1] * 4  # no sampling in the source

    def keys(seed):
        return select_images(source, "all", 2, seed).keys

    assert len(keys(0)) == 4 and keys(0) == keys(0)
    assert any(keys(0) != keys(s) for s in range(1, 6))
    assert list(select_images(source, "all", 2).labels) == [0, 0, 1, 1]


def test_plain_folder_names_and_corrupt_images(tmp_path):
    write_image(tmp_path / "cats" / "a.png", (1, 2, 3))
    (tmp_path / "dogs").mkdir()
    (tmp_path / "dogs" / "broken.jpg").write_bytes(b"\xff\xd8\xff not really a jpeg")
    source = load_data(f"folder:{tmp_path}")
    assert source.class_names == ["cats", "dogs"]
    broken = source.records()[1]
    with pytest.raises(DataError, match="broken.jpg"):
        source.load(broken)


@pytest.mark.parametrize("pil_global", [False, True])  # True: as importing weasyprint sets it
def test_truncated_image_is_a_data_error(tmp_path, monkeypatch, pil_global):
    from PIL import ImageFile

    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", pil_global)
    good = write_image(tmp_path / "x" / "full.png", (9, 9, 9), size=(64, 64))
    data = good.read_bytes()
    (tmp_path / "x" / "cut.png").write_bytes(data[: len(data) // 2])
    source = load_data(f"folder:{tmp_path}")
    cut = next(r for r in source.records() if r.key.endswith("cut.png"))
    with pytest.raises(DataError):
        source.load(cut)


def test_folder_errors(tmp_path):
    with pytest.raises(DataError, match="no such folder"):
        load_data(f"folder:{tmp_path / 'absent'}")
    with pytest.raises(DataError, match="no images"):
        load_data(f"folder:{tmp_path}")


def test_csv_and_json_lists(tmp_path):
    write_image(tmp_path / "imgs" / "a.png", (255, 0, 0))
    write_image(tmp_path / "imgs" / "b.png", (0, 255, 0))
    (tmp_path / "list.csv").write_text("path,label\nimgs/a.png,cat\nimgs/b.png,dog\n")
    source = load_data(f"list:{tmp_path / 'list.csv'}")
    assert source.class_names == ["cat", "dog"]
    assert [r.label for r in source.records()] == [0, 1]
    assert source.load(source.records()[1]).getpixel((0, 0)) == (0, 255, 0)

    (tmp_path / "list.json").write_text(
        json.dumps(
            {
                "classes": ["dog", "cat"],
                "images": [
                    {"path": str(tmp_path / "imgs/a.png"), "label": 1},
                    {"path": "imgs/b.png", "label": "dog"},
                ],
            }
        )
    )
    listed = load_data(f"list:{tmp_path / 'list.json'}")
    assert listed.class_names == ["dog", "cat"]
    assert [r.label for r in listed.records()] == [1, 0]


def test_list_errors_name_the_problem(tmp_path):
    (tmp_path / "bad.csv").write_text("file,label\na.png,cat\n")
    with pytest.raises(DataError, match="'path' column"):
        load_data(f"list:{tmp_path / 'bad.csv'}")
    (tmp_path / "labels.json").write_text(
        json.dumps({"classes": ["a"], "images": [{"path": "x.png", "label": "zebra"}]})
    )
    with pytest.raises(DataError, match="unknown label 'zebra'"):
        load_data(f"list:{tmp_path / 'labels.json'}")
    missing = load_data(f"list:{tmp_path / 'labels.json'}", class_names=["zebra"])
    with pytest.raises(DataError, match="x.png"):
        missing.content_hash(missing.records()[0])


def test_bundled_photos():
    source = load_data("photos:")
    keys = [r.key for r in source.records()]
    assert {"photos/chelsea", "photos/coffee", "photos/china", "photos/grace_hopper"} <= set(keys)
    assert all(r.label == -1 for r in source.records())
    chosen = load_data("photos:coffee,chelsea")
    assert [r.key for r in chosen.records()] == ["photos/coffee", "photos/chelsea"]
    image = chosen.load(chosen.records()[0])
    assert image.mode == "RGB" and np.asarray(image).std() > 10
    camera = load_data("photos:camera")  # greyscale on disk, RGB out
    assert camera.load(camera.records()[0]).mode == "RGB"
    with pytest.raises(DataError, match="unknown photo"):
        load_data("photos:unicorn")


def test_calibration_scenes_refuse_counts_that_cannot_fit_in_memory():
    from singaudit.adapters.data import calibration_source

    with pytest.raises(DataError, match="GiB of scenes"):
        calibration_source.load("audit", scenes=6_000_000)


def test_image_paths_that_are_not_regular_files_are_refused_without_reading(tmp_path):
    import os

    write_image(tmp_path / "ok.png", (255, 0, 0))
    os.mkfifo(tmp_path / "fifo.png")  # opening a FIFO with no writer blocks forever
    (tmp_path / "folder.png").mkdir()
    (tmp_path / "list.csv").write_text(
        "path,label\nok.png,a\nfifo.png,a\n/dev/zero,b\nfolder.png,b\n")
    source = load_data(f"list:{tmp_path / 'list.csv'}")
    ok, *others = source.records()
    assert source.load(ok).size == (20, 16)
    for record in others:
        with pytest.raises(DataError, match="not a regular file"):
            source.load(record)
        with pytest.raises(DataError, match="not a regular file"):
            source.content_hash(record)


def test_images_are_read_in_their_exif_orientation_and_only_rotated_ones_change_hash(tmp_path):
    import hashlib

    from singaudit.adapters.data._images import EXIF_ORIENTATION

    pixels = np.zeros((10, 20, 3), dtype=np.uint8)
    pixels[:, :10] = (255, 0, 0)  # left half red, as stored
    stored = Image.fromarray(pixels)
    exif = stored.getexif()
    exif[EXIF_ORIENTATION] = 6  # "rotate 90 degrees clockwise to view", as phones write it
    stored.save(tmp_path / "phone.jpg", exif=exif.tobytes(), quality=95)
    stored.save(tmp_path / "plain.jpg", quality=95)
    (tmp_path / "list.csv").write_text("path,label\nphone.jpg,a\nplain.jpg,a\n")
    source = load_data(f"list:{tmp_path / 'list.csv'}")
    phone, plain = source.records()
    upright = source.load(phone)
    assert upright.size == (10, 20)  # width and height swapped
    assert upright.getpixel((5, 2))[0] > 200 and upright.getpixel((5, 17))[0] < 60  # red on top
    assert source.load(plain).size == (20, 10)
    # Un-rotated images keep the content hash (and so the cached features) they always had.
    plain_bytes = (tmp_path / "plain.jpg").read_bytes()
    assert source.content_hash(plain) == hashlib.sha256(plain_bytes).hexdigest()
    phone_bytes = (tmp_path / "phone.jpg").read_bytes()
    assert source.content_hash(phone) != hashlib.sha256(phone_bytes).hexdigest()


def test_calibration_scenes_hash_without_rendering_and_render_the_same_scenes():
    """A warm run only hashes the scenes: rendering waits for the first image loaded."""
    from singaudit.adapters.data import calibration_source
    from singaudit.calibration import scenes

    source = calibration_source.load("audit", scenes=40, scene_seed=3)
    records = source.records()
    hashes = [source.content_hash(r) for r in records]
    assert "pixels" not in vars(source)
    assert len(set(hashes)) == len(records)
    assert hashes == [source.params.row_hash(i) for i in range(len(records))]
    expected, _ = scenes.generate("audit", 3, 0, 40)
    assert np.array_equal(np.asarray(source.load(records[7])), expected[7])
    assert np.array_equal(source.pixels, expected)
    other = calibration_source.load("audit", scenes=40, scene_seed=4)
    assert other.content_hash(other.records()[7]) != hashes[7]
