"""The artefact builder: models, features, embeddings, head geometry, translators and prompt
embeddings of one audit spec, each built once (memoised in a store, cached on disk).

Used by the audit loop, ``explain``, the CLI's translator commands and the benchmarks.
"""

from __future__ import annotations

import json
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal

import torch

from singaudit.adapters import sources
from singaudit.adapters.classifiers.base import Classifier
from singaudit.adapters.joint_spaces.base import JointSpace
from singaudit.cache import cache_root
from singaudit.errors import DataError, NotApplicable, SingauditError
from singaudit.runner import artefact_cache
from singaudit.runner.memo import ArtefactStore, digest
from singaudit.runner.plan import Plan, make_plan
from singaudit.runner.progress import ProgressReporter
from singaudit.runner.provenance import RunFacts
from singaudit.runner.selection import ImageSelection, select_images
from singaudit.runner.translator_artefacts import TranslatorArtefact, TranslatorArtefacts
from singaudit.spec.models import AuditSpec, DataSpec

if TYPE_CHECKING:
    from singaudit.adapters.data.base import ImageSource
    from singaudit.adapters.generators.base import Generator
    from singaudit.maths.geometry import HeadGeometry
    from singaudit.pipeline.executors import ModelRecipe


class ArtefactBuilder(TranslatorArtefacts):
    """The artefacts of one audit spec. ``store`` shares them between builders (a new private
    one by default); models load and artefacts compute on first use."""

    def __init__(self, spec: AuditSpec | Plan, store: ArtefactStore | None = None) -> None:
        self.store = store if store is not None else ArtefactStore(progress=False)
        self.plan = make_plan(spec)
        self.spec = spec = self.plan.spec
        self.reporter = ProgressReporter(self.store.progress)
        self.device = _resolve_device(self.store.device or spec.device)
        self.dtype = _resolve_dtype(spec.dtype, self.device)
        self.failures: dict[str, str] = {}  # image key -> why it was skipped
        self.translators: dict[str, TranslatorArtefact] = {}  # by model name, once built
        self.loaded_classifiers: dict[str, Classifier] = {}
        self.loaded_joint_space: JointSpace | None = None
        self._fit_splits: dict[str, tuple[list[str], list[str], ImageSelection]] = {}
        self.cache_dir = cache_root(self.store.cache_dir or spec.cache_dir)
        self.executor = self.plan.engine(spec.execution)
        self._recipes: dict[int, Any] = {}  # id(loaded model) -> how a remote worker rebuilds it

    # ---------------------------------------------------------------- loading (memoised)

    def _data_source(self, data: DataSpec) -> ImageSource:
        key = ("data", data.id, _stable(data.options))
        return self.store.memo(key, lambda: sources.load_data(data.id, **data.options))

    def classifier(self, name: str) -> Classifier:
        """The spec's model ``name``, loaded and in eval mode."""
        model = self.spec.model_by_name(name)
        key = ("classifier", model.id, _stable(model.options))

        def load() -> Classifier:
            with self.reporter.stage(f"load:{name}", f"loading {model.id}"):
                classifier = sources.load_classifier(model.id, **model.options)
                _eval(classifier)
                return classifier

        classifier = self.store.memo(key, load)
        self.loaded_classifiers[name] = classifier
        self._recipes[id(classifier)] = _recipe("classifier", model.id, model.options)
        return classifier

    def joint_space(self) -> JointSpace:
        joint = self.spec.joint_space
        if joint is None:
            raise NotApplicable("the audit declares no joint_space")
        key = ("joint_space", joint.id, _stable(joint.options))

        def load() -> JointSpace:
            with self.reporter.stage("load:joint_space", f"loading {joint.id}"):
                space = sources.load_joint_space(joint.id, **joint.options)
                _eval(space)
                return space

        self.loaded_joint_space = self.store.memo(key, load)
        self._recipes[id(self.loaded_joint_space)] = _recipe("joint_space", joint.id,
                                                             joint.options)
        return self.loaded_joint_space

    def generator(self) -> Generator | None:
        """The spec's generator, the joint space's default one, or None (retrieval evidence)."""
        config = self.spec.generator
        if config is None:
            return None
        generator_id = config.id or self.joint_space().info.default_generator
        if generator_id is None:  # evidence falls back to retrieval
            return None
        key = ("generator", generator_id, _stable(config.options), str(self.device))
        return self.store.memo(
            key, lambda: sources.load_generator(generator_id, **config.options)
        )

    # ---------------------------------------------------------------- images and features

    @cached_property
    def audit_images(self) -> ImageSelection:
        """The audited images (unreadable ones dropped once :meth:`prepare` has run)."""
        data = self.spec.data
        with self.reporter.stage("data", f"listing images of {data.id}"):
            source = self._data_source(data)
            selection = select_images(source, data.classes, data.images_per_class, data.seed)
        return self.readable(selection)

    @property
    def listed_images(self) -> ImageSelection | None:
        """The audited images if they were listed, else None (nothing is listed to say so)."""
        return self.__dict__.get("audit_images")

    def readable(self, selection: ImageSelection) -> ImageSelection:
        """Drop images already known to be unreadable."""
        if not self.failures:
            return selection
        keep = [i for i, key in enumerate(selection.keys) if key not in self.failures]
        if not keep:
            raise DataError(f"no readable images in {selection.source.id}")
        return selection.subset(keep)

    def _rows(self, kind: str, model_id: str, encoder: Any, selection: ImageSelection) -> artefact_cache.Rows:
        key = ("rows", kind, model_id, encoder.info.weights_hash, encoder.preprocessing.describe,
               str(self.device), str(self.dtype), selection.source.id, tuple(selection.keys))

        def compute() -> artefact_cache.Rows:
            # The pipeline shows its own progress bar: no spinner here.
            with self.reporter.stage(f"{kind}:{model_id}",
                                     f"{kind} of {model_id} ({len(selection.keys)} images)",
                                     spinner=False):
                rows = artefact_cache.extract_cached(
                    encoder, selection, cache_dir=self.cache_dir,
                    batch_size=self.spec.execution.batch_size or self.spec.batch_size,
                    device=self.device, dtype=self.dtype, progress=self.store.progress,
                    executor=self.executor, recipe=self._recipes.get(id(encoder)),
                )
            return rows

        rows = self.store.memo(key, compute)
        self.failures.update(rows.failures)  # also when another audit of the store computed it
        return rows

    def classifier_features(self, name: str, selection: ImageSelection) -> torch.Tensor:
        """Penultimate features of ``selection``'s readable images, (n, feature_dim)."""
        classifier = self.classifier(name)
        rows = self._rows("features", classifier.info.id, classifier, selection)
        return rows.aligned(self.readable(selection).keys)

    def image_embeddings(self, selection: ImageSelection) -> torch.Tensor:
        """Joint-space image embeddings of ``selection``'s readable images, (n, embed_dim)."""
        space = self.joint_space()
        rows = self._rows("embeddings", space.info.id, space, selection)
        return rows.aligned(self.readable(selection).keys)

    def text_embeddings(self, prompts: list[str]) -> torch.Tensor:
        """Joint-space embeddings of ``prompts``, one row each."""
        space = self.joint_space()
        return artefact_cache.text_embeddings_cached(space, prompts, cache_dir=self.cache_dir,
                                              memo=self.store.memo)

    def geometry(self, name: str) -> HeadGeometry:
        """The head geometry (principal and null bases) of model ``name``."""
        classifier = self.classifier(name)
        tolerance = self.spec.geometry.rank_tolerance
        key = ("geometry", classifier.info.id, classifier.info.weights_hash, tolerance)

        def compute() -> HeadGeometry:
            with self.reporter.stage(f"geometry:{name}", f"head geometry of {name}"):
                return artefact_cache.geometry_cached(classifier, cache_dir=self.cache_dir,
                                                      rank_tolerance=tolerance)

        return self.store.memo(key, compute)

    def prepare(self, models: list[str]) -> None:
        """Extract every model's features and the joint embeddings up front, so that an
        unreadable image is dropped from every model alike."""
        if self.plan.engine.prefetch:
            self._prefetch(models)
        selection = self.audit_images
        for name in models:
            classifier = self.classifier(name)
            self._rows("features", classifier.info.id, classifier, selection)
            selection = self.readable(selection)
        if self.spec.joint_space is not None:
            space = self.joint_space()
            self._rows("embeddings", space.info.id, space, selection)
        self.__dict__["audit_images"] = self.readable(self.audit_images)

    def _prefetch(self, models: list[str]) -> None:
        """Fill the disk cache with every model's audit and fit rows at once, so a cluster runs
        several models' extractions concurrently; the steps after it read the cache."""
        from concurrent.futures import ThreadPoolExecutor

        encoders: list[Classifier | JointSpace] = [self.classifier(name) for name in models]
        selections = [self.audit_images]
        if self.spec.joint_space is not None:
            encoders.append(self.joint_space())
            if self.spec.translator.path is None:
                try:
                    selections.append(self.fit_images)
                except SingauditError:
                    pass  # reported by the checks that need a translator
        batch_size = self.spec.execution.batch_size or self.spec.batch_size
        jobs = [(encoder, selection) for selection in selections for encoder in encoders]
        with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
            futures = [pool.submit(
                artefact_cache.extract_cached, encoder, selection, cache_dir=self.cache_dir,
                batch_size=batch_size, device=self.device, dtype=self.dtype, progress=False,
                executor=self.executor, recipe=self._recipes.get(id(encoder)))
                for encoder, selection in jobs]
            # Here, in the caller's (main) thread, the cluster is started once a job needs it:
            # started from a pool thread, it would die with that thread.
            self.executor.wait(futures)
            for future in futures:
                future.result()

    @cached_property
    def audit_fingerprint(self) -> str:
        """The audited images: keys, content, labels and class names."""
        images = self.audit_images
        return digest({"keys": images.keys, "labels": images.labels,
                       "classes": images.class_names,
                       "content": [images.source.content_hash(r) for r in images.records]})

    # ---------------------------------------------------------------- provenance

    def facts(self, cached_checks: list[str] | None = None) -> RunFacts:
        """What this builder loaded and computed, as plain values for provenance."""
        images = self.listed_images
        space = self.loaded_joint_space
        return RunFacts(
            device=str(self.device),
            dtype=str(self.dtype).removeprefix("torch."),
            cache_dir=str(self.cache_dir),
            classifiers={name: {"weights_hash": c.info.weights_hash,
                                "feature_dim": c.info.feature_dim,
                                "num_classes": c.info.num_classes}
                         for name, c in self.loaded_classifiers.items()},
            joint_space=None if space is None else {"weights_hash": space.info.weights_hash,
                                                    "embed_dim": space.info.embed_dim},
            images=len(images.keys) if images is not None else 0,
            classes=list(images.class_names) if images is not None else [],
            images_sha256=self.audit_fingerprint if images is not None else None,
            timings_s=dict(self.reporter.timings),
            cached_checks=list(cached_checks or []),
        )


def _eval(model: Any) -> None:
    module = getattr(model, "module", None)
    if isinstance(module, torch.nn.Module):
        module.eval()


def _stable(options: dict[str, Any]) -> str:
    return json.dumps(options, sort_keys=True, default=str)


def _recipe(role: Literal["classifier", "joint_space"], model_id: str,
            options: dict[str, Any]) -> ModelRecipe:
    from singaudit.pipeline.executors import ModelRecipe

    return ModelRecipe(role, model_id, dict(options))


def _resolve_device(name: str) -> torch.device:
    from singaudit.pipeline.device import choose_device

    return choose_device(name)


def _resolve_dtype(name: str, device: torch.device) -> torch.dtype:
    from singaudit.pipeline.device import choose_dtype

    return choose_dtype(device, name)
