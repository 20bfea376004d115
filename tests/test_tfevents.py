"""TensorBoard event-file reader: real corpus files cross-checked with tensorboard, and hand-made ugly files."""

from __future__ import annotations

import io
import math
import struct
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tensorboard.backend.event_processing.event_file_loader import EventFileLoader
from tensorboard.compat.proto import event_pb2, summary_pb2, tensor_pb2, tensor_shape_pb2
from tensorboard.plugins.hparams import plugin_data_pb2
from tensorboard.summary.writer.record_writer import RecordWriter
from tensorboard.util import tensor_util

from trainlog_doctor.model.frame import SCHEMA
from trainlog_doctor.readers._reduce import reduce_series
from trainlog_doctor.readers.base import LogReadError
from trainlog_doctor.readers.tfevents import TfEventsReader, event_files, read_event_file
from trainlog_doctor.run import build_view

REAL = Path(__file__).resolve().parents[1].parent / "shared" / "real_logs" / "tfevents"
READER = TfEventsReader()


# ------------------------------------------------------------------------------------------------
# helpers: writing event files with tensorboard's own protos and record writer


def framed(*events: event_pb2.Event | bytes) -> bytes:
    """TFRecord bytes of ``events`` written by tensorboard's RecordWriter (independent of our code)."""
    out = io.BytesIO()
    writer = RecordWriter(out)
    for ev in events:
        writer.write(ev if isinstance(ev, bytes) else ev.SerializeToString())
    return out.getvalue()


def header_event() -> event_pb2.Event:
    return event_pb2.Event(wall_time=1_700_000_000.0, file_version="brain.Event:2")


def scalar(tag: str, value: float, step: int, wall: float | None = None) -> event_pb2.Event:
    """What torch SummaryWriter.add_scalar writes."""
    return event_pb2.Event(
        wall_time=1_700_000_000.0 + step if wall is None else wall,
        step=step,
        summary=summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag=tag, simple_value=value)]),
    )


def tensor_event(tag: str, tensor: tensor_pb2.TensorProto, step: int, plugin: str = "scalars") -> event_pb2.Event:
    """What TF2 ``tf.summary.scalar`` / Keras writes (tensor + plugin metadata)."""
    meta = summary_pb2.SummaryMetadata(plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name=plugin))
    value = summary_pb2.Summary.Value(tag=tag, tensor=tensor, metadata=meta)
    return event_pb2.Event(wall_time=1_700_000_000.0 + step, step=step, summary=summary_pb2.Summary(value=[value]))


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def torch_like_file(n_steps: int, tags: tuple[str, ...] = ("train/loss", "val/loss", "lr")) -> bytes:
    events: list[event_pb2.Event] = [header_event()]
    for step in range(n_steps):
        for j, tag in enumerate(tags):
            events.append(scalar(tag, 1.0 / (step + 1) + j, step))
    return framed(*events)


def record_offsets(data: bytes) -> list[tuple[int, int]]:
    """(start, data length) of every complete record, walked naively."""
    out, o = [], 0
    while o + 12 <= len(data):
        (ln,) = struct.unpack_from("<Q", data, o)
        if o + ln + 16 > len(data):
            break
        out.append((o, ln))
        o += ln + 16
    return out


def reference_points(path: Path, *, fast: bool = False) -> list[tuple[str, int, float, float]]:
    """Scalar points in file order according to tensorboard's EventFileLoader.

    ``fast`` parses each record with the ``Event`` proto after a naive framing walk instead (the
    loader's pure-Python CRC is slow on large files); used for the big generated file.
    """
    out = []
    plugins: dict[str, str] = {}
    if fast:
        data = path.read_bytes()
        events = [event_pb2.Event.FromString(data[o + 12 : o + 12 + ln]) for o, ln in record_offsets(data)]
    else:
        events = list(EventFileLoader(str(path)).Load())
    for ev in events:
        if not ev.HasField("summary"):
            continue
        for v in ev.summary.value:
            if v.metadata.plugin_data.plugin_name:
                plugins.setdefault(v.tag, v.metadata.plugin_data.plugin_name)
            kind = v.WhichOneof("value")
            if kind == "simple_value":
                out.append((v.tag, ev.step, ev.wall_time, float(v.simple_value)))
            elif kind == "tensor" and plugins.get(v.tag, "") in ("", "scalars"):
                arr = tensor_util.make_ndarray(v.tensor)
                if arr.size == 1 and arr.dtype.kind in "fiub":
                    out.append((v.tag, ev.step, ev.wall_time, float(arr.reshape(-1)[0])))
    return out


def same_points(got: pl.DataFrame, ref: list[tuple[str, int, float, float]]) -> None:
    rows = got.select("tag", "step", "wall_time", "value").rows()
    assert len(rows) == len(ref)
    for (t1, s1, w1, v1), (t2, s2, w2, v2) in zip(rows, ref):
        assert (t1, s1, w1) == (t2, s2, w2)
        assert v1 == v2 or (math.isnan(v1) and math.isnan(v2))


def real_dir(name: str) -> Path:
    d = REAL / name
    if not d.is_dir():
        pytest.skip("../shared/real_logs/tfevents is not present")
    return d


# ------------------------------------------------------------------------------------------------
# real corpus


def real_dirs() -> list[Path]:
    return sorted(p for p in REAL.iterdir() if p.is_dir()) if REAL.is_dir() else []


@pytest.mark.parametrize("run_dir", real_dirs(), ids=lambda p: p.name)
def test_real_dir_reads_and_matches_tensorboard(run_dir: Path) -> None:
    (run,) = READER.read(run_dir, run_dir.name)
    assert run.frame.schema == pl.Schema(SCHEMA)
    assert run.warnings == []
    total = 0
    for f, _ in event_files(run_dir):
        ef = read_event_file(f)
        same_points(ef.points, reference_points(f))
        total += ef.points.height
    assert run.frame.height <= total
    assert set(run.frame["split"].unique()) <= {"train", "val", "test", "other"}
    if run.frame.height:
        assert run.frame["run_id"].unique().to_list() == [run_dir.name]
        steps = run.frame["step"].to_numpy()
        assert np.all(np.diff(steps) >= 0), "frame sorted by step"
        # a step written twice stays in the frame; the run view keeps the latest written and counts the rest
        view = build_view(run.frame, run.meta)
        repeats = run.frame.height - run.frame.select("metric", "split", "step").n_unique()
        assert sum(s.duplicates for s in view.series.values() if s.logged) == repeats
        assert all(np.all(np.diff(s.steps) > 0) for s in view.series.values())


def test_real_sniff() -> None:
    d = real_dir("tfevents_01")
    assert READER.sniff(d, b"")
    f = next(d.iterdir())
    assert READER.sniff(f, f.read_bytes()[:4096])
    assert not READER.sniff(d.parent, b"")  # the corpus root itself holds no event file


def test_file_version_only_gives_empty_frame() -> None:
    d = real_dir("tfevents_13")
    assert next(d.iterdir()).stat().st_size == 88
    (run,) = READER.read(d, "r")
    assert run.frame.height == 0 and run.frame.schema == pl.Schema(SCHEMA)
    assert run.warnings == []


def test_nan_survives_and_step_zero_present() -> None:
    d = real_dir("tfevents_17")
    frame = READER.read(d, "r")[0].frame
    box = frame.filter((pl.col("metric") == "box_loss") & (pl.col("split") == "val")).sort("step")
    assert math.isnan(box.filter(pl.col("step") == 1)["value"][0])
    assert box["step"][0] == 0 and math.isfinite(box["value"][0])
    # YOLOv5 logs once per epoch: epoch == step
    assert (frame["epoch"] == frame["step"].cast(pl.Float64)).all()


def test_tf2_tensor_scalars_and_keras_epoch() -> None:
    for name in ("tfevents_03", "tfevents_04", "tfevents_05", "tfevents_06"):
        d = real_dir(name)
        f = next(d.iterdir())
        ref = reference_points(f)
        assert ref and all(tag in ("epoch_loss", "epoch_lr", "evaluation_loss_vs_iterations") for tag, *_ in ref)
        frame = READER.read(d, name)[0].frame
        assert frame.height == len(ref)
        loss = frame.filter(pl.col("metric") == "loss")
        assert loss.height == sum(1 for r in ref if r[0] == "epoch_loss")
        assert (loss["epoch"] == loss["step"].cast(pl.Float64)).all()
    ev = READER.read(real_dir("tfevents_04"), "r")[0].frame
    per_iter = ev.filter(pl.col("metric") == "loss_vs_iterations")
    assert per_iter["split"].unique().to_list() == ["val"] and per_iter["epoch"].null_count() == per_iter.height


def test_multi_file_dir_merged() -> None:
    d = real_dir("tfevents_16")
    files = event_files(d)
    assert len(files) == 5
    frame = READER.read(d, "r")[0].frame
    assert frame["source"].n_unique() == 5
    per = frame.group_by("metric", "split").agg(pl.len(), pl.col("step").min().alias("lo"), pl.col("step").max().alias("hi"))
    assert per.height == 13
    assert per["len"].unique().to_list() == [300]
    assert per["lo"].unique().to_list() == [0] and per["hi"].unique().to_list() == [299]


def test_hf_two_files_text_and_args() -> None:
    d = real_dir("tfevents_07")
    (run,) = READER.read(d, "r")
    assert run.meta["lr"] == pytest.approx(5e-5)
    assert run.meta["batch_size"] == 4
    assert run.meta["optimizer"] == "adamw_torch"
    assert set(run.meta["text"]) == {"args/text_summary", "model_config/text_summary"}
    assert all(len(t) <= 2001 for t in run.meta["text"].values())
    ev = run.frame.filter(pl.col("split") == "val")
    assert ev.height == 6 and ev["step"].unique().to_list() == [215337]
    loss = run.frame.filter((pl.col("metric") == "loss") & (pl.col("split") == "train"))
    assert loss["epoch"].null_count() == 0 and loss["epoch"].is_sorted()
    assert 0 < loss["epoch"][-1] <= 3.0


def test_lightning_hparams_and_epoch_tag() -> None:
    d = real_dir("tfevents_08")
    (run,) = READER.read(d, "r")
    assert run.meta["optimizer"] == "Adam"
    assert run.meta["lr"] == pytest.approx(1e-3)
    assert run.meta["batch_size"] == 32
    assert run.meta["hparams"]["padding"] == "same"
    val = run.frame.filter((pl.col("metric") == "loss") & (pl.col("split") == "val"))
    assert val.height == 30 and val["epoch"].null_count() == 0
    assert val["epoch"].min() == 0 and val["epoch"].max() == 29


def test_tf1_multi_value_summaries() -> None:
    d = real_dir("tfevents_15")
    frame = READER.read(d, "r")[0].frame
    loss = frame.filter(pl.col("metric") == "loss")
    assert loss.height == 389 and loss["step"].min() >= 4458
    assert frame["epoch"].null_count() == frame.height


# ------------------------------------------------------------------------------------------------
# hand-made files


def test_bulk_path_matches_tensorboard_on_large_mixed_file(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    events: list[event_pb2.Event] = [header_event()]
    tags = ["loss", "val_loss", "lr", "accuracy/train", "x"]
    for step in range(0, 20_000, 11):  # crosses the 1-, 2- and 3-byte step varint sizes
        for tag in tags:
            v = float(rng.standard_normal())
            if rng.random() < 0.01:
                v = float(rng.choice([np.nan, np.inf, -np.inf]))
            events.append(scalar(tag, v, step, wall=1.6e9 + step * 0.37 + rng.random()))
        if step % 990 == 0:  # an occasional multi-value summary (TF1 merge_all style)
            vals = [summary_pb2.Summary.Value(tag=f"m{i}", simple_value=float(i)) for i in range(3)]
            events.append(event_pb2.Event(wall_time=1.6e9 + step, step=step, summary=summary_pb2.Summary(value=vals)))
    p = write(tmp_path / "events.out.tfevents.1.host", framed(*events))
    ef = read_event_file(p)
    same_points(ef.points, reference_points(p, fast=True))
    assert ef.warnings == []


def test_many_tags_of_one_record_length_decode_in_bulk(tmp_path: Path) -> None:
    """Per-layer metrics: 100 tags whose records all have the same length go through the bulk decoder
    (grouped by layout, not one pass per tag), every point equal to tensorboard's, none left over."""
    from trainlog_doctor.readers._tfrecord import Buffer, decode_bulk, walk

    rng = np.random.default_rng(3)
    tags = [f"layer{i:02d}/grad_norm" for i in range(100)]
    events: list[event_pb2.Event] = [header_event()]
    for step in range(300, 420):  # two-byte step varints: every record has the same length
        for tag in tags:
            v = float(np.nan) if rng.random() < 0.002 else float(abs(rng.standard_normal()))
            events.append(scalar(tag, v, step, wall=1.7e9 + step + rng.random()))
    data = framed(*events)
    buf = Buffer.from_bytes(data)
    bulk = decode_bulk(buf, walk(buf))
    assert bulk.fallback.tolist() == [0]  # only the file_version header record
    assert sum(p.rec.size for p in bulk.parts) == 120 * 100 and bulk.bad_crc == []
    p = write(tmp_path / "events.out.tfevents.1.host", data)
    same_points(read_event_file(p).points, reference_points(p, fast=True))


def test_step_zero_omitted_and_float32_values(tmp_path: Path) -> None:
    p = write(tmp_path / "events.out.tfevents.2.h", framed(header_event(), scalar("loss", 0.1, 0), scalar("loss", 0.2, 1)))
    pts = read_event_file(p).points
    assert pts["step"].to_list() == [0, 1]
    assert pts["value"][0] == pytest.approx(0.1, rel=1e-7) and pts["value"][0] != 0.1  # float32 on the wire


def test_truncated_file_keeps_points_before_cut(tmp_path: Path) -> None:
    data = torch_like_file(50)
    full = tmp_path / "full" / "events.out.tfevents.3.h"
    write(full, data)
    n_full = read_event_file(full).points.height
    cut = tmp_path / "cut" / "events.out.tfevents.3.h"
    write(cut, data[: len(data) - 20])  # mid last record
    (run,) = READER.read(cut.parent, "r")
    assert run.frame.height == n_full - 1
    assert len(run.warnings) == 1 and "truncated at byte" in run.warnings[0]
    at = int(run.warnings[0].split("truncated at byte ")[1].split()[0])
    assert at == record_offsets(data)[-1][0]  # the start of the incomplete last record
    # cut inside a header too
    write(cut, data[: at + 5])
    (run,) = READER.read(cut.parent, "r")
    assert run.frame.height == n_full - 1 and "truncated at byte" in run.warnings[0]


def test_bit_flip_skips_record_with_warning(tmp_path: Path) -> None:
    data = bytearray(torch_like_file(40))
    ref = read_event_file(write(tmp_path / "a" / "events.out.tfevents.4.h", bytes(data))).points
    # flip a bit in the float value of record 10 (last 4 data bytes before its CRC)
    offs = record_offsets(bytes(data))
    o, ln = offs[10]
    data[o + 12 + ln - 2] ^= 0x04
    o2, ln2 = offs[20]
    data[o2 + 12 + 14] ^= 0x01  # a constant byte (inside the tag) of record 20
    p = write(tmp_path / "b" / "events.out.tfevents.4.h", bytes(data))
    ef = read_event_file(p)
    assert ef.points.height == ref.height - 2
    assert len(ef.warnings) == 1 and "skipped 2 record(s) with a bad data checksum" in ef.warnings[0]
    expected = ref.with_row_index().filter(~pl.col("index").is_in([9, 19])).drop("index")
    assert ef.points.equals(expected)


def test_bad_length_crc_stops_reading(tmp_path: Path) -> None:
    data = bytearray(torch_like_file(30))
    o = record_offsets(bytes(data))[7][0]
    data[o + 9] ^= 0xFF  # length CRC of record 7
    ef = read_event_file(write(tmp_path / "events.out.tfevents.5.h", bytes(data)))
    assert ef.points.height == 6  # records 1..6 (record 0 is the file_version)
    assert "framing lost" in ef.warnings[0] and f"byte {o}" in ef.warnings[0]


def test_garbage_and_lfs_pointer_raise(tmp_path: Path) -> None:
    garbage = write(tmp_path / "g" / "events.out.tfevents.6.h", b"this is not a tfrecord file at all\n" * 20)
    with pytest.raises(LogReadError, match="not a TensorBoard event file"):
        READER.read(garbage.parent, "r")
    lfs = write(
        tmp_path / "l" / "events.out.tfevents.7.h",
        b"version https://git-lfs.github.com/spec/v1\noid sha256:" + b"0" * 64 + b"\nsize 123456\n",
    )
    with pytest.raises(LogReadError, match="LFS"):
        READER.read(lfs.parent, "r")
    with pytest.raises(LogReadError, match="LFS"):
        READER.read(lfs, "r")
    assert not READER.sniff(lfs, lfs.read_bytes())
    assert not READER.sniff(tmp_path / "notes.bin", b"hello world, definitely not TFRecord")
    with pytest.raises(LogReadError, match="no TensorBoard event files"):
        READER.read(tmp_path / "empty_dir_that_does_not_exist", "r")


def test_one_bad_file_among_good_ones_is_a_warning(tmp_path: Path) -> None:
    write(tmp_path / "events.out.tfevents.1.a", torch_like_file(5))
    write(tmp_path / "events.out.tfevents.2.b", b"\x00garbage garbage garbage garbage")
    (run,) = READER.read(tmp_path, "r")
    assert run.frame.height == 15
    assert any("skipped events.out.tfevents.2.b" in w for w in run.warnings)


def test_empty_file_gives_empty_frame(tmp_path: Path) -> None:
    p = write(tmp_path / "events.out.tfevents.8.h", b"")
    (run,) = READER.read(p.parent, "r")
    assert run.frame.height == 0 and run.warnings == []


def test_sniff_by_header_without_name(tmp_path: Path) -> None:
    p = write(tmp_path / "run.bin", torch_like_file(2))
    assert READER.sniff(p, p.read_bytes()[:4096])
    assert READER.sniff(tmp_path, b"") is False  # no *tfevents* file in the directory
    (run,) = READER.read(p, "r")  # a single file can be read directly
    assert run.frame.height == 6


def _tensor(dtype: int, **fields: object) -> tensor_pb2.TensorProto:
    return tensor_pb2.TensorProto(dtype=dtype, tensor_shape=tensor_shape_pb2.TensorShapeProto(), **fields)


def test_tensor_layouts(tmp_path: Path) -> None:
    events = [
        header_event(),
        tensor_event("a", _tensor(1, tensor_content=struct.pack("<f", 1.5)), 1),
        tensor_event("b", _tensor(1, float_val=[2.5]), 2),
        tensor_event("c", _tensor(2, double_val=[0.1]), 3),
        tensor_event("d", _tensor(2, tensor_content=struct.pack("<d", -7.25)), 4),
        tensor_event("e", _tensor(19, half_val=[int(np.array([0.5], dtype=np.float16).view(np.uint16)[0])]), 5),
        tensor_event("f", _tensor(3, int_val=[42]), 6),
        tensor_event("g", _tensor(1, tensor_content=struct.pack("<f", float("nan"))), 7),
        # a rank-1 tensor of 3 values is not a scalar: ignored
        event_pb2.Event(
            step=8,
            summary=summary_pb2.Summary(
                value=[
                    summary_pb2.Summary.Value(
                        tag="hist",
                        tensor=tensor_pb2.TensorProto(
                            dtype=1,
                            tensor_shape=tensor_shape_pb2.TensorShapeProto(dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=3)]),
                            float_val=[1, 2, 3],
                        ),
                    )
                ]
            ),
        ),
    ]
    # repeat the a/b/c/d events so the bulk templates (not only the fallback) decode them
    for step in range(10, 200):
        events.append(tensor_event("a", _tensor(1, tensor_content=struct.pack("<f", step / 4)), step))
        events.append(tensor_event("c", _tensor(2, double_val=[step / 8]), step))
    p = write(tmp_path / "events.out.tfevents.9.h.v2", framed(*events))
    ef = read_event_file(p)
    same_points(ef.points, reference_points(p))
    first = {t: v for t, s, _, v in ef.points.rows() if s < 10}
    assert first["a"] == 1.5 and first["b"] == 2.5 and first["c"] == 0.1 and first["d"] == -7.25
    assert first["e"] == 0.5 and first["f"] == 42.0 and math.isnan(first["g"])
    assert "hist" not in first


def test_hparams_and_text_meta(tmp_path: Path) -> None:
    from google.protobuf import struct_pb2

    hp = plugin_data_pb2.HParamsPluginData(
        session_start_info=plugin_data_pb2.SessionStartInfo(
            hparams={
                "optimizer": struct_pb2.Value(string_value="SGD"),
                "batch_size": struct_pb2.Value(number_value=64),
                "learning_rate": struct_pb2.Value(number_value=0.1),
                "nesterov": struct_pb2.Value(bool_value=True),
            }
        )
    )
    meta = summary_pb2.SummaryMetadata(
        plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="hparams", content=hp.SerializeToString())
    )
    hp_event = event_pb2.Event(
        wall_time=1.7e9,
        summary=summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag="_hparams_/session_start_info", metadata=meta)]),
    )
    long_text = "x" * 5000
    text_event = tensor_event("notes/text_summary", _tensor(7, string_val=[long_text.encode()]), 0, plugin="text")
    p = write(
        tmp_path / "events.out.tfevents.10.h",
        framed(header_event(), hp_event, text_event, scalar("loss", 1.0, 0), scalar("loss", 0.5, 1)),
    )
    (run,) = READER.read(p.parent, "r")
    assert run.meta["optimizer"] == "SGD"
    assert run.meta["batch_size"] == 64
    assert run.meta["lr"] == pytest.approx(0.1)
    assert run.meta["hparams"]["nesterov"] is True
    assert 1990 <= len(run.meta["text"]["notes/text_summary"]) <= 2010
    assert run.frame["metric"].to_list() == ["loss", "loss"]  # text and hparams are not series


def test_merge_keeps_latest_wall_time_on_duplicate_steps(tmp_path: Path) -> None:
    first = [scalar("loss", 9.0, s, wall=1000.0 + s) for s in range(10)]
    resumed = [scalar("loss", 1.0, s, wall=5000.0 + s) for s in range(5, 15)]
    write(tmp_path / "events.out.tfevents.100.h", framed(header_event(), *first))
    write(tmp_path / "events.out.tfevents.200.h", framed(header_event(), *resumed))
    frame = READER.read(tmp_path, "r")[0].frame
    assert frame.height == 20  # both files' points, in (step, wall time) order
    assert frame.select("step", "wall_time").rows() == sorted(frame.select("step", "wall_time").rows())
    loss = build_view(frame, {}).get("loss", "train")
    assert loss is not None and loss.duplicates == 5  # steps 5-9 of the first launch were written again
    assert loss.steps.tolist() == list(range(15))
    assert loss.values.tolist() == [9.0] * 5 + [1.0] * 10


def test_keras_split_subdirs(tmp_path: Path) -> None:
    def keras(tag: str, v: float, step: int) -> event_pb2.Event:
        return tensor_event(tag, _tensor(1, tensor_content=struct.pack("<f", v)), step)

    write(
        tmp_path / "train" / "events.out.tfevents.1.h.v2",
        framed(header_event(), *[keras("epoch_loss", 1 / (e + 1), e) for e in range(5)], keras("epoch_lr", 0.01, 0)),
    )
    write(
        tmp_path / "validation" / "events.out.tfevents.2.h.v2",
        framed(header_event(), *[keras("epoch_loss", 2 / (e + 1), e) for e in range(5)]),
    )
    assert READER.sniff(tmp_path, b"")
    frame = READER.read(tmp_path, "r")[0].frame
    pairs = frame.group_by("metric", "split").len().sort("metric", "split").rows()
    assert pairs == [("loss", "train", 5), ("loss", "val", 5), ("lr", "other", 1)]
    assert (frame["epoch"] == frame["step"].cast(pl.Float64)).all()
    # the validation dir read on its own still knows its split
    alone = READER.read(tmp_path / "validation", "r")[0].frame
    assert alone["split"].unique().to_list() == ["val"]


def test_epoch_tag_asof(tmp_path: Path) -> None:
    events = [header_event()]
    for step in range(0, 100, 10):
        events.append(scalar("train/loss", 1.0, step))
        if step % 30 == 0:
            events.append(scalar("train/epoch", step / 30, step))
    write(tmp_path / "events.out.tfevents.1.h", framed(*events))
    frame = READER.read(tmp_path, "r")[0].frame.filter(pl.col("metric") == "loss")
    assert frame["epoch"].to_list() == [0, 0, 0, 1, 1, 1, 2, 2, 2, 3]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    points=st.lists(
        st.tuples(
            st.sampled_from(["loss", "val/acc", "lr", "a_much_longer/tag_name"]),
            st.integers(min_value=-(2**63), max_value=2**63 - 1),
            st.floats(width=32, allow_nan=True, allow_infinity=True),
        ),
        min_size=0,
        max_size=300,
    )
)
def test_roundtrip_property(tmp_path: Path, points: list[tuple[str, int, float]]) -> None:
    events = [header_event()] + [scalar(t, v, s, wall=1.5e9 + i) for i, (t, s, v) in enumerate(points)]
    p = write(tmp_path / "events.out.tfevents.prop.h", framed(*events))
    pts = read_event_file(p).points
    assert pts["tag"].to_list() == [t for t, _, _ in points]
    assert pts["step"].to_list() == [s for _, s, _ in points]
    got = pts["value"].to_numpy()
    want = np.array([v for _, _, v in points], dtype=np.float64)
    assert np.array_equal(got, want, equal_nan=True)


def _masked_crc(data: bytes) -> int:
    import google_crc32c

    crc = google_crc32c.value(data)
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF


def naive_points(data: bytes) -> list[tuple[str, int, float, float]] | None:
    """A slow, obviously-correct reader with the same damage rules; ``None`` when the first header is bad."""
    pts: list[tuple[str, int, float, float]] = []
    o = 0
    while o + 12 <= len(data):
        (ln,) = struct.unpack_from("<Q", data, o)
        if _masked_crc(data[o : o + 8]) != struct.unpack_from("<I", data, o + 8)[0]:
            return None if o == 0 else pts  # framing lost
        if o + ln + 16 > len(data):
            break  # truncated
        body = data[o + 12 : o + 12 + ln]
        o += ln + 16
        if _masked_crc(body) != struct.unpack_from("<I", data, o - 4)[0]:
            continue
        try:
            ev = event_pb2.Event.FromString(body)
        except Exception:
            continue
        for v in ev.summary.value:
            if v.WhichOneof("value") == "simple_value":
                pts.append((v.tag, ev.step, ev.wall_time, float(v.simple_value)))
    return pts


@pytest.mark.parametrize("seed", range(40))
def test_random_damage_matches_naive_reader(tmp_path: Path, seed: int) -> None:
    rng = np.random.default_rng(seed)
    tags = ["loss", "val/acc", "lr", "t" * int(rng.integers(1, 30))]
    events: list[event_pb2.Event] = [header_event()]
    step = 0
    for i in range(int(rng.integers(0, 300))):
        step += int(rng.choice([0, 1, 1, 7, 300, 40_000]))
        if rng.random() < 0.1:
            vals = [summary_pb2.Summary.Value(tag=str(rng.choice(tags)), simple_value=float(j)) for j in range(3)]
            events.append(event_pb2.Event(wall_time=1.6e9 + i, step=step, summary=summary_pb2.Summary(value=vals)))
        elif rng.random() < 0.05:
            events.append(event_pb2.Event(wall_time=1.6e9 + i, file_version="v" * int(rng.integers(0, 200))))
        else:
            events.append(scalar(str(rng.choice(tags)), float(rng.standard_normal()), step, wall=1.6e9 + i * rng.random()))
    data = bytearray(framed(*events))
    damage = rng.random()
    if damage < 0.4:
        for _ in range(int(rng.integers(1, 4))):
            data[int(rng.integers(0, len(data)))] ^= 1 << int(rng.integers(0, 8))
    elif damage < 0.7:
        data = data[: int(rng.integers(0, len(data)))]
    elif damage < 0.8:
        data += bytes(rng.integers(0, 256, int(rng.integers(1, 40)), dtype=np.uint8))
    p = write(tmp_path / "events.out.tfevents.fuzz.h", bytes(data))
    want = naive_points(bytes(data))
    if want is None:
        with pytest.raises(LogReadError):
            read_event_file(p)
        return
    got = read_event_file(p).points.rows()
    assert len(got) == len(want)
    for a, b in zip(got, want):
        assert a[:3] == b[:3] and (a[3] == b[3] or (math.isnan(a[3]) and math.isnan(b[3])))


# ------------------------------------------------------------------------------------------------
# streaming windows and bounded series


def mixed_events(n_steps: int = 400, seed: int = 11) -> list[event_pb2.Event]:
    """Scalars of several record sizes, multi-value summaries, tensors, text, hparams and a big graph record."""
    from google.protobuf import struct_pb2

    rng = np.random.default_rng(seed)
    hp = plugin_data_pb2.HParamsPluginData(
        session_start_info=plugin_data_pb2.SessionStartInfo(hparams={"optimizer": struct_pb2.Value(string_value="Adam")})
    )
    hp_meta = summary_pb2.SummaryMetadata(
        plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="hparams", content=hp.SerializeToString())
    )
    events: list[event_pb2.Event] = [
        header_event(),
        event_pb2.Event(wall_time=1.7e9, graph_def=bytes(rng.integers(0, 256, 3000, dtype=np.uint8))),
        event_pb2.Event(
            wall_time=1.7e9,
            summary=summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag="_hparams_/session_start_info", metadata=hp_meta)]),
        ),
    ]
    for step in range(0, n_steps * 37, 37):
        for tag in ("loss", "val/loss", "lr"):
            v = float(rng.standard_normal())
            if rng.random() < 0.02:
                v = float(rng.choice([np.nan, np.inf]))
            events.append(scalar(tag, v, step, wall=1.6e9 + step + rng.random()))
        if step % 50 == 0:
            events.append(tensor_event("epoch_acc", _tensor(1, tensor_content=struct.pack("<f", step / 1000)), step))
        if step % 333 == 0:
            vals = [summary_pb2.Summary.Value(tag=f"m{i}", simple_value=float(i + step)) for i in range(3)]
            events.append(event_pb2.Event(wall_time=1.6e9 + step, step=step, summary=summary_pb2.Summary(value=vals)))
        if step % 2000 == 0:
            events.append(tensor_event("notes", _tensor(7, string_val=[f"at {step}".encode()]), step, plugin="text"))
    return events


@pytest.mark.parametrize("window", [64, 100, 257, 1000, 4096, 50_000])
def test_windows_give_the_same_result_as_one_window(tmp_path: Path, window: int) -> None:
    p = write(tmp_path / "events.out.tfevents.w.h", framed(*mixed_events()))
    whole = read_event_file(p)
    same_points(whole.points, reference_points(p, fast=True))
    got = read_event_file(p, window=window)  # the graph record (3 KB) is larger than most of these windows
    assert got.points.equals(whole.points)
    assert got.meta == whole.meta and got.meta["optimizer"] == "Adam" and "notes" in got.meta["text"]
    assert got.warnings == whole.warnings == []


@pytest.mark.parametrize("seed", range(30))
def test_random_damage_same_in_small_windows(tmp_path: Path, seed: int) -> None:
    rng = np.random.default_rng(1000 + seed)
    data = bytearray(framed(*mixed_events(n_steps=int(rng.integers(5, 120)), seed=seed)))
    damage = rng.random()
    if damage < 0.5:
        for _ in range(int(rng.integers(1, 4))):
            data[int(rng.integers(0, len(data)))] ^= 1 << int(rng.integers(0, 8))
    elif damage < 0.9:
        data = data[: int(rng.integers(0, len(data)))]
    p = write(tmp_path / "events.out.tfevents.fw.h", bytes(data))
    try:
        whole = read_event_file(p)
    except LogReadError as exc:
        with pytest.raises(LogReadError, match=str(exc)[:30]):
            read_event_file(p, window=int(rng.integers(64, 3000)))
        return
    for window in (64, int(rng.integers(65, 3000))):
        got = read_event_file(p, window=window)
        assert got.points.equals(whole.points), window
        assert got.warnings == whole.warnings and got.meta == whole.meta


def test_truncation_reported_in_file_offsets_across_windows(tmp_path: Path) -> None:
    data = torch_like_file(300)
    cut = len(data) - 7
    p = write(tmp_path / "events.out.tfevents.tw.h", data[:cut])
    for window in (64, 333, 1 << 20):
        ef = read_event_file(p, window=window)
        assert ef.points.height == 300 * 3 - 1
        assert ef.warnings == [f"truncated at byte {record_offsets(data)[-1][0]} (file has {cut} bytes; last record incomplete)"]


def long_run_file(n_steps: int, spike_at: int, nan_at: int) -> tuple[bytes, np.ndarray]:
    """``loss`` for ``n_steps`` steps (one spike, one NaN) plus a short ``lr``; returns (bytes, loss values)."""
    rng = np.random.default_rng(5)
    loss = (2.0 * np.exp(-np.arange(n_steps) / 3000) + 0.05 * rng.standard_normal(n_steps)).astype(np.float32)
    loss[spike_at] = 40.0
    loss[nan_at] = np.nan
    out = [header_event().SerializeToString()]
    for step in range(n_steps):
        out.append(scalar("loss", float(loss[step]), step).SerializeToString())
        if step % 100 == 0:
            out.append(scalar("lr", 0.1, step).SerializeToString())
    return b"".join(map(quick_record, out)), loss.astype(np.float64)


def quick_record(data: bytes) -> bytes:
    """TFRecord framing with google_crc32c (tensorboard's RecordWriter is pure Python without TensorFlow)."""
    head = struct.pack("<Q", len(data))
    return head + struct.pack("<I", _masked_crc(head)) + data + struct.pack("<I", _masked_crc(data))


def test_long_tag_reduced_with_one_warning(tmp_path: Path) -> None:
    data, loss = long_run_file(20_000, spike_at=12_345, nan_at=777)
    p = write(tmp_path / "events.out.tfevents.r.h", data)
    full = read_event_file(p, max_points=10**9).points
    assert full.height == 20_000 + 200
    ef = read_event_file(p, max_points=2_000)
    got = ef.points.filter(pl.col("tag") == "loss")
    assert 1_000 < got.height <= 2_000
    steps = got["step"].to_numpy()
    assert steps[0] == 0 and steps[-1] == 19_999 and np.all(np.diff(steps) > 0)
    assert np.array_equal(got["value"].to_numpy(), loss[steps], equal_nan=True)  # real steps, real values
    assert {776, 777, 778, 12_345} <= set(steps.tolist())  # NaN, its neighbours, the spike
    assert ef.points.filter(pl.col("tag") == "lr").height == 200  # a short tag is untouched
    assert ef.warnings == [
        f"loss: 20,000 points reduced to {got.height:,}, over the 2,000-point series limit "
        "(first/last/min/max of each bucket of 64 points; every NaN/Inf kept)"
    ]
    # the same in small windows, and through the reader (warning prefixed with the file)
    assert read_event_file(p, max_points=2_000, window=30_000).points.equals(ef.points)
    (run,) = TfEventsReader(max_points=2_000).read(tmp_path, "r")
    assert run.frame.filter(pl.col("metric") == "loss").height == got.height
    assert run.warnings == [f"events.out.tfevents.r.h: {ef.warnings[0]}"]


def test_series_over_the_limit_after_merging_files_reduced_again(tmp_path: Path) -> None:
    write(tmp_path / "events.out.tfevents.1.a", framed(header_event(), *[scalar("loss", s % 7, s) for s in range(900)]))
    write(tmp_path / "events.out.tfevents.2.b", framed(header_event(), *[scalar("loss", s % 5, s) for s in range(900, 1800)]))
    (run,) = TfEventsReader(max_points=1_000).read(tmp_path, "r")
    steps = run.frame["step"].to_list()
    assert len(steps) <= 1_000 and steps[0] == 0 and steps[-1] == 1799
    assert len(run.warnings) == 1 and run.warnings[0].startswith(
        "loss (train, merged from several tags or files): 1,800 points reduced to"
    )
    assert run.frame["value"].max() == 6.0


def test_record_that_is_not_an_event_skipped_in_any_window(tmp_path: Path) -> None:
    junk = b"\x2a\x02\x0a\x05"  # a summary field whose value claims 5 bytes past its end: CRC fine, proto not
    before = [scalar("loss", 1.0, s) for s in range(40)]
    data = framed(header_event(), *before, junk, *[scalar("loss", 2.0, s) for s in range(40, 60)])
    p = write(tmp_path / "events.out.tfevents.u.h", data)
    at = record_offsets(data)[41][0]
    for window in (64, 200, 1 << 20):
        ef = read_event_file(p, window=window)
        assert ef.points.height == 60
        assert ef.warnings == [f"skipped 1 record(s) that are not Event protos (first at byte {at})"]


@pytest.mark.parametrize("window", [64, 150, 1 << 20])
def test_read_windows_finds_every_record_once(tmp_path: Path, window: int) -> None:
    from trainlog_doctor.readers._tfrecord import read_windows

    def records(fh: object) -> list[tuple[int, int]]:
        wins = read_windows(fh, window)  # type: ignore[arg-type]
        return [(w.base + int(o), int(n)) for w in wins for o, n in zip(w.framing.offsets, w.framing.lengths)]

    data = framed(*mixed_events(n_steps=30))
    want = record_offsets(data)
    p = write(tmp_path / "events.out.tfevents.rw.h", data)
    with open(p, "rb", buffering=0) as fh:
        assert records(fh) == want
    # a stream of unknown size (no fstat) reads the same, and a cut stream ends truncated
    assert records(io.BytesIO(data)) == want
    last = list(read_windows(io.BytesIO(data[:-3]), window))[-1]
    assert last.last and last.framing.problem == "truncated" and last.base + last.framing.stop == want[-1][0]


def many_tags_file(tags: list[str], n_steps: int, seed: int) -> tuple[bytes, dict[str, np.ndarray]]:
    """Every tag logged at every step (step-major, as a training loop does); returns (bytes, values per tag)."""
    rng = np.random.default_rng(seed)
    values = {t: rng.standard_normal(n_steps).astype(np.float32).astype(np.float64) for t in tags}
    out = [header_event().SerializeToString()]
    for step in range(n_steps):
        out.extend(scalar(t, float(values[t][step]), step, wall=1.6e9 + step).SerializeToString() for t in tags)
    return b"".join(map(quick_record, out)), values


def assert_reduced_to(frame: pl.DataFrame, values: dict[str, np.ndarray], limit: int) -> None:
    """Each tag of ``frame`` (metric = tag) holds exactly the one-pass reduction of its series at ``limit``."""
    for tag, v in values.items():
        got = frame.filter(pl.col("metric") == tag)
        idx = reduce_series(v, limit).index
        assert got["step"].to_list() == idx.tolist(), tag
        assert np.array_equal(got["value"].to_numpy(), v[idx], equal_nan=True)


def test_many_tags_lowered_to_the_run_budget(tmp_path: Path) -> None:
    tags = [f"t{i:02d}" for i in range(20)]
    data, values = many_tags_file(tags, 600, seed=1)
    p = write(tmp_path / "events.out.tfevents.m.h", data)
    # 20 x 600 = 12,000 points: limit 1,000 -> 500 (10,000) -> 250 (5,000) -> 125 (2,500 <= 3,000)
    (run,) = TfEventsReader(max_points=1_000, budget=3_000, floor=50).read(tmp_path, "r")
    assert_reduced_to(run.frame, values, 125)
    assert run.frame.height <= 3_000
    assert run.warnings[0] == "run budget: series limit lowered from 1,000 to 125 points to keep the run within 3,000 points"
    assert len(run.warnings) == 1 + 20
    kept = run.frame.filter(pl.col("metric") == "t07").height
    assert run.warnings[8] == (
        f"events.out.tfevents.m.h: t07: 600 points reduced to {kept:,}, over the 125-point series limit, lowered "
        "from 1,000 by the run budget of 3,000 points (first/last/min/max of each bucket of 32 points; every NaN/Inf kept)"
    )
    # lowered mid-stream in small windows: the same frame; one file alone reads the same too
    (small,) = TfEventsReader(max_points=1_000, budget=3_000, floor=50, window=3_000).read(tmp_path, "r")
    assert small.frame.equals(run.frame) and small.warnings == run.warnings
    one = read_event_file(p, max_points=1_000, budget=3_000, floor=50)
    assert one.points.height == run.frame.height and one.warnings[0] == run.warnings[0]
    # with room for all, nothing changes
    (loose,) = TfEventsReader(max_points=1_000, budget=12_000, floor=50).read(tmp_path, "r")
    assert loose.frame.height == 12_000 and loose.warnings == []


def test_run_budget_spans_the_files_of_a_run(tmp_path: Path) -> None:
    data_a, values_a = many_tags_file([f"a{i}" for i in range(10)], 600, seed=2)
    data_b, values_b = many_tags_file([f"b{i}" for i in range(10)], 600, seed=3)
    write(tmp_path / "events.out.tfevents.1.a", data_a)
    write(tmp_path / "events.out.tfevents.2.b", data_b)
    # each file alone (6,000) fits 7,000; together (12,000) they need 250 a series (5,000), the first file's too
    assert read_event_file(tmp_path / "events.out.tfevents.1.a", max_points=1_000, budget=7_000).points.height == 6_000
    (run,) = TfEventsReader(max_points=1_000, budget=7_000, floor=50, window=4_000).read(tmp_path, "r")
    assert_reduced_to(run.frame, {**values_a, **values_b}, 250)
    assert run.warnings[0].startswith("run budget: series limit lowered from 1,000 to 250 points")
    assert sum(w.startswith("events.out.tfevents.1.a: a") for w in run.warnings) == 10


def test_run_budget_floor_kept_with_a_warning(tmp_path: Path) -> None:
    data, values = many_tags_file([f"t{i:02d}" for i in range(20)], 600, seed=4)
    write(tmp_path / "events.out.tfevents.f.h", data)
    (run,) = TfEventsReader(max_points=1_000, budget=100, floor=200).read(tmp_path, "r")
    assert_reduced_to(run.frame, values, 200)
    assert run.warnings[0] == (
        "run budget: 20 series keep more than 100 points even at the floor of 200 points per series "
        "(4,000 counted); kept the floor"
    )
    assert len(run.warnings) == 21
