"""Translators of an audit spec: the fit images, their seeded train / held-out split, and each
model's translator (loaded from a file, taken from the cache, or fitted and cached)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from singaudit.errors import DataError
from singaudit.pipeline.translator_store import null_reference_record
from singaudit.pipeline.translators import fit_translator
from singaudit.runner import artefact_cache
from singaudit.runner.memo import digest
from singaudit.runner.selection import ImageSelection, select_images

if TYPE_CHECKING:
    from singaudit.adapters.classifiers.base import Classifier
    from singaudit.adapters.data.base import ImageSource
    from singaudit.adapters.joint_spaces.base import JointSpace
    from singaudit.runner.memo import ArtefactStore
    from singaudit.runner.progress import ProgressReporter
    from singaudit.spec.models import AuditSpec, DataSpec


@dataclass
class TranslatorArtefact:
    module: torch.nn.Module
    info: dict[str, Any]


class TranslatorArtefacts:
    """The translator part of ``ArtefactBuilder`` (mixed into it: it reads the builder's spec,
    store, models and feature rows)."""

    translators: dict[str, TranslatorArtefact]
    _fit_splits: dict[str, tuple[list[str], list[str], ImageSelection]]

    if TYPE_CHECKING:  # what the builder that mixes this class in provides
        spec: AuditSpec
        store: ArtefactStore
        reporter: ProgressReporter
        cache_dir: Path
        executor: Any
        dtype: torch.dtype

        @property
        def audit_images(self) -> ImageSelection: ...
        def classifier(self, name: str) -> Classifier: ...
        def joint_space(self) -> JointSpace: ...
        def readable(self, selection: ImageSelection) -> ImageSelection: ...
        def _data_source(self, data: DataSpec) -> ImageSource: ...
        def _rows(self, kind: str, model_id: str, encoder: Any,
                  selection: ImageSelection) -> artefact_cache.Rows: ...

    @cached_property
    def fit_images(self) -> ImageSelection:
        """The translator's fit data: its own spec, else the data source's unaudited images."""
        fit = self.spec.translator.fit
        with self.reporter.stage("data", "listing translator fit images"):
            if fit is not None:
                selection = select_images(self._data_source(fit), fit.classes,
                                          fit.images_per_class, fit.seed)
            else:
                data = self.spec.data
                audited = frozenset(self.audit_images.keys)
                selection = select_images(self._data_source(data), "all",
                                          self.spec.translator.fit_images_per_class, data.seed,
                                          exclude=audited)
                if len(selection.keys) < 4:
                    raise DataError(
                        f"no translator fit data: {data.id} has {len(selection.keys)} images "
                        "besides the audited ones; set translator.fit (or translator.path)"
                    )
        return selection

    def _fit_split(self, name: str) -> tuple[list[str], list[str], ImageSelection]:
        """Readable fit images split (seeded) into fit keys (train and alpha selection, split again
        by the fitter) and held-out keys used for fidelity only, once per model."""
        if name in self._fit_splits:
            return self._fit_splits[name]
        fit = self.fit_images
        classifier, space = self.classifier(name), self.joint_space()
        self._rows("features", classifier.info.id, classifier, fit)
        self._rows("embeddings", space.info.id, space, fit)
        readable = self.readable(fit)
        keys = readable.keys
        order = torch.randperm(len(keys), generator=torch.Generator().manual_seed(self.spec.seed))
        n_heldout = max(1, round(len(keys) * self.spec.translator.heldout))
        heldout = sorted(order[:n_heldout].tolist())
        train = sorted(order[n_heldout:].tolist())
        if len(train) < 2:
            raise DataError(f"too few translator fit images ({len(keys)}) for a held-out split")
        split = [keys[i] for i in train], [keys[i] for i in heldout], readable
        self._fit_splits[name] = split
        return split

    def translator_fit_data(
            self, name: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """(x_train, y_train, x_heldout, y_heldout): model ``name``'s features and joint
        embeddings of the translator's fit images, split as the translator was fitted."""
        train_keys, heldout_keys, fit = self._fit_split(name)
        classifier, space = self.classifier(name), self.joint_space()
        features = self._rows("features", classifier.info.id, classifier, fit)
        embeddings = self._rows("embeddings", space.info.id, space, fit)
        return (features.aligned(train_keys), embeddings.aligned(train_keys),
                features.aligned(heldout_keys), embeddings.aligned(heldout_keys))

    def translator(self, name: str) -> TranslatorArtefact:
        """Model ``name``'s translator to the joint space: loaded, from the cache, or fitted."""
        if name in self.translators:
            return self.translators[name]
        config = self.spec.translator
        if config.path is not None:
            artefact = self.translator_from_file(config.path, name)
            self.translators[name] = artefact
            return artefact
        classifier, space = self.classifier(name), self.joint_space()
        train_keys, heldout_keys, fit = self._fit_split(name)
        used = set(train_keys) | set(heldout_keys)
        content = [fit.source.content_hash(r) for r in fit.records if r.key in used]
        fingerprint = digest({
            "arch": config.arch, "options": config.options, "seed": self.spec.seed,
            "classifier": [classifier.info.id, classifier.info.weights_hash],
            "joint_space": [space.info.id, space.info.weights_hash],
            "train": train_keys, "heldout": heldout_keys, "content": content,
            "dtype": str(self.dtype), "selection": "inner split of the fit keys",
        })

        def build() -> TranslatorArtefact:
            with self.reporter.stage(f"translator:{name}", f"translator for {name}"):
                cached = artefact_cache.load_cached_translator(self.cache_dir, fingerprint)
                if cached is not None:
                    module, info = cached
                else:
                    fit_data = self.translator_fit_data(name)
                    meta = {"classifier": classifier.info.id, "joint_space": space.info.id,
                            # the null reference travels with the translator (and its files)
                            "null_reference": null_reference_record(
                                fit_data[0], f"the {len(train_keys)} translator-fit images of "
                                f"{fit.source.id} (fit {fingerprint})")}
                    with self.reporter.stage(
                            f"translator_fit:{name}",
                            f"fitting the translator for {name} ({config.arch}, "
                            f"{len(train_keys)} images of {fit.source.id})"):
                        module, fitted = fit_translator(
                            config.arch, config.options, *fit_data, seed=self.spec.seed,
                            select_fraction=config.heldout, executor=self.executor)
                    artefact_cache.save_cached_translator(self.cache_dir, fingerprint, module,
                                                   {**meta, **fitted})
                    info = {**meta, **fitted, "source": "fitted", "fingerprint": fingerprint}
            info["fit_data"] = fit.source.id
            return TranslatorArtefact(module, info)

        artefact = self.store.memo(("translator", fingerprint), build)
        self.translators[name] = artefact
        return artefact

    def translator_from_file(self, path: str | Path, name: str) -> TranslatorArtefact:
        """A saved translator for model ``name``, refused when its dimensions do not fit."""
        classifier, space = self.classifier(name), self.joint_space()
        key = ("translator-file", str(path), classifier.info.id, space.info.id)
        return self.store.memo(key, lambda: TranslatorArtefact(
            *artefact_cache.load_translator_file(Path(path), classifier, space)))
