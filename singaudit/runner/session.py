"""Running audits: each artefact built once, shared by every check and model, kept in a session."""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar

import torch

from singaudit.adapters import sources
from singaudit.adapters.classifiers.base import Classifier
from singaudit.adapters.joint_spaces.base import JointSpace
from singaudit.errors import (
    DataError,
    MissingDependency,
    NotApplicable,
    SingauditError,
    SpecError,
)
from singaudit.results import AuditResult, CheckResult, ModelResult, worst_status
from singaudit.runner import provenance, storage
from singaudit.runner.context import AuditModelContext
from singaudit.runner.selection import ImageSelection, select_images
from singaudit.runner.storage import Rows
from singaudit.spec.models import AuditSpec, DataSpec

T = TypeVar("T")


# The translator facts a model's results carry (the full record stays in the cache).
TRANSLATOR_SUMMARY = ("architecture", "alpha", "mean_cosine", "mse", "r2", "n_train", "n_heldout",
                      "source", "fingerprint", "fit_data", "best_epoch", "epochs")


@dataclass
class TranslatorArtefact:
    module: torch.nn.Module
    info: dict[str, Any]


@dataclass
class _Failure:
    """A computation that failed once; re-raised for every check that needs it."""

    error: BaseException


class AuditSession:
    """Loaded models and computed artefacts, kept in memory so several audits in one process
    (a pytest session, a notebook) share work; the disk cache shares it across processes."""

    def __init__(
        self,
        *,
        cache_dir: str | Path | None = None,
        device: str | None = None,
        progress: bool = True,
        debug: bool = False,
    ) -> None:
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self.device = device
        self.progress = progress
        self.debug = debug
        self._memo: dict[tuple, Any] = {}

    def memo(self, key: tuple, compute: Callable[[], T]) -> T:
        """``compute()`` once per key for the session's lifetime (failures are remembered too)."""
        if key not in self._memo:
            try:
                self._memo[key] = compute()
            except Exception as error:  # noqa: BLE001 - re-raised to each caller
                self._memo[key] = _Failure(error)
        value = self._memo[key]
        if isinstance(value, _Failure):
            raise value.error
        return value

    def run(
        self,
        spec: AuditSpec,
        *,
        out_dir: str | Path | None = None,
        only: Sequence[str] | None = None,
        templates_dir: str | Path | None = None,
        render: bool = True,
    ) -> AuditResult:
        """Run one audit and write its results (and reports) atomically."""
        return SpecRun(self, spec, only=only).execute(
            out_dir=out_dir, templates_dir=templates_dir, render=render
        )

    def clear(self) -> None:
        self._memo.clear()


def run_audit(
    spec: AuditSpec,
    *,
    out_dir: str | Path | None = None,
    device: str | None = None,
    cache_dir: str | Path | None = None,
    progress: bool = True,
    only: Sequence[str] | None = None,
    templates_dir: str | Path | None = None,
    render: bool = True,
    debug: bool = False,
    session: AuditSession | None = None,
) -> AuditResult:
    """Run an audit; ``only`` keeps models or checks by name or glob, or ``model::check`` pairs.
    ``device``, ``cache_dir``, ``progress`` and ``debug`` configure a new session; a given
    ``session`` keeps its own."""
    session = session or AuditSession(cache_dir=cache_dir, device=device, progress=progress,
                                      debug=debug)
    return session.run(spec, out_dir=out_dir, only=only, templates_dir=templates_dir,
                       render=render)


def selected(only: Sequence[str] | None, model: str, check: str | None = None) -> bool:
    """Whether a model (or a model x check) is kept by ``only`` selectors."""
    if not only:
        return True
    for selector in only:
        left, sep, right = selector.partition("::")
        if sep:
            if fnmatch.fnmatchcase(model, left) and (check is None or fnmatch.fnmatchcase(check, right)):
                return True
        elif fnmatch.fnmatchcase(model, selector) or (
            check is not None and fnmatch.fnmatchcase(check, selector)
        ) or check is None and selector_is_check(selector):
            return True
    return False


def selector_is_check(selector: str) -> bool:
    from singaudit.checks import CHECKS

    return any(fnmatch.fnmatchcase(name, selector) for name in CHECKS.names())


class _Reporter:
    """A spinner line per stage on a terminal; quiet otherwise. Records each stage's time."""

    def __init__(self, enabled: bool) -> None:
        self.timings: dict[str, float] = {}
        self._console = None
        if enabled and sys.stderr.isatty():
            from rich.console import Console

            self._console = Console(stderr=True)

    @contextmanager
    def stage(self, key: str, description: str, spinner: bool = True) -> Iterator[None]:
        start = time.perf_counter()
        try:
            if self._console is None or not spinner:
                yield
            else:
                with self._console.status(description):
                    yield
        finally:
            self.timings[key] = round(self.timings.get(key, 0.0) + time.perf_counter() - start, 4)

    def line(self, text: str) -> None:
        if self._console is not None:
            self._console.print(text)


class SpecRun:
    """One audit spec being run: its artefacts come from (and go to) the session."""

    def __init__(self, session: AuditSession, spec: AuditSpec, *, only: Sequence[str] | None):
        self.session = session
        self.spec = spec
        self.only = list(only) if only else None
        self.reporter = _Reporter(session.progress)
        self.device = _resolve_device(session.device or spec.device)
        self.dtype = _resolve_dtype(spec.dtype, self.device)
        self.failures: dict[str, str] = {}  # image key -> why it was skipped
        self._translators: dict[str, TranslatorArtefact] = {}
        self.loaded_classifiers: dict[str, Classifier] = {}
        self.loaded_joint_space: JointSpace | None = None
        self.cached_checks: list[str] = []  # model::check results reused from the cache
        self.cache_dir = storage.cache_root(session.cache_dir or spec.cache_dir)

    # ---------------------------------------------------------------- loading (memoised)

    def _data_source(self, data: DataSpec):
        key = ("data", data.id, _stable(data.options))
        return self.session.memo(key, lambda: sources.load_data(data.id, **data.options))

    def classifier(self, name: str) -> Classifier:
        model = self.spec.model_by_name(name)
        key = ("classifier", model.id, _stable(model.options))

        def load() -> Classifier:
            with self.reporter.stage(f"load:{name}", f"loading {model.id}"):
                classifier = sources.load_classifier(model.id, **model.options)
                _eval(classifier)
                return classifier

        classifier = self.session.memo(key, load)
        self.loaded_classifiers[name] = classifier
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

        self.loaded_joint_space = self.session.memo(key, load)
        return self.loaded_joint_space

    def generator(self):
        config = self.spec.generator
        if config is None:
            return None
        generator_id = config.id or self.joint_space().info.default_generator
        if generator_id is None:  # evidence falls back to retrieval
            return None
        key = ("generator", generator_id, _stable(config.options), str(self.device))
        return self.session.memo(
            key, lambda: sources.load_generator(generator_id, **config.options)
        )

    # ---------------------------------------------------------------- images and features

    @cached_property
    def audit_images(self) -> ImageSelection:
        data = self.spec.data
        with self.reporter.stage("data", f"listing images of {data.id}"):
            source = self._data_source(data)
            selection = select_images(source, data.classes, data.images_per_class, data.seed)
        return self._readable(selection)

    def _readable(self, selection: ImageSelection) -> ImageSelection:
        """Drop images already known to be unreadable."""
        if not self.failures:
            return selection
        keep = [i for i, key in enumerate(selection.keys) if key not in self.failures]
        if not keep:
            raise DataError(f"no readable images in {selection.source.id}")
        return selection.subset(keep)

    def _rows(self, kind: str, model_id: str, encoder: Any, selection: ImageSelection) -> Rows:
        key = ("rows", kind, model_id, encoder.info.weights_hash, encoder.preprocessing.describe,
               str(self.device), str(self.dtype), selection.source.id, tuple(selection.keys))

        def compute() -> Rows:
            # The pipeline shows its own progress bar: no spinner here.
            with self.reporter.stage(f"{kind}:{model_id}", "", spinner=False):
                rows = storage.extract_cached(
                    encoder, selection, cache_dir=self.cache_dir,
                    batch_size=self.spec.batch_size, device=self.device, dtype=self.dtype,
                    progress=self.session.progress,
                )
            return rows

        rows = self.session.memo(key, compute)
        self.failures.update(rows.failures)  # also when another audit of the session computed it
        return rows

    def classifier_features(self, name: str, selection: ImageSelection) -> torch.Tensor:
        classifier = self.classifier(name)
        rows = self._rows("features", classifier.info.id, classifier, selection)
        return rows.aligned(self._readable(selection).keys)

    def image_embeddings(self, selection: ImageSelection) -> torch.Tensor:
        space = self.joint_space()
        rows = self._rows("embeddings", space.info.id, space, selection)
        return rows.aligned(self._readable(selection).keys)

    def text_embeddings(self, prompts: list[str]) -> torch.Tensor:
        space = self.joint_space()
        return storage.text_embeddings_cached(space, prompts, cache_dir=self.cache_dir,
                                              memo=self.session.memo)

    def geometry(self, name: str):
        classifier = self.classifier(name)
        key = ("geometry", classifier.info.id, classifier.info.weights_hash)

        def compute():
            with self.reporter.stage(f"geometry:{name}", f"head geometry of {name}"):
                return storage.geometry_cached(classifier, cache_dir=self.cache_dir)

        return self.session.memo(key, compute)

    # ---------------------------------------------------------------- translator

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
        """Readable fit images split (seeded) into train and held-out keys."""
        fit = self.fit_images
        classifier, space = self.classifier(name), self.joint_space()
        self._rows("features", classifier.info.id, classifier, fit)
        self._rows("embeddings", space.info.id, space, fit)
        readable = self._readable(fit)
        keys = readable.keys
        order = torch.randperm(len(keys), generator=torch.Generator().manual_seed(self.spec.seed))
        n_heldout = max(1, round(len(keys) * self.spec.translator.heldout))
        heldout = sorted(order[:n_heldout].tolist())
        train = sorted(order[n_heldout:].tolist())
        if len(train) < 2:
            raise DataError(f"too few translator fit images ({len(keys)}) for a held-out split")
        return [keys[i] for i in train], [keys[i] for i in heldout], readable

    def translator_fit_data(self, name: str):
        train_keys, heldout_keys, fit = self._fit_split(name)
        classifier, space = self.classifier(name), self.joint_space()
        features = self._rows("features", classifier.info.id, classifier, fit)
        embeddings = self._rows("embeddings", space.info.id, space, fit)
        return (features.aligned(train_keys), embeddings.aligned(train_keys),
                features.aligned(heldout_keys), embeddings.aligned(heldout_keys))

    def translator(self, name: str) -> TranslatorArtefact:
        if name in self._translators:
            return self._translators[name]
        config = self.spec.translator
        classifier, space = self.classifier(name), self.joint_space()
        if config.path is not None:
            key = ("translator-file", config.path, classifier.info.id, space.info.id)
            artefact = self.session.memo(key, lambda: TranslatorArtefact(
                *storage.load_translator_file(Path(config.path), classifier, space)))
            self._translators[name] = artefact
            return artefact
        train_keys, heldout_keys, fit = self._fit_split(name)
        used = set(train_keys) | set(heldout_keys)
        content = [fit.source.content_hash(r) for r in fit.records if r.key in used]
        fingerprint = _digest({
            "arch": config.arch, "options": config.options, "seed": self.spec.seed,
            "classifier": [classifier.info.id, classifier.info.weights_hash],
            "joint_space": [space.info.id, space.info.weights_hash],
            "train": train_keys, "heldout": heldout_keys, "content": content,
            "dtype": str(self.dtype),
        })

        def build() -> TranslatorArtefact:
            with self.reporter.stage(f"translator:{name}", f"translator for {name}"):
                module, info = storage.fit_or_load_translator(
                    fingerprint, config.arch, config.options,
                    lambda: self.translator_fit_data(name), cache_dir=self.cache_dir,
                    seed=self.spec.seed,
                    meta={"classifier": classifier.info.id, "joint_space": space.info.id},
                )
            info["fit_data"] = fit.source.id
            return TranslatorArtefact(module, info)

        artefact = self.session.memo(("translator", fingerprint), build)
        self._translators[name] = artefact
        return artefact

    # ---------------------------------------------------------------- running checks

    def _prepare(self, models: list[str]) -> None:
        """Extract every model's features and the joint embeddings up front, so that an
        unreadable image is dropped from every model alike."""
        selection = self.audit_images
        for name in models:
            classifier = self.classifier(name)
            self._rows("features", classifier.info.id, classifier, selection)
            selection = self._readable(selection)
        if self.spec.joint_space is not None:
            space = self.joint_space()
            self._rows("embeddings", space.info.id, space, selection)
        self.__dict__["audit_images"] = self._readable(self.audit_images)

    def _run_check(self, ctx: AuditModelContext, check_name: str, params: Any) -> CheckResult:
        from singaudit.checks import CHECKS

        start = time.perf_counter()
        key = None
        try:
            with self.reporter.stage(f"check:{ctx.name}:{check_name}",
                                     f"{ctx.name}: {check_name}"):
                check = CHECKS.get(check_name)()
                if check.requires_null_space:
                    ctx.geometry.require_null_space()
                key = self._check_key(ctx, check_name, check, params)
                cached = key and storage.load_check_result(self.cache_dir, key, ctx.artefact_dir)
                if cached:
                    self.cached_checks.append(f"{ctx.name}::{check_name}")
                    result = cached
                else:
                    before = _files(ctx.artefact_dir)
                    result = check.run(ctx, params)
                    if key is not None and result.status != "error":
                        written = [p for p, stamp in _files(ctx.artefact_dir).items()
                                   if before.get(p) != stamp]
                        storage.save_check_result(self.cache_dir, key, result, ctx.artefact_dir,
                                                  written)
        except NotApplicable as reason:
            result = CheckResult(name=check_name, status="skip", message=str(reason))
        except MissingDependency as reason:
            result = CheckResult(name=check_name, status="skip", message=str(reason))
        except (KeyboardInterrupt, SystemExit):
            raise
        except Exception as error:  # noqa: BLE001 - one check's failure must not stop the audit
            message = str(error) if isinstance(error, SingauditError) else (
                f"{type(error).__name__}: {error}")
            result = CheckResult(name=check_name, status="error", message=message)
            if self.session.debug:
                result.data["traceback"] = traceback.format_exc()
                traceback.print_exc(file=sys.stderr)
        result.name = check_name
        result.duration_s = round(time.perf_counter() - start, 4)
        return result

    def _check_key(self, ctx: AuditModelContext, check_name: str, check: Any,
                   params: Any) -> str | None:
        """Everything a check's result depends on, hashed; None when it cannot be told (then the
        check simply runs)."""
        spec = self.spec
        classifier = ctx.classifier
        try:
            translator = None
            if spec.joint_space is not None:
                info = self.translator(ctx.name).info
                translator = info.get("fingerprint") or info.get("weights_sha256")
            joint = self.joint_space().info if spec.joint_space is not None else None
        except Exception:  # noqa: BLE001 - the check itself will meet and report the problem
            return None
        module_file = getattr(sys.modules.get(type(check).__module__), "__file__", None)
        return _digest({
            "check": check_name,
            "model": ctx.name,  # artefact paths in the result name the model's folder
            "params": params.model_dump(mode="json"),
            "code": storage.code_fingerprint(*([module_file] if module_file else [])),
            "versions": provenance.library_versions(),
            "classifier": [classifier.info.id, classifier.info.weights_hash],
            "joint_space": [joint.id, joint.weights_hash] if joint else None,
            "translator": translator,
            "generator": spec.generator.model_dump(mode="json") if spec.generator else None,
            "images": self.audit_fingerprint,
            "prompts": ctx.prompts.templates,
            "seed": spec.seed, "device": self.device.type, "dtype": str(self.dtype),
        })

    @cached_property
    def audit_fingerprint(self) -> str:
        """The audited images: keys, content, labels and class names."""
        images = self.audit_images
        return _digest({"keys": images.keys, "labels": images.labels,
                        "classes": images.class_names,
                        "content": [images.source.content_hash(r) for r in images.records]})

    def execute(
        self,
        *,
        out_dir: str | Path | None,
        templates_dir: str | Path | None,
        render: bool,
    ) -> AuditResult:
        started = time.time()
        spec = self.spec
        out_dir = output_dir(spec, out_dir)
        models = [m.name for m in spec.models if selected(self.only, m.name)]
        if not models:
            raise SpecError(f"{spec.name}: --only {' '.join(self.only or [])} selects no model "
                            f"(models: {', '.join(m.name for m in spec.models)})")
        staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=_parent(out_dir)))
        try:
            prepared_error = self._try_prepare(models)
            model_results = [self._model_result(name, staging, prepared_error) for name in models]
            result = self._audit_result(model_results, started)
            result.write(staging / "results.json")
            if render:
                self._render(staging, templates_dir)
            _publish(staging, out_dir)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return result

    def _try_prepare(self, models: list[str]) -> str | None:
        try:
            self._prepare(models)
        except SingauditError:
            raise  # bad data or weights: one clear message, nothing to report
        except (KeyboardInterrupt, SystemExit):
            raise
        except Exception as error:  # noqa: BLE001
            if self.session.debug:
                traceback.print_exc(file=sys.stderr)
            return f"preparing the audit failed: {type(error).__name__}: {error}"
        return None

    def _model_result(self, name: str, staging: Path, prepared_error: str | None) -> ModelResult:
        model = self.spec.model_by_name(name)
        expect = model.expect
        checks = [(c, p) for c, p in self.spec.checks.items() if selected(self.only, name, c)]
        artefact_dir = staging / "artefacts" / name
        artefact_dir.mkdir(parents=True, exist_ok=True)
        results: list[CheckResult] = []
        info: dict[str, Any] = {}
        if prepared_error is not None:
            results = [CheckResult(name=c, status="error", message=prepared_error) for c, _ in checks]
        else:
            classifier = self.classifier(name)
            ctx = AuditModelContext(self, name, classifier, artefact_dir, f"artefacts/{name}")
            results = [self._run_check(ctx, check_name, params) for check_name, params in checks]
            info = self._model_info(name, classifier)
        status = worst_status([r.status for r in results])
        return ModelResult(name=name, id=model.id, expect=expect, status=status,
                           expectation_met=expectation_met(expect, status), info=info,
                           checks=results)

    def _model_info(self, name: str, classifier: Classifier) -> dict[str, Any]:
        info: dict[str, Any] = {
            "feature_dim": classifier.info.feature_dim,
            "num_classes": classifier.info.num_classes,
            "weights_hash": classifier.info.weights_hash,
        }
        try:
            geometry = self.geometry(name)
            info.update(null_dim=geometry.null_dim, rank=geometry.rank,
                        rank_tolerance=geometry.tolerance)
        except Exception as error:  # noqa: BLE001 - info only; the checks report the failure
            info["geometry_error"] = str(error)
        translator = self._translators.get(name)
        if translator is not None:
            info["translator"] = {k: v for k, v in translator.info.items()
                                  if k in TRANSLATOR_SUMMARY}
        return info

    def _audit_result(self, models: list[ModelResult], started: float) -> AuditResult:
        status = worst_status([m.status for m in models])
        ok = all(m.expectation_met is not False for m in models)
        images = self.audit_images if "audit_images" in self.__dict__ else None
        return AuditResult(
            name=self.spec.name,
            status=status,
            ok=ok,
            models=models,
            comparison=comparison(models),
            data_issues={
                "skipped": len(self.failures),
                "images": [{"key": k, "reason": r} for k, r in sorted(self.failures.items())],
            },
            provenance=provenance.collect(self, images, started, models),
        )

    def _render(self, staging: Path, templates_dir: str | Path | None) -> None:
        formats = [f for f in self.spec.report.formats if f != "json"]
        if not formats:
            return
        try:
            from singaudit.reports import render_reports
        except ImportError:
            self.reporter.line("reports are not available yet; wrote results.json only")
            return
        with self.reporter.stage("reports", "rendering reports"):
            render_reports(staging / "results.json", formats, templates_dir)


def output_dir(spec: AuditSpec, out_dir: str | Path | None = None) -> Path:
    """Where an audit writes: the argument, else the spec's report.out, else reports/<name>."""
    return Path(out_dir or spec.report.out or Path("reports") / spec.name)


def expectation_met(expect: str, status: str) -> bool | None:
    """pass: nothing failed or errored; fail: a check failed (an error is not the expected
    failure); none: informational."""
    if expect == "pass":
        return status not in ("fail", "error")
    if expect == "fail":
        return status == "fail"
    return None


def comparison(models: list[ModelResult]) -> dict[str, Any]:
    """Per-model ratio, medians and per-image (AS, IS), read from each model's class_semantics
    result (the runner only gathers them)."""
    entries = []
    for model in models:
        check = next((c for c in model.checks if c.name == "class_semantics"
                      and c.status not in ("skip", "error")), None)
        if check is None:
            continue
        is_values = [float(v) for v in check.data.get("is", []) if v is not None]
        as_values = [float(v) for v in check.data.get("as", []) if v is not None]
        ratio = check.metrics.get("ratio")
        entries.append({
            "name": model.name,
            "ratio": ratio.value if ratio is not None else None,
            "median_is": _median(check, "is", is_values),
            "median_as": _median(check, "as", as_values),
            "median_abs_as": _median(check, "abs_as", [abs(v) for v in as_values]),
            "is": is_values,
            "as": as_values,
        })
    ranked = sorted((e for e in entries if e["ratio"] is not None),
                    key=lambda e: e["ratio"], reverse=True)
    return {"models": entries, "ranking": [e["name"] for e in ranked]} if entries else {}


def _median(check: CheckResult, metric: str, values: list[float]) -> float | None:
    """The check's own median of ``metric``, else the median of its per-image values."""
    import numpy as np

    reported = check.metrics.get(metric)
    if reported is not None and reported.statistic == "median" and reported.value is not None:
        return reported.value
    return float(np.median(values)) if values else None


# -------------------------------------------------------------------- helpers


def _publish(staging: Path, out_dir: Path) -> None:
    """Move the finished outputs into place: artefacts and reports first, results.json last."""
    out_dir.mkdir(parents=True, exist_ok=True)
    # mkdtemp makes the staging folder private (0700); what it held is published, so it follows
    # the umask like the files inside it (pipeline.atomic and mkdir already do).
    umask = os.umask(0)
    os.umask(umask)
    staging.chmod(0o777 & ~umask)
    entries = sorted(staging.iterdir(), key=lambda p: p.name == "results.json")
    for entry in entries:
        target = out_dir / entry.name
        if entry.is_dir():
            if target.exists():
                old = target.with_name(f".{target.name}.old-{os.getpid()}")
                os.replace(target, old)
                os.replace(entry, target)
                shutil.rmtree(old, ignore_errors=True)
            else:
                os.replace(entry, target)
        else:
            os.replace(entry, target)


def _files(folder: Path) -> dict[Path, tuple[int, int]]:
    """Files under ``folder`` with (mtime_ns, size), to tell which ones a check wrote."""
    return {p: (p.stat().st_mtime_ns, p.stat().st_size) for p in folder.rglob("*") if p.is_file()}


def _parent(out_dir: Path) -> Path:
    parent = out_dir.absolute().parent
    parent.mkdir(parents=True, exist_ok=True)
    return parent


def _eval(model: Any) -> None:
    module = getattr(model, "module", None)
    if isinstance(module, torch.nn.Module):
        module.eval()


def _stable(options: dict[str, Any]) -> str:
    return json.dumps(options, sort_keys=True, default=str)


def _digest(payload: Any) -> str:
    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _resolve_device(name: str) -> torch.device:
    from singaudit.pipeline.device import choose_device

    return choose_device(name)


def _resolve_dtype(name: str, device: torch.device) -> torch.dtype:
    from singaudit.pipeline.device import choose_dtype

    return choose_dtype(device, name)
