"""pytest plugin: audit specs collected and run as tests."""
