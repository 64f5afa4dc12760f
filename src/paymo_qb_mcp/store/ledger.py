"""The link ledger: Paymo↔QBO links both ways, create intents, done-markers, cursors and per-record locks.

Everything lives in one diskcache (SQLite) database so that saving a link and clearing its intent
commit together; SQLite's journal makes each commit atomic and `synchronous=FULL` makes it durable,
so a crash leaves either the old state or the new one. Several processes may open the same
directory (the server and CLI commands): SQLite serialises their writes, and `lock()` serialises
work on one record across processes with an OS file lock, which the OS releases if a holder dies.

Ids are stored as strings: Paymo ids are integers on the wire, QBO ids are strings, and some kinds
(aggregated time, for example) key on composite text.

How many links each kind has and how many intents are pending is kept in one counts row, changed in
the same transaction as the link or intent it counts, so `counts()` answers without reading the
ledger and a crash never leaves the counts out of step. A ledger written before the counts existed
has them built once, by the first process that opens it.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Final, Literal, cast, get_args

import anyio
import filelock

from paymo_qb_mcp.domain.fingerprint import fingerprint
from paymo_qb_mcp.errors import InputError
from paymo_qb_mcp.store._diskstore import Clock, DiskStore, utc_now

__all__ = ["BATCH_INTENT_PREFIX", "Intent", "Ledger", "LedgerCounts", "Link", "Origin"]

Origin = Literal["paymo", "quickbooks", "ours"]
_ORIGINS: Final = frozenset(get_args(Origin))
_SEPARATOR: Final = "\x1f"  # ASCII unit separator: never part of an id, a kind or a cursor name
# An intent whose request id starts with this names a recorded batch (``record_batch``), not a requestid.
BATCH_INTENT_PREFIX: Final = "batch:"
_COUNTS_VERSION: Final = 1
_FIRST_POLL_S: Final = 0.005
_MAX_POLL_S: Final = 0.2


@dataclass(frozen=True)
class Link:
    """One Paymo record ↔ one QBO record, with what we last knew of the QBO copy.

    `origin` says which side created the pair ("ours" when this tool created the QBO copy), so a
    change we made is not synced back as if someone else had made it.

    `qbo_digests` are what our last write left in the QBO record: one `domain.fingerprint` digest per
    top-level field the write set, as QBO returned it. Empty when we never wrote the record (a link to
    an existing one) or for links saved before digests were kept: then nobody's edits can be told
    from ours, and none are reported.
    """

    kind: str
    paymo_id: str
    qbo_id: str
    sync_token: str | None
    content_hash: str
    origin: Origin
    updated_at: datetime
    qbo_digests: tuple[tuple[str, str], ...] = ()

    @property
    def qbo_fields(self) -> tuple[str, ...]:
        """The QBO fields our last write set (and whose values it remembers)."""
        return tuple(name for name, _ in self.qbo_digests)

    @property
    def qbo_fingerprint(self) -> str | None:
        """One hash over `qbo_digests`; None when nothing is remembered."""
        return fingerprint(dict(self.qbo_digests))

    def qbo_digest_map(self) -> dict[str, str]:
        return dict(self.qbo_digests)


@dataclass(frozen=True)
class LedgerCounts:
    """How many links each kind has (kinds without links left out) and how many intents are pending."""

    links: Mapping[str, int]
    pending_intents: int


@dataclass(frozen=True)
class Intent:
    """Recorded before a create: if no link follows, the create may or may not have reached QBO."""

    kind: str
    paymo_id: str
    request_id: str
    content_hash: str
    recorded_at: datetime


def _part(value: str | int, what: str) -> str:
    text = str(value)
    if not text or _SEPARATOR in text:
        raise InputError(f"{what} must be non-empty text without control characters, got {text!r}")
    return text


def _key(namespace: str, *parts: str) -> str:
    return _SEPARATOR.join((namespace, *parts))


class Ledger(DiskStore):
    """The link ledger of one data directory. Open it once per process; it is safe to share between tasks."""

    def __init__(self, data_dir: Path, *, clock: Clock = utc_now) -> None:
        super().__init__(data_dir / "ledger", clock=clock)
        self._locks_dir = data_dir / "locks" / "records"
        self._locks_dir.mkdir(parents=True, exist_ok=True)
        self._ensure_counts()

    # -- links ---------------------------------------------------------------------------------

    def save_link(
        self,
        kind: str,
        paymo_id: str | int,
        qbo_id: str | int,
        *,
        sync_token: str | None,
        content_hash: str,
        origin: Origin,
        qbo_digests: Mapping[str, str] | None = None,
    ) -> Link:
        """Store (or update) the link both ways and clear the record's intent in the same transaction.

        `qbo_digests` replace the remembered QBO values (none given: none remembered), because the
        record they described was just written, or is not ours.
        """
        if origin not in _ORIGINS:
            raise InputError(f"origin must be one of {sorted(_ORIGINS)}, got {origin!r}", field_name="origin")
        link = Link(
            kind=_part(kind, "kind"),
            paymo_id=_part(paymo_id, "paymo_id"),
            qbo_id=_part(qbo_id, "qbo_id"),
            sync_token=sync_token,
            content_hash=content_hash,
            origin=origin,
            updated_at=self._now(),
            qbo_digests=tuple(sorted((qbo_digests or {}).items())),
        )
        forward = _key("link", link.kind, link.paymo_id)
        reverse = _key("qbo", link.kind, link.qbo_id)
        with self._cache.transact():
            holder = self._cache.get(reverse)
            if holder is not None and holder != link.paymo_id:
                raise InputError(
                    f"QBO {link.kind} {link.qbo_id} is already linked to Paymo {link.kind} {holder}; "
                    "unlink that record first",
                    field_name="qbo_id",
                )
            previous = self._cache.get(forward)
            if previous is not None and previous["qbo_id"] != link.qbo_id:
                self._cache.delete(_key("qbo", link.kind, previous["qbo_id"]))
            self._cache.set(forward, _link_to_row(link))
            self._cache.set(reverse, link.paymo_id)
            cleared = self._cache.delete(_key("intent", link.kind, link.paymo_id))
            self._count(link.kind, links=0 if previous is not None else 1, intents=-1 if cleared else 0)
        return link

    def link(self, kind: str, paymo_id: str | int) -> Link | None:
        """The link of a Paymo record, if any."""
        row = self._cache.get(_key("link", _part(kind, "kind"), _part(paymo_id, "paymo_id")))
        return _link_from_row(kind, row) if row is not None else None

    def link_by_qbo(self, kind: str, qbo_id: str | int) -> Link | None:
        """The link of a QBO record, if any."""
        kind = _part(kind, "kind")
        with self._cache.transact():
            paymo_id = self._cache.get(_key("qbo", kind, _part(qbo_id, "qbo_id")))
            row = self._cache.get(_key("link", kind, paymo_id)) if paymo_id is not None else None
        return _link_from_row(kind, row) if row is not None else None

    def remove_link(self, kind: str, paymo_id: str | int) -> bool:
        """Forget a link (both ways); False when there was none."""
        forward = _key("link", _part(kind, "kind"), _part(paymo_id, "paymo_id"))
        with self._cache.transact():
            row = self._cache.get(forward)
            if row is None:
                return False
            self._cache.delete(forward)
            self._cache.delete(_key("qbo", kind, row["qbo_id"]))
            self._count(kind, links=-1)
        return True

    def links(self, kind: str | None = None) -> list[Link]:
        """Every link, or every link of one kind, ordered by kind and Paymo id."""
        return [
            _link_from_row(parts[0], row)
            for parts, row in self._scan("link", kind)
            if row is not None  # a row deleted while we scanned
        ]

    # -- intents -------------------------------------------------------------------------------

    def record_intent(self, kind: str, paymo_id: str | int, request_id: str, content_hash: str) -> Intent:
        """Note that a create is about to be sent; replaces an older intent of the same record."""
        intent = Intent(
            kind=_part(kind, "kind"),
            paymo_id=_part(paymo_id, "paymo_id"),
            request_id=_part(request_id, "request_id"),
            content_hash=content_hash,
            recorded_at=self._now(),
        )
        key = _key("intent", intent.kind, intent.paymo_id)
        with self._cache.transact():
            replaced = key in self._cache
            self._cache.set(
                key,
                {
                    "request_id": intent.request_id,
                    "content_hash": intent.content_hash,
                    "recorded_at": intent.recorded_at.isoformat(),
                },
            )
            self._count(intent.kind, intents=0 if replaced else 1)
        return intent

    def intent(self, kind: str, paymo_id: str | int) -> Intent | None:
        row = self._cache.get(_key("intent", _part(kind, "kind"), _part(paymo_id, "paymo_id")))
        return _intent_from_row(kind, str(paymo_id), row) if row is not None else None

    def pending_intents(self, kind: str | None = None) -> list[Intent]:
        """Creates started but never linked (a crash, a lost response): look before creating again."""
        return [
            _intent_from_row(parts[0], parts[1], row)
            for parts, row in self._scan("intent", kind)
            if row is not None
        ]

    def clear_intent(self, kind: str, paymo_id: str | int) -> None:
        kind = _part(kind, "kind")
        with self._cache.transact():
            if self._cache.delete(_key("intent", kind, _part(paymo_id, "paymo_id"))):
                self._count(kind, intents=-1)

    # -- counts --------------------------------------------------------------------------------

    def counts(self) -> LedgerCounts:
        """Links per kind and pending intents, read from the counts row (one read, whatever the size)."""
        row = self._cache.get(_COUNTS_KEY)
        if not _counts_current(row):
            # Opening built it; only a ledger changed behind this class's back lacks it now.
            self._ensure_counts()
            row = self._cache.get(_COUNTS_KEY)
        links = {str(kind): int(count) for kind, count in row["links"].items() if int(count) > 0}
        return LedgerCounts(links=dict(sorted(links.items())), pending_intents=int(row["intents"]))

    # -- batch outbox ---------------------------------------------------------------------------

    def record_batch(
        self,
        batch_id: str,
        request: Mapping[str, Any],
        members: Sequence[tuple[str, str | int, str]],
    ) -> None:
        """Before a batch of creates is sent: the exact request, and for each member (kind, Paymo id, content
        hash) an intent naming the batch (``batch:<id>``) — in one transaction, so that after a crash the
        same request can be sent again with the same requestid and QBO replays its first answer."""
        with self._cache.transact():
            self._cache.set(
                _key("batch", _part(batch_id, "batch id")),
                {"request": dict(request), "recorded_at": self._now().isoformat()},
            )
            for kind, paymo_id, content_hash in members:
                self.record_intent(kind, paymo_id, f"{BATCH_INTENT_PREFIX}{batch_id}", content_hash)

    def pending_batch(self, batch_id: str) -> dict[str, Any] | None:
        """The request of a batch ``record_batch`` kept and nothing cleared yet (its answer may be lost)."""
        row = self._cache.get(_key("batch", _part(batch_id, "batch id")))
        return cast(dict[str, Any], row["request"]) if row is not None else None

    def clear_batch(self, batch_id: str) -> None:
        """Forget a batch whose every member was linked or answered with a fault."""
        self._cache.delete(_key("batch", _part(batch_id, "batch id")))

    # -- done markers and cursors --------------------------------------------------------------

    def mark_done(self, kind: str, key: str | int, value: str = "") -> None:
        """Remember that `key` (a time-entry id, a payment id, ...) was pushed; `value` e.g. the QBO id."""
        self._cache.set(_key("done", _part(kind, "kind"), _part(key, "key")), value)

    def is_done(self, kind: str, key: str | int) -> bool:
        return _key("done", _part(kind, "kind"), _part(key, "key")) in self._cache

    def done_value(self, kind: str, key: str | int) -> str | None:
        value = self._cache.get(_key("done", _part(kind, "kind"), _part(key, "key")))
        return cast(str, value) if value is not None else None

    def get_cursor(self, name: str) -> str | None:
        value = self._cache.get(_key("cursor", _part(name, "cursor name")))
        return cast(str, value) if value is not None else None

    def set_cursor(self, name: str, value: str) -> None:
        self._cache.set(_key("cursor", _part(name, "cursor name")), value)

    # -- record locks --------------------------------------------------------------------------

    @asynccontextmanager
    async def lock(self, kind: str, paymo_id: str | int) -> AsyncIterator[None]:
        """Hold the record exclusively, against other tasks and other processes sharing the data directory.

        Waits without blocking the event loop; wrap in `anyio.fail_after(...)` for a deadline.
        """
        digest = hashlib.sha256(_key(_part(kind, "kind"), _part(paymo_id, "paymo_id")).encode()).hexdigest()
        # A fresh FileLock per acquisition: each holds its own descriptor, so two tasks of this
        # process exclude each other exactly as two processes do (filelock is re-entrant per object).
        record_lock = filelock.FileLock(str(self._locks_dir / f"{digest[:40]}.lock"), thread_local=False)
        delay = _FIRST_POLL_S
        while True:
            try:
                record_lock.acquire(timeout=0)
                break
            except filelock.Timeout:
                await anyio.sleep(delay)
                delay = min(delay * 2, _MAX_POLL_S)
        try:
            yield
        finally:
            record_lock.release()

    # -- helpers -------------------------------------------------------------------------------

    def _ensure_counts(self) -> None:
        """Build the counts row from the ledger's rows when it is missing (a ledger from before counts)."""
        if _counts_current(self._cache.get(_COUNTS_KEY)):
            return  # the usual case, without taking SQLite's write lock
        with self._cache.transact():
            if _counts_current(self._cache.get(_COUNTS_KEY)):
                return
            links: dict[str, int] = {}
            for parts, row in self._scan("link", None):
                if row is not None:
                    links[parts[0]] = links.get(parts[0], 0) + 1
            intents = sum(1 for _, row in self._scan("intent", None) if row is not None)
            self._cache.set(_COUNTS_KEY, {"version": _COUNTS_VERSION, "links": links, "intents": intents})

    def _count(self, kind: str, *, links: int = 0, intents: int = 0) -> None:
        """Move the counts by what the caller's transaction changes; call it inside that transaction."""
        if not links and not intents:
            return
        row = self._cache.get(_COUNTS_KEY)
        if not _counts_current(row):
            self._ensure_counts()  # the rows this transaction already wrote are counted by the rebuild
            return
        per_kind = dict(row["links"])
        per_kind[kind] = per_kind.get(kind, 0) + links
        if per_kind[kind] <= 0:
            del per_kind[kind]
        self._cache.set(
            _COUNTS_KEY, {"version": _COUNTS_VERSION, "links": per_kind, "intents": row["intents"] + intents}
        )

    def _scan(self, namespace: str, kind: str | None) -> Iterator[tuple[list[str], Any]]:
        prefix = _key(namespace, _part(kind, "kind"), "") if kind is not None else namespace + _SEPARATOR
        for key in sorted(k for k in self._cache.iterkeys() if isinstance(k, str) and k.startswith(prefix)):
            yield key.split(_SEPARATOR)[1:], self._cache.get(key)


_COUNTS_KEY: Final = _key("meta", "counts")


def _counts_current(row: Any) -> bool:
    return isinstance(row, dict) and row.get("version") == _COUNTS_VERSION


def _link_to_row(link: Link) -> dict[str, Any]:
    # Plain values only, so the stored rows outlive changes to these classes.
    return {
        "qbo_id": link.qbo_id,
        "sync_token": link.sync_token,
        "content_hash": link.content_hash,
        "origin": link.origin,
        "updated_at": link.updated_at.isoformat(),
        "paymo_id": link.paymo_id,
        "qbo_digests": dict(link.qbo_digests),
    }


def _link_from_row(kind: str, row: dict[str, Any]) -> Link:
    return Link(
        kind=kind,
        paymo_id=row["paymo_id"],
        qbo_id=row["qbo_id"],
        sync_token=row["sync_token"],
        content_hash=row["content_hash"],
        origin=row["origin"],
        updated_at=datetime.fromisoformat(row["updated_at"]),
        # Rows written before digests were kept have none.
        qbo_digests=tuple(sorted((row.get("qbo_digests") or {}).items())),
    )


def _intent_from_row(kind: str, paymo_id: str, row: dict[str, Any]) -> Intent:
    return Intent(
        kind=kind,
        paymo_id=paymo_id,
        request_id=row["request_id"],
        content_hash=row["content_hash"],
        recorded_at=datetime.fromisoformat(row["recorded_at"]),
    )
