"""Copy a few small runs of the real-writer corpus into ``tests/data/real_writers/`` (issue 9 item 6).

Usage: ``python scripts/make_real_writer_fixtures.py [--corpus /work/cache/realwriter]``

The corpus is built by ``benchmarks/realwriter/make_corpus.py`` with the real libraries (Keras 3, Lightning,
the Hugging Face Trainer, torch's SummaryWriter, MLflow, W&B offline). Each fixture is one run directory,
copied as written, except that in an MLflow SQLite database the empty tables of MLflow's schema are dropped
and the file is rewritten by SQLite's ``VACUUM`` with 512-byte pages (every row kept; 1 MB -> ~120 KB).
``logged.json`` beside it holds what the training loop handed the writer when the corpus kept it (torch
loop and Keras runs): the values the tests compare the tool's reading with. Needs only the standard library.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEST = REPO / "tests" / "data" / "real_writers"
DEFAULT_CORPUS = Path("/work/cache/realwriter")
MAX_BYTES = 40 * 1024

#: writer -> corpus run (chosen for a clear expected finding, or a plain healthy run).
FIXTURES = {
    "keras_csv": "lr_high_nan-keras_csv",
    "keras_json": "overfit_small_data-keras_json",
    "keras_tb": "healthy_cosine-keras_tb",
    "pl_csv": "overfit_small_data-pl_csv",
    "hf": "lr_high_nan-hf",
    "sw": "lr_high_nan-sw",
    "jsonl": "val_drift-jsonl",
    "mlflow_file": "loader_slowdown-mlflow_file",
    "mlflow_db": "overfit_small_data-mlflow_db",
    "wandb": "lr_low-wandb",
    "textlog": "loader_slowdown-textlog",
}
SKIP = {"requirements.txt", "wandb-metadata.json"}  # environment listings, not logs


def copy_run(src: Path, dst: Path) -> None:
    for path in sorted(src.rglob("*")):
        rel = path.relative_to(src)
        if path.is_dir() or path.name in SKIP or "debug" in path.name:
            continue
        out = dst / rel
        out.parent.mkdir(parents=True, exist_ok=True)
        if path.name == "mlflow.db":
            shutil.copy2(path, out)
            con = sqlite3.connect(out)  # the copy, never the corpus file
            try:
                con.execute("PRAGMA foreign_keys = OFF")
                tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
                for name in tables:  # MLflow 3 creates ~65 tables and ~150 indexes; most stay empty
                    if con.execute(f'SELECT COUNT(*) FROM "{name}"').fetchone()[0] == 0:  # noqa: S608 (its own names)
                        con.execute(f'DROP TABLE "{name}"')
                con.commit()
                con.execute("PRAGMA page_size = 512")
                con.execute("VACUUM")
            finally:
                con.close()
        else:
            shutil.copy2(path, out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    args = ap.parse_args(argv)
    truth = args.corpus.with_name(args.corpus.name + ".meta") / "truth"
    if DEST.exists():
        shutil.rmtree(DEST)
    for writer, run in FIXTURES.items():
        src = args.corpus / run
        if not src.is_dir():
            print(f"{run}: not in {args.corpus} (build it with benchmarks/realwriter/make_corpus.py)", file=sys.stderr)
            return 1
        dst = DEST / writer / run
        copy_run(src, dst)
        logged = truth / f"{run}.json"
        if logged.exists():
            (DEST / writer / "logged.json").write_text(json.dumps(json.loads(logged.read_text()), indent=None) + "\n")
        size = sum(p.stat().st_size for p in (DEST / writer).rglob("*") if p.is_file())
        flag = "  (over the size budget)" if size > MAX_BYTES else ""
        print(f"{writer}: {run} ({size / 1024:.1f} KiB){flag}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
