"""Every registered check keeps the framework's contract (as timm sweeps its model registry):
typed params with a schema and working defaults, default tiers on its own metrics, a run on the
test world that the framework judges, and a skip path with a reason."""

import json
import subprocess
import sys

import pytest
from world import make_world

from singaudit.checks import CHECKS, Check, CheckParams, Measurements
from singaudit.checks.thresholds import validate_tiers
from singaudit.errors import NotApplicable
from singaudit.reports.figures import figure_builder
from singaudit.results import STATUS_ORDER, CheckResult, angle_values
from singaudit.runner.audit import model_angles

NAMES = sorted(CHECKS)


@pytest.fixture(scope="module")
def worlds(tmp_path_factory):
    return {
        "null_space": make_world(tmp_path_factory.mktemp("world"), n=120),
        "full_rank": make_world(tmp_path_factory.mktemp("full"), n=120, null_space=False),
    }


@pytest.mark.parametrize("name", NAMES)
def test_params_are_typed_with_a_schema_and_defaults(name):
    check_class = CHECKS.get(name)
    assert issubclass(check_class, Check) and check_class.name == name
    assert issubclass(check_class.Params, CheckParams) and check_class.Params is not CheckParams
    schema = check_class.Params.model_json_schema()
    assert schema["additionalProperties"] is False  # unknown keys are spec errors
    assert "thresholds" in schema["properties"]
    params = check_class.Params()  # every parameter has a default
    assert params.thresholds is None
    with pytest.raises(ValueError, match="unknown metric"):
        check_class.Params(thresholds=[{"metric": "no_such_metric", "statistic": "median",
                                        "fail": 1}])


@pytest.mark.parametrize("name", NAMES)
def test_default_tiers_name_the_checks_own_metrics(name):
    check_class = CHECKS.get(name)
    assert validate_tiers(check_class.default_tiers, check_class.metrics) == \
        check_class.default_tiers
    for spec in check_class.metrics.values():
        assert spec.description


@pytest.mark.parametrize("name", NAMES)
def test_headline_and_angle_ratio_are_the_checks_own_metrics(name):
    check_class = CHECKS.get(name)
    assert check_class.headline in check_class.metrics  # every built-in check has a headline
    assert check_class.angle_ratio is None or check_class.angle_ratio in check_class.metrics


def test_one_built_in_check_offers_the_models_angles():
    assert [n for n in NAMES if CHECKS.get(n).angle_ratio is not None] == ["class_semantics"]


@pytest.mark.parametrize("name", NAMES)
def test_runs_on_the_test_world_and_the_framework_judges(name, worlds):
    check = CHECKS.get(name)()
    ctx = worlds["null_space"]
    params = check.Params()
    measured = check.measure(ctx, params)
    assert isinstance(measured, Measurements) and measured.summary
    result = check.run(ctx, params)
    assert isinstance(result, CheckResult) and result.name == name
    assert result.status in STATUS_ORDER and result.status not in ("skip", "error"), result.message
    assert measured.summary in result.message
    for tier in check.tiers(params):  # every tier's verdict is reported on a metric
        judged = [m for m in result.metrics.values() if m.tiers is not None] + [
            m for c in result.per_class.values() for m in c.metrics.values() if m.tiers]
        assert any(m.tiers.metric == tier.metric for m in judged), tier
    assert CheckResult.model_validate(json.loads(result.model_dump_json())) == result
    if check.headline is not None:
        assert result.metrics[check.headline].value is not None
    build = figure_builder(name)
    if build is not None:  # a check's figures draw from the data it writes
        assert any(figure is not None for figure in build(result)), name
    if check.angle_ratio is not None:  # the model's Angles come from this check's own data
        angles = model_angles([result])
        assert angles is not None and angles.check == name
        assert angles.ratio == result.metrics[check.angle_ratio].value
        assert len(angle_values(result)["is"]) == len(ctx.labels)


@pytest.mark.parametrize("name", NAMES)
def test_skip_path_has_a_reason(name, worlds):
    """Without a null space a null-space check skips with a reason; the others still run."""
    check = CHECKS.get(name)()
    ctx = worlds["full_rank"]
    if check.requires_null_space:
        with pytest.raises(NotApplicable, match="null_dim is 0"):
            check.run(ctx, check.Params())
    else:
        result = check.run(ctx, check.Params())
        assert result.status not in ("skip", "error"), result.message


def test_built_in_figures_register_as_a_third_partys_do():
    """By name, as "module:function" entries of CHECK_FIGURES, without importing the report
    context (no registration by side effect)."""
    code = ("import sys; from singaudit.reports.figures import CHECK_FIGURES as F; "
            "names = F.names(); "
            "assert 'singaudit.reports.context' not in sys.modules, 'context imported'; "
            "print(' '.join(names))")
    shown = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True).stdout.split()
    assert set(shown) >= {"class_semantics", "null_invariance", "translator_fidelity",
                          "concepts", "steering"}
    assert set(shown) <= set(CHECKS.names())
