"""Hostile trees and shared output directories: nothing planted reaches the runner, nothing read is written."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from trainlog_doctor.report.files import replace_text, replacing
from trainlog_doctor.report.text import terminal_line

SAMPLES = Path(__file__).resolve().parents[1] / "sample_logs"
SPOOF = "x\n::error file=README.md,line=1::spoofed"


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GITHUB_ACTIONS": "true"}
    return subprocess.run([sys.executable, "-m", "trainlog_doctor", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=300, env=env)  # fmt: skip


def _assert_inert(text: str) -> None:
    """No line of ``text`` acts as a workflow command, apart from the tool's own ``::stop-commands::``
    window (a random token, opened first and closed by ``::token::``) that makes the rest inert."""
    lines = text.splitlines()
    tokens = [m.group(1) for m in map(re.compile(r"^::stop-commands::([0-9a-f]{32})$").match, lines) if m]
    own = {f"::stop-commands::{t}" for t in tokens} | {f"::{t}::" for t in tokens}
    for line in lines:
        if line in own:
            continue
        assert not line.lstrip().startswith("::"), line
        assert "##[" not in line and "\x1b" not in line, line


def test_terminal_line_defuses_commands_controls_and_length() -> None:
    assert terminal_line(SPOOF) == "x?::error file=README.md,line=1::spoofed"  # one line: the command is text
    out = terminal_line("run ##[error]spoofed \x1b[31mred\x1b[0m\n::add-mask::x")
    assert "\n" not in out and "\x1b" not in out and "##[" not in out
    assert terminal_line("::stop-commands::tok").startswith(": :")
    assert len(terminal_line("a" * 10_000, limit=100)) == 100


def test_hostile_directory_names_never_reach_stderr_raw(tmp_path: Path) -> None:
    """A directory named with a newline and a workflow command next to a symlink loop: the discovery
    warning names it, and stderr stays inert (GitHub parses stderr like stdout)."""
    tree = tmp_path / "tree"
    bad = tree / SPOOF
    bad.mkdir(parents=True)
    (bad / "loop").symlink_to(bad, target_is_directory=True)
    shutil.copy(SAMPLES / "healthy_keras" / "training.log", bad / "training.log")
    (tree / "run ##[error]spoofed").mkdir()
    shutil.copy(SAMPLES / "healthy_keras" / "training.log", tree / "run ##[error]spoofed" / "training.log")
    for fmt in ("text", "github", "markdown"):
        proc = _cli("analyze", str(tree), "--format", fmt, "--fail-on", "never", cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        assert "warning" in proc.stderr  # the loop was reported ...
        _assert_inert(proc.stderr)  # ... as one inert line
        if fmt != "markdown":
            _assert_inert(proc.stdout)
    proc = _cli("audit", str(tree), "--output", str(tmp_path / "out"), cwd=tmp_path)
    _assert_inert(proc.stderr)


def test_replacing_never_writes_through_a_planted_link(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    target = tmp_path / "out.json"
    target.symlink_to(victim)
    replace_text(target, "report")
    assert victim.read_text() == "precious"
    assert not target.is_symlink() and target.read_text() == "report"


def test_replacing_keeps_the_old_file_and_leaves_no_temp_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "report.html"
    target.write_text("old")
    with pytest.raises(RuntimeError), replacing(target) as fh:
        fh.write("half a report")
        raise RuntimeError("disk full")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html"]


def test_hard_linked_output_never_overwrites_an_input(tmp_path: Path) -> None:
    log = tmp_path / "runs" / "training.log"
    log.parent.mkdir()
    shutil.copy(SAMPLES / "healthy_keras" / "training.log", log)
    before = log.read_bytes()
    alias = tmp_path / "report.html"
    os.link(log, alias)
    # the input named as a file: refused, exit 2
    proc = _cli("analyze", str(log), "--output", str(alias), cwd=tmp_path)
    assert proc.returncode == 2 and "refusing" in proc.stderr
    assert log.read_bytes() == before
    # the input named by its directory: the report replaces the alias's entry, the log keeps its bytes
    proc = _cli("analyze", str(log.parent), "--output", str(alias), "--fail-on", "never", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert log.read_bytes() == before and alias.read_text(encoding="utf-8").lower().startswith("<!doctype html>")


def test_audit_outputs_replace_planted_links_instead_of_following_them(tmp_path: Path) -> None:
    out = tmp_path / "out"
    (out / "runs").mkdir(parents=True)
    victims = {}
    for name in ("summary.json", "index.html", "cache.json", "summary.json.tmp", "index.html.tmp", "cache.json.tmp"):
        v = tmp_path / f"victim-{name}"
        v.write_text("precious")
        (out / name).symlink_to(v)
        victims[name] = v
    proc = _cli("audit", str(SAMPLES / "healthy_keras"), "--output", str(out), cwd=tmp_path)
    assert proc.returncode in (0, 1), proc.stderr
    assert all(v.read_text() == "precious" for v in victims.values())
    assert (out / "summary.json").is_file() and not (out / "summary.json").is_symlink()
    assert not list(out.rglob(".*.tmp"))  # no temporary file left behind


def test_a_latin1_console_gets_escapes_not_a_crash(tmp_path: Path) -> None:
    run = tmp_path / "ünïcode-run-✓"
    run.mkdir()
    shutil.copy(SAMPLES / "healthy_keras" / "training.log", run / "training.log")
    env = {**os.environ, "PYTHONIOENCODING": "latin-1"}
    proc = subprocess.run([sys.executable, "-m", "trainlog_doctor", "analyze", str(run), "--fail-on", "never"],
                          capture_output=True, timeout=300, env=env)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert b"\\u2713" in proc.stdout  # the check mark the console cannot show, escaped


def test_a_tree_thousands_of_levels_deep_is_walked(tmp_path: Path) -> None:
    from trainlog_doctor.readers.discover import discover

    deep = tmp_path
    for _ in range(1_200):  # os.makedirs itself recurses too deep for this
        deep = deep / "d"
        deep.mkdir()
    shutil.copy(SAMPLES / "healthy_keras" / "training.log", deep / "training.log")
    try:
        (cand,) = discover([tmp_path])
        assert cand.reader is not None and cand.path == deep / "training.log"
    finally:  # shutil.rmtree (pytest's clean-up of old temp dirs) recurses too deep for this tree
        (deep / "training.log").unlink()
        while deep != tmp_path:
            deep.rmdir()
            deep = deep.parent


def test_output_dash_is_standard_output(tmp_path: Path) -> None:
    proc = _cli("analyze", str(SAMPLES / "healthy_keras"), "--output", "-", "--format", "json", "--fail-on", "never",
                cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("{") and not (tmp_path / "-").exists()


@pytest.mark.parametrize("value", ['"4"', "400", "0", "true", "1.5"])
def test_config_workers_is_validated(tmp_path: Path, value: str) -> None:
    (tmp_path / "pyproject.toml").write_text(f"[tool.trainlog_doctor]\nworkers = {value}\n")
    proc = _cli("analyze", str(SAMPLES / "healthy_keras"), cwd=tmp_path)
    assert proc.returncode == 2 and "workers must be a whole number from 1 to 256" in proc.stderr
    assert "Traceback" not in proc.stderr


def _corrupt_cache(cache: Path, edit) -> None:  # type: ignore[no-untyped-def]
    import json

    lines = cache.read_text(encoding="utf-8").splitlines()
    out = []
    for line in lines:
        key_end = line.find('":{"sig"')
        if key_end < 0:
            out.append(line)
            continue
        key, rest = line[: key_end + 2], line[key_end + 2 :]
        comma = rest.endswith(",")
        unit = json.loads(rest.rstrip(","))
        edit(unit)
        out.append(key + json.dumps(unit) + ("," if comma else ""))
    cache.write_text("\n".join(out) + "\n", encoding="utf-8")


@pytest.mark.parametrize(
    "edit",
    [
        lambda u: u["entries"][0].update(report="../../victim.json"),  # a path out of runs/
        lambda u: u["entries"][0].update(run="not a run"),
        lambda u: u["entries"][0].update(page=123),
        lambda u: u["entries"][0]["run"].update(findings=[None]),
    ],
)
def test_a_cache_of_the_wrong_shape_is_ignored(tmp_path: Path, edit) -> None:  # type: ignore[no-untyped-def]
    import json

    out = tmp_path / "out"
    (tmp_path / "victim.json").write_text('{"runs": [{"run_id": "secret"}]}')
    assert _cli("audit", str(SAMPLES / "healthy_keras"), "--output", str(out), cwd=tmp_path).returncode in (0, 1)
    _corrupt_cache(out / "cache.json", edit)
    proc = _cli("audit", str(SAMPLES / "healthy_keras"), "--output", str(out), cwd=tmp_path)
    assert proc.returncode in (0, 1) and "Traceback" not in proc.stderr, proc.stderr
    assert "1 analyzed, 0 from cache" in proc.stderr  # the bad unit was analyzed again
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert [r["run_id"] for r in summary["runs"]] != ["secret"] and "secret" not in json.dumps(summary)


def test_a_fifo_at_the_cache_path_does_not_hang_the_audit(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    os.mkfifo(out / "cache.json")
    proc = _cli("audit", str(SAMPLES / "healthy_keras"), "--output", str(out), cwd=tmp_path)  # timeout: 300 s
    assert proc.returncode in (0, 1), proc.stderr


def test_stale_page_cleanup_deletes_only_what_the_tool_wrote(tmp_path: Path) -> None:
    src = tmp_path / "src"
    shutil.copytree(SAMPLES / "healthy_keras", src / "a")
    shutil.copytree(SAMPLES / "plateau", src / "b")
    out = tmp_path / "out"
    assert _cli("audit", str(src), "--output", str(out), cwd=tmp_path).returncode in (0, 1)
    users = out / "runs" / "notes-20240101.html"  # looks like a page name, but the user put it there
    users.write_text("my notes")
    pages_b = [p for p in (out / "runs").iterdir() if p.name.startswith("b") or "plateau" in p.name]
    shutil.rmtree(src / "b")
    assert _cli("audit", str(src), "--output", str(out), cwd=tmp_path).returncode in (0, 1)
    assert users.read_text() == "my notes"
    assert pages_b and not any(p.exists() for p in pages_b)  # the removed run's page and report are gone
