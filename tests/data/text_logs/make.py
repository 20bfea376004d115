"""Writes the console-log fixtures of this directory: ``python tests/data/text_logs/make.py``.

Each file follows the line layout a framework prints (taken from real logs and the frameworks'
format strings); the numbers are made up here, from simple formulas that ``tests/test_text_log.py``
recomputes: ``loss(i) = round(2.0 / (1 + i / 10), 4)`` at the i-th logged point of a run.
"""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent


def loss(i: int) -> float:
    """The made-up training loss at the i-th logged point."""
    return round(2.0 / (1 + i / 10), 4)


def mmengine() -> str:
    """mmengine ``Runner`` log (``YYYY/MM/DD HH:MM:SS - mmengine - INFO - Epoch(train)  [e][ i/N] ...``)."""
    out = [
        "2026/03/02 10:00:00 - mmengine - INFO - ",
        "------------------------------------------------------------",
        "System environment:",
        "    sys.platform: linux",
        "    CUDA available: True",
        "    numpy_random_seed: 1234",
        "2026/03/02 10:00:01 - mmengine - INFO - Config:",
        "optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=0.0001))",
        "train_cfg = dict(by_epoch=True, max_epochs=3, val_interval=1)",
        "2026/03/02 10:00:05 - mmengine - INFO - Checkpoints will be saved to /work_dirs/resnet18_8xb32_in1k.",
    ]
    i = 0
    for e in range(1, 4):
        for it in (50, 100, 150, 200):
            sec = 10 + i * 20
            out.append(
                f"2026/03/02 10:{sec // 60:02d}:{sec % 60:02d} - mmengine - INFO - Epoch(train)  [{e}][{it:3d}/200]  "
                f"lr: {0.1 * 0.5 ** (e - 1):.4e}  eta: 0:{12 - i:02d}:34  time: 0.2031  data_time: 0.0123  memory: 1523  "
                f"loss: {loss(i):.4f}"
            )
            i += 1
        at5 = f"2026/03/02 10:{(sec + 5) // 60:02d}:{(sec + 5) % 60:02d} - mmengine - INFO -"
        at9 = f"2026/03/02 10:{(sec + 9) // 60:02d}:{(sec + 9) % 60:02d} - mmengine - INFO -"
        out.append(f"{at5} Exp name: resnet18_20260302_100000")
        out.append(f"{at5} Saving checkpoint at {e} epochs")
        out.append(f"{at9} Epoch(val)  [{e}][ 5/10]    eta: 0:00:01  time: 0.0512  data_time: 0.0101  memory: 300")
        out.append(f"{at9} Epoch(val) [{e}][10/10]    "
                   f"accuracy/top1: {30.0 + 10 * e:.4f}  accuracy/top5: {60.0 + 5 * e:.4f}  data_time: 0.0100  time: 0.0500")
    return "\n".join(out) + "\n"


def mmcv() -> str:
    """mmcv 1.x / mmdetection 2.x text log (``Epoch [e][i/N]\\tlr: ..., loss: ...`` and ``Epoch(val) [e][N]\\tbbox_mAP: ...``)."""
    out = ["2026-03-02 10:00:00,001 - mmdet - INFO - Environment info:", "sys.platform: linux",
           "2026-03-02 10:00:02,120 - mmdet - INFO - Distributed training: False",
           "2026-03-02 10:00:03,500 - mmdet - INFO - workflow: [('train', 1)], max: 2 epochs"]
    i = 0
    for e in (1, 2):
        for it in (50, 100, 150):
            out.append(
                f"2026-03-02 10:{i:02d}:15,123 - mmdet - INFO - Epoch [{e}][{it}/150]\tlr: 1.998e-02, eta: 1 day, 0:12:34, "
                f"time: 0.512, data_time: 0.051, memory: 3821, loss_rpn_cls: 0.0512, loss_rpn_bbox: 0.0301, "
                f"loss_cls: 0.4123, acc: 91.2345, loss_bbox: 0.2012, loss: {loss(i):.4f}, grad_norm: 10.1234"
            )
            i += 1
        out.append(f"2026-03-02 10:{i:02d}:20,000 - mmdet - INFO - Saving checkpoint at {e} epochs")
        out.append(f"2026-03-02 10:{i:02d}:40,000 - mmdet - INFO - Evaluating bbox...")
        out.append(
            f"2026-03-02 10:{i:02d}:45,000 - mmdet - INFO - Epoch(val) [{e}][625]\tbbox_mAP: {0.1 * e:.4f}, bbox_mAP_50: "
            f"{0.2 * e:.4f}, bbox_mAP_75: 0.1100, bbox_mAP_copypaste: {0.1 * e:.3f} {0.2 * e:.3f} 0.110 0.050 0.140 0.170"
        )
    return "\n".join(out) + "\n"


def detectron2() -> str:
    """detectron2 ``CommonMetricPrinter`` lines and the evaluator's ``copypaste`` results."""
    out = ["[03/02 10:00:00 detectron2]: Rank of current process: 0. World size: 1",
           "[03/02 10:00:05 d2.engine.train_loop]: Starting training from iteration 0"]
    for i, it in enumerate(range(19, 200, 20)):
        out.append(
            f"[03/02 10:{i:02d}:25 d2.utils.events]:  eta: 0:05:22  iter: {it}  total_loss: {loss(i):.4g}  loss_cls: 0.595  "
            f"loss_box_reg: 0.549  loss_rpn_cls: 0.03067  loss_rpn_loc: 0.01108  time: 1.1678  data_time: 0.0222  "
            f"lr: {0.00002 * (i + 1):.5g}  max_mem: 2725M"
        )
    out += [
        "[03/02 10:11:00 d2.evaluation.evaluator]: Inference done 11/50. Dataloading: 0.0010 s/iter. Inference: 0.0400 s/iter. "
        "Eval: 0.0003 s/iter. Total: 0.0415 s/iter. ETA=0:00:01",
        "[03/02 10:11:03 d2.evaluation.testing]: copypaste: Task: bbox",
        "[03/02 10:11:03 d2.evaluation.testing]: copypaste: AP,AP50,AP75,APs,APm,APl",
        "[03/02 10:11:03 d2.evaluation.testing]: copypaste: 35.1234,55.2345,37.8901,20.1234,38.2345,45.3456",
    ]
    return "\n".join(out) + "\n"


def fairseq() -> str:
    """fairseq-train with logging (``| train_inner | epoch 001:    100 / 300 loss=...``, valid, train summary)."""
    out = ["2026-03-02 10:00:00 | INFO | fairseq_cli.train | task: TranslationTask",
           "2026-03-02 10:00:00 | INFO | fairseq_cli.train | num. shared model params: 44,497,920 (num. trained: 44,497,920)"]
    i = 0
    for e in (1, 2):
        out.append(f"2026-03-02 10:0{e}:01 | INFO | fairseq.trainer | begin training epoch {e}")
        for k in (100, 200, 300):
            upd = (e - 1) * 300 + k
            out.append(
                f"2026-03-02 10:0{e}:{k // 10:02d} | INFO | train_inner | epoch {e:03d}:    {k} / 300 loss={loss(i):.3f}, "
                f"nll_loss={loss(i) - 0.2:.3f}, ppl=4410.2, wps=12345.6, ups=3.45, wpb=3578.2, bsz=120.5, num_updates={upd}, "
                f"lr=1.25e-05, gnorm=2.345, loss_scale=128, train_wall=29, gb_free=10.1, wall={31 * (i + 1)}"
            )
            i += 1
        out.append(f"2026-03-02 10:0{e}:40 | INFO | fairseq_cli.train | begin validation on \"valid\" subset")
        out.append(f"2026-03-02 10:0{e}:45 | INFO | valid | epoch {e:03d} | valid on 'valid' subset | loss {3.0 / e:.3f} | "
                   f"nll_loss {2.8 / e:.3f} | ppl 891.5 | wps 30000 | wpb 3000 | bsz 100 | num_updates {e * 300}")
        out.append(f"2026-03-02 10:0{e}:46 | INFO | fairseq.checkpoint_utils | Saved checkpoint checkpoints/checkpoint{e}.pt "
                   f"(epoch {e} @ {e * 300} updates, score {3.0 / e:.3f}) (writing took 1.2 seconds)")
        out.append(f"2026-03-02 10:0{e}:46 | INFO | fairseq_cli.train | end of epoch {e} (average epoch stats below)")
        out.append(f"2026-03-02 10:0{e}:46 | INFO | train | epoch {e:03d} | loss 9.999 | nll_loss 9.8 | ppl 2048 | wps 12000 | "
                   f"ups 3.4 | wpb 3578 | bsz 120 | num_updates {e * 300} | lr 0.000137 | gnorm 2.1 | train_wall 320 | wall 336")
    out.append("2026-03-02 10:03:00 | INFO | fairseq_cli.train | done training in 180.0 seconds")
    return "\n".join(out) + "\n"


def fairseq_legacy() -> str:
    """Older fairseq console (no logging module): epoch summaries only, ``| epoch 001 | loss ...``."""
    out = ["| [en] dictionary: 8848 types", "| model transformer_iwslt_de_en, criterion LabelSmoothedCrossEntropyCriterion"]
    for e in range(1, 5):
        out.append(f"| epoch {e:03d} | loss {loss(e - 1):.3f} | nll_loss {loss(e - 1) - 0.3:.3f} | ppl 12.67 | wps 11203 | "
                   f"ups 3 | wpb 3480.1 | bsz 140.2 | num_updates {e * 1102} | lr 0.0005 | gnorm 0.777 | clip 0.000 | "
                   f"oom 0.000 | wall 320 | train_wall 300")
        out.append(f"| epoch {e:03d} | valid on 'valid' subset | loss {loss(e) + 0.5:.3f} | nll_loss 2.9 | ppl 7.46 | "
                   f"num_updates {e * 1102}")
        out.append(f"| saved checkpoint checkpoints/checkpoint{e}.pt (epoch {e} @ {e * 1102} updates) (writing took 2.1 seconds)")
    return "\n".join(out) + "\n"


def _bar(done: int, total: int, width: int = 10) -> str:
    filled = width * done // total
    return "█" * filled + " " * (width - filled)


def yolov5() -> str:
    """YOLOv5 ``train.py`` console: an epoch header and row redrawn with ``\\r``, then the ``all`` validation row."""
    parts = ["train: Scanning /datasets/coco128/labels/train2017.cache... 126 images, 2 backgrounds, 0 corrupt: 100%\n",
             "Starting training for 3 epochs...\n"]
    for e in range(3):
        parts.append("\n      Epoch    GPU_mem   box_loss   obj_loss   cls_loss  Instances       Size\n")
        for b in range(9):
            row = f"{e:>11}/2 {3.34:>9.3g}G {loss(e * 8 + b) / 20:>10.4g} {0.06321:>10.4g} {0.01847:>10.4g} {220:>10} {640:>10}"
            end = "\r" if b < 8 else "\n"
            parts.append(f"{row}: {100 * b // 8:3d}%|{_bar(b, 8)}| {b}/8 [00:0{b // 3}<00:03,  2.35it/s]{end}")
        header = "                 Class     Images  Instances          P          R      mAP50   mAP50-95"
        for b in range(5):
            parts.append(f"{header}: {100 * b // 4:3d}%|{_bar(b, 4)}| {b}/4 [00:00<00:00,  5.70it/s]" + ("\r" if b < 4 else "\n"))
        parts.append(f"                   all        128        929      {0.5 + e / 10:.3f}      0.631      {0.6 + e / 20:.3f}"
                     f"      {0.4 + e / 20:.3f}\n")
    parts.append("\n3 epochs completed in 0.051 hours.\n")
    return "".join(parts)


def ultralytics() -> str:
    """Ultralytics YOLOv8 console (1-based epochs, ``Box(P R mAP50 mAP50-95)`` validation header)."""
    parts = ["Ultralytics YOLOv8.0.200 🚀 Python-3.10.12 torch-2.1.0 CUDA:0 (Tesla T4, 15102MiB)\n",
             "Starting training for 3 epochs...\n"]
    for e in range(1, 4):
        parts.append("\n      Epoch    GPU_mem   box_loss   cls_loss   dfl_loss  Instances       Size\n")
        parts.append(f"{e:>11}/3 {2.51:>9.3g}G {loss(e - 1) / 2:>10.4g} {2.345:>10.4g} {1.456:>10.4g} {45:>10} {640:>10}: "
                     f"100%|{_bar(8, 8)}| 8/8 [00:02<00:00,  3.10it/s]\n")
        parts.append("                 Class     Images  Instances      Box(P          R      mAP50  mAP50-95): "
                     f"100%|{_bar(4, 4)}| 4/4 [00:00<00:00,  6.10it/s]\n")
        parts.append(f"                   all        128        929      0.651      0.552      {0.6 + e / 100:.3f}      0.456\n")
    return "".join(parts)


def keras2_backspace() -> str:
    """Keras 2 ``fit(verbose=1)`` captured from a terminal: the bar redrawn with backspaces and ``\\r``."""
    parts = ["Model: \"sequential\"\n", "Total params: 101,770\n"]
    for e in range(1, 6):
        parts.append(f"Epoch {e}/5\n")
        width = 0
        for b in (32, 640, 1248):
            text = f"{b:4d}/1875 [{'=' * (30 * b // 1875):.<30}] - ETA: 3s - loss: 9.9999 - accuracy: 0.1111"
            parts.append("\b" * width + "\r" + text)
            width = len(text)
        parts.append("\b" * width + "\r" + f"1875/1875 [{'=' * 30}] - 4s 2ms/step - loss: {loss(e - 1):.4f} - "
                     f"accuracy: {1 - loss(e - 1) / 4:.4f} - val_loss: {loss(e) + 0.1:.4f} - "
                     f"val_accuracy: {1 - loss(e) / 3:.4f}\n")
    return "".join(parts)


def keras3() -> str:
    """Keras 3 ``fit(verbose=1)`` written to a file (one finished bar per epoch)."""
    out = []
    for e in range(1, 6):
        out.append(f"Epoch {e}/5")
        out.append(f"1875/1875 ━━━━━━━━━━━━━━━━━━━━ 5s 2ms/step - accuracy: {1 - loss(e - 1) / 4:.4f} - "
                   f"loss: {loss(e - 1):.4f} - "
                   f"val_accuracy: {1 - loss(e) / 3:.4f} - val_loss: {loss(e) + 0.1:.4f}")
    return "\n".join(out) + "\n"


def hf_trainer() -> str:
    """Hugging Face ``Trainer`` stdout: the banner, a printed dict per logging step, eval dicts, the final summary."""
    out = ["***** Running training *****", "  Num examples = 2,000", "  Num Epochs = 2",
           "  Instantaneous batch size per device = 8", "  Total train batch size (w. parallel, distributed & accumulation) = 8",
           "  Gradient Accumulation steps = 1", "  Total optimization steps = 500",
           "  Number of trainable parameters = 66,955,010"]
    i = 0
    for e in (1, 2):
        for k in range(1, 6):
            step = (e - 1) * 250 + k * 50
            out.append(f"{{'loss': {loss(i):.4f}, 'grad_norm': 4.1234, 'learning_rate': {5e-5 * (1 - step / 500):.4e}, "
                       f"'epoch': {step / 250:.2f}}}")
            i += 1
        out.append(f"{{'eval_loss': {0.5 / e:.4f}, 'eval_accuracy': {0.8 + e / 100:.4f}, 'eval_runtime': 45.12, "
                   f"'eval_samples_per_second': 554.1, 'eval_steps_per_second': 69.3, 'epoch': {float(e)}}}")
    out.append("{'train_runtime': 3600.1, 'train_samples_per_second': 20.8, 'train_steps_per_second': 2.6, "
               "'train_loss': 0.3412, 'epoch': 2.0}")
    return "\n".join(out) + "\n"


def lightning_tqdm() -> str:
    """Lightning's progress bar: ``\\r`` redraws with postfix pairs; the finished bar printed again with val values."""
    parts = ["GPU available: True (cuda), used: True\n", "  | Name  | Type   | Params\n", "0 | model | ResNet | 11.2 M\n"]
    for e in range(4):
        for b in (100, 500, 938):
            parts.append(f"\rEpoch {e}: {100 * b // 938:3d}%|{_bar(b, 938)}| {b}/938 [00:0{b // 300}<00:10, 90.12it/s, v_num=0, "
                         f"train_loss={9.999 if b < 938 else loss(e):.3f}]")
        parts.append("\n\rValidation: 0it [00:00, ?it/s]")
        parts.append("\rValidation DataLoader 0: 100%|██████████| 79/79 [00:00<00:00, 200.1it/s]")
        parts.append(f"\rEpoch {e}: 100%|{_bar(938, 938)}| 938/938 [00:11<00:00, 85.10it/s, v_num=0, train_loss={loss(e):.3f}, "
                     f"val_loss={loss(e) + 0.2:.3f}, val_acc={0.8 + e / 50:.3f}]\n")
    parts.append("`Trainer.fit` stopped: `max_epochs=4` reached.\n")
    return "".join(parts)


def nanogpt() -> str:
    """nanoGPT ``train.py``: ``step N: train loss ..., val loss ...`` evaluations and ``iter N: loss ...`` lines."""
    out = ["tokens per iteration will be: 16,384", "found vocab_size = 65 (inside data/shakespeare_char/meta.pkl)",
           "Initializing a new model from scratch", "number of parameters: 10.65M", "compiling the model... (takes a ~minute)"]
    for it in range(0, 60, 10):
        if it % 20 == 0:
            out.append(f"step {it}: train loss {loss(it // 10) + 0.05:.4f}, val loss {loss(it // 10) + 0.15:.4f}")
            if it:
                out.append("saving checkpoint to out-shakespeare-char")
        out.append(f"iter {it}: loss {loss(it // 10):.4f}, time {30.5 + it:.2f}ms, mfu {12.3 + it / 100:.2f}%")
    return "\n".join(out) + "\n"


def metric_logger() -> str:
    """torchvision/DETR ``MetricLogger``: ``Epoch: [e]  [ i/N]  eta: ...  loss: v (avg)`` and ``Test:  [i/N]`` lines."""
    out = ["Start training"]
    i = 0
    for e in range(2):
        for it in (0, 10, 19):
            out.append(f"Epoch: [{e}]  [{it:2d}/20]  eta: 0:00:25  lr: 0.001004  loss: {loss(i):.4f} ({loss(i) + 0.1:.4f})  "
                       "loss_classifier: 0.7230 (0.7230)  loss_box_reg: 0.7579 (0.7579)  time: 4.1973  data: 1.1906  "
                       "max mem: 2547")
            i += 1
        out.append(f"Epoch: [{e}] Total time: 0:00:05 (0.2500 s / it)")
        out.append("Test:  [ 0/10]  eta: 0:00:03  model_time: 0.1 (0.1)  evaluator_time: 0.01 (0.01)  time: 0.3  data: 0.1  "
                   "max mem: 2547")
        out.append("Test: Total time: 0:00:02 (0.2012 s / it)")
        out.append("Averaged stats: model_time: 0.1 (0.1)  evaluator_time: 0.01 (0.01)")
    return "\n".join(out) + "\n"


def seq2seq_tutorial() -> str:
    """The PyTorch seq2seq tutorial's prints: ``Epoch: 01 | Time: 0m 14s`` then ``Train Loss`` / `` Val. Loss`` lines."""
    out = []
    for e in range(1, 6):
        out.append(f"Epoch: {e:02d} | Time: 0m {14 - e}s")
        out.append(f"\tTrain Loss: {loss(e - 1) * 2:.3f} | Train PPL: {100.0 / e:7.3f}")
        out.append(f"\t Val. Loss: {loss(e) * 2:.3f} |  Val. PPL: {80.0 / e:7.3f}")
    return "\n".join(out) + "\n"


FIXTURES = {
    "mmengine.log": mmengine,
    "mmcv_mmdet.log": mmcv,
    "detectron2_log.txt": detectron2,
    "fairseq_train.log": fairseq,
    "fairseq_legacy.log": fairseq_legacy,
    "yolov5_console.txt": yolov5,
    "ultralytics_console.txt": ultralytics,
    "keras2_backspace.txt": keras2_backspace,
    "keras3_stdout.txt": keras3,
    "hf_trainer_stdout.txt": hf_trainer,
    "lightning_tqdm.txt": lightning_tqdm,
    "nanogpt_train.log": nanogpt,
    "metric_logger.log": metric_logger,
    "seq2seq_tutorial.out": seq2seq_tutorial,
}


def main() -> None:
    for name, build in FIXTURES.items():
        (HERE / name).write_bytes(build().encode("utf-8"))


if __name__ == "__main__":
    main()
