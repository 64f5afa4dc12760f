"""Applies a plan: per-record lock, intent, requestid, look-before-create, write, read-back, link.

The planners decide *what* to write; this module owns *how* a write happens so that it can never
produce a duplicate:

- a QBO create records an intent and sends a ``requestid`` derived from (kind, Paymo id, content
  hash). Run again after a crash between "QBO accepted" and "link saved", the same plan yields the
  same ``requestid`` and QBO replays its first answer instead of creating a second record; if the
  content changed meanwhile, the record is looked up by its marker (``change.lookup``) first;
- updates and voids re-read the record and refuse (``Conflict``) when someone changed the fields the
  plan was made against; a stale SyncToken with unchanged fields is retried once with the fresh one;
- Paymo has no idempotency key, so writes to Paymo are guarded by a ledger done-marker plus a look
  for our marker in the target record's notes before creating;
- after every QBO write the record is read back and compared with ``change.expect``; differences
  are reported as findings, never hidden;
- every link saved after a QBO write remembers what the write left in the record (per-field digests,
  ``domain.fingerprint``) over the fields our payloads set, so a planner can tell a human's later
  edit there from our own write (``sync.qbo_edits``). They are taken from the record QBO returns for
  the write, and saved with the link in one transaction, so no window exists in which a link points
  at a record we wrote without remembering what we wrote.

``change.lookup`` vocabulary (all optional):
``where`` — ``{QBO field: value}`` equality conditions to find an existing record;
``marker`` — text that a found record's ``PrivateNote``/``Notes``/``Memo`` must contain;
``done_key`` — the ledger done-marker key of a Paymo write (under ``change.link_kind``);
``paymo_parent`` — for Paymo child records, ``{"invoice_id": n}`` to list siblings;
``mark_done`` — ``{"kind": k, "keys": [...]}`` ledger done-markers to set once the write succeeded
(e.g. the time entries an aggregated TimeActivity covers), each valued the QBO id; an optional
``"suffixes": {str(key): text}`` makes a key's value ``"<qbo id>:<text>"`` (what was pushed for it,
e.g. a time entry's seconds).

A payload string of the form ``@link:<kind>:<paymo id>`` is replaced, at apply time, by the QBO id
linked to that Paymo record — so one plan can create a customer and then an invoice for it.

Many writes: a plan's changes are applied in dependency waves (``sync.batches``): a change waits for
those whose records it refers to (placeholders, references to records they update, the same record);
within a wave, two or more QBO creates, updates or voids go through QBO's batch endpoint (at most 30
per request), with the same never-twice guarantees (a recorded batch is replayed after a crash). A
change QBO refuses fails alone (``failed``, with the error) and the changes that depend on it are
``skipped``; with ``isolate_failures`` the rest goes ahead, otherwise nothing after it is started and
the first error is raised once what was written is recorded. Errors that are not about one record
(network, rate limit, credentials, configuration) always stop the whole apply.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from paymo_qb_mcp.domain.fingerprint import field_digests
from paymo_qb_mcp.domain.keys import request_id
from paymo_qb_mcp.domain.plan import Change, Plan
from paymo_qb_mcp.errors import (
    ClosedPeriod,
    Conflict,
    DataError,
    DuplicateName,
    InactiveReference,
    InputError,
    PaymoQbError,
    ReconciliationError,
    TaxCodeRequired,
)
from paymo_qb_mcp.quickbooks import models as qbo_models
from paymo_qb_mcp.quickbooks.query import eq
from paymo_qb_mcp.store.ledger import BATCH_INTENT_PREFIX
from paymo_qb_mcp.sync.batches import BatchWriter, batchable, dependency_waves
from paymo_qb_mcp.sync.context import SyncContext
from paymo_qb_mcp.sync.writes import (
    ISOLATED_ERRORS,
    LINK_PLACEHOLDER_PREFIX,
    AppliedChange,
    ApplyOutcome,
    Progress,
    WriteObserver,
    as_date,
    failed,
    has_note,
    holds_marker,
    link_placeholder,
    qbo_model,
    readback_findings,
    same_value,
    skipped,
    summary_record,
    wire_value,
)

__all__ = [
    "AppliedChange",
    "ApplyOutcome",
    "Executor",
    "Progress",
    "link_placeholder",
    "qbo_model",
]

logger = logging.getLogger(__name__)

MODIFIED = {"update": "updated", "void": "voided", "delete": "deleted"}

# Refusals that mean our company data was stale: it is caught up (and settings re-read) before the
# next plan.
_STALE_DATA_ERRORS: tuple[type[PaymoQbError], ...] = (
    InactiveReference,
    TaxCodeRequired,
    ClosedPeriod,
    DuplicateName,
)


class Executor:
    """Applies plans against both services through one ``SyncContext``."""

    def __init__(self, ctx: SyncContext) -> None:
        self.ctx = ctx
        # Records a replayed batch linked (kind, Paymo id): their changes report "replayed".
        self.replayed: set[tuple[str, str]] = set()
        self.observer: WriteObserver | None = None

    async def apply(
        self,
        plan: Plan,
        progress: Progress | None = None,
        *,
        isolate_failures: bool = False,
        observer: WriteObserver | None = None,
    ) -> ApplyOutcome:
        """Apply every write of the plan, wave by wave; ``progress(done, total, message)`` as they land.

        ``observer`` (the audit log) is told before each request that writes leaves, and after, what
        happened. See the module docstring for waves, batches and failures.
        """
        self.observer = observer
        if plan.blocked:
            blockers = "; ".join(f.message for f in plan.findings if f.severity == "blocker")
            raise ReconciliationError(f"the plan is blocked and cannot be applied: {blockers}")
        writes = plan.writes
        results: dict[int, AppliedChange] = {}
        dependencies, waves = dependency_waves(writes)
        stopped = False
        for wave in waves:
            if stopped:
                break
            ready: list[int] = []
            for index in wave:
                blocking = [
                    dep for dep in dependencies[index] if results[dep].outcome in ("failed", "skipped")
                ]
                if blocking:
                    results[index] = skipped(writes[index], writes[blocking[0]])
                else:
                    ready.append(index)
            grouped = [index for index in ready if batchable(writes[index])]
            if len(grouped) < 2:
                grouped = []
            for index in ready:
                if index in grouped or stopped:
                    continue
                if writes[index].target != "ledger":
                    await self.intend([writes[index]])
                results[index] = await self._one(writes[index])
                await self.done([results[index]])
                stopped = results[index].outcome == "failed" and not isolate_failures
                await _report(progress, results, len(writes), writes[index].summary)
            if grouped and not stopped:
                writer = BatchWriter(self)
                position = {id(writes[index]): index for index in grouped}
                async for chunk in writer.apply([writes[index] for index in grouped]):
                    for change, applied in chunk:
                        results[position[id(change)]] = applied
                    await self.done([applied for _, applied in chunk])
                    await _report(progress, results, len(writes), f"{len(chunk)} change(s) in one batch")
                stopped = not isolate_failures and any(
                    results[index].outcome == "failed" for index in grouped if index in results
                )
        outcome = ApplyOutcome(plan_hash=plan.plan_hash, applied=[results[i] for i in sorted(results)])
        if not isolate_failures:
            failed = next((item for item in outcome.applied if item.outcome == "failed"), None)
            if failed is not None and failed.error is not None:
                raise failed.error
        return outcome

    async def intend(self, changes: Sequence[Change]) -> None:
        """Tell the observer (if any) that these writes are about to be sent."""
        if self.observer is not None and changes:
            await self.observer.intend(changes)

    async def done(self, applied: Sequence[AppliedChange]) -> None:
        if self.observer is not None and applied:
            await self.observer.done(applied)

    async def _one(self, change: Change) -> AppliedChange:
        """One change by itself; an error about this record becomes its ``failed`` outcome."""
        try:
            return await self.apply_change(change)
        except ISOLATED_ERRORS as error:
            self.note_refusal(error)
            return failed(change, error)

    def note_refusal(self, error: PaymoQbError) -> None:
        """A refusal that shows our company data was stale makes the next plan catch up first."""
        if isinstance(error, _STALE_DATA_ERRORS):
            self.ctx.data.mark_stale()

    async def apply_change(self, change: Change) -> AppliedChange:
        if change.target == "ledger":
            return self._link(change)
        if change.target == "paymo":
            return await self._paymo_write(change)
        if change.action == "create":
            return await self._qbo_create(change)
        if change.action in ("update", "void", "delete"):
            return await self._qbo_modify(change)
        if change.action == "link":
            return self._link(change)
        raise InputError(f"cannot apply a {change.action} to QuickBooks", field_name="action")

    # --- ledger-only ----------------------------------------------------------------------------

    def _link(self, change: Change) -> AppliedChange:
        kind, paymo_id, qbo_id = self.identity(change)
        if qbo_id is None:
            raise InputError("a link change needs qbo_id", field_name="qbo_id")
        self.ctx.ledger.save_link(
            kind,
            paymo_id,
            qbo_id,
            sync_token=change.sync_token,
            content_hash=change.content_hash or "",
            origin="quickbooks",
        )
        return AppliedChange(change, "linked", qbo_id=qbo_id, paymo_id=paymo_id)

    # --- QuickBooks -------------------------------------------------------------------------------

    @staticmethod
    def identity(change: Change) -> tuple[str, str, str | None]:
        if change.link_kind is None or change.paymo_id is None:
            raise InputError("a change that writes needs link_kind and paymo_id", field_name="link_kind")
        return change.link_kind, str(change.paymo_id), change.qbo_id

    async def _qbo_create(self, change: Change) -> AppliedChange:
        kind, paymo_id, _ = self.identity(change)
        async with self.ctx.ledger.lock(kind, paymo_id):
            settled = await self.settle_create(change)
            if settled is not None:
                return settled
            return await self._create_locked(change)

    async def settle_create(self, change: Change) -> AppliedChange | None:
        """Before creating (the record's lock held): the outcome when no create may be sent — already
        linked, found from an earlier attempt with other content, or finished by replaying the batch an
        earlier attempt recorded; None when the create is to be sent."""
        kind, paymo_id, _ = self.identity(change)
        if change.payload is None or change.content_hash is None or change.wire_entity is None:
            raise InputError("a create needs payload, content_hash and wire_entity", field_name="payload")
        model = qbo_model(change.wire_entity)
        ledger = self.ctx.ledger
        intent = ledger.intent(kind, paymo_id)
        if intent is not None and intent.request_id.startswith(BATCH_INTENT_PREFIX):
            # An earlier attempt sent (or was about to send) this create in a batch: send that exact batch
            # again, with its requestid, so QBO replays its answer, and link what it created.
            await BatchWriter(self).replay(intent.request_id.removeprefix(BATCH_INTENT_PREFIX))
            intent = ledger.intent(kind, paymo_id)
            link = ledger.link(kind, paymo_id)
            if link is not None and link.content_hash == change.content_hash:
                self.mark_done(change, link.qbo_id)
                return await self._read_back(change, model, link.qbo_id, "replayed")
        link = ledger.link(kind, paymo_id)
        if link is not None:
            if link.content_hash == change.content_hash:
                # A crash after the link was saved but before the done-markers were set leaves
                # them missing; setting them again is harmless and closes that gap.
                self.mark_done(change, link.qbo_id)
                if (kind, paymo_id) in self.replayed:
                    self.replayed.discard((kind, paymo_id))
                    return await self._read_back(change, model, link.qbo_id, "replayed")
                return AppliedChange(change, "unchanged", qbo_id=link.qbo_id, paymo_id=paymo_id)
            raise Conflict(
                f"{kind} {paymo_id} was linked to QuickBooks {model.entity_name} {link.qbo_id} "
                "after this plan was made; plan again",
                service="quickbooks",
            )
        if intent is not None and intent.content_hash != change.content_hash:
            # An earlier attempt with other content may have reached QBO: find it before creating.
            found = await self._find_existing(model, change)
            if found is not None:
                return await self._adopt(change, model, found)
        return None

    async def _create_locked(self, change: Change) -> AppliedChange:
        kind, paymo_id, _ = self.identity(change)
        assert change.payload is not None
        assert change.content_hash is not None
        assert change.wire_entity is not None
        model = qbo_model(change.wire_entity)
        ledger = self.ctx.ledger
        intent = ledger.intent(kind, paymo_id)
        rid = request_id(kind, paymo_id, change.content_hash)
        ledger.record_intent(kind, paymo_id, rid, change.content_hash)
        payload = self.resolve_links(change.payload)
        created = await self.ctx.qbo.create(payload, model=model, request_id=rid)
        if created.Id is None:
            raise DataError(f"QuickBooks created a {model.entity_name} without an Id")
        self.remember_write(change, created.Id, created, payload)
        outcome = "replayed" if intent is not None and intent.request_id == rid else "created"
        return self.checked(change, model, created.Id, created, outcome)

    async def _find_existing(
        self, model: type[qbo_models.QboEntity], change: Change
    ) -> qbo_models.QboEntity | None:
        lookup = change.lookup or {}
        where: Mapping[str, Any] = lookup.get("where") or {}
        marker_text = lookup.get("marker")
        if not where:
            return None
        rows = await self.ctx.qbo.query_all(model, *(eq(name, value) for name, value in where.items()))
        for row in rows:
            if marker_text is None or has_note(row, str(marker_text)):
                return row
        return None

    async def _adopt(
        self, change: Change, model: type[qbo_models.QboEntity], found: qbo_models.QboEntity
    ) -> AppliedChange:
        """Link a record an earlier attempt of ours created, then bring it up to the planned content."""
        kind, paymo_id, _ = self.identity(change)
        assert found.Id is not None
        assert found.SyncToken is not None
        assert change.payload is not None
        assert change.content_hash is not None
        rid = request_id(kind, paymo_id, change.content_hash, f"adopt:{found.SyncToken}")
        payload = self.resolve_links(change.payload)
        body = model.model_validate({**payload, "Id": found.Id, "SyncToken": found.SyncToken})
        updated = await self.ctx.qbo.update(body, request_id=rid, sparse=True)
        # Fields the earlier attempt set that this payload does not are no longer known to be ours.
        self.remember_write(change, found.Id, updated, payload)
        return self.checked(change, model, found.Id, updated, "recovered")

    async def _qbo_modify(self, change: Change) -> AppliedChange:
        kind, paymo_id, _ = self.identity(change)
        async with self.ctx.ledger.lock(kind, paymo_id):
            return await self.modify_locked(change)

    async def modify_locked(
        self, change: Change, current: qbo_models.QboEntity | None = None
    ) -> AppliedChange:
        """An update, void or delete with the record's lock held; ``current`` is the record just read, if any
        (a stale SyncToken is re-read once)."""
        kind, paymo_id, qbo_id = self.identity(change)
        if qbo_id is None or change.wire_entity is None:
            raise InputError(f"an {change.action} needs qbo_id and wire_entity", field_name="qbo_id")
        model = qbo_model(change.wire_entity)
        content = change.content_hash or change.action
        for attempt in (1, 2):
            if current is None:
                current = await self.ctx.qbo.read(model, qbo_id)
            self.check_unchanged(change, model, current)
            token = current.SyncToken or "0"
            rid = request_id(kind, paymo_id, content, f"{change.action}:{token}")
            try:
                if change.action == "update":
                    payload = self.resolve_links(change.payload or {})
                    body = model.model_validate({**payload, "Id": qbo_id, "SyncToken": token})
                    written = await self.ctx.qbo.update(body, request_id=rid, sparse=True)
                elif change.action == "void":
                    written = await self.ctx.qbo.void(model, qbo_id, token, request_id=rid)
                else:
                    written = await self.ctx.qbo.delete(model, qbo_id, token, request_id=rid)
            except Conflict:
                if attempt == 2:
                    raise
                logger.info("stale SyncToken on %s %s; re-reading once", model.entity_name, qbo_id)
                current = None
                continue
            break
        self.remember_write(change, qbo_id, written, self.written_fields(change))
        outcome = MODIFIED[change.action]
        if change.action == "delete":
            return AppliedChange(change, outcome, qbo_id=qbo_id, paymo_id=paymo_id)
        return self.checked(change, model, qbo_id, written, outcome)

    def written_fields(self, change: Change) -> set[str]:
        """The fields an update leaves as ours: the payload's, and those an earlier write of ours set (a
        sparse update keeps them as they were); none after a delete."""
        if change.action == "delete":
            return set()
        kind, paymo_id, qbo_id = self.identity(change)
        previous = self.ctx.ledger.link(kind, paymo_id)
        ours = set(previous.qbo_fields) if previous is not None and previous.qbo_id == qbo_id else set()
        return ours | set(change.payload or {})

    def remember_write(
        self, change: Change, qbo_id: str, written: qbo_models.QboEntity, fields: Iterable[str]
    ) -> None:
        """Link the record our write left in QBO, with the digests of its ``fields`` as QBO returned them
        (see the module docstring), and set the change's done-markers."""
        kind, paymo_id, _ = self.identity(change)
        self.ctx.data.observe(written)
        self.ctx.ledger.save_link(
            kind,
            paymo_id,
            qbo_id,
            sync_token=written.SyncToken,
            content_hash=change.content_hash or "",
            origin="ours",
            qbo_digests=field_digests(written.to_wire(), fields),
        )
        self.mark_done(change, qbo_id)

    def check_unchanged(
        self, change: Change, model: type[qbo_models.QboEntity], current: qbo_models.QboEntity
    ) -> None:
        """Refuse to overwrite what someone changed in QuickBooks after the plan was made."""
        if current.SyncToken == change.sync_token or not change.before:
            return
        wire = current.to_wire()
        changed = [
            name for name, value in change.before.items() if not same_value(wire_value(wire, name), value)
        ]
        if changed:
            raise Conflict(
                f"QuickBooks {model.entity_name} {current.Id} was changed by someone else since the plan "
                f"was made ({', '.join(sorted(changed))}); plan again and review before overwriting",
                service="quickbooks",
                fault_code="5010",
            )

    async def _read_back(
        self, change: Change, model: type[qbo_models.QboEntity], qbo_id: str, outcome: str
    ) -> AppliedChange:
        record = await self.ctx.qbo.read(model, qbo_id)
        return self.checked(change, model, qbo_id, record, outcome)

    def checked(
        self,
        change: Change,
        model: type[qbo_models.QboEntity],
        qbo_id: str,
        record: qbo_models.QboEntity,
        outcome: str,
        *,
        keep: bool = True,
    ) -> AppliedChange:
        """The change's outcome with the record as QBO holds it — the record QBO answered the write with
        (what it stored, totals computed), or one read back — and a finding per expected value it lacks.
        With ``keep=False`` the outcome keeps only the record's identity and totals (``summary_record``)."""
        expect = self.resolve_links(change.expect or {})
        findings = readback_findings(model, qbo_id, record.to_wire(), expect)
        paymo_id = None if change.paymo_id is None else str(change.paymo_id)
        kept = record if keep else summary_record(record)
        return AppliedChange(
            change, outcome, qbo_id=qbo_id, paymo_id=paymo_id, record=kept, findings=findings
        )

    def resolve_links(self, value: Any) -> Any:
        if isinstance(value, str) and value.startswith(LINK_PLACEHOLDER_PREFIX):
            kind, _, paymo_id = value.removeprefix(LINK_PLACEHOLDER_PREFIX).rpartition(":")
            link = self.ctx.ledger.link(kind, paymo_id)
            if link is None:
                raise ReconciliationError(
                    f"{kind} {paymo_id} has no QuickBooks record yet, so nothing can refer to it; "
                    "apply the change that creates or links it first"
                )
            return link.qbo_id
        if isinstance(value, Mapping):
            return {key: self.resolve_links(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self.resolve_links(item) for item in value]
        return value

    def mark_done(self, change: Change, value: str) -> None:
        spec = (change.lookup or {}).get("mark_done")
        if not spec:
            return
        kind = str(spec["kind"])
        keys: Sequence[Any] = spec.get("keys") or ()
        suffixes: Mapping[str, Any] = spec.get("suffixes") or {}
        for key in keys:
            suffix = suffixes.get(str(key))
            self.ctx.ledger.mark_done(kind, key, value if suffix is None else f"{value}:{suffix}")

    # --- Paymo ----------------------------------------------------------------------------------

    async def _paymo_write(self, change: Change) -> AppliedChange:
        if change.wire_entity != "invoicepayments" or change.action != "create":
            raise InputError(
                f"writing {change.action} {change.wire_entity} to Paymo is not supported", field_name="target"
            )
        lookup = change.lookup or {}
        kind = change.link_kind
        done_key = lookup.get("done_key")
        marker_text = lookup.get("marker")
        if kind is None or done_key is None or marker_text is None or change.payload is None:
            raise InputError(
                "a Paymo payment needs link_kind, lookup.done_key, lookup.marker and payload",
                field_name="lookup",
            )
        ledger = self.ctx.ledger
        async with ledger.lock(kind, str(done_key)):
            done = ledger.done_value(kind, done_key)
            if done is not None:
                return AppliedChange(change, "unchanged", paymo_id=done, qbo_id=change.qbo_id)
            invoice_id = int(change.payload["invoice_id"])
            siblings = await self.ctx.paymo.list_invoice_payments(where=f"invoice_id={invoice_id}")
            for payment in siblings:
                if holds_marker(str(payment.notes or ""), str(marker_text)):
                    ledger.mark_done(kind, done_key, str(payment.id))
                    return AppliedChange(change, "recovered", paymo_id=str(payment.id), qbo_id=change.qbo_id)
            created = await self.ctx.paymo.create_invoice_payment(
                invoice_id=invoice_id,
                amount=Decimal(str(change.payload["amount"])),
                date=as_date(change.payload.get("date")),
                notes=str(change.payload.get("notes") or "") or None,
            )
            ledger.mark_done(kind, done_key, str(created.id))
        return AppliedChange(change, "created", paymo_id=str(created.id), qbo_id=change.qbo_id)


async def _report(
    progress: Progress | None, results: Mapping[int, AppliedChange], total: int, message: str
) -> None:
    if progress is not None:
        await progress(len(results), total, message)
