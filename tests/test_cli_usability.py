"""The command line's rough edges from issue 11, one test each: bad selectors, config and paths are
usage errors found up front; HTML is not dumped on a terminal; a nightly ``audit --since`` with nothing
new succeeds; colour only where it belongs; the concise mode; the audit's closing summary."""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest
from click.testing import CliRunner

from trainlog_doctor.audit import run_audit
from trainlog_doctor.cli import main

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "sample_logs"
ANSI = re.compile(r"\x1b\[[0-9;]*m")

def _diverging(e: int, scale: float) -> float:
    return scale / (e + 1) if e < 15 else 0.1 * scale * 1.6 ** (e - 14)


DIVERGING = "epoch,loss,val_loss\n" + "".join(f"{e},{_diverging(e, 0.5):.5f},{_diverging(e, 0.6):.5f}\n" for e in range(30))
HEALTHY = "epoch,loss,val_loss\n" + "".join(f"{e},{1.0 / (e + 1):.5f},{1.1 / (e + 1) + 0.01:.5f}\n" for e in range(30))


def _tree(tmp_path: Path) -> Path:
    """Three runs: one diverging, one healthy, and a file holding two appended runs (the epoch restarts)."""
    root = tmp_path / "runs"
    for name, text in (("bad", DIVERGING), ("good", HEALTHY), ("twice", HEALTHY + HEALTHY.split("\n", 1)[1])):
        (root / name).mkdir(parents=True)
        (root / name / "training.log").write_text(text)
    (root / "broken").mkdir()
    (root / "broken" / "training.log").write_bytes(b"")
    return root


def _invoke(args: list[str], **env: str) -> tuple[int, str, str]:
    res = CliRunner().invoke(main, args, env=env)
    return res.exit_code, res.stdout, res.stderr


# ---- up-front checks ------------------------------------------------------------------------------------


def test_unknown_select_is_a_usage_error_with_suggestions(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    code, out, err = _invoke(["analyze", str(root), "--select", "ZZ9"])
    assert code == 2 and out == ""
    assert "--select: unknown rule selector 'ZZ9'" in err and "internal error" not in err
    assert "DV" in err and "divergence" in err  # the choices, since nothing is close
    code, _, err = _invoke(["analyze", str(root), "--select", "DV01"])
    assert code == 2 and "did you mean DV001" in err
    code, _, err = _invoke(["analyze", str(root), "--ignore", "spikes"])
    assert code == 2 and "--ignore" in err and "did you mean spike" in err
    code, _, err = _invoke(["audit", str(root), "--output", str(tmp_path / "out"), "--select", "overfit"])
    assert code == 2 and "did you mean overfitting" in err
    assert not (tmp_path / "out").exists()  # refused before anything was written


def test_unknown_rule_code_suggests_the_closest() -> None:
    code, out, err = _invoke(["rule", "DV01"])
    assert code == 2 and out == "" and "unknown rule 'DV01'; did you mean DV001 or DV002?" in err
    code, out, _ = _invoke(["rule", "dv001"])
    assert code == 0 and out.startswith("DV001: loss-divergence")


def test_valid_selectors_still_work(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    code, out, _ = _invoke(["analyze", str(root), "--select", "DV,non_finite", "--format", "json"])
    assert code == 1
    codes = {f["code"] for r in json.loads(out)["runs"] for f in r["findings"]}
    assert codes and all(c.startswith(("DV", "NF")) for c in codes)


def test_config_is_validated_up_front(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = _tree(tmp_path)
    project = tmp_path / "project"
    project.mkdir()
    monkeypatch.chdir(project)
    (project / "pyproject.toml").write_text('[tool.trainlog_doctor]\nselect = ["DV", "SP9"]\n')
    code, _, err = _invoke(["analyze", str(root)])
    assert code == 2 and "pyproject.toml" in err and "'SP9'" in err and "did you mean SP" in err
    (project / "pyproject.toml").write_text('[tool.trainlog_doctor]\nfail-on = "never"\n')
    code, _, err = _invoke(["analyze", str(root)])
    assert code == 2 and "unknown key 'fail-on'" in err and "did you mean fail_on" in err
    (project / "pyproject.toml").write_text('[tool.trainlog_doctor]\nformat = "pdf"\n')
    code, _, err = _invoke(["analyze", str(root)])
    assert code == 2 and "format must be one of" in err
    (project / "pyproject.toml").write_text('[tool.trainlog_doctor]\nignore = ["DV001"]\nfail_on = "error"\n')
    code, _, _ = _invoke(["analyze", str(root)])
    assert code == 0  # the only error finding is ignored by the config


def test_missing_path_is_a_usage_error_not_an_unreadable_run(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    code, out, err = _invoke(["analyze", str(root / "goood"), "--format", "json"])
    assert code == 2 and out == ""  # no report with a fake "unreadable" run
    assert "no such file or directory" in err and "did you mean" in err and "good" in err
    code, out, err = _invoke(["analyze", str(root / "good"), str(tmp_path / "nowhere")])
    assert code == 2 and out == "" and "nowhere" in err


def test_dangling_symlink_is_still_listed_as_a_run(tmp_path: Path) -> None:
    link = tmp_path / "training.log"
    link.symlink_to(tmp_path / "gone.log")
    code, _, err = _invoke(["analyze", str(link)])
    assert "no such file or directory" not in err and code == 2  # it exists as a link: read, found unreadable


# ---- HTML on a terminal ----------------------------------------------------------------------------------


def _in_terminal(args: list[str], cwd: Path) -> tuple[int, str]:
    """Run the CLI with standard output on a pseudo-terminal; its exit status and what the terminal showed."""
    leader, follower = pty.openpty()
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "NO_COLOR": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "trainlog_doctor", *args], cwd=cwd, stdout=follower,
                            stderr=subprocess.PIPE, env=env)
    os.close(follower)
    shown = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        shown += chunk
    err = proc.stderr.read().decode() if proc.stderr else ""
    code = proc.wait(timeout=300)
    os.close(leader)
    return code, shown.decode(errors="replace") + err


def test_html_on_a_terminal_goes_to_report_html(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    cwd = tmp_path / "here"
    cwd.mkdir()
    code, shown = _in_terminal(["analyze", str(root / "good"), "--format", "html"], cwd)
    assert code == 0, shown
    assert "<html" not in shown.lower() and len(shown) < 2000
    assert "wrote report.html" in shown and (cwd / "report.html").as_uri() in shown
    assert (cwd / "report.html").read_text(encoding="utf-8").startswith("<!doctype html>")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    code, shown = _in_terminal(["analyze", str(root / "good"), "--format", "html", "--output", "-"], elsewhere)
    assert code == 0 and "<!doctype html>" in shown  # asked for standard output: it gets the page
    assert not (elsewhere / "report.html").exists()


def test_html_in_a_pipe_goes_to_standard_output(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    code, out, _ = _invoke(["analyze", str(root / "good"), "--format", "html"])
    assert code == 0 and out.startswith("<!doctype html>")


# ---- audit --since, the audit summary, its progress ------------------------------------------------------


def test_audit_since_with_nothing_new_exits_0(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    old = time.time() - 30 * 86400
    for f in root.rglob("*"):
        os.utime(f, (old, old))
    code, _, err = _invoke(["audit", str(root), "--output", str(tmp_path / "out"), "--since", "7d", "--workers", "1"])
    assert code == 0, err
    assert "nothing new" in err
    (root / "good" / "training.log").touch()  # one run changed: audited as before
    code, _, err = _invoke(["audit", str(root), "--output", str(tmp_path / "out"), "--since", "7d", "--workers", "1",
                            "--fail-on", "error"])
    assert code == 0 and "audited 1 run(s) from 1 log(s)" in err


def test_audit_summary_counts_runs_and_findings_like_the_index(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    out = tmp_path / "out"
    code, _, err = _invoke(["audit", str(root), "--output", str(out), "--workers", "1", "--fail-on", "error"])
    assert code == 1, err
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    runs = summary["runs"]
    assert len(runs) == 5  # 4 logs, one of them holds two runs
    unreadable = sum(r["status"] in ("error", "empty") for r in runs)
    assert "audited 5 run(s) from 4 log(s)" in err
    assert f"{len(runs) - unreadable} read fine, {unreadable} unreadable or empty" in err
    index = (out / "index.html").read_text(encoding="utf-8")
    assert re.search(rf"<b>{unreadable}</b>\s*unreadable or empty", index)
    found = [(f["code"], f["severity"]) for r in runs for f in r["findings"]]
    assert found
    n_err = sum(s == "error" for _, s in found)
    assert f"findings: {n_err} error(s)" in err
    for code_, sev in set(found):
        assert re.search(rf"^  {code_}  \w+\s+{sev}\s+{sum(c == code_ for c, _ in found)} finding\(s\)", err, re.M), err


def test_audit_progress_counts_runs(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    seen: list[tuple[int, int, int]] = []
    result = run_audit(root, tmp_path / "out", workers=1, progress=lambda d, t, r: seen.append((d, t, r)))
    assert seen[0] == (0, 4, 0)
    assert seen[-1] == (4, 4, len(result.entries)) and len(result.entries) == 5
    assert [r for _, _, r in seen] == sorted(r for _, _, r in seen)


# ---- colour and the concise mode -------------------------------------------------------------------------


def test_colour_follows_force_color_and_no_color(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    _, plain, _ = _invoke(["analyze", str(root)])  # not a terminal: no colour
    assert not ANSI.search(plain)
    _, forced, _ = _invoke(["analyze", str(root)], FORCE_COLOR="1")
    assert ANSI.search(forced) and "\x1b[31m" in forced  # errors in red
    assert ANSI.sub("", forced) == plain
    _, both, _ = _invoke(["analyze", str(root)], FORCE_COLOR="1", NO_COLOR="1")
    assert not ANSI.search(both)
    out = tmp_path / "report.txt"
    _invoke(["analyze", str(root), "--output", str(out)], FORCE_COLOR="1")
    assert not ANSI.search(out.read_text(encoding="utf-8"))  # never in files


def test_colour_on_a_terminal(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    leader, follower = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    env.update(PYTHONPATH=str(ROOT / "src"), TERM="xterm")
    proc = subprocess.run([sys.executable, "-m", "trainlog_doctor", "analyze", str(root)], stdout=follower,
                          stderr=subprocess.DEVNULL, env=env, timeout=300, check=False)
    os.close(follower)
    shown = os.read(leader, 1 << 20).decode(errors="replace")
    os.close(leader)
    assert proc.returncode == 1 and ANSI.search(shown)


def test_concise_mode_one_line_per_finding_with_the_path(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    _, out, _ = _invoke(["analyze", str(root), "--format", "json"])
    doc = json.loads(out)
    code, out, _ = _invoke(["analyze", str(root), "--format", "concise"])
    assert code == 1
    lines = out.splitlines()
    findings = [(r, f) for r in doc["runs"] for f in r["findings"]]
    shape = re.compile(r"^\S.*?:(epoch [\d.]+|step \d+): [A-Z]{2}\d{3} \[(error|warning|info)\] ")
    finding_lines = [ln for ln in lines if shape.match(ln)]
    assert len(finding_lines) == len(findings) > 0
    for run, f in findings:
        epoch = f["start_epoch"]
        where = f"epoch {epoch}" if epoch is not None else f"step {f['start_step']}"
        assert any(ln.startswith(f"{run['path']}:{where}: {f['code']} [{f['severity']}] ") for ln in finding_lines), (run, f)
    assert any(ln.startswith(str(root / "broken")) and "empty" in ln for ln in lines)  # unreadable runs are listed too
    assert lines[-1].startswith(f"Found {len(findings)} finding(s)")


def test_concise_marks_the_appended_run(tmp_path: Path) -> None:
    log = tmp_path / "training.log"
    log.write_text(HEALTHY + DIVERGING.split("\n", 1)[1])
    code, out, _ = _invoke(["analyze", str(log), "--format", "concise"])
    assert code == 1
    assert re.search(rf"^{re.escape(str(log))}#2:epoch \d+: DV001 \[error\]", out, re.M), out


# ---- the README demo -------------------------------------------------------------------------------------


def test_readme_demo_says_what_exit_1_means() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    head = readme.split("## What it does", 1)[0]
    assert "trainlog-doctor analyze sample_logs" in head
    assert re.search(r"exit(s)? (status |code )?1", head) and "error" in head


# ---- numpy warnings at their source ----------------------------------------------------------------------


def test_extreme_values_raise_no_numpy_warnings(tmp_path: Path) -> None:
    """Values near the float limits and a garbled 1e23 epoch are analyzed without a RuntimeWarning."""
    from trainlog_doctor import analyze

    series = {
        "flip": ["-1e308", "1e308"] * 8,
        "late_huge": ["0.5", "0.4", "0.3", "0.25", "0.2", "0.2"] + ["1e308"] * 10,
        "max_spike": ["1.5"] * 5 + ["1.7976931348623157e308"] + ["1.4"] * 10,
    }
    for name, values in series.items():
        (tmp_path / name).mkdir()
        rows = "".join(f"{e},{v},{v}\n" for e, v in enumerate(values))
        (tmp_path / name / "training.log").write_text("epoch,loss,val_loss\n" + rows)
    (tmp_path / "garbled").mkdir()
    (tmp_path / "garbled" / "training.log").write_text("epoch,loss\n99999999999999999999999,1.5\n" + "".join(
        f"{e},{1 / e:.4f}\n" for e in range(1, 15)))
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        report = analyze(tmp_path, keep_frames=True)
    assert {r.run_id.split("#")[0] for r in report.runs} == {*series, "garbled"}  # the epoch going back: 2 runs
    assert all(r.status == "ok" for r in report.runs), [(r.run_id, r.error) for r in report.runs]
