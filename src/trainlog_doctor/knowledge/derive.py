"""Numbers to try, computed from the run: one small function per fix or general-practice remedy.

Each takes the :class:`~trainlog_doctor.knowledge.evidence.Evidence` of a finding and returns a
``{"value": ..., "how": ...}`` record (the number and how it was derived from this run's log and
configuration), or ``None`` when the run does not hold what the number needs.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from trainlog_doctor.knowledge.evidence import Evidence
from trainlog_doctor.knowledge.signals import family as _family
from trainlog_doctor.knowledge.signals import fmt_num as _g
from trainlog_doctor.knowledge.signals import lr_range as _lr_range

Derived = dict[str, Any]
DERIVE: dict[str, Callable[[Evidence], Derived | None]] = {}

#: The seed's Adam example cut an oscillating 5e-3 to 1e-3: a 5x cut; an order of magnitude when the
#: rate is far above the usual range.
LOWER_LR_CUT = 5.0
#: The lr where the loss last improved is a safe rate only when it is clearly (1.5x) below the onset's.
LOWER_LR_MARGIN = 1.5
#: Warm-up: the five epochs of Goyal et al. (2017), at most a tenth of the run.
WARMUP_EPOCHS = 5.0
WARMUP_RUN_SHARE = 0.1


def _derive(fid: str) -> Callable[[Callable[[Evidence], Derived | None]], Callable[[Evidence], Derived | None]]:
    def register(fn: Callable[[Evidence], Derived | None]) -> Callable[[Evidence], Derived | None]:
        DERIVE[fid] = fn
        return fn

    return register


def _round(v: float) -> float:
    """Two significant digits: an lr of 0.0347 becomes 0.035."""
    if v <= 0 or not math.isfinite(v):
        return v
    return float(f"{v:.2g}")


def _where_step(ev: Evidence, step: int) -> str:
    if ev.steps_per_epoch:
        return f"step {step} (epoch {step / ev.steps_per_epoch:.3g})"
    return f"step {step}"


@_derive("lower-lr")
def _lower_lr(ev: Evidence) -> Derived | None:
    (_, hi), label, _ = _lr_range(ev)
    peak = ev.schedule.peak if ev.schedule is not None else None
    ref = ev.lr if ev.lr is not None and ev.lr_origin == "at onset" else (peak or ev.lr)
    if ref is None or ref <= 0:
        return None
    best = ev.lr_at_best
    if best is not None and best[1] * LOWER_LR_MARGIN <= ref:
        value, how = best[1], (f"the lr in force when the training loss last improved ({_g(best[1])} at "
                               f"{_where_step(ev, best[0])}), below the {_g(ref)} of the onset")  # fmt: skip
    elif best is not None:
        value = best[1] / LOWER_LR_CUT
        how = (f"the loss last improved at lr {_g(best[1])} ({_where_step(ev, best[0])}), close to the onset's "
               f"{_g(ref)}, so {LOWER_LR_CUT:g}x below it")  # fmt: skip
    else:
        value, how = ref / LOWER_LR_CUT, f"the lr {_g(ref)} at the onset divided by {LOWER_LR_CUT:g}"
    if value > hi and _family(ev.optimizer) in ("adam", "sgd"):
        how += f", capped at the top of the usual range {label} ({_g(hi)})"
        value = hi
    return {"value": _round(value), "unit": "learning rate", "how": how}


@_derive("raise-lr")
def _raise_lr(ev: Evidence) -> Derived | None:
    sch = ev.schedule
    if sch is not None and ev.lr_cut_before is not None and ev.lr:
        return {"value": _round(sch.peak), "unit": "learning rate",
                "how": f"keep the run's peak {_g(sch.peak)} longer: the schedule had cut it "
                       f"{ev.lr_cuts_before} time(s) to {_g(ev.lr)} before the onset"}  # fmt: skip
    if ev.lr is None or ev.lr <= 0:
        return None
    return {"value": _round(ev.lr * 10), "unit": "learning rate",
            "how": f"the {ev.lr_origin} lr {_g(ev.lr)} times 10 (the documents raise it in factor-of-10 steps)"}


def _decay_from(ev: Evidence) -> Derived | None:
    if ev.onset_step is None:
        return None
    return {"value": ev.onset_step, "unit": "step",
            "how": f"where the problem starts ({_where_step(ev, ev.onset_step)}): cut the lr there, or when the loss "
                   f"stops improving for a few evaluations"}  # fmt: skip


DERIVE["reduce-lr-on-plateau"] = _decay_from
DERIVE["lr-step-decay"] = _decay_from


@_derive("raise-adam-epsilon")
def _eps(ev: Evidence) -> Derived | None:
    now = ev.eps if ev.eps is not None else 1e-8
    origin = "configured" if ev.eps is not None else "the torch/Keras 3 default, not logged"
    return {"value": 1e-3, "unit": "epsilon", "how": f"from {_g(now)} ({origin}) to 1e-3, the document's value"}


@_derive("increase-batch-size")
def _bigger_batch(ev: Evidence) -> Derived | None:
    if ev.batch_size is None:
        return None
    return {"value": ev.batch_size * 4, "unit": "batch size", "how": f"the configured batch {ev.batch_size} times 4"}


@_derive("reduce-regularization")
def _less_reg(ev: Evidence) -> Derived | None:
    if not ev.weight_decay:
        return None
    return {"value": _round(ev.weight_decay / 10), "unit": "weight decay",
            "how": f"the configured weight decay {_g(ev.weight_decay)} divided by 10"}


@_derive("gradient-clipping")
def _clip(ev: Evidence) -> Derived | None:
    if ev.grad_norm_pct is None:
        return None
    p50, p90, p99 = ev.grad_norm_pct
    how = (f"the 90th percentile of the logged gradient norm before the onset (median {_g(p50)}, "
           f"99th percentile {_g(p99)}): clips the outliers, leaves ordinary steps alone")  # fmt: skip
    if ev.grad_clip:
        how += f"; the run's configuration already clips at {_g(ev.grad_clip)}"
    return {"value": _round(p90), "unit": "max gradient norm", "how": how}


@_derive("early-stopping")
def _stop(ev: Evidence) -> Derived | None:
    if ev.best_val is None:
        return None
    value, epoch, step = ev.best_val
    at = f"epoch {epoch:g}" if epoch is not None else f"step {step}"
    return {"value": epoch if epoch is not None else step, "unit": "epoch" if epoch is not None else "step",
            "how": f"the lowest validation loss ({_g(value)}) was at {at}: stop there or restore that checkpoint"}


@_derive("lr-warmup")
def _warmup(ev: Evidence) -> Derived | None:
    total = ev.run_steps
    if not total:
        return None
    spe = ev.steps_per_epoch
    cap = WARMUP_RUN_SHARE * total
    if spe:
        steps = min(WARMUP_EPOCHS * spe, cap)
        how = f"{WARMUP_EPOCHS:g} epochs of {spe:.3g} steps, at most a tenth of the run's {total} steps"
    else:
        steps = cap
        how = f"a tenth of the run's {total} steps"
    return {"value": max(int(round(steps)), 1), "unit": "warm-up steps", "how": how}


@_derive("scale-lr-with-batch")
def _scale(ev: Evidence) -> Derived | None:
    lr = ev.schedule.peak if ev.schedule is not None else ev.lr
    if ev.batch_size is None or lr is None or lr <= 0:
        return None
    new_b = ev.batch_size * 4
    return {"value": _round(lr * 4), "unit": "learning rate",
            "how": f"with the batch raised from {ev.batch_size} to {new_b}, scale the lr {_g(lr)} by the same 4x"}


@_derive("loss-scaling")
def _scaling(ev: Evidence) -> Derived | None:
    return {"value": 65536, "unit": "initial loss scale",
            "how": f"precision is {ev.precision}; 2**16 is torch's GradScaler default, halved on each overflow"}
