"""The rule contract: one class per finding code, its documentation in the docstring.

A rule is a small estimator in the scikit-learn sense: thresholds are ``__init__`` parameters with
defaults (also readable as class attributes), the work happens in :meth:`Rule.check`, which takes a
:class:`~trainlog_doctor.run.view.RunView` and returns findings. Rules never raise on odd
data; :func:`trainlog_doctor.rules.detect` still guards each call.
"""

from __future__ import annotations

import inspect
import math
import re
from typing import Any, ClassVar

from trainlog_doctor.model.report import Finding, Severity
from trainlog_doctor.run import RunView, Series

CODE_RE = re.compile(r"^[A-Z]{2}\d{3}$")
SEVERITIES: tuple[str, ...] = ("error", "warning", "info")


class Rule:
    """Base class of every detection rule.

    Subclasses set ``code`` (two capitals and three digits), ``kind`` (one of :data:`KINDS`),
    ``severity`` (the default; a rule may lower or raise it per finding), ``name`` (kebab-case) and
    a docstring that documents what counts, what does not and an example. Parameters are keyword
    arguments of ``__init__`` with defaults.
    """

    code: ClassVar[str] = ""
    kind: ClassVar[str] = ""
    severity: ClassVar[Severity] = "warning"
    name: ClassVar[str] = ""
    #: Transformations of a run that leave this rule's verdict unchanged, checked by
    #: :mod:`trainlog_doctor.testing`: ``loss_scale`` (every loss multiplied by 10) and
    #: ``step_shift`` (every step moved by a constant). A rule whose verdict depends on the
    #: absolute loss level or step numbers declares less.
    invariances: ClassVar[frozenset[str]] = frozenset({"loss_scale", "step_shift"})

    def __init__(self, **params: Any) -> None:
        defaults = self.default_params()
        unknown = set(params) - set(defaults)
        if unknown:
            raise TypeError(f"{type(self).__name__} got unknown parameter(s): {', '.join(sorted(unknown))}")
        for key, value in {**defaults, **params}.items():
            setattr(self, key, value)

    @classmethod
    def default_params(cls) -> dict[str, Any]:
        """The rule's thresholds: public, non-callable class attributes of the subclass chain.

        Not its identity or invariances.
        """
        out: dict[str, Any] = {}
        for klass in reversed(cls.__mro__):
            if klass in (object, Rule):
                continue
            for key, value in vars(klass).items():
                if key.startswith("_") or key in ("code", "kind", "severity", "name", "invariances"):
                    continue
                if callable(value) or isinstance(value, (classmethod, staticmethod, property)):
                    continue
                out[key] = value
        return out

    def get_params(self) -> dict[str, Any]:
        """Current parameter values (defaults overridden by ``__init__`` keywords)."""
        return {k: getattr(self, k) for k in self.default_params()}

    @classmethod
    def doc(cls) -> str:
        """The rule's documentation text (its cleaned docstring)."""
        return inspect.cleandoc(cls.__doc__ or "")

    @classmethod
    def summary(cls) -> str:
        """The first line of the documentation."""
        return cls.doc().splitlines()[0] if cls.doc() else ""

    def check(self, ctx: RunView) -> list[Finding]:
        """Findings of this rule in one run."""
        raise NotImplementedError

    # ---- helpers shared by the rules -------------------------------------------------------------

    def finding(
        self,
        ctx: RunView,
        series: Series,
        *,
        start: int,
        end: int | None,
        message: str,
        evidence: dict[str, Any] | None = None,
        severity: Severity | None = None,
        with_lr: bool = True,
    ) -> Finding:
        """A finding on ``series`` spanning point positions ``start..end`` (indices into the series).

        Fills steps, epochs and the evidence keys every rule shares: ``onset_fraction`` and, when a
        learning-rate series is logged, ``lr_at_onset`` and ``lr_changed_near_onset``.
        """
        n = len(series)
        start = int(min(max(start, 0), max(n - 1, 0)))
        end_i = None if end is None else int(min(max(end, start), max(n - 1, 0)))
        ev: dict[str, Any] = {}
        if evidence:
            ev.update({k: _clean_number(v) for k, v in evidence.items() if v is not None})
        start_step = series.step_at(start) if n else None
        ev.setdefault("onset_fraction", round(series.fraction_at(start), 4) if n else 0.0)
        if with_lr and ctx.lr is not None and start_step is not None:
            lr = ctx.lr_at(start_step)
            if lr is not None:
                ev.setdefault("lr_at_onset", lr)
                ev.setdefault("lr_changed_near_onset", ctx.lr_changed_near(start_step, series))
        return Finding(
            code=self.code,
            kind=self.kind,
            severity=severity or self.severity,
            metric=series.metric,
            split=series.split,
            start_step=start_step,
            end_step=series.step_at(end_i) if end_i is not None and n else None,
            start_epoch=series.epoch_at(start) if n else None,
            end_epoch=series.epoch_at(end_i) if end_i is not None and n else None,
            message=message,
            evidence=ev,
        )


class SeriesRule(Rule):
    """A rule that judges each series on its own: :meth:`applies_to` picks the series,
    :meth:`check_series` returns the findings on one of them."""

    def check(self, ctx: RunView) -> list[Finding]:
        """Findings of this rule in one run, series by series in the context's order."""
        out: list[Finding] = []
        for s in ctx.series.values():
            if self.applies_to(s):
                out.extend(self.check_series(ctx, s))
        return out

    def applies_to(self, s: Series) -> bool:
        """Whether this rule looks at ``s`` at all (role, split, name, length)."""
        raise NotImplementedError

    def check_series(self, ctx: RunView, s: Series) -> list[Finding]:
        """Findings on one series."""
        raise NotImplementedError


def _clean_number(v: Any) -> Any:
    """Round floats for the report (6 significant digits), keep everything else."""
    if isinstance(v, bool) or not isinstance(v, (int, float)) and not hasattr(v, "item"):
        return v
    if hasattr(v, "item") and not isinstance(v, (int, float)):
        try:
            v = v.item()
        except (TypeError, ValueError):
            return v
    if isinstance(v, float) and math.isfinite(v):
        return float(f"{v:.6g}")
    return v


def fmt(v: float) -> str:
    """A number for a message: 3 significant digits, scientific outside 1e-3..1e5."""
    if v is None or not math.isfinite(v):
        return str(v)
    a = abs(v)
    if a != 0 and (a < 1e-3 or a >= 1e5):
        return f"{v:.2e}"
    return f"{v:.3g}"


def fmt_ratio(r: float) -> str:
    """A ratio for a message: ``9.3x``, ``120x``, ``1.6e+04x``; beyond the float range ``more than 1e+300x``."""
    if not math.isfinite(r) or r > 1e300:
        return "more than 1e+300x"
    if r >= 1e4:
        return f"{r:.1e}x"
    if r >= 100:
        return f"{r:.0f}x"
    return f"{r:.2g}x" if r < 10 else f"{r:.1f}x".replace(".0x", "x")
