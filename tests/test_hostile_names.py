"""Hostile names: run directories, metric names, tags and CSV headers carrying HTML, quotes, backticks,
pipes, newlines, ANSI escapes, ``%0A`` and ``::error::`` workflow-command injection, 10k-character names
and non-UTF-8 bytes. Every output format must keep them inert:

* json: valid, and the names round-trip exactly;
* text: no control characters or escape sequences, one line per item;
* markdown: no raw ``<script``/``<img``/``<svg``; every table row keeps its column count;
* github: one workflow command per line, nothing else can start a line, ``%`` escaped;
* html (report, audit index and run pages): no injected element or ``on*`` attribute, the names
  appear as text.
"""

from __future__ import annotations

import json
import os
import re
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner

sys.path.insert(0, str(Path(__file__).resolve().parent))

from test_reliability import scalar_event, tfrecord, version_event  # noqa: E402
from trainlog_doctor.api import analyze  # noqa: E402
from trainlog_doctor.cli import main as cli_main  # noqa: E402
from trainlog_doctor.model.clean import clean_text  # noqa: E402
from trainlog_doctor.model.report import Report  # noqa: E402

SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'
SVG = "<svg onload=alert(1)>"
NEWLINE_CMD = "x\n::error::injected"
PERCENT = "%0A::error::pct"
ANSI = "\x1b[31mred\x1b[0m\x1b]0;title\x07"
QUOTES = "it's \"q\" `tick` a|b"
CR = "a\rb\x0bc\x00d"
LONG = "L" * 10_000

#: Run directory names (no "/" allowed in a file name, so the script tag stays open).
DIR_NAMES = ["<script>alert(1)", IMG, SVG, "new\nline", PERCENT.replace("/", ""), "::error::dir", ANSI, QUOTES, "tab\there"]
#: Metric names carried by JSON keys and event tags (anything goes there).
METRIC_NAMES = [SCRIPT, IMG, SVG, NEWLINE_CMD, PERCENT, ANSI, QUOTES, CR, LONG]
#: Names the CSV sniffer accepts as header cells (it rejects <, >, quotes and pipes).
CSV_NAMES = ["::error::csv", "%0Acsv", "`tick`", "x::warning::b", "a#b%25"]

INJECTED = re.compile(r"<\s*(script|img|svg|iframe|object|embed)\b", re.IGNORECASE)
COMMAND = re.compile(r"^::(error|warning|notice|debug)((?: [a-z]+=[^,:\r\n]*)(?:,[a-z]+=[^,:\r\n]*)*)?::[^\r\n]*$")


def _loss(i: int, n: int = 12, nan_from: int = 7) -> float:
    """A falling loss that turns NaN (so there are findings naming the metric)."""
    return float("nan") if i >= nan_from else 1.0 / (i + 1)


def _jsonl(path: Path, keys: list[str]) -> None:
    rows = []
    for e in range(12):
        row = {"epoch": e, "train_loss": _loss(e)}
        row.update({f"{k}_loss": _loss(e, nan_from=5 + j % 5) for j, k in enumerate(keys)})
        rows.append(json.dumps(row))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")


def build_hostile_tree(root: Path) -> Path:
    """Hostile run directories (each with a JSON-lines log whose keys are hostile), an event file with
    hostile tags, a CSV with hostile-but-accepted headers and a non-UTF-8 byte in a header."""
    for i, name in enumerate(DIR_NAMES):
        _jsonl(root / name / "log.txt", METRIC_NAMES[i % len(METRIC_NAMES) :][:3])
    ev = [tfrecord(version_event())]
    for s in range(12):
        for tag in METRIC_NAMES:
            ev.append(tfrecord(scalar_event(f"train/{tag}", s, _loss(s, nan_from=8), 1.7e9 + s)))
    (root / "events run").mkdir()
    (root / "events run" / "events.out.tfevents.1.host").write_bytes(b"".join(ev))
    header = ["epoch", *(f"{n}_loss" for n in CSV_NAMES)]
    lines = [",".join(header)] + [",".join([str(e), *(f"{_loss(e):.5f}" for _ in CSV_NAMES)]) for e in range(12)]
    (root / "csv run").mkdir()
    (root / "csv run" / "training.log").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (root / "bytes run").mkdir()
    (root / "bytes run" / "training.log").write_bytes(
        b"epoch,lo\xffss,val_\xe9loss\n" + b"".join(f"{e},{_loss(e)},{_loss(e, nan_from=9)}\n".encode() for e in range(12))
    )
    (root / "broken <b>run<b>").mkdir()
    (root / "broken <b>run<b>" / "training.log").write_bytes(b"\x00\x01 not a log")
    return root


@pytest.fixture(scope="module")
def hostile_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_hostile_tree(tmp_path_factory.mktemp("hostile") / "tree")


@pytest.fixture(scope="module")
def report(hostile_tree: Path) -> Report:
    return analyze([hostile_tree])


def _render(report: Report, fmt: str) -> str:
    from trainlog_doctor.cli import render

    return render(report, fmt)


def test_the_tree_is_read_and_diagnosed(report: Report) -> None:
    ok = [r for r in report.runs if r.status == "ok"]
    assert len(ok) == len(DIR_NAMES) + 3
    assert sum(len(r.findings) for r in report.runs) >= 20
    metrics = {f.metric for r in report.runs for f in r.findings}
    for name in (SCRIPT, IMG, NEWLINE_CMD, PERCENT, LONG):  # control characters arrive as U+FFFD
        assert any(clean_text(name) in m for m in metrics), name[:40]
    assert any(r.status == "error" and "<b>" in r.run_id for r in report.runs)


def test_json_is_valid_and_round_trips(report: Report) -> None:
    doc = json.loads(_render(report, "json"))
    assert [r["run_id"] for r in doc["runs"]] == [r.run_id for r in report.runs]
    assert [r["path"] for r in doc["runs"]] == [r.path for r in report.runs]
    got = sorted(f["metric"] for r in doc["runs"] for f in r["findings"])
    assert got == sorted(f.metric for r in report.runs for f in r.findings)
    for run in doc["runs"]:
        assert run["error"] is None or "\n" not in run["error"]


def test_text_has_no_control_characters(report: Report) -> None:
    text = _render(report, "text")
    for line in text.split("\n"):
        bad = [c for c in line if not c.isprintable()]
        assert not bad, (line[:120], bad[:5])
    assert "\x1b" not in text and "\r" not in text


def test_text_lines_cannot_be_workflow_commands(report: Report) -> None:
    """The default format is printed to CI logs, where a line starting with ``::`` is a runner command
    (``::error::``, ``::add-mask::``, ``::stop-commands::``): no log-derived text may start a line."""
    text = _render(report, "text")
    assert not [line for line in text.split("\n") if line.lstrip().startswith("::")]  # the runner trims first


def _unescaped_pipes(line: str) -> int:
    return len(re.findall(r"(?<!\\)\|", line))


def test_markdown_is_inert_and_tables_stay_intact(report: Report) -> None:
    md = _render(report, "markdown")
    assert not INJECTED.search(md), INJECTED.search(md)
    assert "\x1b" not in md and "\r" not in md
    assert not [line for line in md.split("\n") if line.startswith("::")]
    assert len(md) <= 65_536
    width = None
    for line in md.split("\n"):
        if line.startswith("|"):
            width = width or _unescaped_pipes(line)
            assert _unescaped_pipes(line) == width, line[:200]
        else:
            width = None  # a table ends at the first line that is not a row
    # the hostile names are there, escaped
    assert "&lt;script&gt;alert(1)" in md


def test_github_commands_cannot_be_injected(report: Report) -> None:
    out = _render(report, "github")
    lines = out.split("\n")
    assert lines[-1] == ""
    for line in lines[:-1]:
        assert COMMAND.match(line), line[:200]
        assert "\r" not in line
    assert len(lines) - 1 <= 30  # within GitHub's display limits, plus one summary notice
    assert "x\ufffd::error::injected" in out  # the newline in a metric name is replaced, not a line break
    assert "%250A" in out  # a literal "%0A" in a name is escaped as data, it cannot decode into a newline


def test_github_property_values_escape_separators(report: Report) -> None:
    out = _render(report, "github")
    for line in out.split("\n")[:-1]:  # the runner splits on LF (and CR) only, not on VT or U+2028
        props = line.split("::", 2)[1]
        for part in props.partition(" ")[2].split(","):
            key, _, value = part.partition("=")
            assert key in ("file", "title", "line", "col", "endLine", "endColumn"), line[:200]
            assert ":" not in value and "," not in value


class _Collector(HTMLParser):
    """Every start tag with its attributes, and every script body."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.scripts: list[str] = []
        self.data: list[str] = []  # bodies of <script type="application/json">: inert chart data
        self.text: list[str] = []
        self._in: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))
        if tag == "script":
            self._in = self.data if ("type", "application/json") in attrs else self.scripts

    def handle_endtag(self, tag: str) -> None:
        self._in = None

    def handle_data(self, data: str) -> None:
        (self._in if self._in is not None else self.text).append(data)


def check_html(html: str) -> _Collector:
    """No injected element, no event-handler attribute, no javascript: URL; scripts are the tool's own."""
    assert "<script>alert" not in html
    parser = _Collector()
    parser.feed(html)
    parser.close()
    for tag, attrs in parser.tags:
        assert tag not in ("img", "iframe", "object", "embed"), (tag, attrs)
        for name, value in attrs:
            assert not name.startswith("on"), (tag, name, value)
            assert "javascript:" not in (value or "").lower(), (tag, name)
    for body in parser.scripts:
        assert "alert(" not in body
    for body in parser.data:  # log text in chart data is JSON-escaped: no markup, and it parses back
        assert "<" not in body and ">" not in body and "&" not in body
        json.loads(body)
    return parser


def test_html_report_is_inert(report: Report) -> None:
    html = _render(report, "html")
    parser = check_html(html)
    assert sum(tag == "svg" for tag, _ in parser.tags) >= 1  # charts are drawn...
    assert not any(attrs and any(n == "onload" for n, _ in attrs) for _, attrs in parser.tags)  # ...but not SVG
    text = "".join(parser.text)
    assert "<script>alert(1)" in text and IMG in text  # shown as text


def test_audit_pages_are_inert(tmp_path: Path, hostile_tree: Path) -> None:
    out = tmp_path / "audit"
    res = CliRunner().invoke(cli_main, ["audit", str(hostile_tree), "--output", str(out), "--workers", "1"])
    assert res.exit_code == 0, res.output
    check_html((out / "index.html").read_text(encoding="utf-8"))
    pages = sorted((out / "runs").glob("*.html"))
    assert len(pages) >= len(DIR_NAMES)
    for page in pages:
        assert re.fullmatch(r"[A-Za-z0-9._-]+\.html", page.name), page.name  # hostile ids never reach file names
        check_html(page.read_text(encoding="utf-8"))
    json.loads((out / "summary.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("fmt", ["json", "text", "markdown", "github", "html"])
def test_cli_writes_every_format(tmp_path: Path, hostile_tree: Path, fmt: str) -> None:
    out = tmp_path / f"report.{fmt}"
    res = CliRunner().invoke(
        cli_main, ["analyze", str(hostile_tree), "--format", fmt, "--output", str(out), "--fail-on", "never"]
    )
    assert res.exit_code == 0, res.output
    assert out.read_bytes().decode("utf-8")


def test_ten_thousand_character_names_are_clipped_in_human_formats(report: Report) -> None:
    for fmt in ("markdown", "github"):  # text prints names whole (see the report)
        longest = max(len(line) for line in _render(report, fmt).split("\n"))
        assert longest < 12_000, (fmt, longest)
    doc = json.loads(_render(report, "json"))
    assert any(LONG in f["metric"] for r in doc["runs"] for f in r["findings"])  # JSON keeps the exact name


# ---------------------------------------------------------------------------------- non-UTF-8 file names

BAD_BYTES_NAME = os.fsdecode(b"run-\xff\xfe-latin\xe9")


@pytest.fixture()
def bytes_tree(tmp_path: Path) -> Path:
    """A run directory and a log file whose names are not valid UTF-8 (``os.fsdecode`` gives surrogates)."""
    if sys.platform == "darwin":
        pytest.skip("macOS file systems reject non-UTF-8 names")
    root = tmp_path / "tree"
    _jsonl(root / BAD_BYTES_NAME / "log.txt", [SCRIPT])
    (root / "plain").mkdir()
    (root / "plain" / os.fsdecode(b"training-\xff.log")).write_bytes(
        b"epoch,loss\n" + b"".join(f"{e},{_loss(e)}\n".encode() for e in range(12))
    )
    return root


def test_non_utf8_names_through_the_api(bytes_tree: Path) -> None:
    rep = analyze([bytes_tree])
    assert sorted(r.status for r in rep.runs) == ["ok", "ok"]
    for fmt in ("json", "text", "markdown", "github", "html"):
        out = _render(rep, fmt)
        out.encode("utf-8")  # renderable as UTF-8: no lone surrogates left in the output
        if fmt == "json":
            json.loads(out)


def test_non_utf8_names_through_the_cli(tmp_path: Path, bytes_tree: Path) -> None:
    """Every format, to a file and to stdout: exit 0, no traceback, a UTF-8 file."""
    failed = {}
    for fmt in ("json", "text", "markdown", "github", "html"):
        out = tmp_path / f"report.{fmt}"
        for args in (["--output", str(out)], []):
            res = CliRunner().invoke(cli_main, ["analyze", str(bytes_tree), "--format", fmt, "--fail-on", "never", *args])
            where = f"{fmt} {'file' if args else 'stdout'}"
            if res.exception is not None and not isinstance(res.exception, SystemExit):
                failed[where] = repr(res.exception)[:100]
            elif res.exit_code != 0:
                failed[where] = f"exit {res.exit_code}"
            elif args:
                out.read_bytes().decode("utf-8")
    assert not failed, failed


def test_non_utf8_names_through_audit(tmp_path: Path, bytes_tree: Path) -> None:
    out = tmp_path / "audit"
    res = CliRunner().invoke(cli_main, ["audit", str(bytes_tree), "--output", str(out), "--workers", "1"])
    assert res.exception is None or isinstance(res.exception, SystemExit), repr(res.exception)
    assert res.exit_code == 0, res.output
    doc = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert len(doc["runs"]) == 2
    check_html((out / "index.html").read_text(encoding="utf-8"))


def test_non_utf8_csv_header_bytes(report: Report) -> None:
    (run,) = [r for r in report.runs if r.run_id == "bytes run"]
    assert run.status == "ok"
    assert any("U+FFFD" in w or "UTF-8" in w for w in run.warnings), run.warnings
    names = {s.metric for s in run.series}
    assert any("\ufffd" in n for n in names), names
    for fmt in ("json", "text", "markdown", "github", "html"):
        _render(Report(runs=[run]), fmt).encode("utf-8")


def test_event_tags_with_hostile_bytes(tmp_path: Path) -> None:
    """Tags that are not valid UTF-8 on the wire are decoded with replacement, never crash a renderer."""
    from tensorboard.compat.proto.event_pb2 import Event
    from tensorboard.compat.proto.summary_pb2 import Summary

    raw = []
    for s in range(10):
        ev = Event(wall_time=1.7e9 + s, step=s, summary=Summary(value=[Summary.Value(tag="loss", simple_value=_loss(s))]))
        data = ev.SerializeToString().replace(b"loss", b"l\xffss")  # same length: the proto stays well formed
        raw.append(tfrecord(data))
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "events.out.tfevents.1.host").write_bytes(tfrecord(version_event()) + b"".join(raw))
    rep = analyze([run_dir])
    (run,) = rep.runs
    assert run.status == "ok" and len(run.series) == 1
    for fmt in ("json", "text", "markdown", "github", "html"):
        _render(rep, fmt).encode("utf-8")


def test_every_reader_accepts_a_non_utf8_path(tmp_path: Path) -> None:
    """``source`` comes from the path: a file name that is not UTF-8 must not crash polars in any reader."""
    if sys.platform == "darwin":
        pytest.skip("macOS file systems reject non-UTF-8 names")
    from test_reliability import FAMILIES
    from trainlog_doctor.readers import reader_by_format
    from trainlog_doctor.testing import check_frame

    failed = {}
    for family, fam in FAMILIES.items():
        path = tmp_path / os.fsdecode(b"run-\xff") / family / fam.filename
        path.parent.mkdir(parents=True)
        path.write_bytes(fam.seeds[0]())
        try:
            runs = reader_by_format(fam.format).read(path, "r")
            assert runs and runs[0].frame.height > 0
            for run in runs:
                check_frame(run.frame, family)
        except Exception as exc:  # noqa: BLE001 - collect every reader's failure
            failed[family] = f"{exc.__class__.__name__}: {str(exc)[:80]}"
    assert not failed, failed
