"""The tamper-evident audit log: hash-chained JSON Lines at `<data dir>/audit.jsonl`, fsynced, verifiable.

Each line is one event in canonical JSON (sorted keys, no spaces, ASCII only, Decimals as exact
numbers). `hash` is the SHA-256 of the canonical JSON of the entry without `hash`; `prev` is the
previous entry's hash (64 zeros for the first) and `seq` counts from 1, so editing, deleting or
reordering lines breaks the chain at the first affected line. Deleting lines at the end leaves a
valid chain, so every append also records the last `seq` and `hash` in `audit.jsonl.head`; `verify`
compares the two.

Appends hold an OS file lock, so the server and CLI commands can write to the same log. Every
value passes through a redaction pass first: keys that name secrets (token, secret, password,
api_key, authorization, refresh...), bearer credentials and JWTs in text, and the configured secret
values themselves never reach the file. Appends are synchronous (they fsync); async callers with
tight latency needs can run them with `anyio.to_thread.run_sync`.

What one call writes can go out together: `append_many` (or a `group()`, which collects events and
writes them when flushed) chains several entries and writes them with one write and one fsync of
the log, then one of the head record. Each entry keeps the time it was recorded at. A group is
durable when `append_many`/`flush` returns; a crash in the middle leaves its first entries and at
most one cut line, exactly as a crash between and during single appends would: `verify` reports the
cut line and the next append drops it.

Durability costs two fsyncs per append or group: the log (its directory too when the append created
it) and the head record's temporary file before it replaces the head. The directory is not synced
after that replacement: if the rename is lost in a crash the previous head stays, which still
matches the log (it names an entry that is durably written) — a head can lag the log, never lead it.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Literal, Self, TypedDict, Unpack, get_args

import filelock
import simplejson

from paymo_qb_mcp.errors import DataError
from paymo_qb_mcp.store._diskstore import Clock, utc_now
from paymo_qb_mcp.store._redact import Redactor

__all__ = [
    "AUDIT_FILE_NAME",
    "GENESIS_HASH",
    "AuditEvent",
    "AuditFields",
    "AuditGroup",
    "AuditLog",
    "AuditRecord",
    "VerifyResult",
    "canonical_json",
    "verify",
]

AuditEvent = Literal[
    "tool_call",
    "plan",
    "decision",
    "approval_requested",
    "approval_granted",
    "approval_rejected",
    "write_intent",
    "write",
    "write_recovered",
    "intents_settled",
    "read_back",
    "outcome",
    "error",
]
AUDIT_EVENTS: Final = frozenset(get_args(AuditEvent))


class AuditFields(TypedDict, total=False):
    """What an entry may say besides its event; None (or absent) fields are left out of the entry."""

    tool: str | None
    arguments: Mapping[str, Any] | None
    plan_hash: str | None
    decision: str | None
    rule: str | None
    approval: Mapping[str, Any] | None
    outcome: str | None
    ids: Mapping[str, Any] | None
    upstream_request_ids: Sequence[str] | None
    message: str | None
    details: Mapping[str, Any] | None


_FIELD_NAMES: Final = frozenset(AuditFields.__annotations__)
AUDIT_FILE_NAME: Final = "audit.jsonl"
GENESIS_HASH: Final = "0" * 64
_LOCK_TIMEOUT_S: Final = 30.0
_TAIL_BLOCK: Final = 64 * 1024


# ---------------------------------------------------------------------------------------------
# Canonical JSON
# ---------------------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    """JSON-compatible values only, with every number exact (floats become the Decimal of their repr)."""
    if value is None or isinstance(value, bool | int | str | Decimal):
        return value
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError(f"the audit log takes timezone-aware datetimes only, got {value.isoformat()}")
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Enum):
        return _plain(value.value)
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(item) for item in value]
    dump = getattr(value, "model_dump", None)
    if callable(dump):  # pydantic models, without importing pydantic here
        return _plain(dump(mode="python"))
    return str(value)


def canonical_json(value: Any) -> bytes:
    """The one serialisation that is hashed and written: sorted keys, no whitespace, ASCII, exact decimals."""
    text: str = simplejson.dumps(
        value,
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=True,
        use_decimal=True,
        allow_nan=False,
    )
    return text.encode("ascii")


def _parse(line: bytes) -> Any:
    return simplejson.loads(line.decode("ascii"), use_decimal=True)


def _digest(entry_without_hash: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical_json(entry_without_hash)).hexdigest()


# ---------------------------------------------------------------------------------------------
# Reading the end of a file
# ---------------------------------------------------------------------------------------------


def _last_lines(path: Path, count: int) -> tuple[list[bytes], bytes]:
    """The last `count` complete lines (without newline) and any unterminated tail after them."""
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        return [], b""
    with handle:
        end = handle.seek(0, os.SEEK_END)
        position = end
        buffer = b""
        while position > 0 and buffer.count(b"\n") <= count:
            step = min(_TAIL_BLOCK, position)
            position -= step
            handle.seek(position)
            buffer = handle.read(step) + buffer
    complete, newline, tail = buffer.rpartition(b"\n")
    if not newline:
        return [], tail
    lines = complete.split(b"\n")
    if position > 0:
        lines = lines[1:]  # the first piece may be cut mid-line
    return [line for line in lines if line][-count:], tail


# ---------------------------------------------------------------------------------------------
# Verification
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VerifyResult:
    """`ok`, how many entries were read, and the first bad line (1-based) with the reason when not ok."""

    ok: bool
    entries: int
    first_bad_line: int | None = None
    reason: str | None = None


def _head_path(path: Path) -> Path:
    return path.with_name(path.name + ".head")


def verify(path: Path) -> VerifyResult:
    """Check the whole chain; names the first line that was edited, deleted, reordered or truncated."""
    expected_prev = GENESIS_HASH
    hashes: list[str] = []
    line_number = 0
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        if _head_path(path).exists():
            return VerifyResult(
                False, 0, 1, f"{path.name} is missing but its head record says entries were written"
            )
        return VerifyResult(True, 0)
    with handle:
        for raw in handle:
            line_number += 1
            if not raw.endswith(b"\n"):
                return VerifyResult(
                    False,
                    len(hashes),
                    line_number,
                    "the line is incomplete (no newline): a write was cut short",
                )
            line = raw[:-1]
            try:
                entry = _parse(line)
            except (UnicodeDecodeError, simplejson.JSONDecodeError):
                return VerifyResult(False, len(hashes), line_number, "the line is not valid ASCII JSON")
            if not isinstance(entry, dict):
                return VerifyResult(False, len(hashes), line_number, "the line is not a JSON object")
            if canonical_json(entry) != line:
                return VerifyResult(
                    False, len(hashes), line_number, "the line is not in canonical form: it was edited"
                )
            if entry.get("seq") != line_number:
                return VerifyResult(
                    False,
                    len(hashes),
                    line_number,
                    f"seq is {entry.get('seq')!r} where {line_number} was expected: lines were deleted, "
                    "inserted or reordered",
                )
            if entry.get("prev") != expected_prev:
                return VerifyResult(
                    False,
                    len(hashes),
                    line_number,
                    "prev does not match the previous entry's hash: the chain is broken here",
                )
            claimed = entry.pop("hash", None)
            if claimed != _digest(entry):
                return VerifyResult(
                    False,
                    len(hashes),
                    line_number,
                    "the hash does not match the content: the entry was edited",
                )
            hashes.append(claimed)
            expected_prev = claimed
    return _check_head(path, hashes)


def _check_head(path: Path, hashes: list[str]) -> VerifyResult:
    head_file = _head_path(path)
    try:
        head = simplejson.loads(head_file.read_text(encoding="ascii"))
        head_seq, head_hash = int(head["seq"]), str(head["hash"])
    except FileNotFoundError:
        return VerifyResult(True, len(hashes))
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        return VerifyResult(False, len(hashes), len(hashes) + 1, f"{head_file.name} is unreadable")
    if head_seq > len(hashes):
        return VerifyResult(
            False,
            len(hashes),
            len(hashes) + 1,
            f"the log ends after entry {len(hashes)} but entry {head_seq} was written: "
            f"lines {len(hashes) + 1}-{head_seq} were removed",
        )
    if head_seq >= 1 and hashes[head_seq - 1] != head_hash:
        return VerifyResult(
            False,
            len(hashes),
            head_seq,
            f"entry {head_seq} differs from the one recorded in {head_file.name}",
        )
    return VerifyResult(True, len(hashes))


# ---------------------------------------------------------------------------------------------
# The log
# ---------------------------------------------------------------------------------------------


class AuditLog:
    """Append-only audit log of one data directory, shared safely by every process using it."""

    def __init__(
        self,
        path: Path,
        *,
        clock: Clock = utc_now,
        known_secrets: Iterable[str] = (),
    ) -> None:
        self.path = path
        self._clock = clock
        self._redact = Redactor(known_secrets)
        self._thread_lock = threading.Lock()

    @classmethod
    def in_data_dir(
        cls, data_dir: Path, *, clock: Clock = utc_now, known_secrets: Iterable[str] = ()
    ) -> AuditLog:
        return cls(data_dir / AUDIT_FILE_NAME, clock=clock, known_secrets=known_secrets)

    def record(self, event: AuditEvent, **fields: Unpack[AuditFields]) -> AuditRecord:
        """One event, timed now and redacted, ready to be chained by `append_many` (nothing is written).

        `approval` is e.g. {"id": "apr_7K2M9Q", "channel": "elicitation" | "out_of_band", "by": "alice"};
        `ids` e.g. {"paymo": "1035", "quickbooks": "146"}.
        """
        if event not in AUDIT_EVENTS:
            raise ValueError(f"unknown audit event {event!r}; use one of {sorted(AUDIT_EVENTS)}")
        unknown = set(fields) - _FIELD_NAMES
        if unknown:
            raise TypeError(f"unknown audit fields {sorted(unknown)}; use some of {sorted(_FIELD_NAMES)}")
        now = self._clock()
        if now.tzinfo is None:
            raise ValueError("the audit clock must return timezone-aware datetimes")
        body = self._redact(_plain({name: value for name, value in fields.items() if value is not None}))
        return AuditRecord(event, now.isoformat(), body)

    def append(self, event: AuditEvent, **fields: Unpack[AuditFields]) -> dict[str, Any]:
        """Write one event (redacted, chained, fsynced) and return the entry as written; see `record`."""
        return self.append_many([self.record(event, **fields)])[0]

    def append_many(self, records: Sequence[AuditRecord]) -> list[dict[str, Any]]:
        """Chain `records` in order and write them with one write and one fsync; the entries as written.

        Durable when it returns. Other processes' entries never fall between them (one lock is held).
        """
        if not records:
            return []
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._thread_lock, filelock.FileLock(str(self.path) + ".lock", timeout=_LOCK_TIMEOUT_S):
            seq, prev = self._last_link()
            written: list[dict[str, Any]] = []
            block = bytearray()
            for record in records:
                seq += 1
                entry = {"seq": seq, "time": record.time, "event": record.event, "prev": prev, **record.body}
                # Round-trip once so what is hashed is exactly what `verify` will parse back.
                entry = _parse(canonical_json(entry))
                entry["hash"] = prev = _digest(entry)
                block += canonical_json(entry) + b"\n"
                written.append(entry)
            self._write_line(bytes(block))
            self._write_head(seq, prev)
        return [dict(entry) for entry in written]

    def group(self) -> AuditGroup:
        """Collect events and write them together: ``with log.group() as events: events.append(...)``.

        The group writes on `flush()` and when the ``with`` block ends, even by an exception.
        """
        return AuditGroup(self)

    def tail(self, count: int = 20) -> list[dict[str, Any]]:
        """The last `count` entries, oldest first (unverified: run `verify` to trust them)."""
        if count <= 0:
            return []
        lines, _ = _last_lines(self.path, count)
        entries = []
        for line in lines:
            try:
                parsed = _parse(line)
            except (UnicodeDecodeError, simplejson.JSONDecodeError):
                parsed = {"event": "unreadable", "raw": line.decode("ascii", "replace")}
            entries.append(parsed)
        return entries

    def verify(self) -> VerifyResult:
        return verify(self.path)

    def _last_link(self) -> tuple[int, str]:
        lines, tail = _last_lines(self.path, 1)
        if tail:
            self._repair_tail(tail)
            lines, _ = _last_lines(self.path, 1)
        if not lines:
            return 0, GENESIS_HASH
        try:
            last = _parse(lines[0])
            return int(last["seq"]), str(last["hash"])
        except (UnicodeDecodeError, simplejson.JSONDecodeError, KeyError, TypeError, ValueError):
            # Chaining onto a damaged entry would hide the damage; refuse, so writes stop until a human looks.
            raise DataError(
                f"the last line of {self.path} is not a readable audit entry; run `paymo-qb-mcp audit verify`"
            ) from None

    def _repair_tail(self, tail: bytes) -> None:
        # An unterminated last line is a write that never returned (append returns after fsync).
        # A complete entry only lost its newline: finish it. Anything else is cut short: drop it,
        # the head record still tells `verify` that it existed if it had been acknowledged.
        try:
            complete = isinstance(_parse(tail), dict)
        except (UnicodeDecodeError, simplejson.JSONDecodeError):
            complete = False
        if complete:
            self._write_line(b"\n")
            return
        with self.path.open("r+b") as handle:
            size = handle.seek(0, os.SEEK_END)
            handle.truncate(size - len(tail))
            handle.flush()
            os.fsync(handle.fileno())

    def _write_line(self, data: bytes) -> None:
        created = not self.path.exists()
        descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            written = os.write(descriptor, data)
            if written != len(data):  # a full disk: the short tail is repaired by the next append
                raise OSError(f"short write to {self.path.name}: {written} of {len(data)} bytes")
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
        if created:
            _fsync_directory(self.path.parent)

    def _write_head(self, seq: int, entry_hash: str) -> None:
        head = _head_path(self.path)
        temporary = head.with_name(head.name + ".tmp")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(descriptor, canonical_json({"seq": seq, "hash": entry_hash}))
            # Without it a crash could leave the new name on empty content: an unreadable head.
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
        # The directory is not synced: a lost rename leaves the previous head, which the log satisfies.
        os.replace(temporary, head)


@dataclass(frozen=True)
class AuditRecord:
    """An event recorded but not yet written: its time and redacted fields; `seq`, `prev` and `hash`
    are given when `AuditLog.append_many` chains it."""

    event: AuditEvent
    time: str
    body: Mapping[str, Any]


class AuditGroup:
    """Events of one call, written together (one write, one fsync) when flushed.

    `append` takes the arguments of `AuditLog.append` and records the event now (its time, its
    redaction); `flush` writes what was recorded since the last flush and returns it as written.
    Flush before anything the entries must precede (a write sent to a service): until then they
    are only in memory.
    """

    def __init__(self, log: AuditLog) -> None:
        self.log = log
        self._pending: list[AuditRecord] = []

    def append(self, event: AuditEvent, **fields: Unpack[AuditFields]) -> None:
        self._pending.append(self.log.record(event, **fields))

    def flush(self) -> list[dict[str, Any]]:
        pending, self._pending = self._pending, []
        return self.log.append_many(pending)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        # Also on an exception: the entries say what happened before it (an error entry among them).
        self.flush()


def _fsync_directory(directory: Path) -> None:
    # Makes a new or renamed file's directory entry durable; not possible on every platform.
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)
