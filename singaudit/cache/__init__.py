"""The on-disk cache: one folder, and one registry of the kinds of entry singaudit keeps there.

Each kind registers its layout, listing, clearing and integrity rule once, in its own module:
``tensors`` (features, embeddings, text, geometry), ``translators``, ``checks``, ``figures`` and
``runs``. ``singaudit cache ls`` / ``cache clear`` loop over ``KINDS``; the trust model is in
docs/cache.md. This package imports no torch and nothing above ``results``.
"""

from __future__ import annotations

# Imported in this order, the kinds register in the order `cache ls` lists them.
# isort: off
from singaudit.cache import tensors, translators, checks, figures, runs  # noqa: F401
# isort: on
from singaudit.cache.folder import (
    ENV_VAR,
    MARKER,
    cache_root,
    default_cache_dir,
    mark_cache,
    write_failed,
)
from singaudit.cache.kinds import (
    KINDS,
    CacheItem,
    CacheKind,
    cache_contents,
    cache_items,
    clear_cache,
    is_singaudit_cache,
    kind_names,
    remove_items,
)

__all__ = ["ENV_VAR", "KINDS", "MARKER", "CacheItem", "CacheKind", "cache_contents",
           "cache_items", "cache_root", "clear_cache", "default_cache_dir", "is_singaudit_cache",
           "kind_names", "mark_cache", "remove_items", "write_failed"]
