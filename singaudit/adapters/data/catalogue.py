"""The built-in data sources (``folder:``, ``list:``, ``manifest:``, ``photos:``, ``hf-dataset:``,
``webdataset:``): for each, its loader and its offline check of an id. A data source lists
every image; selection (classes, images per class, seed) is the spec's data section's.
Importing this module imports no image or dataset library."""

from __future__ import annotations

import importlib
from typing import Any, ClassVar

from singaudit.adapters.resolution import file_problem, folder_problem
from singaudit.adapters.sources import Source

# list: and manifest: took over the old `classes` option's second meaning.
_CLASS_NAMES = {"classes": "the names of index labels are now options.class_names"}


class FolderSource(Source):
    """``folder:<path>``: one sub-folder per class (ImageNet wnids are named)."""

    name = "folder"
    loader = "singaudit.adapters.data.folder_source:load"

    def problem(self, ident: str, options: dict[str, Any]) -> str | None:
        return folder_problem(ident)


class _LabelledFileSource(Source):
    """A source read from one file of image paths and index labels."""

    moved_options = _CLASS_NAMES

    def problem(self, ident: str, options: dict[str, Any]) -> str | None:
        return file_problem(ident)


class ListSource(_LabelledFileSource):
    """``list:<file.csv|.json>``: image paths and labels."""

    name = "list"
    loader = "singaudit.adapters.data.list_source:load"


class ManifestSource(_LabelledFileSource):
    """``manifest:<file.csv>``: image paths, labels and content hashes."""

    name = "manifest"
    loader = "singaudit.adapters.data.manifest_source:load"


class PhotosSource(Source):
    """``photos:[name,...]``: a few photographs shipped with scikit-image."""

    name = "photos"
    loader = "singaudit.adapters.data.photos_source:load"


class _IntegrationSource(Source):
    """A source whose module says itself what is missing offline (its library stays unloaded)."""

    module: ClassVar[str] = ""

    def problem(self, ident: str, options: dict[str, Any]) -> str | None:
        found = importlib.import_module(f"singaudit.adapters.data.{self.module}")
        problem: str | None = found.offline_problem(ident, options)
        return problem


class HfDatasetSource(_IntegrationSource):
    """``hf-dataset:<hub id, builder or saved folder>``: a Hugging Face ``datasets`` split."""

    name = "hf-dataset"
    module = "hf_dataset_source"
    loader = f"singaudit.adapters.data.{module}:load"


class WebDatasetSource(_IntegrationSource):
    """``webdataset:<shard pattern>``: tar shards in the WebDataset layout."""

    name = "webdataset"
    module = "webdataset_source"
    loader = f"singaudit.adapters.data.{module}:load"


FOLDER = FolderSource()
LIST = ListSource()
MANIFEST = ManifestSource()
PHOTOS = PhotosSource()
HF_DATASET = HfDatasetSource()
WEBDATASET = WebDatasetSource()
