"""The calibration world's audit scenes written as a Hugging Face dataset and as WebDataset
shards (real libraries), so that an audit on them can be compared with one on
``calibration:audit`` itself."""

from __future__ import annotations

import io
from pathlib import Path

SCENES = 60


def scenes():
    from singaudit.adapters.sources import load_data

    return load_data("calibration:audit", scenes=SCENES)


def png(image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")  # lossless: the same pixels as the calibration source
    return buffer.getvalue()


def save_hf_dataset(folder: Path) -> Path:
    import datasets

    source = scenes()
    records = source.records()
    features = datasets.Features({"image": datasets.Image(),
                                  "shape": datasets.ClassLabel(names=source.class_names)})
    table = datasets.Dataset.from_dict(
        {"image": [{"bytes": png(source.load(r)), "path": None} for r in records],
         "shape": [r.label for r in records]}, features=features)
    datasets.DatasetDict({"audit": table}).save_to_disk(str(folder))
    return folder


def write_shards(folder: Path, per_shard: int = 25) -> str:
    """Shards shard-000.tar ...; returns their brace pattern."""
    import webdataset

    source = scenes()
    records = source.records()
    folder.mkdir(parents=True, exist_ok=True)
    count = (len(records) + per_shard - 1) // per_shard
    for shard in range(count):
        with webdataset.TarWriter(str(folder / f"shard-{shard:03d}.tar")) as writer:
            for index in range(shard * per_shard, min(len(records), (shard + 1) * per_shard)):
                record = records[index]
                writer.write({"__key__": f"scene{index:05d}", "png": png(source.load(record)),
                              "cls": record.label})
    return str(folder / f"shard-{{000..{count - 1:03d}}}.tar")
