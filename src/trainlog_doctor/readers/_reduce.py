"""Bounded series: extreme-preserving reduction of very long scalar series, in one pass or streamed.

A series longer than ``max_points`` is cut into buckets of ``bucket`` consecutive points (bucket ``k``
holds the points with ordinal ``k * bucket ... (k + 1) * bucket - 1``, ordinals counting every point
of the original series) and from each bucket only the first, the last, the minimum and the maximum
(finite values, first occurrence) are kept. Whatever the bucket size, these are kept too:

* the very first and the very last point;
* every NaN/+Inf/-Inf point (when a series has more than ``max_points`` of them, only the ends of
  each run of equal non-finite values and the run's points on bucket edges, see ``compress_nonfinite``);
* the finite point right before and right after every kept non-finite point (the last finite value
  before a blow-up survives).

The bucket is the smallest power of two whose result has at most ``max_points`` points, NaN/Inf
points not counted while every one of them is kept (so a result has at most about twice
``max_points`` points; a series of NaN alone gets its runs compressed and stays within the limit).

Buckets are aligned on the original ordinals, so reducing an already reduced subset with a bucket
that is a multiple of the earlier one gives exactly the one-pass result. That is what makes the
streamed :class:`SeriesReducer` independent of how its input is chunked: it doubles the bucket
only while the points seen so far need it, and ends at the same bucket as the one-pass reduction.

A run adds a budget on top (:class:`RunReducer`): its series, each counted at most the per-series
limit, must total no more than ``MAX_RUN_POINTS``; when they would not, the limit shared by every
series of the run is halved (never below ``MIN_SERIES_POINTS``, see :func:`run_series_limit`) and
what is already held is re-reduced, which is exact for the same reason. The counted total only grows
as points arrive, so the streamed limit is the one computed from the whole run.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass

import numpy as np

#: Points kept per series at most (well above what rules and charts look at; TensorBoard keeps 1,000).
MAX_SERIES_POINTS = 250_000

#: Points of one run, each series counted at most its limit, before the limit is lowered. The analysis
#: after reading costs 215-250 bytes a kept point (measured peak RSS of ``analyze`` on 200-tag runs of
#: 1M, 2M and 4M points: 0.34, 0.59, 1.02 GB), so a run at the budget peaks near 0.85 GB, under 1.5 GB.
MAX_RUN_POINTS = 3_000_000

#: The run budget never lowers a series' limit below this (a finding needs a few thousand points).
MIN_SERIES_POINTS = 10_000

_NAN, _POS, _NEG = 1, 2, 3


def reduce_indices(
    values: np.ndarray,
    bucket: int,
    *,
    ordinal: np.ndarray | None = None,
    compress_nonfinite: bool = False,
) -> np.ndarray:
    """Sorted indices of the points kept from ``values`` with buckets of ``bucket`` ordinals.

    ``ordinal`` (increasing) is each point's position in the original series (default ``0..n-1``);
    pass it when ``values`` is an already reduced subset. ``bucket <= 1`` keeps everything.
    ``compress_nonfinite`` keeps of each run of equal non-finite values only its ends and its
    points on bucket edges instead of every point.
    """
    v = np.asarray(values, dtype=np.float64)
    n = v.size
    if n == 0 or bucket <= 1:
        return np.arange(n, dtype=np.int64)
    ordn = np.arange(n, dtype=np.int64) if ordinal is None else np.asarray(ordinal, dtype=np.int64)
    if ordn.size != n:
        raise ValueError("ordinal and values differ in length")
    bucket = int(bucket)
    bid = ordn >> (bucket.bit_length() - 1) if bucket & (bucket - 1) == 0 else ordn // bucket
    starts = np.flatnonzero(bid[1:] != bid[:-1]) + 1
    del bid
    starts = np.concatenate([np.zeros(1, dtype=np.int64), starts])
    ends = np.concatenate([starts[1:], [n]])  # exclusive
    keep = np.zeros(n, dtype=bool)
    keep[starts] = True
    keep[ends - 1] = True
    fin = np.isfinite(v)
    all_finite = bool(fin.all())
    if all_finite or fin.any():
        sizes = ends - starts
        lo = v if all_finite else np.where(fin, v, np.inf)
        keep[_first_equal(lo, np.minimum.reduceat(lo, starts), starts, ends, sizes)] = True
        del lo
        hi = v if all_finite else np.where(fin, v, -np.inf)
        keep[_first_equal(hi, np.maximum.reduceat(hi, starts), starts, ends, sizes)] = True
        del hi
    if not all_finite:
        bad = ~fin
        if compress_nonfinite:
            cls = np.zeros(n, dtype=np.int8)
            cls[bad] = np.where(np.isnan(v[bad]), _NAN, np.where(v[bad] > 0, _POS, _NEG))
            same = (cls[1:] == cls[:-1]) & bad[1:]  # point i+1 continues the non-finite run of point i
            interior = np.zeros(n, dtype=bool)
            interior[1:-1] = same[:-1] & same[1:]
            keep |= bad & ~interior
        else:
            keep |= bad
        adjacent = (ordn[1:] - ordn[:-1]) == 1  # neighbours in the original series, not only in this subset
        keep[:-1] |= fin[:-1] & bad[1:] & adjacent
        keep[1:] |= fin[1:] & bad[:-1] & adjacent
    return np.flatnonzero(keep)


def _first_equal(x: np.ndarray, target: np.ndarray, starts: np.ndarray, ends: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """Per segment ``starts[k]:ends[k]``, the index of the first ``x`` equal to ``target[k]``.

    Segments with an infinite target are skipped: the caller replaced non-finite points by an
    infinity, so such a target means the segment has no finite point.
    """
    cand = np.flatnonzero(x == np.repeat(target, sizes))
    if cand.size == 0:
        return cand
    at = np.searchsorted(cand, starts)
    ok = at < cand.size
    first = cand[np.minimum(at, cand.size - 1)]
    ok &= (first < ends) & np.isfinite(target)
    return first[ok]


@dataclass(frozen=True)
class Reduction:
    """What a reduction did: ``index`` kept, out of ``n`` points, with ``bucket`` ordinals per bucket, for ``limit``."""

    index: np.ndarray
    n: int
    bucket: int
    compress_nonfinite: bool
    limit: int = MAX_SERIES_POINTS

    @property
    def reduced(self) -> bool:
        """True when points were dropped."""
        return int(self.index.size) < self.n


def reduce_series(values: np.ndarray, max_points: int = MAX_SERIES_POINTS) -> Reduction:
    """Reduce a whole series to about ``max_points`` points (untouched when it has no more than that).

    The bucket is the smallest power of two (at least 2) whose result fits ``max_points``. Kept
    NaN/Inf points do not count against it unless there are more than ``max_points`` of them (then
    their runs are compressed and count), so a result holds at most about twice ``max_points``.
    """
    v = np.asarray(values, dtype=np.float64)
    n = int(v.size)
    max_points = max(int(max_points), 4)
    if n <= max_points:
        return Reduction(np.arange(n, dtype=np.int64), n, 1, False, max_points)
    nonfinite = n - int(np.count_nonzero(np.isfinite(v)))
    compress = nonfinite > max_points
    idx, bucket = _shrink(v, np.arange(n, dtype=np.int64), 1, max_points, compress, n, 0 if compress else nonfinite)
    return Reduction(idx, n, bucket, compress, max_points)


def _shrink(
    v: np.ndarray, ordinal: np.ndarray, bucket: int, limit: int, compress: bool, n: int, free: int
) -> tuple[np.ndarray, int]:
    """Reduce at ``bucket`` (at least 2), then double it while more than ``limit`` counted points remain.

    Counted: every kept point, less the non-finite ones when they are all kept (``compress`` off;
    ``free`` of them in the whole series). Buckets that cannot fit are skipped without trying: each
    of the ``n // bucket`` full buckets keeps its first and last point, and a non-finite point
    spares at most one of those.
    """
    bucket = max(bucket, 2)
    while 2 * (n // bucket) - free > limit:
        bucket *= 2
    idx = reduce_indices(v, bucket, ordinal=ordinal, compress_nonfinite=compress)
    while _counted(v, idx, compress) > limit and bucket < n:
        bucket *= 2
        sub = reduce_indices(v[idx], bucket, ordinal=ordinal[idx], compress_nonfinite=compress)
        idx = idx[sub]
    return idx, bucket


def _counted(v: np.ndarray, idx: np.ndarray, compress: bool) -> int:
    """Kept points that count against the limit (see :func:`_shrink`)."""
    if compress:
        return int(idx.size)
    return int(np.count_nonzero(np.isfinite(v[idx])))


class SeriesReducer:
    """Collects one series chunk by chunk and keeps its memory bounded (see the module docstring).

    ``add(values, *payload)`` appends points (``payload`` arrays, such as steps, travel with them);
    :meth:`finish` returns the kept ``(values, *payload)`` and the :class:`Reduction` summary. The
    result equals :func:`reduce_series` on the whole series, however it was chunked: a bucket is
    doubled mid-stream only when the points seen so far already need it (they never count more than
    the whole series does at that bucket, less the 4-point slack of a partial last bucket).
    """

    def __init__(self, max_points: int = MAX_SERIES_POINTS) -> None:
        self.max_points = max(int(max_points), 4)
        self.n = 0  # points seen
        self.nonfinite = 0
        self.bucket = 1  # 1 until the first reduction
        self._parts: list[list[np.ndarray]] = []  # [ordinal, values, *payload], in order
        self._held = 0
        self._settled = False

    @property
    def buffered(self) -> int:
        """Points held right now."""
        return self._held

    def add(self, values: np.ndarray, *payload: np.ndarray) -> None:
        """Append points in series order; holds at most about twice ``max_points`` plus this chunk."""
        if self._settled:
            raise ValueError("series already settled")
        values = np.asarray(values, dtype=np.float64)
        size = int(values.size)
        if size == 0:
            return
        part = [np.arange(self.n, self.n + size, dtype=np.int64), values, *payload]
        self.n += size
        self.nonfinite += size - int(np.count_nonzero(np.isfinite(values)))
        if self.bucket > 1:  # already reducing: shrink the chunk on its own first (exact, see _reduce)
            idx = reduce_indices(values, self.bucket, ordinal=part[0], compress_nonfinite=self._compress)
            if idx.size < size:
                part = [c[idx] for c in part]
        self._parts.append(part)
        self._held += int(part[0].size)
        if self._held - self._free > 2 * self.max_points:
            # +4: a prefix can keep up to 3 more points than the whole series at one bucket size, so
            # this never picks a bucket larger than the final one (the result stays chunking-independent)
            self._reduce(self.max_points + 4)

    def settle(self) -> None:
        """Mark the series complete and reduce it to ``max_points`` now; :meth:`add` then refuses points."""
        self._settled = True
        if self.n > self.max_points:
            self._reduce(self.max_points)

    def lower(self, max_points: int) -> None:
        """Lower the limit to ``max_points`` (a higher one is ignored) and shrink what is held if needed.

        The result stays :func:`reduce_series` of the whole series at the lower limit: every bucket
        used so far is at most the final one at the old limit, hence at the new one.
        """
        max_points = max(int(max_points), 4)
        if max_points >= self.max_points:
            return
        self.max_points = max_points
        if self._settled:
            if self.n > max_points:
                self._reduce(max_points)
        elif self._held - self._free > 2 * max_points:
            self._reduce(max_points + 4)

    def finish(self) -> tuple[list[np.ndarray], Reduction]:
        """The kept ``[values, *payload]`` in series order, and what was done."""
        if self.n > self.max_points:
            self._reduce(self.max_points)
        ordinal, *cols = self._collect()
        red = Reduction(ordinal, self.n, self.bucket, self._compress, self.max_points)
        self._parts, self._held = [], 0
        return cols, red

    @property
    def _compress(self) -> bool:
        return self.nonfinite > self.max_points

    @property
    def _free(self) -> int:
        """Non-finite points, all held and not counted while they are few enough to keep every one."""
        return 0 if self._compress else self.nonfinite

    def _collect(self) -> list[np.ndarray]:
        """[ordinal, values, *payload] of everything held, in order."""
        if not self._parts:
            return [np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)]
        if len(self._parts) == 1:
            return self._parts[0]
        return [np.concatenate(c) for c in zip(*self._parts)]

    def _reduce(self, limit: int) -> None:
        """Reduce everything held.

        Held chunks may have been reduced on their own at the current bucket: that keeps a superset
        of what the whole series keeps from them (a chunk's first and last points, on a chunk edge,
        are always kept, so neighbours across edges are still seen), and reducing a superset gives
        the same result.
        """
        cols = self._collect()
        idx, self.bucket = _shrink(cols[1], cols[0], self.bucket, limit, self._compress, self.n, self._free)
        self._parts = [[c[idx] for c in cols]]
        self._held = int(idx.size)


def run_series_limit(
    counts: Iterable[int],
    budget: int = MAX_RUN_POINTS,
    start: int = MAX_SERIES_POINTS,
    floor: int = MIN_SERIES_POINTS,
) -> int:
    """The per-series limit of a run whose series have ``counts`` points.

    ``start`` is halved (never below ``floor``; a ``start`` under ``floor`` is kept) until the series,
    each counted at most the limit, total no more than ``budget``; ``floor`` when even that does not fit.
    """
    c = np.fromiter((int(n) for n in counts), dtype=np.int64)
    limit, floor = int(start), min(int(floor), int(start))
    while limit > floor and int(np.minimum(c, limit).sum()) > budget:
        limit = max(limit // 2, floor)
    return limit


class RunReducer:
    """The series of one run, each a :class:`SeriesReducer` under a limit they share, within a point budget.

    ``add(key, values, *payload)`` feeds the series ``key``; the counted total
    ``sum(min(n, limit))`` over the series is kept within ``budget`` by lowering ``limit`` as
    :func:`run_series_limit` says, re-reducing every series at once. ``settle(key)`` says a series is
    complete (it then holds at most ``limit`` points plus its NaN/Inf); ``finish(key)``, once every
    series is complete, gives what :func:`reduce_series` gives on the whole series at the final
    ``limit``, however the points were chunked. ``discard(key)`` forgets a series (the limit is not
    raised back).
    """

    def __init__(
        self, max_points: int = MAX_SERIES_POINTS, budget: int = MAX_RUN_POINTS, floor: int = MIN_SERIES_POINTS
    ) -> None:
        self.max_points = max(int(max_points), 4)
        self.budget = int(budget)
        self.floor = min(max(int(floor), 4), self.max_points)
        self.limit = self.max_points
        self._series: dict[Hashable, SeriesReducer] = {}
        self._counted = 0  # sum(min(n, limit)) over the series
        self.series = 0  # series added and not discarded (finished ones included)

    @property
    def counted(self) -> int:
        """The series' points, each series counted at most ``limit``."""
        return self._counted

    @property
    def over_budget(self) -> bool:
        """True when even the floor limit leaves more than ``budget`` counted points."""
        return self._counted > self.budget

    @property
    def lowered(self) -> bool:
        """True when the budget lowered the per-series limit."""
        return self.limit < self.max_points

    @property
    def buffered(self) -> int:
        """Points held right now over all series."""
        return sum(r.buffered for r in self._series.values())

    def add(self, key: Hashable, values: np.ndarray, *payload: np.ndarray) -> None:
        """Append points to series ``key`` (created on first use), then lower the limit if the budget needs it."""
        r = self._series.get(key)
        if r is None:
            r = self._series[key] = SeriesReducer(self.limit)
            self.series += 1
        before = min(r.n, self.limit)
        r.add(values, *payload)
        self._counted += min(r.n, self.limit) - before
        if self._counted > self.budget and self.limit > self.floor:
            self._lower()

    def settle(self, key: Hashable) -> None:
        """Series ``key`` is complete: reduce it to the current limit now."""
        if key in self._series:
            self._series[key].settle()

    def discard(self, key: Hashable) -> None:
        """Forget series ``key``."""
        r = self._series.pop(key, None)
        if r is not None:
            self._counted -= min(r.n, self.limit)
            self.series -= 1

    def finish(self, key: Hashable) -> tuple[list[np.ndarray], Reduction]:
        """Kept ``[values, *payload]`` of series ``key`` and its :class:`Reduction`; call once every series is complete."""
        return self._series.pop(key).finish()

    def _lower(self) -> None:
        counts = [r.n for r in self._series.values()]
        self.limit = run_series_limit(counts, self.budget, self.limit, self.floor)
        self._counted = sum(min(n, self.limit) for n in counts)
        for r in self._series.values():
            r.lower(self.limit)
