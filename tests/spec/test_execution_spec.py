"""The spec's ``execution`` section: strict, ray-only keys refused for local, out of the hash."""

from __future__ import annotations

import pytest
from test_spec import VALID, error_of, planned

from singaudit.spec import Overrides, parse_spec_text


def test_execution_defaults_to_the_local_engine():
    spec = parse_spec_text(VALID)
    assert spec.execution.engine == "local" and spec.execution.address is None
    assert spec.execution.batch_size is None  # the spec's batch_size


def test_ray_execution_parses():
    spec = parse_spec_text(VALID + "execution: {engine: ray, address: 'ray://head:10001', "
                                   "workers: 8, gpus_per_worker: 0.5, batch_size: 256}\n")
    assert (spec.execution.engine, spec.execution.workers, spec.execution.gpus_per_worker) == (
        "ray", 8, 0.5)


@pytest.mark.parametrize(("section", "expected"), [
    ("{engine: spark}", "execution.engine"),
    ("{engine: ray, workers: 0}", "execution.workers"),
    ("{engine: ray, nodes: 3}", "execution.nodes"),
    ("{address: 'ray://head:10001'}", "apply only to engine: ray"),
    ("{gpus_per_worker: 1}", "apply only to engine: ray"),
])
def test_bad_execution_is_one_clear_error(section, expected):
    assert expected in error_of(VALID + f"execution: {section}\n")


def test_the_engine_changes_no_result_so_not_the_spec_hash():
    local = planned(VALID)
    remote = planned(VALID, Overrides(sets=("execution.engine=ray",)))
    assert remote.spec.execution.engine == "ray"
    assert remote.spec_hash() == local.spec_hash()
