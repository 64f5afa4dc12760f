"""create_po_from_budget through a real MCP session: a Paymo project budget becomes a QuickBooks Estimate
for the client or a PurchaseOrder to the subcontractor, once, totalling the budget Paymo shows."""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from e2e_support import US_MAPPINGS, call, e2e_env, money, paymo_client

from paymo_qb_mcp.quickbooks.models import Customer, Estimate, Invoice, Line, PurchaseOrder
from paymo_qb_mcp.sandbox.paymo import seed
from paymo_qb_mcp.sandbox.quickbooks import seed as qbo_seed

GST_AND_QST = Decimal("0.14975")  # 5 % + 9.975 %, not compound
US_SALES_TAX = Decimal("0.08875")  # the New York office's one Paymo tax


def sales_total(lines: list[Line] | None) -> Decimal:
    return sum(
        (line.Amount or Decimal(0) for line in lines or [] if line.DetailType == "SalesItemLineDetail"),
        Decimal(0),
    )


async def test_a_time_and_materials_budget_becomes_one_estimate_for_the_client(tmp_path: Path) -> None:
    env = e2e_env(tmp_path)
    async with paymo_client(env.server_env) as paymo:
        project = await paymo.get_project(seed.ACME_WEBSITE)
    assert project.budget_hours is not None
    assert project.price_per_hour is not None
    budget = project.budget_hours * project.price_per_hour
    async with env.client() as client:
        out = await call(client, "create_po_from_budget", paymo_project_id=seed.ACME_WEBSITE, kind="estimate")
        assert out["status"] == "applied"
        [created] = [r for r in out["results"] if r["action"] == "create"]
        assert (created["entity"], created["paymo_id"]) == ("estimate", str(seed.ACME_WEBSITE))
        again = await call(
            client, "create_po_from_budget", paymo_project_id=seed.ACME_WEBSITE, kind="estimate"
        )
        assert again["status"] == "unchanged"

    [estimate] = await env.qbo_all(Estimate)
    assert estimate.Id == created["qbo_id"]
    assert sales_total(estimate.Line) == budget == Decimal("18000")
    # Taxed like the client's Paymo invoices (GST + QST), to the cent.
    assert estimate.TotalAmt == (budget * (1 + GST_AND_QST)).quantize(Decimal("0.01"))
    assert estimate.CustomerRef is not None
    assert estimate.CustomerRef.value == qbo_seed.CUSTOMER_ACME
    assert [
        (w["ids"]["paymo"], w["ids"]["quickbooks"], w["outcome"])
        for w in env.writes()
        if w["ids"]["entity"] == "estimate"
    ] == [(str(seed.ACME_WEBSITE), estimate.Id, "created")]


async def test_a_flat_budget_becomes_an_estimate_and_a_purchase_order_each_once(tmp_path: Path) -> None:
    env = e2e_env(tmp_path)
    async with paymo_client(env.server_env) as paymo:
        project = await paymo.get_project(seed.STARK_PROTOTYPE)
        paymo_estimate = await paymo.get_estimate(seed.ESTIMATE_ID)
    assert project.price is not None
    async with env.client() as client:
        # Stark Industries has no QuickBooks customer: creating one needs the human (who approves).
        estimate_out = await call(client, "create_po_from_budget", paymo_project_id=seed.STARK_PROTOTYPE)
        order_out = await call(
            client, "create_po_from_budget", paymo_project_id=seed.STARK_PROTOTYPE, kind="purchase_order"
        )
        estimate_again = await call(client, "create_po_from_budget", paymo_project_id=seed.STARK_PROTOTYPE)
        order_again = await call(
            client, "create_po_from_budget", paymo_project_id=seed.STARK_PROTOTYPE, kind="purchase_order"
        )
    assert estimate_out["status"] == order_out["status"] == "applied"
    assert estimate_again["status"] == order_again["status"] == "unchanged"
    assert len(env.human.seen) == 1
    assert "Stark Industries" in env.human.seen[0].message

    [estimate] = await env.qbo_all(Estimate)
    assert sales_total(estimate.Line) == project.price
    # The same total as the estimate the client accepted in Paymo.
    assert estimate.TotalAmt == paymo_estimate.total
    assert estimate.CustomerRef is not None
    customer = await env.qbo_read(Customer, estimate.CustomerRef.value)
    assert customer.DisplayName == "Stark Industries"
    assert [c.Id for c in await env.qbo_all(Customer) if c.DisplayName == "Stark Industries"] == [customer.Id]

    [order] = await env.qbo_all(PurchaseOrder)
    assert order.TotalAmt == sum((line.Amount or Decimal(0) for line in order.Line or []), Decimal(0))
    assert order.TotalAmt == project.price
    assert order.VendorRef is not None
    assert order.VendorRef.value == qbo_seed.VENDOR_PIXEL_FREELANCE
    assert order.POStatus == "Open"
    budget_writes = {
        (w["ids"]["entity"], w["ids"]["paymo"], w["ids"]["quickbooks"])
        for w in env.writes("create_po_from_budget")
        if w["ids"]["entity"] != "customer"
    }
    assert budget_writes == {
        ("estimate", str(seed.STARK_PROTOTYPE), estimate.Id),
        ("purchase_order", str(seed.STARK_PROTOTYPE), order.Id),
    }


async def test_on_the_us_company_estimates_and_time_drafts_carry_the_sales_tax_paymo_charges(
    tmp_path: Path,
) -> None:
    # The New York office charges 8.875 % on every Paymo invoice; QuickBooks' AST would pick a rate from
    # each customer's address (Stark is in California, Acme in Toronto). Synced invoices state Paymo's tax,
    # so an estimate or a draft built from Paymo must too, or two documents for one client disagree.
    env = e2e_env(tmp_path, tax_model="us", mappings=US_MAPPINGS, replace_mappings=True)
    async with paymo_client(env.server_env) as paymo:
        accepted = await paymo.get_estimate(seed.ESTIMATE_ID)
    async with env.client() as client:
        invoice = await call(client, "sync_invoice", paymo_invoice_id=seed.INVOICE_IDS["INV-2026-1041"])
        budget = await call(client, "create_po_from_budget", paymo_project_id=seed.STARK_PROTOTYPE)
        time = await call(
            client,
            "aggregate_time",
            date_from=dt.date(2026, 10, 1),
            date_to=dt.date(2026, 11, 30),
            target="invoice_lines",
        )
        [first_estimate] = await env.qbo_all(Estimate)
        assert first_estimate.TxnTaxDetail is not None
        assert first_estimate.TxnTaxDetail.TotalTax == accepted.tax_amount == Decimal("2218.75")
        assert first_estimate.TotalAmt == accepted.total  # the estimate the client accepted in Paymo
        # The scope grows to 30 000 before the client signs: the estimate is updated, still at Paymo's tax.
        await env.paymo_put("projects", seed.STARK_PROTOTYPE, {"price": "30000"})
        grown = await call(client, "create_po_from_budget", paymo_project_id=seed.STARK_PROTOTYPE)
        again = [
            await call(client, "create_po_from_budget", paymo_project_id=seed.STARK_PROTOTYPE),
            await call(
                client,
                "aggregate_time",
                date_from=dt.date(2026, 10, 1),
                date_to=dt.date(2026, 11, 30),
                target="invoice_lines",
            ),
        ]
    assert [out["status"] for out in (invoice, budget, time)] == ["applied"] * 3
    assert [out["status"] for out in again] == ["unchanged"] * 2

    stark_invoice = await env.qbo_read(Invoice, invoice["qbo_invoice_id"])
    assert stark_invoice.TotalAmt == seed.INVOICE_TOTALS["us"]["INV-2026-1041"]
    assert [r["action"] for r in grown["results"] if r["entity"] == "estimate"] == ["update"]
    [estimate] = await env.qbo_all(Estimate)
    assert (
        estimate.Id
        == first_estimate.Id
        == next(r["qbo_id"] for r in budget["results"] if r["entity"] == "estimate")
    )
    assert sales_total(estimate.Line) == Decimal("30000")
    assert estimate.TxnTaxDetail is not None
    assert estimate.TxnTaxDetail.TotalTax == Decimal("2662.50")  # 8.875 % of 30 000, as Paymo charges
    assert estimate.TotalAmt == Decimal("32662.50")
    created_write = next(
        w
        for w in env.writes("create_po_from_budget")
        if w["ids"]["entity"] == "estimate" and w["outcome"] == "created"
    )
    assert created_write["ids"]["quickbooks"] == estimate.Id

    drafts = [r["qbo_id"] for r in time["results"] if r["entity"] == "invoice" and r["action"] == "create"]
    assert len(drafts) == 3
    for draft_id in drafts:
        draft = await env.qbo_read(Invoice, draft_id)
        subtotal = sales_total(draft.Line)
        taxed = (
            draft.CurrencyRef is None or draft.CurrencyRef.value == "USD"
        )  # Globex is billed in CAD, untaxed
        paymo_tax = (
            (subtotal * US_SALES_TAX).quantize(Decimal("0.01"), ROUND_HALF_UP) if taxed else Decimal(0)
        )
        assert draft.TxnTaxDetail is not None
        assert money(draft.TxnTaxDetail.TotalTax or 0) == paymo_tax, draft.CustomerRef
        assert draft.TotalAmt == subtotal + paymo_tax
