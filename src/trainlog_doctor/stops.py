"""How a command ends when it is stopped or cannot write: exit codes, SIGTERM, the command group.

* Ctrl-C (SIGINT) and ``kill`` (SIGTERM) both stop the work the same way (the audit saves its cache
  and stops its workers on the way out) and end with one line on stderr and exit 130 (143 for SIGTERM),
  never the code for "findings found".
* A report or audit file that cannot be written (disk full, read-only, permission denied) ends with
  one line and exit 3; nothing half-written is left at the target path.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from typing import Any

import click

#: An output file could not be written (disk full, read-only filesystem, permission denied).
EXIT_IO = 3
#: Stopped by Ctrl-C (128 + SIGINT) or by SIGTERM (128 + SIGTERM).
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so every cleanup path that handles one handles both."""


class OutputFailure(click.ClickException):
    """An output file could not be written: one line on stderr, exit :data:`EXIT_IO`."""

    exit_code = EXIT_IO


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """While inside, SIGTERM raises :class:`Terminated` in the main thread (no-op elsewhere)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        raise Terminated()

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except (ValueError, OSError):  # not allowed here
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class StoppableGroup(click.Group):
    """A command group whose commands end on Ctrl-C or SIGTERM with one line and exit 130 or 143."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            with sigterm_as_interrupt():
                return super().invoke(ctx)
        except KeyboardInterrupt as exc:
            terminated = isinstance(exc, Terminated)
            with contextlib.suppress(OSError, ValueError):
                click.echo(f"trainlog-doctor: {'terminated (SIGTERM)' if terminated else 'interrupted (Ctrl-C)'}", err=True)
            ctx.exit(EXIT_TERMINATED if terminated else EXIT_INTERRUPTED)
