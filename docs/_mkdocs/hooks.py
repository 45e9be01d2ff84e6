"""mkdocs hooks: the site is the repository's Markdown, docs/ at its root.

The README becomes the home page and the READMEs the docs link to (audits/, examples/,
singaudit/) become pages at their repository paths, so every page keeps the links that work on
GitHub: each relative link is resolved in the repository, then pointed at that file's page. A
link to something that is not a page (a folder, a script) becomes its text in code style.
"""

from __future__ import annotations

import posixpath
import re
from pathlib import Path

from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parents[2]
# Repository path -> the page's path in the site, for Markdown outside docs/.
EXTRA_PAGES = {
    "README.md": "index.md",
    "audits/README.md": "audits/README.md",
    "examples/custom_model/README.md": "examples/custom_model/README.md",
    "examples/model_ci/README.md": "examples/model_ci/README.md",
    "singaudit/calibration/README.md": "singaudit/calibration/README.md",
    "singaudit/reports/README.md": "singaudit/reports/README.md",
}
IMAGES = ("examples/report_first_screen_1280.png", "examples/report_first_screen_800.png")
LINK = re.compile(r"(?P<bang>!?)\[(?P<text>[^\]\n]*)\]\((?P<target>[^)\s]+)\)")
FENCE = re.compile(r"^([ \t]*)```.*?^\1```", re.DOTALL | re.MULTILINE)


def _site_path(repo_path: str) -> str | None:
    if repo_path.startswith("docs/"):
        return repo_path.removeprefix("docs/")
    return EXTRA_PAGES.get(repo_path) or (repo_path if repo_path in IMAGES else None)


def _repo_path(site_path: str) -> str:
    for repo, site in EXTRA_PAGES.items():
        if site == site_path:
            return repo
    return site_path if site_path in IMAGES else f"docs/{site_path}"


def on_files(files: Files, config) -> Files:
    for repo_path in (*EXTRA_PAGES, *IMAGES):
        files.append(File.generated(config, _site_path(repo_path),
                                    abs_src_path=str(ROOT / repo_path)))
    return files


def _rewrite(match: re.Match, page_repo: str, page_site: str) -> str:
    target = match["target"]
    if re.match(r"^[a-z][a-z0-9+.-]*:|^#", target):  # a URL or an anchor in the page
        return match[0]
    path, _, anchor = target.partition("#")
    repo_target = posixpath.normpath(posixpath.join(posixpath.dirname(page_repo), path))
    site_target = _site_path(repo_target)
    if site_target is None:  # not part of the site: keep the words, drop the link
        return match[0] if match["bang"] else f"`{match['text'].strip('`')}`"
    relative = posixpath.relpath(site_target, posixpath.dirname(page_site) or ".")
    return f"{match['bang']}[{match['text']}]({relative}{'#' + anchor if anchor else ''})"


def on_page_markdown(markdown: str, page, config, files) -> str:
    page_site = page.file.src_uri
    page_repo = _repo_path(page_site)
    parts, last = [], 0
    for fence in FENCE.finditer(markdown):  # links inside code blocks stay as written
        parts.append(LINK.sub(lambda m: _rewrite(m, page_repo, page_site),
                              markdown[last:fence.start()]))
        parts.append(fence[0])
        last = fence.end()
    parts.append(LINK.sub(lambda m: _rewrite(m, page_repo, page_site), markdown[last:]))
    return "".join(parts)
