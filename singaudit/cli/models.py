"""``singaudit models``: model presets and the libraries' own model lists."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from singaudit.cli._common import EXIT_OK, _console
from singaudit.io.console import plain as _plain
from singaudit.wording import fixed


def models(pattern: Annotated[str | None, typer.Argument(help="Glob or substring.")] = None) -> int:
    """List model presets (feature dim, classes, null dim).

    Examples:

      singaudit models

      singaudit models 'calibration:*'

      singaudit models 'timm:resnet50*'
    """
    from rich.table import Table

    from singaudit.adapters.classifiers.catalogue import all_presets, list_presets

    console = _console()
    presets = list_presets(pattern)
    if presets:
        table = Table()
        for column in ("name", "id", "features", "classes", "null dim", "top-1", "offline"):
            table.add_column(column)
        for preset in presets:
            table.add_row(preset.name, preset.id, str(preset.feature_dim),
                          str(preset.num_classes), str(preset.null_dim),
                          "" if preset.top1 is None else fixed(preset.top1, 1),
                          "yes" if preset.offline else "")
        console.print(table)
    if not pattern:
        return EXIT_OK
    # Beyond the presets, the libraries' own model lists (as `timm.list_models(pattern)`).
    found = _library_models(pattern)
    for library, names in found.items():
        shown = ", ".join(names[:MAX_LISTED])
        more = f" ... ({len(names)} in all)" if len(names) > MAX_LISTED else ""
        console.print(_plain(f"{library} ({len(names)}): {shown}{more}"))
    if not presets and not found:
        from singaudit.adapters.resolution import nearest

        pool = [text for p in all_presets() for text in (p.name, p.id)]
        print(f"singaudit: no model preset, timm or open_clip model matches {pattern!r}"
              f"{nearest(pattern.strip('*'), pool)}", file=sys.stderr)
    return EXIT_OK


MAX_LISTED = 30


def _library_models(pattern: str) -> dict[str, list[str]]:
    """Ids of the sources that list theirs (``timm:``, ``open_clip:``) matching a glob or
    substring (libraries not installed are left out), without importing torch."""
    import fnmatch

    from singaudit.adapters.sources import CLASSIFIER_SOURCES, JOINT_SPACE_SOURCES, sources_of

    glob = pattern if any(c in pattern for c in "*?[") else f"*{pattern}*"
    source, sep, rest = glob.partition(":")
    found: dict[str, list[str]] = {}
    for listed in [*sources_of(CLASSIFIER_SOURCES), *sources_of(JOINT_SPACE_SOURCES)]:
        library = listed.name
        if sep and source.strip("*") not in library:
            continue
        wanted = (rest if sep else glob).lower()
        try:
            names = listed.ids()
        except ImportError:
            continue
        matches = [f"{library}:{n}" for n in names if fnmatch.fnmatchcase(n.lower(), wanted)]
        if matches:
            found[library] = matches
    return found
