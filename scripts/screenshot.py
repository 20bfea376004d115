#!/usr/bin/env python3
"""Make docs/report.png: the HTML report of ``sample_logs`` as headless Chromium shows it, charts drawn.

Usage: python scripts/screenshot.py [--logs sample_logs] [--out docs/report.png] [--window 1280,1500]

Runs the analysis in-process (``src`` on the path), writes the page to a temporary file, and lets
Debian's Chromium (/usr/bin/chromium) run the page's scripts for a few seconds of virtual time before
it takes the screenshot; ``?charts=all`` makes the page draw every chart at once instead of waiting
for each to scroll into view. Exit status 0 on success, 2 when Chromium is missing.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run", "--disable-extensions",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--mute-audio",
         "--force-device-scale-factor=1", "--virtual-time-budget=4000"]  # fmt: skip


def render_page(logs: Path, out_html: Path) -> int:
    """Analyze ``logs`` and write the HTML report to ``out_html``; the number of runs."""
    from trainlog_doctor.api import analyze
    from trainlog_doctor.report.html import render_html

    os.chdir(REPO)  # paths on the page read relative to the repository, as in the README
    report = analyze(os.path.relpath(logs.resolve(), REPO))
    out_html.write_text(render_html(report, title="trainlog-doctor report: sample_logs"), encoding="utf-8")
    return len(report.runs)


def screenshot(html: Path, png: Path, window: str) -> None:
    """Screenshot ``html`` into ``png`` with headless Chromium (scripts on, nothing fetched)."""
    with tempfile.TemporaryDirectory(prefix="tld-shot-") as profile:
        cmd = [str(CHROMIUM), *FLAGS, f"--user-data-dir={profile}", f"--window-size={window}",
               f"--screenshot={png}", html.resolve().as_uri() + "?charts=all"]  # fmt: skip
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    if proc.returncode != 0 or not png.exists():
        tail = proc.stderr.strip().splitlines()[-1:] if proc.stderr else []
        raise RuntimeError(f"chromium exited with {proc.returncode}: {' '.join(tail)}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--logs", type=Path, default=REPO / "sample_logs")
    ap.add_argument("--out", type=Path, default=REPO / "docs" / "report.png")
    ap.add_argument("--window", default="1280,1500", help="width,height in CSS pixels")
    args = ap.parse_args(argv)
    if not CHROMIUM.exists():
        print(f"screenshot: {CHROMIUM} not found (apt-get install chromium)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="tld-report-") as tmp:
        html = Path(tmp) / "report.html"
        n = render_page(args.logs, html)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        screenshot(html, args.out, args.window)
    print(f"wrote {args.out} ({n} runs, window {args.window})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
