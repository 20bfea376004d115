"""The Python API as a notebook user meets it: selectors, the Report's repr, its formats, the findings frame."""

from __future__ import annotations

import html
import inspect
import json
import re
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner

import trainlog_doctor
from trainlog_doctor.api import SelectorError, analyze
from trainlog_doctor.cli import main
from trainlog_doctor.model.report import Report, findings_schema

SAMPLES = Path(__file__).resolve().parents[1] / "sample_logs"


@pytest.fixture(scope="module")
def report() -> Report:
    return analyze(SAMPLES)


def test_select_string_is_a_prefix_not_letters() -> None:
    run = SAMPLES / "divergence_nan"
    as_str = analyze(run, select="DV", keep_frames=False)
    as_list = analyze(run, select=["DV"], keep_frames=False)
    codes = [f.code for _, f in as_str.findings()]
    assert codes == [f.code for _, f in as_list.findings()] == ["DV001"]
    two = analyze(run, select="DV,NF003", keep_frames=False)
    assert sorted(f.code for _, f in two.findings()) == ["DV001", "NF003"]
    top = trainlog_doctor.analyze(run, ignore="NF", keep_frames=False)
    left = [f.code for _, f in top.findings()]
    assert "DV001" in left and not any(c.startswith("NF") for c in left)


def test_unknown_selector_raises_before_reading(tmp_path: Path) -> None:
    with pytest.raises(SelectorError, match=r"select: unknown rule selector 'DV01'; did you mean DV001"):
        analyze(tmp_path / "does-not-exist", select="DV01")
    with pytest.raises(ValueError, match="ignore: unknown rule selector 'plateu'.*plateau"):
        trainlog_doctor.analyze(SAMPLES, ignore=["plateu"])


def test_repr_is_short_and_counts(report: Report) -> None:
    text = repr(report)
    assert len(text) < 200
    n = len(report.findings())
    errors = sum(f.severity == "error" for _, f in report.findings())
    assert text.startswith(f"<Report: {len(report.runs)} run(s) ({len(report.runs)} ok, 0 empty, 0 unreadable), {n} finding(s)")
    assert f"{errors} error" in text
    assert repr(Report()) == "<Report: 0 run(s) (0 ok, 0 empty, 0 unreadable), 0 finding(s)>"


def test_formats_match_the_command_line(report: Report) -> None:
    res = CliRunner().invoke(main, ["analyze", str(SAMPLES), "--format", "json"])
    assert json.loads(report.to_json()) == json.loads(res.stdout)
    assert report.to_markdown().startswith("### ")
    assert "divergence_nan" in report.to_markdown()
    page = report.to_html()
    assert page.startswith("<!doctype html>") and "divergence_nan" in page and "<svg" in page
    assert report.to_text().splitlines()[-1].startswith(f"{len(report.runs)} run(s):")


def test_repr_html_is_the_report_in_a_sandboxed_frame(report: Report) -> None:
    frame = report._repr_html_()
    m = re.fullmatch(r'<iframe srcdoc="([^"]*)" sandbox="allow-scripts" [^>]*></iframe>', frame)
    assert m, frame[:300]
    assert html.unescape(m.group(1)) == report.to_html()
    assert "<script" not in frame  # everything of the page is inside the escaped attribute


def test_findings_frame_one_row_per_finding(report: Report) -> None:
    df = report.findings_frame()
    assert isinstance(df, pl.DataFrame)
    assert df.schema == pl.Schema(findings_schema())
    pairs = report.findings()
    assert df.height == len(pairs) > 0
    for row, (run, f) in zip(df.iter_rows(named=True), pairs, strict=True):
        assert (row["run_id"], row["path"], row["code"]) == (run.run_id, run.path, f.code)
        assert (row["kind"], row["severity"]) == (f.kind, f.severity)
        assert (row["metric"], row["split"], row["start_step"]) == (f.metric, f.split, f.start_step)
        assert row["top_cause"] == (f.causes[0].id if f.causes else None)
        assert row["top_fix"] == (f.fixes[0].id if f.fixes else None)
    div = df.filter(pl.col("code") == "DV001").row(0, named=True)
    assert div["run_id"] == "divergence_nan" and div["start_epoch"] == pytest.approx(3.414634)
    assert df.group_by("severity").len().sort("severity")["len"].sum() == df.height
    empty = Report().findings_frame()
    assert empty.height == 0 and empty.schema == pl.Schema(findings_schema())


def test_analyze_documents_every_parameter() -> None:
    for fn in (analyze, trainlog_doctor.analyze):
        doc = inspect.getdoc(fn) or ""
        for name in inspect.signature(fn).parameters:
            assert f"``{name}``" in doc or f"{name}:" in doc, (fn.__module__, name)
