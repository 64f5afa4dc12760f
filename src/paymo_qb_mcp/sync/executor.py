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
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from paymo_qb_mcp.domain.fingerprint import field_digests
from paymo_qb_mcp.domain.keys import canonical_json, request_id
from paymo_qb_mcp.domain.plan import Change, Finding, Plan
from paymo_qb_mcp.errors import Conflict, DataError, InputError, ReconciliationError
from paymo_qb_mcp.quickbooks import models as qbo_models
from paymo_qb_mcp.quickbooks.query import eq
from paymo_qb_mcp.sync.context import SyncContext

__all__ = ["AppliedChange", "ApplyOutcome", "Executor", "link_placeholder", "qbo_model"]

logger = logging.getLogger(__name__)

_NOTE_FIELDS = ("PrivateNote", "Notes", "Memo", "Description")


def _all_entities() -> dict[str, type[qbo_models.QboEntity]]:
    found: dict[str, type[qbo_models.QboEntity]] = {}
    pending: list[type[qbo_models.QboEntity]] = [qbo_models.QboEntity]
    while pending:
        cls = pending.pop()
        if cls.entity_name:
            found[cls.entity_name] = cls
        pending.extend(cls.__subclasses__())
    return found


_MODELS = _all_entities()


def qbo_model(entity_name: str) -> type[qbo_models.QboEntity]:
    """The wire model of a QBO entity name such as ``Invoice``."""
    try:
        return _MODELS[entity_name]
    except KeyError:
        raise InputError(f"unknown QuickBooks entity {entity_name!r}", field_name="wire_entity") from None


@dataclass(frozen=True)
class AppliedChange:
    """What one change did: ``outcome`` is created, updated, voided, deleted, linked, replayed,
    recovered (found an earlier write of ours and linked it) or unchanged."""

    change: Change
    outcome: str
    qbo_id: str | None = None
    paymo_id: str | None = None
    record: qbo_models.QboEntity | None = None
    findings: tuple[Finding, ...] = ()


@dataclass
class ApplyOutcome:
    plan_hash: str
    applied: list[AppliedChange] = field(default_factory=list)

    @property
    def findings(self) -> list[Finding]:
        return [finding for item in self.applied for finding in item.findings]


def _wire_value(record: Mapping[str, Any], path: str) -> Any:
    value: Any = record
    for part in path.split("."):
        if isinstance(value, Mapping):
            value = value.get(part)
        elif part == "count" and isinstance(value, list):
            value = len(value)
        else:
            return None
    return value


def _same(left: Any, right: Any) -> bool:
    if isinstance(left, bool) or isinstance(right, bool):
        # bool is an int: without this, True would be read as the number "True" and never match.
        return left is right
    if isinstance(left, Decimal | int) and isinstance(right, Decimal | int | str):
        try:
            return Decimal(str(left)) == Decimal(str(right))
        except ArithmeticError:
            return False
    if isinstance(right, Decimal | int) and isinstance(left, str):
        return _same(right, left)
    return bool(canonical_json(left) == canonical_json(right))


LINK_PLACEHOLDER_PREFIX = "@link:"
Progress = Callable[[int, int, str], Awaitable[None]]


def link_placeholder(kind: str, paymo_id: int | str) -> str:
    """A payload value the executor replaces with the QBO id linked to (kind, paymo_id)."""
    return f"{LINK_PLACEHOLDER_PREFIX}{kind}:{paymo_id}"


def _as_date(value: Any) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value))


def _holds_marker(note: str, marker_text: str) -> bool:
    """Whether ``note`` carries ``marker_text`` whole: ``qbo:payment:1`` is not in ``qbo:payment:12``."""
    return re.search(rf"(?<![\w:]){re.escape(marker_text)}(?![\w:])", note) is not None


def _has_note(record: qbo_models.QboEntity, text: str) -> bool:
    wire = record.to_wire()
    return any(_holds_marker(str(wire.get(name) or ""), text) for name in _NOTE_FIELDS)


class Executor:
    """Applies plans against both services through one ``SyncContext``."""

    def __init__(self, ctx: SyncContext) -> None:
        self.ctx = ctx

    async def apply(self, plan: Plan, progress: Progress | None = None) -> ApplyOutcome:
        """Apply every write of the plan in order; ``progress(done, total, message)`` after each."""
        if plan.blocked:
            blockers = "; ".join(f.message for f in plan.findings if f.severity == "blocker")
            raise ReconciliationError(f"the plan is blocked and cannot be applied: {blockers}")
        outcome = ApplyOutcome(plan_hash=plan.plan_hash)
        writes = plan.writes
        for done, change in enumerate(writes, start=1):
            outcome.applied.append(await self.apply_change(change))
            if progress is not None:
                await progress(done, len(writes), change.summary)
        return outcome

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
        kind, paymo_id, qbo_id = self._identity(change)
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
    def _identity(change: Change) -> tuple[str, str, str | None]:
        if change.link_kind is None or change.paymo_id is None:
            raise InputError("a change that writes needs link_kind and paymo_id", field_name="link_kind")
        return change.link_kind, str(change.paymo_id), change.qbo_id

    async def _qbo_create(self, change: Change) -> AppliedChange:
        kind, paymo_id, _ = self._identity(change)
        if change.payload is None or change.content_hash is None or change.wire_entity is None:
            raise InputError("a create needs payload, content_hash and wire_entity", field_name="payload")
        model = qbo_model(change.wire_entity)
        ledger = self.ctx.ledger
        async with ledger.lock(kind, paymo_id):
            link = ledger.link(kind, paymo_id)
            if link is not None:
                if link.content_hash == change.content_hash:
                    # A crash after the link was saved but before the done-markers were set leaves
                    # them missing; setting them again is harmless and closes that gap.
                    self._mark_done(change, link.qbo_id)
                    return AppliedChange(change, "unchanged", qbo_id=link.qbo_id, paymo_id=paymo_id)
                raise Conflict(
                    f"{kind} {paymo_id} was linked to QuickBooks {model.entity_name} {link.qbo_id} "
                    "after this plan was made; plan again",
                    service="quickbooks",
                )
            intent = ledger.intent(kind, paymo_id)
            if intent is not None and intent.content_hash != change.content_hash:
                # An earlier attempt with other content may have reached QBO: find it before creating.
                found = await self._find_existing(model, change)
                if found is not None:
                    return await self._adopt(change, model, found)
            rid = request_id(kind, paymo_id, change.content_hash)
            ledger.record_intent(kind, paymo_id, rid, change.content_hash)
            payload = self._resolve_links(change.payload)
            created = await self.ctx.qbo.create(payload, model=model, request_id=rid)
            if created.Id is None:
                raise DataError(f"QuickBooks created a {model.entity_name} without an Id")
            self._remember_write(change, created.Id, created, payload)
        replayed = intent is not None and intent.request_id == rid
        return await self._read_back(change, model, created.Id, "replayed" if replayed else "created")

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
            if marker_text is None or _has_note(row, str(marker_text)):
                return row
        return None

    async def _adopt(
        self, change: Change, model: type[qbo_models.QboEntity], found: qbo_models.QboEntity
    ) -> AppliedChange:
        """Link a record an earlier attempt of ours created, then bring it up to the planned content."""
        kind, paymo_id, _ = self._identity(change)
        assert found.Id is not None
        assert found.SyncToken is not None
        assert change.payload is not None
        assert change.content_hash is not None
        rid = request_id(kind, paymo_id, change.content_hash, f"adopt:{found.SyncToken}")
        payload = self._resolve_links(change.payload)
        body = model.model_validate({**payload, "Id": found.Id, "SyncToken": found.SyncToken})
        updated = await self.ctx.qbo.update(body, request_id=rid, sparse=True)
        # Fields the earlier attempt set that this payload does not are no longer known to be ours.
        self._remember_write(change, found.Id, updated, payload)
        return await self._read_back(change, model, found.Id, "recovered")

    async def _qbo_modify(self, change: Change) -> AppliedChange:
        kind, paymo_id, qbo_id = self._identity(change)
        if qbo_id is None or change.wire_entity is None:
            raise InputError(f"an {change.action} needs qbo_id and wire_entity", field_name="qbo_id")
        model = qbo_model(change.wire_entity)
        content = change.content_hash or change.action
        async with self.ctx.ledger.lock(kind, paymo_id):
            previous = self.ctx.ledger.link(kind, paymo_id)
            # A sparse update leaves the other fields an earlier write of ours set as they were.
            ours = set(previous.qbo_fields) if previous is not None and previous.qbo_id == qbo_id else set()
            for attempt in (1, 2):
                current = await self.ctx.qbo.read(model, qbo_id)
                self._check_unchanged(change, model, current)
                token = current.SyncToken or "0"
                rid = request_id(kind, paymo_id, content, f"{change.action}:{token}")
                try:
                    if change.action == "update":
                        payload = self._resolve_links(change.payload or {})
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
                    continue
                break
            written_fields = ours | set(change.payload or {}) if change.action != "delete" else set()
            self._remember_write(change, qbo_id, written, written_fields)
        outcome = {"update": "updated", "void": "voided", "delete": "deleted"}[change.action]
        if change.action == "delete":
            return AppliedChange(change, outcome, qbo_id=qbo_id, paymo_id=paymo_id)
        return await self._read_back(change, model, qbo_id, outcome)

    def _remember_write(
        self, change: Change, qbo_id: str, written: qbo_models.QboEntity, fields: Iterable[str]
    ) -> None:
        """Link the record our write left in QBO, with the digests of its ``fields`` as QBO returned them
        (see the module docstring), and set the change's done-markers."""
        kind, paymo_id, _ = self._identity(change)
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
        self._mark_done(change, qbo_id)

    def _check_unchanged(
        self, change: Change, model: type[qbo_models.QboEntity], current: qbo_models.QboEntity
    ) -> None:
        """Refuse to overwrite what someone changed in QuickBooks after the plan was made."""
        if current.SyncToken == change.sync_token or not change.before:
            return
        wire = current.to_wire()
        changed = [name for name, value in change.before.items() if not _same(_wire_value(wire, name), value)]
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
        wire = record.to_wire()
        findings: list[Finding] = []
        for path, expected in self._resolve_links(change.expect or {}).items():
            actual = _wire_value(wire, path)
            if not _same(actual, expected):
                findings.append(
                    Finding(
                        severity="warning",
                        code="READBACK_MISMATCH",
                        message=(
                            f"QuickBooks {model.entity_name} {qbo_id}: {path} reads back as {actual!s}, "
                            f"the plan wrote {expected!s}"
                        ),
                        record=f"quickbooks:{model.entity_name.lower()}:{qbo_id}",
                    )
                )
        paymo_id = None if change.paymo_id is None else str(change.paymo_id)
        return AppliedChange(
            change, outcome, qbo_id=qbo_id, paymo_id=paymo_id, record=record, findings=tuple(findings)
        )

    def _resolve_links(self, value: Any) -> Any:
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
            return {key: self._resolve_links(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self._resolve_links(item) for item in value]
        return value

    def _mark_done(self, change: Change, value: str) -> None:
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
                if _holds_marker(str(payment.notes or ""), str(marker_text)):
                    ledger.mark_done(kind, done_key, str(payment.id))
                    return AppliedChange(change, "recovered", paymo_id=str(payment.id), qbo_id=change.qbo_id)
            created = await self.ctx.paymo.create_invoice_payment(
                invoice_id=invoice_id,
                amount=Decimal(str(change.payload["amount"])),
                date=_as_date(change.payload.get("date")),
                notes=str(change.payload.get("notes") or "") or None,
            )
            ledger.mark_done(kind, done_key, str(created.id))
        return AppliedChange(change, "created", paymo_id=str(created.id), qbo_id=change.qbo_id)
