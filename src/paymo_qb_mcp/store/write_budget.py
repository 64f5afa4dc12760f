"""The writes of the last minute, shared by every server on one data directory (SQLite, a row per write).

`limits.writes_per_minute` in policies.yaml limits what is written to the books, not what one process
writes: a restarted server, and servers side by side on the same data directory (a desktop client's
and an HTTP one, replicas), spend one budget. Each logical write is a row — its plan hash and the
wall-clock moment it was spent — so a plan already spent in the last minute is free (a retried round
of the same call, from any of them). Spending is one `BEGIN IMMEDIATE` transaction: two processes can
never both take the last write of the minute.

A plain SQLite table rather than a diskcache row: the window is read and trimmed by its index on the
moment, however high the limit, instead of rewriting one growing row on every write.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from types import TracebackType
from typing import Final, Self

from paymo_qb_mcp.errors import RateLimitedLocally
from paymo_qb_mcp.store._diskstore import Clock, aware_now, utc_now

__all__ = ["WINDOW_SECONDS", "WriteWindow"]

WINDOW_SECONDS: Final = 60.0
_FILE: Final = "write_budget.sqlite3"
# How long a write waits for another process's transaction (each lasts a few statements).
_BUSY_TIMEOUT_S: Final = 30.0


class WriteWindow:
    """The last minute's logical writes of a data directory; safe to open from several processes."""

    def __init__(self, data_dir: Path, *, clock: Clock = utc_now) -> None:
        self._clock = clock
        data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.path = data_dir / _FILE
        # One connection per window; the lock keeps a transaction to one thread at a time.
        self._lock = threading.Lock()
        self._db = sqlite3.connect(
            self.path, timeout=_BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
        )
        try:
            # WAL: readers never wait; NORMAL: a committed write survives a crash of the process (a
            # power cut may forget the last writes of the minute, which only frees budget early).
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS spent (plan_hash TEXT PRIMARY KEY, at REAL NOT NULL)"
            )
            self._db.execute("CREATE INDEX IF NOT EXISTS spent_at ON spent (at)")
        except BaseException:
            self._db.close()
            raise

    def spend(self, plan_hash: str, per_minute: int) -> None:
        """Count one logical write against `per_minute`, or raise RateLimitedLocally with when to retry.

        A plan hash spent in the last minute (by any process) is not counted again.
        """
        if per_minute < 1:
            raise ValueError("per_minute must be at least 1")
        now = self._now()
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                # Rows more than a minute ahead are left by a clock set back: they must not hold the
                # budget for longer than a minute.
                self._db.execute(
                    "DELETE FROM spent WHERE at <= ? OR at > ?", (now - WINDOW_SECONDS, now + WINDOW_SECONDS)
                )
                if self._db.execute("SELECT 1 FROM spent WHERE plan_hash = ?", (plan_hash,)).fetchone():
                    self._db.execute("COMMIT")
                    return
                count, oldest = self._db.execute("SELECT COUNT(*), MIN(at) FROM spent").fetchone()
                if count < per_minute:
                    self._db.execute("INSERT INTO spent (plan_hash, at) VALUES (?, ?)", (plan_hash, now))
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise
        if count >= per_minute:
            retry_after = min(max(WINDOW_SECONDS - (now - oldest), 0.0), WINDOW_SECONDS)
            raise RateLimitedLocally(
                f"the policy allows {per_minute} writes per minute (limits.writes_per_minute, shared by "
                f"every server using this data directory) and they are used up; retry after "
                f"{retry_after:.0f} s",
                retry_after=retry_after,
            )

    def spent(self) -> int:
        """How many logical writes the last minute holds."""
        now = self._now()
        with self._lock:
            row = self._db.execute(
                "SELECT COUNT(*) FROM spent WHERE at > ? AND at <= ?",
                (now - WINDOW_SECONDS, now + WINDOW_SECONDS),
            ).fetchone()
        return int(row[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _now(self) -> float:
        return aware_now(self._clock, "WriteWindow").timestamp()
