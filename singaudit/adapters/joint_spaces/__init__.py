"""joint spaces adapters."""
