"""The output-folder contract: singaudit replaces only what it wrote.

An output folder holds ``results.json``, ``artefacts/``, the reports and ``.singaudit-output.json``
(the manifest: every file the last run wrote, relative to the folder). A run stages its outputs in
``.singaudit-staging-*`` inside the folder itself (so a mount point works: one filesystem), moves
them into place, then deletes the files the manifest lists that the new run did not write; any
other file stays. A non-empty folder without a manifest is refused unless forced.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from singaudit.errors import SingauditError
from singaudit.io.atomic import atomic_write_text

MANIFEST = ".singaudit-output.json"
STAGING_PREFIX = ".singaudit-staging-"
RESULTS = "results.json"
# What older singaudit versions wrote (before the manifest): such a folder is not foreign.
KNOWN_OUTPUTS = frozenset({RESULTS, "artefacts", "report.html", "report.pdf", "junit.xml",
                           "report.md"})


class OutputError(SingauditError):
    """An output folder that cannot or may not be written (a file, not writable, foreign)."""


def read_manifest(folder: Path) -> list[str] | None:
    """Relative paths of the files singaudit wrote in ``folder``; None without a manifest."""
    try:
        data = json.loads((Path(folder) / MANIFEST).read_text(encoding="utf-8"))
        files = data["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return [f for f in files if isinstance(f, str) and _inside(f)] if isinstance(files, list) else None


def _inside(relative: str) -> bool:
    """A manifest entry may only name a path below the folder (a hand-edited one cannot point
    singaudit at another file)."""
    path = Path(relative)
    return bool(relative) and not path.is_absolute() and ".." not in path.parts


def _write_manifest(folder: Path, files: Iterable[str], audit: str | None) -> None:
    record = {"singaudit_output": 1, "audit": audit, "files": sorted(set(files))}
    atomic_write_text(folder / MANIFEST, json.dumps(record, indent=1) + "\n")


def _foreign_entries(folder: Path) -> list[str]:
    return sorted(entry.name for entry in folder.iterdir()
                  if entry.name not in KNOWN_OUTPUTS and entry.name != MANIFEST
                  and not entry.name.startswith(STAGING_PREFIX))


def check_output_folder(out_dir: str | Path, *, force: bool = False) -> None:
    """Refuse, before anything is computed, an output that cannot work: a file, a folder below a
    file, one that cannot be written, or a non-empty folder that singaudit did not write (unless
    ``force``: then singaudit writes its files beside the others and deletes none of them)."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise OutputError(f"output {out} is a file, not a folder; choose a folder for --out")
    existing = out.absolute()
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise OutputError(f"output {out} cannot be created: {existing} is a file")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise OutputError(f"output {out} cannot be written: no write permission in {existing}"
                          + (" (read-only filesystem)" if _read_only(existing) else ""))
    if out.is_dir():  # where a re-run writes again (publish checks every file it moves)
        _refuse_links(out, [*KNOWN_OUTPUTS, *(f for f in read_manifest(out) or []
                                              if f.startswith("artefacts/"))])
    if out.is_dir() and read_manifest(out) is None and not force:
        foreign = _foreign_entries(out)
        if foreign:
            shown = ", ".join(foreign[:5]) + (", ..." if len(foreign) > 5 else "")
            raise OutputError(
                f"output folder {out} is not empty and was not written by singaudit ({shown}); "
                "choose another --out, or pass --force to write beside those files (singaudit "
                "never deletes files it did not write)")


def _link_in_the_way(out: Path, relative: str) -> Path | None:
    """The first folder on the way from ``out`` to ``relative`` that is a symbolic link (writing
    there would land outside the output folder), else None."""
    folder = out
    for part in Path(relative).parts[:-1]:
        folder = folder / part
        if folder.is_symlink():
            return folder
        if not folder.exists():
            return None
    return None


def _refuse_links(out: Path, relatives: Iterable[str]) -> None:
    """Exit 4 before anything is written if a folder singaudit writes into is a symbolic link."""
    for relative in relatives:
        for candidate in (_link_in_the_way(out, relative),
                          out / relative if (out / relative).is_symlink()
                          and (out / relative).is_dir() else None):
            if candidate is not None:
                try:
                    target = os.readlink(candidate)
                except OSError:
                    target = "?"
                raise OutputError(
                    f"{candidate} is a symbolic link (to {target}); singaudit writes only inside "
                    f"the output folder {out} and never through a link: remove the link or "
                    "choose another --out")


def _read_only(path: Path) -> bool:
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def _staging_owner(name: str) -> tuple[str, int] | None:
    """(host, pid) of the run that made a staging folder, from its name."""
    host, _, rest = name.removeprefix(STAGING_PREFIX).rpartition("--")
    pid = rest.partition("-")[0]
    return (host, int(pid)) if host and pid.isdigit() else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's live process
    return True


def remove_stale_staging(out_dir: Path) -> list[Path]:
    """Delete staging folders that runs on this machine left when they died (SIGKILL, power)."""
    removed = []
    host = socket.gethostname()
    for entry in Path(out_dir).glob(f"{STAGING_PREFIX}*"):
        owner = _staging_owner(entry.name)
        if (entry.is_dir() and not entry.is_symlink() and owner is not None and owner[0] == host
                and owner[1] != os.getpid() and not _alive(owner[1])):
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry)
    return removed


@contextmanager
def staged_output(out_dir: str | Path, *, force: bool = False) -> Iterator[Path]:
    """A private staging folder inside ``out_dir`` (created if needed), removed afterwards,
    published or not; a folder this call created is removed again if nothing was published."""
    out = Path(out_dir)
    check_output_folder(out, force=force)
    created = not out.exists()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OutputError(f"output {out} cannot be created: {error.strerror or error}") from None
    remove_stale_staging(out)
    prefix = f"{STAGING_PREFIX}{socket.gethostname()}--{os.getpid()}-"
    try:
        staging = Path(tempfile.mkdtemp(prefix=prefix, dir=out))
    except OSError as error:
        raise OutputError(f"output {out} cannot be written: {error.strerror or error}") from None
    try:
        yield staging
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        if created:
            try:
                out.rmdir()  # only when empty: nothing was published
            except OSError:
                pass


def _files_below(folder: Path) -> list[str]:
    """The files to publish from a staging folder (a manifest or staging of its own aside)."""
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*")
                  if (p.is_file() or p.is_symlink()) and p.relative_to(folder).parts[0] != MANIFEST
                  and not p.relative_to(folder).parts[0].startswith(STAGING_PREFIX))


def publish(staging: Path, out_dir: str | Path, *, audit: str | None = None) -> list[str]:
    """Move a run's staged files into ``out_dir`` (results.json last) and delete the files the
    previous run wrote that this one did not: one consistent set, nothing else touched.
    Returns the relative paths published."""
    out = Path(out_dir)
    previous = read_manifest(out) or []
    new = _files_below(staging)
    _refuse_links(out, new)  # checked for every file before any is moved
    # A crash part-way leaves a manifest that covers both runs' files, so the next run cleans up.
    _write_manifest(out, [*previous, *new], audit)
    for relative in sorted(new, key=lambda name: name == RESULTS):
        target = out / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.is_dir() and not target.is_symlink():
            raise OutputError(f"cannot write {target}: a folder of that name is in the way")
        os.replace(staging / relative, target)
    for relative in sorted(set(previous) - set(new)):
        _remove_written(out, relative)
    _write_manifest(out, new, audit)
    return new


def _remove_written(out: Path, relative: str) -> None:
    """Delete one file an earlier run wrote, then the folders it leaves empty (up to ``out``)."""
    path = out / relative
    root = out.resolve()
    if path.parent.resolve() != root and root not in path.parent.resolve().parents:
        return  # a folder replaced by a link elsewhere: what is there is not ours
    try:
        if path.is_symlink() or path.is_file():
            path.unlink()
    except OSError:
        return
    parent = path.parent
    while parent != out and out in parent.parents:
        try:
            parent.rmdir()
        except OSError:
            return  # not empty: someone else's files keep it
        parent = parent.parent


def record_outputs(out_dir: str | Path, written: Iterable[str | Path]) -> None:
    """Add files written into an output folder after publishing (the reports) to its manifest;
    a folder without a manifest (a results.json the user copied elsewhere) is left as it is."""
    out = Path(out_dir)
    previous = read_manifest(out)
    if previous is None:
        return
    try:
        audit = json.loads((out / MANIFEST).read_text(encoding="utf-8")).get("audit")
    except (OSError, ValueError, AttributeError):
        audit = None
    names = [Path(p).absolute().relative_to(out.absolute()).as_posix() for p in written]
    _write_manifest(out, [*previous, *names], audit)
