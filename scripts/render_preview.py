"""Look at a report as a person would: screenshot report.html with headless Chromium and rasterise
report.pdf with pdftoppm (Debian: `apt-get install -y chromium poppler-utils`).

    python scripts/render_preview.py reports/demo/report.html --out /tmp/preview
    python scripts/render_preview.py reports/demo/report.pdf --out /tmp/preview --first-page-only

Writes <out>/html.png (1280 px wide) and <out>/pdf-<page>.png; prints the paths.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--hide-scrollbars",
]


def _tool(name: str, package: str) -> str:
    path = shutil.which(name)
    if path is None:
        sys.exit(f"{name} is not installed: apt-get install -y {package}")
    return path


def screenshot_html(html: Path, out: Path, width: int, height: int) -> Path:
    target = out / "html.png"
    with tempfile.TemporaryDirectory(prefix="singaudit-chromium-") as profile:
        subprocess.run(
            [_tool("chromium", "chromium"), *CHROMIUM_FLAGS, f"--user-data-dir={profile}",
             f"--screenshot={target}", f"--window-size={width},{height}",
             html.resolve().as_uri()],
            check=True, capture_output=True, timeout=120,
        )
    return target


def rasterise_pdf(pdf: Path, out: Path, dpi: int, first_page_only: bool) -> list[Path]:
    command = [_tool("pdftoppm", "poppler-utils"), "-png", "-r", str(dpi)]
    if first_page_only:
        command += ["-f", "1", "-l", "1"]
    subprocess.run([*command, str(pdf), str(out / "pdf")], check=True, timeout=300)
    return sorted(out.glob("pdf-*.png"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("reports", nargs="+", type=Path, help="report.html and/or report.pdf")
    parser.add_argument("--out", type=Path, default=Path("preview"))
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=2000)
    parser.add_argument("--dpi", type=int, default=60)
    parser.add_argument("--first-page-only", action="store_true")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for report in args.reports:
        if not report.is_file():
            sys.exit(f"no such report: {report}")
        if report.suffix == ".pdf":
            paths = rasterise_pdf(report, args.out, args.dpi, args.first_page_only)
        else:
            paths = [screenshot_html(report, args.out, args.width, args.height)]
        for path in paths:
            print(path)


if __name__ == "__main__":
    main()
