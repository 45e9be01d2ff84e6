"""Fixtures for the plugin's pytester tests: a tiny audit project with real (tiny) models."""

from __future__ import annotations

from pathlib import Path

import pytest

# Imported once in this process: pytester's inline runs drop the modules they imported, and
# importing torch's modules twice in one process crashes (torchvision pulls in torch._dynamo).
import torchvision  # noqa: F401

import singaudit.adapters.classifiers.python_source
import singaudit.adapters.data.calibration_source
import singaudit.checks.null_invariance
import singaudit.runner  # noqa: F401

HERE = Path(__file__).parent
# Other installed plugins the inner runs do not need (hypothesis re-imports itself each run).
QUIET_PLUGINS = ("-p", "no:hypothesispytest", "-p", "no:anyio", "-p", "no:platformdirs")

# Two images per class: the tiers judge classes on the point estimate (min_images 2, confidence
# null); the default needs 10 images per class and a significant test.
TINY_SPEC = """\
version: 1
kind: singaudit/audit
name: tiny
models:
  - name: quiet
    id: "python:plugin_world:quiet"
  - name: loud
    id: "python:plugin_world:loud"
    expect: {loud_expect}
  - name: square
    id: "python:plugin_world:square"
    expect: {square_expect}
data:
  id: "calibration:audit"
  images_per_class: 2
checks:
  null_invariance:
    thresholds:
      - {{metric: null_energy, statistic: median, warn: 0.3, fail: 0.5, min_images: 2, confidence: null}}
report:
  formats: [html, json]
"""


def pytest_configure(config: pytest.Config) -> None:
    # `pytest_plugins = ["pytester"]` is refused in a conftest below the root of the run.
    if not config.pluginmanager.has_plugin("pytester"):
        config.pluginmanager.import_plugin("pytester")


@pytest.fixture(scope="session")
def shared_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One feature cache for every pytester run, as a CI runner keeps between jobs."""
    return tmp_path_factory.mktemp("singaudit-cache")


class InlinePytest:
    """Runs pytest inline in a pytester folder, with the session's shared cache."""

    def __init__(self, pytester: pytest.Pytester, cache: Path) -> None:
        self.pytester = pytester
        self.path = pytester.path
        self.cache = cache

    def run(self, *args: str) -> pytest.RunResult:
        # One argument: a separate path argument would move the rootdir to a common ancestor.
        return self.pytester.runpytest(f"--singaudit-cache={self.cache}", *QUIET_PLUGINS, *args)

    def run_subprocess(self, *args: str) -> pytest.RunResult:
        """A fresh interpreter, as CI runs it (the plugin found through its entry point)."""
        return self.pytester.runpytest_subprocess(f"--singaudit-cache={self.cache}",
                                                  *QUIET_PLUGINS, *args)


class TinyProject(InlinePytest):
    """A pytester folder holding the tiny models and the tiny spec."""

    def __init__(self, pytester: pytest.Pytester, cache: Path) -> None:
        super().__init__(pytester, cache)
        pytester.makeini("[pytest]\n")  # rootdir here: ids start at audits/
        pytester.makepyfile(plugin_world=(HERE / "plugin_world.py").read_text())
        pytester.syspathinsert()

    def write_spec(self, name: str = "tiny.yaml", *, loud_expect: str = "fail",
                   square_expect: str = "none", text: str | None = None) -> Path:
        path = self.path / "audits" / name
        path.parent.mkdir(exist_ok=True)
        path.write_text(text if text is not None else TINY_SPEC.format(loud_expect=loud_expect,
                                                                  square_expect=square_expect))
        return path


@pytest.fixture
def inline_pytest(pytester: pytest.Pytester, shared_cache: Path,
                  monkeypatch: pytest.MonkeyPatch) -> InlinePytest:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return InlinePytest(pytester, shared_cache)


@pytest.fixture
def tiny_project(pytester: pytest.Pytester, shared_cache: Path,
                 monkeypatch: pytest.MonkeyPatch) -> TinyProject:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return TinyProject(pytester, shared_cache)
