"""The ground floor: atomic file writes, state-dict files and hashes, library versions.

Depends on nothing else in singaudit (only ``singaudit.errors``), so every layer may use it.
"""
