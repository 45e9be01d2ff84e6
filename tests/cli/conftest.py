import sys
from pathlib import Path

import pytest
import torch

# The runner tests' tiny real world (runnerworld: sources) serves the CLI tests too.
sys.path.insert(0, str(Path(__file__).parents[1] / "runner"))

import runner_world

# The machine's two cores are shared by every test process: one torch thread each.
torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _world_sources(monkeypatch, tmp_path):
    runner_world.register()
    monkeypatch.setenv("SINGAUDIT_CACHE", str(tmp_path / "cache"))


@pytest.fixture
def spec_file(tmp_path):
    path = tmp_path / "tiny.yaml"
    # A lenient |AS| bound, so that this spec passes unless a test tightens it.
    text = runner_world.SPEC.replace("  translator_fidelity: {}\n", "").replace(
        "  class_semantics: {n_boot: 50}\n",
        "  class_semantics:\n    n_boot: 50\n"
        "    thresholds: [{metric: abs_as, statistic: median, fail: 90}]\n")
    path.write_text(text)
    return path
