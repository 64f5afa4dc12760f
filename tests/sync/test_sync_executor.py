"""Applying invoice plans: requestid replay, SyncToken checks, read-back findings, placeholders, races."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import anyio
import pytest
from sync_support import SyncEnv

from paymo_qb_mcp.errors import Conflict, ReconciliationError, UpstreamError
from paymo_qb_mcp.quickbooks.models import Invoice, MemoRef
from paymo_qb_mcp.quickbooks.query import eq
from paymo_qb_mcp.sandbox.paymo import seed as paymo_seed
from paymo_qb_mcp.sandbox.quickbooks import seed as qbo_seed
from paymo_qb_mcp.sync.executor import ApplyOutcome, Executor
from paymo_qb_mcp.sync.service import SyncService

INV = paymo_seed.INVOICE_IDS


async def qbo_invoices(env: SyncEnv, doc_number: str) -> list[Invoice]:
    return await env.qbo.query_all(Invoice, eq("DocNumber", doc_number))


def invoice_posts(env: SyncEnv) -> list[str]:
    """The query strings (requestid included) of every invoice create QBO received."""
    return [
        entry.query
        for entry in env.qbo_emu.request_log
        if entry.method == "POST" and entry.path.endswith("/invoice") and "operation=" not in entry.query
    ]


async def synced(env: SyncEnv, number: str) -> Invoice:
    planned = await env.service.plan_invoice(INV[number])
    outcome = await env.service.apply(planned.plan)
    record = outcome.applied[-1].record
    assert isinstance(record, Invoice)
    return record


async def plan_due_date_change(env: SyncEnv, number: str, due: str) -> tuple[Invoice, Any]:
    record = await synced(env, number)
    await env.paymo.update_invoice(INV[number], {"due_date": due})
    planned = await env.service.plan_invoice(INV[number])
    assert [c.action for c in planned.plan.writes] == ["update"]
    return record, planned


async def test_lost_response_is_replayed_by_requestid_not_created_twice(sync_env: SyncEnv) -> None:
    service = SyncService(await sync_env.fresh_context(qbo=await sync_env.qbo_without_retries()))
    planned = await service.plan_invoice(INV["INV-2026-1036"])
    sync_env.qbo_emu.faults.fail_next(
        1, status=503, method="POST", path_contains="/invoice", after_commit=True
    )

    with pytest.raises(UpstreamError):
        await service.apply(planned.plan)
    assert len(await qbo_invoices(sync_env, "INV-2026-1036")) == 1
    assert sync_env.ledger.link("invoice", INV["INV-2026-1036"]) is None

    outcome = await service.apply(planned.plan)

    assert outcome.applied[-1].outcome == "replayed"
    posts = invoice_posts(sync_env)
    assert len(posts) == 2
    assert posts[0] == posts[1]
    assert "requestid=" in posts[0]
    found = await qbo_invoices(sync_env, "INV-2026-1036")
    assert len(found) == 1
    link = sync_env.ledger.link("invoice", INV["INV-2026-1036"])
    assert link is not None
    assert link.qbo_id == found[0].Id


async def test_client_retry_after_a_lost_response_is_answered_by_replay(sync_env: SyncEnv) -> None:
    planned = await sync_env.service.plan_invoice(INV["INV-2026-1036"])
    sync_env.qbo_emu.faults.fail_next(
        1, status=500, method="POST", path_contains="/invoice", after_commit=True
    )

    outcome = await sync_env.service.apply(planned.plan)

    assert outcome.applied[-1].outcome == "created"
    assert len(invoice_posts(sync_env)) == 2
    assert len(await qbo_invoices(sync_env, "INV-2026-1036")) == 1


async def test_stale_synctoken_is_reread_and_retried_once_when_planned_fields_are_untouched(
    sync_env: SyncEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    created, planned = await plan_due_date_change(sync_env, "INV-2026-1039", "2026-12-20")
    real_update = sync_env.qbo.update
    raced: list[str] = []

    async def human_edits_first(obj: Any, **kwargs: Any) -> Any:
        if not raced:
            # A bookkeeper saves a memo between our read and our write: our SyncToken is now stale.
            current = await sync_env.qbo.read(Invoice, created.Id or "")
            memo = Invoice(Id=current.Id, SyncToken=current.SyncToken, CustomerMemo=MemoRef(value="Thanks!"))
            await real_update(memo, request_id="human-memo-edit")
            raced.append("memo")
        return await real_update(obj, **kwargs)

    monkeypatch.setattr(sync_env.qbo, "update", human_edits_first)

    outcome = await sync_env.service.apply(planned.plan)

    assert [item.outcome for item in outcome.applied] == ["updated"]
    assert outcome.findings == []
    qbo = await sync_env.qbo.read(Invoice, created.Id or "")
    assert qbo.DueDate == dt.date(2026, 12, 20)
    assert qbo.CustomerMemo is not None
    assert qbo.CustomerMemo.value == "Thanks!"
    # created (0), the memo (1), then ours (2) — after one refusal of the stale token.
    assert qbo.SyncToken == "2"
    refused = [e.status for e in sync_env.qbo_emu.request_log if e.method == "POST" and e.status != 200]
    assert refused == [400]


async def test_update_is_refused_when_someone_changed_a_planned_field(sync_env: SyncEnv) -> None:
    created, planned = await plan_due_date_change(sync_env, "INV-2026-1039", "2026-12-20")
    link_before = sync_env.ledger.link("invoice", INV["INV-2026-1039"])
    current = await sync_env.qbo.read(Invoice, created.Id or "")
    human = Invoice(Id=current.Id, SyncToken=current.SyncToken, DueDate=dt.date(2026, 12, 31))
    await sync_env.qbo.update(human, request_id="human-due-date-edit")

    with pytest.raises(Conflict) as refused:
        await sync_env.service.apply(planned.plan)

    assert "DueDate" in str(refused.value)
    qbo = await sync_env.qbo.read(Invoice, created.Id or "")
    assert qbo.DueDate == dt.date(2026, 12, 31)
    assert sync_env.ledger.link("invoice", INV["INV-2026-1039"]) == link_before


async def test_read_back_mismatch_is_reported_as_a_finding(sync_env: SyncEnv) -> None:
    planned = await sync_env.service.plan_invoice(INV["INV-2026-1036"])
    # Quebec changes its QST rate after the plan was made: QBO now computes another tax than planned.
    sync_env.qbo_emu.state.tables["TaxRate"][qbo_seed.TAX_RATE_QST]["RateValue"] = Decimal("9.5")

    outcome: ApplyOutcome = await sync_env.service.apply(planned.plan)

    mismatches = [f for f in outcome.findings if f.code == "READBACK_MISMATCH"]
    paths = {f.message.split(": ")[1].split(" reads back")[0] for f in mismatches}
    assert paths == {"TotalAmt", "TxnTaxDetail.TotalTax"}
    assert all(f.severity == "warning" for f in mismatches)
    qbo = await qbo_invoices(sync_env, "INV-2026-1036")
    assert qbo[0].TotalAmt == Decimal("6870.00")  # 6000 + 300 GST + 570 QST, not Paymo's 6898.50


async def test_link_placeholder_resolves_to_the_customer_created_earlier_in_the_plan(
    sync_env: SyncEnv,
) -> None:
    planned = await sync_env.service.plan_invoice(INV["INV-2026-1041"])
    customer_change, invoice_change = planned.plan.writes
    executor = Executor(sync_env.ctx)

    with pytest.raises(ReconciliationError, match="has no QuickBooks record yet"):
        await executor.apply_change(invoice_change)
    assert await qbo_invoices(sync_env, "INV-2026-1041") == []

    created_customer = await executor.apply_change(customer_change)
    created_invoice = await executor.apply_change(invoice_change)

    assert created_invoice.findings == ()  # the read-back's CustomerRef expectation resolved too
    assert isinstance(created_invoice.record, Invoice)
    assert created_invoice.record.CustomerRef is not None
    assert created_invoice.record.CustomerRef.value == created_customer.qbo_id


async def test_two_concurrent_syncs_of_one_invoice_create_it_once(sync_env: SyncEnv) -> None:
    services = [SyncService(await sync_env.fresh_context()) for _ in range(2)]
    plans = [await service.plan_invoice(INV["INV-2026-1036"]) for service in services]
    outcomes: list[ApplyOutcome] = []

    async def run(service: SyncService, index: int) -> None:
        outcomes.append(await service.apply(plans[index].plan))

    async with anyio.create_task_group() as group:
        for index, service in enumerate(services):
            group.start_soon(run, service, index)

    assert sorted(outcome.applied[-1].outcome for outcome in outcomes) == ["created", "unchanged"]
    assert len(await qbo_invoices(sync_env, "INV-2026-1036")) == 1
    assert len(invoice_posts(sync_env)) == 1
