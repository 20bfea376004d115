"""The evidence tests: one small function per piece of evidence, registered by name in :data:`SIGNALS`.

Each test looks at one field or two of an :class:`~trainlog_doctor.knowledge.evidence.Evidence` and
returns a score delta with a note that says what it saw, with the numbers, or ``None`` when the
evidence is not there. A cause in ``kb.toml`` names the tests that bear on it.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from trainlog_doctor.knowledge.evidence import Evidence
from trainlog_doctor.knowledge.thresholds import TH
from trainlog_doctor.model.kinds import KINDS

Delta = tuple[float, str]
SignalFn = Callable[[Evidence], "Delta | None"]
SIGNALS: dict[str, tuple[SignalFn, str]] = {}
ContradictionFn = Callable[[Evidence], "str | None"]
#: Facts of the run that rule a cause or a fix out entirely: name -> (test, doc). A test returns the
#: note that says which fact contradicts it, or ``None``.
CONTRADICTIONS: dict[str, tuple[ContradictionFn, str]] = {}


def _contradiction(name: str, doc: str) -> Callable[[ContradictionFn], ContradictionFn]:
    def register(fn: ContradictionFn) -> ContradictionFn:
        CONTRADICTIONS[name] = (fn, doc)
        return fn

    return register


def _signal(name: str, doc: str) -> Callable[[SignalFn], SignalFn]:
    def register(fn: SignalFn) -> SignalFn:
        SIGNALS[name] = (fn, doc)
        return fn

    return register


def _g(v: float) -> str:
    """A number for a note: 3 significant digits (``0.005``, ``1e-05``, ``25``), whole numbers to 1e7."""
    if 1e3 <= abs(v) < 1e7:
        return f"{v:.0f}"
    return f"{v:.3g}"


def _pct(f: float) -> str:
    return f"{f * 100:.0f}%"


def _family(opt: str | None) -> str | None:
    """``adam`` for the Adam family, ``sgd`` for SGD variants, ``other`` for the rest, ``None`` unknown."""
    if not opt:
        return None
    if "adam" in opt or opt in ("lamb", "adabelief"):
        return "adam"
    if "sgd" in opt or opt in ("momentum", "nesterov"):
        return "sgd"
    return "other"


def _lr_range(ev: Evidence) -> tuple[tuple[float, float], str, float]:
    """Typical lr range, a label for it and the weight factor (half when the optimizer is unknown)."""
    fam = _family(ev.optimizer)
    if fam == "adam":
        return TH.lr_range_adam, f"for {ev.optimizer}", 1.0
    if fam == "sgd":
        m = ev.momentum
        if m is not None and 0 <= m < 1:  # momentum multiplies the effective step by 1/(1-m)
            lo, hi = TH.lr_range_sgd_effective
            return (lo * (1 - m), hi * (1 - m)), f"for {ev.optimizer} with momentum {_g(m)}", 1.0
        return TH.lr_range_sgd, f"for {ev.optimizer}", 1.0
    label = f"for {ev.optimizer}" if ev.optimizer else "for an unlogged optimizer"
    return TH.lr_range_other, label, 0.5


def _lr_word(ev: Evidence) -> str:
    if ev.lr_origin == "configured":
        return f"configured lr {_g(ev.lr or 0.0)}"
    return f"lr {_g(ev.lr or 0.0)} at onset"


@_signal("lr_high", "the learning rate at the onset is above the typical range of the optimizer")
def _lr_high(ev: Evidence) -> Delta | None:
    if ev.lr is None or ev.lr <= 0:
        return None
    (lo, hi), label, k = _lr_range(ev)
    typical = f"typical {_g(lo)}..{_g(hi)}"
    if ev.lr >= TH.lr_absurd:
        return 2 * TH.w_strong, f"{_lr_word(ev)} is far above what any common optimizer trains with (>= {_g(TH.lr_absurd)})"
    if ev.lr >= hi * TH.lr_far_factor:
        return k * (TH.w_strong + TH.w_weak), f"{_lr_word(ev)} is far above the usual range {label} ({typical})"
    if ev.lr > hi:
        return k * TH.w_strong, f"{_lr_word(ev)} is high {label} ({typical})"
    if ev.lr < lo:
        return -TH.w, f"{_lr_word(ev)} is low {label} ({typical}), which argues against a too-high rate"
    return -TH.w_weak * k, f"{_lr_word(ev)} is inside the usual range {label} ({typical})"


@_signal("lr_low", "the learning rate is below the typical range of the optimizer")
def _lr_low(ev: Evidence) -> Delta | None:
    if ev.lr is None or ev.lr <= 0:
        return None
    (lo, hi), label, k = _lr_range(ev)
    typical = f"typical {_g(lo)}..{_g(hi)}"
    if ev.lr <= lo / TH.lr_far_factor:
        return k * (TH.w_strong + TH.w_weak), f"{_lr_word(ev)} is far below the usual range {label} ({typical})"
    if ev.lr < lo:
        return k * TH.w_strong, f"{_lr_word(ev)} is low {label} ({typical})"
    if ev.lr > hi:
        return -TH.w, f"{_lr_word(ev)} is high {label} ({typical}), which argues against a too-low rate"
    return -TH.w_weak * k, f"{_lr_word(ev)} is inside the usual range {label} ({typical})"


@_signal("lr_schedule_step", "the lr schedule changed within a few points of the onset (a rise supports a too-high rate)")
def _lr_schedule_step(ev: Evidence) -> Delta | None:
    if ev.lr_changed is not True:
        return None
    if ev.lr_before is not None and ev.lr is not None and ev.lr_before > 0:
        if ev.lr >= ev.lr_before * TH.lr_jump_ratio:
            ratio = ev.lr / ev.lr_before
            return 2 * TH.w_strong, f"lr jumped {ratio:.3g}x (from {_g(ev.lr_before)} to {_g(ev.lr)}) just before the onset"
        if ev.lr > ev.lr_before * (1 + TH.lr_change_rel):
            return TH.w_strong, f"lr rose from {_g(ev.lr_before)} to {_g(ev.lr)} just before the onset"
        if ev.lr < ev.lr_before * (1 - TH.lr_change_rel):
            return (
                -TH.w_weak,
                f"lr dropped from {_g(ev.lr_before)} to {_g(ev.lr)} near the onset, so a too-high rate is less likely",
            )
        return None  # a small move, or a decay: nothing that would push the rate too high
    return TH.w, "the lr schedule changed within a few points of the onset"


@_signal("lr_steady_near_onset", "the lr did not change near the onset, so the schedule did not trigger the jump")
def _lr_steady(ev: Evidence) -> Delta | None:
    if ev.lr_changed is None:
        return None
    if ev.lr_changed:
        return -TH.w, "the lr schedule changed near the onset, which explains the jump more simply"
    return TH.w_weak, "the lr was steady around the onset, so the schedule did not trigger it"


@_signal("lr_constant", "the logged lr stayed flat (no decay) up to the onset")
def _lr_constant(ev: Evidence) -> Delta | None:
    if ev.lr_flat is None:
        return None
    if ev.lr_flat:
        return TH.w, f"the logged lr stayed at {_g(ev.lr or 0.0)} for the whole run (no decay)"
    first, last = ev.lr_first, ev.lr_last_before_onset
    if first and last and last > 0 and first / last >= TH.lr_decayed_ratio:
        return -TH.w, f"the lr was already decayed from {_g(first)} to {_g(last)} before the onset"
    return None


def _where(ev: Evidence) -> str:
    return f"onset at {_pct(ev.onset or 0.0)} of the run"


@_signal("late_in_run", f"the event starts in the second half of the run (onset_fraction >= {TH.late_fraction})")
def _late(ev: Evidence) -> Delta | None:
    if ev.onset is None:
        return None
    if ev.onset >= TH.late_fraction:
        extra = TH.w * (ev.onset - TH.late_fraction) / (1.0 - TH.late_fraction)
        return TH.w_weak + extra, f"{_where(ev)}: late"
    if ev.onset <= TH.early_fraction:  # a late-run mechanism (v_t decay, memory growth) needs time to build up
        return -TH.w, f"{_where(ev)}: early, not late"
    return None


@_signal("early_in_run", f"the event starts in the first {int(TH.early_fraction * 100)}% of the run")
def _early(ev: Evidence) -> Delta | None:
    if ev.onset is None:
        return None
    if ev.onset <= TH.early_fraction:
        return TH.w, f"{_where(ev)}: from the start"
    if ev.onset >= TH.after_start_fraction:
        return -TH.w_weak, f"{_where(ev)}: long after the start"
    return None


@_signal("mid_run", "the event starts after the fast first descent, in the middle of the run")
def _mid(ev: Evidence) -> Delta | None:
    if ev.onset is None:
        return None
    lo, hi = TH.mid_fraction
    if lo <= ev.onset <= hi:
        return TH.w_weak + 0.05, f"{_where(ev)}: after the first fast descent"
    return None


@_signal("long_run", f"the run is long (>= {TH.long_run_epochs:g} epochs or {TH.long_run_steps} steps)")
def _long(ev: Evidence) -> Delta | None:
    if ev.run_epochs is not None and ev.run_epochs > 0:
        if ev.run_epochs >= TH.long_run_epochs:
            return TH.w, f"a long run ({_g(ev.run_epochs)} epochs)"
        if ev.run_epochs < TH.short_run_epochs:
            return -TH.w_weak, f"a short run ({_g(ev.run_epochs)} epochs) leaves little time for Adam's v_t to decay"
        return None
    if ev.run_steps is not None and ev.run_steps >= TH.long_run_steps:
        return TH.w, f"a long run ({ev.run_steps} steps)"
    return None


@_signal("optimizer_adam", "the optimizer is in the Adam family (a known non-Adam optimizer counts against)")
def _adam(ev: Evidence) -> Delta | None:
    fam = _family(ev.optimizer)
    if fam == "adam":
        return TH.w + 0.05, f"optimizer is {ev.optimizer} (Adam family)"
    if fam == "sgd":
        return -TH.w_strong, f"optimizer is {ev.optimizer}, not Adam, so the epsilon mechanism does not apply"
    return None


@_signal("batch_small", f"the batch size is small (<= {TH.batch_small})")
def _batch_small(ev: Evidence) -> Delta | None:
    b = ev.batch_size
    if b is None:
        return None
    if b <= TH.batch_small:
        return TH.w + 0.05, f"batch size {b} is small (<= {TH.batch_small}): noisy gradient estimates"
    if b <= TH.batch_smallish:
        return TH.w_weak / 2, f"batch size {b} is on the small side"
    if b >= TH.batch_noise_free:
        return -TH.w_weak, f"batch size {b} is large, so gradient noise is limited"
    return None


@_signal("batch_large", f"the batch size is large (>= {TH.batch_large})")
def _batch_large(ev: Evidence) -> Delta | None:
    b = ev.batch_size
    if b is None:
        return None
    if b >= TH.batch_large:
        return TH.w, f"batch size {b} is large (>= {TH.batch_large})"
    if b <= TH.batch_not_large:
        return -TH.w_weak, f"batch size {b} is not large"
    return None


def _co(kind: str, label: str) -> SignalFn:
    def fn(ev: Evidence) -> Delta | None:
        if kind in ev.co_kinds:
            return TH.w, f"the same run also has a {label} finding"
        return None

    return fn


for _kind in KINDS:
    _name = "co_nonfinite" if _kind == "non_finite" else f"co_{_kind}"
    _label = "non-finite (NaN/Inf)" if _kind == "non_finite" else _kind
    SIGNALS[_name] = (_co(_kind, _label), f"another finding of kind {_kind} in the same run")
del _kind, _name, _label


@_signal("severe_jump", f"the loss jumped by a large factor (ratio >= {TH.severe_ratio:g} or zscore >= {TH.severe_zscore:g})")
def _severe(ev: Evidence) -> Delta | None:
    if ev.ratio is not None and ev.ratio >= TH.severe_ratio:
        return TH.w, f"the value rose {_g(ev.ratio)}x"
    if ev.zscore is not None and ev.zscore >= TH.severe_zscore:
        return TH.w_weak, f"a jump of {_g(ev.zscore)} noise units"
    return None


def _is_val(ev: Evidence) -> bool:
    return ev.split in ("val", "test")


@_signal("train_side", "the event is in the training curve (an optimization cause shows there)")
def _train_side(ev: Evidence) -> Delta | None:
    if ev.kind == "overfitting":  # validation-side by definition: the split tells nothing here
        return None
    if ev.split == "train":
        return 0.05, "seen in the training curve itself"
    if _is_val(ev) and not ev.same_kind_on_train:
        return -TH.w, f"only the {ev.split} curve shows it; an optimization problem would show in training too"
    return None


@_signal("val_only", "only the validation/test curve shows the event")
def _val_only(ev: Evidence) -> Delta | None:
    if _is_val(ev) and not ev.same_kind_on_train:
        return TH.w_weak, f"only the {ev.split} curve shows it"
    if ev.split == "train":
        return -TH.w_weak, "it is in the training curve, not only in validation"
    return None


@_signal("train_improving", "training kept improving while the validation curve worsened")
def _train_improving(ev: Evidence) -> Delta | None:
    if ev.train_improving is True:
        return TH.w, f"training kept improving while {ev.split} got worse"
    if ev.train_improving is False:
        return -TH.w_weak, "training was not improving either"
    return None


@_signal("at_chance", "the collapsed value sits at chance: loss ~ ln(C) or accuracy ~ 1/C")
def _at_chance(ev: Evidence) -> Delta | None:
    v = ev.value_after
    if v is None:
        return None
    if "loss" in ev.metric.lower() and ev.ln_classes:
        if abs(v - ev.ln_classes) <= TH.chance_rel_tol * ev.ln_classes:
            c = math.exp(ev.ln_classes)
            return TH.w_strong, f"loss {_g(v)} sits at ln({c:.0f}) = {_g(ev.ln_classes)}: a uniform, input-independent output"
        return None
    if ev.chance_level is not None and abs(v - ev.chance_level) <= TH.chance_abs_tol:
        return TH.w_strong, f"{ev.metric} {_g(v)} equals chance ({_g(ev.chance_level)}): an input-independent output"
    return None


@_signal("majority_class", "a collapsed accuracy clearly above chance: the model predicts the majority class")
def _majority(ev: Evidence) -> Delta | None:
    v, c = ev.value_after, ev.chance_level
    if v is None or c is None or "loss" in ev.metric.lower():
        return None
    if v >= c + TH.majority_margin:
        return TH.w_strong, f"{ev.metric} is stuck at {_g(v)}, above chance {_g(c)}: the share of one dominant class"
    if abs(v - c) <= TH.chance_abs_tol:
        return -TH.w_weak, f"{ev.metric} {_g(v)} is at chance, not at a majority share"
    return None


@_signal("strong_regularization", "weight decay or dropout in the run config is strong")
def _strong_reg(ev: Evidence) -> Delta | None:
    notes, score = [], 0.0
    decoupled = bool(ev.optimizer and ("adamw" in ev.optimizer or ev.optimizer.endswith("w")))
    limit = TH.weight_decay_strong_decoupled if decoupled else TH.weight_decay_strong
    if ev.weight_decay is not None:
        if ev.weight_decay >= limit:
            score += TH.w
            notes.append(f"weight decay {_g(ev.weight_decay)} is strong (>= {_g(limit)})")
        elif ev.weight_decay == 0:
            score -= TH.w_weak
            notes.append("weight decay is 0")
    if ev.dropout is not None and ev.dropout >= TH.dropout_strong:
        score += TH.w_weak
        notes.append(f"dropout {_g(ev.dropout)} is heavy")
    return (score, "; ".join(notes)) if notes else None


@_signal("no_regularization", "the run config shows no weight decay and no dropout")
def _no_reg(ev: Evidence) -> Delta | None:
    wd, dr = ev.weight_decay, ev.dropout
    if wd is None and dr is None:
        return None
    if (wd is None or wd == 0) and (dr is None or dr == 0):
        parts = [f"weight decay {_g(wd)}" if wd is not None else None, f"dropout {_g(dr)}" if dr is not None else None]
        return TH.w, "no regularization in the run config (" + ", ".join(p for p in parts if p) + ")"
    parts = [f"weight decay {_g(wd)}" if wd else None, f"dropout {_g(dr)}" if dr else None]
    return -TH.w_weak, "regularization is already set (" + ", ".join(p for p in parts if p) + ")"


@_signal("data_time_share", "data loading takes a large share of the step time (data_time / time)")
def _data_share(ev: Evidence) -> Delta | None:
    if ev.metric == "data_time":
        return TH.w_strong, "the series that slows down is data_time itself"
    s = ev.data_time_share
    if s is None:
        return None
    if s >= TH.data_time_high:
        return TH.w_strong, f"data loading takes {_pct(s)} of the step time"
    if s <= TH.data_time_low:
        return -TH.w, f"data loading takes only {_pct(s)} of the step time"
    return None


@_signal("compute_bound", "data loading is a small share of the step time, so the compute itself is slow")
def _compute_bound(ev: Evidence) -> Delta | None:
    s = ev.data_time_share
    if s is None or ev.metric == "data_time":
        return None
    if s <= TH.data_time_low:
        return TH.w, f"data loading is only {_pct(s)} of the step time, so the step itself is slow"
    if s >= TH.data_time_high:
        return -TH.w_weak, f"data loading takes {_pct(s)} of the step time"
    return None


@_signal("memory_growth", "the logged memory grows over the run")
def _memory(ev: Evidence) -> Delta | None:
    if ev.memory_growth is None:
        return None
    a, b = ev.memory_growth
    if b / a >= TH.memory_growth:
        return TH.w_strong, f"logged memory grew from {_g(a)} to {_g(b)} ({_g(b / a)}x)"
    if b / a <= TH.memory_flat:
        return -TH.w_weak, f"logged memory stayed flat (~{_g(b)})"
    return None



# ---- the run's own schedule ------------------------------------------------------------------------


@_signal("lr_vs_peak", "the lr at the onset against the run's own peak (near the peak supports a too-high rate)")
def _lr_vs_peak(ev: Evidence) -> Delta | None:
    sch = ev.schedule
    if sch is None or ev.lr is None or ev.lr_origin != "at onset" or sch.shape == "constant":
        return None
    rel = ev.lr / sch.peak
    if ev.in_warmup:
        return TH.w, f"the onset falls in the warm-up, with the lr rising towards its peak {_g(sch.peak)} (now {_g(ev.lr)})"
    if rel >= TH.lr_near_peak:
        return TH.w_weak, f"lr {_g(ev.lr)} at the onset is {_pct(rel)} of the run's peak {_g(sch.peak)}"
    if rel <= TH.lr_far_below_peak:
        return -TH.w, f"lr {_g(ev.lr)} at the onset was already cut to {_pct(rel)} of the run's peak {_g(sch.peak)}"
    return None


@_signal("lr_raised_before", "the schedule raised the lr (a jump up after a constant stretch) before the onset")
def _lr_raised(ev: Evidence) -> Delta | None:
    r = ev.lr_raised_before
    if r is None:
        return None
    if ev.lr_changed and ev.lr and ev.lr_before and ev.lr >= ev.lr_before * TH.lr_jump_ratio:
        return None  # the same raise, just before the onset, is weighed by lr_schedule_step
    return TH.w_strong, f"the lr was raised {_g(r[1])}x at step {r[0]}, before the onset"


@_signal("lr_cut_before_plateau", "the scheduler cut the lr hard before the onset, so the rate left was tiny")
def _lr_cut_plateau(ev: Evidence) -> Delta | None:
    sch, cut = ev.schedule, ev.lr_cut_before
    if sch is None or ev.lr is None or ev.lr <= 0:
        return None
    total = sch.peak / ev.lr
    if cut is not None and total >= TH.lr_cut_total_low:
        return (TH.w_strong + TH.w, f"the scheduler cut the lr {ev.lr_cuts_before} time(s) before the onset, "
                f"to {_g(ev.lr)} ({_g(total)}x below its peak {_g(sch.peak)})")  # fmt: skip
    if cut is not None:
        return TH.w_weak, f"the scheduler cut the lr {_g(cut[1])}x at step {cut[0]}, before the onset"
    return None


@_signal("loss_start_high", f"the first training loss is {TH.loss_start_factor:g}x or more above ln(C), the untrained level")
def _loss_start(ev: Evidence) -> Delta | None:
    if ev.loss_start is None:
        return None
    if not ev.ln_classes:  # classes unknown: only a start no classifier of up to 1000 classes makes
        if ev.loss_start >= TH.loss_start_absolute:
            return TH.w, (f"the run starts at loss {_g(ev.loss_start)}, above {_g(TH.loss_start_absolute)} (3 x ln(1000)): "
                          "badly scaled inputs or weights")  # fmt: skip
        return None
    if ev.loss_start >= TH.loss_start_factor * ev.ln_classes:
        return TH.w, (f"the run starts at loss {_g(ev.loss_start)}, far above ln(C) = {_g(ev.ln_classes)}: "
                      "badly scaled inputs or weights")
    if ev.loss_start <= 1.5 * ev.ln_classes:
        return -TH.w_weak, (f"the run starts near ln(C) = {_g(ev.ln_classes)} (loss {_g(ev.loss_start)}), "
                            "as a well-scaled model does")
    return None


@_signal("adam_eps", "Adam's epsilon from the config: the default 1e-8 lets a tiny v_t inflate the step, >= 1e-4 bounds it")
def _adam_eps(ev: Evidence) -> Delta | None:
    if ev.eps is None or _family(ev.optimizer) == "sgd":
        return None
    if ev.eps <= TH.eps_default_max:
        return TH.w_weak, f"epsilon {_g(ev.eps)} is the small default"
    if ev.eps >= TH.eps_large:
        return -TH.w, f"epsilon {_g(ev.eps)} is already large, which bounds the step"
    return None


@_signal("grad_clip_set", "gradient clipping is configured, which bounds single updates")
def _grad_clip(ev: Evidence) -> Delta | None:
    if ev.grad_clip is None:
        return None
    if ev.grad_clip > 0:
        return -TH.w_weak, f"gradient clipping at {_g(ev.grad_clip)} bounds single updates"
    return None


@_signal("isolated_event", "a single transient on the training curve (one bad batch), not a recurring instability")
def _isolated(ev: Evidence) -> Delta | None:
    if ev.kind != "spike" or ev.train_events_of_kind == 0:
        return None
    if ev.train_events_of_kind <= TH.isolated_max:
        return TH.w, "a single spike on the training curve that recovers: one unrepresentative batch, not a recurring instability"
    return -TH.w_weak, f"{ev.train_events_of_kind} separate spikes on the training curves: a recurring instability"


@_signal("recurring_event", "several transients of the same kind on the training curves")
def _recurring(ev: Evidence) -> Delta | None:
    if ev.kind != "spike" or ev.train_events_of_kind == 0:
        return None
    if ev.train_events_of_kind > TH.isolated_max:
        return TH.w, f"{ev.train_events_of_kind} separate spikes on the training curves: the instability recurs"
    return -TH.w_weak, "a single spike that recovers; a step size or batch noise problem would recur"


def _sharp(ev: Evidence) -> bool | None:
    if ev.kind != "spike" or (ev.ratio is None and ev.zscore is None):
        return None
    return (ev.ratio or 0.0) >= TH.severe_ratio or (ev.zscore or 0.0) >= TH.sharp_zscore


@_signal("sharp_transient",
         f"a spike of {TH.severe_ratio:g}x or {TH.sharp_zscore:g} noise units that recovers: one batch unlike the rest")
def _sharp_transient(ev: Evidence) -> Delta | None:
    sharp = _sharp(ev)
    if sharp is None:
        return None
    if sharp:
        size = f"{_g(ev.ratio)}x" if ev.ratio and ev.ratio >= TH.severe_ratio else f"{_g(ev.zscore or 0)} noise units"
        return TH.w_strong, f"a jump of {size} in one step that recovers: one batch unlike the others"
    return None


@_signal("noise_sized", "a spike of the size ordinary step noise makes (a sharp one-batch jump counts against)")
def _noise_sized(ev: Evidence) -> Delta | None:
    sharp = _sharp(ev)
    if sharp is None:
        return None
    if sharp:  # strong: a coarse step or a noisy gradient scales the usual swings, it does not make a 10x jump
        return -TH.w_strong, "the jump is far larger than the step-to-step noise a step size or batch size problem makes"
    return TH.w_weak, "the jump is of the size of ordinary step noise"


def _epoch_multiple(ev: Evidence) -> int | None:
    """k when the oscillation repeats k (1..4) times per epoch, 0 when its period is not tied to the epoch."""
    if ev.period_steps is None or not ev.steps_per_epoch:
        return None
    per_epoch = ev.steps_per_epoch / ev.period_steps
    k = round(per_epoch)
    return k if 1 <= k <= 4 and abs(per_epoch - k) <= TH.period_tol * k else 0


@_signal("optimizer_not_periodic", "a swing locked to the epoch counts against an optimizer cause (step size, batch noise)")
def _optimizer_not_periodic(ev: Evidence) -> Delta | None:
    k = _epoch_multiple(ev)
    if not k:
        return None
    return -TH.w, "the swing is locked to the epoch, which a step-size or gradient-noise problem would not be"


@_signal("epoch_periodic", "the swing repeats once per epoch (or 2, 3, 4 times in one): the data order, not the optimizer")
def _epoch_periodic(ev: Evidence) -> Delta | None:
    k = _epoch_multiple(ev)
    if k is None:
        return None
    if k:
        return TH.w_strong, (f"the swing repeats every {_g(ev.period_steps)} steps, {k} time(s) per epoch of "
                             f"{_g(ev.steps_per_epoch)} steps: it follows the order of the data")  # fmt: skip
    return -TH.w_weak, (f"the swing's period ({_g(ev.period_steps)} steps) is not tied to the epoch "
                        f"({_g(ev.steps_per_epoch)} steps)")


def _is_score(ev: Evidence) -> bool:
    return "loss" not in ev.metric.lower()


@_signal("frozen_above_chance", "the metrics froze well above chance with the lr cut to ~0 (or not logged): the weights stopped")
def _frozen_lr(ev: Evidence) -> Delta | None:
    res = _frozen(ev)
    if res is None:
        return None
    sch, low = ev.schedule, ev.lr_min_after
    if sch is not None and low:
        if sch.peak / low >= TH.lr_cut_total_low:
            return TH.w_strong, res[1] + f", while the lr was cut to {_g(low)} ({_g(sch.peak / low)}x below its peak)"
        return None  # the lr is logged and was not cut: the freeze has another reason
    return TH.w_weak, res[1] + " (the lr is not logged)"


def _frozen(ev: Evidence) -> Delta | None:
    if ev.kind != "collapse" or ev.value_after is None:
        return None
    v = ev.value_after
    if _is_score(ev):
        chance = ev.chance_level
        floor = chance + TH.frozen_margin if chance is not None else TH.frozen_score_floor
        scale = 100.0 if v > 1.0 else 1.0  # percent
        if v / scale >= floor:
            return TH.w_strong, f"{ev.metric} froze at {_g(v)}, well above chance: the model still tells inputs apart"
        return None
    if ev.ln_classes and v <= TH.frozen_loss_share * ev.ln_classes:
        return TH.w_strong, (f"{ev.metric} froze at {_g(v)}, far below ln(C) = {_g(ev.ln_classes)}: "
                             "the model still tells inputs apart")
    return None


@_signal("not_frozen_above_chance", "a collapse frozen well above chance counts against input-independent outputs")
def _not_frozen(ev: Evidence) -> Delta | None:
    res = _frozen(ev)
    if res is None:
        return None
    return -TH.w, "the outputs are not input-independent: " + res[1].split(": ")[0]


@_signal("slow_steady_descent", "the training loss falls at almost every point yet hardly moves over the run: steps too small")
def _slow_descent(ev: Evidence) -> Delta | None:
    d = ev.loss_descent
    if d is None:
        return None
    drop, falling = d
    if 0 < drop <= TH.slow_drop and falling >= TH.steady_share:
        return TH.w_strong, (f"the training loss fell at {_pct(falling)} of the points but only {_pct(drop)} over the "
                             "whole run: it is moving, in steps too small")  # fmt: skip
    return None


@_signal("not_slow_descent", "a loss that keeps falling, slowly, counts against a stuck or saturated network")
def _not_slow(ev: Evidence) -> Delta | None:
    res = _slow_descent(ev)
    if res is None:
        return None
    return -TH.w, "the loss is still falling steadily, so the network is not stuck"


@_signal("val_step_change", "the validation loss rose in one step, then stayed: the validation data changed")
def _val_step(ev: Evidence) -> Delta | None:
    share = ev.val_step_share
    if share is None or not _is_val(ev):
        return None
    if share >= TH.val_step_share:
        return TH.w_strong, (f"{_pct(share)} of the validation loss's rise came in one evaluation: "
                             "a sudden change, not a slow drift apart")
    return -TH.w_weak, "the validation loss climbed gradually"


@_signal("val_gradual", "overfitting grows gradually; a one-step rise of the validation loss counts against it")
def _val_gradual(ev: Evidence) -> Delta | None:
    share = ev.val_step_share
    if share is None or not _is_val(ev):
        return None
    if share >= TH.val_step_share:
        return -TH.w, "the validation loss jumped in one evaluation, which memorizing the training set does not do"
    return None


@_signal("worse_before_fit", "validation turned worse while the training loss was still high: the labels do not generalize")
def _worse_before_fit(ev: Evidence) -> Delta | None:
    if ev.train_left_at_onset is None or ev.kind != "overfitting":
        return None
    left, after = ev.train_left_at_onset
    if left >= TH.unfit_share and after <= TH.memorize_share:
        return (TH.w_strong + TH.w_weak, f"validation turned worse while the training loss was still at {_pct(left)} of its "
                "start: the model fits something that does not carry over, such as inconsistent labels")  # fmt: skip
    if left < TH.unfit_share:
        return -TH.w_weak, f"the training loss was down to {_pct(left)} of its start when validation turned worse"
    return None


@_signal("fit_before_worse", "overfitting proper starts once the training set is fitted; an early turn counts against it")
def _fit_before_worse(ev: Evidence) -> Delta | None:
    if ev.train_left_at_onset is None or ev.kind != "overfitting":
        return None
    left, after = ev.train_left_at_onset
    if left >= TH.unfit_share and after <= TH.memorize_share:
        return -TH.w, f"the training loss was still at {_pct(left)} of its start, far from a fitted training set"
    return None


def _creeping_up(ev: Evidence) -> tuple[float, float] | None:
    d = ev.loss_descent
    if d is None or ev.kind not in ("stagnation", "plateau"):
        return None
    drop, falling = d
    return d if drop <= -TH.creep_rise and falling <= TH.creep_falling_share else None


@_signal("loss_creeps_up", "the training loss rises slowly while it stagnates: a penalty pulls the weights back")
def _loss_creeps_up(ev: Evidence) -> Delta | None:
    d = _creeping_up(ev)
    if d is None:
        return None
    return TH.w_strong, (f"the training loss rose {_pct(-d[0])} over the run while stagnating: something pulls the "
                         "weights back harder than the data pulls them forward")  # fmt: skip


@_signal("loss_not_creeping_up", "a stagnating training loss that rises counts against small steps or a stuck network")
def _loss_not_creeping(ev: Evidence) -> Delta | None:
    d = _creeping_up(ev)
    if d is None:
        return None
    return -TH.w, (f"the training loss rose {_pct(-d[0])} over the run; small steps or a stuck network "
                   "would lower it or leave it flat, not raise it")


@_signal("train_flat", "training neither improved nor worsened while validation got worse: the validation data moved")
def _train_flat(ev: Evidence) -> Delta | None:
    if ev.train_improving is False and _is_val(ev):
        return TH.w, f"training held steady while {ev.split} got worse: the model did not change, its inputs did"
    return None


@_signal("small_gap", "training and validation losses end close together (both poor): the model underfits")
def _small_gap(ev: Evidence) -> Delta | None:
    g = ev.train_val_gap
    if g is None:
        return None
    if g <= TH.gap_small:
        return TH.w, f"validation ends at {_g(g)}x the training loss: no generalization gap, the model cannot fit better"
    if g >= TH.gap_large:
        return -TH.w, f"validation ends at {_g(g)}x the training loss: the model fits training far better than it generalizes"
    return None


# ---- contradictions: facts that rule a cause or a fix out --------------------------------------------


@_contradiction("not_adam", "the optimizer is known and not in the Adam family")
def _not_adam(ev: Evidence) -> str | None:
    fam = _family(ev.optimizer)
    if fam is not None and fam != "adam":
        return f"the run uses {ev.optimizer}, not an Adam-family optimizer"
    return None


@_contradiction("lr_raised", "the lr was raised before the onset (so it was not too low)")
def _c_lr_raised(ev: Evidence) -> str | None:
    r = ev.lr_raised_before
    if r is not None:
        return f"the lr was raised {_g(r[1])}x at step {r[0]} before the onset"
    if ev.in_warmup:
        return "the onset falls in the warm-up, while the lr was still rising"
    return None


@_contradiction("lr_was_reduced", "the schedule had cut or decayed the lr before the onset (or was still warming up)")
def _c_lr_reduced(ev: Evidence) -> str | None:
    sch = ev.schedule
    if sch is None or ev.lr is None or ev.lr <= 0 or ev.lr_origin != "at onset":
        return None
    if ev.in_warmup:
        return "the onset falls in the warm-up, while the lr was still being raised"
    if ev.lr_cut_before is not None:
        step, ratio = ev.lr_cut_before
        return f"the scheduler cut the lr {_g(ratio)}x at step {step}, before the onset"
    step = ev.onset_step
    decaying = sch.shape in ("cosine-like", "step", "plateau cuts")
    if decaying and step is not None and step > sch.peak_step and ev.lr <= sch.peak * (1 - TH.lr_reduced_rel):
        return f"the {sch.shape} schedule had already lowered the lr from its peak {_g(sch.peak)} to {_g(ev.lr)}"
    return None


# Public names for the numbers the fixes derive (knowledge/derive.py).
family = _family
fmt_num = _g
lr_range = _lr_range
