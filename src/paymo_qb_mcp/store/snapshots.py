"""Whole-file snapshots in the data directory: written atomically, read back or reported missing.

A snapshot is a cache that may be thrown away at any time (the company-data cache of
``sync.company``): a reader sees either the previous file or the new one, never a torn one, and a
file that cannot be read is reported as absent so that the caller rebuilds it from the services.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

__all__ = ["read_snapshot", "remove_snapshot", "write_snapshot"]


def write_snapshot(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically (temporary file in the same directory, then rename).

    Readable by the owner only: the snapshot holds company records (names, e-mail addresses).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, 0o600)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def read_snapshot(path: Path) -> bytes | None:
    """The snapshot's bytes, or None when there is none (or it cannot be read)."""
    try:
        return path.read_bytes()
    except OSError:
        return None


def remove_snapshot(path: Path) -> None:
    """Forget a snapshot (a cache that can no longer be trusted); no error when there is none."""
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
