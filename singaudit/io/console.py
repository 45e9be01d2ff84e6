"""User-supplied text (class names, paths, ids, messages) made safe for a rich console: markup is
shown, never interpreted, and control or bidirectional-override characters are made visible."""

from __future__ import annotations

import unicodedata

_NAMED = {"\n": "\\n", "\t": "\\t", "\r": "\\r"}


def visible(text: str) -> str:
    """Control (Cc) and format (Cf: bidi overrides, zero-width) characters as escapes; others
    (accents, right-to-left letters) unchanged."""
    return "".join(_NAMED.get(c) or (f"\\u{ord(c):04x}" if ord(c) > 0xFF else f"\\x{ord(c):02x}")
                   if unicodedata.category(c) in ("Cc", "Cf") else c for c in text)


def plain(value: object) -> str:
    """``value`` as console text: visible() and rich markup escaped."""
    from rich.markup import escape

    return escape(visible(str(value)))
