"""Every command and snippet in the docs is checked: fenced blocks are extracted from the Markdown.

`singaudit ...` lines are parsed by the real command line (every command, option and argument
must exist, nothing runs), and those whose files ship here are validated (each id resolved
offline, as `singaudit validate` does); YAML blocks load, and audit specs among them pass the
schema; Python blocks compile. Commands that need a hub or a dataset are parsed only.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import typer
import yaml
from typer._click import exceptions as click_exceptions  # the click typer is built on

from singaudit.cli.main import app, run_cli

ROOT = Path(__file__).parents[1]
DOCS = sorted([ROOT / "README.md", *ROOT.glob("audits/**/README.md"), *ROOT.glob("docs/*.md"),
               *ROOT.glob("examples/*/README.md"), *ROOT.glob("singaudit/**/README.md")])
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.DOTALL | re.MULTILINE)
# Programs a docs shell block may call besides singaudit (checked by their own projects).
OTHER_PROGRAMS = {"make", "pytest", "pip", "cd", "python", "git", "ray", "export"}


def _blocks(language: set[str]) -> list[tuple[str, str]]:
    found = []
    for path in DOCS:
        for match in FENCE.finditer(path.read_text(encoding="utf-8")):
            if match.group(1) in language:
                found.append((f"{path.relative_to(ROOT)}:{match.group(1)}", match.group(2)))
    return found


def _commands() -> list[tuple[str, list[str]]]:
    commands = []
    for where, text in _blocks({"bash", "sh", "console", "shell"}):
        logical = re.sub(r"\\\n\s*", " ", text)  # continuation lines
        for line in logical.splitlines():
            line = line.split(" #", 1)[0].strip()
            line = line.removeprefix("$ ")
            if line and not line.startswith("#"):
                commands.append((where, shlex.split(line)))
    return commands


def _parse(argv: list[str]):
    """Parse like the CLI, invoking nothing; returns the command reached."""
    command = typer.main.get_command(app)
    context = command.make_context("singaudit", list(argv), resilient_parsing=False)
    while hasattr(command, "resolve_command"):  # a group: descend to its subcommand
        remaining = [*getattr(context, "_protected_args", []), *context.args]
        name, sub, rest = command.resolve_command(context, remaining)
        context = sub.make_context(name, rest, parent=context)
        command = sub
    return command


COMMANDS = _commands()


def test_the_docs_have_commands_and_snippets() -> None:
    assert len([c for c in COMMANDS if c[1][0] == "singaudit"]) >= 8
    assert _blocks({"yaml"}) and _blocks({"python"})
    # The parser is not vacuous: an unknown option or command is refused.
    for wrong in (["run", "audits/demo.yaml", "--bogus"], ["frobnicate"],
                  ["translator", "fit", "spec.yaml"]):  # --out is required
        with pytest.raises(click_exceptions.ClickException):
            _parse(wrong)


@pytest.mark.parametrize(("where", "argv"), COMMANDS,
                         ids=[" ".join(argv)[:60] for _, argv in COMMANDS])
def test_every_documented_command_parses(where: str, argv: list[str]) -> None:
    program, *arguments = argv
    if program != "singaudit":
        assert program in OTHER_PROGRAMS, f"{where}: unknown program {program!r}"
        return
    try:
        _parse(arguments)
    except click_exceptions.Exit:
        pass  # --help, --version
    except click_exceptions.ClickException as error:
        pytest.fail(f"{where}: `{' '.join(argv)}`: {error.format_message()}")


def test_documented_specs_that_ship_here_validate(capsys) -> None:
    specs = {argument for _, argv in COMMANDS if argv[:2] == ["singaudit", "run"]
             for argument in argv[2:] if argument.endswith(".yaml")}
    shipped = sorted(s for s in specs if (ROOT / s).is_file() and "demo" in s)
    assert shipped, "the docs run the demo spec"
    for spec in shipped:
        assert run_cli(["validate", str(ROOT / spec)]) == 0, capsys.readouterr().err


@pytest.mark.parametrize(("where", "text"), _blocks({"yaml"}))
def test_yaml_snippets_load_and_specs_pass_the_schema(where: str, text: str) -> None:
    from singaudit.spec import AuditSpec

    document = yaml.safe_load(text)
    if isinstance(document, dict) and document.get("kind") == "singaudit/audit":
        AuditSpec.model_validate(document)


@pytest.mark.parametrize(("where", "text"), _blocks({"python"}))
def test_python_snippets_compile(where: str, text: str) -> None:
    compile(text, where, "exec")
