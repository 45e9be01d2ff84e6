"""State shared by the plugin and the fixture over one pytest session (kept in config.stash).

Everything here imports the runner lazily: the plugin is loaded by every pytest run where
singaudit is installed, and must not import torch unless an audit is actually collected or run.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from singaudit.errors import SingauditError, SpecError

if TYPE_CHECKING:
    from singaudit.results import AuditResult
    from singaudit.spec import AuditSpec

MARKER_LINE = (
    "singaudit(spec=None): a singaudit audit; collected YAML audits carry it, and tests using "
    "the `singaudit` fixture get it (optional default spec path for the fixture)"
)

# Which checks to run per model; None: every check of the spec.
Selection = dict[str, set[str] | None]


@dataclass(frozen=True)
class PluginOptions:
    """The --singaudit-* command-line options."""

    report_dir: Path | None = None
    device: str | None = None
    cache_dir: Path | None = None
    sets: tuple[str, ...] = ()

    @classmethod
    def from_config(cls, config: pytest.Config) -> PluginOptions:
        def path_option(name: str) -> Path | None:
            value = config.getoption(name, default=None)
            return Path(value).expanduser().resolve() if value else None

        return cls(
            report_dir=path_option("singaudit_report"),
            device=config.getoption("singaudit_device", default=None),
            cache_dir=path_option("singaudit_cache"),
            sets=tuple(config.getoption("singaudit_set", default=None) or ()),
        )


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


def narrow_spec(spec: AuditSpec, selection: Selection | None) -> AuditSpec:
    """The spec restricted to the selected models and checks (no copy when all are selected)."""
    if selection is None:
        return spec
    models = [model for model in spec.models if model.name in selection]
    wanted: set[str] = set()
    for checks in selection.values():
        wanted |= set(spec.checks) if checks is None else checks
    checks = {name: params for name, params in spec.checks.items() if name in wanted}
    if len(models) == len(spec.models) and len(checks) == len(spec.checks):
        return spec
    if not models or not checks:
        raise SpecError(f"audit {spec.name!r}: the selection leaves no model or no check to run")
    return spec.model_copy(update={"models": models, "checks": checks})


@dataclass
class AuditSession:
    """One per pytest session: options, the runner's in-memory session, report folders."""

    config: pytest.Config
    options: PluginOptions
    reports_written: list[Path] = field(default_factory=list)
    _runner_session: Any = None

    # -- specs -------------------------------------------------------------------------------

    def overrides(self, sets: Sequence[str] = ()):
        from singaudit.spec import Overrides

        return Overrides(device=self.options.device, sets=(*self.options.sets, *sets))

    def load(self, path: Path, sets: Sequence[str] = ()) -> AuditSpec:
        from singaudit.spec import load_spec

        return load_spec(path, self.overrides(sets))

    def from_mapping(self, document: Mapping[str, Any], sets: Sequence[str] = ()) -> AuditSpec:
        """An in-code audit; ``kind`` and ``version`` may be left out."""
        from pydantic import ValidationError

        from singaudit.spec import SPEC_KIND, SPEC_VERSION, AuditSpec, apply_overrides

        document = json.loads(json.dumps(dict(document)))  # a deep, plain copy we may modify
        document.setdefault("kind", SPEC_KIND)
        document.setdefault("version", SPEC_VERSION)
        touched = apply_overrides(document, self.overrides(sets))
        try:
            return AuditSpec.model_validate(document)
        except ValidationError as error:
            lines = []
            for detail in error.errors(include_url=False):
                key = ".".join(str(part) for part in detail["loc"]) or "(top level)"
                origin = f" ({touched[key]})" if key in touched else ""
                lines.append(f"  {key}{origin}: {detail['msg'].removeprefix('Value error, ')}")
            raise SpecError("\n".join(["invalid in-code audit spec:", *lines])) from None

    # -- running -----------------------------------------------------------------------------

    def report_folder(self, spec: AuditSpec) -> Path | None:
        return self.options.report_dir / spec.name if self.options.report_dir else None

    def run(
        self,
        spec: AuditSpec,
        *,
        selection: Selection | None = None,
        out_dir: Path | None = None,
        path: Path | None = None,
    ) -> AuditResult:
        """Run (the selected part of) an audit through the runner's shared session; write the
        reports when --singaudit-report is given; call pytest_singaudit_audit_finished."""
        from singaudit.runner import run_audit

        spec = narrow_spec(spec, selection)
        report_dir = self.report_folder(spec)
        result = run_audit(
            spec,
            out_dir=report_dir or out_dir,
            device=self.options.device,
            cache_dir=self.options.cache_dir,
            progress=False,
        )
        if report_dir is not None:
            self._write_reports(result, report_dir)
        self.config.hook.pytest_singaudit_audit_finished(
            config=self.config, spec=spec, result=result, path=path
        )
        return result

    def _write_reports(self, result: AuditResult, folder: Path) -> None:
        try:
            from singaudit.reports import render_reports
        except ImportError:
            render_reports = None
        if render_reports is None:
            result.write(folder / "results.json")
        else:
            render_reports(result, folder)
        self.reports_written.append(folder)


STATE_KEY: pytest.StashKey[AuditSession] = pytest.StashKey()


def audit_session(config: pytest.Config) -> AuditSession:
    """The session state, created on first use (the fixture may run without the plugin)."""
    state = config.stash.get(STATE_KEY, None)
    if state is None:
        state = config.stash[STATE_KEY] = AuditSession(config, PluginOptions.from_config(config))
    return state


def register_marker(config: pytest.Config) -> None:
    """Register the ``singaudit`` marker once, whichever of the two plugins loads first."""
    if not any(line.startswith("singaudit(") for line in config.getini("markers")):
        config.addinivalue_line("markers", MARKER_LINE)


def user_error(error: SingauditError) -> pytest.fail.Exception:
    """A user error as a pytest failure that prints its one message, no traceback."""
    return pytest.fail.Exception(f"{type(error).__name__}: {error}", pytrace=False)
