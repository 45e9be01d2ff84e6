"""classifiers adapters."""
