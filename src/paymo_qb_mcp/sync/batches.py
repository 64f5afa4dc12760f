"""Many writes at once: a plan's dependency waves, and QBO batch requests with single writes' guarantees.

``dependency_waves`` orders a plan's writes: a change waits for every earlier change it depends on —
one whose ``@link:`` placeholder it uses, one that updates a record it refers to (a reactivated
customer before its invoice), one on the same record — and the changes of one wave are independent
(QBO's batch items cannot see each other's results).

``BatchWriter`` sends a wave's QBO creates, updates and voids through ``POST /batch``, at most 30
items per request, each request with a requestid derived from its items:

- creates: each record's lock is held, what is already linked or found is settled as a single create
  would (``Executor.settle_create``); before sending, the exact request and an intent per item naming
  it are recorded in the ledger in one transaction. After a crash, the next attempt at any of its
  records sends that request again with the same requestid — QBO replays its first answer — and links
  every record it created: each Paymo record ends with exactly one QBO record;
- updates and voids: the records are re-read in bulk (``Id IN (...)``) and refused when someone
  changed what the plan was made against, exactly as single updates are; a stale SyncToken is retried
  alone;
- an item QBO refuses fails alone (the others are linked); every written record is read back with
  one query per entity and ≤ 1000 records.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import AsyncExitStack
from typing import Any, Final, Protocol

from paymo_qb_mcp.domain.keys import request_id
from paymo_qb_mcp.domain.plan import Change
from paymo_qb_mcp.errors import Conflict, NotFound, PaymoQbError
from paymo_qb_mcp.quickbooks import models as qbo_models
from paymo_qb_mcp.quickbooks.client import MAX_BATCH_ITEMS, BatchItem, BatchItemResult
from paymo_qb_mcp.quickbooks.query import in_
from paymo_qb_mcp.sync.context import SyncContext
from paymo_qb_mcp.sync.writes import (
    ISOLATED_ERRORS,
    LINK_PLACEHOLDER_PREFIX,
    AppliedChange,
    failed,
    qbo_model,
)

__all__ = ["BatchWriter", "batchable", "dependency_waves"]

_BATCH_NAMESPACE: Final = uuid.UUID("0c6f1b8e-5a43-4f7e-9d2a-3b8f7d51c2e4")
# Payments change other records' balances (the invoices they pay); they stay one at a time.
_NOT_BATCHED: Final = frozenset({"Payment"})
_READ_CHUNK: Final = 1000
_MODIFIED: Final = {"update": "updated", "void": "voided", "delete": "deleted"}


class _Writes(Protocol):
    """What a batch needs of the executor (``sync.executor.Executor``)."""

    ctx: SyncContext
    replayed: set[tuple[str, str]]

    async def intend(self, changes: Sequence[Change]) -> None: ...

    def identity(self, change: Change) -> tuple[str, str, str | None]: ...

    async def settle_create(self, change: Change) -> AppliedChange | None: ...

    async def modify_locked(
        self, change: Change, current: qbo_models.QboEntity | None = None
    ) -> AppliedChange: ...

    def resolve_links(self, value: Any) -> Any: ...

    def remember_write(
        self, change: Change, qbo_id: str, written: qbo_models.QboEntity, fields: Iterable[str]
    ) -> None: ...

    def written_fields(self, change: Change) -> set[str]: ...

    def check_unchanged(
        self, change: Change, model: type[qbo_models.QboEntity], current: qbo_models.QboEntity
    ) -> None: ...

    def checked(
        self,
        change: Change,
        model: type[qbo_models.QboEntity],
        qbo_id: str,
        record: qbo_models.QboEntity,
        outcome: str,
        *,
        keep: bool = True,
    ) -> AppliedChange: ...

    def note_refusal(self, error: PaymoQbError) -> None: ...


def batchable(change: Change) -> bool:
    """A QBO create, update or void that may share a batch request with others."""
    return (
        change.target == "quickbooks"
        and change.action in ("create", "update", "void")
        and change.wire_entity is not None
        and change.wire_entity not in _NOT_BATCHED
        and change.link_kind is not None
        and change.paymo_id is not None
    )


def _references(value: Any, found: set[str]) -> set[str]:
    """Every placeholder and every ``…Ref`` value in a payload."""
    if isinstance(value, str) and value.startswith(LINK_PLACEHOLDER_PREFIX):
        found.add(value)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            if key.endswith("Ref") and isinstance(item, Mapping) and isinstance(item.get("value"), str):
                found.add(f"qbo:{item['value']}")
            _references(item, found)
    elif isinstance(value, list):
        for item in value:
            _references(item, found)
    return found


def dependency_waves(changes: Sequence[Change]) -> tuple[list[list[int]], list[list[int]]]:
    """For each change, the earlier changes it depends on; and the waves (indices, in plan order) in which
    they can be applied: a change's wave is one more than the latest wave it depends on."""
    provides: dict[str, list[int]] = {}
    records: dict[tuple[str, str], list[int]] = {}
    dependencies: list[list[int]] = []
    waves: list[int] = []
    for index, change in enumerate(changes):
        needed = _references(change.payload, set()) | _references(change.expect, set())
        depends: set[int] = set()
        for reference in needed:
            depends.update(provides.get(reference, ()))
        if change.link_kind is not None and change.paymo_id is not None:
            key = (change.link_kind, str(change.paymo_id))
            depends.update(records.get(key, ()))
            records.setdefault(key, []).append(index)
            provides.setdefault(f"{LINK_PLACEHOLDER_PREFIX}{key[0]}:{key[1]}", []).append(index)
        if change.qbo_id is not None and change.action == "update" and change.target == "quickbooks":
            # An update may be what makes the record usable (a reactivated customer): whoever refers to
            # it waits. A link changes nothing in QBO, so nobody waits for it.
            provides.setdefault(f"qbo:{change.qbo_id}", []).append(index)
        ordered = sorted(depends)
        dependencies.append(ordered)
        waves.append(1 + max((waves[dep] for dep in ordered), default=-1))
    grouped: list[list[int]] = [[] for _ in range(max(waves, default=-1) + 1)]
    for index, wave in enumerate(waves):
        grouped[wave].append(index)
    return dependencies, grouped


def _batch_id(kind: str, member_ids: Sequence[str]) -> str:
    """A requestid for a batch (36 characters, QBO's limit for batches), the same for the same items."""
    return str(uuid.uuid5(_BATCH_NAMESPACE, kind + "|" + "|".join(member_ids)))


def _chunks(items: Sequence[Change]) -> list[Sequence[Change]]:
    return [items[start : start + MAX_BATCH_ITEMS] for start in range(0, len(items), MAX_BATCH_ITEMS)]


class BatchWriter:
    """Applies one wave's QBO creates, updates and voids in batch requests (see the module docstring)."""

    def __init__(self, executor: _Writes) -> None:
        self._executor = executor
        self._ctx = executor.ctx

    async def apply(self, changes: Sequence[Change]) -> AsyncIterator[list[tuple[Change, AppliedChange]]]:
        """Yield, per batch request, what each of its changes did."""
        creates = [change for change in changes if change.action == "create"]
        modifies = [change for change in changes if change.action != "create"]
        for chunk in _chunks(creates):
            yield await self._locked(chunk, self._creates)
        for chunk in _chunks(modifies):
            yield await self._locked(chunk, self._modifies)

    async def _locked(self, chunk: Sequence[Change], work: Any) -> list[tuple[Change, AppliedChange]]:
        keys = sorted({self._executor.identity(change)[:2] for change in chunk})
        # Recorded (the audit log's write-ahead) before any request of the batch leaves.
        await self._executor.intend(chunk)
        async with AsyncExitStack() as stack:
            for kind, paymo_id in keys:
                await stack.enter_async_context(self._ctx.ledger.lock(kind, paymo_id))
            result: list[tuple[Change, AppliedChange]] = await work(chunk)
            return result

    # --- creates -----------------------------------------------------------------------------------

    async def _creates(self, chunk: Sequence[Change]) -> list[tuple[Change, AppliedChange]]:
        done: list[tuple[Change, AppliedChange]] = []
        todo: list[Change] = []
        for change in chunk:
            try:
                settled = await self._executor.settle_create(change)
            except ISOLATED_ERRORS as error:
                done.append((change, self._failed(change, error)))
                continue
            if settled is None:
                todo.append(change)
            else:
                done.append((change, settled))
        if todo:
            done += await self._send_creates(todo)
        return done

    async def _send_creates(self, changes: Sequence[Change]) -> list[tuple[Change, AppliedChange]]:
        executor, ledger = self._executor, self._ctx.ledger
        items: list[dict[str, Any]] = []
        members: list[tuple[str, str, str]] = []
        member_ids: list[str] = []
        failed: list[tuple[Change, AppliedChange]] = []
        sent: list[Change] = []
        for change in changes:
            kind, paymo_id, _ = executor.identity(change)
            assert change.payload is not None
            assert change.content_hash is not None
            assert change.wire_entity is not None
            model = qbo_model(change.wire_entity)
            try:
                # Exactly the body a single create sends: the payload read through the wire model.
                payload = model.model_validate(executor.resolve_links(change.payload)).to_wire()
            except PaymoQbError as error:
                failed.append((change, self._failed(change, error)))
                continue
            items.append({"bid": f"b{len(items) + 1}", "entity": model.entity_name, "payload": payload})
            members.append((kind, paymo_id, change.content_hash))
            member_ids.append(request_id(kind, paymo_id, change.content_hash))
            sent.append(change)
        if not sent:
            return failed
        batch_id = _batch_id("create", member_ids)
        request = {"items": items, "changes": [change.model_dump(mode="python") for change in sent]}
        ledger.record_batch(batch_id, request, members)
        answered = await self._answers(batch_id, request)
        return failed + await self._link_created(batch_id, sent, items, answered, "created")

    async def replay(self, batch_id: str) -> None:
        """Send a recorded batch again with its requestid (QBO replays its first answer) and link what it
        created; nothing when the batch was already settled."""
        request = self._ctx.ledger.pending_batch(batch_id)
        if request is None:
            return
        changes = [Change.model_validate(raw) for raw in request["changes"]]
        answered = await self._answers(batch_id, request)
        await self._link_created(batch_id, changes, request["items"], answered, "replayed", read_back=False)

    async def _answers(self, batch_id: str, request: Mapping[str, Any]) -> list[BatchItemResult]:
        items = [
            BatchItem(qbo_model(item["entity"]), "create", item["payload"], bid=item["bid"])
            for item in request["items"]
        ]
        return await self._ctx.qbo.batch(items, request_id=batch_id)

    async def _link_created(
        self,
        batch_id: str,
        changes: Sequence[Change],
        items: Sequence[Mapping[str, Any]],
        answered: Sequence[BatchItemResult],
        outcome: str,
        *,
        read_back: bool = True,
    ) -> list[tuple[Change, AppliedChange]]:
        executor, ledger = self._executor, self._ctx.ledger
        results: list[tuple[Change, AppliedChange]] = []
        written: list[tuple[Change, qbo_models.QboEntity]] = []
        for change, item, answer in zip(changes, items, answered, strict=True):
            kind, paymo_id, _ = executor.identity(change)
            if answer.error is not None or answer.entity is None or answer.entity.Id is None:
                refusal = answer.error or PaymoQbError(
                    f"QuickBooks answered batch item {item['bid']} without a record"
                )
                ledger.clear_intent(kind, paymo_id)
                results.append((change, self._failed(change, refusal)))
                continue
            existing = ledger.link(kind, paymo_id)
            if existing is None or existing.qbo_id != answer.entity.Id:
                executor.remember_write(change, answer.entity.Id, answer.entity, item["payload"])
                if outcome == "replayed":
                    executor.replayed.add((kind, paymo_id))
            written.append((change, answer.entity))
        ledger.clear_batch(batch_id)
        if read_back:
            results += await self._read_back(written, outcome)
        return results

    # --- updates and voids -----------------------------------------------------------------------

    async def _modifies(self, chunk: Sequence[Change]) -> list[tuple[Change, AppliedChange]]:
        executor = self._executor
        current = await self._read_all(
            [(qbo_model(change.wire_entity or ""), change.qbo_id or "") for change in chunk]
        )
        results: list[tuple[Change, AppliedChange]] = []
        items: list[BatchItem] = []
        sent: list[Change] = []
        member_ids: list[str] = []
        for change in chunk:
            kind, paymo_id, qbo_id = executor.identity(change)
            model = qbo_model(change.wire_entity or "")
            record = current.get((model.entity_name, qbo_id or ""))
            if record is None or qbo_id is None:
                missing = NotFound(
                    f"QuickBooks {model.entity_name} {qbo_id} no longer exists; plan again",
                    service="quickbooks",
                )
                results.append((change, self._failed(change, missing)))
                continue
            try:
                executor.check_unchanged(change, model, record)
            except Conflict as error:
                results.append((change, self._failed(change, error)))
                continue
            token = record.SyncToken or "0"
            bid = f"b{len(items) + 1}"
            if change.action == "update":
                body = model.model_validate(
                    {**executor.resolve_links(change.payload or {}), "Id": qbo_id, "SyncToken": token}
                )
                items.append(BatchItem.update(body, sparse=True, bid=bid))
            else:
                items.append(BatchItem.void(model, qbo_id, token, bid=bid))
            sent.append(change)
            content = change.content_hash or change.action
            member_ids.append(request_id(kind, paymo_id, content, f"{change.action}:{token}"))
        if not sent:
            return results
        answered = await self._ctx.qbo.batch(items, request_id=_batch_id("modify", member_ids))
        written: list[tuple[Change, qbo_models.QboEntity]] = []
        for change, answer in zip(sent, answered, strict=True):
            _, _, qbo_id = executor.identity(change)
            assert qbo_id is not None
            if isinstance(answer.error, Conflict):
                # A stale SyncToken: someone saved the record between our read and the batch; alone, it is
                # re-read and checked again before it is written.
                try:
                    results.append((change, await executor.modify_locked(change)))
                except ISOLATED_ERRORS as error:
                    results.append((change, self._failed(change, error)))
                continue
            if answer.error is not None or answer.entity is None:
                refusal = answer.error or PaymoQbError(
                    f"QuickBooks answered batch item {answer.bid} without a record"
                )
                results.append((change, self._failed(change, refusal)))
                continue
            executor.remember_write(change, qbo_id, answer.entity, executor.written_fields(change))
            written.append((change, answer.entity))
        results += await self._read_back(written, None)
        return results

    # --- reading -----------------------------------------------------------------------------------

    async def _read_all(
        self, wanted: Sequence[tuple[type[qbo_models.QboEntity], str]]
    ) -> dict[tuple[str, str], qbo_models.QboEntity]:
        """The records by (entity, Id), read with one ``Id IN (...)`` query per entity and ≤ 1000 ids."""
        by_model: dict[type[qbo_models.QboEntity], list[str]] = {}
        for model, ident in wanted:
            by_model.setdefault(model, []).append(ident)
        found: dict[tuple[str, str], qbo_models.QboEntity] = {}
        for model, idents in by_model.items():
            unique = sorted(set(idents))
            for start in range(0, len(unique), _READ_CHUNK):
                for row in await self._ctx.qbo.query_all(
                    model, in_("Id", unique[start : start + _READ_CHUNK])
                ):
                    if row.Id is not None:
                        found[(model.entity_name, row.Id)] = row
        return found

    async def _read_back(
        self, written: Sequence[tuple[Change, qbo_models.QboEntity]], outcome: str | None
    ) -> list[tuple[Change, AppliedChange]]:
        if not written:
            return []
        records = await self._read_all(
            [(qbo_model(change.wire_entity or ""), entity.Id or "") for change, entity in written]
        )
        results: list[tuple[Change, AppliedChange]] = []
        for change, entity in written:
            model = qbo_model(change.wire_entity or "")
            ident = entity.Id or ""
            record = records.get((model.entity_name, ident), entity)
            shown = outcome or _MODIFIED[change.action]
            results.append((change, self._executor.checked(change, model, ident, record, shown, keep=False)))
        return results

    def _failed(self, change: Change, error: PaymoQbError) -> AppliedChange:
        self._executor.note_refusal(error)
        return failed(change, error)
