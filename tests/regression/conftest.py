import sys
from pathlib import Path

import torch

# results_builder and the runner tests' tiny real world (runnerworld: sources).
sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1] / "runner"))

torch.set_num_threads(1)
