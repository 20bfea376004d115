"""MLflow's SQLite backend: every point, the NaN rows, epochs, params as run facts, nothing written."""

from __future__ import annotations

import math
import sqlite3
from pathlib import Path

import polars as pl
import pytest

from mlflow_db_fixture import make_mlflow_db
from trainlog_doctor.api import analyze
from trainlog_doctor.readers import reader_for_file
from trainlog_doctor.readers.base import LogReadError
from trainlog_doctor.readers.mlflow_db import MlflowDbReader

READER = MlflowDbReader()


@pytest.fixture()
def db(tmp_path: Path) -> Path:
    return make_mlflow_db(tmp_path / "mlflow.db")


def test_one_run_per_live_mlflow_run_with_every_point(db: Path) -> None:
    runs = READER.read(db, "exp")
    assert [r.suffix for r in runs] == ["", "#2"]  # the deleted run is left out
    assert [r.meta["run_name"] for r in runs] == ["baseline", "lr-high"]
    base, high = runs
    loss = base.frame.filter((pl.col("metric") == "loss") & (pl.col("split") == "train")).sort("step")
    assert loss["step"].to_list() == list(range(12))
    assert loss["value"][0] == pytest.approx(2.4) and loss["epoch"].to_list() == [float(e) for e in range(12)]
    assert loss["wall_time"][0] == pytest.approx(1_767_000_060.0)
    val = set(base.frame.filter(pl.col("split") == "val")["metric"].unique().to_list())
    assert val == {"loss", "acc"}
    nan_loss = high.frame.filter((pl.col("metric") == "loss") & (pl.col("split") == "train")).sort("step")["value"]
    assert all(math.isnan(v) for v in nan_loss[6:]) and not any(math.isnan(v) for v in nan_loss[:6])
    assert base.meta["lr"] == 0.001 and base.meta["batch_size"] == 64 and base.meta["optimizer"] == "SGD"
    assert high.meta["status"] == "FAILED" and high.meta["run_name"] == "lr-high" and high.meta["experiment"] == "cifar"


def test_analyze_finds_the_nan_run_and_writes_nothing_beside_the_database(db: Path) -> None:
    before = sorted(p.name for p in db.parent.iterdir())
    report = analyze([str(db.parent)])
    assert [r.run_id for r in report.runs] == [db.parent.name, db.parent.name + "#2"]
    assert [r.meta["run_uuid"][:8] for r in report.runs] == ["a1b2c3d4", "0f9e8d7c"]
    assert not report.runs[0].findings
    assert {f.code for f in report.runs[1].findings} == {"NF001"}
    assert sorted(p.name for p in db.parent.iterdir()) == before  # no journal, WAL or lock file


def test_other_sqlite_files_and_junk_are_not_mlflow(tmp_path: Path) -> None:
    other = tmp_path / "app.db"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE users (id INTEGER)")
    conn.commit()
    conn.close()
    assert reader_for_file(other) is None  # skipped silently by discovery
    junk = tmp_path / "mlflow.db"
    junk.write_bytes(b"SQLite format 3\x00" + b"\xff" * 4000)
    assert not READER.sniff(junk, junk.read_bytes()[:4096])
    with pytest.raises(LogReadError):
        READER.read(junk, "j")
    report = analyze([str(tmp_path)])
    assert [r.status for r in report.runs] == ["error"]  # mlflow.db promises a log: reported, app.db skipped
    assert report.runs[0].path.endswith("mlflow.db")
