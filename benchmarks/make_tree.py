"""Generate a synthetic tree of training runs for the audit benchmark and tests.

Usage: ``python benchmarks/make_tree.py OUT [--keras 1000] [--tb 50] [--epochs 100] [--tb-steps 20000]
[--no-broken] [--seed 0]``, or ``python benchmarks/make_tree.py --big FILE [--events 20000000]``.

The tree holds Keras ``CSVLogger`` files (``keras/sweep_NN/run_NNNN/training.log``) and TensorBoard run
directories (``tb/run_NN/``), some in the torch ``SummaryWriter`` layout (``train/loss``, ``val/loss``
and ``lr`` tags with ``simple_value``), some in the tf.keras layout (``train/`` and ``validation/``
subdirectories with TF2 tensor scalars ``epoch_loss`` ...). Curves come from
``benchmarks/synthetic.py`` (healthy runs and every finding kind), subsampled to the
epoch count for CSV runs and stretched to the step count (plus per-step minibatch noise) for event
files. With ``broken`` a few unreadable runs are mixed in: empty ``training.log``, binary junk named
like a log, a Git LFS pointer, an event file that is not TFRecord and one whose tail is cut.

Event files are written without TensorFlow or protobuf in the loop: each record is built as a row of a
numpy byte matrix (the ``Event`` encoding is checked against ``tensorboard.compat.proto`` on a sample)
and the masked CRC32C of all rows is computed at once, so a 1 GB file takes seconds, not minutes.
"""

from __future__ import annotations

import argparse
import math
import struct
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))

MASK_DELTA = 0xA282EAD8
FILE_VERSION = b"brain.Event:2"
KERAS_COLUMNS = ("accuracy", "loss", "lr", "val_accuracy", "val_loss")

# ------------------------------------------------------------------------------------------------
# CRC32C over many equal-length rows at once


def _crc_table() -> np.ndarray:
    poly = 0x82F63B78
    table = np.zeros(256, dtype=np.uint32)
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ poly if c & 1 else c >> 1
        table[i] = c
    return table


_TABLE = _crc_table()


def crc32c_rows(rows: np.ndarray) -> np.ndarray:
    """CRC32C of each row of a 2-D uint8 array (one table lookup per column, all rows together)."""
    crc = np.full(rows.shape[0], 0xFFFFFFFF, dtype=np.uint32)
    for j in range(rows.shape[1]):
        crc = _TABLE[(crc ^ rows[:, j]) & 0xFF] ^ (crc >> 8)
    return crc ^ np.uint32(0xFFFFFFFF)


def mask(crc: np.ndarray) -> np.ndarray:
    """TFRecord's masked CRC of an array of CRCs."""
    crc = crc.astype(np.uint64)
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + MASK_DELTA) & 0xFFFFFFFF


def frame_rows(data: np.ndarray) -> np.ndarray:
    """TFRecord framing of equal-length records: ``len u64 | mcrc(len) | data | mcrc(data)`` per row."""
    n, length = data.shape
    out = np.empty((n, 12 + length + 4), dtype=np.uint8)
    head = np.frombuffer(struct.pack("<Q", length), dtype=np.uint8)
    out[:, :8] = head
    out[:, 8:12] = np.frombuffer(struct.pack("<I", int(mask(crc32c_rows(head[None, :]))[0])), dtype=np.uint8)
    out[:, 12 : 12 + length] = data
    out[:, 12 + length :] = mask(crc32c_rows(data)).astype("<u4").view(np.uint8).reshape(n, 4)
    return out


def frame_record(data: bytes) -> bytes:
    """One TFRecord, framed with the reader's own (google-crc32c) checksum: an independent check of
    :func:`frame_rows` in :func:`check_encoding`, and fast for records written one by one."""
    from trainlog_doctor.readers._tfrecord import masked_crc32c

    head = struct.pack("<Q", len(data))
    return head + struct.pack("<I", masked_crc32c(head)) + data + struct.pack("<I", masked_crc32c(data))


# ------------------------------------------------------------------------------------------------
# Event encoding


def varint(n: int) -> bytes:
    """Protobuf base-128 varint of ``n``."""
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _len_field(field_byte: int, payload: bytes) -> bytes:
    return bytes([field_byte]) + varint(len(payload)) + payload


def _value_parts(tag: str, tensor: bool) -> tuple[bytes, bytes]:
    """``Summary.Value`` bytes before and after the 4-byte float32 (simple_value or TF2 tensor scalar)."""
    t = _len_field(0x0A, tag.encode())
    if not tensor:
        return t + b"\x15", b""
    # TensorProto{dtype: DT_FLOAT, tensor_shape: {}, tensor_content: <4 bytes>}, then metadata "scalars".
    meta = _len_field(0x0A, _len_field(0x0A, b"scalars"))  # SummaryMetadata.plugin_data.plugin_name
    tensor_head = b"\x08\x01\x12\x00\x22\x04"
    return t + b"\x42" + varint(len(tensor_head) + 4) + tensor_head, _len_field(0x4A, meta)


def _step_bytes(steps: np.ndarray, k: int) -> np.ndarray:
    """Minimal varint encodings (``k`` bytes each) of ``steps`` as an (n, k) uint8 array."""
    out = np.empty((steps.size, k), dtype=np.uint8)
    s = steps.astype(np.uint64)
    for i in range(k):
        b = (s >> np.uint64(7 * i)) & np.uint64(0x7F)
        if i < k - 1:
            b |= np.uint64(0x80)
        out[:, i] = b.astype(np.uint8)
    return out


def _varint_len(step: int) -> int:
    return 0 if step == 0 else max(1, math.ceil(step.bit_length() / 7))


def event_rows(tag: str, steps: np.ndarray, walls: np.ndarray, values: np.ndarray, *, tensor: bool) -> np.ndarray:
    """Framed TFRecords (one row each) of scalar ``Event`` s; every step must have the same varint length."""
    k = _varint_len(int(steps[0]))
    pre, post = _value_parts(tag, tensor)
    value_len = len(pre) + 4 + len(post)
    summary_len = 1 + len(varint(value_len)) + value_len
    head_summary = b"\x2a" + varint(summary_len) + b"\x0a" + varint(value_len) + pre
    n = steps.size
    length = 9 + (1 + k if k else 0) + len(head_summary) + 4 + len(post)
    data = np.empty((n, length), dtype=np.uint8)
    data[:, 0] = 0x09
    data[:, 1:9] = walls.astype("<f8").view(np.uint8).reshape(n, 8)
    pos = 9
    if k:
        data[:, pos] = 0x10
        data[:, pos + 1 : pos + 1 + k] = _step_bytes(steps, k)
        pos += 1 + k
    data[:, pos : pos + len(head_summary)] = np.frombuffer(head_summary, dtype=np.uint8)
    pos += len(head_summary)
    data[:, pos : pos + 4] = values.astype("<f4").view(np.uint8).reshape(n, 4)
    pos += 4
    if post:
        data[:, pos:] = np.frombuffer(post, dtype=np.uint8)
    return frame_rows(data)


def header_record(wall: float) -> bytes:
    """The ``file_version`` record every event file starts with."""
    return frame_record(b"\x09" + struct.pack("<d", wall) + _len_field(0x1A, FILE_VERSION))


def check_encoding() -> None:
    """Assert the hand-made bytes equal ``Event.SerializeToString()`` (simple_value and tensor scalars)."""
    try:
        from tensorboard.compat.proto import event_pb2, summary_pb2, tensor_pb2, tensor_shape_pb2
    except ImportError:  # pragma: no cover - tensorboard is a benchmark dependency
        return
    for tensor in (False, True):
        for step in (0, 1, 127, 128, 16383, 16384, 2_000_000):
            wall, val = 1.7e9 + step * 0.01, 0.123
            if tensor:
                tp = tensor_pb2.TensorProto(
                    dtype=1, tensor_shape=tensor_shape_pb2.TensorShapeProto(), tensor_content=struct.pack("<f", val)
                )
                meta = summary_pb2.SummaryMetadata(
                    plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="scalars")
                )
                sv = summary_pb2.Summary.Value(tag="epoch_loss", tensor=tp, metadata=meta)
            else:
                sv = summary_pb2.Summary.Value(tag="epoch_loss", simple_value=val)
            ev = event_pb2.Event(wall_time=wall, step=step, summary=summary_pb2.Summary(value=[sv]))
            row = event_rows("epoch_loss", np.array([step]), np.array([wall]), np.array([val]), tensor=tensor)
            expect = frame_record(ev.SerializeToString())
            assert row.tobytes() == expect, f"Event encoding mismatch (tensor={tensor}, step={step})"
    ev = event_pb2.Event(wall_time=1.7e9, file_version="brain.Event:2")
    assert header_record(1.7e9) == frame_record(ev.SerializeToString()), "file_version encoding mismatch"


def _step_groups(steps: np.ndarray) -> Iterator[tuple[int, int]]:
    """Half-open index ranges of a sorted step array with equal varint length."""
    if steps.size == 0:
        return
    lens = np.zeros(steps.size, dtype=np.int64)
    nz = steps > 0
    lens[nz] = (np.floor(np.log2(steps[nz])).astype(np.int64) // 7) + 1
    cuts = np.flatnonzero(np.diff(lens)) + 1
    bounds = [0, *cuts.tolist(), steps.size]
    yield from zip(bounds[:-1], bounds[1:])


@dataclass
class Series:
    """One tag to write: its values at ``steps``."""

    tag: str
    steps: np.ndarray
    values: np.ndarray


def write_event_file(
    path: Path, series: Sequence[Series], wall0: float, sec_per_step: np.ndarray | float, *, tensor: bool = False
) -> int:
    """Write ``series`` into one event file, step-major like a training loop; returns the bytes written.

    All series sharing a step are written together (in ``series`` order) at that step's wall time.
    """
    all_steps = np.unique(np.concatenate([s.steps for s in series]))
    per_step = np.broadcast_to(np.asarray(sec_per_step, dtype=np.float64), (int(all_steps.max()) + 1,))
    clock = wall0 + np.concatenate([[0.0], np.cumsum(per_step)])
    size = 0
    with open(path, "wb") as fh:
        head = header_record(wall0)
        fh.write(head)
        size += len(head)
        for a, b in _step_groups(all_steps):
            for lo in range(a, b, 1 << 16):  # bounded memory per chunk
                hi = min(b, lo + (1 << 16))
                chunk_steps = all_steps[lo:hi]
                blocks: list[np.ndarray] = []
                present: list[np.ndarray] = []
                for j, s in enumerate(series):
                    idx = np.searchsorted(s.steps, chunk_steps)
                    idx_c = np.minimum(idx, s.steps.size - 1)
                    hit = s.steps[idx_c] == chunk_steps
                    rows = np.zeros((chunk_steps.size, 0), dtype=np.uint8)
                    if hit.any():
                        st = chunk_steps[hit]
                        rows_hit = event_rows(
                            s.tag, st, clock[st] + 1e-4 * j, s.values[idx_c[hit]], tensor=tensor
                        )
                        rows = np.zeros((chunk_steps.size, rows_hit.shape[1]), dtype=np.uint8)
                        rows[hit] = rows_hit
                    blocks.append(rows)
                    present.append(hit)
                block = np.hstack(blocks)
                if not all(h.all() for h in present):
                    # steps where some tags are not logged: keep only the bytes of the records present
                    keep = np.hstack([np.repeat(h[:, None], blk.shape[1], axis=1) for blk, h in zip(blocks, present)])
                    block = block[keep]
                fh.write(block.tobytes())
                size += block.size
    return size


# ------------------------------------------------------------------------------------------------
# curves


@dataclass
class Curves:
    """The series of one generated run on a common x (epochs or steps)."""

    family: str
    healthy: bool
    metrics: dict[tuple[str, str], np.ndarray] = field(default_factory=dict)


def curve_pool(n: int, seed: int) -> list[Curves]:
    """``n`` synthetic runs (a quarter healthy, the rest spread over every finding kind), each >= 100 points."""
    from synthetic import KINDS, generate_runs

    kinds: list[str | None] = [None, None, None, *KINDS]  # about a quarter of the runs are healthy
    out: list[Curves] = []
    batch = 0
    while len(out) < n:
        for run in generate_runs(max(2 * n, 40), seed=seed * 1000 + batch, kinds=kinds):
            length = len(run.metrics[("loss", "train")])
            if length >= 100:
                out.append(Curves(run.family, run.healthy, dict(run.metrics)))
            if len(out) >= n:
                break
        batch += 1
    return out


def _subsample(v: np.ndarray, n: int) -> np.ndarray:
    idx = np.linspace(0, v.size - 1, n).round().astype(np.int64)
    return v[idx]


def _stretch(v: np.ndarray, n: int, rng: np.random.Generator, rel_noise: float) -> np.ndarray:
    """``v`` linearly stretched to ``n`` points plus multiplicative per-step (minibatch) noise."""
    x = np.linspace(0, v.size - 1, n)
    finite = np.isfinite(v)
    out = np.interp(x, np.flatnonzero(finite), v[finite]) if finite.any() else np.full(n, np.nan)
    bad = ~finite[np.clip(np.round(x).astype(np.int64), 0, v.size - 1)]
    out = out * (1.0 + rel_noise * rng.standard_normal(n))
    out[bad] = v[np.clip(np.round(x[bad]).astype(np.int64), 0, v.size - 1)]
    return out


# ------------------------------------------------------------------------------------------------
# writers


def _fmt(v: float) -> str:
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return repr(float(v))


def write_keras_csv(path: Path, curves: Curves, epochs: int, rng: np.random.Generator, *, sep: str = ",") -> None:
    """A ``CSVLogger`` file: ``epoch`` then the metric columns in Keras' (sorted) order."""
    cols: dict[str, np.ndarray] = {}
    scale = float(rng.uniform(0.7, 1.4))
    for (metric, split), v in curves.metrics.items():
        if metric == "time":
            continue
        name = metric if split in ("train", "other") else f"val_{metric}"
        vv = _subsample(v, epochs)
        cols[name] = vv * scale if metric == "loss" else vv
    if "lr" not in cols and rng.random() < 0.5:
        cols["lr"] = np.full(epochs, float(rng.choice([1e-3, 3e-4, 1e-2])))
    names = sorted(cols)
    lines = [sep.join(["epoch", *names])]
    arrays = [cols[n] for n in names]
    for e in range(epochs):
        lines.append(sep.join([str(e), *(_fmt(a[e]) for a in arrays)]))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def write_tb_run(run_dir: Path, curves: Curves, steps: int, rng: np.random.Generator, *, keras_layout: bool) -> int:
    """A TensorBoard run of ``steps`` steps; returns the bytes written."""
    loss_t = curves.metrics[("loss", "train")]
    loss_v = curves.metrics[("loss", "val")]
    acc_t = curves.metrics.get(("accuracy", "train"))
    acc_v = curves.metrics.get(("accuracy", "val"))
    t = np.arange(steps, dtype=np.int64)
    every = max(1, steps // 40)
    vt = np.arange(every - 1, steps, every, dtype=np.int64)
    sec = np.full(steps, float(rng.uniform(0.05, 0.4)))
    if ("time", "other") in curves.metrics:
        tt = curves.metrics[("time", "other")]
        sec = np.abs(_stretch(np.nan_to_num(tt / np.nanmedian(tt)), steps, rng, 0.0)) * sec
    host = f"node{int(rng.integers(1, 64)):02d}"
    wall0 = 1.7e9 + float(rng.uniform(0, 3e7))
    size = 0
    if keras_layout:
        train = [Series("epoch_loss", t, _stretch(loss_t, steps, rng, 0.03))]
        val = [Series("epoch_loss", vt, _subsample(loss_v, vt.size))]
        if acc_t is not None and acc_v is not None:
            train.append(Series("epoch_accuracy", t, np.clip(_stretch(acc_t, steps, rng, 0.01), 0, 1)))
            val.append(Series("epoch_accuracy", vt, _subsample(acc_v, vt.size)))
        for sub, ser in (("train", train), ("validation", val)):
            d = run_dir / sub
            d.mkdir(parents=True, exist_ok=True)
            name = f"events.out.tfevents.{int(wall0)}.{host}.{int(rng.integers(100, 99999))}.0.v2"
            size += write_event_file(d / name, ser, wall0, sec, tensor=True)
        return size
    series = [Series("train/loss", t, _stretch(loss_t, steps, rng, 0.04))]
    if acc_t is not None:
        series.append(Series("train/accuracy", t, np.clip(_stretch(acc_t, steps, rng, 0.01), 0, 1)))
    lr = curves.metrics.get(("lr", "other"))
    lr_v = _stretch(lr, steps, rng, 0.0) if lr is not None else 1e-3 * 0.5 * (1 + np.cos(math.pi * t / steps))
    series.append(Series("lr", t, lr_v))
    series.append(Series("val/loss", vt, _subsample(loss_v, vt.size)))
    if acc_v is not None:
        series.append(Series("val/accuracy", vt, _subsample(acc_v, vt.size)))
    run_dir.mkdir(parents=True, exist_ok=True)
    name = f"events.out.tfevents.{int(wall0)}.{host}.{int(rng.integers(100, 99999))}.0"
    return write_event_file(run_dir / name, series, wall0, sec)


BROKEN_KINDS = ("empty", "binary", "lfs", "not_tfrecord", "truncated_tb")


def write_broken(root: Path, kind: str, i: int, rng: np.random.Generator) -> Path:
    """One unreadable run of ``kind`` (see :data:`BROKEN_KINDS`); returns its path."""
    if kind == "empty":
        p = root / "broken" / f"empty_{i:03d}" / "training.log"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"")
    elif kind == "binary":
        p = root / "broken" / f"binary_{i:03d}" / "training.log"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(bytes(rng.integers(0, 256, 2048, dtype=np.uint8)))
    elif kind == "lfs":
        p = root / "broken" / f"lfs_{i:03d}" / "history.csv"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(
            "version https://git-lfs.github.com/spec/v1\noid sha256:" + "ab" * 32 + "\nsize 123456\n", encoding="utf-8"
        )
    elif kind == "not_tfrecord":
        p = root / "broken" / f"tb_junk_{i:03d}" / "events.out.tfevents.1700000000.host.1.0"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"this is not a TFRecord file\n" * 8)
        p = p.parent
    else:
        d = root / "broken" / f"tb_cut_{i:03d}"
        d.mkdir(parents=True, exist_ok=True)
        steps = np.arange(300, dtype=np.int64)
        vals = 2.0 * np.exp(-steps / 80.0) + 0.1
        f = d / "events.out.tfevents.1700000000.host.2.0"
        write_event_file(f, [Series("train/loss", steps, vals)], 1.7e9, 0.1)
        data = f.read_bytes()
        f.write_bytes(data[: len(data) - 23])
        p = d
    return p


@dataclass
class TreeStats:
    """What :func:`make_tree` wrote."""

    keras_runs: int = 0
    tb_runs: int = 0
    broken: int = 0
    healthy: int = 0
    files: int = 0
    bytes: int = 0
    seconds: float = 0.0


def make_tree(
    root: Path,
    *,
    keras: int = 1000,
    tb: int = 50,
    epochs: int = 100,
    tb_steps: int = 20_000,
    broken: bool = True,
    seed: int = 0,
    pool_size: int = 240,
) -> TreeStats:
    """Write ``keras`` CSV runs and ``tb`` TensorBoard runs (plus a few broken ones) under ``root``."""
    t0 = time.perf_counter()
    check_encoding()
    stats = TreeStats()
    pool = curve_pool(min(pool_size, max(keras + tb, 10)), seed)
    rng = np.random.default_rng(seed)
    for i in range(keras):
        cur = pool[i % len(pool)]
        sep = ";" if i % 37 == 5 else ","
        path = root / "keras" / f"sweep_{i // 100:02d}" / f"run_{i:04d}" / "training.log"
        write_keras_csv(path, cur, epochs, np.random.default_rng([seed, i, 1]), sep=sep)
        stats.keras_runs += 1
        stats.healthy += cur.healthy
        stats.files += 1
        stats.bytes += path.stat().st_size
    for i in range(tb):
        cur = pool[(7 * i + 3) % len(pool)]
        run_rng = np.random.default_rng([seed, i, 2])
        size = write_tb_run(root / "tb" / f"run_{i:03d}", cur, tb_steps, run_rng, keras_layout=i % 5 == 4)
        stats.tb_runs += 1
        stats.healthy += cur.healthy
        stats.files += 2 if i % 5 == 4 else 1
        stats.bytes += size
    if broken:
        n_broken = max(len(BROKEN_KINDS), (keras + tb) // 200)
        for i in range(n_broken):
            write_broken(root, BROKEN_KINDS[i % len(BROKEN_KINDS)], i, rng)
            stats.broken += 1
            stats.files += 1
    stats.seconds = time.perf_counter() - t0
    return stats


def write_big_event_file(path: Path, n_events: int, seed: int = 0) -> int:
    """One event file of about ``n_events`` scalar events over 4 tags (~52 bytes a record); returns its size."""
    check_encoding()
    rng = np.random.default_rng(seed)
    n_steps = max(1, n_events // 4)
    tags = ("train/loss", "train/accuracy", "lr", "grad_norm")
    path.parent.mkdir(parents=True, exist_ok=True)
    size = 0
    wall0 = 1.7e9
    chunk = 1 << 20
    with open(path, "wb") as fh:
        fh.write(header_record(wall0))
        for lo in range(0, n_steps, chunk):
            hi = min(n_steps, lo + chunk)
            steps = np.arange(lo, hi, dtype=np.int64)
            x = steps / n_steps
            vals = (
                2.3 * np.exp(-5 * x) + 0.1 + 0.05 * rng.standard_normal(steps.size),
                1 - 0.9 * np.exp(-6 * x) + 0.02 * rng.standard_normal(steps.size),
                1e-3 * 0.5 * (1 + np.cos(math.pi * x)),
                np.abs(1.0 + 0.3 * rng.standard_normal(steps.size)),
            )
            sizes: list[tuple[int, int]] = list(_step_groups(steps))
            for a, b in sizes:
                st = steps[a:b]
                rows = [
                    event_rows(tag, st, wall0 + st * 0.01 + 1e-4 * j, v[a:b], tensor=False)
                    for j, (tag, v) in enumerate(zip(tags, vals))
                ]
                block = np.hstack(rows)
                fh.write(block.tobytes())
                size += block.size
    return path.stat().st_size


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("out", type=Path, nargs="?", help="directory to create the tree in")
    ap.add_argument("--keras", type=int, default=1000)
    ap.add_argument("--tb", type=int, default=50)
    ap.add_argument("--epochs", type=int, default=100)
    ap.add_argument("--tb-steps", type=int, default=20_000)
    ap.add_argument("--no-broken", action="store_true")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--big", type=Path, default=None, help="write one big event file here instead of a tree")
    ap.add_argument("--events", type=int, default=20_000_000)
    args = ap.parse_args(argv)
    if args.big is not None:
        t = time.perf_counter()
        size = write_big_event_file(args.big, args.events, args.seed)
        print(f"wrote {args.big} ({size / 1e9:.2f} GB) in {time.perf_counter() - t:.1f}s")
        return 0
    if args.out is None:
        ap.error("give OUT or --big FILE")
    if args.out.exists() and any(args.out.iterdir()):
        ap.error(f"{args.out} exists and is not empty")
    st = make_tree(
        args.out, keras=args.keras, tb=args.tb, epochs=args.epochs, tb_steps=args.tb_steps,
        broken=not args.no_broken, seed=args.seed,
    )
    print(
        f"wrote {st.keras_runs} Keras + {st.tb_runs} TensorBoard + {st.broken} broken runs "
        f"({st.files} files, {st.bytes / 1e6:.1f} MB, {st.healthy} healthy curves) in {st.seconds:.1f}s to {args.out}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
