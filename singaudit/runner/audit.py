"""The audit loop: every selected model x check, each check's result cached by its inputs and
its verdict judged again from its measurements whenever it comes from the cache."""

from __future__ import annotations

import fnmatch
import hashlib
import json
import logging
import sys
import time
import traceback
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from singaudit.cache import cache_root
from singaudit.cache import checks as check_cache
from singaudit.cache import runs as run_records
from singaudit.checks import CHECKS, Check
from singaudit.errors import MissingDependency, NotApplicable, SingauditError, SpecError
from singaudit.io.versions import library_versions
from singaudit.results import (
    Accuracy,
    Angles,
    AuditResult,
    CheckResult,
    ModelResult,
    Predictions,
    angle_values,
)
from singaudit.runner import cached_verdicts, provenance, warm
from singaudit.runner.memo import digest
from singaudit.runner.outputs import output_dir, publish, staged_output
from singaudit.runner.plan import Plan, make_plan
from singaudit.runner.regressions import with_regressions
from singaudit.spec.models import AuditSpec

if TYPE_CHECKING:  # the builder, contexts and accuracy import torch: only a computing run needs it
    from singaudit.checks.base import ModelContext
    from singaudit.runner.artefacts import ArtefactBuilder
    from singaudit.runner.context import AuditModelContext

logger = logging.getLogger("singaudit.cache")

# The translator facts a model's results carry (the full record stays in the cache).
TRANSLATOR_SUMMARY = ("architecture", "alpha", "mean_cosine", "mse", "r2", "n_train", "n_select",
                      "n_heldout", "source", "fingerprint", "fit_data", "best_epoch", "epochs")


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
    return any(fnmatch.fnmatchcase(name, selector) for name in CHECKS.names())


def selector_matches(selector: str, models: Sequence[str], checks: Sequence[str]) -> bool:
    """Whether an ``only`` selector (name, glob or model::check) names a model or check."""
    def matches(pattern: str, names: Sequence[str]) -> bool:
        return any(fnmatch.fnmatchcase(name, pattern) for name in names)

    left, sep, right = selector.partition("::")
    if sep:
        return matches(left, models) and matches(right, checks)
    return matches(selector, models) or matches(selector, checks)


def check_selectors(spec: AuditSpec, only: Sequence[str] | None) -> None:
    """SpecError for a selector that names no model or check of ``spec`` (before anything runs:
    a typo must not run zero checks and pass)."""
    models = [m.name for m in spec.models]
    checks = list(spec.checks)
    for selector in only or []:
        if not selector_matches(selector, models, checks):
            kind = "model::check" if "::" in selector else "model or check"
            raise SpecError(f"{spec.name}: --only {selector} names no {kind} of the audit; "
                            f"models: {', '.join(models)}; checks: {', '.join(checks)}")


def replay_run(spec: AuditSpec | Plan, store: Any, *, only: Sequence[str] | None = None,
               out_dir: str | Path | None = None, force: bool = False) -> AuditResult | None:
    """The run of ``spec`` replayed from its run record (``singaudit.runner.warm``) when every
    input is unchanged since it was computed: no model loaded, no torch imported; every verdict is
    judged again from its cached measurements. Writes the same outputs as ``AuditRun.execute``;
    None (nothing written) when a computing run is needed, or when the store says not to replay
    (``replay=False`` or ``recompute=True``)."""
    if getattr(store, "recompute", False) or not getattr(store, "replay", True):
        return None
    started = time.time()
    plan = make_plan(spec)
    spec = plan.spec
    cache_dir = cache_root(store.cache_dir or spec.cache_dir)
    key = warm.record_key(plan, only, cache_dir, store.device)
    record = run_records.load_record(cache_dir, key) if key is not None else None
    if key is None or record is None:
        return None
    out_dir = output_dir(spec, out_dir)
    check_selectors(spec, only)
    try:
        selected_models = [m.name for m in spec.models if selected(only, m.name)]
        if [entry.get("name") for entry in record["models"]] != selected_models:
            raise _CorruptRecord("its models are not those the spec selects")
        with staged_output(out_dir, force=force) as staging:
            models = [_replayed_model(plan, only, entry, cache_dir, staging)
                      for entry in record["models"]]
            facts = provenance.RunFacts(**{
                **record["facts"],
                "cached_checks": [f"{m.name}::{c.name}" for m in models for c in m.checks]})
            result = with_regressions(AuditResult.from_models(
                name=spec.name, models=models, data_issues=record["data_issues"],
                provenance=provenance.collect(plan, facts, started, models)), spec)
            result.write(staging / "results.json")
            publish(staging, out_dir, audit=spec.name)
    except _CorruptRecord as reason:
        logger.warning("singaudit: the run record %s does not hold (%s): a corrupt cache entry; "
                       "computing the run instead", run_records.record_path(cache_dir, key), reason)
        run_records.discard_record(cache_dir, key)
        return None
    except (_NotReplayable, KeyError, TypeError, ValueError, AttributeError):
        return None  # a record of another layout, or an entry gone since: compute instead
    if store.progress:
        print(f"{spec.name}: inputs unchanged since a computed run; its {len(facts.cached_checks)} "
              "check results replayed from the cache (verdicts judged again from their "
              "measurements)", file=sys.stderr, flush=True)
    return result


class _NotReplayable(Exception):
    """A run record that does not fit the cache or spec any more: compute instead."""


class _CorruptRecord(_NotReplayable):
    """A run record that contradicts the spec or its own entries: warned about, then removed."""


def _replayed_model(plan: Plan, only: Sequence[str] | None, entry: dict[str, Any],
                    cache_dir: Path, staging: Path) -> ModelResult:
    spec = plan.spec
    try:
        model = spec.model_by_name(entry["name"])
    except (KeyError, SpecError):
        raise _NotReplayable from None
    wanted = [c for c in spec.checks if selected(only, model.name, c)]
    if [item.get("name") for item in entry["checks"]] != wanted:
        raise _CorruptRecord(f"the checks of {model.name} are not those the spec selects")
    artefact_dir = staging / "artefacts" / model.name
    artefact_dir.mkdir(parents=True, exist_ok=True)
    checks = []
    for item in entry["checks"]:
        start = time.perf_counter()
        if set(item) != {"name", "key"}:  # a record names entries; it never holds a verdict
            raise _CorruptRecord(f"it holds {model.name}::{item['name']}'s result itself")
        stored = check_cache.read_check_entry(cache_dir, item["key"])
        if stored is None:
            raise _NotReplayable  # removed or damaged since: the check runs again
        planned = plan.checks[item["name"]]
        check = planned.check()
        result = cached_verdicts.trusted(stored, check, planned.params, model.name,
                                         item["name"])
        if result is None:
            check_cache.discard_check_entry(cache_dir, item["key"])
            raise _NotReplayable  # warned; the computing run judges it afresh
        stored.restore_files(artefact_dir)
        result.name = item["name"]
        result.duration_s = round(time.perf_counter() - start, 4)
        checks.append(result)
    predictions = entry["predictions"]  # KeyError: a record of an older layout
    accuracy = entry.get("accuracy")  # absent: an older record keeps it in info (read as one)
    return ModelResult.from_checks(
        name=model.name, id=model.id, expect=model.expect, checks=checks, info=entry["info"],
        predictions=None if predictions is None else Predictions.model_validate(predictions),
        angles=model_angles(checks),
        accuracy=None if accuracy is None else Accuracy.model_validate(accuracy))


def model_angles(checks: Sequence[CheckResult]) -> Angles | None:
    """The model's Angles, from the first measured check result whose check offers them."""
    for result in checks:
        check = CHECKS.get(result.name) if result.name in CHECKS else None
        if check is None or check.angle_ratio is None or result.status in ("skip", "error"):
            continue
        values = angle_values(result)
        ratio = result.metrics.get(check.angle_ratio)
        return Angles(check=result.name, ratio=None if ratio is None else ratio.value,
                      median_is=_median(result, "is", values["is"]),
                      median_as=_median(result, "as", values["as"]),
                      median_abs_as=_median(result, "abs_as", [abs(v) for v in values["as"]]))
    return None


def _median(check: CheckResult, metric: str, values: list[float]) -> float | None:
    """The check's own median of ``metric``, else the median of its per-image values."""
    import numpy as np

    reported = check.metrics.get(metric)
    if reported is not None and reported.statistic == "median" and reported.value is not None:
        return reported.value
    return float(np.median(values)) if values else None


class AuditRun:
    """One audit spec run over its selected models and checks, on an artefact builder."""

    def __init__(self, artefacts: ArtefactBuilder, *, only: Sequence[str] | None = None,
                 debug: bool = False) -> None:
        self.artefacts = artefacts
        self.plan = artefacts.plan
        self.spec = artefacts.spec
        self.only = list(only) if only else None
        self.debug = debug
        self.cached_checks: list[str] = []  # model::check results reused from the cache
        # How each check result can be found again ({"key": ...} or the result itself), for the
        # run record; None once a result cannot be replayed (an error, no key).
        self._replay: dict[str, list[dict[str, Any]]] | None = {}

    def execute(self, *, out_dir: str | Path | None = None, force: bool = False) -> AuditResult:
        """Run the audit; write results.json and the artefacts to ``out_dir`` atomically,
        replacing only what singaudit wrote there (``force``: also into a foreign folder)."""
        started = time.time()
        spec = self.spec
        out_dir = output_dir(spec, out_dir)
        check_selectors(spec, self.only)
        models = [m.name for m in spec.models if selected(self.only, m.name)]
        if not models:
            raise SpecError(f"{spec.name}: --only {' '.join(self.only or [])} selects no model "
                            f"(models: {', '.join(m.name for m in spec.models)})")
        with staged_output(out_dir, force=force) as staging:
            prepared_error = self._try_prepare(models)
            model_results = [self._model_result(name, staging, prepared_error) for name in models]
            result = self._audit_result(model_results, started)
            result.write(staging / "results.json")
            self._save_record(model_results)
            publish(staging, out_dir, audit=spec.name)
        return result

    def _save_record(self, models: list[ModelResult]) -> None:
        """Keep what a later run with the same inputs needs to replay this one without torch."""
        artefacts = self.artefacts
        key = warm.record_key(self.plan, self.only, artefacts.cache_dir, artefacts.store.device)
        if key is None or self._replay is None:
            return
        facts = artefacts.facts(self.cached_checks)
        infos = {m.name: json.loads(json.dumps(m.info, default=str)) for m in models}
        for info in infos.values():  # a replay takes the translator this run cached
            if isinstance(info.get("translator"), dict) and info["translator"].get(
                    "source") == "fitted":
                info["translator"]["source"] = "cache"
        run_records.save_record(artefacts.cache_dir, key, {
            "models": [{"name": m.name, "info": infos[m.name], "checks": self._replay[m.name],
                        "predictions": m.predictions and m.predictions.model_dump(),
                        "accuracy": m.accuracy and m.accuracy.model_dump()}
                       for m in models],
            "data_issues": self._data_issues(),
            "facts": {**vars(facts), "timings_s": {}, "cached_checks": []},
        })

    def _try_prepare(self, models: list[str]) -> str | None:
        try:
            self.artefacts.prepare(models)
        except SingauditError:
            raise  # bad data or weights: one clear message, nothing to report
        except (KeyboardInterrupt, SystemExit):
            raise
        except Exception as error:  # noqa: BLE001
            if self.debug:
                traceback.print_exc(file=sys.stderr)
            return f"preparing the audit failed: {type(error).__name__}: {error}"
        return None

    def _model_result(self, name: str, staging: Path, prepared_error: str | None) -> ModelResult:
        model = self.spec.model_by_name(name)
        checks = [(c, p) for c, p in self.plan.params() if selected(self.only, name, c)]
        artefact_dir = staging / "artefacts" / name
        artefact_dir.mkdir(parents=True, exist_ok=True)
        results: list[CheckResult] = []
        info: dict[str, Any] = {}
        predictions: Predictions | None = None
        accuracy: Accuracy | None = None
        if prepared_error is not None:
            self._replay = None
            results = [CheckResult(name=c, status="error", message=prepared_error) for c, _ in checks]
        else:
            from singaudit.runner.accuracy import audit_accuracy
            from singaudit.runner.context import AuditModelContext

            classifier = self.artefacts.classifier(name)
            ctx = AuditModelContext(self.artefacts, name, classifier, artefact_dir,
                                    f"artefacts/{name}")
            results = [self._run_check(ctx, check_name, params) for check_name, params in checks]
            info = self._model_info(name)
            logits = classifier.logits(ctx.features)
            accuracy = Accuracy.model_validate(audit_accuracy(
                logits, ctx.labels, ctx.class_names, classifier.info.class_names))
            predictions = Predictions(image_keys=list(ctx.image_keys),
                                      top1=logits.argmax(-1).tolist())
        return ModelResult.from_checks(name=name, id=model.id, expect=model.expect,
                                       checks=results, info=info, predictions=predictions,
                                       angles=model_angles(results), accuracy=accuracy)

    def _model_info(self, name: str) -> dict[str, Any]:
        classifier = self.artefacts.classifier(name)
        info: dict[str, Any] = {
            "feature_dim": classifier.info.feature_dim,
            "num_classes": classifier.info.num_classes,
            "weights_hash": classifier.info.weights_hash,
        }
        try:
            geometry = self.artefacts.geometry(name)
            info.update(null_dim=geometry.null_dim, rank=geometry.rank,
                        rank_tolerance=geometry.tolerance)
        except Exception as error:  # noqa: BLE001 - info only; the checks report the failure
            info["geometry_error"] = str(error)
        translator = self.artefacts.translators.get(name)
        if translator is not None:
            info["translator"] = {k: v for k, v in translator.info.items()
                                  if k in TRANSLATOR_SUMMARY}
        return info

    def _data_issues(self) -> dict[str, Any]:
        failures = self.artefacts.failures
        data_issues: dict[str, Any] = {
            "skipped": len(failures),
            "images": [{"key": k, "reason": r} for k, r in sorted(failures.items())],
        }
        listed = self.artefacts.listed_images
        if listed is not None and listed.short_classes:
            data_issues["short_classes"] = [
                {"class": name, "images": found, "requested": self.spec.data.images_per_class}
                for name, found in listed.short_classes]
        return data_issues

    def _audit_result(self, models: list[ModelResult], started: float) -> AuditResult:
        result = AuditResult.from_models(
            name=self.spec.name,
            models=models,
            data_issues=self._data_issues(),
            provenance=provenance.collect(self.plan, self.artefacts.facts(self.cached_checks),
                                          started, models),
        )
        # Models with a baseline: the regression tiers judged into a "regression" check.
        return with_regressions(result, self.spec)

    # ---------------------------------------------------------------- one check

    def _run_check(self, ctx: AuditModelContext, check_name: str, params: Any) -> CheckResult:
        start = time.perf_counter()
        key = stored = None  # stored: the check-cache key the result is kept under
        try:
            with self.artefacts.reporter.stage(f"check:{ctx.name}:{check_name}",
                                               f"check {ctx.name}::{check_name}"):
                check = self.plan.checks[check_name].check()
                if check.requires_null_space:
                    ctx.geometry.require_null_space()
                # Only what the framework judges is cached: its verdict can be judged again.
                judged_here = type(check).run is Check.run and type(check).judge is Check.judge
                key = self._check_key(ctx, check_name, check, params) if judged_here else None
                result, stored = self._cached(ctx, check_name, check, params, key)
                if result is None:
                    result = self._computed(ctx, check_name, check, params, key) \
                        if key is not None else check.run(_seen_by_checks(ctx), params)
                    stored = key if key is not None and result.status != "error" else None
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
            if self.debug:
                result.data["traceback"] = traceback.format_exc()
                traceback.print_exc(file=sys.stderr)
        result.name = check_name
        result.duration_s = round(time.perf_counter() - start, 4)
        self._remember(ctx.name, check_name, stored, result)
        return result

    def _cached(self, ctx: AuditModelContext, check_name: str, check: Check, params: Any,
                key: str | None) -> tuple[CheckResult | None, str | None]:
        """The cached result of ``key`` whose verdict holds when judged again, its files restored;
        (None, None) when there is none, or when ``--recompute`` ignores the cache."""
        cache_dir = self.artefacts.cache_dir
        if key is None or getattr(self.artefacts.store, "recompute", False):
            return None, None
        entry = check_cache.read_check_entry(cache_dir, key)
        if entry is None:
            return None, None
        result = cached_verdicts.trusted(entry, check, params, ctx.name, check_name)
        if result is None:  # warned: a corrupt entry, computed again and stored over
            check_cache.discard_check_entry(cache_dir, key)
            return None, None
        entry.restore_files(ctx.artefact_dir)
        self.cached_checks.append(f"{ctx.name}::{check_name}")
        return result, key

    def _computed(self, ctx: AuditModelContext, check_name: str, check: Check, params: Any,
                  key: str) -> CheckResult:
        """Measure, keep what was measured, judge; store the result with its measurements."""
        before = _files(ctx.artefact_dir)
        measured = check.measure(_seen_by_checks(ctx), params)
        kept = cached_verdicts.measurements_record(measured, ctx.class_names, ctx.seed, model=ctx.name,
                                            check=check_name)  # before judging adds to it
        result = check.judge(measured, params, ctx.class_names, seed=ctx.seed)
        if result.status != "error":
            written = [p for p, stamp in _files(ctx.artefact_dir).items()
                       if before.get(p) != stamp]
            check_cache.save_check_result(
                self.artefacts.cache_dir, key, result, kept, ctx.artefact_dir, written,
                replace=getattr(self.artefacts.store, "recompute", False))
        return result

    def _remember(self, model: str, check_name: str, stored: str | None,
                  result: CheckResult) -> None:
        """Note how a run record finds this result again: by its check-cache key (whose
        measurements a replay judges again). A result without one (a skip, an error, a check
        that judges itself) ends the record: the next run computes."""
        if self._replay is None:
            return
        if stored is None:
            self._replay = None
            return
        self._replay.setdefault(model, []).append({"name": check_name, "key": stored})

    def _check_key(self, ctx: AuditModelContext, check_name: str, check: Any,
                   params: Any) -> str | None:
        """Everything a check's result depends on, hashed; None when it cannot be told (then the
        check simply runs)."""
        spec, artefacts = self.spec, self.artefacts
        classifier = ctx.classifier
        try:
            translator = None
            if spec.joint_space is not None:
                info = artefacts.translator(ctx.name).info
                translator = info.get("fingerprint") or info.get("weights_sha256")
            joint = artefacts.joint_space().info if spec.joint_space is not None else None
        except Exception:  # noqa: BLE001 - the check itself will meet and report the problem
            return None
        module_file = getattr(sys.modules.get(type(check).__module__), "__file__", None)
        return digest({
            "check": check_name,
            "model": ctx.name,  # artefact paths in the result name the model's folder
            "params": params.model_dump(mode="json"),
            "code": code_fingerprint(*([module_file] if module_file else [])),
            "versions": library_versions(),
            "classifier": [classifier.info.id, classifier.info.weights_hash],
            "joint_space": [joint.id, joint.weights_hash] if joint else None,
            "translator": translator,
            # the null-only translator of class_semantics is fitted on the fit set (or
            # cross-fitted when a loaded translator has none): a loaded copy is not the same input
            "translator_spec": spec.translator.model_dump(mode="json"),
            "generator": spec.generator.model_dump(mode="json") if spec.generator else None,
            "images": artefacts.audit_fingerprint,
            "prompts": ctx.prompts.templates,
            "null_removal": ctx.null_removal,
            "geometry": spec.geometry.model_dump(mode="json"),
            "seed": spec.seed, "device": artefacts.device.type, "dtype": str(artefacts.dtype),
        })


def _seen_by_checks(ctx: AuditModelContext) -> ModelContext:
    """``ctx`` as the checks' ModelContext: the Protocol declares plain attributes, which the
    runner's context serves as read-only (lazily computed) properties."""
    return cast("ModelContext", ctx)


@cache
def code_fingerprint(*module_files: str) -> str:
    """sha256 of singaudit's maths and checks sources (and the given modules): a cached check
    result is reused only by the exact code that produced it."""
    import singaudit

    root = Path(singaudit.__file__).parent
    files = sorted([*root.glob("maths/*.py"), *root.glob("checks/*.py"),
                    *root.glob("checks/vocabularies/*"), *map(Path, module_files)])
    digest_ = hashlib.sha256()
    for path in files:
        if path.is_file():
            digest_.update(path.name.encode())
            digest_.update(path.read_bytes())
    return digest_.hexdigest()[:32]


def _files(folder: Path) -> dict[Path, tuple[int, int]]:
    """Files under ``folder`` with (mtime_ns, size), to tell which ones a check wrote."""
    return {p: (p.stat().st_mtime_ns, p.stat().st_size) for p in folder.rglob("*") if p.is_file()}
