"""The runner end to end on a tiny real world: results, expectations, determinism, the cache,
unreadable images, skips and errors, selection and atomic outputs."""

from __future__ import annotations

import json
import os

import pytest
import runner_world

from singaudit.checks import CHECKS, Check, Measurements
from singaudit.errors import NotApplicable, SingauditError, SpecError
from singaudit.results import SCHEMA_VERSION, AuditResult, CheckResult, expectation_met
from singaudit.runner import AuditSession, run_audit, selected
from singaudit.runner.plan import make_plan
from singaudit.spec import Overrides, parse_spec_text

FAST = ("checks.translator_fidelity=null",)


def make_spec(*sets: str, text: str = runner_world.SPEC):
    spec_text = text
    if any(s.startswith("checks.translator_fidelity=null") for s in sets):
        spec_text = spec_text.replace("  translator_fidelity: {}\n", "")
        sets = tuple(s for s in sets if not s.startswith("checks.translator_fidelity=null"))
    return parse_spec_text(spec_text, overrides=Overrides(sets=sets))


def run(spec, tmp_path, name="out", **kwargs):
    kwargs.setdefault("cache_dir", tmp_path / "cache")
    return run_audit(spec, out_dir=tmp_path / name, progress=False, **kwargs)


def comparable(result: AuditResult) -> dict:
    # Through JSON: NaN (an unjudged class's share) is written as null, and null equals null.
    data = json.loads(result.model_dump_json())
    data.pop("provenance")
    for model in data["models"]:
        model["info"].get("translator", {}).pop("source", None)
        for check in model["checks"]:
            check["duration_s"] = 0.0
    return data


def test_results_json_structure(tmp_path):
    result = run(make_spec(), tmp_path)
    written = json.loads((tmp_path / "out" / "results.json").read_text())
    assert written["name"] == "tiny" and written["schema_version"] == SCHEMA_VERSION
    assert [m["name"] for m in written["models"]] == ["first", "second"]
    first = written["models"][0]
    assert [c["name"] for c in first["checks"]] == [
        "null_invariance", "translator_fidelity", "class_semantics"]
    assert first["info"]["null_dim"] == 20 and first["info"]["feature_dim"] == 24
    assert first["info"]["translator"]["architecture"] == "linear"
    semantics = first["checks"][2]
    assert set(semantics["per_class"]) == set(runner_world.CLASSES)
    assert len(semantics["data"]["is"]) == 20
    provenance = written["provenance"]
    assert provenance["spec"]["sha256"] == make_plan(make_spec()).spec_hash()
    assert provenance["seed"] == 0 and provenance["device"] == "cpu"
    assert "torch" in provenance["versions"]
    assert provenance["models"]["first"]["weights_hash"] == "seed1-c4"
    assert provenance["data"]["images"] == 20
    assert any(key.startswith("features:") for key in provenance["timings_s"])
    comparison = written["comparison"]
    assert [e["name"] for e in comparison["models"]] == ["first", "second"]
    assert sorted(comparison["ranking"]) == ["first", "second"]
    assert len(comparison["models"][0]["as"]) == 20
    read_back = AuditResult.read(tmp_path / "out" / "results.json")
    assert json.loads(read_back.model_dump_json()) == json.loads(result.model_dump_json())


def test_expectations_decide_ok(tmp_path):
    # A zero fail threshold: every model's class_semantics fails.
    strict = "checks.class_semantics.thresholds=[{metric: abs_as, statistic: median, fail: 0}]"
    result = run(make_spec(strict, *FAST), tmp_path)
    first, second = result.models
    assert first.status == "fail" and first.expect == "pass" and first.expectation_met is False
    assert second.expect == "none" and second.expectation_met is None
    assert result.ok is False and result.status == "fail"
    result = run(make_spec(strict, "models.0.expect=fail", *FAST), tmp_path)
    assert result.models[0].expectation_met is True
    assert result.ok is True  # the informational model's failure does not count


def test_expectation_rules():
    assert expectation_met("pass", "warn") is True
    assert expectation_met("pass", "error") is False
    assert expectation_met("fail", "fail") is True
    assert expectation_met("fail", "pass") is False
    assert expectation_met("fail", "error") is False  # a crash is not the expected failure
    assert expectation_met("none", "fail") is None


def test_deterministic_for_a_seed(tmp_path):
    first = run(make_spec(*FAST), tmp_path, "a", cache_dir=tmp_path / "cache_a")
    second = run(make_spec(*FAST), tmp_path, "b", cache_dir=tmp_path / "cache_b")
    assert comparable(first) == comparable(second)
    reseeded = run(make_spec("data.seed=11", *FAST), tmp_path, "c")
    assert comparable(reseeded) != comparable(first)


def test_warm_rerun_and_threshold_change_compute_nothing(tmp_path):
    run(make_spec(), tmp_path)
    before = dict(runner_world.CALLS)
    tighter = "checks.class_semantics.thresholds=[{metric: abs_as, statistic: median, fail: 1}]"
    result = run(make_spec(tighter), tmp_path)  # a new session: only the disk cache is shared
    assert runner_world.CALLS == before
    assert result.models[0].info["translator"]["source"] == "cache"


def test_warm_rerun_reuses_check_results_and_reruns_changed_checks(tmp_path, extra_checks):
    text = runner_world.SPEC.replace("checks:\n", "checks:\n  writes_file: {}\n")
    first = run(make_spec(*FAST, text=text), tmp_path, "a")
    assert first.provenance["cached_checks"] == []
    again = run(make_spec(*FAST, text=text), tmp_path, "b")
    assert len(again.provenance["cached_checks"]) == 6  # 2 models x 3 checks
    assert comparable(again) == comparable(first)
    note = tmp_path / "b" / again.models[0].checks[0].artefacts["note"]
    assert note.read_text() == "first"  # the check's file is restored with its result
    tighter = "checks.class_semantics.thresholds=[{metric: abs_as, statistic: median, fail: 1}]"
    changed = run(make_spec(tighter, *FAST, text=text), tmp_path, "c")
    assert "first::class_semantics" not in changed.provenance["cached_checks"]
    assert "first::null_invariance" in changed.provenance["cached_checks"]


def test_a_check_that_judges_itself_is_never_taken_from_the_cache(tmp_path, extra_checks):
    text = runner_world.SPEC.replace("checks:\n", "checks:\n  judges_itself: {}\n")
    run(make_spec(*FAST, text=text), tmp_path, "a")
    again = run(make_spec(*FAST, text=text), tmp_path, "b")
    assert [c for c in again.provenance["cached_checks"] if "judges_itself" in c] == []
    assert {c.status for m in again.models for c in m.checks if c.name == "judges_itself"} == {
        "pass"}


def test_session_shares_work_across_specs(tmp_path):
    session = AuditSession(cache_dir=tmp_path / "cache", progress=False)
    session.run(make_spec(*FAST), out_dir=tmp_path / "one")
    before = dict(runner_world.CALLS)
    session.run(make_spec("name=other", *FAST), out_dir=tmp_path / "two")
    assert runner_world.CALLS == before
    assert (tmp_path / "two" / "results.json").is_file()


def test_unreadable_image_is_skipped_and_listed(tmp_path):
    spec = make_spec("data.options.corrupt=[0, 5]", "data.images_per_class=null", *FAST)
    result = run(spec, tmp_path)
    assert result.data_issues["skipped"] == 2
    keys = [issue["key"] for issue in result.data_issues["images"]]
    assert keys == ["audit/0", "audit/5"]
    assert "truncated" in result.data_issues["images"][0]["reason"]
    assert len(result.models[0].checks[-1].data["is"]) == 22
    assert result.provenance["data"]["images"] == 22


def test_no_null_space_skips_with_reason(tmp_path):
    spec = make_spec("models.0.options={num_classes: 30}", *FAST)
    result = run(spec, tmp_path, only=["first"])
    assert [m.name for m in result.models] == ["first"]
    statuses = {c.name: (c.status, c.message) for c in result.models[0].checks}
    assert statuses["null_invariance"][0] == "skip"
    assert "null_dim is 0" in statuses["null_invariance"][1]
    assert result.models[0].info["null_dim"] == 0


class _Explodes(Check):
    name = "explodes"
    requires_null_space = False

    def run(self, ctx, params):
        raise RuntimeError("boom")


class _NotHere(Check):
    name = "not_here"
    requires_null_space = False

    def run(self, ctx, params):
        raise NotApplicable("nothing to see")


class _WritesFile(Check):
    name = "writes_file"
    requires_null_space = False

    def measure(self, ctx, params):
        (ctx.artefact_dir / "note.txt").write_text(ctx.name)
        return Measurements(summary="wrote a note",
                            artefacts={"note": f"{ctx.artefact_prefix}/note.txt"})


class _JudgesItself(Check):
    name = "judges_itself"
    requires_null_space = False

    def run(self, ctx, params):  # no measurements the framework could judge again
        return CheckResult(name=self.name, status="pass")


@pytest.fixture
def extra_checks():
    added = {"explodes": _Explodes, "not_here": _NotHere, "writes_file": _WritesFile,
             "judges_itself": _JudgesItself}
    for name, check in added.items():
        CHECKS.add(name, check, replace=True)
    yield
    for name in added:
        CHECKS._entries.pop(name, None)


def test_a_crashing_check_is_an_error_and_the_audit_goes_on(tmp_path, extra_checks):
    text = runner_world.SPEC.replace("checks:\n", "checks:\n  explodes: {}\n  not_here: {}\n")
    result = run(make_spec(*FAST, text=text), tmp_path, only=["first"])
    checks = {c.name: c for c in result.models[0].checks}
    assert checks["explodes"].status == "error"
    assert checks["explodes"].message == "RuntimeError: boom"
    assert "traceback" not in checks["explodes"].data
    assert checks["not_here"].status == "skip" and checks["not_here"].message == "nothing to see"
    assert checks["class_semantics"].status in ("pass", "warn", "fail", "info")  # ran
    assert result.models[0].status == "error" and result.ok is False


def test_only_selects_models_and_checks(tmp_path):
    result = run(make_spec(*FAST), tmp_path, only=["second::null_invariance"])
    assert [m.name for m in result.models] == ["second"]
    assert [c.name for c in result.models[0].checks] == ["null_invariance"]
    for typo in (["third"], ["first::typo"], ["first", "clas_semantics"]):
        # Through the API (and so the pytest fixture) as through the CLI: a typo runs nothing.
        with pytest.raises(SpecError, match=r"names no (model::check|model or check).*checks:"):
            run(make_spec(*FAST), tmp_path, "typo", only=typo)
        assert not (tmp_path / "typo").exists()
    assert selected(["class_*"], "first", "class_semantics")
    assert not selected(["first"], "second", "class_semantics")


def test_outputs_replace_old_ones_and_leave_no_temporary_files(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "results.json").write_text("old")
    (out / "notes.txt").write_text("mine")
    with pytest.raises(SingauditError, match="not written by singaudit"):
        run(make_spec(*FAST), tmp_path)  # a folder of someone else's files: refused
    run(make_spec(*FAST), tmp_path, force=True)
    assert json.loads((out / "results.json").read_text())["name"] == "tiny"
    assert (out / "notes.txt").read_text() == "mine"  # the user's files are left alone
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache", "out"]
    umask = os.umask(0)
    os.umask(umask)
    assert (out / "results.json").stat().st_mode & 0o777 == 0o666 & ~umask


def test_a_geometry_only_audit_needs_no_joint_space(tmp_path):
    text = runner_world.SPEC.replace("joint_space:\n  id: runnerworld:joint\n", "")
    text = text.replace("  translator_fidelity: {}\n", "")
    result = run(make_spec(text=text), tmp_path)
    checks = {c.name: c for c in result.models[0].checks}
    assert checks["null_invariance"].status == "pass"
    assert checks["class_semantics"].status == "skip"
    assert "joint_space" in checks["class_semantics"].message


def test_the_translator_is_fitted_on_the_audited_classes_with_disjoint_images(tmp_path):
    from singaudit.runner import ArtefactBuilder, ArtefactStore

    builder = ArtefactBuilder(make_spec(*FAST), ArtefactStore(cache_dir=tmp_path / "cache",
                                                              progress=False))
    audit, fit = builder.audit_images, builder.fit_images
    assert not set(audit.keys) & set(fit.keys)  # never an audited image
    fit_classes = {fit.class_names[label] for label in fit.labels}
    assert {audit.class_names[label] for label in audit.labels} <= fit_classes
    train, heldout, _ = builder._fit_split("first")
    assert not set(train) & set(heldout) and set(train) | set(heldout) <= set(fit.keys)
