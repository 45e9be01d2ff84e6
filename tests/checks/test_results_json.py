"""Every check's result survives results.json: plain JSON types only, statuses from the contract."""

import json

import pytest
from world import make_world

from singaudit.checks import CHECKS
from singaudit.checks.thresholds import metric_key
from singaudit.results import CheckResult

PARAMS = {
    "null_invariance": {},
    "translator_fidelity": {},
    "class_semantics": {"n_boot": 100},
    "concepts": {"vocabulary": ["red", "star", "circle", "striped", "forest"],
                 "template": "an image of a {concept}"},
    "steering": {"target": "an image of a forest", "target_is": 15, "max_images": 6},
    "translation_consistency": {},
    "null_probe": {},
}


@pytest.fixture(scope="module")
def leaky_world(tmp_path_factory):
    return make_world(tmp_path_factory.mktemp("world"), leaky=True)


@pytest.mark.parametrize("name", sorted(PARAMS))
def test_result_round_trips_through_json(leaky_world, name):
    check = CHECKS.get(name)()
    result = check.run(leaky_world, check.Params(**PARAMS[name]))
    assert result.name == name
    # A check judged by tiers gets a verdict; one without tiers is info (never a pass).
    assert result.status in (("pass", "warn", "fail") if check.default_tiers else ("info",))
    assert result.message
    text = result.model_dump_json()
    assert CheckResult.model_validate_json(text).metrics.keys() == result.metrics.keys()
    json.loads(text)  # strict JSON (no NaN literals)
    for tiers in check.default_tiers:  # every default verdict is reported, with its status
        key = metric_key(tiers, check.metrics[tiers.metric].aggregation)
        assert result.metrics[key].status in ("pass", "warn", "fail"), key
