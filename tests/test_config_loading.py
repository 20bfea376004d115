"""Config loading (readers/_config.py): safe, bounded, and never fatal for the diagnosis.

Each hostile input is timed: the bound is generous for a shared machine, the real figure is far below it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from trainlog_doctor.readers._config import (
    MAX_CONFIG_BYTES,
    MAX_KEYS,
    ConfigError,
    config_table,
    flatten,
    load_config,
    parse_python_config,
    parse_yaml,
)
from trainlog_doctor.readers.lightning_csv import LightningCsvReader
from trainlog_doctor.readers.mmdet import MmdetJsonReader
from trainlog_doctor.run.config import config_from_meta

LIMIT_S = 2.0


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def _lightning_run(tmp_path: Path, hparams: bytes | str) -> Any:
    d = tmp_path / "lightning_logs" / "version_0"
    d.mkdir(parents=True)
    (d / "metrics.csv").write_text("epoch,step,train_loss,val_loss\n0,9,2.0,\n0,9,,1.9\n1,19,1.5,\n1,19,,1.6\n")
    (d / "hparams.yaml").write_bytes(hparams.encode() if isinstance(hparams, str) else hparams)
    return LightningCsvReader().read(d / "metrics.csv", "v0")[0]


# ---- YAML ---------------------------------------------------------------------------------------------


def test_python_tags_are_read_as_plain_data_never_constructed() -> None:
    text = (
        "betas: !!python/tuple\n- 0.9\n- 0.999\n"
        "args: !!python/object:argparse.Namespace\n  lr: 0.1\n"
        "cmd: !!python/object/apply:os.system ['echo hacked']\n"
        "path: !!python/object/apply:pathlib.PosixPath\n- data\n- train\n"
    )
    value = parse_yaml(text)
    assert value == {"betas": [0.9, 0.999], "args": {"lr": 0.1}, "cmd": ["echo hacked"], "path": ["data", "train"]}


def test_alias_bomb_is_bounded_by_the_key_limit() -> None:
    lines = ['a: &a ["x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    prev = "a"
    for name in "bcdefghij":  # 9^10 leaves if expanded
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 9) + "]")
        prev = name
    (flat, cut), seconds = timed(lambda: flatten(parse_yaml("\n".join(lines))))
    assert cut and len(flat) <= MAX_KEYS
    assert seconds < LIMIT_S


def test_self_referencing_yaml_ends() -> None:
    flat, cut = flatten(parse_yaml("a: &a {lr: 0.1, self: *a}\nb: &b [*b]\n"))
    assert flat["a.lr"] == 0.1 and flat["a.self.lr"] == 0.1 and cut


def test_250_kb_line_in_hparams_yaml(tmp_path: Path) -> None:
    run, seconds = timed(lambda: _lightning_run(tmp_path, "lr: 0.1\nnote: " + "a " * 125_000 + "\nbatch_size: 32\n"))
    assert seconds < LIMIT_S  # the regex reader this replaces took 141 s
    assert run.meta["lr"] == 0.1 and run.meta["batch_size"] == 32
    assert len(run.meta["hparams"]["note"]) <= 1001  # long strings are cut


def test_malformed_hparams_yaml_is_a_warning_and_the_run_goes_on(tmp_path: Path) -> None:
    run = _lightning_run(tmp_path, "lr: 0.1\nmodel: [unclosed\n  depth: 18\n")
    assert run.frame.height > 0 and "hparams" not in run.meta
    assert any(w.startswith("config hparams.yaml ignored: invalid YAML") for w in run.warnings)


def test_5_mb_config_is_not_read(tmp_path: Path) -> None:
    run, seconds = timed(lambda: _lightning_run(tmp_path, "lr: 0.1\n" + "# padding\n" * 500_000))
    assert seconds < LIMIT_S and run.frame.height > 0 and "lr" not in run.meta
    assert any("over the 1048576-byte limit" in w for w in run.warnings)


def test_binary_garbage_and_unknown_shapes(tmp_path: Path) -> None:
    run = _lightning_run(tmp_path, bytes(range(256)) * 64)
    assert "hparams" not in run.meta and any("binary data" in w for w in run.warnings)
    for text, reason in (("- 1\n- 2\n", "a list, not a mapping"), ("", "a empty, not a mapping"), ("42\n", "a int")):
        p = tmp_path / "x.yaml"
        p.write_text(text)
        warnings: list[str] = []
        assert config_table(p, warnings) is None
        assert len(warnings) == 1 and reason in warnings[0]


def test_deep_nesting_and_huge_numbers_are_errors_not_crashes(tmp_path: Path) -> None:
    for name, text in (
        ("deep.yaml", "a: " + "[" * 50_000 + "]" * 50_000),
        ("deep.json", "{\"a\": " + "[" * 100_000 + "]" * 100_000 + "}"),
        ("big.yaml", "n: " + "9" * 10_000 + "\n"),
        ("bad.json", '{"a": 1,'),
    ):
        p = tmp_path / name
        p.write_text(text)
        with pytest.raises(ConfigError):
            load_config(p)


def test_pickles_are_never_opened(tmp_path: Path) -> None:
    p = tmp_path / "training_args.bin"
    p.write_bytes(b"\x80\x04\x95")  # a pickle header
    with pytest.raises(ConfigError, match="never unpickled"):
        load_config(p)


def test_flatten_bounds_keys_lists_and_keeps_positions_of_mapping_lists() -> None:
    flat, cut = flatten({"param_scheduler": [{"type": "LinearLR", "end": 500}, {"type": "MultiStepLR", "milestones": [8, 11]}],
                         "ids": list(range(1000)), "x": {"y": {"z": 1}}})
    assert flat == {"param_scheduler.0.type": "LinearLR", "param_scheduler.0.end": 500,
                    "param_scheduler.1.type": "MultiStepLR", "param_scheduler.1.milestones": [8, 11], "x.y.z": 1}
    assert not cut
    flat, cut = flatten({f"k{i}": i for i in range(MAX_KEYS + 10)})
    assert cut and len(flat) == MAX_KEYS


# ---- Python configs -------------------------------------------------------------------------------------


def test_python_config_with_import_os_is_never_executed(tmp_path: Path) -> None:
    marker = tmp_path / "executed"
    source = (
        "import os\n"
        f"os.system('touch {marker}')\n"
        f"_ = open('{marker}', 'w')\n"
        f"x = __import__('os').system('touch {marker}')\n"
        "optimizer = dict(type='SGD', lr=0.02 / 2, momentum=0.9, weight_decay=1e-4, hook=print('x'))\n"
        "max_epochs = 12\n"
        "train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs)\n"
    )
    (tmp_path / "faster_rcnn_r50_fpn_1x_coco.py").write_text(source)
    header = {"env_info": "sys.platform: linux", "seed": 0}  # no config in the header: the dumped file is read
    rows = [header, {"mode": "train", "epoch": 1, "iter": 50, "lr": 0.01, "loss": 1.2, "time": 0.3}]
    log = tmp_path / "20240101_000000.log.json"
    log.write_text("".join(json.dumps(r) + "\n" for r in rows))
    (run,) = MmdetJsonReader().read(log, "r")
    assert not marker.exists()
    assert run.meta["config_file"] == "faster_rcnn_r50_fpn_1x_coco.py"
    assert run.meta["config"]["optimizer.lr"] == 0.01 and "optimizer.hook" not in run.meta["config"]
    assert run.meta["config"]["train_cfg.max_epochs"] == 12
    assert any("5 statement(s) or value(s) that are not literals skipped" in w for w in run.warnings)
    cfg = config_from_meta(run.meta)
    assert (cfg.optimizer, cfg.lr, cfg.momentum, cfg.epochs) == ("sgd", 0.01, 0.9, 12.0)


def test_python_config_literals() -> None:
    names, skipped = parse_python_config(
        "gpu_ids = range(0, 2)\nclasses = ('cat', 'dog')\nlr = -1e-3\nbad = range(0, 5, 0)\nbig = 10**400\n"
        "opt = dict(type='AdamW', betas=(0.9, 0.999), **extra)\nd = {'a': 1, **other}\n"
    )
    assert names == {"gpu_ids": [0, 1], "classes": ["cat", "dog"], "lr": -0.001}
    assert skipped == 4


def test_mmdet_header_of_200000_newlines(tmp_path: Path) -> None:
    config = "optimizer = dict(type='SGD', lr=0.02, momentum=0.9, weight_decay=0.0001)\n" + "\n" * 200_000
    config += "optimizer_config = dict(grad_clip=None)\ndata = dict(samples_per_gpu=2)\n"
    rows = [{"env_info": "GPU 0: T4", "config": config, "seed": 1},
            {"mode": "train", "epoch": 1, "iter": 50, "lr": 0.02, "loss": 1.2, "time": 0.3}]
    log = tmp_path / "20240101_000000.log.json"
    log.write_text("".join(json.dumps(r) + "\n" for r in rows))
    (run,), seconds = timed(lambda: MmdetJsonReader().read(log, "r"))
    assert seconds < LIMIT_S  # the regex scan this replaces took 89 s
    assert run.meta["lr"] == 0.02 and run.meta["batch_size"] == 2 and run.meta["grad_clip"] is None

    broken = config + "x = (\n" * 3
    rows[0]["config"] = broken
    log.write_text("".join(json.dumps(r) + "\n" for r in rows))
    (run,), seconds = timed(lambda: MmdetJsonReader().read(log, "r"))
    assert seconds < LIMIT_S and run.frame.height > 0 and "lr" not in run.meta
    assert "config in the header ignored: not a Python config that parses" in run.warnings


def test_mmdet_header_over_the_size_limit(tmp_path: Path) -> None:
    config = "optimizer = dict(type='SGD', lr=0.02)\n" + "# pad\n" * (MAX_CONFIG_BYTES // 6 + 1)
    rows = [{"env_info": "GPU 0: T4", "config": config},
            {"mode": "train", "epoch": 1, "iter": 50, "lr": 0.02, "loss": 1.2, "time": 0.3}]
    log = tmp_path / "20240101_000000.log.json"
    log.write_text("".join(json.dumps(r) + "\n" for r in rows))
    (run,) = MmdetJsonReader().read(log, "r")
    assert "lr" not in run.meta and any("over the 1048576 limit" in w for w in run.warnings)


def test_hostile_config_tree_in_a_memory_capped_subprocess(tmp_path: Path) -> None:
    """Every writer's config file made hostile at once; ``analyze`` runs under a 3 GiB address-space cap."""
    import os
    import subprocess
    import sys

    from test_config_writers import _detectron2_metrics, _trainer_state

    root = tmp_path / "runs"
    bomb = ['a: &a ["x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    for prev, name in zip("abcdefghi", "bcdefghij", strict=True):
        bomb.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 9) + "]")
    lightning = root / "lightning_logs" / "version_0"
    lightning.mkdir(parents=True)
    (lightning / "metrics.csv").write_text("epoch,step,train_loss,val_loss\n0,9,2.0,\n0,9,,1.9\n1,19,1.5,\n1,19,,1.6\n")
    (lightning / "hparams.yaml").write_text("\n".join(bomb) + "\n")
    (lightning / "config.yaml").write_bytes(bytes(range(256)) * 100)
    d2 = root / "detectron2"
    d2.mkdir()
    _detectron2_metrics(d2)
    (d2 / "config.yaml").write_text("SOLVER:\n  BASE_LR: 0.1\n" + "#" * (5 << 20) + "\n")
    hf = root / "hf"
    hf.mkdir()
    _trainer_state(hf)
    (hf / "training_args.json").write_text('{\n  "a": ' + "[" * 100_000 + "]" * 100_000 + "\n}")  # indented like the writer's
    (hf / "config.json").write_text('{\n  "model_type": "bert",\n  "n": ' + "9" * 5000 + "\n}")
    mm = root / "mmdet"
    mm.mkdir()
    header = {"env_info": "GPU 0: T4", "config": "optimizer = dict(type='SGD', lr=0.02)\n" + "\n" * 200_000 + "x = ("}
    row = {"mode": "train", "epoch": 1, "iter": 50, "lr": 0.02, "loss": 1.2, "time": 0.3}
    (mm / "20240101_000000.log.json").write_text(json.dumps(header) + "\n" + json.dumps(row) + "\n")
    (mm / "cfg.py").write_text("import os\noptimizer = dict(type='SGD', lr=__import__('os').getcwd())\n")
    out = tmp_path / "report.json"
    code = (
        "import resource, sys; resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))\n"
        "from trainlog_doctor.cli import main\n"
        "sys.argv = ['trainlog-doctor', 'analyze', sys.argv[1], '--format', 'json', '-o', sys.argv[2], '--fail-on', 'never']\n"
        "main()\n"
    )
    t0 = time.perf_counter()
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
    proc = subprocess.run([sys.executable, "-c", code, str(root), str(out)], capture_output=True, text=True, timeout=300, env=env)
    seconds = time.perf_counter() - t0
    assert proc.returncode == 0, proc.stderr[-2000:]
    runs = {r["run_id"]: r for r in json.loads(out.read_text())["runs"]}
    assert set(runs) == {"lightning_logs/version_0", "detectron2", "hf", "mmdet"}
    assert all(r["status"] == "ok" for r in runs.values()), {k: r["status"] for k, r in runs.items()}
    warned = {k: [w for w in r["warnings"] if w.startswith("config")] for k, r in runs.items()}
    assert any("binary data" in w for w in warned["lightning_logs/version_0"])
    assert any("over 2000 keys" in w for w in warned["lightning_logs/version_0"])  # the alias bomb hit the key bound
    assert any("over the 1048576-byte limit" in w for w in warned["detectron2"])
    assert any("nested too deeply" in w for w in warned["hf"]) and any("config.json ignored" in w for w in warned["hf"])
    assert "config in the header ignored: not a Python config that parses" in warned["mmdet"]
    assert "lr" not in runs["mmdet"]["meta"]  # neither the broken header nor the dumped file's call gives one
    assert seconds < 60, seconds  # the whole CLI run, start-up included
