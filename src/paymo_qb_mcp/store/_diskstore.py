"""Base of the SQLite-backed stores (ledger, approvals): a durable diskcache that never evicts; a clock."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Self

import diskcache

__all__ = ["Clock", "DiskStore", "aware_now", "utc_now"]

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def aware_now(clock: Clock, owner: str) -> datetime:
    """``clock()``, refused unless timezone-aware (``owner`` names whose clock it is in the error)."""
    now = clock()
    if now.tzinfo is None:
        raise ValueError(f"the {owner} clock must return timezone-aware datetimes")
    return now


class DiskStore:
    """One diskcache directory. Several processes may open the same directory: SQLite serialises them."""

    def __init__(self, directory: Path, *, clock: Clock = utc_now) -> None:
        self._clock = clock
        # eviction "none": a store that forgot a link or an approval would be wrong, not just slower.
        # synchronous=FULL: a committed transaction survives a power cut, not only a process crash.
        self._cache = diskcache.Cache(str(directory), eviction_policy="none", sqlite_synchronous=2)

    def close(self) -> None:
        self._cache.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _now(self) -> datetime:
        return aware_now(self._clock, type(self).__name__)
