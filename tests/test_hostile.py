"""Hostile inputs and failing outputs (issue 10): each test reproduces an attack first, then checks it holds.

* planted workflow commands under ``GITHUB_ACTIONS=true`` (stdout and stderr, every format);
* control characters in every format, from the report model on;
* adversarial sizes (a million keys per JSON line, CSV lines of megabytes) with time and memory bounds;
* links out of the tree, a runs/ folder linked into the input, duplicate run ids;
* concurrent audits, SIGTERM / SIGINT / ``kill -9`` of an audit (no process left, resumable cache);
* full disks (``/dev/full``, a small tmpfs where the machine allows mounting one), failed page writes.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from trainlog_doctor.api import analyze
from trainlog_doctor.audit import AuditError, run_audit
from trainlog_doctor.audit.cache import load_cache
from trainlog_doctor.audit.lock import output_lock
from trainlog_doctor.audit.parallel import CHUNK_RUNS
from trainlog_doctor.model.clean import clean_text
from trainlog_doctor.stops import EXIT_INTERRUPTED, EXIT_IO, EXIT_TERMINATED

SRC = str(Path(__file__).resolve().parents[1] / "src")
REAL_LOGS = Path(__file__).resolve().parents[2] / "shared" / "real_logs"
ENV = {**os.environ, "PYTHONPATH": SRC, "PYTHONWARNINGS": "ignore"}
ENV.pop("GITHUB_ACTIONS", None)

#: A directory name that is a workflow command on its own line, the legacy form, terminal escapes.
SPOOF_DIR = "x\n::error file=README.md,line=1::spoofed"
LEGACY_DIR = "run ##[error]legacy"
ESC_DIR = "esc \x1b[31mred\x1b]0;title\x07 \x9b2J"
#: A workflow command at the start of a line (after whitespace), as the runner parses it.
COMMAND_LINE = re.compile(r"^\s*::([A-Za-z-]+)")


def _cli(*args: str, env: dict[str, str] | None = None, timeout: float = 120, **kw) -> subprocess.CompletedProcess:  # type: ignore[no-untyped-def]
    return subprocess.run([sys.executable, "-m", "trainlog_doctor", *args], capture_output=True, text=True,
                          env=env or ENV, timeout=timeout, **kw)


def _csv(path: Path, n: int = 30, *, nan_from: int | None = 20) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = ["epoch,loss,val_loss"]
    for e in range(n):
        loss = "nan" if nan_from is not None and e >= nan_from else f"{1.0 / (e + 1):.5f}"
        rows.append(f"{e},{loss},{1.2 / (e + 1):.5f}")
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")


@pytest.fixture()
def spoof_tree(tmp_path: Path) -> Path:
    """Runs whose directory names carry workflow commands and escapes, a symlink loop, a link out of the tree."""
    root = tmp_path / "tree"
    for name in (SPOOF_DIR, LEGACY_DIR, ESC_DIR):
        _csv(root / name / "training.log")
    (root / SPOOF_DIR / "loop").symlink_to(root / SPOOF_DIR)  # a warning naming the hostile directory
    (root / "outside").symlink_to(tmp_path.parent)
    return root


def _runner_view(stream: str) -> list[str]:
    """The workflow commands the GitHub runner would execute from one stream (honouring stop-commands)."""
    executed: list[str] = []
    stop_token: str | None = None
    for line in stream.split("\n"):
        if stop_token is not None:
            if line.strip() == f"::{stop_token}::":
                stop_token = None
            continue
        if "##[" in line:
            executed.append(line)
        m = COMMAND_LINE.match(line)
        if m:
            if m.group(1) == "stop-commands":
                stop_token = line.strip()[len("::stop-commands::"):]
                continue
            executed.append(line)
    return executed


# ============================================================================ workflow commands, controls


@pytest.mark.parametrize("fmt", ["text", "markdown", "json", "html"])
def test_no_planted_command_reaches_the_runner(spoof_tree: Path, fmt: str) -> None:
    res = _cli("analyze", str(spoof_tree), "--format", fmt, env={**ENV, "GITHUB_ACTIONS": "true"})
    assert res.returncode in (0, 1), res.stderr
    assert "spoofed" in res.stdout or fmt == "html"  # the hostile run is reported
    assert _runner_view(res.stdout) == []
    assert _runner_view(res.stderr) == []
    assert res.stderr.startswith("::stop-commands::")  # the window opens before anything log-derived
    token = res.stderr.split("\n", 1)[0].rsplit("::", 1)[1]
    assert token not in res.stdout.replace(f"::stop-commands::{token}", "").replace(f"::{token}::", "")
    if fmt == "text":  # the human report is wrapped too; a data format on stdout stays byte-exact
        assert res.stdout.startswith(f"::stop-commands::{token}\n") and res.stdout.endswith(f"::{token}::\n")
    else:
        assert "stop-commands" not in res.stdout
    if fmt == "json":
        assert json.loads(res.stdout)["runs"]


def test_github_format_passes_its_annotations_and_nothing_else(spoof_tree: Path) -> None:
    res = _cli("analyze", str(spoof_tree), "--format", "github", env={**ENV, "GITHUB_ACTIONS": "true"})
    executed = _runner_view(res.stdout)
    assert executed and all(re.match(r"^::(error|warning|notice)( [^:]*)?::", line) for line in executed), executed
    assert not any(c in res.stdout for c in "\x1b\x07\x9b"), "raw escapes in --format github"
    assert all("##[" not in line for line in executed)
    assert _runner_view(res.stderr) == []


def test_outside_github_actions_nothing_is_wrapped(spoof_tree: Path) -> None:
    res = _cli("analyze", str(spoof_tree), "--format", "text")
    assert "stop-commands" not in res.stdout + res.stderr
    assert not any(COMMAND_LINE.match(line) for line in res.stdout.split("\n"))
    assert "# #[error]legacy" in res.stdout  # the legacy form is defused in place


def test_every_log_string_is_free_of_controls_in_every_format(spoof_tree: Path) -> None:
    from trainlog_doctor.report.formats import render

    report = analyze([spoof_tree])
    assert {r.run_id for r in report.runs} >= {clean_text(SPOOF_DIR), clean_text(LEGACY_DIR), clean_text(ESC_DIR)}
    controls = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
    for fmt in ("json", "text", "markdown", "github", "html"):
        out = render(report, fmt)
        assert not controls.search(out), (fmt, controls.search(out))
    doc = json.loads(render(report, "json"))
    assert all("\n" not in r["run_id"] and "\x1b" not in r["path"] for r in doc["runs"])


# ============================================================================ adversarial sizes


def test_a_million_keys_per_json_line_is_cut_with_a_warning(tmp_path: Path) -> None:
    """Was: 2,000 keys 3.4 s, 20,000 keys 260 s, 1,000,000 keys aborted (schema rebuilt per column)."""
    path = tmp_path / "wide" / "log.txt"
    path.parent.mkdir()
    with open(path, "w", encoding="utf-8") as fh:
        for step in range(3):
            fh.write(json.dumps({"epoch": step, "train_loss": 1.0 / (step + 1), **{f"k{i}": 0.5 for i in range(20_000)}}))
            fh.write("\n")
    t0 = time.perf_counter()
    (run,) = analyze([path]).runs
    assert time.perf_counter() - t0 < 30
    assert run.status == "ok"
    assert any("20,002 columns; only the first 5,000 were read" in w for w in run.warnings), run.warnings
    assert len(run.series) == 4_999  # train_loss and 4,998 keys (epoch is the index)


def test_csv_with_very_long_lines_is_refused_in_bounded_memory(tmp_path: Path) -> None:
    """Was: a 500 MB CSV of long lines took more than 5.4 GB; now refused before it is decoded."""
    path = tmp_path / "long" / "training.log"
    path.parent.mkdir()
    line = ",".join(["0.5"] * 2_000_000)  # 8 MB per line
    with open(path, "w", encoding="ascii") as fh:
        fh.write("epoch,loss\n")
        for _ in range(6):
            fh.write(line + "\n")
    code = ("import resource, sys, json; from trainlog_doctor.api import analyze; r = analyze([sys.argv[1]]).runs[0]; "
            "print(json.dumps([r.status, r.error, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024]))")
    res = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, env=ENV, timeout=120)
    status, error, peak_mb = json.loads(res.stdout)
    assert status == "error" and "line longer than 1 MiB" in error
    assert peak_mb < 48 * 3 + 400, peak_mb  # the file once, plus the interpreter and libraries


def test_zero_filled_tails_are_read(tmp_path: Path) -> None:
    """A crash while writing leaves the tail zero-filled; the text before it is the log."""
    csv = tmp_path / "a" / "training.log"
    _csv(csv, nan_from=None)
    csv.write_bytes(csv.read_bytes() + b"\x00" * 8192)
    jl = tmp_path / "b" / "metrics.jsonl"
    jl.parent.mkdir()
    jl.write_bytes(b"".join(json.dumps({"step": s, "loss": 1.0 / (s + 1)}).encode() + b"\n" for s in range(20)) + b"\x00" * 8192)
    runs = {r.run_id: r for r in analyze([tmp_path]).runs}
    assert runs["a"].status == "ok" and any("NUL bytes" in w for w in runs["a"].warnings)
    assert runs["b"].status == "ok" and runs["b"].series[0].points == 20


def test_epochs_beyond_float64_precision_stay_one_run(tmp_path: Path) -> None:
    """Was: CSV epochs of 2^70 (all one float64) split a run into 20 one-point runs."""
    path = tmp_path / "big" / "training.log"
    path.parent.mkdir()
    path.write_text("epoch,loss\n" + "".join(f"{2**70 + e},{1.0 / (e + 1)}\n" for e in range(20)))
    (run,) = analyze([path]).runs
    assert run.status == "ok" and [(s.metric, s.points) for s in run.series] == [("loss", 20)]
    assert any("beyond 2^53" in w for w in run.warnings)


def test_mid_file_event_damage_says_where(tmp_path: Path) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from test_reliability import scalar_event, tfrecord, version_event

    records = [tfrecord(version_event())] + [tfrecord(scalar_event("loss", s, 1.0 / (s + 1), 1.7e9 + s)) for s in range(4000)]
    data = bytearray(b"".join(records))
    at = sum(len(r) for r in records[:1000])
    data[at : at + 8] = (1 << 40).to_bytes(8, "little")  # a record length far past the end of the file
    path = tmp_path / "run" / "events.out.tfevents.1.host"
    path.parent.mkdir()
    path.write_bytes(bytes(data))
    (run,) = analyze([path.parent]).runs
    assert run.status == "ok" and run.series[0].points == 999
    assert any(f"at byte {at}" in w and "kept the 1000 records before it" in w for w in run.warnings), run.warnings


def test_analyze_timeout_lists_the_run_as_an_error(tmp_path: Path) -> None:
    path = tmp_path / "slow" / "log.txt"
    path.parent.mkdir()
    with open(path, "w", encoding="utf-8") as fh:
        for step in range(40):  # 2,000 falling losses of 40 points: seconds of analysis, far over 0.3 s
            losses = {f"loss_{i}": 1 / (1 + step) + 0.01 * (i * step % 7) for i in range(2_000)}
            fh.write(json.dumps({"epoch": step, **losses}) + "\n")
    _csv(tmp_path / "quick" / "training.log")
    res = _cli("analyze", str(tmp_path), "--format", "json", "--timeout", "0.3", "--fail-on", "never")
    runs = {r["run_id"]: r for r in json.loads(res.stdout)["runs"]}
    assert runs["slow"]["status"] == "error" and "stopped after 0.3 s (--timeout)" in runs["slow"]["error"]
    assert runs["quick"]["status"] == "ok"


# ============================================================================ links and names


def test_links_out_of_the_tree_are_skipped_unless_followed(tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere"
    _csv(outside / "run" / "training.log")
    root = tmp_path / "tree"
    _csv(root / "mine" / "training.log")
    (root / "to_elsewhere").symlink_to(outside)
    _csv(outside / "single.csv")
    (root / "one_file.csv").symlink_to(outside / "single.csv")
    notes: list[str] = []
    ids = {r.run_id for r in analyze([root], warnings=notes).runs}
    assert ids == {"mine"}
    assert sum("symlink to outside the tree, skipped" in n for n in notes) == 2
    assert {r.run_id for r in analyze([root], follow_links=True).runs} == {"mine", "to_elsewhere/run", "tree"}


def test_audit_never_reads_its_own_output_or_writes_through_runs_links(tmp_path: Path) -> None:
    root = tmp_path / "tree"
    _csv(root / "a" / "training.log")
    out = tmp_path / "out"
    (root / "reports").symlink_to(out, target_is_directory=True)  # an input link to the output
    first = run_audit(root, out, workers=1, follow_links=True)
    second = run_audit(root, out, workers=1, follow_links=True, use_cache=False)
    assert [e.run["run_id"] for e in first.entries] == [e.run["run_id"] for e in second.entries] == ["a"]
    out2 = tmp_path / "out2"
    out2.mkdir()
    (out2 / "runs").symlink_to(root / "a")  # OUT/runs linked into the input
    with pytest.raises(AuditError, match="overlap the input"):
        run_audit(root, out2, workers=1)
    assert sorted(p.name for p in (root / "a").iterdir()) == ["training.log"]


def test_duplicate_run_ids_keep_their_own_pages(tmp_path: Path) -> None:
    """A directory ``k1#2`` next to a CSV ``k1`` holding two appended runs: both are called ``k1#2``."""
    root = tmp_path / "tree"
    _csv(root / "k1#2" / "training.log", nan_from=None)
    appended = root / "k1" / "training.log"
    _csv(appended)
    appended.write_text(appended.read_text() + "\n".join(appended.read_text().splitlines()[1:]) + "\n")
    out = tmp_path / "out"
    res = run_audit(root, out, workers=1)
    dup = [e for e in res.entries if e.run["run_id"] == "k1#2"]
    assert len(dup) == 2 and dup[0].page != dup[1].page and dup[0].report != dup[1].report
    summary = json.loads((out / "summary.json").read_text())["runs"]
    paths = sorted(r["path"] for r in summary if r["run_id"] == "k1#2")
    assert paths == sorted([str(root / "k1#2" / "training.log"), str(appended)])


# ============================================================================ concurrent, killed and failing audits


def test_a_second_audit_into_the_same_output_exits_2(tmp_path: Path) -> None:
    root = tmp_path / "tree"
    _csv(root / "a" / "training.log")
    out = tmp_path / "out"
    out.mkdir()
    with output_lock(out):
        res = _cli("audit", str(root), "--output", str(out), "--workers", "1")
    assert res.returncode == 2 and "another audit is writing into" in res.stderr
    assert run_audit(root, out, workers=1).analyzed == 1  # the lock went with the first holder


@pytest.fixture(scope="module")
def many_runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tree of real logs (a copy: links out of the tree are not followed), enough for a few seconds of audit."""
    if not REAL_LOGS.is_dir():
        pytest.skip("../shared/real_logs not available")
    root = tmp_path_factory.mktemp("many") / "tree"
    shutil.copytree(REAL_LOGS, root, ignore=shutil.ignore_patterns("*.tsv", "*.md"))
    return root


def _descendants(pid: int) -> set[int]:
    """Every live process below ``pid`` (from /proc)."""
    children: dict[int, list[int]] = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                ppid = int(Path(f"/proc/{d}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(d))
    out: set[int] = set()
    todo = [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            out.add(c)
            todo.append(c)
    return out


def _alive(pids: set[int]) -> set[int]:
    alive = set()
    for p in pids:
        try:
            state = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            alive.add(p)
    return alive


def _start_audit(root: Path, out: Path, pages: int = 4) -> tuple[subprocess.Popen, set[int]]:  # type: ignore[type-arg]
    """An audit on two workers, once it has written ``pages`` pages; and its processes."""
    proc = subprocess.Popen([sys.executable, "-m", "trainlog_doctor", "audit", str(root), "--output", str(out), "--workers", "2"],
                            env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(list((out / "runs").glob("*.html"))) < pages:
        time.sleep(0.1)
    time.sleep(0.3)  # the finished chunk's entries reach the parent
    assert proc.poll() is None, "the audit ended before it could be stopped"
    return proc, _descendants(proc.pid)


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
@pytest.mark.parametrize("sig, code", [(signal.SIGTERM, EXIT_TERMINATED), (signal.SIGINT, EXIT_INTERRUPTED)])
def test_a_stopped_audit_cleans_up_and_resumes(many_runs: Path, tmp_path: Path, sig: int, code: int) -> None:
    """Was: SIGTERM left the forkserver, workers and resource tracker running and saved no progress."""
    out = tmp_path / "out"
    # two workers each hold at most one chunk of CHUNK_RUNS runs: past twice that many pages, a chunk is done
    proc, kids = _start_audit(many_runs, out, pages=2 * CHUNK_RUNS + 1)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    assert err.strip().splitlines()[-1].startswith("trainlog-doctor: ") and "Traceback" not in err
    deadline = time.monotonic() + 10
    while _alive(kids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(kids), "processes outlived the audit"
    assert not list(out.rglob("*.tmp"))
    units, ok = load_cache(out)  # what the next audit reuses without reading the logs again
    assert ok and units, "the finished runs were not saved"
    for raw in units.values():
        for e in json.loads(raw)["entries"]:
            assert (out / "runs" / e["page"]).is_file()


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
def test_kill_9_of_an_audit_leaves_no_process_behind(many_runs: Path, tmp_path: Path) -> None:
    proc, kids = _start_audit(many_runs, tmp_path / "out")
    assert kids
    proc.kill()
    proc.communicate(timeout=30)
    deadline = time.monotonic() + 10
    while _alive(kids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(kids), "workers, forkserver or resource tracker outlived a killed audit"


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full")
def test_a_full_standard_output_exits_3(spoof_tree: Path) -> None:
    with open("/dev/full", "w") as full:
        res = subprocess.run([sys.executable, "-m", "trainlog_doctor", "analyze", str(spoof_tree), "--format", "json"],
                             stdout=full, stderr=subprocess.PIPE, text=True, env=ENV, timeout=60)
    assert res.returncode == EXIT_IO, res.stderr
    assert "No space left on device" in res.stderr and "Traceback" not in res.stderr


@pytest.fixture()
def tiny_fs(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A 64 KiB tmpfs (needs root and mount rights; skipped elsewhere)."""
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mnt)],
                                           capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", str(mnt)], capture_output=True)


def test_a_full_disk_exits_3_and_leaves_nothing_half_written(tiny_fs: Path, tmp_path: Path) -> None:
    """Was: a traceback, ~240 *.tmp files left, a truncated report at the final path, exit 1."""
    root = tmp_path / "tree"
    for k in range(16):
        _csv(root / f"run{k:02d}" / "training.log", n=300)
    res = _cli("audit", str(root), "--output", str(tiny_fs / "aud"), "--workers", "1")
    assert res.returncode == EXIT_IO and "No space left on device" in res.stderr and "Traceback" not in res.stderr
    assert not list(tiny_fs.rglob("*.tmp"))
    res = _cli("analyze", str(root), "--output", str(tiny_fs / "report.html"))
    assert res.returncode == EXIT_IO and not (tiny_fs / "report.html").exists()
    assert not list(tiny_fs.rglob("*.tmp"))


def test_the_cache_never_serves_a_run_whose_page_failed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Was: runs stored while runs/ was unwritable were served from the cache without pages ever after."""
    import trainlog_doctor.audit.worker as worker

    root = tmp_path / "tree"
    for k in range(3):
        _csv(root / f"r{k}" / "training.log")
    out = tmp_path / "out"

    def failing(path: Path, text: str) -> None:
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(worker, "write_atomic", failing)
    broken = run_audit(root, out, workers=1)
    assert broken.write_failures == 3 and all(e.page is None for e in broken.entries)
    monkeypatch.undo()
    fixed = run_audit(root, out, workers=1)
    assert fixed.analyzed == 3 and fixed.cached == 0 and fixed.write_failures == 0
    assert all((out / "runs" / str(e.page)).is_file() for e in fixed.entries)


def test_losses_near_the_float_limit_give_sane_findings_and_no_warnings(tmp_path: Path) -> None:
    """A loss that leaps to ~1e308 and wanders there diverged (never "pinned", never "inf x"); one pinned at
    exactly 1e308 is pinned; neither raises a numpy overflow warning or fails a rule."""
    import random
    import warnings

    from trainlog_doctor.api import analyze

    rng = random.Random(1)
    head = [f"{e},{0.5 / (e + 1)},{0.6 / (e + 1)}" for e in range(10)]
    wander = [f"{e},{rng.uniform(0.3, 1.7) * 1e308},{rng.uniform(0.3, 1.7) * 1e308}" for e in range(10, 20)]
    pinned = [f"{e},1e308,1e308" for e in range(10, 20)]
    for name, tail in (("wander", wander), ("pinned", pinned)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "training.log").write_text("\n".join(["epoch,loss,val_loss", *head, *tail]) + "\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        report = analyze([tmp_path], select=None)
    runs = {r.run_id: r for r in report.runs}
    assert all(r.status == "ok" for r in runs.values())
    wandering = runs["wander"].findings
    assert {f.code for f in wandering} == {"DV001"} and all("inf" not in f.message for f in wandering)
    assert {f.kind for f in runs["pinned"].findings} == {"collapse"}
