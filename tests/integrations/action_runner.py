"""Runs action.yml's steps here as GitHub's runner would: each ``run`` step in
``bash --noprofile --norc -eo pipefail``, its ``${{ }}`` expressions evaluated from the inputs,
the github context and earlier steps' outputs, the GITHUB_* files pointing at temporary files.
``uses`` steps (setup-python, upload-artifact) are recorded, not run."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
ACTION = ROOT / "action.yml"
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


@dataclass
class ActionRun:
    codes: dict[str, int] = field(default_factory=dict)  # step name -> exit code
    used: list[dict] = field(default_factory=list)  # the uses: steps with their evaluated with:
    outputs: dict[str, dict[str, str]] = field(default_factory=dict)
    logs: dict[str, str] = field(default_factory=dict)

    @property
    def failed(self) -> bool:
        return any(code != 0 for code in self.codes.values())


def load_action() -> dict:
    return yaml.safe_load(ACTION.read_text())


def _value(expr: str, context: dict) -> str:
    scope, _, rest = expr.partition(".")
    if scope == "inputs":
        return context["inputs"][rest]
    if scope == "github":
        return context["github"][rest]
    if scope == "steps":
        step, _, output = rest.partition(".outputs.")
        return context["outputs"].get(step, {}).get(output, "")
    raise ValueError(f"expression not handled by the local runner: {expr}")


def substitute(text: str, context: dict) -> str:
    return EXPRESSION.sub(lambda m: str(_value(m.group(1), context)), str(text))


def condition(expr: str | None, context: dict, failed: bool) -> bool:
    """A step's ``if:`` (the operators action.yml uses); without one, success() applies."""
    if expr is None:
        return not failed
    python = EXPRESSION.sub(lambda m: m.group(1), expr)
    python = python.replace("always()", "True").replace("&&", " and ").replace("||", " or ")
    python = re.sub(r"\b(inputs|github)\.([A-Za-z_][\w-]*)",
                    lambda m: repr(context[m.group(1)][m.group(2)]), python)
    return bool(eval(python, {"__builtins__": {}}, {"True": True}))


def run_action(inputs: dict[str, str], folder: Path, *, event: Path, env: dict[str, str],
               skip: tuple[str, ...] = ("Install singaudit",)) -> ActionRun:
    action = load_action()
    given = {name: spec.get("default", "") for name, spec in action["inputs"].items()}
    unknown = set(inputs) - set(given)
    assert not unknown, f"not inputs of action.yml: {unknown}"
    given.update(inputs)
    context = {"inputs": given, "outputs": {}, "github": {
        "action_path": str(ROOT), "token": "test-token", "event_name": env["GITHUB_EVENT_NAME"]}}
    given["github-token"] = substitute(given["github-token"], context)
    result = ActionRun()
    summary = folder / "step_summary.md"
    bindir = str(Path(sys.executable).parent)
    for index, step in enumerate(action["runs"]["steps"]):
        name = step.get("name", f"step {index}")
        if not condition(step.get("if"), context, result.failed):
            continue
        if "uses" in step:
            result.used.append({"uses": step["uses"], "with": {
                k: substitute(v, context) for k, v in (step.get("with") or {}).items()}})
            continue
        if name in skip:
            continue
        assert step["shell"] == "bash"
        output = folder / f"output-{index}"
        output.write_text("")
        script = folder / f"step-{index}.sh"
        script.write_text(step["run"])
        step_env = {**os.environ, **env, "PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}",
                    "GITHUB_OUTPUT": str(output), "GITHUB_STEP_SUMMARY": str(summary),
                    "GITHUB_EVENT_PATH": str(event),
                    **{k: substitute(v, context) for k, v in (step.get("env") or {}).items()}}
        done = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
                              cwd=folder, env=step_env, capture_output=True, text=True,
                              timeout=600, check=False)
        result.codes[name] = done.returncode
        result.logs[name] = done.stdout + done.stderr
        if step.get("id"):
            pairs = [line.split("=", 1) for line in output.read_text().splitlines() if "=" in line]
            context["outputs"][step["id"]] = dict(pairs)
    result.outputs = context["outputs"]
    return result
