"""Every command and snippet in the docs is checked, and run where it can run here.

Fenced blocks are extracted from the Markdown (README.md, audits/**/README.md, docs/*.md,
examples/*/README.md, singaudit/**/README.md), and so are the example commands of the exit-code
table in audits/README.md and whole `singaudit ...` commands in running text (every argument
given, no placeholder). Every `singaudit ...` line is parsed by the real command line. Then
each block's commands run in order, offline, in a fresh copy of the folders the docs refer to
(audits, examples, scripts, docs, README.md, Makefile; `/tmp/...` paths mapped into the test's
own folder), sharing the session's cache, and must end with the exit code the docs give: 0 in
a block, the table's code in the exit-code table. A command that cannot run here is listed in
NOT_RUN_HERE with the reason, a slow one in SLOW; an entry that no doc holds any more fails.
YAML blocks load and audit specs among them pass the schema; Python blocks compile, and run
unless PYTHON_NOT_RUN says why not.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from itertools import takewhile
from pathlib import Path

import pytest
import typer
import yaml
from typer._click import exceptions as click_exceptions  # the click typer is built on

from singaudit.cli.main import app, run_cli

ROOT = Path(__file__).parents[1]
DOCS = sorted([ROOT / "README.md", *ROOT.glob("audits/**/README.md"), *ROOT.glob("docs/*.md"),
               *ROOT.glob("examples/*/README.md"), *ROOT.glob("singaudit/**/README.md")])
# A fence may be indented (inside a list item); its closing fence has the same indent.
FENCE = re.compile(r"^(?P<indent>[ \t]*)```(?P<language>[\w-]*)[ \t]*\n(?P<body>.*?)^(?P=indent)```",
                   re.DOTALL | re.MULTILINE)
SHELL = {"bash", "sh", "console", "shell"}
# Programs a docs shell block may call besides singaudit.
OTHER_PROGRAMS = {"make", "pytest", "pip", "cd", "python", "git", "ray", "export", "cp"}
# What a docs run may read: the folders and files the documented commands name.
CHECKOUT = ("audits", "examples", "scripts", "docs", "tests", "README.md", "Makefile")

# Exact command text (as `Command.text` writes it) -> why it does not run on this offline,
# CPU-only machine. Everything else the docs show is executed.
NOT_RUN_HERE = {
    "make test": "the default test suite, which this test is part of",
    "singaudit run audits/resnet50.yaml --data /datasets/imagenet/val --device cuda":
        "timm and open_clip weights from the hub, an ImageNet folder and a GPU",
    "singaudit run audits/resnet50.yaml --data /datasets/imagenet/val --device cuda --set "
    "checks.class_semantics.thresholds='[{metric: leak, statistic: median, fail: 3}]' "
    "--set models.0.expect=none":
        "timm and open_clip weights from the hub, an ImageNet folder and a GPU",
    "singaudit explain photo.jpg --model timm:resnet50.a1_in1k --joint open_clip:ViT-L-14@openai "
    "--fit-data folder:/datasets/imagenet/val --fit-images-per-class 20":
        "timm and open_clip weights from the hub and an ImageNet folder",
    "singaudit report reports/resnet50/results.json":
        "the results of the resnet50 audit, which needs the hub",
    "ray start --head --port=6379": "starts a Ray cluster head (tests/runner/test_ray_demo.py "
                                    "runs the demo on a local Ray cluster)",
    "ray start --address=HEAD_IP:6379": "joins a Ray cluster at a real address",
    "singaudit run audits/demo.yaml --engine ray --ray-address HEAD_IP:6379":
        "a Ray cluster at a real address (tests/runner/test_ray_demo.py runs the demo on a "
        "local one)",
    "pip install ../..": "installs singaudit into the environment running these tests",
    "singaudit zoo train calibration": "retrains the calibration world (about 10 CPU-minutes) "
                                       "into the shipped weights folder",
    "singaudit baseline accept reports/demo/results.json":
        "the demo's output, which `make demo` writes (the model_ci block accepts its own run)",
    "singaudit cache clear": "asks for confirmation, then empties the cache these tests share "
                             "(audits/README.md's `cache clear --yes --cache-dir` block runs)",
    "singaudit run audits/demo.yaml  # exit 2":
        "an interruption (Ctrl-C during the run; tests/cli/test_cli.py interrupts a real run)",
}
# Exact command text -> why its block is marked slow (over ~20 s on the 2-core machine).
SLOW = {
    "make demo": "the whole demo audit (5 models x 8 checks, translators fitted, HTML + PDF)",
    "singaudit run audits/demo.yaml  # exit 0": "the whole demo audit, as `make demo`",
    "singaudit run audits/demo.yaml --set models.1.expect=pass  # exit 1":
        "the whole demo audit, as `make demo`",
    "singaudit run audits/demo.yaml --out /tmp/demo --cache-dir /tmp/cache-a":
        "the whole demo audit twice, each with an empty cache",
    "pytest --singaudit-report=reports":
        "two pytest runs of the model_ci project (its audit, reports, a baseline), 43 s",
}
# A Python block's key: its first line that is not blank, a comment or an import.
PYTHON_NOT_RUN: dict[str, str] = {}
PYTHON_SLOW = {
    'spec = singaudit.load_spec("audits/demo.yaml")': "the whole demo audit, as `make demo`",
    "def test_no_class_leak(singaudit):": "a pytest run of the model_ci project's audit, 17 s",
}


@dataclass(frozen=True)
class Command:
    text: str  # as written: continuations joined, comment and prompt removed
    argv: tuple[str, ...]
    exit_code: int = 0


@dataclass(frozen=True)
class Block:
    where: str  # file:line
    language: str
    text: str

    @property
    def commands(self) -> list[Command]:
        if self.language not in SHELL | {""}:
            return []
        found = []
        logical = re.sub(r"\\\n\s*", " ", self.text)  # continuation lines
        for line in logical.splitlines():
            line = line.split(" #", 1)[0].strip().removeprefix("$ ")
            if not line or line.startswith("#"):
                continue
            if not self.language and shlex.split(line)[0] != "singaudit":
                continue  # an untagged block shows output beside its commands
            for part in line.split(" && "):
                found.append(Command(" ".join(part.split()), tuple(shlex.split(part))))
        return found


def _all_blocks() -> list[Block]:
    found = []
    for path in DOCS:
        text = path.read_text(encoding="utf-8")
        for match in FENCE.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            body = textwrap.dedent(match.group("body"))
            found.append(Block(f"{path.relative_to(ROOT)}:{line}", match.group("language"), body))
    return found


def _blocks(language: set[str]) -> list[tuple[str, str]]:
    return [(b.where, b.text) for b in BLOCKS if b.language in language]


def _exit_code_examples() -> list[tuple[str, list[Command]]]:
    """audits/README.md's exit-code table: `singaudit ...` examples, `--option` ones continuing
    the row's previous command, each expected to end with its row's code."""
    readme = ROOT / "audits" / "README.md"
    text = readme.read_text(encoding="utf-8")
    section = text.split("## Exit codes", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if not cells[0].isdigit():
            continue
        code, base, commands = int(cells[0]), None, []
        for span in re.findall(r"`([^`]+)`", cells[-1]):
            if span.startswith("singaudit "):
                argv = shlex.split(span)
                base = list(takewhile(lambda a: not a.startswith("-"), argv))
            elif span.startswith("--") and base:
                argv = [*base, *shlex.split(span)]
            else:
                continue
            commands.append(Command(f"{' '.join(argv)}  # exit {code}", tuple(argv), code))
        if commands:
            rows.append((f"{readme.relative_to(ROOT)}: exit {code}", commands))
    return rows


BLOCKS = _all_blocks()
COMMANDS = [(b.where, list(c.argv)) for b in BLOCKS for c in b.commands]


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


# A word standing for a value (SPEC, BASE.json, <name>, [PATTERN]): a pattern, not a command.
PLACEHOLDER = re.compile(r"^[A-Z][A-Z0-9_]*(\.\w+)?$|[<>]|^\[.*\]$")


def _inline_commands() -> list[tuple[str, list[Command]]]:
    """`singaudit ...` in running text that is a whole command: it parses, with every argument
    given and none a placeholder (`singaudit run` or `singaudit validate SPEC` only name one).
    The exit-code table is read by _exit_code_examples."""
    found = []
    for path in DOCS:
        text = FENCE.sub("", path.read_text(encoding="utf-8"))
        if path == ROOT / "audits" / "README.md":
            before, _, rest = text.partition("## Exit codes")
            text = before + "\n## ".join(rest.split("\n## ")[1:])
        commands = []
        for span in dict.fromkeys(re.findall(r"`(singaudit [^`\n]+)`", text)):
            argv = shlex.split(span)
            if any(PLACEHOLDER.search(a) for a in argv):
                continue
            try:
                _parse(argv[1:])
            except typer.Exit:
                pass  # --help, --version: whole commands
            except click_exceptions.ClickException:
                continue  # a command's name or a fragment of one
            commands.append(Command(" ".join(argv), tuple(argv)))
        if commands:
            found.append((f"{path.relative_to(ROOT)}: in the text", commands))
    return found


RUNS = ([(b.where, b.commands) for b in BLOCKS if b.commands] + _exit_code_examples()
        + _inline_commands())


def _python_key(text: str) -> str:
    return next(line for line in text.splitlines() if line.strip() and not line.startswith(
        ("#", "import ", "from ")))


def test_the_docs_have_commands_and_snippets() -> None:
    assert len([c for c in COMMANDS if c[1][0] == "singaudit"]) >= 8
    assert _blocks({"yaml"}) and _blocks({"python"})
    assert any(b.where.startswith("docs/CONTRIBUTING.md") and b.commands for b in BLOCKS), \
        "an indented fence (in a list item) is extracted"
    assert {c.exit_code for _, commands in _exit_code_examples() for c in commands} >= {0, 1, 4}
    # The parser is not vacuous: an unknown option or command is refused.
    for wrong in (["run", "audits/demo.yaml", "--bogus"], ["frobnicate"],
                  ["translator", "fit", "spec.yaml"]):  # --out is required
        with pytest.raises(click_exceptions.ClickException):
            _parse(wrong)


def test_every_listed_exception_is_still_in_the_docs() -> None:
    """A stale entry fails: the lists say why a command the docs show is not run (or is slow)."""
    shown = {c.text for _, commands in RUNS for c in commands}
    assert not (set(NOT_RUN_HERE) | set(SLOW)) - shown
    snippets = {_python_key(text) for _, text in _blocks({"python"})}
    assert not (set(PYTHON_NOT_RUN) | set(PYTHON_SLOW)) - snippets


@pytest.mark.parametrize(("where", "argv"), COMMANDS,
                         ids=[" ".join(argv)[:60] for _, argv in COMMANDS])
def test_every_documented_command_parses(where: str, argv: list[str]) -> None:
    program, *arguments = argv
    if program != "singaudit":
        assert program in OTHER_PROGRAMS, f"{where}: unknown program {program!r}"
        return
    try:
        _parse(arguments)
    except typer.Exit:
        pass  # --help, --version
    except click_exceptions.ClickException as error:
        pytest.fail(f"{where}: `{' '.join(argv)}`: {error.format_message()}")


def _checkout(folder: Path) -> Path:
    """A fresh copy of what the documented commands read, without earlier outputs."""
    ignore = shutil.ignore_patterns("reports", "baselines", "__pycache__", ".pytest_cache")
    for name in CHECKOUT:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, folder / name, ignore=ignore)
        else:
            shutil.copy2(source, folder / name)
    return folder


class DocsShell:
    """Runs documented commands one after another as a shell would: `cd` and `export` persist,
    `singaudit` is the real CLI in this process, other programs are subprocesses."""

    def __init__(self, root: Path, scratch: Path, monkeypatch: pytest.MonkeyPatch,
                 capsys: pytest.CaptureFixture) -> None:
        self.cwd, self.scratch = root, scratch
        self.monkeypatch, self.capsys = monkeypatch, capsys

    def _argument(self, value: str) -> str:
        # The docs' scratch paths land in this test's folder: a test writes nowhere else.
        return re.sub(r"(?<![\w.])/tmp/", f"{self.scratch}/", value)

    def run(self, argv: list[str]) -> tuple[int, str]:
        program, *arguments = argv
        arguments = [self._argument(a) for a in arguments]
        if program == "cd":
            self.cwd = (self.cwd / arguments[0]).resolve()
            return 0, ""
        if program == "export":
            name, _, value = arguments[0].partition("=")
            self.monkeypatch.setenv(name, value)
            return 0, ""
        if program == "make":
            return self._make(arguments)
        if program == "singaudit":
            self.monkeypatch.chdir(self.cwd)
            self.capsys.readouterr()
            code = run_cli(arguments)
            captured = self.capsys.readouterr()
            return code, captured.out + captured.err
        launch = {"python": [sys.executable], "pytest": [sys.executable, "-m", "pytest"]}
        command = [*launch.get(program, [shutil.which(program) or program]), *arguments]
        done = subprocess.run(command, cwd=self.cwd, env=dict(os.environ), capture_output=True,
                              text=True, timeout=600, check=False)
        return done.returncode, done.stdout + done.stderr

    def _make(self, targets: list[str]) -> tuple[int, str]:
        """A Makefile target's recipe, with the venv's programs taken from this environment."""
        makefile = (self.cwd / "Makefile").read_text(encoding="utf-8")
        for target in targets:
            recipe = re.search(rf"^{re.escape(target)}:.*\n((?:\t.*\n)+)", makefile, re.MULTILINE)
            assert recipe, f"Makefile has no target {target!r}"
            for line in recipe.group(1).splitlines():
                argv = shlex.split(re.sub(r"\$\(VENV\)/bin/", "", line.strip()))
                assert argv[0] == "singaudit", f"make {target} runs {argv[0]}: teach this test"
                code, output = self.run(argv)
                if code:
                    return code, output
        return 0, ""


def _run_params():
    for where, commands in RUNS:
        slow = [SLOW[c.text] for c in commands if c.text in SLOW]
        marks = [pytest.mark.slow] if slow else []
        yield pytest.param(where, commands, marks=marks, id=where)


@pytest.mark.parametrize(("where", "commands"), list(_run_params()))
def test_every_documented_command_runs(where: str, commands: list[Command], tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    """Each block's commands in order, in a fresh copy; each must exit as the docs say."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    shell = DocsShell(_checkout(tmp_path / "checkout"), scratch, monkeypatch, capsys)
    ran = []
    for command in commands:
        if command.text in NOT_RUN_HERE:
            continue
        code, output = shell.run(list(command.argv))
        assert code == command.exit_code, (
            f"{where}: `{command.text}` exited {code}, the docs say {command.exit_code}:\n"
            f"{output[-3000:]}")
        ran.append(command.text)
    if not ran:
        pytest.skip("; ".join(f"{c.text}: {NOT_RUN_HERE[c.text]}" for c in commands))


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


def _python_params():
    for where, text in _blocks({"python"}):
        key = _python_key(text)
        marks = [pytest.mark.slow] if key in PYTHON_SLOW else []
        if key in PYTHON_NOT_RUN:
            marks.append(pytest.mark.skip(reason=PYTHON_NOT_RUN[key]))
        yield pytest.param(where, text, marks=marks, id=where)


@pytest.mark.parametrize(("where", "text"), list(_python_params()))
def test_python_snippets_run(where: str, text: str, tmp_path: Path,
                             monkeypatch: pytest.MonkeyPatch) -> None:
    """A snippet runs in a fresh copy. Two name what they need from elsewhere: the factory uses
    the worked example's ShapesNet and to_tensor, the pytest test is a test of the model_ci
    example project (run there by pytest)."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    checkout = _checkout(tmp_path / "checkout")
    key = _python_key(text)
    if key.startswith("def build("):
        _run_factory_snippet(text, checkout / "examples" / "custom_model", monkeypatch)
    elif key.startswith("def test_"):
        project = checkout / "examples" / "model_ci"
        (project / "tests" / "test_docs_snippet.py").write_text(text, encoding="utf-8")
        done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                               "tests/test_docs_snippet.py"], cwd=project, env=dict(os.environ),
                              capture_output=True, text=True, timeout=600, check=False)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        assert "1 passed" in done.stdout
    else:
        monkeypatch.chdir(checkout)
        exec(compile(text, where, "exec"), {"__name__": "docs_snippet"})  # noqa: S102


def _run_factory_snippet(text: str, example: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The README's factory, with the example's model and transform, loads as `python:`."""
    from singaudit.adapters.classifiers.python_source import load

    (example / "readme_factory.py").write_text(
        "from shapes_net import ShapesNet, to_tensor\n" + text, encoding="utf-8")
    monkeypatch.chdir(example)
    for name in ("readme_factory", "shapes_net"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    classifier = load("readme_factory:build")
    assert classifier.info.class_names == ["circle", "square", "triangle", "star", "cross",
                                           "heart"]
    assert classifier.preprocessing.describe == "64px,[-1,1]"
    for name in ("readme_factory", "shapes_net"):
        monkeypatch.delitem(sys.modules, name, raising=False)


# The documentation site (mkdocs.yml): `make docs` builds it; every page is in its navigation.
MKDOCS = ROOT / "mkdocs.yml"


def _site_hooks():
    import importlib.util

    spec = importlib.util.spec_from_file_location("docs_site_hooks",
                                                  ROOT / "docs" / "_mkdocs" / "hooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _nav_pages(nav) -> list[str]:
    pages = []
    for entry in nav:
        for value in (entry.values() if isinstance(entry, dict) else [entry]):
            pages += _nav_pages(value) if isinstance(value, list) else [value]
    return pages


def test_every_docs_page_is_in_the_site_navigation() -> None:
    config = yaml.safe_load(MKDOCS.read_text(encoding="utf-8"))
    hooks = _site_hooks()
    pages = _nav_pages(config["nav"])
    sources = {page: ROOT / hooks._repo_path(page) for page in pages}
    assert not [page for page, source in sources.items() if not source.is_file()]
    assert {p.name for p in (ROOT / "docs").glob("*.md")} <= set(pages)
    assert set(hooks.EXTRA_PAGES.values()) <= set(pages)


def test_site_links_are_the_repository_links_resolved() -> None:
    hooks = _site_hooks()

    def rewrite(markdown: str, page_site: str) -> str:
        page = type("Page", (), {"file": type("File", (), {"src_uri": page_site})})
        return hooks.on_page_markdown(markdown, page, None, None)

    assert rewrite("[m](docs/method.md#why)", "index.md") == "[m](method.md#why)"
    assert rewrite("[a](../audits/README.md#keys)", "guide.md") == "[a](audits/README.md#keys)"
    assert rewrite("[h](../README.md)", "guide.md") == "[h](index.md)"
    assert rewrite("[c](../../docs/CONTRIBUTING.md)", "examples/model_ci/README.md") == \
        "[c](../../CONTRIBUTING.md)"
    assert rewrite("see [examples/model_ci](examples/model_ci)", "index.md") == \
        "see `examples/model_ci`"  # a folder is not a page: its name stays, unlinked
    assert rewrite("[x](https://ray.io) [y](#here)", "index.md") == "[x](https://ray.io) [y](#here)"
    assert rewrite("```\n[m](docs/method.md)\n```\n", "index.md") == "```\n[m](docs/method.md)\n```\n"


def test_make_docs_builds_the_site_offline(tmp_path: Path) -> None:
    """The Makefile's recipe, into a scratch folder; --strict turns a broken link into a
    failure."""
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    recipe = re.search(r"^docs:.*\n\t(.*)\n", makefile, re.MULTILINE)
    assert recipe and "mkdocs build --strict" in recipe.group(1)
    line = recipe.group(1).replace("$(VENV)/bin/", f"{Path(sys.executable).parent}/")
    line = line.replace("--site-dir site", f"--site-dir {shlex.quote(str(tmp_path / 'site'))}")
    done = subprocess.run(["bash", "-c", line], cwd=ROOT, capture_output=True, text=True,
                          timeout=300, check=False, env={**os.environ, "NO_COLOR": "1"})
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    home = (tmp_path / "site" / "index.html").read_text(encoding="utf-8")
    assert "make demo" in home and 'href="method/' in home
    assert (tmp_path / "site" / "examples" / "report_first_screen_1280.png").is_file()


def _benchmark_tables():
    import importlib.util

    spec = importlib.util.spec_from_file_location("benchmark_tables",
                                                  ROOT / "benchmarks" / "_tables.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_benchmarks_write_their_own_dated_section(tmp_path: Path) -> None:
    import datetime

    tables = _benchmark_tables()
    document = ("# Figures\n\n<!-- benchmarks/a.py -->\nold a\n<!-- /benchmarks/a.py -->\n\n"
                "<!-- benchmarks/b.py -->\nold b\n<!-- /benchmarks/b.py -->\n")
    table = tables.markdown_table(["what", "wall s"], [["x", "1.50"], ["y", "2.25"]])
    assert table.splitlines()[1] == "| --- | ---: |"
    body = tables.section("benchmarks/a.py", table, "a note", argv=["--n", "4", "--write-docs"],
                          today=datetime.date(2026, 12, 5))
    updated = tables.replace_section(document, "benchmarks/a.py", body)
    assert "old a" not in updated and "old b" in updated  # only its own section
    assert "Measured 2026-12-05 with `python benchmarks/a.py --n 4`" in updated
    assert "| y | 2.25 |" in updated and "a note" in updated
    assert tables.replace_section(updated, "benchmarks/a.py", body) == updated
    with pytest.raises(SystemExit, match="no section for benchmarks/c.py"):
        tables.replace_section(document, "benchmarks/c.py", body)
    docs = tmp_path / "benchmarks.md"
    docs.write_text(document, encoding="utf-8")
    tables.write_docs("benchmarks/b.py", table, docs=docs)
    assert "old b" not in docs.read_text(encoding="utf-8")
    # Every script that writes the docs has its section there.
    shipped = (ROOT / "docs" / "benchmarks.md").read_text(encoding="utf-8")
    writers = [p for p in (ROOT / "benchmarks").glob("*.py")
               if "write_docs(" in p.read_text(encoding="utf-8") and p.name != "_tables.py"]
    assert len(writers) >= 6
    for script in writers:
        assert f"<!-- benchmarks/{script.name} -->" in shipped, script.name
        assert f"<!-- /benchmarks/{script.name} -->" in shipped, script.name
