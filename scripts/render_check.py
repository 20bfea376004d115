#!/usr/bin/env python3
"""Render an HTML report, screenshot it with headless Chromium and check it stays offline and inert.

Usage: python scripts/render_check.py [--html FILE] [--out report.png] [--window 1400,3000] [--net-log]

Without --html it runs ``trainlog-doctor analyze sample_logs --output /tmp/report.html`` when
``sample_logs/LABELS.json`` exists, else renders a built demo report (with hostile run and tag names).
Checks: no network reference in the HTML (http(s)://, protocol-relative src/href/url(), @import),
a non-blank screenshot, injected markup did not run (document.title unchanged, the text is in the
DOM as text) and, with --net-log, that Chromium attempted no request other than file:// and data:.
Exit status 0 when every check passes, 1 otherwise, 2 when Chromium is missing.
"""

from __future__ import annotations

import argparse
import json
import re
import struct
import subprocess
import sys
import tempfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-default-apps", "--disable-extensions", "--mute-audio", "--hide-scrollbars",
]  # fmt: skip
INJECTED = "<script>document.title='pwned'</script>"
INJECTED_IMG = "<img src=x onerror=\"document.title='pwned-img'\">"
DEMO_TITLE = "render check"

# References that would make a browser fetch something: attributes, CSS url()/@import, srcset, meta refresh.
_NET_PATTERNS = [
    re.compile(r"""\b(?:src|href|action|formaction|poster|data|background|xlink:href|srcset|ping|manifest)"""
               r"""\s*=\s*["']?\s*(?:[a-z][a-z0-9+.-]*:)?//""", re.I),
    re.compile(r"""url\(\s*["']?\s*(?:https?:|ftp:|wss?:)?//""", re.I),
    re.compile(r"""@import\b""", re.I),
    re.compile(r"""http-equiv\s*=\s*["']?refresh""", re.I),
]  # fmt: skip
_BARE_URL = re.compile(r"(?:https?|ftp|wss?)://", re.I)


@dataclass
class CheckResult:
    """Outcome of one render check."""

    html_path: Path
    png_path: Path | None = None
    failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures


def network_references(html: str) -> list[str]:
    """Snippets of ``html`` that would make a browser request something over the network."""
    hits = []
    for pat in _NET_PATTERNS:
        for m in pat.finditer(html):
            hits.append(html[max(0, m.start() - 30) : m.end() + 30])
    return hits


def bare_urls(html: str) -> int:
    """How many http(s):// strings appear anywhere (escaped log text may legitimately contain some)."""
    return len(_BARE_URL.findall(html))


def png_size(path: Path) -> tuple[int, int]:
    """(width, height) from a PNG header."""
    with open(path, "rb") as fh:
        head = fh.read(24)
    if head[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError(f"{path} is not a PNG file")
    return struct.unpack(">II", head[16:24])


def png_distinct_bytes(path: Path, limit: int = 4_000_000) -> int:
    """Distinct byte values in the decompressed pixel stream (about 2 for a blank page)."""
    data = Path(path).read_bytes()
    pos, idat = 8, bytearray()
    while pos + 8 <= len(data):
        length, ctype = struct.unpack(">I4s", data[pos : pos + 8])
        if ctype == b"IDAT":
            idat += data[pos + 8 : pos + 8 + length]
        pos += 12 + length
    raw = zlib.decompressobj().decompress(bytes(idat), limit)
    return len(set(raw))


def run_chromium(html_path: Path, png_path: Path, *, window: str = "1400,3000", net_log: Path | None = None,
                 timeout: float = 120.0) -> str:
    """Screenshot ``html_path`` into ``png_path`` and return the DOM after scripts ran (``--dump-dom``)."""
    with tempfile.TemporaryDirectory(prefix="tld-chromium-") as profile:
        cmd = [CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--screenshot={png_path}",
               f"--window-size={window}", "--dump-dom"]  # fmt: skip
        if net_log is not None:
            cmd += [f"--log-net-log={net_log}", "--net-log-capture-mode=Everything"]
        cmd.append(Path(html_path).resolve().as_uri())
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    if proc.returncode != 0 and not proc.stdout:
        tail = proc.stderr.strip().splitlines()[-1:] if proc.stderr else []
        raise RuntimeError(f"chromium exited with {proc.returncode}: {' '.join(tail)}")
    return proc.stdout


def net_log_urls(path: Path) -> list[str]:
    """Network URLs the page asked for, from Chromium's net log.

    Chromium's own background traffic (component updater, time sync, account checks) carries the
    initiator ``not an origin``; requests made by a page carry the page's origin (``null`` for file://).
    file:, data:, blob: and about: URLs are not network requests.
    """
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace").rstrip().rstrip(",")
    except OSError:
        return ["<no net log written>"]
    try:
        log = json.loads(text)
    except ValueError:
        try:  # a net log cut short by the browser exiting: close the events list
            log = json.loads(text + "]}")
        except ValueError:
            return ["<unreadable net log>"]
    types = {v: k for k, v in log.get("constants", {}).get("logEventTypes", {}).items()}
    local = ("file:", "data:", "about:", "blob:", "chrome:", "chrome-", "devtools:")
    urls = set()
    for ev in log.get("events", []):
        if types.get(ev.get("type")) != "URL_REQUEST_START_JOB":
            continue
        params = ev.get("params", {})
        url = str(params.get("url", ""))
        if not url or params.get("initiator") == "not an origin" or url.startswith(local):
            continue
        urls.add(url)
    return sorted(urls)


def dom_title(dom: str) -> str | None:
    m = re.search(r"<title>(.*?)</title>", dom, re.S)
    return m.group(1) if m else None


def build_demo_report():  # type: ignore[no-untyped-def]
    """A realistic report with hostile names: a divergence, an overfit, a slowdown, an error and an empty run."""
    import numpy as np
    import polars as pl

    from trainlog_doctor.api import series_info
    from trainlog_doctor.model.frame import from_columns
    from trainlog_doctor.model.report import Finding, Reference, Report, RunReport
    from trainlog_doctor.run import build_view

    rng = np.random.default_rng(7)
    ep = np.arange(60)
    loss = np.r_[2.3 * np.exp(-ep[:30] / 8) + 0.1, 0.15 * 1.35 ** (ep[30:] - 29)] + rng.normal(0, 0.01, 60)
    val = 2.3 * np.exp(-ep / 10) + 0.25 + np.maximum(ep - 25, 0) * 0.03
    acc = np.clip(1 - loss / 2.5, 0, 1)
    lr = np.where(ep < 30, 1e-3, 5e-2)
    frames = [
        from_columns(run_id="r1", source="training.log", metric=m, split=s, step=ep, epoch=ep.astype(float), value=v)
        for m, s, v in (("loss", "train", loss), ("loss", "val", val), ("accuracy", "train", acc),
                        ("accuracy", "val", np.clip(acc - 0.05, 0, 1)), ("lr", "other", lr))
    ]  # fmt: skip
    f1 = pl.concat(frames)
    cause = Reference("lr-too-high", "Learning rate too high: steps overshoot the minimum and the loss climbs.",
                      ["002_71796cd32a78356b.txt", "000_02205516640b384a.txt"], 1.85,
                      ["+1.00 prior for divergence", "+0.60 the learning rate rose 50x at epoch 30"])  # fmt: skip
    cause2 = Reference("bad-data", "Corrupt batches: a bad shard feeds garbage.", ["003_29fc3971449554af.txt"], 0.7,
                       ["+0.70 prior for divergence"])  # fmt: skip
    fix = Reference("lower-lr", "Lower the learning rate: divide it by 10 and add warm-up.",
                    ["002_71796cd32a78356b.txt"], 1.85, ["addresses lr-too-high (1.85)"])  # fmt: skip
    run1 = RunReport(
        "exp42", "runs/exp42/training.log", "keras_csv", series=series_info(build_view(f1)),
        findings=[
            Finding("DV001", "divergence", "error", "loss", "Training loss rose 9x after epoch 30 and never came back",
                    "train", 30, 59, 30.0, 59.0, {"before": 0.15, "after": 9.6, "lr_at_onset": 0.05},
                    [cause, cause2], [fix]),
            Finding("OF001", "overfitting", "warning", "loss", "Validation loss rose while training loss fell",
                    "val", 25, 59, 25.0, 59.0, {"gap_before": 0.1, "gap_after": 1.2}, [cause2], [fix]),
        ],
        meta={"optimizer": "Adam", "batch_size": 32}, frame=f1, view=build_view(f1),
        changepoints={("loss", "train"): [10, 30], ("loss", "val"): [25]},
    )  # fmt: skip
    steps = np.arange(0, 20000, 10)
    wall = np.cumsum(np.where(steps < 12000, 0.2, 0.55))
    v2 = 1.5 * np.exp(-steps / 4000) + 0.3 + rng.normal(0, 0.02, steps.size)
    v2[900] = 6.0
    loss2 = INJECTED + "_loss"  # a loss: the run view derives seconds per step from its wall-clock times
    f2 = from_columns(run_id="r2", source="events.out.tfevents.1", metric=loss2, split="train", step=steps,
                      value=v2, wall_time=wall)  # fmt: skip
    run2 = RunReport(
        INJECTED + INJECTED_IMG, "runs/" + INJECTED_IMG, "tfevents",
        findings=[
            Finding("SP001", "spike", "warning", loss2, "Spike in " + INJECTED, "train", 9000, 9000,
                    evidence={INJECTED: 4.1}, causes=[cause2], fixes=[fix]),
            Finding("SD001", "slowdown", "warning", "time", "Time per step rose 2.7x after step 12000",
                    "other", 12000, 19990, evidence={"before_s": 0.2, "after_s": 0.55}),
        ],
        warnings=["truncated last record " + INJECTED], meta={"note": INJECTED_IMG}, frame=f2, view=build_view(f2),
        series=series_info(build_view(f2)),
    )  # fmt: skip
    run3 = RunReport("broken", "runs/broken/metrics.json", "detectron2_json", status="error",
                     error="line 3: not JSON (unexpected token '<')")  # fmt: skip
    run4 = RunReport("empty-run", "runs/empty/training.log", "keras_csv", status="empty", error="header only, no rows")
    clean = from_columns(run_id="c", source="log.csv", metric="loss", split="train", step=ep, epoch=ep.astype(float),
                         value=1 / (1 + ep))  # fmt: skip
    run5 = RunReport("clean-run", "runs/clean/log.csv", "keras_csv", frame=clean, view=build_view(clean),
                     series=series_info(build_view(clean)))
    return Report(runs=[run1, run2, run3, run4, run5])


def render_report(html_path: Path) -> tuple[str, str]:
    """Write the HTML to check; returns (how it was made, expected <title>)."""
    labels = REPO / "sample_logs" / "LABELS.json"
    if labels.is_file():
        exe = Path(sys.executable).with_name("trainlog-doctor")
        cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "trainlog_doctor"]
        html_path.unlink(missing_ok=True)
        proc = subprocess.run([*cmd, "analyze", str(REPO / "sample_logs"), "--output", str(html_path),
                               "--fail-on", "never"], capture_output=True, text=True, cwd=REPO, check=False)  # fmt: skip
        if html_path.is_file() and proc.returncode in (0, 1):
            return "trainlog-doctor analyze sample_logs", "trainlog-doctor report"
        reason = proc.stderr.strip()[-300:]
        print(f"analyze failed ({proc.returncode}): {reason}; using the demo report", file=sys.stderr)
    from trainlog_doctor.report.html import render_html

    html_path.write_text(render_html(build_demo_report(), title=DEMO_TITLE), encoding="utf-8")
    return "built demo report", DEMO_TITLE


def check(html_path: Path, png_path: Path, *, expected_title: str, window: str = "1400,3000",
          use_net_log: bool = False, expect_injected: bool = False) -> CheckResult:
    """Run every check on an existing HTML file."""
    res = CheckResult(html_path=html_path, png_path=png_path)
    html = html_path.read_text(encoding="utf-8")
    size = len(html.encode("utf-8"))
    res.notes.append(f"html: {size:,} bytes")
    for hit in network_references(html):
        res.failures.append(f"network reference in the HTML: {hit!r}")
    n_bare = bare_urls(html)
    if n_bare:
        res.notes.append(f"{n_bare} http(s):// string(s) in text (not fetched)")
    if "Content-Security-Policy" not in html or "default-src 'none'" not in html:
        res.failures.append("no Content-Security-Policy with default-src 'none'")
    net_log = png_path.with_suffix(".netlog.json") if use_net_log else None
    try:
        dom = run_chromium(html_path, png_path, window=window, net_log=net_log)
    except (OSError, RuntimeError, subprocess.TimeoutExpired) as exc:
        res.failures.append(f"chromium failed: {exc}")
        return res
    if not png_path.is_file():
        res.failures.append("chromium wrote no screenshot")
    else:
        w, h = png_size(png_path)
        distinct = png_distinct_bytes(png_path)
        res.notes.append(f"screenshot {png_path} {w}x{h}, {distinct} distinct byte values")
        if distinct < 16:
            res.failures.append("the screenshot is blank")
    title = dom_title(dom)
    if title is None or title.strip() != expected_title:
        res.failures.append(f"document.title is {title!r}, expected {expected_title!r} (did injected script run?)")
    if expect_injected:
        if "&lt;script&gt;document.title='pwned'&lt;/script&gt;" not in dom:
            res.failures.append("the injected <script> text is not in the DOM as text")
        if re.search(r"<script\b", dom, re.I):
            res.failures.append("a <script> element exists in the DOM")
        if re.search(r"<img\b", dom, re.I):
            res.failures.append("an <img> element exists in the DOM")
    if net_log is not None:
        urls = net_log_urls(net_log)
        if urls:
            res.failures.append(f"network requests in the net log: {urls[:5]}")
        else:
            res.notes.append("net log: no network request")
    return res


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--html", type=Path, help="check this HTML file instead of rendering one")
    ap.add_argument("--title", default=None, help="expected <title> of --html (default: read from the file)")
    ap.add_argument("--out", type=Path, default=Path("/tmp/report.png"), help="screenshot path")
    ap.add_argument("--window", default="1400,3000", help="window size WIDTH,HEIGHT")
    ap.add_argument("--net-log", action="store_true", help="also record Chromium's net log and check it")
    args = ap.parse_args(argv)
    if not Path(CHROMIUM).exists():
        print(f"render_check: {CHROMIUM} not found (apt-get install -y chromium)", file=sys.stderr)
        return 2
    if args.html:
        html_path = args.html
        if not html_path.is_file():
            print(f"render_check: {html_path} does not exist", file=sys.stderr)
            return 2
        source = str(html_path)
        title = args.title or dom_title(html_path.read_text(encoding="utf-8")) or ""
        title = title.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    else:
        html_path = Path("/tmp/report.html")
        source, title = render_report(html_path)
    demo = source == "built demo report"
    res = check(html_path, args.out, expected_title=title, window=args.window, use_net_log=args.net_log,
                expect_injected=demo)  # fmt: skip
    print(f"render_check: {source} -> {html_path}")
    for n in res.notes:
        print(f"  {n}")
    for f in res.failures:
        print(f"  FAIL: {f}")
    print("  OK" if res.ok else f"  {len(res.failures)} check(s) failed")
    return 0 if res.ok else 1


if __name__ == "__main__":
    sys.exit(main())
