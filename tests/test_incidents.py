"""Issue 12 item 4: one incident, one card, on the sample logs and in every format that shows incidents."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import trainlog_doctor as td
from trainlog_doctor.cli import main
from trainlog_doctor.model.report import Finding, Report, RunReport
from trainlog_doctor.report.github import render_github
from trainlog_doctor.report.json import render_json
from trainlog_doctor.report.markdown import render_markdown

SAMPLES = Path(__file__).resolve().parents[1] / "sample_logs"


@pytest.fixture(scope="module")
def divergence() -> RunReport:
    return td.analyze([str(SAMPLES / "divergence_nan")]).runs[0]


def test_divergence_then_nan_is_one_incident_led_by_the_divergence(divergence: RunReport) -> None:
    kinds = sorted(f.kind for f in divergence.findings)
    assert kinds.count("non_finite") >= 2 and "divergence" in kinds
    incidents = divergence.incidents
    assert len(incidents) == 1
    inc = incidents[0]
    assert inc.primary.kind == "divergence" and inc.primary.incident_primary
    assert {f.kind for f in inc.related} == {"non_finite"}
    assert {f.incident for f in divergence.findings} == {inc.id}
    assert inc.primary.causes[0].id == "lr-too-high"


def test_json_keeps_every_finding_and_adds_the_grouping(divergence: RunReport) -> None:
    run = json.loads(render_json(Report([divergence])))["runs"][0]
    assert len(run["findings"]) == len(divergence.findings)
    assert all(f["incident"] == "I1" for f in run["findings"])
    assert [f.get("incident_primary", False) for f in run["findings"]].count(True) == 1
    (inc,) = run["incidents"]
    assert run["findings"][inc["primary"]]["kind"] == "divergence"
    assert sorted([inc["primary"], *inc["related"]]) == list(range(len(run["findings"])))
    cause = run["findings"][inc["primary"]]["causes"][0]
    assert cause["titles"] and not any(t.endswith(".txt") for t in cause["titles"])
    lower = next(x for x in run["findings"][inc["primary"]]["fixes"] if x["id"] == "lower-lr")
    assert lower["derived"]["value"] < 0.035 and lower["derived"]["how"]


def test_markdown_and_github_show_one_card_per_incident(divergence: RunReport) -> None:
    md = render_markdown(Report([divergence]))
    assert md.count("also in this incident") == len(divergence.findings) - 1
    assert "for this run:" in md and "000_02205516640b384a" not in md
    gh = render_github(Report([divergence]), cwd=str(SAMPLES.parent))
    lines = [line for line in gh.splitlines() if line.startswith(("::error", "::warning"))]
    assert len(lines) == 1 and "Same incident:" in lines[0]


@pytest.mark.parametrize(("sample", "groups"), [("spike", 1), ("plateau", 1), ("overfitting", 1), ("slowdown", 1)])
def test_findings_of_one_event_on_several_curves_share_an_incident(sample: str, groups: int) -> None:
    run = td.analyze([str(SAMPLES / sample)]).runs[0]
    assert len(run.incidents) == groups
    if len(run.findings) > 1:
        assert run.incidents[0].primary.split == "train" or run.incidents[0].primary.kind == "overfitting"


def test_unrelated_findings_stay_apart() -> None:
    run = RunReport(run_id="r", path="p", format="x", findings=[
        Finding("SL001", "slowdown", "warning", "time", "m", split="other", start_step=10),
        Finding("OF001", "overfitting", "warning", "loss", "m", split="val", start_step=900),
    ])
    assert len(run.incidents) == 2  # no incident ids: every finding stands alone
    assert [i.primary.code for i in run.incidents] == ["SL001", "OF001"]


def test_sample_cards_name_the_cause_they_were_made_with() -> None:
    expect = {"collapse": {"lr-too-high"}, "divergence_nan": {"lr-too-high"}, "plateau": {"lr-too-low"},
              "slowdown": {"input-pipeline-bottleneck"}, "spike": {"noisy-data"},
              "overfitting": {"regularization-missing", "low-data-diversity", "model-too-complex"}}
    for sample, want in expect.items():
        run = td.analyze([str(SAMPLES / sample)]).runs[0]
        first = run.incidents[0].primary  # the labelled event comes first in each of these runs
        assert first.causes[0].id in want, (sample, [c.id for c in first.causes])


def test_rule_command_lists_sources_by_title() -> None:
    out = CliRunner().invoke(main, ["rule", "DV001"]).output
    assert "What causes high CNN training loss?" in out and ".txt" not in out


def test_text_and_html_show_one_card_per_incident_with_titles() -> None:
    """divergence_nan: one incident in text (related lines marked ``+``) and one HTML card listing the
    NaN findings inside; sources appear as document titles, never hashed file names."""
    from pathlib import Path

    from trainlog_doctor.api import analyze
    from trainlog_doctor.report.formats import render

    report = analyze([Path(__file__).resolve().parents[1] / "sample_logs" / "divergence_nan"])
    text = render(report, "text")
    assert text.count("\n    + ") == len(report.runs[0].findings) - 1
    assert "Why are CNN outputs anomalous" in text and ".txt" not in text
    page = render(report, "html")
    assert page.count('class="card ') == len(report.runs[0].incidents) == 1
    assert "Same incident" in page and "For this run:" in page and "_0220551664" not in page
