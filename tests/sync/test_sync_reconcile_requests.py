"""The reconciliation report at volume: its requests do not grow with the number of customers (no read per
customer or per invoice), and what it says is exactly what the one-read-per-record version said."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from reconcile_volume_support import NOVEMBER_1, NOVEMBER_30, seed_month
from sync_support import SyncEnv, build_sync_env

from paymo_qb_mcp.domain.keys import find_markers
from paymo_qb_mcp.errors import NotFound
from paymo_qb_mcp.quickbooks import models as qbo_models
from paymo_qb_mcp.quickbooks.models import Invoice, LinkedTxn, Ref, is_voided
from paymo_qb_mcp.quickbooks.query import eq, ge
from paymo_qb_mcp.sync import reconcile
from paymo_qb_mcp.sync.context import SyncContext
from paymo_qb_mcp.sync.payments import KIND_INVOICE, qbo_id_order, qbo_payments_for
from paymo_qb_mcp.sync.reports import InvoiceDifference, ReconciliationReport

# --- the code before this change, kept to compare against ------------------------------------------


async def _old_qbo_payments_for(
    ctx: SyncContext, invoices: Any, since: dt.date | None, *, per_customer: bool
) -> list[qbo_models.Payment]:
    """One Payment query per customer and one read per payment only an invoice names."""
    found: dict[str, qbo_models.Payment] = {}
    date_condition = [ge("TxnDate", since)] if since is not None else []
    if per_customer or since is None:
        customers = sorted({inv.CustomerRef.value for inv in invoices if inv.CustomerRef is not None})
        for customer in customers:
            for row in await ctx.qbo.query_all(
                qbo_models.Payment, eq("CustomerRef", customer), *date_condition
            ):
                if row.Id is not None:
                    found[row.Id] = row
    else:
        for row in await ctx.qbo.query_all(qbo_models.Payment, *date_condition):
            if row.Id is not None:
                found[row.Id] = row
    linked = sorted(
        {
            link.TxnId
            for inv in invoices
            for link in inv.LinkedTxn or ()
            if link.TxnType == "Payment" and link.TxnId not in found
        }
    )
    for payment_id in linked:
        try:
            row = await ctx.qbo.read(qbo_models.Payment, payment_id)
        except NotFound:
            continue
        if row.Id is not None and (since is None or (row.TxnDate is not None and row.TxnDate >= since)):
            found[row.Id] = row
    return sorted(found.values(), key=lambda payment: qbo_id_order(payment.Id))


async def _old_qbo_only(self: Any, ctx: SyncContext, side: Any) -> None:
    """One Paymo read per QBO invoice whose source is dated outside the period."""
    known = {invoice.id for invoice in side.paymo}
    for row in sorted(side.qbo_in_period, key=lambda r: qbo_id_order(r.Id)):
        if row.Id is None or row.Id in side.accounted_qbo_ids or is_voided(row):
            continue
        currency = row.CurrencyRef.value if row.CurrencyRef else self.facts.home_currency
        link = self.ledger.link_by_qbo(KIND_INVOICE, row.Id)
        sources = [int(link.paymo_id)] if link is not None and link.paymo_id.isdigit() else []
        sources += [found.paymo_id for found in find_markers(row.PrivateNote) if found.kind == KIND_INVOICE]
        fields = {"currency": currency, **reconcile._qbo_invoice_fields(row, currency)}
        if not sources and self._made_from_paymo_time(row):
            continue
        if not sources:
            self.invoices.append(
                InvoiceDifference(
                    kind="missing_in_paymo",
                    note="created in QuickBooks; no Paymo invoice is linked to it or named in its note",
                    **fields,
                )
            )
            continue
        source = sources[0]
        if source in known:
            continue
        try:
            await ctx.paymo.get_invoice(source)
        except NotFound:
            self.invoices.append(
                InvoiceDifference(
                    kind="missing_in_paymo",
                    paymo_invoice_id=source,
                    note=f"created from Paymo invoice {source}, which no longer exists in Paymo",
                    **fields,
                )
            )


# --- helpers ------------------------------------------------------------------------------------------


async def report_with_counts(env: SyncEnv) -> tuple[ReconciliationReport, int, int]:
    """The November report on a fresh context (facts read again), with the QBO and Paymo requests it made."""
    env.qbo_emu.request_log.clear()
    env.paymo_emu.request_log.clear()
    found = await reconcile.reconciliation_report(
        await env.fresh_context(), date_from=NOVEMBER_1, date_to=NOVEMBER_30
    )
    return found, len(env.qbo_emu.request_log), len(env.paymo_emu.request_log)


def kinds(found: ReconciliationReport) -> Counter[str]:
    return Counter(
        [f"invoice {d.kind}" for d in found.invoices] + [f"payment {d.kind}" for d in found.payments]
    )


# --- tests --------------------------------------------------------------------------------------------


async def test_requests_do_not_grow_with_customers_and_the_report_is_unchanged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with build_sync_env(tmp_path / "small") as small:
        await seed_month(small, 30)
        _, small_qbo, small_paymo = await report_with_counts(small)
    async with build_sync_env(tmp_path / "large") as large:
        await seed_month(large, 150)
        found, large_qbo, large_paymo = await report_with_counts(large)

        # Company facts (2), the month's invoices (1), the linked invoices dated outside it (1), and the
        # customers' payments in groups of 100: five times the customers cost one more query per 100.
        assert large_qbo <= 6
        assert large_qbo - small_qbo <= 1
        # Company, invoices, the sources of QBO invoices dated outside the month, time, tasks, projects,
        # clients, expenses: Paymo pages hold 100 invoices.
        assert large_paymo <= 10
        assert large_paymo - small_paymo <= 2

        # Every branch that reads payments or sources has something to say in this month.
        # Missing in QuickBooks: 15 never synced, and the demo seed's INV-2026-1039 and 1041.
        assert kinds(found) == {
            "invoice missing_in_paymo": 30,
            "invoice missing_in_quickbooks": 17,
            "invoice not_linked": 15,
            "invoice total_differs": 15,
            "payment balance_differs": 60,
            "payment only_in_paymo": 15,
            "payment only_in_quickbooks": 30,
        }

        monkeypatch.setattr(reconcile, "qbo_payments_for", _old_qbo_payments_for)
        monkeypatch.setattr(reconcile._InvoiceComparer, "qbo_only", _old_qbo_only)
        old, old_qbo, old_paymo = await report_with_counts(large)
        # The copies above are what ran: one request per customer, one per outside source.
        assert old_qbo > 100
        assert old_paymo > 20
        assert old.model_dump() == found.model_dump()


async def test_payments_an_invoice_names_are_read_by_id_in_one_query(sync_env: SyncEnv) -> None:
    env = sync_env
    await seed_month(env, 10)
    first, second = (await env.qbo.query_all(qbo_models.Payment))[:2]
    assert first.Id
    assert second.Id
    assert first.TxnDate
    assert second.TxnDate
    assert first.TxnDate != second.TxnDate
    # An invoice of a customer without payments naming other customers' payments (as after a merge in
    # QuickBooks), and one payment that was deleted since.
    named = Invoice(
        Id="999001",
        CustomerRef=Ref(value="999999"),
        LinkedTxn=[
            LinkedTxn(TxnId=second.Id, TxnType="Payment"),
            LinkedTxn(TxnId="987654", TxnType="Payment"),
            LinkedTxn(TxnId=first.Id, TxnType="Payment"),
        ],
    )
    env.qbo_emu.request_log.clear()
    found = await qbo_payments_for(env.ctx, [named], None, per_customer=True)
    assert [p.Id for p in found] == [first.Id, second.Id]
    assert len(env.qbo_emu.request_log) == 2  # the customer's payments, then the named ones by Id

    since = max(first.TxnDate, second.TxnDate)
    dated = await qbo_payments_for(env.ctx, [named], since, per_customer=True)
    assert [p.Id for p in dated] == [p.Id for p in (first, second) if p.TxnDate == since]
