"""``manifest:`` data source: Parquet or CSV rows of path,label[,sha256], no folder listing."""

from __future__ import annotations

import csv
import hashlib

import pytest
from PIL import Image

from singaudit.adapters.sources import load_data
from singaudit.errors import DataError


@pytest.fixture
def images(tmp_path):
    folder = tmp_path / "images"
    rows = []
    for c, name in enumerate(["cat", "dog"]):
        for i in range(3):
            path = folder / name / f"{i}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.new("RGB", (12, 10), (40 * i, 100 * c, 9)).save(path)
            rows.append({"path": f"images/{name}/{i}.png", "label": name,
                         "sha256": hashlib.sha256(path.read_bytes()).hexdigest()})
    return tmp_path, rows


def write_csv(path, rows, fields=("path", "label")):
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(fields), extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_csv_manifest_lists_the_same_images_as_the_folder(images):
    root, rows = images
    manifest = load_data(f"manifest:{write_csv(root / 'm.csv', rows)}")
    folder = load_data(f"folder:{root / 'images'}")
    assert manifest.class_names == folder.class_names == ["cat", "dog"]
    assert [(r.key, r.label) for r in manifest.records()] == [
        (r.key, r.label) for r in folder.records()]
    record = manifest.records()[4]
    assert manifest.content_hash(record) == folder.content_hash(record)
    assert manifest.load(record).size == (12, 10)


def test_parquet_manifest_takes_hashes_without_reading_images(images):
    pyarrow = pytest.importorskip("pyarrow", reason="Parquet needs pyarrow")
    from pyarrow import parquet

    root, rows = images
    path = root / "m.parquet"
    parquet.write_table(pyarrow.Table.from_pylist(rows), path)
    source = load_data(f"manifest:{path}", class_names=["dog", "cat"])
    assert [r.label for r in source.records()] == [1, 1, 1, 0, 0, 0]
    for row in rows:  # removed files: the hashes come from the manifest, not from the bytes
        (root / row["path"]).unlink()
    assert [source.content_hash(r) for r in source.records()] == [r["sha256"] for r in rows]
    with pytest.raises(DataError, match="cannot read image"):
        source.load(source.records()[0])


def test_manifest_root_and_labels_by_index(images, tmp_path):
    root, rows = images
    indexed = [{"path": r["path"], "label": str(i // 3)} for i, r in enumerate(rows)]
    manifest = write_csv(tmp_path / "elsewhere.csv", indexed)
    source = load_data(f"manifest:{manifest}", class_names=["cat", "dog"], root=str(root))
    assert [r.label for r in source.records()] == [0, 0, 0, 1, 1, 1]
    assert all(r.key.startswith(str(root)) for r in source.records())


@pytest.mark.parametrize(("content", "message"), [
    ("file,label\na.png,cat\n", "needs a 'path' column"),
    ("path,label\n,cat\n", "row 1: empty path"),
    ("path,label\na.png,cat\na.png,cat\n", "more than once"),
    ("path,label,sha256\na.png,cat,xyz\n", "not a 64-digit hex digest"),
    ("path\n", "lists no images"),
])
def test_bad_manifests_are_one_clear_error(tmp_path, content, message):
    path = tmp_path / "m.csv"
    path.write_text(content)
    with pytest.raises(DataError, match=message):
        load_data(f"manifest:{path}")


def test_unknown_label_and_wrong_suffix(tmp_path):
    path = write_csv(tmp_path / "m.csv", [{"path": "a.png", "label": "7"}])
    with pytest.raises(DataError, match="unknown label"):
        load_data(f"manifest:{path}", class_names=["cat"])
    (tmp_path / "m.txt").write_text("path\na.png\n")
    with pytest.raises(DataError, match="expected a .parquet, .csv or .tsv"):
        load_data(f"manifest:{tmp_path / 'm.txt'}")
    with pytest.raises(DataError, match="no such file"):
        load_data(f"manifest:{tmp_path / 'absent.csv'}")
