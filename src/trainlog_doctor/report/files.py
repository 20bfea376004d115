"""Writing report files without ever writing through what is already at the path.

:func:`replacing` opens a new temporary file beside the target, created exclusively under a random
name (so a symlink or file planted there is never followed or reused), and renames it over the
target only when writing succeeded. The rename replaces the directory entry: a symlink at the target
is replaced, not followed, and a file hard-linked to the target (an input log, say) keeps its
contents. On any failure the temporary file is removed and the target is left as it was.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO

#: Flags of the temporary file: created here and now, never through a link.
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)


def temp_name(path: Path) -> Path:
    """A fresh hidden sibling name for ``path`` (``.name.<random>.tmp``; long names are cut)."""
    import secrets

    return path.with_name(f".{path.name[:120]}.{secrets.token_hex(6)}.tmp")


@contextmanager
def replacing(path: Path, *, encoding: str = "utf-8", errors: str = "strict") -> Iterator[IO[str]]:
    """A text file to write; on leaving the block without an error it replaces ``path``."""
    tmp = temp_name(path)
    fd = os.open(tmp, _CREATE, 0o666)
    try:
        with os.fdopen(fd, "w", encoding=encoding, errors=errors) as fh:
            yield fh
        os.replace(tmp, path)
    except BaseException:
        with suppress(OSError):
            os.unlink(tmp)
        raise


def replace_text(path: Path, text: str, *, encoding: str = "utf-8", errors: str = "strict") -> None:
    """Write ``text`` as the new contents of ``path`` through :func:`replacing`."""
    with replacing(path, encoding=encoding, errors=errors) as fh:
        fh.write(text)
