"""Adapters: classifiers, joint spaces, data sources and generators behind small interfaces."""
