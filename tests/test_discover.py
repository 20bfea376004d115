"""Discovery: runs found by content, broken-but-known files reported, loops and permissions survived."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from trainlog_doctor.readers.discover import discover

KERAS = "epoch,accuracy,loss,val_accuracy,val_loss\n0,0.5,1.2,0.55,1.1\n1,0.6,0.9,0.6,1.0\n2,0.7,0.7,0.65,0.95\n"


def _write(p: Path, text: str | bytes) -> Path:
    p.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        p.write_bytes(text)
    else:
        p.write_text(text)
    return p


def test_content_not_extension(tmp_path: Path) -> None:
    _write(tmp_path / "a" / "whatever.txt", KERAS)  # a Keras CSV with an odd name
    _write(tmp_path / "b" / "notes.txt", "just some notes\nnothing to see\n")  # unknown: skipped silently
    _write(tmp_path / "c" / "data.csv", "x,y\n1,2\n")  # a data table, not a log: skipped
    cands = discover([tmp_path])
    assert [(c.run_id, c.reader.format if c.reader else None) for c in cands] == [("a", "keras_csv")]


def test_known_but_broken_files_are_reported(tmp_path: Path) -> None:
    _write(tmp_path / "empty" / "training.log", "")
    _write(tmp_path / "junk" / "training_log.csv", os.urandom(2048).replace(b"\n", b"\x00") + b"\x00")
    _write(tmp_path / "lfs" / "trainer_state.json", "version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 12\n")
    by_id = {c.run_id: c for c in discover([tmp_path])}
    assert by_id["empty"].status == "empty" and by_id["empty"].error == "empty file"
    assert by_id["junk"].reader is None and "binary" in (by_id["junk"].error or "")
    assert "LFS" in (by_id["lfs"].error or "")


def test_missing_path_is_an_error_entry(tmp_path: Path) -> None:
    (c,) = discover([tmp_path / "nope"])
    assert c.reader is None and c.error == "no such file or directory"


def test_symlink_loop_is_cut(tmp_path: Path) -> None:
    _write(tmp_path / "run" / "training.log", KERAS)
    os.symlink(tmp_path, tmp_path / "run" / "loop")
    notes: list[str] = []
    cands = discover([tmp_path], warn=notes)
    assert [c.run_id for c in cands] == ["run"]
    assert any("loop" in n for n in notes)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads everything")
def test_permission_denied_file(tmp_path: Path) -> None:
    p = _write(tmp_path / "run" / "training.log", KERAS)
    p.chmod(0)
    (c,) = discover([tmp_path])
    assert c.reader is None and c.error == "permission denied"


def test_hf_checkpoint_snapshots_are_not_separate_runs(tmp_path: Path) -> None:
    state = '{"log_history": [{"loss": 1.0, "step": 10, "epoch": 0.1}], "global_step": 10}'
    for n in (500, 1000, 1500):
        _write(tmp_path / "out" / f"checkpoint-{n}" / "trainer_state.json", state)
    ids = [c.run_id for c in discover([tmp_path])]
    assert ids == ["out/checkpoint-1500"]
    _write(tmp_path / "out" / "trainer_state.json", state)
    assert [c.run_id for c in discover([tmp_path])] == ["out"]


def test_two_logs_in_one_dir_get_file_ids(tmp_path: Path) -> None:
    _write(tmp_path / "run" / "a_training.log", KERAS)
    _write(tmp_path / "run" / "b_training.log", KERAS)
    assert [c.run_id for c in discover([tmp_path])] == ["run/a_training.log", "run/b_training.log"]


def test_real_logs_every_directory_found(real_logs: Path) -> None:
    cands = discover([real_logs])
    found_dirs = {Path(c.path if c.path.is_dir() else c.path.parent).relative_to(real_logs).as_posix() for c in cands}
    expected = {p.parent.relative_to(real_logs).as_posix() for p in real_logs.rglob("*") if p.is_file() and p.parent != real_logs}
    assert expected <= found_dirs


def test_directory_readers_are_found_in_the_registry() -> None:
    from trainlog_doctor.readers import DIRECTORY_READERS, READERS, DirectoryReader, claiming_reader

    for reader in READERS:
        assert (reader.unit == "directory") == isinstance(reader, DirectoryReader) == (reader in DIRECTORY_READERS)
    claimer = claiming_reader("events.out.tfevents.1700000000.host.1.0")
    assert claimer is not None and claimer.format == "tfevents"
    assert claiming_reader("training.log") is None and claiming_reader("metrics.csv") is None


def test_directories_of_claimed_files_are_runs(tmp_path: Path) -> None:
    """Event files are claimed by name (not sniffed): their directory is the run, and tf.keras
    ``train/`` + ``validation/`` subdirectories are one run at their parent; a lone split dir stays a run."""
    ev = "events.out.tfevents.1700000000.host.1.0"
    _write(tmp_path / "torch_run" / ev, b"not even a tfrecord")
    _write(tmp_path / "torch_run" / "training.log", KERAS)  # a log beside event files gets the file's id
    _write(tmp_path / "keras_tb" / "train" / ev, b"x")
    _write(tmp_path / "keras_tb" / "validation" / ev, b"x")
    _write(tmp_path / "lone" / "train" / ev, b"x")
    cands = discover([tmp_path])
    assert [(c.run_id, c.reader.format if c.reader else None) for c in cands] == [
        ("keras_tb", "tfevents"),
        ("lone/train", "tfevents"),
        ("torch_run", "tfevents"),
        ("torch_run/training.log", "keras_csv"),
    ]
    assert [c.path for c in cands[:3]] == [tmp_path / "keras_tb", tmp_path / "lone" / "train", tmp_path / "torch_run"]
    (one,) = discover([tmp_path / "lone" / "train" / ev])  # a claimed file given on its own
    assert one.reader is not None and one.reader.format == "tfevents" and one.path.is_file()
