"""The ``singaudit`` command. Exit codes follow pytest: 0 as expected, 1 a check failed or an
expectation was violated, 2 interrupted, 3 internal error, 4 usage or spec error."""

from __future__ import annotations

import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Annotated

import typer

from singaudit.cli import (
    baseline,
    cache,
    card,
    diff,
    explain,
    models,
    report,
    run,
    specs,
    translator,
    zoo,
)
from singaudit.cli import init as init_command
from singaudit.cli._common import EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE
from singaudit.errors import SingauditError

app = typer.Typer(
    name="singaudit",
    help="Audit what an image classifier's null space carries (the SING method).",
    add_completion=True,  # --install-completion / --show-completion for bash, zsh, fish
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

# Commands in the order `singaudit --help` lists them, then the command groups.
app.command()(run.run)
app.command()(specs.validate)
app.command()(specs.schema)
app.command()(models.models)
app.command()(explain.explain)
app.command()(report.report)
app.command()(diff.diff)
app.command(name="init")(init_command.init)
app.command()(card.card)
app.add_typer(translator.translator_app, name="translator")
app.add_typer(baseline.baseline_app, name="baseline")
app.add_typer(cache.cache_app, name="cache")
app.add_typer(zoo.zoo_app, name="zoo")


def _show_version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            text = version("singaudit")
        except PackageNotFoundError:
            text = "unknown (not installed)"
        print(f"singaudit {text}")
        raise typer.Exit(0)


@app.callback()
def _main(
    show_version: Annotated[bool, typer.Option(
        "--version", callback=_show_version, is_eager=True,
        help="Print the version and exit.")] = False,
) -> None:
    """Audit what an image classifier's null space carries (the SING method).

    Start with `singaudit run audits/demo.yaml`; `singaudit COMMAND --help` shows examples.
    """


def _terminated(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # SIGTERM (docker stop, CI cancel) ends a run as Ctrl-C does


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """While the command runs, SIGTERM unwinds like SIGINT: staging folders are removed and the
    exit code is 2 (only the main thread may install a handler)."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_cli(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code instead of exiting."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    try:
        with _sigterm_as_interrupt():
            code = app(args=args, prog_name="singaudit", standalone_mode=False)
    except (typer.Abort, KeyboardInterrupt):
        print("singaudit: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except typer.Exit as exit_:
        if exit_.exit_code == 130:  # typer's translation of KeyboardInterrupt
            print("singaudit: interrupted", file=sys.stderr)
            return EXIT_INTERRUPTED
        return exit_.exit_code
    except SingauditError as error:
        if debug:
            traceback.print_exc()
        print(f"singaudit: {error}", file=sys.stderr)
        return getattr(error, "exit_code", EXIT_USAGE)
    except typer.TyperException as error:  # usage errors: bad option, missing argument
        show = getattr(error, "show", None)
        if show is not None:
            show()
        else:
            print(f"singaudit: {error.format_message()}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as error:  # noqa: BLE001 - the last resort: one line, exit 3
        if debug:
            traceback.print_exc()
        print(f"singaudit: internal error: {type(error).__name__}: {error} "
              "(run again with --debug for the traceback)", file=sys.stderr)
        return EXIT_INTERNAL
    if code == 130:  # typer returns this for a KeyboardInterrupt when not in standalone mode
        print("singaudit: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    return code if isinstance(code, int) else EXIT_OK


def main() -> None:
    sys.exit(run_cli())
