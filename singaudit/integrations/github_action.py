"""The GitHub Action's steps that are more than a command line (``action.yml`` runs them):

``python -m singaudit.integrations.github_action summary OUT EXIT_CODE`` writes ``OUT/summary.md``
(the audit's report.md, the diff's diff.md, or why there is none) and appends it to
``$GITHUB_STEP_SUMMARY``; ``... comment FILE`` creates or updates one pull-request comment,
found again by a hidden marker, through the GitHub REST API (``GITHUB_API_URL``,
``GITHUB_REPOSITORY``, ``GITHUB_EVENT_PATH``, ``GITHUB_TOKEN``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path

MARKER = "<!-- singaudit-action -->"
MAX_COMMENT = 65_000  # GitHub refuses comments over 65,536 characters
EXIT_MEANING = {0: "as expected", 1: "a check failed or an expectation was not met",
                2: "interrupted", 3: "internal error", 4: "usage or spec error"}


REPORT_LINK = "REPORT_URL"  # the placeholder singaudit's Markdown leaves for the CI


def summary(out: Path, exit_code: int, report_url: str = "") -> str:
    """The Markdown the job shows: report.md (+ diff.md), or why the audit wrote none; the
    reports' link points at the uploaded artifact (without one, the link is left out)."""
    parts = []
    folders = [out, *sorted(p for p in out.iterdir() if p.is_dir())] if out.is_dir() else []
    for folder in folders:  # one audit in OUT, or one per spec in OUT/<name>/
        for name in ("report.md", "diff/diff.md"):
            path = folder / name
            if path.is_file():
                text = path.read_text(encoding="utf-8").strip()
                if report_url:
                    text = text.replace(f"({REPORT_LINK})", f"({report_url})")
                else:
                    text = "\n".join(line for line in text.splitlines()
                                     if f"({REPORT_LINK})" not in line).strip()
                parts.append(text)
    if not parts:
        parts.append(f"### singaudit\n\nNo report was written: singaudit exited {exit_code} "
                     f"({EXIT_MEANING.get(exit_code, 'unknown')}); the job log says why.")
    meaning = EXIT_MEANING.get(exit_code, "unknown")
    parts.append(f"<sub>singaudit exit code {exit_code}: {meaning}</sub>")
    return "\n\n".join(parts) + "\n"


def write_summary(out: Path, exit_code: int, report_url: str = "") -> Path:
    text = summary(out, exit_code, report_url)
    out.mkdir(parents=True, exist_ok=True)
    target = out / "summary.md"
    target.write_text(text, encoding="utf-8")
    step_summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if step_summary:
        with open(step_summary, "a", encoding="utf-8") as handle:
            handle.write(text)
    return target


def pull_request_number(event_path: str | None) -> int | None:
    """The pull request the workflow runs for, from the event payload (None: not one)."""
    if not event_path or not Path(event_path).is_file():
        return None
    event = json.loads(Path(event_path).read_text(encoding="utf-8"))
    pull = event.get("pull_request") or {}
    number = pull.get("number") or (event.get("issue") or {}).get("number")
    return int(number) if number else None


class GitHub:
    """The three REST calls a sticky comment needs."""

    def __init__(self, api: str, repository: str, token: str) -> None:
        self.api, self.repository, self.token = api.rstrip("/"), repository, token

    def _call(self, method: str, path: str, payload: dict | None = None):
        data = json.dumps(payload).encode() if payload is not None else None
        request = urllib.request.Request(f"{self.api}{path}", data=data, method=method, headers={
            "Authorization": f"Bearer {self.token}", "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28", "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read() or b"null")

    def find_comment(self, number: int, marker: str) -> int | None:
        page = 1
        while True:
            comments = self._call("GET", f"/repos/{self.repository}/issues/{number}/comments"
                                         f"?per_page=100&page={page}")
            for comment in comments:
                if marker in (comment.get("body") or ""):
                    return int(comment["id"])
            if len(comments) < 100:
                return None
            page += 1

    def upsert_comment(self, number: int, body: str, marker: str) -> tuple[str, int]:
        """("updated" or "created", comment id)."""
        existing = self.find_comment(number, marker)
        if existing is not None:
            self._call("PATCH", f"/repos/{self.repository}/issues/comments/{existing}",
                       {"body": body})
            return "updated", existing
        created = self._call("POST", f"/repos/{self.repository}/issues/{number}/comments",
                             {"body": body})
        return "created", int(created["id"])


def comment(body_file: Path, marker: str = MARKER) -> int:
    """Create or update the pull request's singaudit comment; 0 also when there is nothing to
    do or GitHub refuses (a fork's read-only token): a comment never fails the job."""
    number = pull_request_number(os.environ.get("GITHUB_EVENT_PATH"))
    if number is None:
        print("singaudit: not a pull request; no comment")
        return 0
    token, repository = os.environ.get("GITHUB_TOKEN"), os.environ.get("GITHUB_REPOSITORY")
    if not token or not repository:
        print("::warning::singaudit: GITHUB_TOKEN or GITHUB_REPOSITORY missing; no comment")
        return 0
    text = body_file.read_text(encoding="utf-8") if body_file.is_file() else "(no summary)"
    body = f"{marker}\n{text}"
    if len(body) > MAX_COMMENT:
        body = body[:MAX_COMMENT - 60] + "\n\n... (cut: the full summary is in the job summary)"
    github = GitHub(os.environ.get("GITHUB_API_URL", "https://api.github.com"), repository,
                    token)
    try:
        done, comment_id = github.upsert_comment(number, body, marker)
    except (urllib.error.URLError, OSError, ValueError, KeyError) as error:
        print(f"::warning::singaudit: could not comment on pull request #{number}: {error}")
        return 0
    print(f"singaudit: {done} comment {comment_id} on pull request #{number}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m singaudit.integrations.github_action")
    commands = parser.add_subparsers(dest="command", required=True)
    summary_parser = commands.add_parser("summary", help="write OUT/summary.md and the job "
                                                         "summary")
    summary_parser.add_argument("out", type=Path)
    summary_parser.add_argument("exit_code", type=str)
    summary_parser.add_argument("--report-url", default="")
    comment_parser = commands.add_parser("comment", help="create or update the PR comment")
    comment_parser.add_argument("body", type=Path)
    comment_parser.add_argument("--marker", default=MARKER)
    args = parser.parse_args(argv)
    if args.command == "summary":
        code = int(args.exit_code) if args.exit_code.strip().isdigit() else 3
        print(f"singaudit: summary in {write_summary(args.out, code, args.report_url)}")
        return 0
    return comment(args.body, args.marker)


if __name__ == "__main__":
    sys.exit(main())
