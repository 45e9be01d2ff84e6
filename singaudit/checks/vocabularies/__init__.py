"""Concept vocabularies shipped with singaudit (package data read by the concepts check)."""
