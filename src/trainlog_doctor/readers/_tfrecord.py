"""TFRecord framing and bulk decoding of scalar ``Event`` records with numpy.

The file is read in windows of ``WINDOW_BYTES`` (:func:`read_windows`: one reused zero-padded ``uint8``
buffer, the record that straddles a window's end carried over to the next), so memory does not grow
with the file. In each window the record framing
(``uint64 len | uint32 masked_crc32c(len) | data | uint32 masked_crc32c(data)``) is walked with
*periodic speculation*: writers repeat the same few record sizes (one per tag), so once the last
record sizes repeat with period ``P`` the next few thousand headers are predicted and read with one
strided numpy read per phase; reading stops at the first wrong guess and continues header by header.
Every predicted header is compared with the file, so the walk is exact.

Records are grouped by length (a radix sort), and each group is split into *blocks*: zero-copy
strided views of the file for arithmetic runs of offsets, one gathered copy for the rest. All length
CRCs of a group are equal, so they are checked with one comparison. Records are then decoded by
*templates*: the first record of a block is parsed in Python into a byte layout (where the wall time,
the step varint and each scalar value are; every other byte, and the varint continuation bits, must
be identical). All rows whose constant bytes match are decoded with a few vectorized word reads; the
others get their own template or go to the per-record protobuf fallback. Data CRCs of template rows
are checked in bulk using the linearity of CRC32C: ``crc(x) = crc(ref) ^ lin(x ^ ref)`` where only
the variable bytes contribute, through one 256-entry table per distance to the end of the record.
"""

from __future__ import annotations

import os
import stat
import struct
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import BinaryIO

import google_crc32c
import numpy as np

MASK_DELTA = 0xA282EAD8
HEADER = 12  # uint64 length + uint32 masked CRC of the length
OVERHEAD = 16  # header + uint32 masked CRC of the data
PAD = 88  # zero bytes after the file so row reads (rounded up to 64 bytes) never run off the array
_U32 = np.uint64(0xFFFFFFFF)
_MAX_TEMPLATE_LEN = 1 << 16
_MAX_TEMPLATE_TRIES = 64
_GROUP_AFTER = 8  # templates tried on one block before its rows are grouped by layout
_FULL_BATCH = 1 << 16
_MAX_RECORD = 1 << 31  # protobuf messages stop at 2 GiB: a longer record is a truncated file
WINDOW_BYTES = 32 << 20  # bytes decoded at a time (records straddling a window edge are carried over)


def mask_crc(crc: int) -> int:
    """TFRecord's masked CRC of an unmasked CRC32C value."""
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + MASK_DELTA) & 0xFFFFFFFF


def masked_crc32c(data: bytes) -> int:
    """TFRecord's masked CRC32C of ``data``."""
    return mask_crc(google_crc32c.value(data))


def mask_crc_array(crc: np.ndarray) -> np.ndarray:
    """Vectorized :func:`mask_crc` on a ``uint32`` array."""
    crc = crc.astype(np.uint32, copy=False)
    return ((crc >> np.uint32(15)) | (crc << np.uint32(17))) + np.uint32(MASK_DELTA)


def padded_array(size: int) -> np.ndarray:
    """A zeroed ``uint8`` array for ``size`` bytes plus at least ``PAD`` spare bytes, 8-byte aligned in length."""
    return np.zeros(((size + PAD) // 8 + 1) * 8, dtype=np.uint8)


class Buffer:
    """A file's bytes as a zero-padded ``uint8`` array plus an aligned ``uint64`` view for word reads."""

    def __init__(self, arr: np.ndarray, size: int) -> None:
        self.arr = arr
        self.size = size
        self.words = arr[: (arr.size // 8) * 8].view("<u8")
        self.raw = memoryview(arr)[:size]

    @classmethod
    def from_bytes(cls, data: bytes) -> Buffer:
        """A padded copy of ``data``."""
        arr = padded_array(len(data))
        arr[: len(data)] = np.frombuffer(data, dtype=np.uint8)
        return cls(arr, len(data))

    def u64(self, pos: np.ndarray) -> np.ndarray:
        """Little-endian ``uint64`` at each byte position (unaligned), by two aligned gathers and a funnel shift."""
        pos = pos.astype(np.uint64, copy=False)
        q = (pos >> np.uint64(3)).astype(np.intp)
        r = (pos & np.uint64(7)) << np.uint64(3)
        lo = self.words[q]
        hi = self.words[q + 1]
        return (lo >> r) | ((hi << np.uint64(1)) << (np.uint64(63) - r))

    def bytes_at(self, start: int, length: int) -> bytes:
        return bytes(self.raw[start : start + length])


@dataclass
class Framing:
    """Result of walking the record framing: record starts and data lengths, and why the walk stopped."""

    offsets: np.ndarray  # int64 start of each record (its length header)
    lengths: np.ndarray  # int64 data length of each record
    stop: int  # byte offset where reading stopped (== size when the file ended cleanly)
    problem: str | None = None  # "truncated" | "bad_length_crc" | None


def _period(hist: list[int]) -> int:
    """Smallest P (<= 16) such that the last ``max(2P, 16)`` sizes repeat with period P, else 0.

    Asking for at least 16 periodic sizes keeps two equal neighbours (tags of the same length) from
    passing for a period of 1.
    """
    n = len(hist)
    for p in range(1, min(16, n // 2) + 1):
        span = max(2 * p, 16)
        if span > n:
            return 0
        if hist[n - span + p :] == hist[n - span : n - p]:
            return p
    return 0


def walk(buf: Buffer) -> Framing:
    """Find every complete record's offset and data length (length CRCs are checked later, in bulk)."""
    size = buf.size
    raw = buf.raw
    unpack = struct.unpack_from
    chunks_o: list[np.ndarray] = []
    chunks_l: list[np.ndarray] = []
    seq_o: list[int] = []
    seq_l: list[int] = []
    hist: list[int] = []
    o = 0
    batch = 256
    skip = 0
    fails = 0
    truncated = False
    while o < size:
        if size - o < HEADER:
            truncated = True
            break
        length = unpack("<Q", raw, o)[0]
        if o + OVERHEAD + length > size:
            truncated = True
            break
        seq_o.append(o)
        seq_l.append(length)
        o += length + OVERHEAD
        hist.append(length + OVERHEAD)
        if len(hist) > 64:
            del hist[:32]
        if skip:
            skip -= 1
            continue
        p = _period(hist)
        if not p:
            continue
        pattern = hist[-p:]
        cycle = sum(pattern)
        cycles = min(max(1, batch // p), (size - o) // cycle)
        if cycles < 1:
            continue
        # predicted headers of the next `cycles` periods: one strided read per phase
        got = np.empty((cycles, p), dtype=np.uint64)
        at = o
        for j, sz in enumerate(pattern):
            got[:, j] = np.ndarray((cycles,), dtype="<u8", buffer=buf.arr, offset=at, strides=(cycle,))
            at += sz
        expect = np.asarray(pattern, dtype=np.uint64) - np.uint64(OVERHEAD)
        bad = np.flatnonzero((got != expect[None, :]).ravel())
        k = int(bad[0]) if bad.size else cycles * p
        if k:
            if seq_o:
                chunks_o.append(np.asarray(seq_o, dtype=np.int64))
                chunks_l.append(np.asarray(seq_l, dtype=np.int64))
                seq_o, seq_l = [], []
            prefix = np.cumsum([0, *pattern[:-1]], dtype=np.int64)
            pos = (o + np.arange(cycles, dtype=np.int64)[:, None] * cycle + prefix[None, :]).ravel()[:k]
            lens = np.tile(expect.astype(np.int64), cycles)[:k]
            chunks_o.append(pos)
            chunks_l.append(lens)
            o = int(pos[-1] + lens[-1] + OVERHEAD)
            hist = [int(x) + OVERHEAD for x in lens[-32:]]
        if k == cycles * p:
            batch = min(batch * 2, _FULL_BATCH)
            fails = 0
        elif k >= 2 * p:
            batch = 256
            fails = 0
        else:
            fails += 1
            skip = min(1 << fails, 64)
    if seq_o:
        chunks_o.append(np.asarray(seq_o, dtype=np.int64))
        chunks_l.append(np.asarray(seq_l, dtype=np.int64))
    offsets = np.concatenate(chunks_o) if chunks_o else np.zeros(0, dtype=np.int64)
    lengths = np.concatenate(chunks_l) if chunks_l else np.zeros(0, dtype=np.int64)
    problem = None
    if truncated:
        problem = "truncated"
        if size - o >= HEADER and masked_crc32c(buf.bytes_at(o, 8)) != unpack("<I", raw, o + 8)[0]:
            problem = "bad_length_crc"
    return Framing(offsets, lengths, o, problem)


@dataclass
class Window:
    """A stretch of a file: ``buf`` holds the bytes from file offset ``base``; ``framing`` its complete records.

    Offsets in ``framing`` are relative to ``buf``. Only the ``last`` window carries a framing
    ``problem`` (and ``file_size``); earlier ones end at a record boundary.
    """

    buf: Buffer
    base: int
    framing: Framing
    last: bool
    file_size: int


def read_windows(fh: BinaryIO, window: int = WINDOW_BYTES) -> Iterator[Window]:
    """Read an open (unbuffered) file in windows of about ``window`` bytes, each ending at a record boundary.

    One buffer is reused: a window is valid only until the next one is requested. The incomplete
    record at a window's end is carried over to the next; a record larger than the window gets a
    buffer of its own size. Reading stops at the end of the file, at a length header whose checksum
    is bad (the last window's framing says ``bad_length_crc``), or at a record that runs past the end
    of the file (``truncated``).
    """
    window = max(int(window), 64)
    file_size: int | None = None
    try:
        st = os.fstat(fh.fileno())
        if stat.S_ISREG(st.st_mode):
            file_size = st.st_size  # read no further than this, as a whole-file read would
    except (OSError, AttributeError, ValueError):
        pass
    cap = window if file_size is None else max(64, min(window, file_size))  # a small file: no bigger buffer
    arr = padded_array(cap)
    base = 0
    filled = 0
    eof = False
    while True:
        view = memoryview(arr)
        while not eof and filled < cap:
            want = cap if file_size is None else min(cap, file_size - base)
            n = fh.readinto(view[filled:want]) if want > filled else 0
            if n:
                filled += n
            else:
                eof = True
        eof = eof or (file_size is not None and base + filled >= file_size)
        view.release()
        arr[filled : filled + PAD] = 0  # stale bytes of the previous window after the data
        buf = Buffer(arr, filled)
        fr = walk(buf)
        if eof or fr.problem == "bad_length_crc":
            yield Window(buf, base, fr, True, base + filled)
            return
        need = 0  # bytes of the incomplete record at fr.stop (0: the window ended on a boundary)
        if fr.problem is not None:
            need = HEADER
            if filled - fr.stop >= HEADER:
                need = struct.unpack_from("<Q", buf.raw, fr.stop)[0] + OVERHEAD
                past_end = file_size is not None and base + fr.stop + need > file_size
                if past_end or need > _MAX_RECORD:  # can never complete: the file is truncated there
                    yield Window(buf, base, fr, True, base + filled if file_size is None else file_size)
                    return
        if fr.offsets.size:
            yield Window(buf, base, Framing(fr.offsets, fr.lengths, fr.stop, None), False, 0)
        carry = filled - fr.stop
        new_cap = max(cap if cap < window else window, need)
        if new_cap != cap:  # a record larger than the window, or back to normal after one
            new = padded_array(new_cap)
            new[:carry] = arr[fr.stop : filled]
            arr, cap = new, new_cap
        elif carry:
            arr[:carry] = arr[fr.stop : filled]
        base += fr.stop
        filled = carry


# --------------------------------------------------------------------------------------------------
# CRC32C linearity tables


@lru_cache(maxsize=8192)
def _distance_table(distance: int) -> np.ndarray:
    """``T[d]``: XOR change of a CRC32C when a byte followed by ``distance`` more bytes is XORed with ``d``.

    The change does not depend on the bytes around it (CRC linearity), only on how many follow, so
    the table is shared by every record length and position with the same distance to the end.
    """
    zero = bytearray(distance + 1)
    base = google_crc32c.value(bytes(zero))
    bits = np.zeros(8, dtype=np.uint32)
    for b in range(8):
        zero[0] = 1 << b
        bits[b] = google_crc32c.value(bytes(zero)) ^ base
    table = np.zeros(1, dtype=np.uint32)
    for b in range(8):  # entries with bit b set = entries without it XOR the bit's effect
        table = np.concatenate([table, table ^ bits[b]])
    return table


_ZERO_TABLE = np.zeros(256, dtype=np.uint32)


def _byte_table(length: int, pos: int) -> np.ndarray:
    """CRC change table for byte ``pos`` of a ``length``-byte message (zeros past the end)."""
    return _distance_table(length - 1 - pos) if pos < length else _ZERO_TABLE


# --------------------------------------------------------------------------------------------------
# templates


def read_varint(data: bytes, i: int, end: int) -> tuple[int, int]:
    """Decode a varint at ``i``; returns (value, next index). Raises ValueError when malformed."""
    shift = 0
    val = 0
    while True:
        if i >= end or shift > 63:
            raise ValueError("bad varint")
        b = data[i]
        i += 1
        val |= (b & 0x7F) << shift
        if not b & 0x80:
            return val, i
        shift += 7


@dataclass
class Template:
    """Byte layout shared by a group of scalar Event records of one length."""

    length: int
    masks: bytes  # per byte: 0xFF constant, 0x80 varint continuation bit only, 0x00 variable
    ref: bytes  # the reference record's data
    wall: int | None = None
    step: tuple[int, int] | None = None  # (position, varint byte count)
    values: list[tuple[str, int, int]] = field(default_factory=list)  # (tag, position, 4 | 8 bytes)
    _rows: dict[int, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict, repr=False)

    def row_masks(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(mask, expected) words over a ``k``-word record row (header included) for the constant-byte check."""
        if k not in self._rows:
            mask = bytearray(8 * k)
            expect = bytearray(8 * k)
            mask[HEADER : HEADER + self.length] = self.masks
            expect[HEADER : HEADER + self.length] = bytes(a & b for a, b in zip(self.ref, self.masks))
            self._rows[k] = (np.frombuffer(bytes(mask), dtype="<u8"), np.frombuffer(bytes(expect), dtype="<u8"))
        return self._rows[k]

    def fields(self) -> list[tuple[int, int]]:
        """Variable (position, width) fields."""
        out = []
        if self.wall is not None:
            out.append((self.wall, 8))
        if self.step is not None:
            out.append(self.step)
        out.extend((pos, width) for _, pos, width in self.values)
        return out


class _Reject(Exception):
    pass


def parse_template(data: bytes) -> Template | None:
    """Parse one Event's bytes into a :class:`Template` when it is a plain scalar event, else ``None``.

    Accepted: ``wall_time``, ``step`` and a ``summary`` whose values are each a tag plus a
    ``simple_value`` or a rank-0 DT_FLOAT/DT_DOUBLE tensor (``tensor_content``, ``float_val`` or
    ``double_val``) with optional ``scalars`` plugin metadata. Anything else goes to the fallback.
    """
    n = len(data)
    masks = bytearray(b"\xff" * n)
    tmpl = Template(length=n, masks=b"", ref=data)
    try:
        i = 0
        seen: set[int] = set()
        while i < n:
            key, i = read_varint(data, i, n)
            num, wire = key >> 3, key & 7
            if num in seen:
                raise _Reject
            seen.add(num)
            if num == 1 and wire == 1:
                if i + 8 > n:
                    raise _Reject
                tmpl.wall = i
                masks[i : i + 8] = b"\x00" * 8
                i += 8
            elif num == 2 and wire == 0:
                start = i
                _, i = read_varint(data, i, n)
                k = i - start
                if k > 8:
                    raise _Reject
                tmpl.step = (start, k)
                masks[start:i] = b"\x80" * k
            elif num == 5 and wire == 2:
                ln, i = read_varint(data, i, n)
                if i + ln > n:
                    raise _Reject
                _parse_summary(data, i, i + ln, masks, tmpl)
                i += ln
            else:
                raise _Reject
    except (_Reject, ValueError):
        return None
    if not tmpl.values:
        return None
    tmpl.masks = bytes(masks)
    return tmpl


def _parse_summary(data: bytes, i: int, end: int, masks: bytearray, tmpl: Template) -> None:
    while i < end:
        key, i = read_varint(data, i, end)
        if key != 0x0A:  # Summary.value, length-delimited
            raise _Reject
        ln, i = read_varint(data, i, end)
        if i + ln > end:
            raise _Reject
        _parse_value(data, i, i + ln, masks, tmpl)
        i += ln


def _parse_value(data: bytes, i: int, end: int, masks: bytearray, tmpl: Template) -> None:
    tag: str | None = None
    slot: tuple[int, int] | None = None
    seen: set[int] = set()
    while i < end:
        key, i = read_varint(data, i, end)
        num, wire = key >> 3, key & 7
        if num in seen:
            raise _Reject
        seen.add(num)
        if num == 1 and wire == 2:
            ln, i = read_varint(data, i, end)
            if i + ln > end:
                raise _Reject
            tag = data[i : i + ln].decode("utf-8", errors="replace")
            i += ln
        elif num == 2 and wire == 5:
            if i + 4 > end:
                raise _Reject
            slot = (i, 4)
            i += 4
        elif num == 8 and wire == 2:
            ln, i = read_varint(data, i, end)
            if i + ln > end:
                raise _Reject
            slot = _parse_tensor(data, i, i + ln)
            i += ln
        elif num == 9 and wire == 2:
            ln, i = read_varint(data, i, end)
            if i + ln > end:
                raise _Reject
            _check_metadata(data, i, i + ln)
            i += ln
        else:
            raise _Reject
    if tag is None or slot is None:
        raise _Reject
    pos, width = slot
    masks[pos : pos + width] = b"\x00" * width
    tmpl.values.append((tag, pos, width))


def _parse_tensor(data: bytes, i: int, end: int) -> tuple[int, int]:
    """Position and width of the single float/double of a rank-0 TensorProto."""
    dtype = None
    slot: tuple[int, int] | None = None
    while i < end:
        key, i = read_varint(data, i, end)
        num, wire = key >> 3, key & 7
        if num == 1 and wire == 0:
            dtype, i = read_varint(data, i, end)
        elif num == 2 and wire == 2:  # tensor_shape: only rank 0 (empty message)
            ln, i = read_varint(data, i, end)
            if ln != 0:
                raise _Reject
        elif num == 3 and wire == 0:  # version_number
            _, i = read_varint(data, i, end)
        elif num in (4, 5, 6) and wire == 2:  # tensor_content, packed float_val, packed double_val
            ln, i = read_varint(data, i, end)
            if slot is not None or ln not in (4, 8) or i + ln > end:
                raise _Reject
            slot = (i, ln)
            i += ln
        elif num == 5 and wire == 5:
            if slot is not None or i + 4 > end:
                raise _Reject
            slot = (i, 4)
            i += 4
        elif num == 6 and wire == 1:
            if slot is not None or i + 8 > end:
                raise _Reject
            slot = (i, 8)
            i += 8
        else:
            raise _Reject
    if slot is None or dtype not in (1, 2) or slot[1] != (4 if dtype == 1 else 8):
        raise _Reject
    return slot


def _check_metadata(data: bytes, i: int, end: int) -> None:
    """Accept SummaryMetadata only when its plugin is absent, empty or ``scalars``."""
    while i < end:
        key, i = read_varint(data, i, end)
        num, wire = key >> 3, key & 7
        if wire == 2:
            ln, i = read_varint(data, i, end)
            if i + ln > end:
                raise _Reject
            if num == 1:  # plugin_data: plugin_name (1) and content (2)
                j, stop = i, i + ln
                while j < stop:
                    k2, j = read_varint(data, j, stop)
                    if k2 & 7 != 2:
                        raise _Reject
                    l2, j = read_varint(data, j, stop)
                    if (k2 >> 3) == 1 and data[j : j + l2] not in (b"", b"scalars"):
                        raise _Reject
                    j += l2
            i += ln
        elif wire == 0:
            _, i = read_varint(data, i, end)
        else:
            raise _Reject


# --------------------------------------------------------------------------------------------------
# bulk decoding


@dataclass
class Points:
    """Decoded scalar points in no particular order; ``rec`` and ``slot`` give file order."""

    rec: np.ndarray  # int64 record index
    slot: np.ndarray | None  # int64 value index within the record; None: one value per record, all 0
    tag: np.ndarray  # int32 index into the tag list
    step: np.ndarray  # int64
    wall: np.ndarray  # float64
    value: np.ndarray  # float64


@dataclass
class BulkResult:
    """What the template pass decoded, plus the records it left for the per-record fallback.

    ``valid`` is the number of leading records whose framing is trusted: a bad length CRC at record
    ``i`` means everything from ``i`` on is garbage (``valid == i``); every other field only refers to
    records before it.
    """

    tags: list[str]
    parts: list[Points]
    fallback: np.ndarray  # record indices (sorted), length CRC already verified
    bad_crc: list[int]  # record indices with a bad data CRC
    valid: int


_CHUNK = 1 << 15  # rows per step of the constant-byte check (keeps temporaries small)


class _Block:
    """Records of one length: ``n`` rows of ``k`` words, either a zero-copy strided view into the file
    buffer (an arithmetic run of record offsets) or a gathered contiguous copy."""

    def __init__(self, base: np.ndarray, offset: int, stride: int, rec: np.ndarray, k: int) -> None:
        self.base = base
        self.offset = offset
        self.stride = stride
        self.rec = rec
        self.k = k

    @property
    def n(self) -> int:
        return int(self.rec.size)

    def words(self, a: int = 0, b: int | None = None) -> np.ndarray:
        """Rows ``a:b`` as an ``(rows, k)`` uint64 array (a view)."""
        b = self.n if b is None else b
        return np.ndarray(
            (b - a, self.k), dtype="<u8", buffer=self.base, offset=self.offset + a * self.stride, strides=(self.stride, 8)
        )

    def field(self, byte: int) -> np.ndarray:
        """The 8 bytes at record byte ``byte`` of every row, as a (possibly unaligned) uint64 view."""
        return np.ndarray((self.n,), dtype="<u8", buffer=self.base, offset=self.offset + byte, strides=(self.stride,))

    def first(self, length: int) -> bytes:
        """Data bytes of the first row."""
        return self.words(0, 1).tobytes()[HEADER : HEADER + length]

    def take(self, sel: np.ndarray) -> _Block:
        """A gathered copy of the selected rows (boolean mask or indices)."""
        m = np.ascontiguousarray(self.words()[sel])
        return _Block(m, 0, 8 * self.k, self.rec[sel], self.k)


def _segments(pos: np.ndarray, min_run: int = 64) -> list[tuple[int, int, int]]:
    """Split sorted positions into slices ``(a, b, stride)``: arithmetic runs (stride > 0) or the rest (0)."""
    n = pos.size
    if n < min_run:
        return [(0, n, 0)]
    d = np.diff(pos)
    brk = np.flatnonzero(d[1:] != d[:-1]) + 1
    rs = np.concatenate([[0], brk])
    re_ = np.concatenate([brk, [d.size]])
    long_runs = np.flatnonzero(re_ - rs + 1 >= min_run)
    out: list[tuple[int, int, int]] = []
    cur = 0
    for i in long_runs.tolist():
        a, b = max(int(rs[i]), cur), int(re_[i]) + 1
        if b - a < min_run:
            continue
        if cur < a:
            out.append((cur, a, 0))
        out.append((a, b, int(d[a])))
        cur = b
    if cur < n:
        out.append((cur, n, 0))
    return out


def _blocks(buf: Buffer, pos: np.ndarray, rec: np.ndarray, k: int) -> list[_Block]:
    """Blocks covering records at sorted offsets ``pos``: strided views for long arithmetic runs, one copy for the rest."""
    out: list[_Block] = []
    rest: list[tuple[int, int]] = []
    for a, b, stride in _segments(pos):
        if stride:
            out.append(_Block(buf.arr, int(pos[a]), stride, rec[a:b], k))
        else:
            rest.append((a, b))
    if rest:
        idx = np.concatenate([np.arange(a, b) for a, b in rest]) if len(rest) > 1 else np.arange(*rest[0])
        g = pos[idx]
        if g.size * k <= 1 << 17:  # small: one byte gather
            m = buf.arr[g[:, None] + np.arange(8 * k)].view("<u8")
        else:
            m = np.empty((g.size, k), dtype=np.uint64)
            for j in range(k):
                m[:, j] = buf.u64(g + 8 * j)
        out.append(_Block(m, 0, 8 * k, rec[idx], k))
    return out


def _row_words(length: int) -> int:
    """Words per row for ``length`` data bytes: header, data, CRC and 8 spare bytes, rounded up to 8 words."""
    return ((length + OVERHEAD + 8 + 7) // 8 + 7) // 8 * 8


def _crc_delta(crc: np.ndarray, length: int, pos: int, width: int, diff: np.ndarray) -> None:
    """XOR into ``crc`` the change caused by XOR-ing ``width`` bytes at ``pos`` with the low bytes of ``diff``."""
    if diff.size == 0:
        return
    agg = int(np.bitwise_or.reduce(diff))
    octets = diff.view(np.uint8).reshape(diff.size, 8)
    for j in range(width):
        if (agg >> (8 * j)) & 0xFF:
            np.bitwise_xor(crc, _byte_table(length, pos + j)[octets[:, j]], out=crc)


def _match(block: _Block, tmpl: Template) -> np.ndarray:
    """Rows of ``block`` whose constant bytes equal the template's (the varint continuation bits included)."""
    mrow, erow = tmpl.row_masks(block.k)
    ones = np.uint64(0x0101010101010101)
    ok = np.empty(block.n, dtype=bool)
    for a in range(0, block.n, _CHUNK):
        b = min(a + _CHUNK, block.n)
        eq = (block.words(a, b) & mrow) == erow  # (rows, k) bool, k a multiple of 8: 8 flags per uint64
        flags = eq.view(np.uint64)
        part = flags[:, 0] == ones
        for j in range(1, flags.shape[1]):
            part &= flags[:, j] == ones
        ok[a:b] = part
    return ok


@lru_cache(maxsize=64)
def _hash_multipliers(k: int) -> np.ndarray:
    """Fixed odd 64-bit multipliers for hashing ``k``-word rows."""
    return np.random.default_rng(0x7F4A7C15).integers(1, 1 << 63, size=k, dtype=np.uint64) | np.uint64(1)


def _group_by_layout(block: _Block, tmpl: Template) -> list[_Block]:
    """``block`` split into groups of rows that agree on every byte ``tmpl`` holds constant (the tag,
    the field keys and lengths), by a 64-bit hash of those bytes; a rare collision only leaves rows
    for the per-row fallback, as every group is still matched against its own template."""
    mrow, _ = tmpl.row_masks(block.k)
    mult = _hash_multipliers(block.k)
    h = np.empty(block.n, dtype=np.uint64)
    for a in range(0, block.n, _CHUNK):
        b = min(a + _CHUNK, block.n)
        h[a:b] = ((block.words(a, b) & mrow) * mult).sum(axis=1, dtype=np.uint64)  # wraps modulo 2**64
    order = np.argsort(h, kind="stable")
    cuts = np.flatnonzero(h[order][1:] != h[order][:-1]) + 1
    return [block.take(idx) for idx in np.split(order, cuts)]


def _decode_template(block: _Block, tmpl: Template, tag_ids: dict[str, int]) -> tuple[Points | None, np.ndarray]:
    """Check data CRCs of rows known to match ``tmpl`` and decode them; returns (points, bad-CRC records)."""
    length = tmpl.length
    ref = tmpl.ref
    rec = block.rec
    crc = np.full(block.n, google_crc32c.value(ref), dtype=np.uint32)
    got: dict[int, np.ndarray] = {}
    for fpos, width in tmpl.fields():
        words = np.array(block.field(HEADER + fpos), dtype=np.uint64)
        got[fpos] = words
        if width < 8:
            diff = (words ^ np.uint64(int.from_bytes(ref[fpos : fpos + width], "little"))) & np.uint64(
                (1 << (8 * width)) - 1
            )
        else:
            diff = words ^ np.uint64(int.from_bytes(ref[fpos : fpos + 8], "little"))
        _crc_delta(crc, length, fpos, width, diff)
    stored = (block.field(HEADER + length) & _U32).astype(np.uint32)
    good = mask_crc_array(crc) == stored
    bad_recs = rec[~good]
    if bad_recs.size:
        rec = rec[good]
        got = {key: v[good] for key, v in got.items()}
    cnt = rec.size
    if cnt == 0:
        return None, bad_recs
    wall = got[tmpl.wall].view(np.float64) if tmpl.wall is not None else np.zeros(cnt, dtype=np.float64)
    if tmpl.step is not None:
        spos, nb = tmpl.step
        sw = got[spos]
        step = sw & np.uint64(0x7F)
        for b in range(1, nb):
            step |= ((sw >> np.uint64(8 * b)) & np.uint64(0x7F)) << np.uint64(7 * b)
        step = step.view(np.int64)
    else:
        step = np.zeros(cnt, dtype=np.int64)
    nv = len(tmpl.values)
    vals, tids = [], []
    for tag, vpos, width in tmpl.values:
        vw = got[vpos]
        if width == 4:
            vals.append(vw.astype(np.uint32).view(np.float32).astype(np.float64))
        else:
            vals.append(vw.view(np.float64))
        tids.append(tag_ids.setdefault(tag, len(tag_ids)))
    if nv == 1:
        return Points(rec, None, np.full(cnt, tids[0], np.int32), step, wall, vals[0]), bad_recs
    return (
        Points(
            rec=np.tile(rec, nv),
            slot=np.repeat(np.arange(nv, dtype=np.int64), cnt),
            tag=np.repeat(np.asarray(tids, dtype=np.int32), cnt),
            step=np.tile(step, nv),
            wall=np.tile(wall, nv),
            value=np.concatenate(vals),
        ),
        bad_recs,
    )


def decode_bulk(buf: Buffer, framing: Framing, tag_ids: dict[str, int] | None = None) -> BulkResult:
    """Verify length CRCs and decode every record that fits a scalar template, all in bulk.

    Records that fit no template (non-scalar events, text, hparams, records over 64 KiB) are returned
    as ``fallback`` for per-record decoding. ``tag_ids`` (tag -> index, extended in place) lets
    several windows of one file share tag indices; ``tags`` of the result lists all of them.
    """
    tag_ids = {} if tag_ids is None else tag_ids
    lengths = framing.lengths
    offsets = framing.offsets
    nrec = lengths.size
    if nrec == 0:
        return BulkResult(tag_list(tag_ids), [], np.zeros(0, dtype=np.int64), [], 0)
    is_big = lengths >= _MAX_TEMPLATE_LEN
    big = np.flatnonzero(is_big)
    valid = nrec
    for r in big.tolist():  # rare: graph defs, images; check their headers one by one
        o = int(offsets[r])
        if masked_crc32c(buf.bytes_at(o, 8)) != struct.unpack_from("<I", buf.raw, o + 8)[0]:
            valid = min(valid, r)
            break
    # group records by length (radix sort on uint16) into blocks; check every length CRC
    small_idx = np.flatnonzero(~is_big) if big.size else None
    groups: list[tuple[int, list[_Block]]] = []
    if small_idx is None or small_idx.size:
        lens16 = (lengths if small_idx is None else lengths[small_idx]).astype(np.uint16)
        order = np.argsort(lens16, kind="stable")
        if small_idx is not None:
            order = small_idx[order]
        counts = np.bincount(lens16)
        present = np.flatnonzero(counts)
        bounds = np.concatenate([[0], np.cumsum(counts[present])])
        for g, length in enumerate(present.tolist()):
            recs = order[bounds[g] : bounds[g + 1]]
            blocks = _blocks(buf, offsets[recs], recs, _row_words(length))
            want = np.uint64(masked_crc32c(struct.pack("<Q", length)))
            for block in blocks:
                bad = np.flatnonzero((block.field(8) & _U32) != want)
                if bad.size:
                    valid = min(valid, int(block.rec[bad].min()))
            groups.append((length, blocks))
    parts: list[Points] = []
    fallback: list[np.ndarray] = [big[big < valid]]
    bad_crc: list[np.ndarray] = []
    for length, blocks in groups:
        templates: list[Template] = []
        queue = deque((block, False) for block in blocks)
        while queue:
            block, grouped = queue.popleft()
            if valid < nrec and block.rec.max() >= valid:
                block = block.take(block.rec < valid)
            tries = 0
            # rows of a group share their layout bytes: parse their own template, skip the known ones
            ti = len(templates) if grouped else 0
            attempts = 0
            while block.n and tries < _MAX_TEMPLATE_TRIES:
                attempts += 1
                if attempts > _GROUP_AFTER and not grouped and templates:
                    # many tags of one record length (per-layer metrics): trying templates one by
                    # one costs a pass per tag, so group the rows by their layout bytes instead
                    queue.extend((sub, True) for sub in _group_by_layout(block, templates[-1]))
                    block = block.take(np.zeros(0, dtype=np.intp))
                    break
                if ti < len(templates):  # templates already found for this length first
                    tmpl = templates[ti]
                    ti += 1
                else:
                    tries += 1
                    parsed = parse_template(block.first(length))
                    if parsed is None:
                        fallback.append(block.rec[:1])
                        block = block.take(np.arange(1, block.n))
                        continue
                    tmpl = parsed
                    templates.append(tmpl)
                    ti = len(templates)
                ok = _match(block, tmpl)
                if not ok.any():
                    continue
                whole = bool(ok.all())
                pts, bad = _decode_template(block if whole else block.take(ok), tmpl, tag_ids)
                if pts is not None:
                    parts.append(pts)
                if bad.size:
                    bad_crc.append(bad)
                if whole:
                    block = block.take(np.zeros(0, dtype=np.intp))
                else:
                    block = block.take(~ok)
            if block.n:
                fallback.append(block.rec)
    fb = np.sort(np.concatenate(fallback)).astype(np.int64)
    bad_list = sorted(int(x) for x in np.concatenate(bad_crc)) if bad_crc else []
    return BulkResult(tag_list(tag_ids), parts, fb, bad_list, valid)


def tag_list(tag_ids: dict[str, int]) -> list[str]:
    """Tags ordered by their index."""
    tags = [""] * len(tag_ids)
    for tag, i in tag_ids.items():
        tags[i] = tag
    return tags
