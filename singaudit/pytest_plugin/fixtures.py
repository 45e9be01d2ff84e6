"""The ``singaudit`` fixture and marker: run audits from Python tests and assert on results.

    @pytest.mark.singaudit("audits/model.yaml")
    def test_no_class_leak(singaudit):
        result = singaudit.run(overrides={"data.images_per_class": 4})
        check = singaudit.check(result, "candidate", "class_semantics")
        assert check.metrics["as"].value > -4
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from singaudit.errors import SingauditError
from singaudit.pytest_plugin._session import (
    PluginState,
    normalise_sets,
    plugin_state,
    register_marker,
    user_error,
)

if TYPE_CHECKING:
    from singaudit.results import AuditResult, CheckResult, ModelResult
    from singaudit.spec import AuditSpec

SpecLike = str | Path | Mapping[str, Any]
Overrides = Mapping[str, Any] | Sequence[str] | None


def pytest_configure(config: pytest.Config) -> None:
    register_marker(config)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # `-m singaudit` selects the tests that run audits, not only the collected YAML specs.
    for item in items:
        if "singaudit" in getattr(item, "fixturenames", ()) and not item.get_closest_marker(
            "singaudit"
        ):
            item.add_marker("singaudit")


class AuditFixture:
    """What the ``singaudit`` fixture returns: load and run audits, find results in them.

    Relative spec paths are read from the pytest root folder (``rootdir``). Command-line
    options (--singaudit-device/-cache/-set/-report) apply to these runs too; with
    --singaudit-report DIR, each test's run writes DIR/<audit name>-<test name>.
    """

    def __init__(self, request: pytest.FixtureRequest, state: PluginState) -> None:
        self._request = request
        self._state = state

    def load(self, spec: SpecLike | AuditSpec | None = None, *,
             overrides: Overrides = None) -> AuditSpec:
        """An AuditSpec from a path, a mapping (an in-code audit) or the marker's spec."""
        from singaudit.spec import AuditSpec

        if spec is None:
            spec = self._marker_spec()
        try:
            if isinstance(spec, AuditSpec):
                if not overrides and not self._state.options.changes_specs:
                    return spec
                return self._state.from_mapping(spec.model_dump(mode="json"),
                                                normalise_sets(overrides))
            if isinstance(spec, Mapping):
                return self._state.from_mapping(spec, normalise_sets(overrides))
            return self._state.load(self._resolve(spec), normalise_sets(overrides))
        except SingauditError as error:
            raise user_error(error) from None

    def run(self, spec: SpecLike | AuditSpec | None = None, *, overrides: Overrides = None,
            models: Sequence[str] | None = None,
            checks: Sequence[str] | None = None) -> AuditResult:
        """Run an audit (only ``models`` x ``checks`` when given) and return its AuditResult.

        User errors (bad spec, missing weights) fail the test with their message."""
        audit_spec = self.load(spec, overrides=overrides)
        only = None
        if models is not None or checks is not None:
            model_names = list(models) if models is not None else [m.name for m in audit_spec.models]
            unknown = sorted(set(model_names) - {m.name for m in audit_spec.models})
            unknown += sorted(set(checks or ()) - set(audit_spec.checks))
            if unknown:
                pytest.fail(f"audit {audit_spec.name!r} has no model or check named "
                            f"{', '.join(unknown)}", pytrace=False)
            only = [f"{model}::{check}" for model in model_names for check in (checks or ["*"])]
        out_dir = self._request.getfixturevalue("tmp_path") / audit_spec.name
        try:
            return self._state.run(audit_spec, only=only, out_dir=out_dir,
                                   path=getattr(audit_spec, "_source_path", None),
                                   report_name=self._report_name(audit_spec))
        except SingauditError as error:
            raise user_error(error) from None

    @staticmethod
    def model(result: AuditResult, name: str) -> ModelResult:
        """The result of one model; fails the test listing the models when absent."""
        for model in result.models:
            if model.name == name:
                return model
        available = ", ".join(m.name for m in result.models)
        pytest.fail(f"audit {result.name!r} has no model {name!r}; models: {available}",
                    pytrace=False)

    @classmethod
    def check(cls, result: AuditResult, model: str, check: str) -> CheckResult:
        """The result of one check of one model; fails the test listing the checks when absent."""
        model_result = cls.model(result, model)
        for check_result in model_result.checks:
            if check_result.name == check:
                return check_result
        available = ", ".join(c.name for c in model_result.checks)
        pytest.fail(f"model {model!r} has no check {check!r}; checks: {available}",
                    pytrace=False)

    @staticmethod
    def assert_expectations(result: AuditResult) -> None:
        """Fail with each violated expectation and unexpected failure, as the CLI judges."""
        from singaudit.reports.summary import check_report

        if result.ok:
            return
        problems = []
        for model in result.models:
            if model.expectation_met is False:
                problems.append(f"model {model.name!r}: expected {model.expect}, "
                                f"got {model.status}")
            if model.expect == "pass":
                problems += [check_report(result.name, model, check) for check in model.checks
                             if check.status in ("fail", "error")]
        pytest.fail("\n".join(problems or [f"audit {result.name!r} is not ok"]), pytrace=False)

    def _marker_spec(self) -> SpecLike:
        marker = self._request.node.get_closest_marker("singaudit")
        spec = (marker.args[0] if marker and marker.args else None) or (
            marker.kwargs.get("spec") if marker else None)
        if spec is None:
            pytest.fail("singaudit.run() needs a spec: pass one, or mark the test with "
                        "@pytest.mark.singaudit('path/to/audit.yaml')", pytrace=False)
        return spec

    def _report_name(self, spec: AuditSpec) -> str:
        # Per test: the collected spec's own report (DIR/<audit name>) is not overwritten.
        test_name = re.sub(r"[^A-Za-z0-9_.-]+", "_", self._request.node.name).strip("_")
        return f"{spec.name}-{test_name}"

    def _resolve(self, path: str | Path) -> Path:
        path = Path(path).expanduser()
        return path if path.is_absolute() else self._request.config.rootpath / path


@pytest.fixture
def singaudit(request: pytest.FixtureRequest) -> AuditFixture:
    """Run singaudit audits from a test: ``singaudit.run(spec)`` returns an AuditResult."""
    return AuditFixture(request, plugin_state(request.config))
