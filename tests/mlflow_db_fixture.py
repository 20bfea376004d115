"""Build MLflow SQLite tracking databases for tests, with the tables and columns MLflow's schema has."""

from __future__ import annotations

import math
import sqlite3
from pathlib import Path

SCHEMA = """
CREATE TABLE experiments (experiment_id INTEGER PRIMARY KEY, name VARCHAR(256) NOT NULL, artifact_location VARCHAR(256),
    lifecycle_stage VARCHAR(32), creation_time BIGINT, last_update_time BIGINT);
CREATE TABLE runs (run_uuid VARCHAR(32) PRIMARY KEY, name VARCHAR(250), source_type VARCHAR(20), source_name VARCHAR(500),
    entry_point_name VARCHAR(50), user_id VARCHAR(256), status VARCHAR(9), start_time BIGINT, end_time BIGINT,
    source_version VARCHAR(50), lifecycle_stage VARCHAR(20), artifact_uri VARCHAR(200), experiment_id INTEGER,
    deleted_time BIGINT);
CREATE TABLE metrics (key VARCHAR(250) NOT NULL, value FLOAT NOT NULL, timestamp BIGINT NOT NULL, run_uuid VARCHAR(32) NOT NULL,
    step BIGINT DEFAULT '0' NOT NULL, is_nan BOOLEAN DEFAULT '0' NOT NULL,
    PRIMARY KEY (key, timestamp, step, run_uuid, value, is_nan));
CREATE TABLE latest_metrics (key VARCHAR(250) NOT NULL, value FLOAT NOT NULL, timestamp BIGINT, step BIGINT NOT NULL,
    is_nan BOOLEAN NOT NULL, run_uuid VARCHAR(32) NOT NULL, PRIMARY KEY (key, run_uuid));
CREATE TABLE params (key VARCHAR(250) NOT NULL, value VARCHAR(8000) NOT NULL, run_uuid VARCHAR(32) NOT NULL,
    PRIMARY KEY (key, run_uuid));
CREATE TABLE tags (key VARCHAR(250) NOT NULL, value VARCHAR(8000), run_uuid VARCHAR(32) NOT NULL, PRIMARY KEY (key, run_uuid));
"""


def make_mlflow_db(path: Path) -> Path:
    """Two live runs (a healthy one and one whose loss goes NaN at epoch 6) and one deleted run."""
    conn = sqlite3.connect(path)
    conn.executescript(SCHEMA)
    conn.execute("INSERT INTO experiments VALUES (1, 'cifar', 'mlruns/1', 'active', 0, 0)")
    t0 = 1_767_000_000_000
    runs = [("a1b2c3d4e5f60718293a4b5c6d7e8f90", "baseline", "FINISHED", "active", 0.001),
            ("0f9e8d7c6b5a49382716a5b4c3d2e1f0", "lr-high", "FAILED", "active", 0.5),
            ("deadbeefdeadbeefdeadbeefdeadbeef", "scratch", "KILLED", "deleted", 0.1)]  # fmt: skip
    for k, (uuid, name, status, stage, lr) in enumerate(runs):
        conn.execute("INSERT INTO runs (run_uuid, name, status, start_time, lifecycle_stage, experiment_id) "
                     "VALUES (?, ?, ?, ?, ?, 1)", (uuid, name, status, t0 + k, stage))  # fmt: skip
        conn.executemany("INSERT INTO params VALUES (?, ?, ?)",
                         [("lr", str(lr), uuid), ("batch_size", "64", uuid), ("optimizer", "SGD", uuid)])  # fmt: skip
        conn.execute("INSERT INTO tags VALUES ('mlflow.runName', ?, ?)", (name, uuid))
        for epoch in range(12):
            ts = t0 + 60_000 * (epoch + 1)
            loss = 2.3 * math.exp(-0.25 * epoch) + 0.1
            nan = name == "lr-high" and epoch >= 6
            rows = [("train_loss", 0.0 if nan else loss, ts, uuid, epoch, int(nan)),
                    ("val_loss", 0.0 if nan else loss + 0.05, ts + 1, uuid, epoch, int(nan)),
                    ("val_acc", 0.1 + 0.07 * epoch, ts + 1, uuid, epoch, 0),
                    ("epoch", float(epoch), ts, uuid, epoch, 0)]  # fmt: skip
            conn.executemany("INSERT INTO metrics VALUES (?, ?, ?, ?, ?, ?)", rows)
    conn.commit()
    conn.close()
    return path


if __name__ == "__main__":
    make_mlflow_db(Path(__file__).resolve().parent / "data" / "mlflow_db" / "mlflow.db")
