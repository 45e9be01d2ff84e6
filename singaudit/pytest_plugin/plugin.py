"""pytest hooks that collect and run audit specs (filled in by the pytest-plugin issue)."""
