"""A month at volume for the reconciliation report: N Paymo clients, each with an invoice in November 2026,
its QBO customer and invoice (linked in the ledger or not), and payments on one side, both or neither.

Every fifth client varies what the report has to say, so the comparison exercises each branch that reads
QBO payments or Paymo invoices: paid on both sides (pushed, or copied back with one more QBO payment),
paid in Paymo only, paid in QBO only, totals that differ, never synced, a linked pair with one side
dated outside the month, a marked but unlinked QBO invoice, a QBO invoice marked with a Paymo invoice
that no longer exists, and one typed into QBO.
Records are created through the services' own APIs, so ids and totals are deterministic.

Imported by module name (``from reconcile_volume_support import seed_month``), like sync_support.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

import httpx
from sync_support import PAYMO_BASE_URL, SyncEnv

from paymo_qb_mcp.domain.keys import marker
from paymo_qb_mcp.quickbooks.models import (
    Customer,
    Invoice,
    Line,
    LinkedTxn,
    Payment,
    Ref,
    SalesItemLineDetail,
)
from paymo_qb_mcp.sandbox.faults import RateBudget
from paymo_qb_mcp.sync.payments import (
    KIND_INVOICE,
    KIND_PAYMENT_TO_PAYMO,
    KIND_PAYMENT_TO_QBO,
    payment_done_key,
    qbo_payment_note,
)

OCTOBER_31, NOVEMBER_1, NOVEMBER_30 = dt.date(2026, 10, 31), dt.date(2026, 11, 1), dt.date(2026, 11, 30)
_EXEMPT = Ref(value="3")  # policies.yaml's exempt code: QBO's total is the line amount
_SERVICES = Ref(value="1")


def _request_id() -> str:
    return str(uuid.uuid4())


async def _paymo_invoice(
    api: httpx.AsyncClient, client_id: int, day: dt.date, amount: Decimal
) -> dict[str, Any]:
    created = await api.post(
        "invoices",
        json={
            "client_id": client_id,
            "currency": "CAD",
            "date": day.isoformat(),
            "tax": 0,
            "tax2": 0,
            "items": [{"item": "Design work", "price_unit": str(amount), "quantity": 1}],
        },
    )
    created.raise_for_status()
    invoice: dict[str, Any] = created.json()["invoices"][0]
    sent = await api.post(f"invoices/{invoice['id']}", json={"status": "sent"})
    sent.raise_for_status()
    return invoice


async def _qbo_invoice(
    env: SyncEnv, customer: str, day: dt.date, amount: Decimal, note: str | None
) -> Invoice:
    line = Line(
        Amount=amount,
        DetailType="SalesItemLineDetail",
        Description="Design work",
        SalesItemLineDetail=SalesItemLineDetail(
            ItemRef=_SERVICES, Qty=Decimal(1), UnitPrice=amount, TaxCodeRef=_EXEMPT
        ),
    )
    invoice = Invoice(
        CustomerRef=Ref(value=customer),
        TxnDate=day,
        Line=[line],
        PrivateNote=note,
        CurrencyRef=Ref(value="CAD"),
    )
    return await env.qbo.create(invoice, request_id=_request_id())


async def _qbo_payment(
    env: SyncEnv, invoice: Invoice, amount: Decimal, day: dt.date, note: str | None
) -> Payment:
    assert invoice.CustomerRef is not None
    assert invoice.Id is not None
    payment = Payment(
        CustomerRef=Ref(value=invoice.CustomerRef.value),
        TotalAmt=amount,
        TxnDate=day,
        Line=[Line(Amount=amount, LinkedTxn=[LinkedTxn(TxnId=invoice.Id, TxnType="Invoice")])],
        PrivateNote=note,
        CurrencyRef=Ref(value="CAD"),
    )
    return await env.qbo.create(payment, request_id=_request_id())


async def seed_month(env: SyncEnv, clients: int) -> None:
    """``clients`` Paymo clients and QBO customers, one November invoice each (see the module docstring)."""
    auth = httpx.BasicAuth(env.paymo_emu.api_key, "X")
    transport = httpx.ASGITransport(app=env.paymo_emu.app)
    # Seeding outruns even the relaxed limit of Paymo's emulator (1,000 requests in 5 s), and its window
    # would still be full when the report runs: the limit stays lifted (these tests count requests).
    env.paymo_emu.rate_budget = RateBudget(10**9, 5.0)
    async with httpx.AsyncClient(transport=transport, base_url=PAYMO_BASE_URL + "/", auth=auth) as api:
        for n in range(clients):
            await _one_client(env, api, n)


async def _one_client(env: SyncEnv, api: httpx.AsyncClient, n: int) -> None:
    name = f"Volume Client {n:04d}"
    client = await env.paymo.create_client({"name": name})
    customer = await env.qbo.create(Customer(DisplayName=name), request_id=_request_id())
    assert customer.Id is not None
    day = NOVEMBER_1 + dt.timedelta(days=n % 30)
    amount = Decimal(100 + n) + Decimal("0.25")
    case = n % 10
    if case == 8:
        # Typed into QuickBooks: no Paymo counterpart at all.
        await _qbo_invoice(env, customer.Id, day, amount, None)
        return
    # Case 6 dates one side in October: the Paymo invoice, or (every other time) the QBO one.
    october = case == 6 and (n // 10) % 2 == 0, case == 6 and (n // 10) % 2 == 1
    paymo = await _paymo_invoice(api, client.id, OCTOBER_31 if october[0] else day, amount)
    paymo_id = int(paymo["id"])
    if case == 4:
        return  # never synced
    qbo_amount = amount + Decimal("10.00") if case == 3 else amount
    if case == 9:
        # Marked with a Paymo invoice that was deleted since; and this one is linked normally.
        await _qbo_invoice(env, customer.Id, day, amount, marker(KIND_INVOICE, 990_000 + n))
    qbo_day = OCTOBER_31 if october[1] else day
    qbo = await _qbo_invoice(env, customer.Id, qbo_day, qbo_amount, marker(KIND_INVOICE, paymo_id))
    assert qbo.Id is not None
    if case == 7:
        return  # carries the marker but the link was never stored
    env.ledger.save_link(KIND_INVOICE, paymo_id, qbo.Id, sync_token="0", content_hash="h", origin="ours")
    half = (amount / 2).quantize(Decimal("0.01"))
    if case == 0:
        # Paid in Paymo, pushed to QBO (linked), all settled.
        paid = await env.paymo.create_invoice_payment(invoice_id=paymo_id, amount=amount, date=day)
        pushed = await _qbo_payment(env, qbo, amount, day, f"From Paymo payment {paid.id}")
        assert pushed.Id is not None
        env.ledger.save_link(
            KIND_PAYMENT_TO_QBO, paid.id, pushed.Id, sync_token="0", content_hash="h", origin="ours"
        )
    elif case == 1:
        await env.paymo.create_invoice_payment(invoice_id=paymo_id, amount=half, date=day)
    elif case == 2:
        await _qbo_payment(env, qbo, half, day, None)
    elif case == 5:
        # Received in QBO and copied to Paymo by an earlier mark_paid, then a second QBO payment not copied.
        received = await _qbo_payment(env, qbo, half, day, None)
        assert received.Id is not None
        copied = await env.paymo.create_invoice_payment(
            invoice_id=paymo_id, amount=half, date=day, notes=qbo_payment_note(received.Id)
        )
        env.ledger.mark_done(KIND_PAYMENT_TO_PAYMO, payment_done_key(received.Id, qbo.Id), str(copied.id))
        await _qbo_payment(env, qbo, Decimal("1.00"), day, None)
