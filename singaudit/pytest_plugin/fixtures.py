"""pytest fixtures for running audits from Python tests."""
