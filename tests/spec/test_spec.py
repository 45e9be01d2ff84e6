"""Audit spec validation: clear errors with file, line and key path; overrides; the JSON Schema."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from singaudit.errors import SpecError
from singaudit.runner.plan import Plan, make_plan, plan_text, spec_json_schema
from singaudit.spec import (
    AuditSpec,
    Overrides,
    is_audit_spec,
    iter_spec_files,
    load_spec,
    parse_spec_text,
)

VALID = """\
version: 1
kind: singaudit/audit
name: demo
models:
  - name: clean
    id: calibration:clean
    expect: pass
  - name: leaky
    id: calibration:leaky
    expect: fail
joint_space:
  id: calibration:joint
data:
  id: calibration:audit
  classes: [circle, 2]
  images_per_class: 10
checks:
  null_invariance: {}
  class_semantics:
    n_boot: 100
    thresholds:
      - {metric: abs_as, statistic: median, warn: 3, fail: 4}
"""

AUDITS = Path(__file__).resolve().parents[2] / "audits"


def planned(text: str, overrides: Overrides | None = None) -> Plan:
    """The plan of audit YAML text: the spec parsed, then its names and check parameters
    resolved against the registries."""
    return plan_text(text, source="audit.yaml", overrides=overrides)


def error_of(text: str, overrides: Overrides | None = None) -> str:
    with pytest.raises(SpecError) as caught:
        planned(text, overrides)
    return str(caught.value)


def test_valid_spec_parses_with_defaults():
    plan = planned(VALID)
    spec = plan.spec
    assert [m.name for m in spec.models] == ["clean", "leaky"]
    assert spec.models[1].expect == "fail"
    assert spec.translator.arch == "linear" and spec.translator.heldout == 0.2
    assert spec.data.classes == ["circle", 2]
    assert plan.checks["class_semantics"].params.n_boot == 100
    assert plan.checks["class_semantics"].params.thresholds[0].fail == 4
    assert plan.prompts.templates == ("an image of a {class}",)


def test_expect_defaults_to_pass():
    text = VALID.replace("    expect: pass\n", "")
    assert parse_spec_text(text).models[0].expect == "pass"


def test_unknown_top_level_key_reports_line_and_path():
    message = error_of(VALID + "colour: red\n")
    assert "audit.yaml:23: colour: Extra inputs are not permitted" in message


def test_unknown_check_parameter_reports_its_key_path():
    text = VALID.replace("    n_boot: 100\n", "    n_boot: 100\n    n_bootstrap: 5\n")
    message = error_of(text)
    assert "audit.yaml:21: checks.class_semantics.n_bootstrap: Extra inputs" in message


def test_wrong_type_deep_in_a_check_reports_the_list_index():
    text = VALID.replace("warn: 3,", "warn: lots,")
    message = error_of(text)
    assert "audit.yaml:22: checks.class_semantics.thresholds.0.warn:" in message


def test_unknown_check_name_lists_available_checks():
    text = VALID.replace("  null_invariance: {}\n", "  null_invariants: {}\n")
    message = error_of(text)
    assert "audit.yaml:18: checks.null_invariants: unknown check 'null_invariants'" in message
    assert "null_invariance" in message.split("available:")[1]


def test_every_error_is_reported_at_once():
    text = VALID.replace("expect: pass", "expect: maybe").replace("version: 1", "version: 2")
    message = error_of(text)
    assert "(2 errors)" in message
    assert "audit.yaml:1: version:" in message
    assert "audit.yaml:7: models.0.expect:" in message


def test_errors_of_names_come_with_errors_of_structure():
    text = VALID.replace("expect: pass", "expect: maybe").replace("n_boot: 100", "n_bot: 100")
    message = error_of(text.replace("id: calibration:leaky", "id: timmm:resnet50"))
    assert "(3 errors)" in message
    lines = message.splitlines()[1:]
    assert [line.split(": ")[1] for line in lines] == [
        "models.0.expect", "models.1.id", "checks.class_semantics.n_bot"]
    assert "(did you mean 'n_boot'?)" in lines[2]


def test_a_spec_is_data_until_it_is_planned():
    spec = parse_spec_text(VALID.replace("null_invariance: {}", "null_invariants: {}"))
    assert spec.checks["null_invariants"] == {}  # as written: no registry read yet
    with pytest.raises(SpecError, match="unknown check 'null_invariants'"):
        make_plan(spec)


def test_missing_required_field_points_at_its_parent():
    text = VALID.replace("    id: calibration:leaky\n", "")
    assert "audit.yaml:8: models.1.id: Field required" in error_of(text)


def test_duplicate_model_names_refused():
    text = VALID.replace("name: leaky", "name: clean")
    assert "model names must be unique; repeated: clean" in error_of(text)


def test_bad_class_selection_is_one_message():
    message = error_of(VALID.replace("classes: [circle, 2]", "classes: {circle: 1}"))
    assert message.count("data.classes") == 1
    assert "audit.yaml:15" in message


def test_prompt_template_needs_placeholder():
    message = error_of(VALID + "prompts:\n  template: a photo\n")
    assert "prompts.template" in message and "{class}" in message


def test_translator_path_and_fit_are_exclusive():
    text = VALID + "translator:\n  path: t/\n  fit: {id: calibration:train}\n"
    assert "either 'path'" in error_of(text)


def test_yaml_syntax_error_has_a_line():
    message = error_of(VALID + "checks: [unclosed\n")
    assert message.startswith("audit.yaml:") and "not valid YAML" in message


def test_not_a_mapping_refused():
    assert "is a YAML mapping" in error_of("- just\n- a list\n")


def test_python_tags_are_not_executed():
    text = VALID.replace("name: demo", "name: !!python/object/apply:os.system ['echo hi']")
    assert "not valid YAML" in error_of(text)


def test_set_overrides_apply_before_validation():
    overrides = Overrides(sets=("checks.class_semantics.thresholds.0.fail=9.5",
                                "models.1.expect=none", "seed=7"))
    plan = planned(VALID, overrides)
    spec = plan.spec
    assert plan.checks["class_semantics"].params.thresholds[0].fail == 9.5
    assert spec.models[1].expect == "none"
    assert spec.seed == 7


def test_set_creates_missing_mappings():
    spec = parse_spec_text(VALID, overrides=Overrides(sets=("report.formats=[json]",)))
    assert spec.report.formats == ["json"]


def test_data_device_and_out_overrides():
    spec = parse_spec_text(VALID, overrides=Overrides(data="/datasets/imagenet/val",
                                                      device="cpu", out="elsewhere"))
    assert spec.data.id == "folder:/datasets/imagenet/val"
    assert spec.device == "cpu"
    assert spec.report.out == "elsewhere"
    spec = parse_spec_text(VALID, overrides=Overrides(data="calibration:test"))
    assert spec.data.id == "calibration:test"


def test_invalid_override_value_names_the_option():
    message = error_of(VALID, Overrides(sets=("batch_size=many",)))
    assert "audit.yaml (--set batch_size=many): batch_size:" in message


def test_malformed_set_is_a_spec_error():
    assert "expected key.path=value" in error_of(VALID, Overrides(sets=("seed",)))
    assert "not an index" in error_of(VALID, Overrides(sets=("models.5.expect=fail",)))


def test_load_spec_reads_a_file_and_remembers_it(tmp_path):
    path = tmp_path / "a.yaml"
    path.write_text(VALID)
    spec = load_spec(path)
    assert spec.source_path == path
    assert len(make_plan(spec).spec_hash()) == 64
    with pytest.raises(SpecError, match="no such audit spec"):
        load_spec(tmp_path / "missing.yaml")


def test_spec_hash_changes_with_content():
    first = planned(VALID)
    second = planned(VALID, Overrides(sets=("seed=1",)))
    assert first.spec_hash() == planned(VALID).spec_hash()
    assert first.spec_hash() != second.spec_hash()


def test_spec_files_are_recognised_by_kind(tmp_path):
    (tmp_path / "audit.yaml").write_text(VALID)
    (tmp_path / "other.yaml").write_text("name: not an audit\n")
    (tmp_path / "broken.yaml").write_text("{{{")
    assert is_audit_spec(tmp_path / "audit.yaml")
    assert not is_audit_spec(tmp_path / "other.yaml")
    assert not is_audit_spec(tmp_path / "broken.yaml")
    assert iter_spec_files([tmp_path]) == [tmp_path / "audit.yaml"]


def test_schema_includes_each_checks_parameters():
    schema = spec_json_schema()
    checks = schema["properties"]["checks"]
    assert checks["additionalProperties"] is False
    assert "class_semantics" in checks["properties"]
    class_semantics = checks["properties"]["class_semantics"]["anyOf"][0]
    assert "n_boot" in class_semantics["properties"]
    assert schema["properties"]["kind"]["const"] == "singaudit/audit"
    json.dumps(schema)  # serialisable as is


def test_schema_validates_the_shipped_audits():
    jsonschema = pytest.importorskip("jsonschema")
    import yaml

    schema = spec_json_schema()
    for path in sorted(AUDITS.rglob("*.yaml")):
        jsonschema.validate(yaml.safe_load(path.read_text()), schema)


@pytest.mark.parametrize("path", sorted(AUDITS.rglob("*.yaml")), ids=lambda p: p.name)
def test_shipped_audits_are_valid(path):
    spec = load_spec(path)
    assert isinstance(spec, AuditSpec) and make_plan(spec).spec is not None


def test_unknown_source_is_refused_without_loading_anything():
    message = error_of(VALID.replace("id: calibration:leaky", "id: timmm:resnet50"))
    assert "audit.yaml:9: models.1.id: unknown classifier source 'timmm'; available:" in message
    assert "timm" in message.split("available:")[1]


# ---------------------------------------------------------------- hostile and careless YAML


def test_duplicate_keys_are_refused_naming_both_lines():
    text = VALID.replace("    expect: fail\n", "    expect: fail\n    expect: pass\n")
    message = error_of(text)
    assert "audit.yaml:11: duplicate key 'expect' (first given on line 10)" in message


def test_duplicate_top_level_keys_are_refused():
    assert "duplicate key 'seed'" in error_of(VALID + "seed: 1\nseed: 2\n")


def test_yaml_merge_keys_are_not_duplicates():
    text = VALID + "prompts: &p {template: 'a {class}'}\ngenerator: {<<: {seeds: [1]}, size: 32}\n"
    assert parse_spec_text(text).generator.seeds == [1]


def billion_laughs(levels: int = 9) -> str:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, levels):
        lines.append(f"a{level}: &a{level} [{', '.join([f'*a{level - 1}'] * 9)}]")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("where", ["top", "description", "options"])
def test_alias_bombs_are_refused_quickly(where):
    bomb = billion_laughs()  # 9**9 (387 million) strings when expanded
    if where == "top":
        text = VALID + bomb
    elif where == "description":
        text = VALID + "description:\n" + "".join("  " + line + "\n" for line in bomb.splitlines())
    else:
        text = VALID.replace("  classes: [circle, 2]\n", "  classes: [circle, 2]\n  options:\n"
                             + "".join("    " + line + "\n" for line in bomb.splitlines()))
    assert "alias bomb" in error_of(text)


def test_an_alias_bomb_in_a_set_value_is_refused():
    value = "{" + billion_laughs().strip().replace("\n", ", ") + "}"
    message = error_of(VALID, Overrides(sets=(f"description={value}",)))
    assert "--set description=" in message and "alias bomb" in message


def test_moderate_alias_reuse_is_fine():
    text = VALID.replace("  null_invariance: {}\n", "  null_invariance: &defaults {}\n"
                         ) + "generator: {seeds: &s [1, 2]}\n"
    assert parse_spec_text(text).generator.seeds == [1, 2]


def test_recursive_alias_is_refused():
    assert "refers to itself" in error_of(VALID + "description: &d [1, *d]\n")


def test_deep_nesting_is_a_spec_error_not_a_crash():
    assert "not valid YAML" in error_of(VALID + "description: " + "[" * 100_000 + "]" * 100_000)


def test_spec_paths_that_are_not_regular_files_are_refused_without_reading(tmp_path):
    fifo = tmp_path / "audit.yaml"
    os.mkfifo(fifo)  # reading a FIFO with no writer would block forever
    with pytest.raises(SpecError, match="not a regular file"):
        load_spec(fifo)
    assert not is_audit_spec(fifo)
    with pytest.raises(SpecError, match="not a regular file"):
        load_spec("/dev/zero")  # would otherwise be read until memory runs out


def test_huge_spec_files_are_refused(tmp_path):
    path = tmp_path / "huge.yaml"
    path.write_text(VALID + "description: " + "x" * (5 * 1024 * 1024) + "\n")
    with pytest.raises(SpecError, match="too large"):
        load_spec(path)


# ---------------------------------------------------------------- options and bounds


def test_unknown_data_options_are_spec_errors_with_their_key_path():
    text = VALID.replace("  images_per_class: 10\n",
                         "  images_per_class: 10\n  options:\n    split: test\n    colour: red\n")
    message = error_of(text)
    assert "audit.yaml:19: data.options.colour: unknown option 'colour' for data source " \
           "'calibration'; accepted: scene_seed, scenes, split" in message
    assert "split" not in message.split("\n")[0]


def test_unknown_model_joint_space_and_generator_options_are_spec_errors():
    text = VALID.replace("    id: calibration:leaky\n",
                         "    id: calibration:leaky\n    options: {weight_dir: w}\n").replace(
        "  id: calibration:joint\n", "  id: calibration:joint\n  options: {pretrained: x}\n"
    ) + "generator: {id: calibration:decoder, options: {steps: 3}}\n"
    message = error_of(text)
    assert "models.1.options.weight_dir: unknown option 'weight_dir'" in message
    assert "joint_space.options.pretrained: unknown option" in message
    assert "generator.options.steps: unknown option" in message


def test_sources_taking_any_keyword_accept_any_option():
    text = VALID.replace("    id: calibration:leaky\n",
                         "    id: timm:resnet18\n    options: {drop_rate: 0.1}\n")
    assert planned(text).spec.models[1].options == {"drop_rate": 0.1}


def test_translator_options_are_checked_against_the_architecture():
    message = error_of(VALID + "translator: {arch: linear, options: {epochs: 3}}\n")
    assert "translator.options.epochs: unknown option 'epochs' for a linear translator" in message
    spec = planned(VALID + "translator: {arch: mlp3, options: {epochs: 3}}\n").spec
    assert spec.translator.options == {"epochs": 3}
    assert "translator.options.seed" in error_of(
        VALID + "translator: {arch: mlp3, options: {seed: 3}}\n")


@pytest.mark.parametrize("override", ["seed=-1", "data.seed=-1", "generator.seeds=[0, -3]",
                                      "seed=18446744073709551616"])
def test_negative_or_oversized_seeds_are_spec_errors(override):
    key = override.partition("=")[0]
    message = error_of(VALID, Overrides(sets=(override,)))
    assert f"({'--set ' + override}): {key}" in message or f": {key}" in message


@pytest.mark.parametrize("override", ["data.images_per_class=1000000000000",
                                      "translator.fit_images_per_class=1000000000000"])
def test_counts_no_machine_can_hold_are_spec_errors(override):
    assert "less than or equal to 1000000" in error_of(VALID, Overrides(sets=(override,)))


@pytest.mark.parametrize(("override", "new_key"), [
    ("data.options.images_per_class=40", "set data.images_per_class"),
    ("data.options.seed=0", "set data.seed"),
    ("data.options.classes=[circle]", "set data.classes"),
    ("translator.fit={id: 'calibration:validation', options: {images_per_class: 5}}",
     "translator.fit.images_per_class"),
])
def test_the_old_options_spelling_of_selection_names_the_new_key(override, new_key):
    message = error_of(VALID, Overrides(sets=(override,)))
    key = override.partition("=")[0]
    assert "no longer a data source option" in message and new_key in message
    if key == "data.options.images_per_class":  # calibration: its own population option
        assert "now 'scenes' (the number of scenes rendered: the old images_per_class x 6)" in message
    assert key.replace("translator.fit", "translator.fit.options") in message or key in message


@pytest.mark.parametrize("level", [".nan", ".inf", "-.inf"])
def test_non_finite_threshold_is_a_spec_error_with_its_key_path(level):
    message = error_of(VALID.replace("fail: 4", f"fail: {level}"))
    assert "audit.yaml:22: checks.class_semantics.thresholds.0.fail: Input should be a finite" \
        in message


def test_non_finite_threshold_through_set_is_a_spec_error():
    message = error_of(VALID, Overrides(sets=("checks.class_semantics.thresholds.0.warn=.nan",)))
    assert "checks.class_semantics.thresholds.0.warn: Input should be a finite number" in message
    assert "--set checks.class_semantics.thresholds.0.warn=.nan" in message


@pytest.mark.parametrize("mostly", ["0", "-0.5", "1.5", ".nan"])
def test_mostly_outside_zero_one_is_a_spec_error(mostly):
    tier = f"{{metric: abs_as, statistic: fraction_within, bound: 4, mostly: {mostly}}}"
    message = error_of(VALID.replace("{metric: abs_as, statistic: median, warn: 3, fail: 4}",
                                     tier))
    assert "checks.class_semantics.thresholds.0.mostly" in message


def test_warn_beyond_fail_is_a_spec_error_in_the_metrics_direction():
    message = error_of(VALID.replace("warn: 3", "warn: 5"))
    assert "checks.class_semantics.thresholds: thresholds on 'abs_as': warn 5 is beyond fail 4" \
        in message
    # ratio: higher is better (the metric's own direction), so warn must be at or above fail.
    higher = "{metric: ratio, statistic: min, warn: 2, fail: 5, scope: overall}"
    message = error_of(VALID.replace("{metric: abs_as, statistic: median, warn: 3, fail: 4}",
                                     higher))
    assert "warn 2 is beyond fail 5 (higher is better" in message
    fine = VALID.replace("{metric: abs_as, statistic: median, warn: 3, fail: 4}",
                         "{metric: ratio, statistic: min, warn: 5, fail: 2, scope: overall}")
    assert planned(fine).checks["class_semantics"].params.thresholds[0].warn == 5


@pytest.mark.parametrize("override", ["checks.class_semantics.n_boot=1000000000",
                                      "checks.translator_fidelity={hidden: 1000000000}"])
def test_check_parameters_that_would_allocate_without_bound_are_spec_errors(override):
    assert "less than or equal to" in error_of(VALID, Overrides(sets=(override,)))


def test_geometry_rank_tolerance_is_validated():
    assert parse_spec_text(VALID + "geometry: {rank_tolerance: 1.0e-3}\n").geometry \
        .rank_tolerance == 1e-3
    assert parse_spec_text(VALID).geometry.rank_tolerance is None
    assert "geometry.rank_tolerance" in error_of(VALID + "geometry: {rank_tolerance: .nan}\n")
    assert "geometry.rank_tolerance" in error_of(VALID + "geometry: {rank_tolerance: 2}\n")


def test_reading_a_spec_reads_no_registry():
    """The spec is plain data: parsing imports no source, check or translator module (the
    runner's plan resolves the names), checked in a fresh interpreter."""

    script = (
        "import sys\n"
        "from singaudit.spec import parse_spec_text\n"
        f"parse_spec_text({VALID!r})\n"
        "print(sorted(m for m in sys.modules if m.startswith(('singaudit.adapters', "
        "'singaudit.pipeline.translators', 'singaudit.checks.null', 'singaudit.checks.class', "
        "'singaudit.runner'))))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120, check=True)
    assert done.stdout.strip() == "[]", done.stdout
