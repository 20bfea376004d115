"""The HTML report's interactive charts and page layout: embedded chart data, CSP, verdict, run order, size."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from pathlib import Path

import pytest

from test_report_render import XSS, demo_report, hostile_run, keras_run, tb_run
from trainlog_doctor.api import analyze
from trainlog_doctor.model.report import Finding, Report
from trainlog_doctor.report.charts import MIN_REGION_PX, build_charts
from trainlog_doctor.report.html import render_html, run_order, script_json, verdict_line

DATA_RE = re.compile(r'<script type="application/json" class="cdata">(.*?)</script>', re.S)


def _data(html: str) -> list[dict]:
    return [json.loads(b) for b in DATA_RE.findall(html)]


def test_chart_data_of_an_epoch_run() -> None:
    charts = {c.metric: c for c in build_charts(keras_run())}
    d = charts["loss"].data
    assert d["metric"] == "loss" and d["x"] == "epoch" and d["log"] and d["logOk"]
    train, val = d["series"]
    assert (train["label"], train["split"], train["c"], val["c"]) == ("train", "train", 0, 1)
    # 60 evenly spaced epoch-indexed points: steps as first + stride, epochs equal to the steps, no times.
    assert (train["s0"], train["ds"], train["es"], train["n"]) == (0, 1, True, 60)
    assert "s" not in train and "e" not in train and "t" not in train and d["t0"] is None
    assert len(train["y"]) == 60 and train["y"][0] == pytest.approx(2.4, abs=0.01)
    assert {f["code"]: (f["sev"], f["s0"], f["s1"], f["e0"]) for f in d["findings"]} == {
        "OF001": ("warning", 25, 59, 25.0), "DV001": ("error", 30, 59, 30.0)}
    lr = charts["lr"].data
    assert lr["series"][0]["label"] == "lr" and not lr["findings"]


def test_chart_data_of_a_step_run_with_wall_times_and_gaps() -> None:
    charts = {c.metric: c for c in build_charts(tb_run())}
    d = charts["loss"].data
    (s,) = d["series"]
    assert d["x"] == "step" and "e" not in s and "es" not in s
    assert len(s["s"]) <= 400 and s["n"] == 2000  # the extreme-preserving downsampling
    assert 8.0 in s["y"] and None in s["y"]  # the spike survives; the NaN is a null (a gap in the line)
    assert s["t"][0] == 0.0 and s["t"] == sorted(s["t"]) and d["t0"] == pytest.approx(2.0)
    assert d["cps"] == [{"s": 10000.0, "c": 0, "f": True}]  # on the spike finding: drawn
    assert [f["code"] for f in charts["time"].data["findings"]] == ["SD001"]


def test_regions_have_a_minimum_width_and_notes_do_not_shade() -> None:
    run = tb_run()
    run.findings.append(Finding("PL002", "plateau", "info", "loss", "the whole run is flat-ish", "train", 0, 19990))
    (loss,) = [c for c in build_charts(run) if c.metric == "loss"]
    spike = next(r for r in loss.regions if r.code == "SP001")
    assert spike.x1 - spike.x0 == pytest.approx(MIN_REGION_PX) and spike.band
    note = next(r for r in loss.regions if r.code == "PL002")
    assert not note.band and note.onset == pytest.approx(loss.left)
    html = render_html(Report(runs=[run]))
    svg = re.search(r"<svg\b.*?</svg>", html, re.S)
    assert svg and svg.group(0).count('class="band"') == 1  # the spike's; the note gets cap and onset only


def test_script_json_cannot_close_its_script() -> None:
    payload = {"metric": "</script><script>alert(1)</script>", "t": "<!-- & \u2028"}
    text = str(script_json(payload))
    assert "<" not in text and ">" not in text and "&" not in text and "\u2028" not in text
    assert json.loads(text) == payload


def test_hostile_names_reach_the_chart_data_only_as_escaped_json() -> None:
    html = render_html(Report(runs=[hostile_run()]))
    datas = _data(html)
    assert datas and all("<" not in b for b in DATA_RE.findall(html))
    assert {d["metric"] for d in datas} >= {XSS}
    assert all(f["anchor"] == "" or re.fullmatch(r"run-\d+-f\d+", f["anchor"]) for d in datas for f in d["findings"])


def test_csp_allows_exactly_the_inline_scripts() -> None:
    html = render_html(demo_report())
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]*)"', html)
    assert csp
    hashes = re.findall(r"'sha256-([A-Za-z0-9+/=]+)'", csp.group(1))
    bodies = re.findall(r"<script>(.*?)</script>", html, re.S)
    assert len(bodies) == 2 and len(hashes) == 2
    assert [base64.b64encode(hashlib.sha256(b.encode()).digest()).decode() for b in bodies] == hashes
    assert html.count("var uPlot=") == 1 and "Leon Sorokin" in html  # inlined once, with its licence
    # A page without charts carries no script at all.
    plain = render_html(Report())
    assert "<script" not in plain and "script-src 'none'" in plain


def test_verdict_first_and_runs_sorted_by_severity() -> None:
    report = demo_report()
    report.runs.reverse()  # clean, empty, broken, tb, keras
    assert [report.runs[i].run_id for i in run_order(report)] == ["exp42", "tb/run1", "broken", "empty", "clean"]
    line = verdict_line(report)
    assert line == ("2 of 5 runs need attention (2 could not be read or had no data): "
                    "exp42: divergence at epoch 30 — learning rate too high; "
                    "tb/run1: spike at step 10,000 — learning rate too high")  # fmt: skip
    html = render_html(report)
    assert html.index('class="verdict') < html.index('class="runs"')
    sections = re.findall(r'<details class="run" id="(run-\d+)"( open)?>\s*<summary class="rtitle"><h2>([^<]*)</h2>', html)
    assert [(a, bool(o), name) for a, o, name in sections] == [
        ("run-1", True, "exp42"), ("run-2", True, "tb/run1"), ("run-3", True, "broken"), ("run-4", True, "empty"),
        ("run-5", False, "clean")]  # fmt: skip
    # Read and health are separate: a readable run with errors is "read fine" and "2 errors"... not "ok".
    row = html[html.index('href="#run-1"'):html.index('href="#run-2"')]
    assert 'b-read">read fine<' in row and 'b-error">1 error<' in row
    assert verdict_line(Report(runs=[report.runs[0]])) == "The run needs no attention."


def test_evidence_cells_get_their_class() -> None:
    html = render_html(Report(runs=[keras_run()]))
    assert '<td class="n">' in html and "&#34;n&#34;" not in html


def test_sample_logs_every_chart_has_data(sample_logs: Path) -> None:
    html = render_html(analyze(sample_logs))
    datas = _data(html)
    assert len(datas) == html.count('<figure class="chart"') >= 10
    for d in datas:
        assert d["series"] and all(len(s["y"]) and any(v is not None for v in s["y"]) for s in d["series"])
        assert re.fullmatch(r"run-\d+-c\d+", d["id"])
    # The validation line is never drawn in the error colour.
    assert "#e16f24" not in html and ".sw.c1{background:#8250df}" in html


def test_real_logs_report_stays_under_three_megabytes(real_logs: Path) -> None:
    report = analyze(real_logs)
    html = render_html(report)
    size = len(html.encode("utf-8"))
    assert len(report.runs) >= 100 and size <= 3_000_000, size
    assert html.count("var uPlot=") == 1


def test_a_chart_whose_data_cannot_be_json_stays_static(monkeypatch: pytest.MonkeyPatch) -> None:
    import trainlog_doctor.report.charts as charts_mod

    monkeypatch.setattr(charts_mod, "chart_data", lambda *a, **k: {"metric": "loss", "bad": float("nan")})
    html = render_html(Report(runs=[keras_run()]))
    assert html.count('<figure class="chart nolive"') == 3 and not DATA_RE.findall(html)
    assert html.count("<svg") == 3  # the static charts are still there, and shown with scripts on
