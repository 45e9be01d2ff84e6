"""pytest plugin: audit spec YAML files collected and run as tests.

``pytest audits/`` collects every ``kind: singaudit/audit`` file as a test file whose items are
``<spec>::<model>::<check>`` (plus ``<spec>::<model>::expectation`` for ``expect: fail`` models).
The audit of a spec runs once, on the first selected item, for the selected models and checks;
it writes reports only with ``--singaudit-report DIR`` (otherwise into a temporary folder).
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from singaudit.errors import SingauditError
from singaudit.pytest_plugin import hooks
from singaudit.pytest_plugin._session import (
    Selection,
    plugin_state,
    register_marker,
    user_error,
)

if TYPE_CHECKING:
    from singaudit.results import AuditResult, CheckResult, ModelResult
    from singaudit.spec import AuditSpec, ModelSpec

YAML_SUFFIXES = (".yaml", ".yml")
# A top-level ``kind: singaudit/audit`` line; a spec too broken to parse is still collected
# (and reported as a collection error) rather than silently ignored.
KIND_LINE = re.compile(r"^kind:\s*['\"]?singaudit/audit['\"]?\s*(#.*)?$", re.MULTILINE)
EXPECTATION_ITEM = "expectation"


class AuditWarning(UserWarning):
    """A check that ended in ``warn``: the test passes, the warning is listed (``-W error``
    turns it into a failure)."""


class CheckFailed(Exception):
    """A check that failed or errored; repr_failure prints its report instead of a traceback."""

    def __init__(self, report: str) -> None:
        super().__init__(report)
        self.report = report


# -- hooks ------------------------------------------------------------------------------------


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    pluginmanager.add_hookspecs(hooks)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("singaudit", "singaudit audits")
    group.addoption("--singaudit-report", metavar="DIR", default=None,
                    help="also write each audit's results.json and reports (the spec's "
                         "report.formats: HTML, PDF, JUnit) under DIR/<audit name>")
    group.addoption("--singaudit-device", metavar="DEVICE", default=None,
                    help="device for audits (cpu, cuda, cuda:1, mps); overrides the specs")
    group.addoption("--singaudit-cache", metavar="DIR", default=None,
                    help="feature/translator cache folder (default: SINGAUDIT_CACHE or the "
                         "platform cache folder); keep it between CI runs")
    group.addoption("--singaudit-engine", metavar="ENGINE", default=None,
                    help="where audits' forward passes run: local, ray or a plugin's engine "
                         "(execution.engine; checked with the spec)")
    group.addoption("--singaudit-baseline", metavar="DIR", default=None,
                    help="baseline store (what `singaudit baseline accept` fills): each model x "
                         "check item also judges the regression tiers against DIR/<audit name>")
    group.addoption("--singaudit-mlflow", metavar="URI", default=None,
                    help="log each audit as MLflow runs at this tracking URI or folder (as "
                         "`singaudit run --mlflow`; the spec's report.mlflow sets it too)")
    group.addoption("--singaudit-set", metavar="KEY=VALUE", action="append", default=[],
                    help="override a spec value, e.g. data.images_per_class=8 (repeatable)")


def pytest_configure(config: pytest.Config) -> None:
    register_marker(config)
    plugin_state(config)


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> SpecFile | None:
    if file_path.suffix in YAML_SUFFIXES and _declares_audit_kind(file_path):
        return SpecFile.from_parent(parent, path=file_path)
    return None


def pytest_unconfigure(config: pytest.Config) -> None:
    plugin_state(config).close()


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    state = plugin_state(config)
    for note in state.notes:
        terminalreporter.write_line(f"singaudit: {note}")
    for folder in state.reports_written:
        terminalreporter.write_line(f"singaudit: reports written to {folder}")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    # A skip points at the model in the spec file, not at the line of the plugin that raised it.
    if (isinstance(item, AuditItem) and report.skipped and not hasattr(report, "wasxfail")
            and isinstance(report.longrepr, tuple)):
        _, _, message = report.longrepr
        line = item.reportinfo()[1]
        report.longrepr = (str(item.path), (line or 0) + 1, message)
    return report


def _declares_audit_kind(path: Path) -> bool:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    if "singaudit/audit" not in text:  # cheap: most YAML files never get parsed
        return False
    from singaudit.spec import is_audit_spec

    return KIND_LINE.search(text) is not None or is_audit_spec(path)


def _model_lines(path: Path) -> dict[str, int]:
    """Model name -> 0-based line of its entry in the spec, for report locations."""
    import yaml

    try:
        root = yaml.compose(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return {}
    models = next((value for key, value in getattr(root, "value", [])
                   if getattr(key, "value", None) == "models"), None)
    lines: dict[str, int] = {}
    for entry in getattr(models, "value", []):
        for key, value in getattr(entry, "value", []):
            if getattr(key, "value", None) == "name" and isinstance(value.value, str):
                lines[value.value] = entry.start_mark.line
    return lines


# -- collection -------------------------------------------------------------------------------


class SpecFile(pytest.File):
    """An audit spec file; its children are the spec's models."""

    spec: AuditSpec

    def collect(self) -> Iterator[ModelNode]:
        try:
            self.spec = plugin_state(self.config).load(self.path)
        except SingauditError as error:
            raise self.CollectError(str(error)) from None  # names file, line and key
        self._result: AuditResult | None = None
        self._error: SingauditError | None = None
        lines = _model_lines(self.path)
        for model in self.spec.models:
            yield ModelNode.from_parent(self, name=model.name, model=model,
                                        line=lines.get(model.name))

    def selection(self) -> Selection:
        """The runner's ``only`` selectors for the items of this spec that pytest will run
        (after -k, -m, --lf)."""
        selection: Selection = []
        for item in self.session.items:
            if isinstance(item, AuditItem) and item.spec_file is self:
                # The expectation of a model needs every check of that model.
                selection.append(f"{item.model.name}::{item.check_name or '*'}")
        return list(dict.fromkeys(selection))

    def result(self) -> AuditResult:
        """The audit result, computed on the first call and shared by every item."""
        if self._error is not None:
            raise self._error
        if self._result is None:
            state = plugin_state(self.config)
            try:
                self._result = state.run(self.spec, only=self.selection(), path=self.path)
            except SingauditError as error:
                self._error = error
                raise
            from singaudit.reports.summary import audit_notices

            # The CLI's warnings, as pytest warnings; its notes go to the terminal summary.
            for notice in audit_notices(self._result):
                if notice.level == "warning":
                    warnings.warn_explicit(AuditWarning(f"{self.spec.name}: {notice.text}"),
                                           AuditWarning, str(self.path), 1)
        return self._result


class ModelNode(pytest.Collector):
    """One model of a spec: an item per check, and an expectation item for ``expect: fail``."""

    def __init__(self, *, model: ModelSpec, line: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.model = model
        self.line = line  # 0-based line of the model in the spec file

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, self.line, self.name

    def collect(self) -> Iterator[AuditItem]:
        spec_file = self.parent
        assert isinstance(spec_file, SpecFile)
        for check_name in spec_file.spec.checks:
            yield CheckItem.from_parent(self, name=check_name, model=self.model,
                                        check_name=check_name)
        if self.model.expect == "fail":
            yield ExpectationItem.from_parent(self, name=EXPECTATION_ITEM, model=self.model,
                                              check_name=None)


class AuditItem(pytest.Item):
    """Common part of the items of one model: the shared audit run and the failure report."""

    def __init__(self, *, model: ModelSpec, check_name: str | None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.model = model
        self.check_name = check_name
        self.add_marker("singaudit")

    @property
    def spec_file(self) -> SpecFile:
        spec_file = self.parent.parent if self.parent else None
        assert isinstance(spec_file, SpecFile)
        return spec_file

    def setup(self) -> None:
        try:
            self.audit = self.spec_file.result()
        except SingauditError as error:
            raise user_error(error) from None

    def model_result(self) -> ModelResult:
        for model in self.audit.models:
            if model.name == self.model.name:
                return model
        raise CheckFailed(f"the audit result has no model {self.model.name!r}")

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, CheckFailed):
            return excinfo.value.report
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        line = self.parent.line if isinstance(self.parent, ModelNode) else None
        return self.path, line, f"{self.model.name}::{self.name}"


class CheckItem(AuditItem):
    """One model x check: passes, warns, skips, fails, or xfails for ``expect: fail`` models.
    An ``info`` check (nothing judged) passes with its finding as a report section (``-rP``)
    and its status as a property; the skipped checks of an ``expect: pass`` model that nothing
    judged (null_dim 0) fail, since that expectation is not met."""

    def runtest(self) -> None:
        # pydantic only once an audit runs
        from singaudit.reports.junit import check_properties
        from singaudit.reports.summary import check_report, short_reason

        model = self.model_result()
        check = self._check_result(model)
        properties = self.config.hook.pytest_singaudit_check_properties(
            item=self, model=model, check=check)
        self.user_properties.extend(
            properties if properties is not None else check_properties(model, check))
        if check.status == "skip" and model.expect == "pass" and model.status == "skip":
            # Nothing judged this model (null_dim 0): expect: pass is not met.
            raise CheckFailed(f"NOT JUDGED: {check.message or 'not applicable'}\n  model "
                              f"{model.name!r} is expected to pass but was "
                              f"{model.note or 'not judged'}")
        if check.status == "skip":
            pytest.skip(check.message or "not applicable")
        if check.status == "info":  # measured, not judged: passes, with the finding as a note
            self.add_report_section("call", "singaudit info", short_reason(check))
        if check.status == "fail" and model.expect == "fail":
            pytest.xfail(f"expected failure (expect: fail): {short_reason(check)}")
        if check.status == "fail" and model.expect == "none":
            # Informational models are reported, never part of the verdict; an error is an
            # error whatever the expectation (reports.verdicts.check_outcome).
            self._warn(f"{self.model.name}::{check.name} (expect: none) {check.status}: "
                       f"{short_reason(check)}")
        elif check.status in ("fail", "error"):
            raise CheckFailed(check_report(self.audit.name, model, check))
        if check.status == "warn":
            self._warn(f"{self.model.name}::{check.name}: {short_reason(check)}")
        self._judge_regression(model)

    def _judge_regression(self, model: ModelResult) -> None:
        """The regression tiers on this check, when the model was compared with a baseline."""
        from singaudit.runner.regressions import regressions_of

        verdict = regressions_of(model, self.check_name or "")
        if verdict is None or verdict[0] == "pass":
            return
        status, lines = verdict
        where = f"{self.model.name}::{self.check_name}"
        text = f"{where} regression {status}: " + "; ".join(lines)
        if status == "skip":
            self._warn(f"{where}: no regression judged: {'; '.join(lines)}")
        elif status == "warn" or model.expect == "none":
            self._warn(text)
        elif model.expect == "fail":
            pytest.xfail(f"expected failure (expect: fail): {text}")
        else:
            raise CheckFailed(f"{self.audit.name}::{where}: regression against the baseline "
                              f"{status}\n  " + "\n  ".join(lines))

    def _warn(self, text: str) -> None:
        # Located at the model's entry in the spec, not at this line of the plugin.
        line = self.reportinfo()[1]
        warnings.warn_explicit(AuditWarning(text), AuditWarning, str(self.path), (line or 0) + 1)

    def _check_result(self, model: ModelResult) -> CheckResult:
        for check in model.checks:
            if check.name == self.check_name:
                return check
        raise CheckFailed(f"the audit result has no check {self.check_name!r} for model "
                          f"{model.name!r}")


class FailedAsExpected(Exception):
    """Raised by an expectation item when its ``expect: fail`` model failed: the strict xfail
    marker turns exactly this exception (and no other) into XFAIL."""


class ExpectationItem(AuditItem):
    """``expect: fail`` as a strict xfail: XFAIL when a check failed, XPASS(strict) when the
    model passed every check, a plain failure when it errored instead."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.add_marker(pytest.mark.xfail(
            strict=True, raises=FailedAsExpected,
            reason=f"{self.model.name} is expected to fail (expect: fail)"))

    def runtest(self) -> None:
        model = self.model_result()
        self.user_properties.extend([("expect", model.expect), ("status", model.status)])
        failed = [check.name for check in model.checks if check.status == "fail"]
        if model.expectation_met:
            raise FailedAsExpected(f"{model.name} failed as expected: {', '.join(failed)}")
        errored = [f"{check.name}: {check.message}" for check in model.checks
                   if check.status == "error"]
        if errored:
            raise CheckFailed(f"{model.name} is expected to fail (expect: fail) but did not "
                              "get there, checks errored:\n  " + "\n  ".join(errored))
        # Returning normally is the unexpected pass, reported by pytest as XPASS(strict).
