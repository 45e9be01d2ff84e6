"""``singaudit cache ls|clear``: inspect or clear the on-disk cache."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer

from singaudit.cache import kind_names
from singaudit.cli._common import EXIT_OK, CacheOpt, _console
from singaudit.errors import SpecError
from singaudit.io.console import plain as _plain
from singaudit.wording import megabytes

if TYPE_CHECKING:
    from singaudit.cache import CacheItem

cache_app = typer.Typer(help="Inspect or clear the on-disk cache.", no_args_is_help=True)

CacheKindOpt = Annotated[list[str] | None, typer.Option(
    "--kind", help=f"{', '.join(kind_names()[:-1])} or {kind_names()[-1]} (repeatable).")]
CacheModelOpt = Annotated[str | None, typer.Option(
    "--model", help="Entries of models whose source:id matches this glob or substring.")]
CacheAgeOpt = Annotated[float | None, typer.Option(
    "--older-than", min=0, help="Entries last written more than this many days ago.")]


def _selected_items(root: Path, kinds: list[str] | None, model: str | None,
                    older_than: float | None) -> list[CacheItem]:
    import fnmatch
    import time

    from singaudit.cache import cache_items

    unknown = [k for k in kinds or () if k not in kind_names()]
    if unknown:
        raise SpecError(f"--kind {', '.join(unknown)}: choose from {', '.join(kind_names())}")
    items = cache_items(root, kinds or None)
    if model:
        glob = model if any(c in model for c in "*?[") else f"*{model}*"
        items = [item for item in items if item.model and fnmatch.fnmatchcase(item.model, glob)]
    if older_than is not None:
        cutoff = time.time() - older_than * 86400
        items = [item for item in items if item.modified < cutoff]
    return items


@cache_app.command("ls")
def cache_ls(
    cache_dir: CacheOpt = None,
    kinds: CacheKindOpt = None,
    model: CacheModelOpt = None,
    older_than: CacheAgeOpt = None,
) -> int:
    """List the cache by model and kind: entries, images, size, last written.

    Examples:

      singaudit cache ls

      singaudit cache ls --model calibration --kind features --older-than 30
    """
    import time

    from rich import box
    from rich.table import Table

    from singaudit.cache import cache_root

    root = cache_root(cache_dir)
    items = _selected_items(root, kinds, model, older_than)
    console = _console()
    groups: dict[tuple[str, str], list[CacheItem]] = {}
    for item in items:
        groups.setdefault((item.model or "-", item.kind), []).append(item)
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    columns: tuple[tuple[str, Literal["left", "right"]], ...] = (
        ("model", "left"), ("kind", "left"), ("entries", "right"), ("images", "right"),
        ("size", "right"), ("last written", "left"))
    for column, justify in columns:
        table.add_column(column, justify=justify, overflow="fold")
    for (model_name, kind), members in sorted(groups.items()):
        images = sum(m.images for m in members)
        newest = time.strftime("%Y-%m-%d %H:%M", time.localtime(max(m.modified for m in members)))
        table.add_row(_plain(model_name), kind, str(len(members)), str(images) if images else "",
                      megabytes(sum(m.size for m in members)), newest)
    console.print(f"cache: {_plain(root)}")
    if groups:
        console.print(table)
    total = sum(item.size for item in items)
    selected = " (selected)" if kinds or model or older_than is not None else ""
    console.print(f"{len(items)} entries, {megabytes(total)}{selected}")
    return EXIT_OK


@cache_app.command("clear")
def cache_clear(
    cache_dir: CacheOpt = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask.")] = False,
    kinds: CacheKindOpt = None,
    model: CacheModelOpt = None,
    older_than: CacheAgeOpt = None,
) -> int:
    """Delete every entry singaudit wrote in the cache (every kind --kind names: features to
    run records), or only those selected by --kind, --model and --older-than; other files
    stay, and a folder that is not a cache is refused.

    Examples:

      singaudit cache clear --yes

      singaudit cache clear --model calibration:leaky --kind features --yes
    """
    from singaudit.cache import cache_root, clear_cache, is_singaudit_cache

    root = cache_root(cache_dir)
    if root.is_dir() and not is_singaudit_cache(root) and any(root.iterdir()):
        clear_cache(root)  # raises: not a singaudit cache
    if kinds or model or older_than is not None:
        return _clear_selected(root, kinds, model, older_than, yes)
    if not yes and not typer.confirm(f"delete the singaudit cache in {root}?"):
        return EXIT_OK
    count, freed = clear_cache(root)
    _console().print(f"cleared {_plain(root)}: {count} entries, {megabytes(freed)}")
    return EXIT_OK


def _clear_selected(root: Path, kinds: list[str] | None, model: str | None,
                    older_than: float | None, yes: bool) -> int:
    """Remove only the selected entries (each a file or a folder singaudit wrote)."""
    items = _selected_items(root, kinds, model, older_than)
    if not items:
        _console().print("nothing selected; nothing removed")
        return EXIT_OK
    if not yes and not typer.confirm(f"delete {len(items)} cache entries in {root}?"):
        return EXIT_OK
    from singaudit.cache import remove_items

    removed: dict[str, list[int]] = {}
    for kind in dict.fromkeys(item.kind for item in items):
        removed[kind] = list(remove_items(root, [i for i in items if i.kind == kind]))
    said = ", ".join(f"{kind} {count} ({megabytes(size)})"
                     for kind, (count, size) in sorted(removed.items()))
    _console().print(f"removed from {_plain(root)}: {said}")
    return EXIT_OK
