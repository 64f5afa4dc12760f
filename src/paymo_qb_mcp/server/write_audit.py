"""The audit log's write-ahead: every write audited before its request leaves, its outcome after, and after
a crash, the outcome of what was left open found in the ledger.

Before a request that writes leaves for QuickBooks or Paymo (one record, or a batch of up to 30), a
``write_intent`` entry per record is made durable (one write and fsync for the batch); when the write
returns, a ``write`` entry says what happened. A process that dies in between leaves intents without
outcomes: when the next server opens its runtime it looks at the entries since it last did so, and for
every open intent appends a ``write_recovered`` entry with what the ledger shows — ``written`` (linked,
or marked done, with the ids), ``unconfirmed`` (an intent is still pending in the ledger: the record may
be in QuickBooks; the next plan finds it by its marker, or QuickBooks replays its requestid) or
``absent`` (nothing was written) — then an ``intents_settled`` mark so the next start looks no further
back. ``audit verify`` plus the ledger then account for every record written.

A call that stops on an error in the middle of applying (a batch written, then a read that runs out of
retries) does not wait for a restart: ``AuditedWrites.settle`` appends, in the call's own audit group, a
``write_recovered`` entry for each of its intents still without an outcome, with what the ledger shows
(knowing the change, it tells an update that went out from one that did not, and calls a Paymo payment
without its done-marker ``unconfirmed``: the answer may have been lost; the next plan finds it by its
note).

Several servers may share a data directory, so an intent without an outcome may be another live
process's write in flight, not a dead one's. Each runtime holds a `WriterLease` — an OS file lock under
``locks/writers/`` that the OS releases when the process dies — and its intents and outcomes name it
(``writer``: an intent is closed only by its own writer's outcome, since servers that made the same plan
write under the same key); a start settles only the intents whose writer's lock is free, and when it
leaves live ones open its mark says from which entry (``open_from``) the next start must look again.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Self

import filelock

from paymo_qb_mcp.domain.plan import Change
from paymo_qb_mcp.store.audit import AuditGroup, AuditLog
from paymo_qb_mcp.store.ledger import Ledger
from paymo_qb_mcp.sync.writes import AppliedChange

__all__ = ["AuditedWrites", "WriterLease", "settle_open_intents", "write_key"]

# How far back a start looks for open intents at first (doubled until the last mark is found).
_FIRST_LOOK: Final = 2000
WRITERS_DIR: Final = Path("locks") / "writers"


class WriterLease:
    """This process's claim, while its runtime is open, that the write intents it audits are live: an
    OS file lock on ``<data dir>/locks/writers/<writer>.lock``, released by the OS if the process dies."""

    def __init__(self, data_dir: Path) -> None:
        self.writer = uuid.uuid4().hex[:16]
        self._path = data_dir / WRITERS_DIR / f"{self.writer}.lock"
        self._lock = filelock.FileLock(str(self._path), thread_local=False)

    def __enter__(self) -> Self:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        self._lock.acquire(timeout=0)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._lock.release()
        self._path.unlink(missing_ok=True)


def _writer_alive(directory: Path, writer: str) -> bool:
    """Whether the process that wrote under ``writer`` still holds its lease (a free lock: it died)."""
    path = directory / f"{writer}.lock"
    if not writer.isalnum() or not path.exists():
        return False
    probe = filelock.FileLock(str(path), thread_local=False)
    try:
        probe.acquire(timeout=0)
    except filelock.Timeout:
        return True
    probe.release()
    path.unlink(missing_ok=True)  # nobody will take a dead writer's lease again
    return False


def write_key(plan_hash: str, change: Change) -> str:
    """What ties a write's intent to its outcome: the plan, and the record and action it writes (a Paymo
    payment, which has no Paymo id before it exists, by its done-marker: ``Change.record_key``)."""
    return f"{plan_hash[:16]}:{change.target}:{change.link_kind}:{change.record_key}:{change.action}"


def _ids(change: Change, *, qbo_id: str | None = None, paymo_id: str | None = None) -> dict[str, Any]:
    lookup = change.lookup or {}
    return {
        "entity": change.entity,
        "kind": change.link_kind,
        "target": change.target,
        "paymo": paymo_id
        if paymo_id is not None
        else (None if change.paymo_id is None else str(change.paymo_id)),
        "quickbooks": qbo_id if qbo_id is not None else change.qbo_id,
        "done_key": None if lookup.get("done_key") is None else str(lookup["done_key"]),
    }


class AuditedWrites:
    """A ``sync.writes.WriteObserver``: intents (durably) and outcomes in one call's audit group."""

    def __init__(
        self,
        audit: AuditGroup,
        *,
        tool: str,
        plan_hash: str,
        approval: dict[str, Any] | None,
        writer: str | None = None,
    ) -> None:
        self._audit = audit
        self._tool = tool
        self._plan_hash = plan_hash
        self._approval = approval
        self._writer = writer  # this process's `WriterLease`, so no other start settles its intents
        # Intents without an outcome yet, by write key.
        self._open: dict[str, Change] = {}

    def _details(self, change: Change) -> dict[str, Any]:
        # The writer too: servers sharing a data directory can make the same plan, so the same key.
        return {"write": write_key(self._plan_hash, change)} | (
            {"writer": self._writer} if self._writer else {}
        )

    async def intend(self, changes: Sequence[Change]) -> None:
        for change in changes:
            self._open[write_key(self._plan_hash, change)] = change
            self._audit.append(
                "write_intent",
                tool=self._tool,
                plan_hash=self._plan_hash,
                outcome=change.action,
                ids=_ids(change),
                details=self._details(change),
            )
        # Durable before the request leaves: a crash after this can be accounted for.
        self._audit.flush()

    async def done(self, applied: Sequence[AppliedChange]) -> None:
        for item in applied:
            self._open.pop(write_key(self._plan_hash, item.change), None)
            self._audit.append(
                "write",
                tool=self._tool,
                plan_hash=self._plan_hash,
                outcome=item.outcome,
                ids={"paymo": item.paymo_id, "quickbooks": item.qbo_id, "entity": item.change.entity},
                approval=self._approval,
                message=item.error.for_agent() if item.error is not None else None,
                details=self._details(item.change),
            )
            mismatches = [f for f in item.findings if f.code == "READBACK_MISMATCH"]
            if mismatches:
                self._audit.append(
                    "read_back",
                    tool=self._tool,
                    plan_hash=self._plan_hash,
                    outcome="mismatch",
                    message="; ".join(f.message for f in mismatches),
                    ids={"paymo": item.paymo_id, "quickbooks": item.qbo_id},
                )

    def settle(self, ledger: Ledger, why: str) -> int:
        """The call stopped on ``why`` (an error) while writing: a ``write_recovered`` entry for each of its
        intents still without an outcome, with what the ledger shows; the number settled."""
        for change in self._open.values():
            outcome, found = _what_this_change_left(ledger, change)
            ids = _ids(change)
            if outcome == "written" and found is not None:
                ids["paymo" if change.target == "paymo" else "quickbooks"] = found
            self._audit.append(
                "write_recovered",
                tool=self._tool,
                plan_hash=self._plan_hash,
                outcome=outcome,
                ids=ids,
                approval=self._approval,
                message=(
                    f"the call stopped on an error ({why}) after sending this {change.action} and before "
                    f"recording its outcome; the ledger shows it {outcome}"
                ),
                details=self._details(change),
            )
        settled = len(self._open)
        self._open.clear()
        return settled


def _what_this_change_left(ledger: Ledger, change: Change) -> tuple[str, str | None]:
    """What the ledger shows of a change this process sent and saw no outcome for."""
    kind = change.link_kind
    if change.target == "paymo":
        done_key = (change.lookup or {}).get("done_key")
        if kind and done_key is not None and (value := ledger.done_value(kind, str(done_key))) is not None:
            return "written", value
        # Paymo has no requestid and no ledger intent: a lost answer looks like nothing was sent.
        return "unconfirmed", None
    if kind is None or change.paymo_id is None:
        return "unconfirmed", None
    link = ledger.link(kind, str(change.paymo_id))
    if change.action == "create":
        if link is not None:
            return "written", link.qbo_id
        if ledger.intent(kind, str(change.paymo_id)) is not None:
            return "unconfirmed", None
        return "absent", None
    # An update, void or delete leaves the record with another SyncToken than the plan was made against.
    if link is not None and link.sync_token != change.sync_token and change.sync_token is not None:
        return "written", link.qbo_id
    return "unconfirmed", None


def _since_last_settlement(audit: AuditLog) -> list[dict[str, Any]]:
    """The entries after the last ``intents_settled`` mark (all of them the first time), or from the
    oldest intent it left open because its writer was alive."""
    count = _FIRST_LOOK
    while True:
        entries = audit.tail(count)
        marks = [index for index, entry in enumerate(entries) if entry.get("event") == "intents_settled"]
        if marks:
            open_from = (entries[marks[-1]].get("details") or {}).get("open_from")
            if not isinstance(open_from, int):
                return entries[marks[-1] + 1 :]
            for index, entry in enumerate(entries):
                if entry.get("seq") == open_from:
                    return entries[index:]
        if len(entries) < count:
            return entries
        count *= 2


def _what_the_ledger_shows(ledger: Ledger, ids: dict[str, Any]) -> tuple[str, str | None]:
    kind, paymo_id = ids.get("kind"), ids.get("paymo")
    if ids.get("target") == "paymo":
        done_key = ids.get("done_key")
        if kind and done_key and (value := ledger.done_value(str(kind), str(done_key))) is not None:
            return "written", value
        return "absent", None
    if not kind or paymo_id is None:
        return "absent", None
    link = ledger.link(str(kind), str(paymo_id))
    if link is not None:
        return "written", link.qbo_id
    if ledger.intent(str(kind), str(paymo_id)) is not None:
        return "unconfirmed", None
    return "absent", None


def settle_open_intents(audit: AuditLog, ledger: Ledger, *, data_dir: Path | None = None) -> int:
    """Append the outcome the ledger shows for every write intent a dead process left without one (a crash
    between the request and its outcome entry), and the mark the next start begins at; the number
    settled. Intents of a writer whose lease is still held (another server on this data directory, at
    work) are left open, and the mark names the oldest of them (``open_from``)."""
    writers = (data_dir if data_dir is not None else audit.path.parent) / WRITERS_DIR
    # By writer and key: two servers that made the same plan write under the same key, and one's outcome
    # must not close the other's intent.
    open_intents: dict[tuple[str | None, str], dict[str, Any]] = {}
    for entry in _since_last_settlement(audit):
        details = entry.get("details") or {}
        key, writer = details.get("write"), details.get("writer")
        if not isinstance(key, str):
            continue
        writer = writer if isinstance(writer, str) else None
        if entry.get("event") == "write_intent":
            open_intents[(writer, key)] = entry
        elif entry.get("event") in ("write", "write_recovered"):
            if writer is None:  # an entry naming no writer (an older log's) closes the key's every intent
                for open_key in [k for k in open_intents if k[1] == key]:
                    del open_intents[open_key]
            else:
                open_intents.pop((writer, key), None)
    alive: dict[str, bool] = {}
    live: list[int] = []
    settled = 0
    with audit.group() as group:
        for (writer, key), intent in open_intents.items():
            if writer is not None:
                if writer not in alive:
                    alive[writer] = _writer_alive(writers, writer)
                if alive[writer]:
                    live.append(int(intent.get("seq") or 0))
                    continue
            ids = dict(intent.get("ids") or {})
            outcome, found = _what_the_ledger_shows(ledger, ids)
            if outcome == "written" and found is not None:
                ids["paymo" if ids.get("target") == "paymo" else "quickbooks"] = found
            group.append(
                "write_recovered",
                tool=intent.get("tool"),
                plan_hash=intent.get("plan_hash"),
                outcome=outcome,
                ids=ids,
                message=(
                    f"the process stopped after sending this {intent.get('outcome')} (audit entry "
                    f"{intent.get('seq')}) and before recording its outcome; the ledger shows it {outcome}"
                ),
                details={"write": key, "intent_seq": intent.get("seq")}
                | ({"writer": writer} if writer else {}),
            )
            settled += 1
        mark: dict[str, Any] = {"settled": settled}
        if live:
            mark["open_from"] = min(live)
            mark["still_writing"] = len(live)
        group.append("intents_settled", details=mark)
    return settled
