"""The tamper-evident audit log: hash-chained JSON Lines at `<data dir>/audit.jsonl`, fsynced, verifiable.

Each line is one event in canonical JSON (sorted keys, no spaces, ASCII only, Decimals as exact
numbers). `hash` is the HMAC-SHA256, under the log's key, of the canonical JSON of the entry without
`hash`; `key_id` names the key; `prev` is the previous entry's hash (64 zeros for the first) and `seq`
counts from 1, so editing, deleting or reordering lines breaks the chain at the first affected line.
Deleting lines at the end leaves a valid chain, so every append also records the last `seq` and
`hash` in `audit.jsonl.head`, with a MAC under the key; `verify` compares the two.

The key (32 random bytes) is kept with the credentials — the OS keyring, or a 0600 file — never in
the log (``store.tokens.DataDirAuditKeys``), and is made by the first append that finds none: someone
who can write the log but lacks the key cannot rewrite even the whole chain consistently. The key
records the line it took over at, so entries written before it existed (logs from before keys, whose
`hash` is the plain SHA-256 and which carry no `key_id`) still verify, as unkeyed, up to that line;
from there on an unkeyed entry is refused (a downgrade), as is one after any keyed entry. What a
file cannot show — an older copy of the log and its head put back by someone with the key — is
caught by checkpoints (`VerifyResult.checkpoint`: the last `seq` and its keyed hash) kept elsewhere
and passed back to `verify`.

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
import hmac
import os
import re
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Literal, Protocol, Self, TypedDict, Unpack, get_args

import filelock
import simplejson

from paymo_qb_mcp.errors import ConfigError, DataError
from paymo_qb_mcp.store._diskstore import Clock, aware_now, utc_now
from paymo_qb_mcp.store._redact import Redactor
from paymo_qb_mcp.store.tokens import AuditKey, DataDirAuditKeys

__all__ = [
    "AUDIT_FILE_NAME",
    "GENESIS_HASH",
    "AuditEvent",
    "AuditFields",
    "AuditGroup",
    "AuditKeys",
    "AuditLog",
    "AuditRecord",
    "Checkpoint",
    "KeysOption",
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


def _digest(entry_without_hash: Mapping[str, Any], secret: bytes | None = None) -> str:
    """A keyed entry's HMAC-SHA256 under `secret`; an unkeyed (pre-key) entry's plain SHA-256."""
    body = canonical_json(entry_without_hash)
    if secret is None:
        return hashlib.sha256(body).hexdigest()
    return hmac.new(secret, body, hashlib.sha256).hexdigest()


def _head_mac(secret: bytes, seq: int, entry_hash: str, key_id: str) -> str:
    # Its own prefix: a head MAC can never be taken for an entry's hash, nor the other way round.
    body = b"paymo-qb-mcp audit head\n" + canonical_json({"seq": seq, "hash": entry_hash, "key_id": key_id})
    return hmac.new(secret, body, hashlib.sha256).hexdigest()


# ---------------------------------------------------------------------------------------------
# The key
# ---------------------------------------------------------------------------------------------


class AuditKeys(Protocol):
    """Where a log's HMAC key is kept (``store.tokens.DataDirAuditKeys`` keeps it with the credentials)."""

    def load(self) -> AuditKey | None: ...
    def create(self, *, keyed_from: int, now: datetime) -> AuditKey: ...
    def describe(self) -> str: ...


# "data_dir": the key kept with the credentials of the log's directory (the default); None: no key —
# the log is written and checked as a plain SHA-256 chain, as before keys existed.
KeysOption = AuditKeys | Literal["data_dir"] | None


def _resolve_keys(path: Path, keys: KeysOption) -> AuditKeys | None:
    return DataDirAuditKeys(path.parent) if keys == "data_dir" else keys


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
class Checkpoint:
    """The last entry's `seq` and hash at some moment, to keep away from the log (a note, a ticket, mail).

    Passed back to `verify` later it proves the log still holds that entry unchanged: it catches a
    log cut back (even to a consistent older copy with its head) or rewritten, which the file alone
    cannot show against someone who holds the key. Nothing in it is secret: a keyed hash reveals
    nothing about the key.
    """

    seq: int
    hash: str
    key_id: str | None

    def __str__(self) -> str:
        return f"paymo-qb-mcp audit checkpoint seq={self.seq} hash={self.hash} key={self.key_id or 'none'}"

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        """Read a checkpoint as `str()` printed it; ValueError if it is not one."""
        match = _CHECKPOINT.fullmatch(text.strip())
        if match is None:
            raise ValueError(
                "not an audit checkpoint (expected `paymo-qb-mcp audit checkpoint seq=N hash=HEX key=ID`)"
            )
        key = match["key"]
        return cls(int(match["seq"]), match["hash"], None if key == "none" else key)


_CHECKPOINT: Final = re.compile(
    r"paymo-qb-mcp audit checkpoint seq=(?P<seq>[1-9][0-9]*) hash=(?P<hash>[0-9a-f]{64}) key=(?P<key>[\w-]+)"
)


@dataclass(frozen=True)
class VerifyResult:
    """`ok`, how many entries were read, and the first bad line (1-based) with the reason when not ok.

    `key_id` is the key the log is keyed with (None for a log written before keys, or without one) and
    `keyed_from` the first line keyed with it in this log (lines before it were written before the key
    existed); `last_hash` is the last entry's hash, for `checkpoint`.
    """

    ok: bool
    entries: int
    first_bad_line: int | None = None
    reason: str | None = None
    key_id: str | None = None
    keyed_from: int | None = None
    last_hash: str | None = None

    @property
    def checkpoint(self) -> Checkpoint | None:
        """The checkpoint of a log that verified (None if it did not, or is empty)."""
        if not self.ok or not self.entries or self.last_hash is None:
            return None
        return Checkpoint(self.entries, self.last_hash, self.key_id)


def _head_path(path: Path) -> Path:
    return path.with_name(path.name + ".head")


class _Checker:
    """One pass of `verify`: the key the log should be keyed with and what was seen so far."""

    def __init__(self, path: Path, keys: AuditKeys | None) -> None:
        self.path = path
        self.key: AuditKey | None = None
        self.key_problem: str | None = None
        self.where = keys.describe() if keys is not None else "nowhere (verified without a key)"
        if keys is not None:
            try:
                self.key = keys.load()
            except (ConfigError, DataError) as exc:
                self.key_problem = str(exc)
        self.hashes: list[str] = []
        self.first_keyed: int | None = None

    def result(self, ok: bool, first_bad_line: int | None = None, reason: str | None = None) -> VerifyResult:
        key_id = self.key.key_id if self.key is not None else None
        return VerifyResult(
            ok,
            len(self.hashes),
            first_bad_line,
            reason,
            key_id=key_id,
            keyed_from=self.first_keyed,
            last_hash=self.hashes[-1] if self.hashes else None,
        )

    def keyed_required_from(self) -> int | None:
        """The first line that must be keyed: where the key took over, or the first keyed line seen."""
        candidates = [line for line in (self.first_keyed, self.key and self.key.keyed_from) if line]
        return min(candidates) if candidates else None

    def check_digest(self, line_number: int, entry: dict[str, Any], claimed: Any) -> str | None:
        """Why the entry's hash cannot be accepted (None when it can); `entry` is without `hash`."""
        key_id = entry.get("key_id")
        if key_id is None:
            # (`first_keyed` is only ever set with a key, so without one nothing is required to be keyed.)
            required = self.keyed_required_from()
            if self.key is not None and required is not None and line_number >= required:
                return (
                    f"the entry is not keyed, but this log is keyed with audit key {self.key.key_id} from "
                    f"line {required}: it was rewritten by someone without the key"
                )
            if claimed != _digest(entry):
                return "the hash does not match the content: the entry was edited"
            return None
        if self.key is None:
            problem = f": {self.key_problem}" if self.key_problem else ""
            return (
                f"the entry is keyed with audit key {key_id}, which is not available here (looked in "
                f"{self.where}){problem} — the keyed entries cannot be checked without it"
            )
        if key_id != self.key.key_id:
            return (
                f"the entry names audit key {key_id}, but this log's key is {self.key.key_id} "
                f"({self.where}): it was rewritten by someone without the key"
            )
        if not hmac.compare_digest(str(claimed), _digest(entry, self.key.secret)):
            return (
                "the hash does not match the content: the entry was edited, or rewritten by someone without "
                f"audit key {key_id} (the hash of a keyed entry is an HMAC under it)"
            )
        if self.first_keyed is None:
            self.first_keyed = line_number
        return None


def verify(
    path: Path, *, keys: KeysOption = "data_dir", checkpoints: Iterable[Checkpoint] = ()
) -> VerifyResult:
    """Check the whole chain; names the first line that was edited, deleted, reordered or truncated.

    `keys` is where the log's key is kept (by default with the credentials of the log's directory);
    each of `checkpoints` (taken earlier, kept elsewhere) must still name an entry of the log, unchanged.
    """
    checker = _Checker(path, _resolve_keys(path, keys))
    hashes = checker.hashes
    expected_prev = GENESIS_HASH
    line_number = 0
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        if _head_path(path).exists():
            return checker.result(
                False, 1, f"{path.name} is missing but its head record says entries were written"
            )
        return _check_key_start(checker) or _check_checkpoints(checker, checkpoints)
    with handle:
        for raw in handle:
            line_number += 1
            if not raw.endswith(b"\n"):
                return checker.result(
                    False, line_number, "the line is incomplete (no newline): a write was cut short"
                )
            line = raw[:-1]
            try:
                entry = _parse(line)
            except (UnicodeDecodeError, simplejson.JSONDecodeError):
                return checker.result(False, line_number, "the line is not valid ASCII JSON")
            if not isinstance(entry, dict):
                return checker.result(False, line_number, "the line is not a JSON object")
            if canonical_json(entry) != line:
                return checker.result(False, line_number, "the line is not in canonical form: it was edited")
            if entry.get("seq") != line_number:
                return checker.result(
                    False,
                    line_number,
                    f"seq is {entry.get('seq')!r} where {line_number} was expected: lines were deleted, "
                    "inserted or reordered",
                )
            if entry.get("prev") != expected_prev:
                return checker.result(
                    False,
                    line_number,
                    "prev does not match the previous entry's hash: the chain is broken here",
                )
            claimed = entry.pop("hash", None)
            refusal = checker.check_digest(line_number, entry, claimed)
            if refusal is not None:
                return checker.result(False, line_number, refusal)
            hashes.append(str(claimed))
            expected_prev = claimed
    return _check_head(checker) or _check_key_start(checker) or _check_checkpoints(checker, checkpoints)


def _check_head(checker: _Checker) -> VerifyResult | None:
    hashes = checker.hashes
    head_file = _head_path(checker.path)
    try:
        head = simplejson.loads(head_file.read_text(encoding="ascii"))
        head_seq, head_hash = int(head["seq"]), str(head["hash"])
        head_key, head_mac = head.get("key_id"), head.get("mac")
    except FileNotFoundError:
        if checker.first_keyed is not None:
            return checker.result(
                False,
                len(hashes) + 1,
                f"{head_file.name} is missing, though the log is keyed (from line {checker.first_keyed}): "
                "it was deleted, and lines at the end may have gone with it",
            )
        return None
    except (ValueError, KeyError, TypeError, UnicodeDecodeError, AttributeError):
        return checker.result(False, len(hashes) + 1, f"{head_file.name} is unreadable")
    key = checker.key
    if head_key is not None:
        if key is None or head_key != key.key_id:
            return checker.result(
                False,
                max(head_seq, 1),
                f"{head_file.name} is signed with audit key {head_key}, which is not this log's key here "
                f"({checker.where})",
            )
        if not hmac.compare_digest(str(head_mac), _head_mac(key.secret, head_seq, head_hash, head_key)):
            return checker.result(
                False,
                max(min(head_seq, len(hashes)), 1),
                f"{head_file.name} does not carry a valid MAC under audit key {head_key}: it was forged by "
                "someone without the key (lines at the end may have been removed)",
            )
    elif checker.first_keyed is not None and head_seq >= checker.first_keyed:
        # A head written before the first keyed entry may lag behind the log (a crash before its
        # replacement); one naming a keyed entry was written without the key.
        return checker.result(
            False,
            max(min(head_seq, len(hashes)), 1),
            f"{head_file.name} is not signed with the audit key, though it names entry {head_seq} of a log "
            f"keyed from line {checker.first_keyed}: it was replaced (lines at the end may be gone)",
        )
    if head_seq > len(hashes):
        return checker.result(
            False,
            len(hashes) + 1,
            f"the log ends after entry {len(hashes)} but entry {head_seq} was written: "
            f"lines {len(hashes) + 1}-{head_seq} were removed",
        )
    if head_seq >= 1 and hashes[head_seq - 1] != head_hash:
        return checker.result(
            False, head_seq, f"entry {head_seq} differs from the one recorded in {head_file.name}"
        )
    return None


def _check_key_start(checker: _Checker) -> VerifyResult | None:
    # A log with no keyed entry must end where the key took over; shorter, entries were removed since.
    key, entries = checker.key, len(checker.hashes)
    if key is None or checker.first_keyed is not None or entries >= key.keyed_from - 1:
        return None
    return checker.result(
        False,
        entries + 1,
        f"the log ends after entry {entries}, but it had {key.keyed_from - 1} entries when audit key "
        f"{key.key_id} was made: lines {entries + 1}-{key.keyed_from - 1} were removed",
    )


def _check_checkpoints(checker: _Checker, checkpoints: Iterable[Checkpoint]) -> VerifyResult:
    hashes = checker.hashes
    for checkpoint in sorted(checkpoints, key=lambda point: point.seq):
        if checkpoint.seq > len(hashes):
            return checker.result(
                False,
                len(hashes) + 1,
                f"the log ends after entry {len(hashes)}, but the checkpoint kept elsewhere names entry "
                f"{checkpoint.seq}: lines {len(hashes) + 1}-{checkpoint.seq} were removed (or an older copy "
                "of the log was put back)",
            )
        if hashes[checkpoint.seq - 1] != checkpoint.hash:
            return checker.result(
                False,
                checkpoint.seq,
                f"entry {checkpoint.seq} differs from the checkpoint kept elsewhere: the log was rewritten "
                "at or before this line",
            )
    return checker.result(True)


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
        keys: KeysOption = "data_dir",
    ) -> None:
        """`keys`: where the log's HMAC key is kept — by default with the credentials of the log's
        directory (made by the first append that finds none); None writes an unkeyed chain."""
        self.path = path
        self._clock = clock
        self._redact = Redactor(known_secrets)
        self._thread_lock = threading.Lock()
        self._keys = _resolve_keys(path, keys)
        # The key never changes once made; read once per instance (an append finding none makes it).
        self._key: AuditKey | None = None

    @classmethod
    def in_data_dir(
        cls,
        data_dir: Path,
        *,
        clock: Clock = utc_now,
        known_secrets: Iterable[str] = (),
        keys: KeysOption = "data_dir",
    ) -> AuditLog:
        return cls(data_dir / AUDIT_FILE_NAME, clock=clock, known_secrets=known_secrets, keys=keys)

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
        now = aware_now(self._clock, "audit")
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
            key = self._key_for(seq + 1, records[0].time)
            written: list[dict[str, Any]] = []
            block = bytearray()
            for record in records:
                seq += 1
                entry = {"seq": seq, "time": record.time, "event": record.event, "prev": prev, **record.body}
                if key is not None:
                    entry["key_id"] = key.key_id
                # Round-trip once so what is hashed is exactly what `verify` will parse back.
                entry = _parse(canonical_json(entry))
                entry["hash"] = prev = _digest(entry, key.secret if key is not None else None)
                block += canonical_json(entry) + b"\n"
                written.append(entry)
            self._write_line(bytes(block))
            self._write_head(seq, prev, key)
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

    def verify(self, checkpoints: Iterable[Checkpoint] = ()) -> VerifyResult:
        return verify(self.path, keys=self._keys, checkpoints=checkpoints)

    def _key_for(self, next_seq: int, recorded_at: str) -> AuditKey | None:
        """The key to chain with, made (taking over at `next_seq`) if there is none; the lock is held."""
        if self._keys is None:
            return None
        if self._key is None:
            # Made when the first entry it keys was recorded (the clock is not asked again).
            now = datetime.fromisoformat(recorded_at)
            self._key = self._keys.load() or self._keys.create(keyed_from=next_seq, now=now)
        return self._key

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

    def _write_head(self, seq: int, entry_hash: str, key: AuditKey | None) -> None:
        head = _head_path(self.path)
        temporary = head.with_name(head.name + ".tmp")
        record: dict[str, Any] = {"seq": seq, "hash": entry_hash}
        if key is not None:
            record |= {"key_id": key.key_id, "mac": _head_mac(key.secret, seq, entry_hash, key.key_id)}
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(descriptor, canonical_json(record))
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
