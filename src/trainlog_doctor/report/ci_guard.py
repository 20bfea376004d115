"""GitHub Actions: nothing the tool prints from a log can act as a workflow command.

The runner executes ``::command::`` lines (and the legacy ``##[command]`` form) from a step's
standard output and standard error alike. Under ``GITHUB_ACTIONS=true``, :class:`CommandGuard`
opens a ``::stop-commands::<token>`` window before anything log-derived is printed and closes it
(``::<token>::``) when the command ends; the token is random per process, so no log can close the
window early. Standard error is always wrapped; standard output only for the text report on a
terminal or pipe (:func:`guarded_streams`): a JSON, Markdown or HTML report on standard output is
data for another program and must stay byte-exact. ``--format github`` closes the window just
before it writes its own annotations, which must reach the runner.
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Mapping
from typing import TextIO


def in_github_actions(env: Mapping[str, str] | None = None) -> bool:
    """True when running as a GitHub Actions step."""
    return (env if env is not None else os.environ).get("GITHUB_ACTIONS") == "true"


#: How each format writes ``##[`` so that it reads the same but is no legacy runner command
#: (the runner finds ``##[`` anywhere in a line): a JSON string escape, an HTML entity.
_LEGACY_SAFE = {"json": "#\\u0023[", "markdown": "#&#35;[", "html": "#&#35;["}


def defuse_legacy_commands(text: str, fmt: str) -> str:
    """``text`` rendered in ``fmt`` with every ``##[`` written in an equivalent form of that format
    (JSON and HTML/Markdown decode to the same characters; text and github defuse it themselves)."""
    safe = _LEGACY_SAFE.get(fmt)
    return text.replace("##[", safe) if safe and "##[" in text else text


def guarded_streams(fmt: str | None) -> tuple[TextIO, ...]:
    """The streams to wrap: stderr, plus stdout when it carries the ``text`` report and is not a file."""
    if fmt == "text":
        try:
            to_file = stat.S_ISREG(os.fstat(sys.stdout.fileno()).st_mode)
        except (OSError, ValueError, AttributeError):  # no real descriptor (captured): wrap it
            to_file = False
        if not to_file:
            return (sys.stderr, sys.stdout)
    return (sys.stderr,)


class CommandGuard:
    """A stop-commands window over standard output and standard error (a no-op outside GitHub Actions)."""

    def __init__(self, streams: tuple[TextIO, ...] | None = None, *, active: bool | None = None) -> None:
        self.active = in_github_actions() if active is None else active
        import secrets  # only under GITHUB_ACTIONS (``--help`` stays light)

        self.token = secrets.token_hex(16)
        self._streams = streams
        self.open = False

    def _each(self) -> tuple[TextIO, ...]:
        return self._streams if self._streams is not None else (sys.stdout, sys.stderr)

    def _write(self, line: str) -> None:
        for stream in self._each():
            try:
                stream.flush()
                stream.write(line + "\n")
                stream.flush()
            except (OSError, ValueError):  # a closed or full stream: nothing more will reach the runner there
                pass

    def stop(self) -> None:
        """Open the window: the runner ignores workflow commands from here on."""
        if self.active and not self.open:
            self._write(f"::stop-commands::{self.token}")
            self.open = True

    def resume(self) -> None:
        """Close the window (idempotent)."""
        if self.open:
            self.open = False
            self._write(f"::{self.token}::")
