"""mark_paid through a real MCP session, as an accounts-receivable clerk uses it: a payment entered in
Paymo reaches QuickBooks, one entered in QuickBooks reaches Paymo, 40 % then 60 % settles both sides,
a repeat writes nothing, our own copies are never echoed back, and one cheque for two invoices."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

from e2e_support import E2eEnv, call, e2e_env, money, paymo_client

from paymo_qb_mcp.paymo.models import Invoice as PaymoInvoice
from paymo_qb_mcp.quickbooks.models import Invoice, Line, LinkedTxn, Payment, Ref
from paymo_qb_mcp.sandbox.paymo import seed

ACME_1035 = seed.INVOICE_IDS["INV-2026-1035"]  # CAD 5 089.52; Paymo already has a 40 % payment
ACME_1040 = seed.INVOICE_IDS["INV-2026-1040"]  # CAD 11 842.43, draft in Paymo
SMITH_1039 = seed.INVOICE_IDS["INV-2026-1039"]  # CAD 623.62, unpaid
SEEDED_40_PERCENT = seed.PAYMENT_IDS[0]


async def paymo_invoice(env: E2eEnv, invoice_id: int) -> PaymoInvoice:
    async with paymo_client(env.server_env) as paymo:
        found: PaymoInvoice = await paymo.get_invoice(invoice_id, include=["invoicepayments"])
        return found


async def paymo_payment_count(env: E2eEnv) -> int:
    async with paymo_client(env.server_env) as paymo:
        return len(await paymo.list_invoice_payments())


async def sync(client: Any, env: E2eEnv, invoice_id: int) -> Invoice:
    out = await call(client, "sync_invoice", paymo_invoice_id=invoice_id)
    assert out["status"] == "applied", out
    assert out["qbo_total"] == out["paymo_total"]
    return await env.qbo_read(Invoice, out["qbo_invoice_id"])


def payments_on(payments: list[Payment], invoice: Invoice) -> list[Payment]:
    return [
        payment
        for payment in payments
        if any(link.TxnId == invoice.Id for line in payment.Line or [] for link in line.LinkedTxn or [])
    ]


async def bookkeeper_enters_payment(
    env: E2eEnv, day: dt.date, *applied: tuple[Invoice, Decimal], reference: str
) -> Payment:
    """What a bookkeeper does in QuickBooks: receive a payment against open invoices."""
    customer = applied[0][0].CustomerRef
    assert customer is not None
    payment = Payment(
        CustomerRef=Ref(value=customer.value),
        TotalAmt=sum((amount for _, amount in applied), Decimal(0)),
        TxnDate=day,
        PaymentRefNum=reference,
        Line=[
            Line(Amount=amount, LinkedTxn=[LinkedTxn(TxnId=str(invoice.Id), TxnType="Invoice")])
            for invoice, amount in applied
        ],
    )
    created: Payment = await env.qbo_create(payment, request_id=str(uuid.uuid4()))
    return created


async def test_paymo_payments_of_40_then_60_percent_settle_the_quickbooks_invoice(tmp_path: Path) -> None:
    env = e2e_env(tmp_path)
    async with env.client() as client:
        invoice = await sync(client, env, ACME_1035)
        assert invoice.TotalAmt == Decimal("5089.52")
        assert invoice.Balance == Decimal("5089.52")

        first = await call(client, "mark_paid", paymo_invoice_id=ACME_1035)
        assert first["status"] == "applied"
        [pushed] = [r for r in first["results"] if r["action"] == "create"]
        assert (pushed["entity"], pushed["paymo_id"]) == ("payment", str(SEEDED_40_PERCENT))
        assert first["totals"] == {"CAD": "2035.81"}

        # QuickBooks: a Payment of the 40 %, linked to the synced invoice, whose balance drops.
        payment = await env.qbo_read(Payment, pushed["qbo_id"])
        assert payment.TotalAmt == Decimal("2035.81")
        assert payment.CustomerRef == invoice.CustomerRef
        [line] = payment.Line or []
        assert [(link.TxnId, link.TxnType) for link in line.LinkedTxn or []] == [(invoice.Id, "Invoice")]
        assert (await env.qbo_read(Invoice, str(invoice.Id))).Balance == Decimal("3053.71")
        [write] = env.writes("mark_paid")
        assert write["ids"] == {
            "paymo": str(SEEDED_40_PERCENT),
            "quickbooks": payment.Id,
            "entity": "payment",
        }
        assert write["outcome"] == "created"

        # The client pays the remaining 60 %; the clerk records it in Paymo.
        async with paymo_client(env.server_env) as paymo:
            rest = await paymo.create_invoice_payment(
                invoice_id=ACME_1035,
                amount=Decimal("3053.71"),
                date=dt.date(2026, 11, 18),
                notes="Cheque 1142",
            )
        second = await call(client, "mark_paid", paymo_invoice_id=ACME_1035)
        assert second["status"] == "applied"
        [pushed_rest] = [r for r in second["results"] if r["action"] == "create"]
        assert pushed_rest["paymo_id"] == str(rest.id)

        settled = await env.qbo_read(Invoice, str(invoice.Id))
        assert settled.Balance == Decimal("0")
        on_invoice = payments_on(await env.qbo_all(Payment), invoice)
        assert sorted(money(p.TotalAmt) for p in on_invoice) == [Decimal("2035.81"), Decimal("3053.71")]
        paymo_side = await paymo_invoice(env, ACME_1035)
        assert paymo_side.status == "paid"
        # Our QuickBooks payments are not echoed back into Paymo: it still has exactly its own two.
        assert sorted(p.id for p in paymo_side.invoicepayments or []) == [SEEDED_40_PERCENT, rest.id]

        # Once more: nothing to do, nothing written, on either side.
        before = (len(await env.qbo_all(Payment)), await paymo_payment_count(env), len(env.audit()))
        third = await call(client, "mark_paid", paymo_invoice_id=ACME_1035)
        assert third["status"] == "unchanged"
        assert env.writes("mark_paid", since=before[2]) == []
        assert (len(await env.qbo_all(Payment)), await paymo_payment_count(env)) == before[:2]
        assert (await paymo_invoice(env, ACME_1035)).status == "paid"
    assert env.outcomes("mark_paid") == ["applied", "applied", "unchanged"]


async def test_quickbooks_payments_of_40_then_60_percent_mark_the_paymo_invoice_paid(tmp_path: Path) -> None:
    env = e2e_env(tmp_path)
    async with env.client() as client:
        invoice = await sync(client, env, SMITH_1039)
        assert invoice.TotalAmt == Decimal("623.62")

        forty = await bookkeeper_enters_payment(
            env, dt.date(2026, 11, 10), (invoice, Decimal("249.45")), reference="EFT-77"
        )
        first = await call(client, "mark_paid", paymo_invoice_id=SMITH_1039, direction="to_paymo")
        assert first["status"] == "applied"
        [copied] = [r for r in first["results"] if r["action"] == "create"]
        assert copied["qbo_id"] == forty.Id
        paymo_side = await paymo_invoice(env, SMITH_1039)
        [recorded] = paymo_side.invoicepayments or []
        assert (recorded.amount, recorded.date) == (Decimal("249.45"), dt.date(2026, 11, 10))
        assert f"qbo:payment:{forty.Id}" in (recorded.notes or "")
        assert paymo_side.status == "sent"  # Paymo has no partially-paid status
        [write] = env.writes("mark_paid")
        assert write["ids"] == {"paymo": str(recorded.id), "quickbooks": forty.Id, "entity": "payment"}
        assert write["outcome"] == "created"

        sixty = await bookkeeper_enters_payment(
            env, dt.date(2026, 11, 19), (invoice, Decimal("374.17")), reference="EFT-78"
        )
        second = await call(client, "mark_paid", paymo_invoice_id=SMITH_1039)  # both directions
        assert second["status"] == "applied"
        assert [(r["action"], r["qbo_id"]) for r in second["results"] if r["action"] != "skip"] == [
            ("create", sixty.Id)
        ]
        paymo_side = await paymo_invoice(env, SMITH_1039)
        assert paymo_side.status == "paid"
        assert sorted(p.amount for p in paymo_side.invoicepayments or []) == [
            Decimal("249.45"),
            Decimal("374.17"),
        ]
        assert (await env.qbo_read(Invoice, str(invoice.Id))).Balance == Decimal("0")

        # The Paymo copies we wrote are never pushed back to QuickBooks as new payments.
        before = (len(await env.qbo_all(Payment)), await paymo_payment_count(env), len(env.audit()))
        third = await call(client, "mark_paid", paymo_invoice_id=SMITH_1039)
        assert third["status"] == "unchanged"
        assert env.writes(since=before[2]) == []
        assert (len(await env.qbo_all(Payment)), await paymo_payment_count(env)) == before[:2]
        assert sorted(str(p.Id) for p in payments_on(await env.qbo_all(Payment), invoice)) == sorted(
            [str(forty.Id), str(sixty.Id)]
        )


async def test_one_cheque_for_two_invoices_is_split_across_both_paymo_invoices(tmp_path: Path) -> None:
    env = e2e_env(tmp_path)
    async with env.client() as client:
        older = await sync(client, env, ACME_1035)
        newer = await sync(client, env, ACME_1040)
        cheque = await bookkeeper_enters_payment(
            env,
            dt.date(2026, 11, 16),
            (older, Decimal("1000.00")),
            (newer, Decimal("2500.50")),
            reference="Cheque 2211",
        )
        out = await call(client, "mark_paid", since=dt.date(2026, 11, 1), direction="to_paymo")
        assert out["status"] == "applied"
        assert out["totals"] == {"CAD": "3500.50"}
        writes = env.writes("mark_paid")
        assert sorted(w["ids"]["quickbooks"] for w in writes) == [cheque.Id, cheque.Id]

        older_paymo = await paymo_invoice(env, ACME_1035)
        newer_paymo = await paymo_invoice(env, ACME_1040)
        from_cheque = [
            (p.invoice_id, p.amount)
            for invoice in (older_paymo, newer_paymo)
            for p in invoice.invoicepayments or []
            if f"qbo:payment:{cheque.Id}" in (p.notes or "")
        ]
        assert sorted(from_cheque) == [(ACME_1035, Decimal("1000.00")), (ACME_1040, Decimal("2500.50"))]
        assert sorted(str(w["ids"]["paymo"]) for w in writes) == sorted(
            str(p.id)
            for invoice in (older_paymo, newer_paymo)
            for p in invoice.invoicepayments or []
            if p.id != SEEDED_40_PERCENT
        )
        # Both sides agree on what is still open.
        assert (
            (await env.qbo_read(Invoice, str(newer.Id))).Balance == newer_paymo.balance == Decimal("9341.93")
        )

        again = await call(client, "mark_paid", since=dt.date(2026, 11, 1), direction="to_paymo")
        assert again["status"] == "unchanged"


async def test_payments_received_in_quickbooks_on_two_invoices_reach_paymo_in_one_call(
    tmp_path: Path,
) -> None:
    # Each copy has no Paymo id before it exists; they once counted as one record "planned differently",
    # so each run copied one payment and left the others out as CONFLICTING_ITEMS.
    env = e2e_env(tmp_path)
    async with env.client() as client:
        smith = await sync(client, env, SMITH_1039)
        acme = await sync(client, env, ACME_1035)
        first = await bookkeeper_enters_payment(
            env, dt.date(2026, 11, 12), (smith, Decimal("100.00")), reference="EFT-90"
        )
        second = await bookkeeper_enters_payment(
            env, dt.date(2026, 11, 13), (acme, Decimal("200.00")), reference="EFT-91"
        )

        out = await call(client, "mark_paid", since=dt.date(2026, 11, 1), direction="to_paymo")
        assert out["status"] == "applied"
        assert [r for r in out["results"] if r["status"] == "blocked"] == []
        assert sorted(r["qbo_id"] for r in out["results"] if r["action"] == "create") == sorted(
            [first.Id, second.Id]
        )
        copied = {
            invoice_id: [p.amount for p in (await paymo_invoice(env, invoice_id)).invoicepayments or []]
            for invoice_id in (SMITH_1039, ACME_1035)
        }
        assert copied == {SMITH_1039: [Decimal("100.00")], ACME_1035: [Decimal("2035.81"), Decimal("200.00")]}
        assert (await call(client, "mark_paid", since=dt.date(2026, 11, 1), direction="to_paymo"))[
            "status"
        ] == "unchanged"
