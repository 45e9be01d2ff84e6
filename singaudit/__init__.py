"""singaudit: audits of what an image classifier's null space carries (the SING method)."""

__version__ = "0.1.0"
