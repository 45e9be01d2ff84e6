"""Forward passes for the runner: features and embeddings of an image selection, corrupt images
skipped and reported. Rows come back keyed by image so several extractions can be aligned."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from singaudit.adapters.classifiers.base import Preprocessing
from singaudit.errors import DataError
from singaudit.runner.selection import ImageSelection


@dataclass
class Rows:
    """Vectors for the images that could be read, and why the others could not."""

    keys: list[str]
    values: torch.Tensor  # (len(keys), d) float32 on the CPU
    failures: dict[str, str] = field(default_factory=dict)  # key -> reason

    def aligned(self, keys: list[str]) -> torch.Tensor:
        """Rows in the order of ``keys`` (every key must have a row)."""
        position = {key: row for row, key in enumerate(self.keys)}
        return self.values[[position[key] for key in keys]]


def extract_rows(
    encode: Callable[[torch.Tensor], torch.Tensor],
    preprocessing: Preprocessing,
    selection: ImageSelection,
    *,
    batch_size: int,
    device: torch.device,
    dtype: torch.dtype = torch.float32,
) -> Rows:
    """Batched ``encode`` over the selection's images (inference mode)."""
    keys: list[str] = []
    chunks: list[torch.Tensor] = []
    failures: dict[str, str] = {}
    pending: list[torch.Tensor] = []
    pending_keys: list[str] = []

    def flush() -> None:
        if not pending:
            return
        batch = torch.stack(pending).to(device=device, dtype=dtype)
        with torch.inference_mode():
            chunks.append(encode(batch).to("cpu", torch.float32))
        keys.extend(pending_keys)
        pending.clear()
        pending_keys.clear()

    for record in selection.records:
        try:
            image = selection.source.load(record)
        except DataError as error:
            failures[record.key] = str(error)
            continue
        except OSError as error:  # PIL raises OSError subclasses for truncated or unknown files
            failures[record.key] = f"unreadable image: {error}"
            continue
        pending.append(preprocessing.transform(image))
        pending_keys.append(record.key)
        if len(pending) >= batch_size:
            flush()
    flush()
    values = torch.cat(chunks) if chunks else torch.zeros(0, 0)
    return Rows(keys, values, failures)
