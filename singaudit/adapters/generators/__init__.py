"""generators adapters."""
