"""The conformance suite every rule and reader passes, and the curve recipes the rule cases are made of.

In the spirit of scikit-learn's ``check_estimator``: :func:`rule_checks` and :func:`reader_checks`
yield named :class:`Check` callables (one generic list for every rule, one for every reader) that a
test suite parametrizes over the catalogue (``rules.RULES``, ``readers.READERS``); a check raises
:class:`ConformanceError` when the contract is broken::

    @pytest.mark.parametrize("check", [c for r in RULES for c in rule_checks(r)], ids=lambda c: c.id)
    def test_rule_conforms(check): check()

The rule cases (``tests/rule_cases/<CODE>.toml``) describe runs as named curve recipes with
parameters; :data:`CURVES` (shapes, ``n`` points) and :data:`EDITS` (changes to a curve) are
small pure numpy functions, shared by the tests and the rule docstrings' examples. :func:`load_cases`
reads a case file into :class:`RuleCase` objects.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import math
import os
import random
import re
import shutil
import struct
import tempfile
import tomllib
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import polars as pl

from trainlog_doctor.model.frame import COLUMNS, SCHEMA, SPLITS, empty_frame, from_columns
from trainlog_doctor.model.kinds import KINDS
from trainlog_doctor.model.report import Finding
from trainlog_doctor.readers.base import HEAD_BYTES, LogReadError, Reader, RunData
from trainlog_doctor.rules import detect
from trainlog_doctor.rules.base import CODE_RE, SEVERITIES, Rule
from trainlog_doctor.run import RunView, build_view, metric_role

# ============================================================================================ curves


def _t(n: int) -> np.ndarray:
    return np.arange(int(n), dtype=float)


def decay(n: int, *, start: float = 2.3, floor: float = 0.2, tau: float | None = None) -> np.ndarray:
    """Exponential approach from ``start`` to ``floor`` with time constant ``tau`` points (default n/3)."""
    tau = float(tau) if tau is not None else n / 3
    return floor + (start - floor) * np.exp(-_t(n) / tau)


def log_decay(n: int, *, start: float = 1.0, floor: float = 1e-9, tau: float | None = None) -> np.ndarray:
    """:func:`decay` on a log10 scale: a loss that keeps falling by decades from ``start`` towards ``floor``."""
    lo, hi = math.log10(floor), math.log10(start)
    return 10 ** decay(n, start=hi, floor=lo, tau=tau)


def saturate(n: int, *, start: float = 0.1, end: float = 0.9, tau: float | None = None) -> np.ndarray:
    """A score rising from ``start`` towards ``end`` (exponential approach, time constant ``tau``, default n/4)."""
    tau = float(tau) if tau is not None else n / 4
    return end - (end - start) * np.exp(-_t(n) / tau)


def constant(n: int, *, level: float) -> np.ndarray:
    """``level`` at every point (``nan`` or ``inf`` allowed)."""
    return np.full(int(n), float(level))


def linear(n: int, *, start: float, end: float) -> np.ndarray:
    """A straight line from ``start`` to ``end``."""
    return np.linspace(float(start), float(end), int(n))


def interp(n: int, *, at: Sequence[float], values: Sequence[float], log: bool = False) -> np.ndarray:
    """Piecewise linear through the knots ``(at[i], values[i])`` (point positions); on a log scale with ``log``."""
    x, y = np.asarray(at, dtype=float), np.asarray(values, dtype=float)
    if log:
        return np.exp(np.interp(_t(n), x, np.log(y)))
    return np.interp(_t(n), x, y)


def decay_then_rise(
    n: int, *, start: float, floor: float, rise_at: int, rise: float, tau: float | None = None, ramp: int = 1
) -> np.ndarray:
    """:func:`decay` until ``rise_at``, then up to ``rise`` times that level over ``ramp`` points, and staying there."""
    y = decay(n, start=start, floor=floor, tau=tau if tau is not None else rise_at / 2.5)
    base = y[rise_at - 1]
    up = base * np.minimum(rise, 1 + (rise - 1) * (_t(n - rise_at) + 1) / max(int(ramp), 1))
    y[rise_at:] = up
    return y


def step_change(n: int, *, before: float, after: float, at: int) -> np.ndarray:
    """``before`` until point ``at``, ``after`` from there on (a step time that jumps, an lr step)."""
    return np.where(_t(n) < at, float(before), float(after))


def chance_accuracy(n: int, *, classes: int) -> np.ndarray:
    """The accuracy of a model that answers at random over ``classes`` classes: 1/C."""
    return np.full(int(n), 1.0 / classes)


def chance_loss(n: int, *, classes: int) -> np.ndarray:
    """The cross-entropy of the uniform prediction over ``classes`` classes: ln(C)."""
    return np.full(int(n), math.log(classes))


def lr_step_decay(n: int, *, lr: float, at: Sequence[int], gamma: float = 0.1) -> np.ndarray:
    """A step schedule: ``lr`` multiplied by ``gamma`` at each point of ``at``."""
    t = _t(n)
    return lr * gamma ** np.sum([t >= a for a in at], axis=0) if len(at) else np.full(int(n), float(lr))


def cosine(n: int, *, lr: float, warmup: int = 0, final: float = 0.0) -> np.ndarray:
    """Linear warm-up over ``warmup`` points, then a cosine from ``lr`` down to ``final``."""
    t = _t(n)
    span = max(n - warmup, 1)
    cos = final + (lr - final) * 0.5 * (1 + np.cos(np.pi * (t - warmup) / span))
    return np.where(t < warmup, lr * (t + 1) / max(warmup, 1), cos)


def schedule_decay(
    n: int, *, start: float, floor: float, rate: float = 4.0, schedule: str = "cosine", lr: dict[str, Any] | None = None
) -> np.ndarray:
    """A loss that falls as fast as its learning-rate schedule lets it: ``floor + (start-floor)*exp(-rate*progress)``,
    progress being the share of the schedule's summed learning rate spent so far. ``schedule`` names the lr curve
    recipe (``cosine``, ``interp``, ``lr_step_decay``), ``lr`` its parameters."""
    sched = CURVES[schedule](n, **(lr or {}))
    progress = np.cumsum(sched) / sched.sum()
    return floor + (start - floor) * np.exp(-rate * progress)


def stepwise_decay(n: int, *, start: float, at: Sequence[int], drop: float = 0.6, again: float = 0.5) -> np.ndarray:
    """A loss under a step lr schedule: within each stretch it decays to ``drop`` times its level at the stretch's
    start; after each lr step it starts again from ``again`` times the level reached."""
    out = np.empty(int(n))
    bounds = [0, *[int(a) for a in at], int(n)]
    level = float(start)
    for a, b in zip(bounds, bounds[1:]):
        m = b - a
        floor = level * drop
        out[a:b] = floor + (level - floor) * np.exp(-np.arange(m) / (m * 0.25))
        level = floor * again
    return out


def cumulative_time(n: int, *, per_step: float, slow_at: int | None = None, factor: float = 1.0) -> np.ndarray:
    """Seconds since the start, as ultralytics writes ``time``: ``per_step`` per point, ``factor`` times that from ``slow_at``."""
    per = np.full(int(n), float(per_step))
    if slow_at is not None:
        per[int(slow_at) :] *= factor
    return np.cumsum(per)


#: Curve recipes by name: ``f(n, **params) -> values``.
CURVES: dict[str, Callable[..., np.ndarray]] = {
    f.__name__: f
    for f in (
        decay,
        log_decay,
        saturate,
        constant,
        linear,
        interp,
        decay_then_rise,
        step_change,
        chance_accuracy,
        chance_loss,
        lr_step_decay,
        cosine,
        schedule_decay,
        stepwise_decay,
        cumulative_time,
    )
}

# ============================================================================================= edits


def _idx(y: np.ndarray, at: int | Sequence[int]) -> np.ndarray:
    return np.atleast_1d(np.asarray(at, dtype=int)) % y.size


def set_points(y: np.ndarray, *, at: int | Sequence[int], value: float | Sequence[float]) -> np.ndarray:
    """Points ``at`` take ``value`` (one value or one per point)."""
    y = y.copy()
    y[_idx(y, at)] = value
    return y


def nan_from(y: np.ndarray, *, at: int, until: int | None = None, value: float = math.nan) -> np.ndarray:
    """Points ``at..until-1`` (to the end by default) become ``value`` (NaN, or ``inf``)."""
    y = y.copy()
    y[int(at) : None if until is None else int(until)] = value
    return y


def spike(y: np.ndarray, *, at: int, factor: float, width: int = 1) -> np.ndarray:
    """Points ``at..at+width-1`` multiplied by ``factor``."""
    y = y.copy()
    y[int(at) : int(at) + int(width)] *= factor
    return y


def level_from(y: np.ndarray, *, at: int, value: float) -> np.ndarray:
    """From point ``at`` on, the curve sits at ``value`` (noise added afterwards keeps it from being exact)."""
    y = y.copy()
    y[int(at) :] = value
    return y


def oscillate(y: np.ndarray, *, period: float, amplitude: float, start_at: int = 0) -> np.ndarray:
    """From ``start_at`` on, the curve multiplied by ``1 + amplitude * sin(2 pi t / period)``."""
    t = _t(y.size)
    return y * (1 + np.where(t >= start_at, amplitude * np.sin(2 * np.pi * t / period), 0.0))


def noisy(y: np.ndarray, *, noise: float = 0.0, jitter: float = 0.0, seed: int = 0) -> np.ndarray:
    """Gaussian noise: relative (``noise``, multiplicative) and absolute (``jitter``, additive), from ``seed``."""
    rng = np.random.default_rng(seed)
    return y * (1 + noise * rng.standard_normal(y.size)) + jitter * rng.standard_normal(y.size)


def log_noise(y: np.ndarray, *, decades: float, seed: int = 0, start_at: int = 0) -> np.ndarray:
    """From ``start_at`` on, the curve times ``10 ** (decades * N(0, 1))``: noise of a loss near its float floor."""
    z = np.random.default_rng(seed).standard_normal(y.size)
    return y * 10 ** (decades * z * (_t(y.size) >= start_at))


def scale(y: np.ndarray, *, by: float) -> np.ndarray:
    """The curve times ``by``."""
    return y * by


def clip(y: np.ndarray, *, low: float = -math.inf, high: float = math.inf) -> np.ndarray:
    """The curve kept within ``low..high``."""
    return np.clip(y, low, high)


def round_to(y: np.ndarray, *, digits: int) -> np.ndarray:
    """The curve rounded to ``digits`` decimals, as a logger that writes ``%.4f`` does."""
    return np.round(y, int(digits))


#: Edits by name: ``f(values, **params) -> values`` (applied in order after the curve and its noise).
EDITS: dict[str, Callable[..., np.ndarray]] = {
    "set": set_points,
    "nan_from": nan_from,
    "spike": spike,
    "level_from": level_from,
    "oscillate": oscillate,
    "noise": noisy,
    "log_noise": log_noise,
    "scale": scale,
    "clip": clip,
    "round": round_to,
}

# ============================================================================================= cases


@dataclass(frozen=True)
class SeriesSpec:
    """One series of a case: a curve recipe with its parameters, noise, then edits in order.

    Point ``i`` sits at step ``i * step_every`` (and epoch ``step / steps_per_epoch`` of its case).
    """

    metric: str
    split: str
    recipe: str
    params: dict[str, Any]
    noise: float = 0.0
    jitter: float = 0.0
    seed: int = 0
    edits: tuple[dict[str, Any], ...] = ()
    step_every: int = 1
    step_offset: int = 0

    def values(self) -> np.ndarray:
        """The series' values (NaN and +-Inf kept)."""
        if self.recipe not in CURVES:
            raise ValueError(f"unknown curve recipe {self.recipe!r}; known: {', '.join(sorted(CURVES))}")
        y = np.asarray(CURVES[self.recipe](**self.params), dtype=float)
        if self.noise or self.jitter:
            y = noisy(y, noise=self.noise, jitter=self.jitter, seed=self.seed)
        for edit in self.edits:
            params = {k: v for k, v in edit.items() if k != "op"}
            if edit.get("op") not in EDITS:
                raise ValueError(f"unknown edit {edit.get('op')!r}; known: {', '.join(sorted(EDITS))}")
            y = EDITS[edit["op"]](y, **params)
        return y

    def steps(self) -> np.ndarray:
        """The step of each point."""
        return self.step_offset + self.step_every * np.arange(int(self.params["n"]), dtype=np.int64)


_SPEC_KEYS = ("metric", "split", "recipe", "noise", "jitter", "seed", "edits", "step_every", "step_offset")


@dataclass(frozen=True)
class RuleCase:
    """A named run made of curve recipes, the codes (or kinds) that must fire and those that must not.

    ``onset_epoch``: each expected code must have a finding starting within 3 epochs or 10% of the
    run of it. ``forbid`` may hold ``"ALL"`` (no finding at all). Without ``epochs`` the frame has no
    epoch column (as detectron2 writes it) and onsets count in units of ``steps_per_epoch`` steps.
    """

    name: str
    series: tuple[SeriesSpec, ...]
    expect: tuple[str, ...] = ()
    forbid: tuple[str, ...] = ()
    description: str = ""
    onset_epoch: float | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    steps_per_epoch: int = 1
    epochs: bool = True
    source: str = ""

    def frame(self) -> pl.DataFrame:
        """The run as a normalized frame (run id ``case``)."""
        parts = []
        for s in self.series:
            steps = s.steps()
            values = s.values()
            if values.size != steps.size:
                raise ValueError(f"case {self.name!r}: {s.metric}/{s.split} has {values.size} values for {steps.size} steps")
            parts.append(
                from_columns(
                    run_id="case",
                    source=self.source or "case",
                    metric=s.metric,
                    split=s.split,
                    step=steps.tolist(),
                    epoch=(steps / self.steps_per_epoch).tolist() if self.epochs else None,
                    value=values.tolist(),
                )
            )
        return pl.concat(parts) if parts else empty_frame()

    def findings(self) -> list[Finding]:
        """What :func:`trainlog_doctor.rules.detect` finds in the case (strict: a rule that raises fails)."""
        return detect(self.frame(), dict(self.meta), strict=True)

    def fires(self, rule: type[Rule]) -> bool:
        """True when the case is a firing case for ``rule``: it expects its code or its kind."""
        return bool({rule.code, rule.kind} & set(self.expect))

    def guards(self, rule: type[Rule]) -> bool:
        """True when the case is a healthy case for ``rule``: it forbids its code, its kind or everything."""
        return bool({rule.code, rule.kind, "ALL"} & set(self.forbid))

    def problems(self, findings: list[Finding]) -> list[str]:
        """Why ``findings`` do not meet the case's expectations (empty when they do)."""
        out: list[str] = []
        got = [(f.code, f.severity, f.metric, f.split, f.start_epoch, f.message) for f in findings]
        for want in self.expect:
            hits = [f for f in findings if want in (f.code, f.kind)]
            if not hits:
                out.append(f"{want} did not fire; found {got}")
                continue
            if self.onset_epoch is None:
                continue
            onsets = [self.onset_of(f) for f in hits]
            tol = self.onset_tolerance()
            if not any(o is not None and abs(o - self.onset_epoch) <= tol for o in onsets):
                out.append(f"{want} starts at epoch {onsets}, not within {tol:g} of {self.onset_epoch:g}")
        for ban in self.forbid:
            hits = [f for f in findings if ban == "ALL" or ban in (f.code, f.kind)]
            if hits:
                out.append(f"{ban} must not fire: {[(f.code, f.metric, f.split, f.message) for f in hits]}")
        return out

    def onset_of(self, f: Finding) -> float | None:
        """Where ``f`` starts, in epochs (from its step when the frame has no epochs)."""
        if f.start_epoch is not None:
            return float(f.start_epoch)
        return None if f.start_step is None else f.start_step / self.steps_per_epoch

    def onset_tolerance(self) -> float:
        """How far from ``onset_epoch`` a finding may start: 3 epochs or 10% of the run, whichever is larger."""
        run_epochs = max((float(s.steps()[-1]) / self.steps_per_epoch for s in self.series), default=0.0)
        return max(3.0, 0.1 * run_epochs)


def load_cases(path: Path) -> list[RuleCase]:
    """The cases of one TOML file: ``[[case]]`` tables with ``name``, ``expect``, ``forbid``, ``series`` ..."""
    doc = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    out: list[RuleCase] = []
    for raw in doc.get("case", []):
        raw = dict(raw)
        specs = []
        for s in raw.pop("series", []):
            s = dict(s)
            known = {k: s.pop(k) for k in _SPEC_KEYS if k in s}
            known["edits"] = tuple(known.get("edits", ()))
            specs.append(SeriesSpec(params=s, **known))
        out.append(
            RuleCase(
                series=tuple(specs),
                expect=tuple(raw.pop("expect", ())),
                forbid=tuple(raw.pop("forbid", ())),
                meta=dict(raw.pop("meta", {})),
                source=Path(path).name,
                **raw,
            )
        )
    return out


def load_case_dir(directory: Path) -> dict[str, list[RuleCase]]:
    """Every ``<CODE>.toml`` case file of ``directory``, by file stem."""
    return {p.stem: load_cases(p) for p in sorted(Path(directory).glob("*.toml"))}


# ========================================================================================== checks


class ConformanceError(AssertionError):
    """A rule or reader broke the contract the conformance suite checks."""


@dataclass(frozen=True)
class Check:
    """One named conformance check of one rule or reader; call it to run it."""

    name: str
    target: str
    run: Callable[[], None] = field(repr=False)

    @property
    def id(self) -> str:
        return f"{self.target}-{self.name}"

    def __call__(self) -> None:
        self.run()


class Example(NamedTuple):
    """A run to check a rule on: a normalized frame and its meta."""

    name: str
    frame: pl.DataFrame
    meta: dict[str, Any]


#: The names a rule may list in ``Rule.invariances`` and what each transformation does.
INVARIANCES: dict[str, str] = {
    "loss_scale": "every loss series multiplied by 10",
    "step_shift": "every step moved by +1000 (epochs unchanged)",
}

# ---------------------------------------------------------------------------------- odd data


def _odd_values() -> dict[str, np.ndarray]:
    """The odd-data patterns: each one series of 30 points (one point for ``one_point``)."""
    t = np.arange(30, dtype=float)
    falling = 2.0 * np.exp(-t / 10) + 0.2
    with_inf = falling.copy()
    with_inf[[5, 17]] = [math.inf, -math.inf]
    return {
        "one_point": np.array([0.5]),
        "all_nan": np.full(30, math.nan),
        "all_inf": np.full(30, math.inf),
        "all_neg_inf": np.full(30, -math.inf),
        "some_inf": with_inf,
        "huge": np.r_[falling[:15], np.full(15, 1e30)],
        "tiny": 1e-300 * (1 + t),
        "constant": np.full(30, 0.7),
        "zeros": np.zeros(30),
        "negative": -np.logspace(3, 8, 30),
    }


#: The series slots the odd patterns are put in.
ODD_SLOTS: tuple[tuple[str, str], ...] = (
    ("loss", "train"),
    ("loss", "val"),
    ("accuracy", "val"),
    ("lr", "other"),
    ("time", "other"),
)


def _companions(n: int = 30) -> dict[tuple[str, str], np.ndarray]:
    """An ordinary run around an odd series: falling losses, rising accuracy, a step lr, steady step times."""
    t = np.arange(n, dtype=float)
    return {
        ("loss", "train"): 0.3 + 2.0 * np.exp(-t / 8),
        ("loss", "val"): 0.4 + 2.0 * np.exp(-t / 8),
        ("accuracy", "val"): 0.9 - 0.8 * np.exp(-t / 8),
        ("lr", "other"): np.where(t < 20, 0.1, 0.01),
        ("time", "other"): np.full(n, 0.25),
    }


def frame_of(series: Mapping[tuple[str, str], Sequence[float | None] | np.ndarray], run_id: str = "r") -> pl.DataFrame:
    """A normalized frame with point ``i`` of each (metric, split) series at step ``i`` and epoch ``i`` (``None``: null)."""
    parts = [
        from_columns(run_id=run_id, source="testing", metric=m, split=sp, step=list(range(len(v))),
                     epoch=[float(i) for i in range(len(v))], value=[None if x is None else float(x) for x in v])
        for (m, sp), v in series.items()
    ]
    return pl.concat(parts) if parts else empty_frame()


def odd_examples() -> list[Example]:
    """The odd-data table: every pattern in every slot, alone and among ordinary companions."""
    out: list[Example] = []
    for slot in ODD_SLOTS:
        for pattern, values in _odd_values().items():
            name = f"{slot[1]}/{slot[0]}={pattern}"
            out.append(Example(f"{name} alone", frame_of({slot: values}, "odd"), {}))
            with_companions = {**_companions(), slot: values}
            out.append(Example(f"{name} in a run", frame_of(with_companions, "odd"), {"num_classes": 10}))
    return out


# --------------------------------------------------------------------------------- transformations


def scale_losses(frame: pl.DataFrame, by: float = 10.0) -> pl.DataFrame:
    """``frame`` with every loss series (by metric role) multiplied by ``by``."""
    losses = [m for m, sp in frame.select("metric", "split").unique().iter_rows() if metric_role(m, sp) == "loss"]
    return frame.with_columns(
        pl.when(pl.col("metric").is_in(losses)).then(pl.col("value") * by).otherwise(pl.col("value")).alias("value")
    )


def shift_steps(frame: pl.DataFrame, by: int = 1000) -> pl.DataFrame:
    """``frame`` with every step moved by ``by`` (epochs and wall times unchanged)."""
    return frame.with_columns((pl.col("step") + by).alias("step"))


TRANSFORMS: dict[str, Callable[[pl.DataFrame], pl.DataFrame]] = {"loss_scale": scale_losses, "step_shift": shift_steps}


def verdict(findings: list[Finding]) -> Counter[tuple[str, str, str]]:
    """What a rule said about a run, independent of numbers: its findings counted by (metric, split, severity)."""
    return Counter((f.metric, f.split, f.severity) for f in findings)


# -------------------------------------------------------------------------------------- rule checks


def _run_rule(rule: Rule, view: RunView, where: str) -> list[Finding]:
    try:
        out = rule.check(view)
    except Exception as exc:  # noqa: BLE001 - the point of the check
        raise ConformanceError(f"{rule.code}.check raised {type(exc).__name__} on {where}: {exc}") from exc
    if not isinstance(out, list) or not all(isinstance(f, Finding) for f in out):
        raise ConformanceError(f"{rule.code}.check returned {type(out).__name__} on {where}, not list[Finding]")
    return out


def check_finding(rule: Rule, view: RunView, f: Finding, where: str) -> None:
    """``f`` carries the rule's code and kind, a series of the view, a known severity, ordered steps and
    strict-JSON evidence."""
    at = f"{rule.code} on {where}: {f.metric}/{f.split}"
    if f.code != rule.code or f.kind != rule.kind:
        raise ConformanceError(f"{at}: finding carries {f.code}/{f.kind}, not {rule.code}/{rule.kind}")
    if (f.metric, f.split) not in view.series:
        raise ConformanceError(f"{at}: no such series in the view")
    if f.severity not in SEVERITIES:
        raise ConformanceError(f"{at}: severity {f.severity!r}")
    if not f.message or "\n" in f.message:
        raise ConformanceError(f"{at}: message must be one non-empty line, got {f.message!r}")
    if f.start_step is not None and f.end_step is not None and f.start_step > f.end_step:
        raise ConformanceError(f"{at}: start step {f.start_step} after end step {f.end_step}")
    if f.start_epoch is not None and f.end_epoch is not None and f.start_epoch > f.end_epoch:
        raise ConformanceError(f"{at}: start epoch {f.start_epoch} after end epoch {f.end_epoch}")
    try:
        json.dumps(f.to_dict(), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ConformanceError(f"{at}: finding is not strict JSON ({exc}): {f.evidence}") from exc


def rule_checks(rule_cls: type[Rule], examples: Sequence[Example] = ()) -> Iterator[Check]:
    """The conformance checks of one rule class; ``examples`` (its firing and healthy cases) feed the
    determinism, finding and invariance checks besides the odd-data table."""
    target = rule_cls.code or rule_cls.__name__
    odd = odd_examples()
    every = [*examples, *odd]

    def constructible() -> None:
        try:
            rule = rule_cls()
        except Exception as exc:  # noqa: BLE001
            raise ConformanceError(f"{target}() raised {type(exc).__name__}: {exc}") from exc
        if not CODE_RE.match(rule.code) or rule.kind not in KINDS or rule.severity not in SEVERITIES:
            raise ConformanceError(f"{target}: bad code/kind/severity {rule.code!r}/{rule.kind!r}/{rule.severity!r}")
        if not re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", rule.name):
            raise ConformanceError(f"{target}: name {rule.name!r} is not kebab-case")
        unknown = set(rule.invariances) - set(INVARIANCES)
        if unknown:
            raise ConformanceError(f"{target}: unknown invariances {sorted(unknown)}")

    def params_round_trip() -> None:
        rule = rule_cls()
        params = rule.get_params()
        if "invariances" in params:
            raise ConformanceError(f"{target}: invariances is not a parameter")
        again = type(rule)(**params).get_params()
        if again != params:
            raise ConformanceError(f"{target}: get_params() does not round-trip: {params} -> {again}")
        try:
            rule_cls(not_a_parameter=1)
        except TypeError:
            pass
        else:
            raise ConformanceError(f"{target}: an unknown parameter did not raise TypeError")

    def empty_view() -> None:
        out = _run_rule(rule_cls(), build_view(empty_frame(), {}), "an empty view")
        if out:
            raise ConformanceError(f"{target}: findings on an empty view: {out}")

    def well_formed_on(runs: Sequence[Example]) -> None:
        rule = rule_cls()
        for ex in runs:
            view = build_view(ex.frame, ex.meta)
            for f in _run_rule(rule, view, ex.name):
                check_finding(rule, view, f, ex.name)

    def odd_data() -> None:
        well_formed_on(odd)

    def findings_well_formed() -> None:
        well_formed_on(examples)

    def deterministic() -> None:
        rule = rule_cls()
        for ex in every:
            view = build_view(ex.frame, ex.meta)
            first = _run_rule(rule, view, ex.name)
            if _run_rule(rule, view, ex.name) != first:
                raise ConformanceError(f"{target}: a second check on the same view differs on {ex.name}")
            rebuilt = build_view(ex.frame.clone(), dict(ex.meta))
            if _run_rule(rule_cls(), rebuilt, ex.name) != first:
                raise ConformanceError(f"{target}: a re-built view gives other findings on {ex.name}")

    yield Check("constructible", target, constructible)
    yield Check("params_round_trip", target, params_round_trip)
    yield Check("empty_view", target, empty_view)
    yield Check("odd_data", target, odd_data)
    yield Check("findings_well_formed", target, findings_well_formed)
    yield Check("deterministic", target, deterministic)
    for inv in sorted(rule_cls.invariances):
        yield Check(f"invariant_to_{inv}", target, _invariance_check(rule_cls, inv, every))


def _invariance_check(rule_cls: type[Rule], name: str, examples: Sequence[Example]) -> Callable[[], None]:
    transform = TRANSFORMS[name]

    def run() -> None:
        rule = rule_cls()
        for ex in examples:
            before = verdict(_run_rule(rule, build_view(ex.frame, ex.meta), ex.name))
            changed = transform(ex.frame)
            after = verdict(_run_rule(rule, build_view(changed, ex.meta), f"{ex.name} ({INVARIANCES[name]})"))
            if before != after:
                raise ConformanceError(
                    f"{rule_cls.code} declares {name} but its verdict on {ex.name} changed with "
                    f"{INVARIANCES[name]}: {dict(before)} -> {dict(after)}"
                )

    return run


def check_rule(rule_cls: type[Rule], examples: Sequence[Example] = ()) -> None:
    """Run every conformance check of ``rule_cls`` (the first failure raises)."""
    for check in rule_checks(rule_cls, examples):
        check()


# ====================================================================================== reader checks


def check_frame(frame: pl.DataFrame, where: str) -> None:
    """``frame`` conforms to ``model.frame.SCHEMA``: columns, dtypes, splits in ``SPLITS``, no null metric or step."""
    if frame.columns != COLUMNS:
        raise ConformanceError(f"{where}: columns {frame.columns} != {COLUMNS}")
    if dict(frame.schema) != SCHEMA:
        raise ConformanceError(f"{where}: schema {dict(frame.schema)} != SCHEMA")
    bad = set(frame["split"].drop_nulls().unique().to_list()) - set(SPLITS)
    if bad or frame["split"].null_count():
        raise ConformanceError(f"{where}: bad split values {bad or 'null'}")
    if frame["metric"].null_count():
        raise ConformanceError(f"{where}: null metric names")
    if frame["step"].null_count():
        raise ConformanceError(f"{where}: {frame['step'].null_count()} point(s) without a step")


def check_one_line(text: str | None, where: str) -> None:
    """``text`` (an error reason) is one non-blank line without a traceback."""
    if text is None:
        return
    if "\n" in text or "\r" in text or "Traceback" in text:
        raise ConformanceError(f"{where}: not a one-line reason: {text!r}")
    if not text.strip():
        raise ConformanceError(f"{where}: blank reason")


def check_sniff(reader: Reader, path: Path, head: bytes) -> bool:
    """``reader.sniff(path, head)``: it must return a bool and never raise."""
    try:
        hit = reader.sniff(path, head)
    except Exception as exc:  # noqa: BLE001 - the point of the check
        raise ConformanceError(f"{reader.format}.sniff raised {type(exc).__name__}: {exc}") from exc
    if not isinstance(hit, bool):
        raise ConformanceError(f"{reader.format}.sniff returned {hit!r}, not a bool")
    return hit


def check_read(reader: Reader, path: Path, run_id: str = "conformance") -> list[RunData] | str:
    """``reader.read(path)``: schema-conforming runs with ``#2``-style suffixes, or a one-line
    :class:`LogReadError` (returned as its message); any other exception is a breach."""
    try:
        runs = reader.read(path, run_id)
    except LogReadError as exc:
        check_one_line(str(exc), f"{reader.format}.read LogReadError")
        return str(exc)
    except RecursionError as exc:
        raise ConformanceError(f"{reader.format}.read raised RecursionError") from exc
    except Exception as exc:  # noqa: BLE001
        raise ConformanceError(f"{reader.format}.read raised {type(exc).__name__}: {str(exc)[:300]}") from exc
    if not isinstance(runs, list) or not all(isinstance(r, RunData) for r in runs):
        raise ConformanceError(f"{reader.format}.read returned {type(runs).__name__}, not list[RunData]")
    for i, run in enumerate(runs):
        check_frame(run.frame, f"{reader.format}.read run {i}")
        if not all(isinstance(w, str) for w in run.warnings):
            raise ConformanceError(f"{reader.format}.read run {i}: non-string warning")
        if run.suffix != ("" if i == 0 else f"#{i + 1}"):
            raise ConformanceError(f"{reader.format}.read run {i}: suffix {run.suffix!r}")
    return runs


def read_target(reader: Reader, file: Path) -> Path:
    """What discovery hands ``reader`` for ``file``: the file itself, or its directory for a directory reader."""
    return file.parent if reader.unit == "directory" else file


# --------------------------------------------------------------------------------------- garbling

_NUMBER = re.compile(rb"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")
_JSON_VALUE = re.compile(rb'(?<=: )(?:-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?|"[^"\n]{0,40}"|true|false|null|NaN)')
_JSON_KEY = re.compile(rb'"[A-Za-z_/][^"\n]{0,60}"(?=\s*:)')
NONFINITE_TOKENS = (b"NaN", b"Infinity", b"-Infinity", b"nan", b"inf", b"-inf", b"NA", b"1e999", b"-1e999",
                    b"99999999999999999999999", b"-9223372036854775809", b"1.7976931348623157e308", b"-0.0", b"0x1p3")
HOSTILE_VALUES = (b"null", b"true", b"false", b'"1.5"', b'"x"', b"[]", b"{}", b"[1, 2]", b'{"a": {"b": 1}}',
                  b'"\\u0000"', b'"<script>"', b"NaN", b"1e999", b"99999999999999999999999", b"-1", b"0")
CSV_HOSTILE_CELLS = (b"", b"NA", b"nan", b"inf", b"-inf", b'"[1, 2]"', b"abc", b"1e999", b"99999999999999999999999",
                     b"1,5", b"-", b" ", b'"', b'""', b"\xff\xfe", b"0x10", b"1_000", b"True")
HOSTILE_KEYS = (b'"\\ud800_loss"', b'"\\udcff"', b'"\\ude00\\ud83d"', b'"<script>alert(1)</script>_loss"', b'""',
                b'"a\\nb_loss"', b'"::error::x"', b'"\\u0000"', b'"' + b"k" * 10_000 + b'"', b'"val_"', b'"/"', b'"train/"')
INTERESTING_BYTES = b'\x00\n\r,;\t"{}[]:\xff\xfe\x80\\ '


def crc32c(data: bytes) -> int:
    """CRC32C (Castagnoli), bitwise: an implementation independent of the reader's."""
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def masked_crc32c(data: bytes) -> int:
    """The masked CRC32C that TFRecord framing stores."""
    crc = crc32c(data)
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF


def _pos(rnd: random.Random, data: bytes) -> int:
    return rnd.randint(0, len(data))


def m_truncate(data: bytes, rnd: random.Random) -> bytes:
    """Cut anywhere."""
    return data[: _pos(rnd, data)]


def m_truncate_line(data: bytes, rnd: random.Random) -> bytes:
    """Cut just before, at or after a line end (or a TFRecord-ish boundary in binary data)."""
    ends = [m.start() for m in re.finditer(rb"\n", data)] or [len(data) // 2]
    p = rnd.choice(ends) + rnd.choice((-1, 0, 1))
    return data[: max(p, 0)]


def m_truncate_token(data: bytes, rnd: random.Random) -> bytes:
    """Cut inside a number (``0.12`` -> ``0.1``, ``1e-5`` -> ``1e-``)."""
    nums = list(_NUMBER.finditer(data))
    if not nums:
        return m_truncate(data, rnd)
    m = rnd.choice(nums)
    return data[: rnd.randint(m.start(), m.end())]


def m_bitflip(data: bytes, rnd: random.Random) -> bytes:
    """Flip 1-8 random bits."""
    if not data:
        return data
    buf = bytearray(data)
    for _ in range(rnd.randint(1, 8)):
        i = rnd.randrange(len(buf))
        buf[i] ^= 1 << rnd.randrange(8)
    return bytes(buf)


def m_insert(data: bytes, rnd: random.Random) -> bytes:
    """Insert 1-16 bytes (separators, quotes, brackets, NUL, invalid UTF-8) somewhere."""
    ins = bytes(rnd.choice(INTERESTING_BYTES) if rnd.random() < 0.7 else rnd.randrange(256) for _ in range(rnd.randint(1, 16)))
    p = _pos(rnd, data)
    return data[:p] + ins + data[p:]


def m_delete(data: bytes, rnd: random.Random) -> bytes:
    """Delete a span of 1-64 bytes."""
    if not data:
        return data
    a = rnd.randrange(len(data))
    return data[:a] + data[a + rnd.randint(1, 64) :]


def m_duplicate(data: bytes, rnd: random.Random) -> bytes:
    """Copy a span (a header, some rows, some records) to another place: appended runs, repeated headers."""
    if not data:
        return data
    a = rnd.randrange(len(data))
    b = min(len(data), a + rnd.randint(1, 2048))
    p = _pos(rnd, data)
    return data[:p] + data[a:b] + data[p:]


def m_random_bytes(data: bytes, rnd: random.Random) -> bytes:
    """Replace everything with random bytes."""
    return bytes(rnd.randrange(256) for _ in range(rnd.randint(0, 2048)))


def m_random_text(data: bytes, rnd: random.Random) -> bytes:
    """Replace everything with random text made of log-ish characters."""
    alphabet = "epoch,loss;val_\t0123456789.-eE\n\r {}[]\":NaNInfinity"
    return "".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 1024))).encode()


def m_nonfinite(data: bytes, rnd: random.Random) -> bytes:
    """Replace some numbers with NaN/Inf spellings, overflowing floats and out-of-range integers."""
    nums = list(_NUMBER.finditer(data))
    if not nums:
        return data
    picks = sorted(rnd.sample(nums, min(len(nums), rnd.randint(1, 6))), key=lambda m: m.start(), reverse=True)
    buf = data
    for m in picks:
        buf = buf[: m.start()] + rnd.choice(NONFINITE_TOKENS) + buf[m.end() :]
    return buf


def m_hostile_value(data: bytes, rnd: random.Random) -> bytes:
    """Type confusion: JSON values become null/bool/string/list/object, CSV cells become junk."""
    json_vals = list(_JSON_VALUE.finditer(data))
    if json_vals:
        picks = sorted(rnd.sample(json_vals, min(len(json_vals), rnd.randint(1, 4))), key=lambda m: m.start(), reverse=True)
        buf = data
        for m in picks:
            buf = buf[: m.start()] + rnd.choice(HOSTILE_VALUES) + buf[m.end() :]
        return buf
    lines = data.split(b"\n")
    if len(lines) < 2:
        return data
    i = rnd.randrange(len(lines))
    sep = b";" if b";" in lines[0] else b"\t" if b"\t" in lines[0] else b","
    cells = lines[i].split(sep)
    cells[rnd.randrange(len(cells))] = rnd.choice(CSV_HOSTILE_CELLS)
    lines[i] = sep.join(cells)
    return b"\n".join(lines)


def m_hostile_key(data: bytes, rnd: random.Random) -> bytes:
    """JSON keys become lone-surrogate escapes, markup, empty, escaped newlines, 10k characters."""
    keys = list(_JSON_KEY.finditer(data))
    if not keys:
        return data
    picks = sorted(rnd.sample(keys, min(len(keys), rnd.randint(1, 4))), key=lambda m: m.start(), reverse=True)
    for m in picks:
        data = data[: m.start()] + rnd.choice(HOSTILE_KEYS) + data[m.end() :]
    return data


def m_line_endings(data: bytes, rnd: random.Random) -> bytes:
    """CRLF, CR only, CR CR LF, or blank lines everywhere."""
    new = rnd.choice((b"\r\n", b"\r", b"\r\r\n", b"\n\n", b"\n \n"))
    return data.replace(b"\n", new)


def m_encoding(data: bytes, rnd: random.Random) -> bytes:
    """Re-encode: UTF-16 with BOM (LE/BE), UTF-8 BOM, latin-1 accents (invalid UTF-8), UTF-32."""
    text = data.decode("utf-8", errors="replace")
    kind = rnd.randrange(5)
    if kind == 0:
        return text.encode("utf-16")
    if kind == 1:
        return b"\xfe\xff" + text.encode("utf-16-be")
    if kind == 2:
        return b"\xef\xbb\xbf" + data
    if kind == 3:
        return text.replace("o", "ö", 3).replace("a", "é", 3).encode("latin-1", errors="replace")
    return text.encode("utf-32")


def m_deep_nesting(data: bytes, rnd: random.Random) -> bytes:
    """A deeply nested JSON value (far past Python's recursion limit) in place of a value or as a line."""
    depth = rnd.choice((1000, 5000, 100_000))
    nest = rnd.choice((b"[" * depth + b"]" * depth, b'{"a":' * depth + b"1" + b"}" * depth, b"[" * depth))
    vals = list(_JSON_VALUE.finditer(data))
    if vals and rnd.random() < 0.5:
        m = rnd.choice(vals)
        return data[: m.start()] + nest + data[m.end() :]
    lines = data.split(b"\n")
    lines.insert(rnd.randint(0, len(lines)), nest if rnd.random() < 0.5 else b'{"loss": ' + nest + b"}")
    return b"\n".join(lines)


def m_long_line(data: bytes, rnd: random.Random) -> bytes:
    """A 200 kB line (digits, a long header cell or a long JSON string) somewhere."""
    size = 200_000
    line = rnd.choice((b"1" * size, b"x" * size + b",loss", b'{"loss": "' + b"a" * size + b'", "step": 1}', b"," * size))
    lines = data.split(b"\n")
    lines.insert(rnd.randint(0, len(lines)), line)
    return b"\n".join(lines)


def m_blank(data: bytes, rnd: random.Random) -> bytes:
    """Nothing useful: empty, whitespace, a BOM, just a header line or a lone ``{``."""
    head = data.split(b"\n", 1)[0]
    return rnd.choice((b"", b"\n", b"   \n\t\n", b"\xef\xbb\xbf", head, head + b"\n", b"{", b"[]", b"{}", b"null"))


def m_tfrecord_header(data: bytes, rnd: random.Random) -> bytes:
    """Corrupt a TFRecord length field (huge, zero or off by a few) near the start of a record."""
    if len(data) < 12:
        return data
    offsets: list[int] = []
    o = 0
    while o + 12 <= len(data) and len(offsets) < 10_000:
        (n,) = struct.unpack_from("<Q", data, o)
        offsets.append(o)
        o += n + 16
        if n > len(data):
            break
    o = rnd.choice(offsets)
    n = rnd.choice((0, 1, 2**63 - 1, 2**64 - 1, struct.unpack_from("<Q", data, o)[0] + rnd.choice((-3, -1, 1, 7))))
    n = max(0, min(n, 2**64 - 1))
    fixed_crc = rnd.random() < 0.5  # with a valid length CRC the walker trusts the bad length
    hdr = struct.pack("<Q", n)
    crc = struct.pack("<I", masked_crc32c(hdr)) if fixed_crc else data[o + 8 : o + 12]
    return data[:o] + hdr + crc + data[o + 12 :]


#: Ways to damage a log file's bytes: ``f(data, rnd) -> data``.
GARBLES: dict[str, Callable[[bytes, random.Random], bytes]] = {
    "truncate": m_truncate,
    "truncate_line": m_truncate_line,
    "truncate_token": m_truncate_token,
    "bitflip": m_bitflip,
    "insert": m_insert,
    "delete": m_delete,
    "duplicate": m_duplicate,
    "random_bytes": m_random_bytes,
    "random_text": m_random_text,
    "nonfinite": m_nonfinite,
    "hostile_value": m_hostile_value,
    "hostile_key": m_hostile_key,
    "line_endings": m_line_endings,
    "encoding": m_encoding,
    "deep_nesting": m_deep_nesting,
    "long_line": m_long_line,
    "blank": m_blank,
    "tfrecord_header": m_tfrecord_header,
}


def truncations(data: bytes) -> list[tuple[str, bytes]]:
    """``data`` cut at fixed places: nothing, one byte, a few bytes, a quarter, half, all but one byte, mid-line."""
    n = len(data)
    cuts = sorted({0, 1, 7, min(n, HEAD_BYTES // 2), n // 4, n // 2, (3 * n) // 4, max(n - 1, 0)})
    out = [(f"truncated at {c} bytes", data[:c]) for c in cuts if c < n]
    lines = [m.start() for m in re.finditer(rb"\n", data)]
    if len(lines) >= 3:
        mid = lines[len(lines) // 2]
        out.append((f"truncated mid-line at {mid + 3}", data[: mid + 3]))
    return out


def garbled(data: bytes, seeds: int = 2) -> list[tuple[str, bytes]]:
    """``data`` damaged by each of :data:`GARBLES`, ``seeds`` times each, deterministically."""
    out = []
    for name, fn in GARBLES.items():
        for k in range(seeds):
            out.append((f"{name} #{k}", fn(data, random.Random(f"{name}:{k}"))))
    return out


def _junk_heads(sample_head: bytes) -> list[tuple[str, bytes]]:
    rnd = random.Random("junk")
    return [
        ("empty head", b""),
        ("NUL bytes", b"\x00" * HEAD_BYTES),
        ("random bytes", bytes(rnd.randrange(256) for _ in range(HEAD_BYTES))),
        ("invalid UTF-8", b"\xff\xfe\x80" * 100),
        ("UTF-16 text", "epoch,loss\n0,1.0\n".encode("utf-16")),
        ("a lone brace", b"{"),
        ("an LFS pointer", b"version https://git-lfs.github.com/spec/v1\noid sha256:00\nsize 1\n"),
        *[(f"sample head cut at {c}", sample_head[:c]) for c in (1, 10, len(sample_head) // 2)],
    ]


# ------------------------------------------------------------------------------------------ checks


def reader_checks(reader: Reader, sample: Path, *, seeds: int = 2) -> Iterator[Check]:
    """The conformance checks of one reader, given ``sample``: a file of its family (for a directory reader,
    a file inside a run directory)."""
    target = reader.format
    sample = Path(sample)
    read_sample = functools.cache(sample.read_bytes)

    @contextlib.contextmanager
    def written(raw: bytes) -> Iterator[Path]:
        """``raw`` written under the sample's file name in a fresh run directory."""
        with tempfile.TemporaryDirectory(prefix="tld-conformance-") as tmp:
            path = Path(tmp) / "run" / sample.name
            path.parent.mkdir()
            path.write_bytes(raw)
            yield path

    def sniffs_its_sample() -> None:
        if not check_sniff(reader, read_target(reader, sample), read_sample()[:HEAD_BYTES]):
            raise ConformanceError(f"{target}.sniff rejects its own sample {sample}")

    def reads_its_sample() -> None:
        runs = check_read(reader, read_target(reader, sample))
        if isinstance(runs, str):
            raise ConformanceError(f"{target}.read failed on its own sample {sample}: {runs}")
        if not runs or runs[0].frame.height == 0:
            raise ConformanceError(f"{target}.read found no points in its own sample {sample}")
        again = check_read(reader, read_target(reader, sample))
        if isinstance(again, str) or len(again) != len(runs) or not all(a.frame.equals(b.frame) for a, b in zip(again, runs)):
            raise ConformanceError(f"{target}.read gives another result on a second read of {sample}")

    def sniff_never_raises() -> None:
        for _label, head in _junk_heads(read_sample()[:HEAD_BYTES]):
            for name in (sample.name, "junk.bin", "metrics.csv", "events.out.tfevents.1.host"):
                check_sniff(reader, sample.parent / name, head)
        with tempfile.TemporaryDirectory(prefix="tld-conformance-") as tmp:
            check_sniff(reader, Path(tmp), b"")
            check_sniff(reader, Path(tmp) / "missing" / sample.name, b"")

    def reads_an_empty_file() -> None:
        with written(b"") as path:
            _contract(reader, path, "an empty file")

    def survives_truncation() -> None:
        for label, raw in truncations(read_sample()):
            with written(raw) as path:
                _contract(reader, path, label)

    def survives_garbling() -> None:
        for label, raw in garbled(read_sample(), seeds):
            with written(raw) as path:
                _contract(reader, path, label)

    def leaves_its_input_unchanged() -> None:
        source = read_target(reader, sample)
        with tempfile.TemporaryDirectory(prefix="tld-conformance-") as tmp:
            copy = Path(tmp) / "in" / source.name
            if source.is_dir():
                shutil.copytree(source, copy)
            else:
                copy.parent.mkdir()
                shutil.copy2(source, copy)
            before = tree_state(copy.parent)
            check_sniff(reader, copy, read_sample()[:HEAD_BYTES])
            check_read(reader, copy)
            if tree_state(copy.parent) != before:
                raise ConformanceError(f"{target}.sniff/read changed what it read (or wrote next to it): {sample}")

    yield Check("sniffs_its_sample", target, sniffs_its_sample)
    yield Check("reads_its_sample", target, reads_its_sample)
    yield Check("sniff_never_raises", target, sniff_never_raises)
    yield Check("reads_an_empty_file", target, reads_an_empty_file)
    yield Check("survives_truncation", target, survives_truncation)
    yield Check("survives_garbling", target, survives_garbling)
    yield Check("leaves_its_input_unchanged", target, leaves_its_input_unchanged)


def tree_state(root: Path) -> dict[str, tuple[int, int, str]]:
    """Every file under ``root``: size, modification time and content hash (to prove a reader wrote nothing)."""
    out: dict[str, tuple[int, int, str]] = {}
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            path = Path(dirpath) / name
            st = path.stat()
            out[path.relative_to(root).as_posix()] = (st.st_size, st.st_mtime_ns, hashlib.sha256(path.read_bytes()).hexdigest())
    return out


def _contract(reader: Reader, path: Path, label: str) -> None:
    try:
        check_sniff(reader, path, path.read_bytes()[:HEAD_BYTES])
        check_read(reader, read_target(reader, path))
    except ConformanceError as exc:
        raise ConformanceError(f"{exc} (sample {label})") from exc


def check_reader(reader: Reader, sample: Path) -> None:
    """Run every conformance check of ``reader`` on ``sample`` (the first failure raises)."""
    for check in reader_checks(reader, sample):
        check()
