"""Month end as a controller runs it: reconciliation_report first, then the write tools on exactly what it
listed, then the report again. What the report lists must be what the write tools then fix — the same
invoices, the same payments, the same hours, the same expenses — and afterwards nothing is left."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from e2e_support import E2eEnv, call, e2e_env, money
from server_support import Human

from paymo_qb_mcp.quickbooks.models import Invoice, Payment, Purchase
from paymo_qb_mcp.sandbox.paymo import seed

OCTOBER_1, NOVEMBER_30 = dt.date(2026, 10, 1), dt.date(2026, 11, 30)
PERIOD = {"date_from": OCTOBER_1, "date_to": NOVEMBER_30}


def hours_by_group(report: dict[str, Any]) -> dict[tuple[int, int], Decimal]:
    return {
        (row["paymo_client_id"], row["paymo_project_id"]): money(row["hours"])
        for row in report["unbilled_time"]
    }


async def pushed_hours_by_customer(env: E2eEnv, invoice_ids: list[str]) -> dict[str, Decimal]:
    """Σ hours (Qty) per QBO customer on the draft invoices aggregate_time created."""
    found: dict[str, Decimal] = {}
    for invoice_id in invoice_ids:
        invoice = await env.qbo_read(Invoice, invoice_id)
        assert invoice.CustomerRef is not None
        for line in invoice.Line or []:
            if line.SalesItemLineDetail is not None:
                customer = invoice.CustomerRef.value
                found[customer] = found.get(customer, Decimal(0)) + money(line.SalesItemLineDetail.Qty)
    return found


@pytest.mark.parametrize("mode", ["auto", "legacy"])  # both protocol eras
async def test_what_the_report_lists_is_what_the_write_tools_fix(tmp_path: Path, mode: str) -> None:
    human = Human("accept")
    env = e2e_env(tmp_path, human=human)
    async with env.client(mode=mode) as client:
        before = await call(client, "reconciliation_report", **PERIOD)
        assert before["clean_period"] is False
        assert "notice" in before
        missing = {
            row["paymo_invoice_id"]: money(row["paymo_total"])
            for row in before["invoices"]
            if row["kind"] == "missing_in_quickbooks"
        }
        assert sorted(missing) == [
            seed.INVOICE_IDS[n]
            for n in ("INV-2026-1035", "INV-2026-1036", "INV-2026-1037", "INV-2026-1039", "INV-2026-1041")
        ]
        unbilled = hours_by_group(before)
        unpushed = {row["paymo_expense_id"]: money(row["amount"]) for row in before["expenses_not_pushed"]}
        assert before["payments"] == []  # nothing is in QuickBooks yet, so no payment can differ

        # 1. Every missing invoice is synced, to Paymo's total.
        customer_of: dict[int, str] = {}  # Paymo client id → QBO customer id, from the tools' results
        for invoice_id, total in missing.items():
            out = await call(client, "sync_invoice", paymo_invoice_id=invoice_id)
            customer_of |= {
                int(r["paymo_id"]): r["qbo_id"] for r in out["results"] if r["entity"] == "customer"
            }
            assert out["status"] == "applied", out
            assert money(out["qbo_total"]) == money(out["paymo_total"]) == total
            assert money((await env.qbo_read(Invoice, out["qbo_invoice_id"])).TotalAmt) == total
        # Large invoices and the new Stark customer went through the human; nothing else did.
        assert len(human.seen) == 4

        # 2. Synced invoices now show the payments Paymo has and QuickBooks lacks: mark_paid copies
        # exactly those.
        middle = await call(client, "reconciliation_report", **PERIOD)
        # INV-2026-1036 is paid in Paymo and still open in QuickBooks until its payment is copied.
        assert [(row["paymo_number"], row["kind"]) for row in middle["invoices"]] == [
            ("INV-2026-1036", "status_differs")
        ]
        only_in_paymo = {
            row["paymo_payment_id"]: money(row["amount"])
            for row in middle["payments"]
            if row["kind"] == "only_in_paymo"
        }
        assert only_in_paymo == {
            seed.PAYMENT_IDS[0]: Decimal("2035.81"),
            seed.PAYMENT_IDS[1]: Decimal("6898.50"),
        }
        # Each such invoice's open balances differ by exactly the payments QuickBooks lacks.
        balance_gaps = {
            row["paymo_invoice_id"]: money(row["paymo_balance"]) - money(row["qbo_balance"])
            for row in middle["payments"]
            if row["kind"] == "balance_differs"
        }
        lacking: dict[int, Decimal] = {}
        for row in middle["payments"]:
            if row["kind"] == "only_in_paymo":
                lacking[row["paymo_invoice_id"]] = lacking.get(row["paymo_invoice_id"], Decimal(0)) - money(
                    row["amount"]
                )
        assert balance_gaps == lacking
        assert {row["kind"] for row in middle["payments"]} == {"only_in_paymo", "balance_differs"}
        paid = await call(client, "mark_paid", since=OCTOBER_1)
        assert paid["status"] == "applied"
        copied = {int(r["paymo_id"]): r["qbo_id"] for r in paid["results"] if r["action"] == "create"}
        assert set(copied) == set(only_in_paymo)
        for paymo_payment_id, qbo_payment_id in copied.items():
            payment = await env.qbo_read(Payment, qbo_payment_id)
            assert payment.TotalAmt == only_in_paymo[paymo_payment_id]

        # 3. Unbilled time becomes draft invoice lines: the same hours per client and project.
        time = await call(client, "aggregate_time", target="invoice_lines", **PERIOD)
        assert time["status"] == "applied"
        drafts = [
            r["qbo_id"] for r in time["results"] if r["entity"] == "invoice" and r["action"] == "create"
        ]
        # One draft per client, holding the hours the report listed for that client (a group of
        # several rates is split into lines, so compare per client).
        listed_by_customer: dict[str, Decimal] = {}
        for (client_id, _project_id), hours in unbilled.items():
            customer = customer_of[client_id]
            listed_by_customer[customer] = listed_by_customer.get(customer, Decimal(0)) + hours
        assert await pushed_hours_by_customer(env, drafts) == listed_by_customer
        assert len(drafts) == len({client_id for client_id, _ in unbilled})

        # 4. Unpushed expenses become Purchases: exactly the listed ones, at their amounts.
        expenses = await call(client, "push_expenses", **PERIOD)
        assert expenses["status"] == "applied"
        created = {int(r["paymo_id"]): r["qbo_id"] for r in expenses["results"] if r["entity"] == "expense"}
        assert set(created) == set(unpushed)
        for expense_id, purchase_id in created.items():
            assert (await env.qbo_read(Purchase, purchase_id)).TotalAmt == unpushed[expense_id]

        after = await call(client, "reconciliation_report", **PERIOD)
        status = await call(client, "sync_status")
    assert after["clean_period"] is True, after
    # Every create was linked: nothing is left half-done, and the links are what the tools wrote.
    assert status["pending_intents"] == 0
    links = {row["kind"]: row["links"] for row in status["links"]}
    assert links["invoice"] == len(missing)
    assert links["expense"] == len(unpushed)
    assert links["payment_to_qbo"] == len(only_in_paymo)
    assert after["summary"].endswith("Paymo and QuickBooks agree: nothing to reconcile.")
