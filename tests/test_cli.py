"""The command line as a user meets it: formats, exit codes, refusing to write into inputs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from trainlog_doctor.cli import main

HEALTHY = "epoch,loss,val_loss\n" + "".join(f"{e},{1.0 / (e + 1):.5f},{1.1 / (e + 1) + 0.01:.5f}\n" for e in range(30))


def _run(tmp_path: Path) -> Path:
    d = tmp_path / "logs" / "run1"
    d.mkdir(parents=True)
    (d / "training.log").write_text(HEALTHY)
    return tmp_path / "logs"


def test_json_schema_v1(tmp_path: Path) -> None:
    logs = _run(tmp_path)
    res = CliRunner().invoke(main, ["analyze", str(logs), "--format", "json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    assert doc["schema_version"] == 1 and doc["tool"]["name"] == "trainlog-doctor"
    (run,) = doc["runs"]
    assert run["run_id"] == "run1" and run["status"] == "ok" and run["format"] == "keras_csv"
    assert {"metric": "loss", "split": "train", "points": 30, "x": "epoch"} in run["series"]
    assert run["findings"] == []


def test_nothing_readable_exits_2(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello\n")
    res = CliRunner().invoke(main, ["analyze", str(tmp_path)])
    assert res.exit_code == 2
    res = CliRunner().invoke(main, ["analyze", str(tmp_path / "missing")])
    assert res.exit_code == 2


def test_refuses_to_write_into_input(tmp_path: Path) -> None:
    logs = _run(tmp_path)
    res = CliRunner().invoke(main, ["analyze", str(logs), "--output", str(logs / "report.json")])
    assert res.exit_code == 2 and "refusing" in res.output
    assert not (logs / "report.json").exists()


def test_output_format_from_extension(tmp_path: Path) -> None:
    logs = _run(tmp_path)
    out = tmp_path / "out" / "r.json"
    res = CliRunner().invoke(main, ["analyze", str(logs), "--output", str(out)])
    assert res.exit_code == 0, res.output
    assert json.loads(out.read_text())["runs"][0]["status"] == "ok"


@pytest.mark.parametrize(("name", "start"), [("r.txt", "run1  [keras_csv]  clean"), ("r.MD", "### "),
                                             ("r.htm", "<!doctype html>")])  # fmt: skip
def test_output_extension_chooses_the_format(tmp_path: Path, name: str, start: str) -> None:
    logs = _run(tmp_path)
    out = tmp_path / "out" / name
    res = CliRunner().invoke(main, ["analyze", str(logs), "--output", str(out)])
    assert res.exit_code == 0, res.output
    text = out.read_text()
    assert text.startswith(start)
    if name == "r.MD":  # markdown reads the run view, so the analysis kept it: the sparklines are there
        assert "train loss: 1 → 0.03333 (min 0.03333, max 1, 30 points)" in text


def test_help_lists_the_registered_formats_without_loading_renderers() -> None:
    """``--help`` and a text report import neither Jinja nor the charts (nor numpy, for help)."""
    code = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from trainlog_doctor.cli import main\n"
        "out = CliRunner().invoke(main, ['analyze', '--help']).output\n"
        "heavy = ('jinja2', 'numpy', 'scipy', 'trainlog_doctor.report.charts')\n"
        "print('[text|concise|json|markdown|github|html]' in out, [m for m in heavy if m in sys.modules])\n"
        "from trainlog_doctor.model.report import Report\n"
        "from trainlog_doctor.report.formats import render\n"
        "render(Report(), 'text'); render(Report(), 'markdown')\n"
        "print([m for m in heavy if m in sys.modules])\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["True []", "[]"]


def test_module_entry_point(tmp_path: Path) -> None:
    logs = _run(tmp_path)
    proc = subprocess.run([sys.executable, "-m", "trainlog_doctor", "analyze", str(logs)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "run1" in proc.stdout and "clean" in proc.stdout


def test_parallel_analyze_matches_serial(tmp_path: Path) -> None:
    logs = _run(tmp_path)
    (logs / "run2").mkdir()
    (logs / "run2" / "training.log").write_text(HEALTHY)
    outs = []
    for workers in ("1", "2"):
        out = tmp_path / f"w{workers}.json"
        proc = subprocess.run(
            [sys.executable, "-m", "trainlog_doctor", "analyze", str(logs), "--workers", workers, "--output", str(out)],
            capture_output=True, text=True, timeout=120,
        )
        assert proc.returncode == 0, proc.stderr
        outs.append(json.loads(out.read_text())["runs"])
    assert outs[0] == outs[1]
