import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))

import runner_world

# The machine's two cores are shared by every test process: one torch thread each.
torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _world_sources():
    runner_world.register()


@pytest.fixture
def spec_file(tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text(runner_world.SPEC)
    return path
