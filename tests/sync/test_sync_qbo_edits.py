"""What a human changed in QuickBooks since our last write is never overwritten unasked.

Against both emulators: the executor remembers per-field digests of what it wrote; a re-sync that
would overwrite a field someone changed since then still plans the update, but warns
EDITED_IN_QUICKBOOKS (a code the server always puts to a human), with that field's QuickBooks value in
``before``. Payments applied in QuickBooks are not edits.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

from sync_support import SyncEnv

from paymo_qb_mcp.domain.fingerprint import edited_fields
from paymo_qb_mcp.domain.plan import REQUIRES_HUMAN, Finding, Plan
from paymo_qb_mcp.quickbooks.models import (
    Customer,
    Estimate,
    Invoice,
    Line,
    LinkedTxn,
    MemoRef,
    Payment,
    Purchase,
    QboEntity,
    Ref,
)
from paymo_qb_mcp.sandbox.paymo import seed as paymo_seed
from paymo_qb_mcp.store.ledger import Link

SMITH_1039 = paymo_seed.INVOICE_IDS["INV-2026-1039"]  # CAD 623.62, due 2026-12-02, Smith & Sons
ACME_1035 = paymo_seed.INVOICE_IDS["INV-2026-1035"]  # CAD 5 089.52, 40 % (2 035.81) paid in Paymo
EXTENDED = dt.date(2027, 1, 15)


async def apply(env: SyncEnv, plan: Plan) -> None:
    assert not plan.blocked, plan.summary
    outcome = await env.service.apply(plan)
    assert outcome.findings == [], [finding.message for finding in outcome.findings]


async def sync_invoice(env: SyncEnv, paymo_id: int = SMITH_1039) -> Invoice:
    if paymo_id == SMITH_1039:
        await add_a_note(env)
    await apply(env, (await env.service.plan_invoice(paymo_id)).plan)
    link = env.ledger.link("invoice", paymo_id)
    assert link is not None
    return await env.qbo.read(Invoice, link.qbo_id)


async def add_a_note(env: SyncEnv) -> None:
    """A note for the client on INV-2026-1039, so that its QuickBooks copy carries a CustomerMemo too."""
    await env.paymo.update_invoice(SMITH_1039, {"notes": "Thank you for your business"})


def the_link(env: SyncEnv, kind: str, paymo_id: int) -> Link:
    link = env.ledger.link(kind, paymo_id)
    assert link is not None
    return link


async def bookkeeper_edits(env: SyncEnv, record: QboEntity, **fields: Any) -> None:
    """A sparse update typed into QuickBooks by someone else."""
    body = type(record).model_validate({"Id": record.Id, "SyncToken": record.SyncToken, **fields})
    await env.qbo.update(body, request_id=str(uuid.uuid4()))


async def change_first_quantity(env: SyncEnv, paymo_id: int, quantity: Decimal) -> None:
    """The account manager corrects the first line's quantity in Paymo."""
    invoice = await env.paymo.get_invoice(paymo_id, include=("invoiceitems",))
    items = sorted(invoice.invoiceitems or [], key=lambda item: item.seq or 0)
    await env.paymo.update_invoice(
        paymo_id, {"items": [{"id": items[0].id, "quantity": quantity}] + [{"id": i.id} for i in items[1:]]}
    )


def edits(plan: Plan) -> list[Finding]:
    return [finding for finding in plan.findings if finding.code == "EDITED_IN_QUICKBOOKS"]


def now_edited(link: Link, record: QboEntity) -> tuple[str, ...]:
    return edited_fields(record.to_wire(), link.qbo_digest_map())


# --- what the ledger remembers ------------------------------------------------------------------


async def test_a_create_remembers_every_field_it_sent_as_quickbooks_stored_it(sync_env: SyncEnv) -> None:
    await add_a_note(sync_env)
    planned = await sync_env.service.plan_invoice(SMITH_1039)
    [create] = [change for change in planned.plan.writes if change.entity == "invoice"]
    assert create.payload is not None

    await apply(sync_env, planned.plan)

    created = await sync_env.qbo.read(Invoice, the_link(sync_env, "invoice", SMITH_1039).qbo_id)

    link = the_link(sync_env, "invoice", SMITH_1039)
    assert set(link.qbo_fields) == set(create.payload)
    assert {"DueDate", "Line", "CustomerMemo", "CustomerRef", "TxnDate"} <= set(link.qbo_fields)
    assert link.qbo_fingerprint is not None
    assert now_edited(link, created) == ()


async def test_payments_applied_in_quickbooks_are_not_edits(sync_env: SyncEnv) -> None:
    created = await sync_invoice(sync_env)
    assert created.CustomerRef is not None
    payment = Payment(
        CustomerRef=Ref(value=created.CustomerRef.value),
        TotalAmt=Decimal("300.00"),
        TxnDate=dt.date(2026, 11, 25),
        Line=[
            Line(Amount=Decimal("300.00"), LinkedTxn=[LinkedTxn(TxnId=str(created.Id), TxnType="Invoice")])
        ],
        CurrencyRef=created.CurrencyRef,
    )
    await sync_env.qbo.create(payment, request_id=str(uuid.uuid4()))
    paid = await sync_env.qbo.read(Invoice, str(created.Id))
    assert paid.SyncToken != created.SyncToken
    assert paid.Balance == Decimal("323.62")

    assert now_edited(the_link(sync_env, "invoice", SMITH_1039), paid) == ()
    await change_first_quantity(sync_env, SMITH_1039, Decimal("3"))
    planned = await sync_env.service.plan_invoice(SMITH_1039)
    assert [change.action for change in planned.plan.writes] == ["update"]
    assert edits(planned.plan) == []
    assert planned.plan.needs_human == ()


async def test_due_date_memo_and_line_edits_in_quickbooks_are_named(sync_env: SyncEnv) -> None:
    created = await sync_invoice(sync_env)
    lines = list(created.Line or [])
    first = lines[0]
    assert first.SalesItemLineDetail is not None
    lines[0] = first.model_copy(update={"Description": "Strategy workshop (half day)"})
    await bookkeeper_edits(
        sync_env,
        created,
        DueDate=EXTENDED,
        CustomerMemo=MemoRef(value="Paid by cheque, please"),
        Line=lines,
    )

    edited = await sync_env.qbo.read(Invoice, str(created.Id))
    # Lines sent without the tax detail make QuickBooks recompute the tax, replacing the override we sent.
    assert now_edited(the_link(sync_env, "invoice", SMITH_1039), edited) == (
        "CustomerMemo",
        "DueDate",
        "Line",
        "TxnTaxDetail",
    )


# --- invoices -----------------------------------------------------------------------------------


async def test_a_paymo_change_over_a_bookkeepers_edit_is_planned_for_a_human(sync_env: SyncEnv) -> None:
    created = await sync_invoice(sync_env)
    await bookkeeper_edits(sync_env, created, DueDate=EXTENDED)
    await change_first_quantity(sync_env, SMITH_1039, Decimal("3"))

    planned = await sync_env.service.plan_invoice(SMITH_1039)

    [update] = planned.plan.writes
    assert update.action == "update"
    assert update.payload is not None
    assert update.before is not None
    assert update.after is not None
    assert update.payload["DueDate"] == "2026-12-02"
    assert (update.before["DueDate"], update.after["DueDate"]) == (EXTENDED, "2026-12-02")
    [finding] = edits(planned.plan)
    assert finding.severity == "warning"
    assert finding.code in REQUIRES_HUMAN
    assert planned.plan.needs_human == (finding,)
    assert "QuickBooks invoice INV-2026-1039" in finding.message
    assert "DueDate (QuickBooks: 2027-01-15, Paymo: 2026-12-02)" in finding.message
    assert "Line" not in finding.message  # our own lines, changed only by Paymo
    assert finding.record == f"quickbooks:invoice:{created.Id}"

    # Approved: Paymo's version is applied, and what was written is remembered afresh.
    await apply(sync_env, planned.plan)
    written = await sync_env.qbo.read(Invoice, str(created.Id))
    assert written.DueDate == dt.date(2026, 12, 2)
    assert now_edited(the_link(sync_env, "invoice", SMITH_1039), written) == ()
    again = await sync_env.service.plan_invoice(SMITH_1039)
    assert again.plan.is_noop
    assert again.plan.findings == ()


async def test_a_paymo_change_that_agrees_with_the_bookkeeper_needs_nobody(sync_env: SyncEnv) -> None:
    created = await sync_invoice(sync_env)
    await bookkeeper_edits(sync_env, created, DueDate=EXTENDED)
    await sync_env.paymo.update_invoice(SMITH_1039, {"due_date": EXTENDED.isoformat()})
    await change_first_quantity(sync_env, SMITH_1039, Decimal("3"))

    planned = await sync_env.service.plan_invoice(SMITH_1039)

    [update] = planned.plan.writes
    assert update.payload is not None
    assert "DueDate" not in update.payload
    assert "Line" in update.payload
    assert edits(planned.plan) == []
    await apply(sync_env, planned.plan)
    # The bookkeeper's date is ours now too: a later edit of it would be noticed.
    link = the_link(sync_env, "invoice", SMITH_1039)
    assert "DueDate" in link.qbo_fields
    assert now_edited(link, await sync_env.qbo.read(Invoice, str(created.Id))) == ()


async def test_a_link_that_remembers_nothing_reports_nothing(sync_env: SyncEnv) -> None:
    # Links saved before the digests were kept (or to records we never wrote) have nothing to compare.
    created = await sync_invoice(sync_env)
    old = the_link(sync_env, "invoice", SMITH_1039)
    sync_env.ledger.save_link(
        "invoice",
        SMITH_1039,
        old.qbo_id,
        sync_token=old.sync_token,
        content_hash=old.content_hash,
        origin="ours",
    )
    assert the_link(sync_env, "invoice", SMITH_1039).qbo_fingerprint is None
    await bookkeeper_edits(sync_env, created, DueDate=EXTENDED)
    await change_first_quantity(sync_env, SMITH_1039, Decimal("3"))

    planned = await sync_env.service.plan_invoice(SMITH_1039)

    assert [change.action for change in planned.plan.writes] == ["update"]
    assert edits(planned.plan) == []


async def test_an_update_remembers_the_fields_of_earlier_writes_too(sync_env: SyncEnv) -> None:
    created = await sync_invoice(sync_env)
    fields_at_create = set(the_link(sync_env, "invoice", SMITH_1039).qbo_fields)
    await change_first_quantity(sync_env, SMITH_1039, Decimal("3"))
    planned = await sync_env.service.plan_invoice(SMITH_1039)
    [update] = planned.plan.writes
    assert update.payload is not None
    assert "CustomerMemo" not in update.payload
    await apply(sync_env, planned.plan)

    assert set(the_link(sync_env, "invoice", SMITH_1039).qbo_fields) == fields_at_create | set(update.payload)
    # The memo was set by the create, not by this update: an edit of it is still noticed.
    written = await sync_env.qbo.read(Invoice, str(created.Id))
    await bookkeeper_edits(sync_env, written, CustomerMemo=MemoRef(value="Net 45 agreed by phone"))
    await change_first_quantity(sync_env, SMITH_1039, Decimal("2"))
    [finding] = edits((await sync_env.service.plan_invoice(SMITH_1039)).plan)
    assert "CustomerMemo" in finding.message


# --- the other flows that update QuickBooks records ---------------------------------------------


async def test_an_expense_edited_in_quickbooks_is_planned_for_a_human(sync_env: SyncEnv) -> None:
    software = paymo_seed.EXPENSE_SOFTWARE
    await apply(sync_env, await sync_env.service.plan_expenses(expense_ids=[software]))
    link = the_link(sync_env, "expense", software)
    purchase = await sync_env.qbo.read(Purchase, link.qbo_id)
    assert now_edited(link, purchase) == ()
    [line] = purchase.Line or []
    await bookkeeper_edits(sync_env, purchase, Line=[line.model_copy(update={"Description": "Figma seat"})])
    await sync_env.paymo.update_expense(software, {"amount": Decimal("80.00")})

    plan = await sync_env.service.plan_expenses(expense_ids=[software])

    [update] = plan.writes
    assert update.action == "update"
    assert update.before is not None
    assert update.after is not None
    [finding] = edits(plan)
    assert finding.message.startswith(f"QuickBooks Purchase {link.qbo_id} was changed in QuickBooks")
    assert "Line" in finding.message
    assert update.payload is not None
    assert update.before["Line"][0]["Description"] == "Figma seat"
    assert update.after["Line"] == update.payload["Line"]
    assert plan.needs_human == (finding,)


async def test_an_unedited_expense_updates_without_asking(sync_env: SyncEnv) -> None:
    software = paymo_seed.EXPENSE_SOFTWARE
    await apply(sync_env, await sync_env.service.plan_expenses(expense_ids=[software]))
    await sync_env.paymo.update_expense(software, {"amount": Decimal("80.00")})
    plan = await sync_env.service.plan_expenses(expense_ids=[software])
    assert [change.action for change in plan.writes] == ["update"]
    assert plan.needs_human == ()


async def test_an_estimate_edited_in_quickbooks_is_planned_for_a_human(sync_env: SyncEnv) -> None:
    project = paymo_seed.ACME_WEBSITE
    await apply(sync_env, await sync_env.service.plan_budget(paymo_project_id=project))
    link = the_link(sync_env, "budget_estimate", project)
    estimate = await sync_env.qbo.read(Estimate, link.qbo_id)
    assert now_edited(link, estimate) == ()
    await bookkeeper_edits(sync_env, estimate, CustomerMemo=MemoRef(value="Valid until the end of Q1"))
    sync_env.paymo_emu.state.update("projects", project, {"budget_hours": Decimal(100)})

    plan = await sync_env.service.plan_budget(paymo_project_id=project)

    [update] = plan.writes
    assert update.action == "update"
    [finding] = edits(plan)
    assert "CustomerMemo (QuickBooks: Valid until the end of Q1, Paymo: Estimate for " in finding.message
    assert update.before is not None
    assert update.before["CustomerMemo"] == {"value": "Valid until the end of Q1"}


async def test_customer_details_edited_in_quickbooks_are_planned_for_a_human(sync_env: SyncEnv) -> None:
    client = paymo_seed.SMITH_AND_SONS
    await sync_env.paymo.update_client(client, {"phone": "+1 716 555 0100"})
    await apply(sync_env, (await sync_env.service.plan_client_match(client, update_details=True)).plan)
    link = the_link(sync_env, "customer", client)
    customer = await sync_env.qbo.read(Customer, link.qbo_id)
    assert "PrimaryPhone" in link.qbo_fields
    assert "PrimaryEmailAddr" not in link.qbo_fields
    assert now_edited(link, customer) == ()
    # The bookkeeper corrects the phone number; Paymo's changes (phone and e-mail) differ.
    await bookkeeper_edits(sync_env, customer, PrimaryPhone={"FreeFormNumber": "+1 716 555 0199"})
    await sync_env.paymo.update_client(client, {"phone": "+1 716 555 0111", "email": "ap@smithsons.example"})

    found = await sync_env.service.plan_client_match(client, update_details=True)

    [update] = found.plan.writes
    assert update.payload is not None
    assert set(update.payload) == {"PrimaryPhone", "PrimaryEmailAddr"}
    [finding] = edits(found.plan)
    assert "PrimaryPhone" in finding.message
    assert "PrimaryEmailAddr" not in finding.message  # never written by us: nothing of ours to compare
    assert found.plan.needs_human == (finding,)
    assert update.before is not None
    assert update.before["PrimaryPhone.FreeFormNumber"] == "+1 716 555 0199"


async def test_a_pushed_payment_edited_in_quickbooks_is_planned_for_a_human(sync_env: SyncEnv) -> None:
    await sync_invoice(sync_env, ACME_1035)
    await apply(sync_env, await sync_env.service.plan_payments(paymo_invoice_id=ACME_1035))
    seeded = paymo_seed.PAYMENT_IDS[0]
    link = the_link(sync_env, "payment_to_qbo", seeded)
    payment = await sync_env.qbo.read(Payment, link.qbo_id)
    assert now_edited(link, payment) == ()
    await bookkeeper_edits(sync_env, payment, TxnDate=dt.date(2026, 10, 27))  # the day it cleared
    await sync_env.paymo.update_invoice_payment(seeded, {"amount": Decimal("2000.00")})

    plan = await sync_env.service.plan_payments(paymo_invoice_id=ACME_1035)

    [update] = plan.writes
    assert update.action == "update"
    [finding] = edits(plan)
    assert "TxnDate (QuickBooks: 2026-10-27, Paymo: 2026-10-25)" in finding.message
    assert "Line" not in finding.message
    assert "TotalAmt" not in finding.message
