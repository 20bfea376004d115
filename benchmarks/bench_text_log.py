"""Speed of the text-log reader in microseconds per line, on large console logs built here.

Usage: ``python benchmarks/bench_text_log.py [--lines 200000] [--repeat 3] [--out DIR]``

Three logs of about ``--lines`` lines each, in the shapes real runs print (numbers made up here):

* ``mmengine``: ``YYYY/MM/DD HH:MM:SS - mmengine - INFO - Epoch(train)  [e][ i/N]  lr: ...  loss: ...``
  iteration lines every 10 iterations, an ``Epoch(val)`` line and checkpoint chatter per epoch;
* ``keras``: Keras 2 progress output, ``Epoch e/E`` then the progress bar redrawn with ``\\b`` and
  ``\\r`` (each redraw counted as a line), the last one with ``val_loss``;
* ``mixed``: Python-logging lines, detectron2 ``iter:`` lines, tqdm bars with postfix pairs and
  prose/warnings between them.

The best of ``--repeat`` reads is reported (the machine is shared), as µs per line of the file.
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from trainlog_doctor.readers.base import LogReadError  # noqa: E402
from trainlog_doctor.readers.text_log import TextLogReader  # noqa: E402


def mmengine_log(n_lines: int) -> str:
    """An mmengine iteration log of about ``n_lines`` lines."""
    rnd = random.Random(0)
    per_epoch, every = 2000, 10
    out = ["2026/03/02 10:00:01 - mmengine - INFO - Config:", "optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.1))"]
    epoch, t = 1, 0
    while len(out) < n_lines:
        for i in range(every, per_epoch + 1, every):
            t += 2
            loss = 2.5 * math.exp(-(epoch * per_epoch + i) / 40000) + rnd.random() * 0.05
            out.append(
                f"2026/03/02 {10 + t // 3600 % 14:02d}:{t // 60 % 60:02d}:{t % 60:02d} - mmengine - INFO - "
                f"Epoch(train)  [{epoch}][{i:4d}/{per_epoch}]  lr: {0.1 * 0.99**epoch:.4e}  eta: 1 day, 2:03:04  "
                f"time: {0.2 + rnd.random() * 0.01:.4f}  data_time: 0.0123  memory: 3821  grad_norm: {5 + rnd.random():.4f}  "
                f"loss: {loss:.4f}  loss_cls: {loss * 0.6:.4f}  loss_bbox: {loss * 0.4:.4f}"
            )
        out.append(f"2026/03/02 12:00:00 - mmengine - INFO - Saving checkpoint at {epoch} epochs")
        out.append(f"2026/03/02 12:00:05 - mmengine - INFO - Epoch(val) [{epoch}][500/500]    "
                   f"coco/bbox_mAP: {0.1 + epoch / 100:.4f}")
        epoch += 1
    return "\n".join(out[:n_lines]) + "\n"


def keras_log(n_lines: int) -> str:
    """Keras 2 progress output with ``\\b``/``\\r`` redraws; every redraw is one line of the count."""
    rnd = random.Random(1)
    batches, every = 1875, 32
    parts: list[str] = []
    lines, epoch = 0, 1
    while lines < n_lines:
        parts.append(f"Epoch {epoch}/500\n")
        lines += 1
        width = 0
        for b in range(every, batches + 1, every):
            loss = 1.0 / (epoch + b / batches) + rnd.random() * 0.01
            bar = "=" * (30 * b // batches)
            text = f"{b:4d}/{batches} [{bar:.<30}] - ETA: 3s - loss: {loss:.4f} - accuracy: {1 - loss / 2:.4f}"
            parts.append("\b" * width + "\r" + text)
            width = len(text)
            lines += 1
        parts.append("\b" * width + "\r" + f"{batches}/{batches} [{'=' * 30}] - 4s 2ms/step - loss: {loss:.4f} - "
                     f"accuracy: {1 - loss / 2:.4f} - val_loss: {loss * 1.1:.4f} - val_accuracy: {1 - loss / 1.8:.4f}\n")
        lines += 1
        epoch += 1
    return "".join(parts)


def mixed_log(n_lines: int) -> str:
    """Python logging, detectron2 and tqdm-postfix lines with chatter between them."""
    rnd = random.Random(2)
    out: list[str] = []
    it = 0
    while len(out) < n_lines:
        it += 20
        kind = rnd.random()
        if kind < 0.4:
            out.append(f"[03/02 10:{it // 60 % 60:02d}:{it % 60:02d} d2.utils.events]:  eta: 0:05:22  iter: {it}  "
                       f"total_loss: {2 / (1 + it / 5000):.4f}  loss_cls: 0.595  loss_box_reg: 0.549  time: 1.1678  "
                       f"data_time: 0.0222  lr: 1.6068e-05  max_mem: 2725M")
        elif kind < 0.7:
            out.append(f"2026-03-02 10:00:{it % 60:02d},123 - root - INFO - step {it} loss={2 / (1 + it / 5000):.4f} "
                       f"acc={it / (it + 900):.4f} lr=1.0e-03")
        elif kind < 0.85:
            out.append(f"Epoch {it // 2000}: 100%|██████████| 938/938 [00:10<00:00, 90.12it/s, v_num=0, "
                       f"train_loss={1 / (1 + it / 5000):.3f}]")
        else:
            out.append(rnd.choice([
                "/usr/lib/python3/site-packages/torch/nn/functional.py:718: UserWarning: Named tensors are experimental",
                "2026-03-02 10:00:00,123 - root - WARNING - GPU memory at 92%, consider a smaller batch",
                "Traceback (most recent call last):",
                "  File \"train.py\", line 12, in <module>",
            ]))
    return "\n".join(out) + "\n"


LOGS = {"mmengine": mmengine_log, "keras": keras_log, "mixed": mixed_log}


def count_lines(text: str) -> int:
    """Lines as the reader sees them: newline, carriage-return and backspace-run separated."""
    return len(text.replace("\b", "").replace("\r", "\n").splitlines())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("/tmp/bench_text_log"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    reader = TextLogReader()
    for name, build in LOGS.items():
        text = build(args.lines)
        path = args.out / f"{name}.log"
        path.write_text(text, encoding="utf-8")
        n = count_lines(text)
        best, result = math.inf, ""
        for _ in range(args.repeat):
            start = time.process_time()
            try:
                (run,) = reader.read(path, name)
                result = f"{run.frame.height} points  pattern: {run.meta.get('text_pattern')}"
            except LogReadError as exc:
                result = f"LogReadError: {exc}"
            best = min(best, time.process_time() - start)
        size = path.stat().st_size / 1e6
        print(f"{name:9s} {n:8d} lines {size:6.1f} MB  {best:6.2f} s  {best / n * 1e6:6.2f} µs/line  {result}")


if __name__ == "__main__":
    main()
