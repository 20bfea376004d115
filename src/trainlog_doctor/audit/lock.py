"""One audit at a time per output directory, and the temporary files a killed audit left behind."""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from pathlib import Path

from trainlog_doctor.audit.checks import AuditError

LOCK_FILE = ".trainlog-doctor.lock"
#: The temporary names :func:`trainlog_doctor.report.files.temp_name` gives.
_TEMP = re.compile(r"^\..+\.[0-9a-f]{12}\.tmp$")
_OPEN = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)


@contextlib.contextmanager
def output_lock(out_dir: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``out_dir`` (``.trainlog-doctor.lock``, advisory ``flock``) while inside;
    :class:`AuditError` at once when another audit holds it. Where locks are unavailable, no lock."""
    try:
        import fcntl
    except ImportError:  # Windows
        yield
        return
    try:
        fd = os.open(out_dir / LOCK_FILE, _OPEN, 0o644)
    except OSError as exc:
        raise AuditError(f"cannot lock {out_dir}: {exc.strerror or exc}") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise AuditError(f"another audit is writing into {out_dir}; wait for it or choose another --output") from None
        except OSError:  # a filesystem without locks (some network mounts): go on unlocked
            pass
        yield
    finally:
        os.close(fd)  # closing releases the lock; a killed audit's lock dies with it


def drop_temp_files(out_dir: Path) -> None:
    """Delete the temporary files of interrupted writes in ``out_dir`` and ``out_dir/runs`` (only names
    the tool gives its own temporary files; called with the lock held, so no audit is writing them)."""
    for d in (out_dir, out_dir / "runs"):
        try:
            names = os.listdir(d)
        except OSError:
            continue
        for name in names:
            if _TEMP.match(name):
                with contextlib.suppress(OSError):
                    os.unlink(d / name)
