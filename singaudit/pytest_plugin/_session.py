"""State shared by the plugin and the fixture over one pytest session (kept in config.stash).

Everything here imports the runner lazily: the plugin is loaded by every pytest run where
singaudit is installed, and must not import torch unless an audit is actually collected or run.
"""

from __future__ import annotations

import copy
import json
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from singaudit.errors import SingauditError, SpecError

if TYPE_CHECKING:
    from singaudit.results import AuditResult
    from singaudit.spec import AuditSpec, Overrides

MARKER_LINE = (
    "singaudit(spec=None): a singaudit audit; collected YAML audits carry it, and tests using "
    "the `singaudit` fixture get it (optional default spec path for the fixture)"
)

# The runner's ``only`` selectors: "model::check" pairs ("model::*" for every check).
Selection = list[str]

@dataclass(frozen=True)
class PluginOptions:
    """The --singaudit-* command-line options."""

    report_dir: Path | None = None
    device: str | None = None
    cache_dir: Path | None = None
    sets: tuple[str, ...] = ()
    baseline_dir: Path | None = None  # --singaudit-baseline: the baseline store
    mlflow: str | None = None  # --singaudit-mlflow: a tracking URI (or a folder)

    @property
    def changes_specs(self) -> bool:
        return bool(self.sets) or self.device is not None or self.baseline_dir is not None

    @classmethod
    def from_config(cls, config: pytest.Config) -> PluginOptions:
        def path_option(name: str) -> Path | None:
            value = config.getoption(name, default=None)
            return Path(value).expanduser().resolve() if value else None

        return cls(
            report_dir=path_option("singaudit_report"),
            device=config.getoption("singaudit_device", default=None),
            cache_dir=path_option("singaudit_cache"),
            sets=_engine_sets(config.getoption("singaudit_engine", default=None))
            + tuple(config.getoption("singaudit_set", default=None) or ()),
            baseline_dir=path_option("singaudit_baseline"),
            mlflow=config.getoption("singaudit_mlflow", default=None),
        )


def _engine_sets(engine: str | None) -> tuple[str, ...]:
    return (f"execution.engine={engine}",) if engine else ()


def normalise_sets(overrides: Mapping[str, Any] | Sequence[str] | None) -> tuple[str, ...]:
    """``{"data.images_per_class": 4}`` or ``["data.images_per_class=4"]`` -> key=value strings."""
    if not overrides:
        return ()
    if isinstance(overrides, str):
        return (overrides,)
    if isinstance(overrides, Mapping):
        # JSON is valid YAML, and the spec loader parses each value as YAML.
        return tuple(f"{key}={json.dumps(value)}" for key, value in overrides.items())
    return tuple(overrides)


@dataclass
class PluginState:
    """One per pytest session: options, the runner's in-memory session, report folders."""

    config: pytest.Config
    options: PluginOptions
    reports_written: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # the audits' notes, for the terminal summary
    _runner_session: Any = None
    _scratch: tempfile.TemporaryDirectory | None = None

    # -- specs -------------------------------------------------------------------------------

    def overrides(self, sets: Sequence[str] = ()) -> Overrides:
        from singaudit.spec import Overrides

        store = () if self.options.baseline_dir is None else (
            f"regression.store={json.dumps(str(self.options.baseline_dir))}",)
        return Overrides(device=self.options.device, sets=(*store, *self.options.sets, *sets))

    def load(self, path: Path, sets: Sequence[str] = ()) -> AuditSpec:
        from singaudit.runner.plan import load_plan

        return load_plan(path, self.overrides(sets)).spec  # names resolved: errors at collection

    def from_mapping(self, document: Mapping[str, Any], sets: Sequence[str] = ()) -> AuditSpec:
        """An in-code audit; ``kind`` and ``version`` may be left out."""
        from pydantic import ValidationError

        from singaudit.spec import SPEC_KIND, SPEC_VERSION, AuditSpec, apply_overrides

        spec_data = copy.deepcopy(dict(document))  # overrides are applied in place
        spec_data.setdefault("kind", SPEC_KIND)
        spec_data.setdefault("version", SPEC_VERSION)
        touched = apply_overrides(spec_data, self.overrides(sets))
        try:
            return AuditSpec.model_validate(spec_data)
        except ValidationError as error:
            lines = []
            for detail in error.errors(include_url=False):
                key = ".".join(str(part) for part in detail["loc"]) or "(top level)"
                origin = f" ({touched[key]})" if key in touched else ""
                lines.append(f"  {key}{origin}: {detail['msg'].removeprefix('Value error, ')}")
            raise SpecError("\n".join(["invalid in-code audit spec:", *lines])) from None

    # -- running -----------------------------------------------------------------------------

    @property
    def runner(self) -> Any:
        """The runner's AuditSession: models and artefacts kept in memory for every audit."""
        if self._runner_session is None:
            from singaudit.runner import AuditSession as RunnerSession

            self._runner_session = RunnerSession(
                cache_dir=self.options.cache_dir, device=self.options.device, progress=False)
        return self._runner_session

    def scratch_dir(self) -> Path:
        """Where audits write when no report was asked for; removed at the end of the session."""
        if self._scratch is None:
            self._scratch = tempfile.TemporaryDirectory(prefix="singaudit-pytest-")
        return Path(self._scratch.name)

    def run(
        self,
        spec: AuditSpec,
        *,
        only: Selection | None = None,
        out_dir: Path | None = None,
        path: Path | None = None,
        report_name: str | None = None,
    ) -> AuditResult:
        """Run (the ``only`` part of) an audit; with --singaudit-report, write its reports
        under DIR/<report_name or audit name>; call pytest_singaudit_audit_finished; then log
        it to MLflow as ``singaudit run`` does (the spec's report.mlflow, or
        --singaudit-mlflow)."""
        report_dir = None
        if self.options.report_dir is not None:
            report_dir = self.options.report_dir / (report_name or spec.name)
        reports: Callable[[Path], None] | None = None
        if report_dir is not None:
            from singaudit.cache.figures import figure_cache
            from singaudit.reports import render_reports

            def render(folder: Path) -> None:
                # Rendered beside the staged results.json and published with it (all or nothing).
                with figure_cache(self.options.cache_dir or spec.cache_dir):
                    render_reports(folder / "results.json", spec.report.formats)

            reports = render

        target = report_dir or out_dir or self.scratch_dir() / spec.name
        result = self.runner.run(spec, out_dir=target, only=only, reports=reports)
        if report_dir is not None and report_dir not in self.reports_written:
            self.reports_written.append(report_dir)
        from singaudit.integrations.mlflow_export import track_audit
        from singaudit.reports.summary import audit_notices

        self.notes += [f"{spec.name}: {notice.text}" for notice in audit_notices(result)
                       if notice.level == "note"]
        self.config.hook.pytest_singaudit_audit_finished(
            config=self.config, spec=spec, result=result, path=path
        )
        # From the published folder, as `singaudit run` does: a failed export loses no result.
        tracked = track_audit(spec.report.mlflow, target, self.options.mlflow, spec.source_path)
        if tracked is not None:
            self.notes.append(f"{spec.name}: mlflow: {tracked.describe()}")
        return result

    def close(self) -> None:
        if self._scratch is not None:
            self._scratch.cleanup()
            self._scratch = None


STATE_KEY: pytest.StashKey[PluginState] = pytest.StashKey()


def plugin_state(config: pytest.Config) -> PluginState:
    """The session state, created on first use (the fixture may run without the plugin)."""
    state = config.stash.get(STATE_KEY, None)
    if state is None:
        state = config.stash[STATE_KEY] = PluginState(config, PluginOptions.from_config(config))
    return state


def register_marker(config: pytest.Config) -> None:
    """Register the ``singaudit`` marker once, whichever of the two plugins loads first."""
    if not any(line.startswith("singaudit(") for line in config.getini("markers")):
        config.addinivalue_line("markers", MARKER_LINE)


def user_error(error: SingauditError) -> BaseException:
    """A user error as a pytest failure that prints its one message, no traceback."""
    return pytest.fail.Exception(f"{type(error).__name__}: {error}", pytrace=False)
