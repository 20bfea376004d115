"""``trainlog-doctor audit`` on a small hand-made tree of 20 runs (healthy, broken, ugly).

The tree has Keras CSVs (healthy, diverging, NaN tail, overfitting, ``;``-separated, two appended runs,
a run named ``<script>alert(1)</script>``), a DETR-style JSON-lines log, a torch-style event file, a
tf.keras ``train/`` + ``validation/`` event pair in a subdirectory, and broken runs (empty file,
binary junk, a Git LFS pointer, an event file that is not TFRecord, a header-only CSV).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import shutil
import struct
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from trainlog_doctor.audit import AuditEntry, AuditError, parse_since, run_audit
from trainlog_doctor.audit.index import index_data
from trainlog_doctor.audit.parallel import RunStats, run_parallel
from trainlog_doctor.audit.units import page_name
from trainlog_doctor.cli import main
from trainlog_doctor.readers.discover import Candidate

XSS = "<script>alert(1)</script>"
N_UNITS = 20  # discovered candidates
N_RUNS = 21  # entries (one file holds two appended runs)


# --------------------------------------------------------------------------------------------------
# the tree


def _csv(path: Path, cols: dict[str, np.ndarray], sep: str = ",", epochs: np.ndarray | None = None) -> None:
    n = len(next(iter(cols.values())))
    ep = np.arange(n) if epochs is None else epochs
    names = sorted(cols)
    lines = [sep.join(["epoch", *names])]
    for i in range(n):
        vals = [cols[k][i] for k in names]
        lines.append(sep.join([str(int(ep[i])), *("nan" if math.isnan(v) else f"{v:.6g}" for v in vals)]))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _healthy(rng: np.random.Generator, n: int = 60, start: float = 2.3) -> dict[str, np.ndarray]:
    t = np.arange(n)
    loss = start * np.exp(-t / 15) + 0.2 + 0.01 * rng.standard_normal(n)
    val = start * np.exp(-t / 15) + 0.3 + 0.02 * rng.standard_normal(n)
    acc = 1 - 0.9 * np.exp(-t / 12) + 0.005 * rng.standard_normal(n)
    return {"loss": loss, "val_loss": val, "accuracy": np.clip(acc, 0, 1), "val_accuracy": np.clip(acc - 0.03, 0, 1)}


def _events(path: Path, points: list[tuple[str, int, float]], *, tensor: bool = False) -> None:
    """An event file written with tensorboard's own writer (simple_value or TF2 tensor scalars)."""
    from tensorboard.compat.proto import event_pb2, summary_pb2
    from tensorboard.util import tensor_util

    path.mkdir(parents=True, exist_ok=True)
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    w = EventFileWriter(str(path))
    for i, (tag, step, v) in enumerate(points):
        if tensor:
            meta = summary_pb2.SummaryMetadata(plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="scalars"))
            val = summary_pb2.Summary.Value(tag=tag, tensor=tensor_util.make_tensor_proto(np.float32(v)), metadata=meta)
        else:
            val = summary_pb2.Summary.Value(tag=tag, simple_value=v)
        w.add_event(event_pb2.Event(wall_time=1.7e9 + i, step=step, summary=summary_pb2.Summary(value=[val])))
    w.close()


def build_tree(root: Path) -> None:
    rng = np.random.default_rng(7)
    k = root / "keras"
    for i in range(5):
        _csv(k / f"healthy_{i}" / "training.log", _healthy(rng, start=2.0 + 0.2 * i))
    d = _healthy(rng)
    d["loss"][30:] = d["loss"][30] * np.exp(np.arange(30) / 6)
    d["val_loss"][30:] = d["val_loss"][30] * np.exp(np.arange(30) / 5)
    _csv(k / "diverge" / "training.log", d)
    d = _healthy(rng)
    d["loss"][45:] = np.nan
    d["val_loss"][45:] = np.nan
    _csv(k / "nan_tail" / "training.log", d)
    d = _healthy(rng)
    d["val_loss"][25:] = d["val_loss"][25] + 0.03 * np.arange(35)
    _csv(k / "overfit" / "history.csv", d)
    _csv(k / "semicolon" / "training.log", _healthy(rng), sep=";")
    a, b = _healthy(rng, 30), _healthy(rng, 20, start=1.0)
    both = {c: np.concatenate([a[c], b[c]]) for c in a}
    _csv(k / "appended" / "training.log", both, epochs=np.concatenate([np.arange(30), np.arange(20)]))
    d = _healthy(rng)
    d["loss"][20:] = d["loss"][20] + 0.002 * rng.standard_normal(40)
    _csv(k / "plateau" / "training.log", d)
    _csv(root / "<script>alert(1)<" / "script>" / "training.log", _healthy(rng))

    lines = [f'{{"train_loss": {1.5 * math.exp(-e / 10) + 0.1:.5f}, "test_loss": {1.6 * math.exp(-e / 10) + 0.2:.5f}, '
             f'"epoch": {e}, "n_parameters": 41000000}}' for e in range(40)]
    (root / "detr").mkdir()
    (root / "detr" / "log.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")

    steps = range(0, 600, 2)
    _events(root / "tb" / "torch_run", [p for s in steps for p in (
        ("train/loss", s, float(2.0 * math.exp(-s / 150) + 0.1 + 0.02 * rng.standard_normal())),
        ("lr", s, 1e-3),
    )] + [("val/loss", s, float(2.1 * math.exp(-s / 150) + 0.15)) for s in range(99, 600, 100)])
    pair = root / "tb" / "sub" / "keras_tb"
    _events(pair / "train", [("epoch_loss", e, 1.0 / (e + 1) + 0.05) for e in range(25)], tensor=True)
    _events(pair / "validation", [("epoch_loss", e, 1.1 / (e + 1) + 0.08) for e in range(25)], tensor=True)

    br = root / "broken"
    (br / "empty").mkdir(parents=True)
    (br / "empty" / "training.log").write_bytes(b"")
    (br / "junk").mkdir()
    (br / "junk" / "training.log").write_bytes(bytes(range(256)) * 8)
    (br / "lfs").mkdir()
    (br / "lfs" / "history.csv").write_text(
        "version https://git-lfs.github.com/spec/v1\noid sha256:" + "0" * 64 + "\nsize 9000\n", encoding="utf-8"
    )
    (br / "bad_tb").mkdir()
    (br / "bad_tb" / "events.out.tfevents.1700000000.host.1.0").write_bytes(b"not a tfrecord at all\n" * 4)
    (br / "header_only").mkdir()
    (br / "header_only" / "training.log").write_text("epoch,loss,val_loss\n", encoding="utf-8")
    old = time.time() - 3 * 86400  # everything three days old (the --since test touches one file)
    for p in root.rglob("*"):
        os.utime(p, (old, old))


def tree_digest(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
            for p in sorted(root.rglob("*"))}


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("audit") / "runs_tree"
    root.mkdir()
    build_tree(root)
    return root


@pytest.fixture(scope="module")
def cli_audit(tree: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any, dict[str, str]]:
    """One cold audit through the command line (2 workers, stderr not a terminal)."""
    before = tree_digest(tree)
    out = tmp_path_factory.mktemp("out") / "audit"
    res = CliRunner().invoke(main, ["audit", str(tree), "--output", str(out), "--workers", "2"])
    return out, res, before


@pytest.fixture(scope="module")
def serial_audit(tree: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    """One cold audit in this process (one worker), through the library call."""
    out = tmp_path_factory.mktemp("serial") / "audit"
    return out, run_audit(tree, out, workers=1)


def summary(out: Path) -> dict[str, Any]:
    return json.loads((out / "summary.json").read_text(encoding="utf-8"))


def by_id(out: Path) -> dict[str, dict[str, Any]]:
    return {r["run_id"]: r for r in summary(out)["runs"]}


# --------------------------------------------------------------------------------------------------
# outputs


def test_writes_index_pages_and_summary(cli_audit: tuple[Path, Any, dict[str, str]]) -> None:
    out, res, _ = cli_audit
    assert res.exit_code == 0, res.output
    doc = summary(out)
    assert doc["schema_version"] == 1 and doc["tool"]["name"] == "trainlog-doctor"
    runs = doc["runs"]
    assert len(runs) == N_RUNS
    ids = [r["run_id"] for r in runs]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    for r in runs:
        assert {"run_id", "path", "format", "status", "error", "series", "findings"} <= set(r)
        assert r["status"] in ("ok", "empty", "error")
        assert (r["error"] is None) == (r["status"] == "ok")
        for f in r["findings"]:
            assert f["severity"] in ("error", "warning", "info") and f["kind"] and f["code"]
    pages = sorted(p.name for p in (out / "runs").glob("*.html"))
    assert len(pages) == N_RUNS
    reports = sorted((out / "runs").glob("*.json"))  # one schema v1 report per run, as in the summary
    assert len(reports) == N_RUNS
    whole = {r["run_id"]: r for r in runs}
    for p in reports:
        one = json.loads(p.read_text(encoding="utf-8"))
        assert one["schema_version"] == 1 and len(one["runs"]) == 1
        assert whole[one["runs"][0]["run_id"]] == one["runs"][0]
    index = (out / "index.html").read_text(encoding="utf-8")
    for r in runs:  # every run has a row that links its page
        assert f'href="runs/{page_of(out, r["run_id"])}"' in index
    assert index.count("<tr>") == N_RUNS + 1
    assert "keras/healthy_0" in index and "keras/appended#2" in index


def test_runs_read_as_expected(cli_audit: tuple[Path, Any, dict[str, str]]) -> None:
    out, _, _ = cli_audit
    runs = by_id(out)
    assert runs["keras/healthy_0"]["status"] == "ok" and runs["keras/healthy_0"]["format"] == "keras_csv"
    assert runs["keras/appended"]["status"] == "ok" and runs["keras/appended#2"]["status"] == "ok"
    # the tf.keras pair in a subdirectory is one run with train and val series
    pair = runs["tb/sub/keras_tb"]
    assert pair["status"] == "ok" and pair["format"] == "tfevents"
    assert {(s["metric"], s["split"]) for s in pair["series"]} >= {("loss", "train"), ("loss", "val")}
    assert runs["tb/torch_run"]["status"] == "ok"
    assert runs["detr"]["status"] == "ok"
    diverge = {f["kind"] for f in runs["keras/diverge"]["findings"]}
    assert diverge & {"divergence", "overfitting"}
    assert "non_finite" in {f["kind"] for f in runs["keras/nan_tail"]["findings"]}


def test_broken_runs_are_listed_with_their_error(cli_audit: tuple[Path, Any, dict[str, str]]) -> None:
    out, _, _ = cli_audit
    runs = by_id(out)
    assert runs["broken/empty"]["status"] == "empty" and "empty" in runs["broken/empty"]["error"]
    assert runs["broken/junk"]["status"] == "error" and "binary" in runs["broken/junk"]["error"]
    assert runs["broken/lfs"]["status"] == "error" and "LFS" in runs["broken/lfs"]["error"]
    assert runs["broken/bad_tb"]["status"] == "error" and "TFRecord" in runs["broken/bad_tb"]["error"]
    assert runs["broken/header_only"]["status"] in ("empty", "error") and runs["broken/header_only"]["error"]
    index = (out / "index.html").read_text(encoding="utf-8")
    assert "Git LFS pointer" in index
    page = (out / "runs" / page_of(out, "broken/junk")).read_text(encoding="utf-8")
    assert "binary" in page


def test_no_progress_bar_without_a_terminal(cli_audit: tuple[Path, Any, dict[str, str]]) -> None:
    _, res, _ = cli_audit
    text = res.stderr if hasattr(res, "stderr") else res.output
    assert "\r" not in text and "auditing" not in text
    assert re.search(r"audited 21 run\(s\) from 20 log\(s\) in [\d.]+ s \(20 analyzed, 0 from cache", text), text


def test_index_escapes_run_names(cli_audit: tuple[Path, Any, dict[str, str]]) -> None:
    out, _, _ = cli_audit
    assert XSS in by_id(out)
    index = (out / "index.html").read_text(encoding="utf-8")
    assert XSS not in index and "alert(1)" in index
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in index
    name = page_of(out, XSS)
    assert re.fullmatch(r"[A-Za-z0-9._-]+\.html", name)
    page = (out / "runs" / name).read_text(encoding="utf-8")
    assert XSS not in page and "&lt;script&gt;" in page


def test_input_tree_unchanged(tree: Path, cli_audit: tuple[Path, Any, dict[str, str]]) -> None:
    _, _, before = cli_audit
    assert tree_digest(tree) == before


# --------------------------------------------------------------------------------------------------
# determinism and the cache


def test_same_output_with_one_or_two_workers(cli_audit: tuple[Path, Any, dict[str, str]],
                                            serial_audit: tuple[Path, Any]) -> None:
    out2, _, _ = cli_audit
    out1, r1 = serial_audit
    assert r1.workers == 1 and r1.analyzed == N_UNITS
    assert (out1 / "summary.json").read_bytes() == (out2 / "summary.json").read_bytes()

    def rows(p: Path) -> str:
        html = (p / "index.html").read_text(encoding="utf-8")
        return re.sub(r"[\d.]+ s</div>", "", html)  # the elapsed time differs

    assert rows(out1) == rows(out2)
    assert sorted(os.listdir(out1 / "runs")) == sorted(os.listdir(out2 / "runs"))


def test_cache_hits_and_invalidation(tree: Path, tmp_path: Path) -> None:
    src = tmp_path / "copy"
    shutil.copytree(tree, src)
    out = tmp_path / "out"
    first = run_audit(src, out, workers=1)
    assert first.analyzed == N_UNITS and first.cached == 0
    doc1 = (out / "summary.json").read_bytes()

    second = run_audit(src, out, workers=1)
    assert second.analyzed == 0 and second.cached == N_UNITS
    assert (out / "summary.json").read_bytes() == doc1

    # a new mtime alone re-analyzes that run only
    f = src / "keras" / "healthy_1" / "training.log"
    st = f.stat()
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
    third = run_audit(src, out, workers=1)
    assert third.analyzed == 1 and third.cached == N_UNITS - 1
    assert (out / "summary.json").read_bytes() == doc1

    # a new size (one more epoch) too, and the summary shows it
    with open(f, "a", encoding="utf-8") as fh:
        fh.write("60,0.25,0.97,0.3,0.94\n")
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))  # same mtime as before: size decides
    fourth = run_audit(src, out, workers=1)
    assert fourth.analyzed == 1
    run = {r["run_id"]: r for r in json.loads((out / "summary.json").read_text())["runs"]}["keras/healthy_1"]
    assert {s["metric"]: s["points"] for s in run["series"] if s["split"] == "train"}["loss"] == 61

    # a removed run disappears with its page
    shutil.rmtree(src / "keras" / "plateau")
    fifth = run_audit(src, out, workers=1)
    assert fifth.analyzed == 0 and fifth.cached == N_UNITS - 1
    assert "keras/plateau" not in {r["run_id"] for r in json.loads((out / "summary.json").read_text())["runs"]}
    assert not any((out / "runs").glob("keras_plateau-*.html"))


def test_cache_follows_rule_options_and_progress_is_reported(tree: Path, serial_audit: tuple[Path, Any],
                                                             tmp_path: Path) -> None:
    out = tmp_path / "out"
    shutil.copytree(serial_audit[0], out)  # a warm cache made without options
    seen: list[tuple[int, int]] = []
    sel = run_audit(tree, out, workers=1, options={"select": ["non_finite"]}, progress=lambda d, t, _runs: seen.append((d, t)))
    assert sel.analyzed == N_UNITS
    kinds = {f["kind"] for e in sel.entries for f in e.run["findings"]}
    assert kinds == {"non_finite"}
    assert seen[0] == (0, N_UNITS) and seen[-1] == (N_UNITS, N_UNITS)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    with pytest.raises(AuditError, match="unknown rule selector"):
        run_audit(tree, out, workers=1, options={"select": ["NOPE999"], "ignore": None})


def test_since_keeps_recent_runs(tree: Path, tmp_path: Path) -> None:
    src = tmp_path / "copy"
    shutil.copytree(tree, src, copy_function=shutil.copy2)  # keeps the three-day-old mtimes
    os.utime(src / "keras" / "diverge" / "training.log")  # now
    res = run_audit(src, tmp_path / "out", workers=1, since=parse_since("1d"))
    assert [e.run["run_id"] for e in res.entries] == ["keras/diverge"] and res.analyzed == 1
    again = run_audit(src, tmp_path / "out", workers=1, since=parse_since("1d"))
    assert again.analyzed == 0 and again.cached == 1
    forced = run_audit(src, tmp_path / "out", workers=1, since=parse_since("1d"), use_cache=False)
    assert forced.analyzed == 1
    assert parse_since("2h") == pytest.approx(time.time() - 7200, abs=5)
    with pytest.raises(ValueError, match="--since"):
        parse_since("yesterday-ish")


# --------------------------------------------------------------------------------------------------
# refusing bad outputs


def test_output_inside_input_is_refused(tree: Path) -> None:
    before = tree_digest(tree)
    res = CliRunner().invoke(main, ["audit", str(tree), "--output", str(tree / "report")])
    assert res.exit_code == 2 and "refusing" in res.output
    assert tree_digest(tree) == before
    with pytest.raises(AuditError, match="refusing"):
        run_audit(tree, tree / "keras" / "out")
    with pytest.raises(AuditError, match="overlap"):
        _overlap(tree)
    assert tree_digest(tree) == before


def _overlap(tree: Path) -> None:
    """An output whose ``runs/`` folder would be the input itself: refused by the library and the CLI."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        runs = Path(tmp) / "runs"
        shutil.copytree(tree / "keras" / "healthy_0", runs / "healthy_0")
        before = tree_digest(runs)
        res = CliRunner().invoke(main, ["audit", str(runs), "--output", tmp, "--workers", "1"])
        assert res.exit_code == 2 and "overlap" in res.output and "Traceback" not in res.output
        assert tree_digest(runs) == before and not (Path(tmp) / "index.html").exists()
        run_audit(runs, Path(tmp), workers=1)


# --------------------------------------------------------------------------------------------------
# a worker that dies


class CrashReader:
    """A reader whose read kills the worker process, as the OOM killer would."""

    format = "keras_csv"
    unit = "file"

    def sniff(self, path: Path, head: bytes) -> bool:  # pragma: no cover - never sniffed
        return False

    def read(self, path: Path, run_id: str) -> list[Any]:
        os._exit(3)


def test_a_dying_worker_costs_only_its_run(tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from trainlog_doctor.audit import parallel
    from trainlog_doctor.readers import reader_for_file

    monkeypatch.setattr(parallel, "BIG_UNIT_BYTES", 5)  # every run counts as big: one at a time, still all done

    good = tree / "keras" / "healthy_0" / "training.log"
    reader = reader_for_file(good)
    assert reader is not None
    todo = [(0, Candidate("good_a", good, reader)), (1, Candidate("boom", good, CrashReader())),
            (2, Candidate("good_b", good, reader))]
    (tmp_path / "runs").mkdir()
    got: dict[int, list[AuditEntry]] = {}
    stats = RunStats()
    run_parallel(todo, {0: 10, 1: 10, 2: 10}, tmp_path, {"select": None, "ignore": None}, 2,
                  lambda i, e: got.__setitem__(i, e), stats)
    assert sorted(got) == [0, 1, 2] and stats.crashed == 1
    assert got[0][0].run["status"] == "ok" and got[2][0].run["status"] == "ok"
    assert got[1][0].run["status"] == "error" and "died" in got[1][0].run["error"]


class HangReader:
    """A reader that never finishes (a pathological log)."""

    format = "keras_csv"
    unit = "file"

    def sniff(self, path: Path, head: bytes) -> bool:  # pragma: no cover - never sniffed
        return False

    def read(self, path: Path, run_id: str) -> list[Any]:
        while True:
            time.sleep(0.05)


def test_a_hanging_run_times_out_in_a_worker(tree: Path, tmp_path: Path) -> None:
    from trainlog_doctor.readers import reader_for_file

    good = tree / "keras" / "healthy_0" / "training.log"
    reader = reader_for_file(good)
    assert reader is not None
    todo = [(0, Candidate("good", good, reader)), (1, Candidate("stuck", good, HangReader()))]
    (tmp_path / "runs").mkdir()
    got: dict[int, list[AuditEntry]] = {}
    t0 = time.perf_counter()
    run_parallel(todo, {0: 10, 1: 10}, tmp_path, {"select": None, "ignore": None, "timeout": 1.0}, 2,
                  lambda i, e: got.__setitem__(i, e), RunStats())
    assert time.perf_counter() - t0 < 20
    assert got[0][0].run["status"] == "ok"
    stuck = got[1][0].run
    assert stuck["status"] == "error" and stuck["error"] == "analysis stopped after 1 s (audit --timeout)"


def test_a_timed_out_run_is_listed_and_retried_next_time(tree: Path, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from trainlog_doctor import api

    real = api.analyze_candidate

    def slow_for_one(cand: Candidate, options: dict[str, Any], **kw: Any) -> Any:
        if cand.run_id == "keras/plateau":
            time.sleep(60)
        return real(cand, options, **kw)

    monkeypatch.setattr(api, "analyze_candidate", slow_for_one)
    out = tmp_path / "out"
    first = run_audit(tree, out, workers=1, timeout=3.0)
    reference = {e.run["run_id"]: e.run for e in run_audit(tree, tmp_path / "ref", workers=1).entries}
    got = {e.run["run_id"]: e.run for e in first.entries}
    assert got["keras/plateau"]["error"] == "analysis stopped after 3 s (audit --timeout)"
    for run_id, run in got.items():  # every other run exactly as without the limit
        if run_id != "keras/plateau":
            assert (run["status"], run.get("error")) == (reference[run_id]["status"], reference[run_id].get("error"))
    monkeypatch.setattr(api, "analyze_candidate", real)
    second = run_audit(tree, out, workers=1)
    assert second.analyzed == 1  # only the run that timed out; the rest come from the cache
    plateau = {e.run["run_id"]: e.run for e in second.entries}["keras/plateau"]
    assert plateau["status"] == "ok" and plateau["findings"]


def test_cli_timeout_option(tree: Path, tmp_path: Path) -> None:
    res = CliRunner().invoke(main, ["audit", str(tree), "-o", str(tmp_path / "o"), "--workers", "1",
                                    "--timeout", "-1"])
    assert res.exit_code == 2 and "timeout" in res.output.lower()


# --------------------------------------------------------------------------------------------------
# small pieces


def test_index_data_sketch_and_final_values() -> None:
    from trainlog_doctor.model.frame import from_columns

    n = 1000
    loss = list(np.linspace(2.0, 0.5, n))
    loss[-1] = float("nan")
    frame = from_columns(run_id="r", source="s", metric="loss", split="train", step=list(range(n)),
                         epoch=None, wall_time=None, value=loss)
    import polars as pl

    val = from_columns(run_id="r", source="s", metric="loss", split="val", step=[0, 500, 999], epoch=None,
                       wall_time=None, value=[2.1, 1.0, 0.7])
    lr = from_columns(run_id="r", source="s", metric="lr", split="other", step=[0], epoch=None, wall_time=None,
                      value=[0.1])
    from trainlog_doctor.run import build_view

    spark, final = index_data(build_view(pl.concat([frame, val, lr]), {}, run_id="r"))
    assert len(spark["train"]) == 48 and spark["train"][0] > spark["train"][-1]
    assert spark["val"] == [2.1, 1.0, 0.7]
    assert list(final) == ["loss", "val/loss"] and math.isnan(final["loss"]) and final["val/loss"] == 0.7
    assert index_data(None) == ({}, {})


def test_sparklines_share_one_scale() -> None:
    from trainlog_doctor.report.audit_index import sparkline_points

    pts = sparkline_points({"train": [1.0, 0.5, float("nan"), 0.25], "val": [2.0, 2.0], "one": [3.0]})
    assert set(pts) == {"train", "val"}  # a single point draws nothing
    ys = {k: [float(p.split(",")[1]) for p in v.split()] for k, v in pts.items()}
    assert ys["val"][0] == min(ys["train"] + ys["val"])  # the highest value is at the top, whichever series
    assert ys["train"][-1] == max(ys["train"] + ys["val"])
    assert sparkline_points({}) == {}


def test_the_library_needs_neither_the_audit_nor_click() -> None:
    import subprocess
    import sys

    code = ("import sys, trainlog_doctor.api; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'click' or m.startswith('trainlog_doctor.audit')))")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True).stdout
    assert out.strip() == "[]"
    assert AuditError.__mro__[1] is Exception  # the command line maps it to a usage error (exit 2)


def page_of(out: Path, run_id: str) -> str:
    """The page name of a run in an audit's output (page names hash the run's unit too)."""
    for p in (out / "runs").glob("*.json"):
        if json.loads(p.read_text(encoding="utf-8"))["runs"][0]["run_id"] == run_id:
            return p.stem + ".html"
    raise KeyError(run_id)


def test_page_names_are_safe_and_distinct() -> None:
    ids = ["a/b", "a_b", "a b", "../../etc/passwd", "", "é/ü", XSS, "x" * 300]
    names = [page_name(i) for i in ids]
    assert len(set(names)) == len(ids)
    for n in names:
        assert re.fullmatch(r"[A-Za-z0-9._-]+-[0-9a-f]{8}\.html", n) and not n.startswith(".") and len(n) < 100


def test_event_writer_helper_is_readable(tmp_path: Path) -> None:
    """The tree's event files decode (guards the fixture itself)."""
    from trainlog_doctor.readers.tfevents import read_event_file

    _events(tmp_path / "e", [("epoch_loss", 3, 0.5)], tensor=True)
    (f,) = list((tmp_path / "e").iterdir())
    pts = read_event_file(f).points
    assert pts["tag"].to_list() == ["epoch_loss"] and pts["step"].to_list() == [3]
    assert struct.pack("<f", pts["value"][0]) == struct.pack("<f", 0.5)
