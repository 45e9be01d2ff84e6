import sys
from pathlib import Path

# The synthetic world lives beside the tests (tests/ is not a package).
sys.path.insert(0, str(Path(__file__).parent))
