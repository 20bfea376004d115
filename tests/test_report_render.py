"""Human-facing renderers: the offline HTML page, the PR-comment Markdown and GitHub annotations."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trainlog_doctor.api import series_info
from trainlog_doctor.model.frame import from_columns
from trainlog_doctor.model.report import Finding, Reference, Report, RunReport
from trainlog_doctor.report.charts import build_charts, chart_groups, log_ticks, nice_ticks
from trainlog_doctor.report.formats import FORMAT_MODULES, format_for_extension, format_names, get_format, render
from trainlog_doctor.report.github import escape_data, escape_property, render_github
from trainlog_doctor.report.html import render_html, where_text
from trainlog_doctor.report.markdown import html_text, main_series, md_text, render_markdown, sparkline
from trainlog_doctor.report.numfmt import fmt_num
from trainlog_doctor.run import build_view

REPO = Path(__file__).resolve().parents[1]
XSS = "<script>alert(1)</script>"
XSS_TITLE = "<script>document.title='pwned'</script>"
XSS_IMG = "<img src=x onerror=\"document.title='pwned-img'\">"
SEEDS = ["002_71796cd32a78356b.txt", "000_02205516640b384a.txt", "003_29fc3971449554af.txt"]


# ---- hand-built reports -------------------------------------------------------------------------------


def _cause(cid: str = "lr-too-high", score: float = 1.85) -> Reference:
    return Reference(cid, "Learning rate too high: updates overshoot and the loss climbs.", SEEDS[:2], score,
                     ["+1.00 prior for divergence", "+0.60 the learning rate rose 50x at the onset"])  # fmt: skip


def _fix() -> Reference:
    return Reference("lower-lr", "Lower the learning rate: divide it by 10 and add warm-up.", SEEDS[:1], 1.85,
                     ["addresses lr-too-high (1.85)"])  # fmt: skip


def keras_run() -> RunReport:
    """60 epochs: a loss that diverges after epoch 30 when the lr jumps, an overfitting val loss."""
    rng = np.random.default_rng(1)
    ep = np.arange(60)
    loss = np.r_[2.3 * np.exp(-ep[:30] / 8) + 0.1, 0.15 * 1.35 ** (ep[30:] - 29)] + rng.normal(0, 0.005, 60)
    val = 2.3 * np.exp(-ep / 10) + 0.25 + np.maximum(ep - 25, 0) * 0.03
    acc = np.clip(0.95 - loss / 3, 0, 1)
    parts = [
        from_columns(run_id="exp42", source="runs/exp42/training.log", metric=m, split=s, step=ep,
                     epoch=ep.astype(float), value=v)
        for m, s, v in (("loss", "train", loss), ("loss", "val", val), ("accuracy", "train", acc),
                        ("accuracy", "val", acc - 0.05), ("lr", "other", np.where(ep < 30, 1e-3, 5e-2)))
    ]  # fmt: skip
    frame = pl.concat(parts)
    return RunReport(
        "exp42", "runs/exp42/training.log", "keras_csv", series=series_info(build_view(frame)), frame=frame,
        view=build_view(frame),
        findings=[
            Finding("OF001", "overfitting", "warning", "loss", "Validation loss rose while training loss fell",
                    "val", 25, 59, 25.0, 59.0, {"gap_before": 0.1, "gap_after": 1.2}, [_cause("small-data", 0.8)],
                    [_fix()]),
            Finding("DV001", "divergence", "error", "loss", "Training loss rose 9x after epoch 30 and never came back",
                    "train", 30, 59, 30.0, 59.0, {"before": 0.15, "after": 9.6, "lr_at_onset": 0.05,
                                                  "nan_count": float("nan")}, [_cause(), _cause("bad-batch", 0.7)],
                    [_fix()]),
        ],
        meta={"optimizer": "Adam", "batch_size": 32}, changepoints={("loss", "train"): [10, 30], ("loss", "val"): [25]},
    )  # fmt: skip


def tb_run(run_id: str = "tb/run1", metric: str = "loss", n: int = 2000) -> RunReport:
    """A step-indexed run (no epochs) with wall-clock times that slow down 2.7x, and a spike."""
    rng = np.random.default_rng(2)
    steps = np.arange(n) * 10
    wall = np.cumsum(np.where(steps < steps[-1] * 0.6, 2.0, 5.5))
    v = 1.5 * np.exp(-steps / (steps[-1] / 5)) + 0.3 + rng.normal(0, 0.01, n)
    v[n // 2] = 8.0
    v[n // 3] = np.nan
    frame = from_columns(run_id=run_id, source="tb/run1/events.out.tfevents.1", metric=metric, split="train",
                         step=steps, value=v, wall_time=wall)  # fmt: skip
    return RunReport(
        run_id, "tb/run1", "tfevents", series=series_info(build_view(frame)), frame=frame, view=build_view(frame),
        findings=[
            Finding("SP001", "spike", "warning", metric, f"Spike in {metric}", "train", int(steps[n // 2]),
                    int(steps[n // 2]), evidence={metric: 8.0, "ratio": 12.3}, causes=[_cause()], fixes=[_fix()]),
            Finding("SD001", "slowdown", "warning", "time", "Time per step rose 2.7x", "other",
                    int(steps[int(n * 0.6)]), int(steps[-1]), evidence={"before_s": 0.2, "after_s": 0.55}),
        ],
        warnings=["truncated last record"], changepoints={(metric, "train"): [int(steps[n // 2])]},
    )  # fmt: skip


def demo_report() -> Report:
    clean = from_columns(run_id="clean", source="clean/log.csv", metric="loss", split="train", step=range(20),
                         epoch=[float(i) for i in range(20)], value=[1 / (1 + i) for i in range(20)])  # fmt: skip
    return Report(runs=[
        keras_run(),
        tb_run(),
        RunReport("broken", "runs/broken/metrics.json", "detectron2_json", status="error",
                  error="line 3: not JSON (unexpected token '<')"),
        RunReport("empty", "runs/empty/training.log", "keras_csv", status="empty", error="header only, no rows"),
        RunReport("clean", "clean/log.csv", "keras_csv", series=series_info(build_view(clean)), frame=clean,
                  view=build_view(clean)),
    ])  # fmt: skip


def hostile_run() -> RunReport:
    run = tb_run(run_id=XSS + XSS_TITLE + XSS_IMG, metric=XSS, n=300)
    run.path = "runs/" + XSS_IMG + "\"'><svg onload=alert(1)>"
    run.meta = {"note": "</style><script>alert(1)</script>", XSS: "x`|y", "url": "http://evil.example/x.js"}
    run.warnings = ["bad line " + XSS]
    run.findings[0].message = "Spike in " + XSS + " & </textarea>"
    run.findings[0].causes[0].sources = [XSS]
    run.findings[0].causes[0].why = [XSS]
    return run


# ---- HTML ----------------------------------------------------------------------------------------------


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parse(html: str) -> _Tags:
    p = _Tags()
    p.feed(html)
    return p


def _network_refs(html: str) -> list[str]:
    pats = [
        r"""\b(?:src|href|action|poster|srcset|xlink:href)\s*=\s*["']?\s*(?:[a-z]+:)?//""",
        r"url\(\s*['\"]?\s*(?:https?:)?//",
        r"@import",
    ]
    return [m.group(0) for p in pats for m in re.finditer(p, html, re.I)]


def test_html_structure_and_offline() -> None:
    html = render_html(demo_report())
    assert html.startswith("<!doctype html>")
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]*)"', html)
    assert csp and csp.group(1).startswith("default-src 'none'; style-src 'unsafe-inline'; script-src 'sha256-")
    assert "'unsafe-inline'" not in csp.group(1).partition("script-src")[2]  # scripts: only the two by hash
    assert _network_refs(html) == []
    assert "http://" not in html and "https://" not in html
    tags = _parse(html).tags
    assert not [t for t, _ in tags if t in ("img", "link", "iframe", "object", "embed")]
    scripts = [a for t, a in tags if t == "script"]
    assert scripts.count({}) == 2 and all(a in ({}, {"type": "application/json", "class": "cdata"}) for a in scripts)
    # Summary table: one row per run, each linking to its section, which exists.
    rows = [a["href"] for t, a in tags if t == "a" and (a.get("class") or "") == "rid"]
    assert rows == [f"#run-{i}" for i in range(1, 6)]
    ids = {a.get("id") for _, a in tags}
    assert {f"run-{i}" for i in range(1, 6)} <= ids
    # Worst finding of exp42 is the divergence error (listed second in the run), linked to its card.
    assert re.search(r'b-error">error</span> <a href="#run-1-f2"><span class="code">DV001</span>', html)
    assert "line 3: not JSON (unexpected token &#39;&lt;&#39;)" in html
    assert "header only, no rows" in html
    assert "No problems found in 1 series." in html
    assert "truncated last record" in html


def test_html_finding_cards_have_causes_fixes_and_sources() -> None:
    html = render_html(Report(runs=[keras_run()]))
    card = html[html.index('id="run-1-f2"') :]
    card = card[: card.index("</article>")]
    assert "Training loss rose 9x after epoch 30 and never came back" in card
    assert "Where: epochs 30 – 59" in card
    for key, value in (("before", "0.15"), ("after", "9.6"), ("lr_at_onset", "0.05"), ("nan_count", "NaN")):
        assert f"<td>{key}</td>" in card and f">{value}</td>" in card
    assert "Learning rate too high" in card and "+0.60 the learning rate rose 50x at the onset" in card
    assert "Lower the learning rate" in card
    for seed in SEEDS[:2]:
        assert f'<span class="doc">{seed}</span>' in card
    # Causes are shown in the given (ranked) order with score bars scaled to the top score.
    assert card.index("1.85") < card.index("0.7")
    assert 'style="width:100%"' in card and 'style="width:38%"' in card
    # Cards are ordered worst first: the error card comes before the warning card.
    assert html.index('id="run-1-f2"') < html.index('id="run-1-f1"')


def test_html_escapes_every_log_string() -> None:
    run = hostile_run()
    html = render_html(Report(runs=[run]), title="audit of " + XSS)
    assert XSS not in html and XSS_IMG not in html and "<svg onload" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<title>audit of &lt;script&gt;" in html
    tags = _parse(html).tags
    assert not [t for t, _ in tags if t == "img"]
    assert [a for t, a in tags if t == "script" and a != {"type": "application/json", "class": "cdata"}] == [{}, {}]
    # The chart data carries the hostile names JSON-escaped: no markup, and they read back exactly.
    blobs = re.findall(r'<script type="application/json" class="cdata">(.*?)</script>', html, re.S)
    assert blobs and all("<" not in b and ">" not in b for b in blobs)
    datas = [json.loads(b) for b in blobs]
    assert any(d["metric"] == XSS for d in datas)
    assert any(XSS in f["title"] for d in datas for f in d["findings"])
    assert sum(t == "style" for t, _ in tags) == 1
    assert not [(t, k) for t, a in tags for k in a if k.startswith("on")]
    # Inside SVG: the chart's <title> and region titles carry the escaped tag name.
    svgs = re.findall(r"<svg\b.*?</svg>", html, re.S)
    assert svgs and any("&lt;script&gt;alert(1)&lt;/script&gt;" in s for s in svgs)
    for s in svgs:  # each chart is well-formed XML
        ET.fromstring(s.replace("&nbsp;", " "))
    # Not a fetchable reference: the URL in meta is text only.
    assert _network_refs(html) == []


def test_html_charts_scales_regions_and_changepoints() -> None:
    run = keras_run()
    assert chart_groups(run) == ["loss", "accuracy", "lr"]
    charts = {c.metric: c for c in build_charts(run)}
    loss = charts["loss"]
    assert loss.log and loss.x_label == "epoch"  # 0.1 .. 9.6+ spans two decades
    assert [(line.split, line.points) for line in loss.lines] == [("train", 60), ("val", 60)]
    assert {r.code for r in loss.regions} == {"DV001", "OF001"}
    dv = next(r for r in loss.regions if r.code == "DV001")
    assert loss.left < dv.x0 < dv.x1 <= loss.right and dv.severity == "error"
    # Change points 30 (train) and 25 (val) lie in findings and are drawn; 10 (train) only behind the toggle.
    assert sorted(m.title for m in loss.marks) == ["change point in train loss at epoch 30 (step 30)",
                                                   "change point in val loss at epoch 25 (step 25)"]
    assert sorted((cp["s"], cp["f"]) for cp in loss.data["cps"]) == [(10, False), (25, True), (30, True)]
    assert [t.label for t in loss.yticks][:2] == ["0.1", "1"]
    assert not charts["accuracy"].log and not charts["accuracy"].regions
    assert [t.label for t in charts["accuracy"].xticks] == ["0", "10", "20", "30", "40", "50"]

    tb = tb_run()
    assert chart_groups(tb) == ["loss", "time"]  # the slowdown is about the view's derived seconds per step
    tcharts = {c.metric: c for c in build_charts(tb)}
    assert tcharts["loss"].x_label == "step" and not tcharts["loss"].log
    assert tcharts["loss"].lines[0].nonfinite == 1 and tcharts["loss"].lines[0].nonfinite_path
    tps = tcharts["time"]
    assert tps.note == "seconds per step, from the wall-clock times" and [r.code for r in tps.regions] == ["SD001"]
    # Only the derived points are drawn: the first step has no duration, and that is not a NaN value.
    assert tps.lines[0].nonfinite == 0 and tps.lines[0].points == 1999 and tps.lines[0].last == pytest.approx(0.55)
    assert [t.label for t in tcharts["loss"].xticks] == ["0", "5000", "10k", "15k"]


def test_html_crowded_region_labels_fold_into_counts() -> None:
    run = tb_run()
    base = run.findings[0]
    run.findings = [Finding("SP001", "spike", "warning", "loss", f"spike {i}", "train", 10000 + 20 * i, 10000 + 20 * i)
                    for i in range(6)] + [base]  # fmt: skip
    (loss,) = [c for c in build_charts(run) if c.metric == "loss"]
    labels = [r.label for r in loss.regions if r.label]
    assert len(loss.regions) == 7 and len(labels) < 7
    assert any("+" in lab for lab in labels)
    assert sum(int(lab.partition("+")[2] or 0) + 1 for lab in labels) == 7


def test_ticks_and_numbers() -> None:
    assert nice_ticks(0, 1, 5) == [0, 0.25, 0.5, 0.75, 1.0]
    assert nice_ticks(0, 8000, 6) == [0, 2000, 4000, 6000, 8000]
    assert nice_ticks(3, 3) == [3]
    assert log_ticks(-3.2, 1.1) == [-3, -2, -1, 0, 1]
    assert len(log_ticks(-30, 5)) <= 7
    got = [fmt_num(v) for v in (0, 1e-5, 0.0123, 12345, 2.3e6, 1e20)]
    assert got == ["0", "1e-5", "0.0123", "12.3k", "2.3M", "1e20"]


def test_where_text() -> None:
    f = Finding("X", "spike", "warning", "loss", "m", start_step=4675, end_step=4700, start_epoch=35.69,
                end_epoch=35.88)
    assert where_text(f) == "epochs 35.69 – 35.88 (steps 4675 – 4700)"
    assert where_text(Finding("X", "spike", "warning", "loss", "m", start_step=13, end_step=13, start_epoch=13.0,
                              end_epoch=13.0)) == "epoch 13"  # fmt: skip
    assert where_text(Finding("X", "stagnation", "warning", "loss", "m")) == "whole run"


def test_html_size_bound_and_downsampling() -> None:
    """20 runs x 10 series x 100k points render to well under 3 MB, with at most 400 points a line."""
    n = 100_000
    steps = np.arange(n)
    rng = np.random.default_rng(3)
    names = [("loss", "train"), ("loss", "val"), ("accuracy", "train"), ("accuracy", "val"), ("lr", "other"),
             ("time", "other"), ("grad_norm", "other"), ("box_loss", "train"), ("cls_loss", "train"),
             ("mAP", "val")]  # fmt: skip
    parts = []
    for m, s in names:
        v = 2 * np.exp(-steps / 3e4) + rng.random(n) * 0.1 if "loss" in m else rng.random(n)
        parts.append(from_columns(run_id="r", source="x", metric=m, split=s, step=steps, value=v,
                                  epoch=steps / 1000.0, wall_time=steps * 0.1))  # fmt: skip
    frame = pl.concat(parts)
    frame_extreme = frame.with_columns(
        pl.when((pl.col("metric") == "loss") & (pl.col("split") == "train") & (pl.col("step") == 77_777))
        .then(1e6).otherwise(pl.col("value")).alias("value")
    )
    views = {id(f): build_view(f) for f in (frame, frame_extreme)}
    runs = []
    for i in range(20):
        findings = [Finding("SP001", "spike", "warning", "loss", "spike", "train", 77_777, 77_777, 77.777, 77.777,
                            {"ratio": 3.2}, [_cause()], [_fix()]),
                    Finding("OF001", "overfitting", "error", "box_loss", "x", "train", 6000, 99_999)]  # fmt: skip
        run_frame = frame_extreme if i == 0 else frame
        runs.append(RunReport(f"run{i}", f"runs/run{i}", "tfevents", frame=run_frame, view=views[id(run_frame)],
                              findings=findings, changepoints={("loss", "train"): [1000, 50_000]}))  # fmt: skip
    html = render_html(Report(runs=runs))
    size = len(html.encode("utf-8"))
    assert size < 3_000_000, size
    charts = build_charts(runs[0])
    assert len(charts) == 4
    for c in charts:
        for line in c.lines:
            assert line.path.count("L") + line.path.count("M") <= 400
    # The single extreme point survives downsampling: the loss chart switches to a log scale for it.
    assert charts[0].metric == "loss" and charts[0].log


def test_html_run_without_view_and_single_run_page() -> None:
    run = keras_run()
    run.view = None
    html = render_html(Report(runs=[run]), title="exp42 & co")
    assert "<svg" not in html and "<title>exp42 &amp; co</title>" in html
    assert "Training loss rose 9x" in html
    assert "No training logs were found." in render_html(Report())


def test_html_real_logs(real_logs: Path) -> None:
    from trainlog_doctor.api import analyze

    report = analyze([real_logs / "keras_csv" / "keras_csv_02", real_logs / "hf_trainer_state" / "hf_trainer_state_10",
                      real_logs / "tfevents" / "tfevents_13"])  # fmt: skip
    html = render_html(report)
    assert len(report.runs) == 3 and _network_refs(html) == []
    assert html.count("<svg") >= 3
    assert "empty" in html and "OF001" in html
    for s in re.findall(r"<svg\b.*?</svg>", html, re.S):
        ET.fromstring(s)
    hf = next(r for r in report.runs if r.format == "hf_trainer_state")
    charts = build_charts(hf)
    assert charts[0].metric == "loss" and charts[0].x_label == "epoch"
    assert any(c.metric == "learning_rate" for c in charts)


# ---- Markdown ------------------------------------------------------------------------------------------


def test_markdown_summary_table_and_details() -> None:
    md = render_markdown(demo_report())
    first = md.splitlines()[0]
    assert first.startswith("### ") and "5 run(s)" in first and "1 error(s)" in first and "1 unreadable" in first
    table = [line for line in md.splitlines() if line.startswith("| ")]
    assert table[0] == "| Run | Status | Worst finding | Errors | Warnings |"
    assert table[1] == "| --- | --- | --- | ---: | ---: |"
    body = table[2:]
    assert len(body) == 5
    assert body[0].startswith("| exp42 | 🔴 error | `DV001` divergence:") and body[0].endswith("| 1 | 1 |")
    assert body[1].startswith("| broken | ⛔ unreadable |")  # worst first: errors, unreadable, warnings ...
    assert body[-1].startswith("| clean | ✅ clean |")
    assert md.count("<details>") == 5 and md.count("</details>") == 5
    block = md[md.index("<details><summary><b>exp42</b>") :]
    block = block[: block.index("</details>")]
    assert "`DV001` divergence · train loss · epochs 30–59" in block
    assert "cause: **Learning rate too high** (1.85) — 002\\_71796cd32a78356b.txt" in block
    assert "fix: **Lower the learning rate** (1.85)" in block
    sparks = re.findall(r"`([▁▂▃▄▅▆▇█×]+)` (train|val) (loss|accuracy)", block)
    assert len(sparks) == 4
    train_loss = sparks[0][0]  # log scale: falls from 2.4 to 0.15, then blows up to ~1e3
    assert train_loss[-1] == "█" and train_loss[0] in "▂▃▄"
    assert 0 < train_loss.index("▁") < len(train_loss) - 1


def test_markdown_escapes_log_strings() -> None:
    run = hostile_run()
    run.run_id = "a|b`c\nd<e>&f *g* @octocat"
    md = render_markdown(Report(runs=[run]))
    assert XSS not in md and "<img" not in md and "<svg" not in md
    row = next(line for line in md.splitlines() if line.startswith("| a"))
    assert row.startswith(r"| a\|b\`c d&lt;e&gt;&amp;f \*g\* &#64;octocat |")
    assert len(re.findall(r"(?<!\\)\|", row)) == 6  # cell separators only
    assert "<summary><b>a&#124;b&#96;c d&lt;e&gt;&amp;f *g* &#64;octocat</b>" in md
    assert md_text("x\r\ny\tz") == "x  y z"
    assert html_text("<b>\"'") == "&lt;b&gt;&quot;&#39;"


def test_markdown_never_exceeds_max_chars_5000_runs() -> None:
    runs = []
    for i in range(5000):
        sev = ("error", "warning", "info", None)[i % 4]
        findings = [] if sev is None else [
            Finding("DV001", "divergence", sev, "loss", f"loss rose {i}x", "train", i, i + 10, causes=[_cause()],
                    fixes=[_fix()])
        ]  # fmt: skip
        runs.append(RunReport(f"run-{i:04d}", f"runs/{i}", "keras_csv", findings=findings))
    runs.append(RunReport("zz-broken", "x", None, status="error", error="cannot read"))
    md = render_markdown(Report(runs=runs))
    assert len(md) <= 65536
    assert re.search(r"… [\d,]+ more run\(s\) not shown \(limit 65,536 characters\)", md)
    rows = [line for line in md.splitlines() if line.startswith(("| run-", "| zz"))]
    assert rows[0].startswith("| run-0000 | 🔴 error") and rows[1].startswith("| run-0004 | 🔴 error")
    assert 0 < md.count("<details>") == md.count("</details>")
    for limit in (50, 300, 1000, 5000, 20000):
        out = render_markdown(Report(runs=runs[:400]), max_chars=limit)
        assert len(out) <= limit
        assert out.count("<details>") == out.count("</details>")


def test_markdown_drops_clean_details_first() -> None:
    runs = [keras_run()] + [
        RunReport(f"clean-{i}", f"c/{i}", "keras_csv", view=keras_run().view) for i in range(40)
    ]  # fmt: skip
    full = render_markdown(Report(runs=runs), max_chars=10**7)
    assert full.count("<details>") == 41
    limit = len(full) - 100
    md = render_markdown(Report(runs=runs), max_chars=limit)
    assert len(md) <= limit and md.count("<details>") == 1 and "<b>exp42</b>" in md
    assert "details of 40 run(s) left out" in md
    assert md.count("| clean-") == 40  # every run still in the table


def test_markdown_huge_strings() -> None:
    run = keras_run()
    run.run_id = "r" * 200_000
    run.findings[0].message = "<" * 1_000_000
    run.warnings = ["w" * 500_000] * 100
    run.findings[0].causes = [_cause()] * 1000
    many = [Finding("SP001", "spike", "warning", "loss", "s" * 10_000, "train", i, i) for i in range(3000)]
    run.findings.extend(many)
    md = render_markdown(Report(runs=[run] * 30))
    assert len(md) <= 65536
    assert "rrrrr…" in md


@settings(derandomize=True, max_examples=60, deadline=None)
@given(
    names=st.lists(st.text(min_size=0, max_size=300), min_size=1, max_size=30),
    limit=st.integers(min_value=0, max_value=4000),
)
def test_markdown_length_property(names: list[str], limit: int) -> None:
    runs = [
        RunReport(name, name, "keras_csv", findings=[Finding("SP001", "spike", "warning", name or "m", name)])
        if i % 2 else RunReport(name, name, None, status="error", error=name)
        for i, name in enumerate(names)
    ]  # fmt: skip
    out = render_markdown(Report(runs=runs), max_chars=limit)
    assert len(out) <= limit
    if limit >= 1000:
        assert out.count("<details>") == out.count("</details>")
    # Every "<" left is one of the renderer's own tags: log text cannot open an element.
    assert "<" not in re.sub(r"</?(details|summary|b|i)>", "", out)


def test_sparkline() -> None:
    assert sparkline([5, 4, 3, 2, 1]) == "█▆▅▃▁"
    assert sparkline(range(8)) == "▁▂▃▄▅▆▇█"
    assert sparkline([1.0] * 10) == "▄" * 10
    assert sparkline([]) == ""
    assert sparkline([1, float("nan"), 3], width=3) == "▁×█"
    assert len(sparkline(np.linspace(0, 1, 10_000))) == 32
    decades = sparkline([1e-6, 1e-4, 1e-2, 1])  # log scale: evenly spaced
    assert decades == "▁▃▆█"
    assert sparkline([0.98660, 0.98661, 0.98660]) == "▄▄▄"  # float noise is not magnified


def test_main_series_picks_primary_loss_and_score() -> None:
    got = [(s.metric, s.split) for s in main_series(keras_run())]
    assert got == [("loss", "train"), ("loss", "val"), ("accuracy", "train"), ("accuracy", "val")]
    assert main_series(RunReport("x", "x", None)) == []


# ---- GitHub annotations -----------------------------------------------------------------------------------


def test_github_escaping() -> None:
    assert escape_data("100% done\r\nnext") == "100%25 done%0D%0Anext"
    assert escape_property("a:b,c%\n") == "a%3Ab%2Cc%25%0A"
    run = RunReport("run,1:x", "logs/a,b:c.csv", "keras_csv", findings=[
        Finding("SP001", "spike", "warning", "loss", "jumped 50%\nthen ::error::fake", "train", 3, 3, 3.0, 3.0)
    ])  # fmt: skip
    (line,) = render_github(Report(runs=[run]), cwd="/nowhere").splitlines()
    assert line.startswith("::warning file=logs/a%2Cb%3Ac.csv,title=SP001 spike%3A run%2C1%3Ax (train/loss)::")
    assert "jumped 50%25%0Athen ::error::fake" in line


def test_github_caps_and_summary(tmp_path: Path) -> None:
    findings = [Finding("DV001", "divergence", sev, "loss", f"{sev} {i}", "train", i, i)
                for sev in ("info", "warning", "error") for i in range(30)]  # fmt: skip
    runs = [RunReport("a", str(tmp_path / "logs" / "a.csv"), "keras_csv", findings=findings),
            RunReport("bad", str(tmp_path / "logs" / "bad.json"), None, status="error", error="not JSON"),
            RunReport("nothing", "/elsewhere/empty.csv", "keras_csv", status="empty", error="no rows")]  # fmt: skip
    lines = render_github(Report(runs=runs), cwd=str(tmp_path)).splitlines()
    kinds = [line.split(" ", 1)[0] for line in lines]
    assert kinds == ["::error"] * 10 + ["::warning"] * 10 + ["::notice"] * 10
    assert lines[0] == (
        "::error file=logs/a.csv,title=DV001 divergence%3A a (train/loss)::error 0%0AWhere: step 0 in a"
    )
    assert lines[19].startswith("::warning file=logs/a.csv,") and lines[19].endswith("::warning 9%0AWhere: step 9 in a")
    assert "20 errors, 22 warnings, 21 notices not shown" in lines[-1]
    assert lines[-1].startswith("::notice title=trainlog-doctor%3A more findings::")
    # Unreadable runs come after finding warnings; with few findings they are shown, path relative to cwd.
    few = render_github(Report(runs=[runs[1], runs[2]]), cwd=str(tmp_path)).splitlines()
    assert few[0] == "::warning file=logs/bad.json,title=trainlog-doctor%3A unreadable log%3A bad::bad: not JSON"
    assert few[1].startswith("::warning file=/elsewhere/empty.csv,title=trainlog-doctor%3A empty log")


def test_github_uses_the_series_source_file() -> None:
    run = tb_run()
    out = render_github(Report(runs=[run]), cwd=str(REPO))
    assert "file=tb/run1/events.out.tfevents.1," in out
    assert render_github(Report()) == ""


# ---- headless Chromium --------------------------------------------------------------------------------------


def _render_check_module():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("render_check", REPO / "scripts" / "render_check.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up while the class is built
    spec.loader.exec_module(mod)
    return mod


def test_render_check_static_scanner() -> None:
    rc = _render_check_module()
    assert rc.network_references('<img src="https://x.example/a.png">')
    assert rc.network_references("<a href='//cdn.example/x'>")
    assert rc.network_references("<div style=\"background:url( 'http://x/y.png')\">")
    assert rc.network_references("<style>@import 'x.css';</style>")
    assert not rc.network_references("<p>see https://example.com</p><a href=\"#run-1\">")
    assert rc.network_references(render_html(demo_report())) == []


@pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="Debian chromium is not installed")
def test_chromium_screenshot_and_injection(tmp_path: Path) -> None:
    rc = _render_check_module()
    report = demo_report()
    report.runs.append(hostile_run())
    report.runs[-1].run_id = XSS_TITLE + XSS_IMG
    html_path = tmp_path / "report.html"
    html_path.write_text(render_html(report, title="chromium check"), encoding="utf-8")
    png = tmp_path / "shot.png"
    dom = rc.run_chromium(html_path, png, window="1200,1600")
    assert rc.png_size(png) == (1200, 1600)
    assert rc.png_distinct_bytes(png) > 64  # not blank
    assert rc.dom_title(dom) == "chromium check"  # the injected script did not run
    assert "&lt;script&gt;document.title='pwned'&lt;/script&gt;" in dom
    assert not re.search(r"<img\b", dom)
    own = re.findall(r"<script\b[^>]*>", dom)  # the page's two scripts and its chart data, nothing injected
    assert own.count("<script>") == 2 and set(own) <= {"<script>", '<script type="application/json" class="cdata">'}


# ---- the format registry and the run view the charts read --------------------------------------------------


def test_every_registered_format_renders_the_demo_report() -> None:
    assert format_names() == ("text", "concise", "json", "markdown", "github", "html")
    assert len(FORMAT_MODULES) == len(format_names())
    for name in format_names():
        out = render(demo_report(), name)
        assert "exp42" in out, name
    assert "<svg" in render(demo_report(), "html")
    with pytest.raises(KeyError):
        render(demo_report(), "pdf")


def test_output_extensions_choose_formats() -> None:
    expected = {".html": "html", ".htm": "html", ".json": "json", ".md": "markdown", ".markdown": "markdown",
                ".txt": "text"}  # fmt: skip
    assert {ext: format_for_extension(ext) for ext in expected} == expected
    assert format_for_extension(".HTML") == "html" and format_for_extension(".Md") == "markdown"
    assert format_for_extension(".csv") is None and format_for_extension("") is None
    claimed = [ext for name in format_names() for ext in get_format(name).extensions]
    assert sorted(claimed) == sorted(expected)  # no extension claimed twice
    # The renderers that read the runs' series ask the analysis to keep them.
    assert {n for n in format_names() if get_format(n).needs_view} == {"markdown", "github", "html"}


def test_cumulative_time_chart_says_it_shows_per_step_durations() -> None:
    """A running total of seconds (ultralytics ``time``) is charted as the view's per-step durations."""
    ep = np.arange(30)
    per_epoch = np.where(ep < 20, 10.0, 25.0)
    frame = pl.concat([
        from_columns(run_id="u", source="results.csv", metric="box_loss", split="train", step=ep,
                     epoch=ep.astype(float), value=1 / (1 + ep)),
        from_columns(run_id="u", source="results.csv", metric="time", split="other", step=ep,
                     epoch=ep.astype(float), value=np.cumsum(per_epoch)),
    ])  # fmt: skip
    run = RunReport("u", "u/results.csv", "ultralytics_csv", series=series_info(build_view(frame)), view=build_view(frame),
                    findings=[Finding("SD001", "slowdown", "warning", "time", "Epoch time rose 2.5x", "other", 20, 29)])
    assert chart_groups(run) == ["box_loss", "time"]
    (chart,) = [c for c in build_charts(run) if c.metric == "time"]
    assert chart.note == "per-step durations of a cumulative time" and [r.code for r in chart.regions] == ["SD001"]
    (line,) = chart.lines
    assert line.points == 29 and line.nonfinite == 0 and line.last == pytest.approx(25.0)


def test_view_primary_score_and_splits() -> None:
    view = keras_run().view
    assert view.primary_score is not None and view.primary_score.key == ("accuracy", "train")
    assert view.splits_of("loss") == ["train", "val"] and view.splits_of("nope") == []
    ep = np.arange(10)
    frame = pl.concat([
        from_columns(run_id="s", source="s", metric=m, split=sp, step=ep, value=ep / 10.0)
        for m, sp in (("f1", "val"), ("top5", "train"), ("top5", "val"), ("AP_person", "train"), ("AP_person", "val"),
                      ("acc", "test"))
    ])  # fmt: skip
    view = build_view(frame)
    assert view.primary_score.key == ("top5", "train")  # logged for train and val beats a preferred name
    assert view.splits_of("acc") == ["test"]
    only_val = build_view(frame.filter(pl.col("metric").is_in(["f1", "acc"])))
    assert only_val.primary_score.key == ("acc", "test")  # preference order: acc before f1
    assert build_view(frame.filter(pl.col("metric") == "AP_person")).primary_score is None  # per-class only
