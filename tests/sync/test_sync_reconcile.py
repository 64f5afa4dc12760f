"""The reconciliation report end to end: invoices missing or differing, payments on one side only,
unbilled time and unpushed expenses, on the demo seed and after syncs; and that it never writes."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest
from sync_support import SyncEnv

from paymo_qb_mcp.errors import InputError
from paymo_qb_mcp.quickbooks.models import Invoice, Line, LinkedTxn, Payment, Ref, SalesItemLineDetail
from paymo_qb_mcp.sandbox.paymo import seed as paymo_seed
from paymo_qb_mcp.sync.payments import plan_payments
from paymo_qb_mcp.sync.reconcile import reconciliation_report
from paymo_qb_mcp.sync.reports import ReconciliationReport

INV = paymo_seed.INVOICE_IDS
ACME_1035 = INV["INV-2026-1035"]
SMITH_1039 = INV["INV-2026-1039"]
SEEDED_40_PERCENT = paymo_seed.PAYMENT_IDS[0]
OCTOBER_1, NOVEMBER_30 = dt.date(2026, 10, 1), dt.date(2026, 11, 30)


async def report(env: SyncEnv) -> ReconciliationReport:
    return await reconciliation_report(env.ctx, date_from=OCTOBER_1, date_to=NOVEMBER_30)


async def sync_invoice(env: SyncEnv, paymo_invoice_id: int) -> Invoice:
    planned = await env.service.plan_invoice(paymo_invoice_id)
    assert not planned.plan.blocked, planned.plan.summary
    await env.service.apply(planned.plan)
    link = env.ledger.link("invoice", paymo_invoice_id)
    assert link is not None
    return await env.qbo.read(Invoice, link.qbo_id)


def about(found: ReconciliationReport, paymo_invoice_id: int) -> list[tuple[str, str]]:
    """(list, kind) of every invoice and payment difference naming the Paymo invoice."""
    return [("invoice", d.kind) for d in found.invoices if d.paymo_invoice_id == paymo_invoice_id] + [
        ("payment", d.kind) for d in found.payments if d.paymo_invoice_id == paymo_invoice_id
    ]


def writes_logged(env: SyncEnv) -> list[str]:
    paymo = [f"paymo {r.method} {r.path}" for r in env.paymo_emu.request_log if r.method != "GET"]
    qbo = [
        f"qbo {r.method} {r.path}"
        for r in env.qbo_emu.request_log
        if r.method != "GET" and not r.path.endswith("/query")
    ]
    return paymo + qbo


async def test_on_the_demo_seed_it_lists_missing_invoices_unbilled_time_and_unpushed_expenses(
    sync_env: SyncEnv,
) -> None:
    found = await report(sync_env)

    # Oct–Nov 2026: 1038 is void and 1040 a draft (nothing missing); 1042 is dated 2025.
    assert [(d.paymo_number, d.kind) for d in found.invoices] == [
        ("INV-2026-1035", "missing_in_quickbooks"),
        ("INV-2026-1036", "missing_in_quickbooks"),
        ("INV-2026-1037", "missing_in_quickbooks"),
        ("INV-2026-1039", "missing_in_quickbooks"),
        ("INV-2026-1041", "missing_in_quickbooks"),
    ]
    globex = found.invoices[2]
    assert (globex.currency, globex.paymo_total, globex.paymo_status) == ("USD", "5702.40", "sent")
    assert found.payments == []
    # Billed entries (40001–40004), the non-billable Internal QA entry (40011) and the time on the
    # flat-priced Café Lumière and Stark projects are left out; hours are summed per group in seconds,
    # then rounded once (domain.timeagg): Acme 4 h + 2.5 h + 7.5 h + 1.25 h + 61 min = 16.27 h.
    assert [(t.client_name, t.project_name, t.entries, t.hours) for t in found.unbilled_time] == [
        ("Acme Corporation", "Acme Website Redesign", 5, "16.27"),
        ("Smith & Sons LLC", "Smith & Sons Retainer", 2, "1.75"),
        ("Globex GmbH", "Globex Data Pipeline", 3, "15.00"),
    ]
    # 60005 is dated 2026-09-30; the US$ expense is reported in ISO USD.
    assert [(e.paymo_expense_id, e.amount, e.currency) for e in found.expenses_not_pushed] == [
        (60001, "75.00", "CAD"),
        (60003, "84.00", "CAD"),
        (60004, "298.17", "USD"),
        (60002, "142.35", "CAD"),
    ]
    assert found.summary == (
        "From 2026-10-01 to 2026-11-30: 5 invoice differences (5 missing in quickbooks); 33.02 h of "
        "billable time neither billed nor pushed (10 entries in 3 client/project groups); 4 expenses not "
        "pushed (CAD 301.35, USD 298.17)."
    )
    assert not found.clean
    assert writes_logged(sync_env) == []


async def test_pushed_time_and_expenses_are_no_longer_listed(sync_env: SyncEnv) -> None:
    env = sync_env
    env.ledger.mark_done("time_entry", 40005, "TimeActivity 7")
    env.ledger.save_link("expense", 60001, "31", sync_token="0", content_hash="h", origin="ours")
    found = await report(env)
    smith = [t for t in found.unbilled_time if t.paymo_project_id == paymo_seed.SMITH_RETAINER]
    assert [(t.entries, t.hours) for t in smith] == [(1, "0.75")]
    assert 60001 not in [e.paymo_expense_id for e in found.expenses_not_pushed]


async def test_an_invoice_changed_in_quickbooks_after_its_sync_shows_the_total_difference(
    sync_env: SyncEnv,
) -> None:
    env = sync_env
    qbo = await sync_invoice(env, SMITH_1039)
    assert about(await report(env), SMITH_1039) == []

    # A bookkeeper adds a line in QuickBooks (sparse update: Line is replaced as a whole).
    lines = [line for line in qbo.Line or [] if line.DetailType == "SalesItemLineDetail"]
    first = lines[0].SalesItemLineDetail
    assert first is not None
    extra = Line(
        Amount=Decimal("100.00"),
        DetailType="SalesItemLineDetail",
        Description="Rush fee",
        SalesItemLineDetail=SalesItemLineDetail(
            ItemRef=first.ItemRef, Qty=Decimal(1), UnitPrice=Decimal("100.00"), TaxCodeRef=first.TaxCodeRef
        ),
    )
    changed = Invoice(Id=qbo.Id, SyncToken=qbo.SyncToken, Line=[*lines, extra])
    updated = await env.qbo.update(changed, request_id=str(uuid.uuid4()))
    assert updated.TotalAmt is not None
    assert updated.TotalAmt > Decimal("623.62")

    found = await report(env)
    [difference] = [d for d in found.invoices if d.paymo_invoice_id == SMITH_1039]
    assert difference.kind == "total_differs"
    assert (difference.paymo_total, difference.qbo_total) == ("623.62", str(updated.TotalAmt))
    assert f"{updated.TotalAmt - Decimal('623.62'):+}" in difference.note
    [balance] = [d for d in found.payments if d.paymo_invoice_id == SMITH_1039]
    assert (balance.kind, balance.paymo_balance, balance.qbo_balance) == (
        "balance_differs",
        "623.62",
        str(updated.Balance),
    )


async def test_after_a_full_sync_with_payments_nothing_is_reported_for_the_invoice(sync_env: SyncEnv) -> None:
    env = sync_env
    qbo = await sync_invoice(env, ACME_1035)
    before = await report(env)
    assert about(before, ACME_1035) == [("payment", "only_in_paymo"), ("payment", "balance_differs")]
    [only] = [d for d in before.payments if d.kind == "only_in_paymo"]
    assert (only.paymo_payment_id, only.amount) == (SEEDED_40_PERCENT, "2035.81")

    customer = qbo.CustomerRef
    assert customer is not None
    typed = await env.qbo.create(
        Payment(
            CustomerRef=Ref(value=customer.value),
            TotalAmt=Decimal("1000.00"),
            TxnDate=dt.date(2026, 11, 15),
            Line=[
                Line(Amount=Decimal("1000.00"), LinkedTxn=[LinkedTxn(TxnId=str(qbo.Id), TxnType="Invoice")])
            ],
        ),
        request_id=str(uuid.uuid4()),
    )
    middle = await report(env)
    [from_qbo] = [d for d in middle.payments if d.kind == "only_in_quickbooks"]
    assert (from_qbo.qbo_payment_id, from_qbo.amount) == (typed.Id, "1000.00")

    plan = await plan_payments(env.ctx, paymo_invoice_id=ACME_1035)
    await env.service.apply(plan)
    after = await report(env)
    assert about(after, ACME_1035) == []
    assert ACME_1035 not in [d.paymo_invoice_id for d in after.invoices]


async def test_payments_deleted_or_voided_after_a_sync_are_on_one_side_only(sync_env: SyncEnv) -> None:
    env = sync_env
    qbo = await sync_invoice(env, ACME_1035)
    await env.service.apply(await plan_payments(env.ctx, paymo_invoice_id=ACME_1035))
    pushed = env.ledger.link("payment_to_qbo", SEEDED_40_PERCENT)
    assert pushed is not None
    current = await env.qbo.read(Payment, pushed.qbo_id)
    assert current.Id is not None
    assert current.SyncToken is not None
    await env.qbo.void(Payment, current.Id, current.SyncToken, request_id=str(uuid.uuid4()))

    found = await report(env)
    [only] = [d for d in found.payments if d.kind == "only_in_paymo"]
    assert (only.paymo_payment_id, only.qbo_payment_id) == (SEEDED_40_PERCENT, pushed.qbo_id)
    assert "no longer pays this invoice" in only.note
    assert ("payment", "balance_differs") in about(found, ACME_1035)
    assert qbo.Id is not None


async def test_statuses_that_disagree_and_links_that_are_missing(sync_env: SyncEnv) -> None:
    env = sync_env
    acme = await sync_invoice(env, ACME_1035)
    smith = await sync_invoice(env, SMITH_1039)
    assert acme.Id is not None
    assert acme.SyncToken is not None
    await env.qbo.void(Invoice, acme.Id, acme.SyncToken, request_id=str(uuid.uuid4()))
    env.ledger.remove_link("invoice", SMITH_1039)

    found = await report(env)
    [voided] = [d for d in found.invoices if d.paymo_invoice_id == ACME_1035]
    assert (voided.kind, voided.note) == ("status_differs", "void in QuickBooks but not in Paymo")
    [unlinked] = [d for d in found.invoices if d.paymo_invoice_id == SMITH_1039]
    assert (unlinked.kind, unlinked.qbo_invoice_id) == ("not_linked", smith.Id)
    assert "marker" in unlinked.note


async def test_paid_in_paymo_but_open_in_quickbooks_is_a_status_difference(sync_env: SyncEnv) -> None:
    env = sync_env
    await sync_invoice(env, SMITH_1039)
    await env.paymo.create_invoice_payment(
        invoice_id=SMITH_1039, amount=Decimal("623.62"), date=dt.date(2026, 11, 12)
    )
    found = await report(env)
    [status] = [d for d in found.invoices if d.paymo_invoice_id == SMITH_1039]
    assert (status.kind, status.paymo_status, status.qbo_balance) == ("status_differs", "paid", "623.62")
    assert sorted(about(found, SMITH_1039)) == [
        ("invoice", "status_differs"),
        ("payment", "balance_differs"),
        ("payment", "only_in_paymo"),
    ]


async def test_invoices_only_in_quickbooks_or_whose_record_is_gone(sync_env: SyncEnv) -> None:
    env = sync_env
    acme = await sync_invoice(env, ACME_1035)
    assert acme.Id is not None
    assert acme.SyncToken is not None
    assert acme.CustomerRef is not None
    await env.qbo.delete(Invoice, acme.Id, acme.SyncToken, request_id=str(uuid.uuid4()))
    template = (acme.Line or [])[0].SalesItemLineDetail
    assert template is not None
    typed = await env.qbo.create(
        Invoice(
            CustomerRef=Ref(value=acme.CustomerRef.value),
            TxnDate=dt.date(2026, 11, 3),
            DocNumber="QB-7",
            Line=[
                Line(
                    Amount=Decimal("80.00"),
                    DetailType="SalesItemLineDetail",
                    SalesItemLineDetail=SalesItemLineDetail(
                        ItemRef=template.ItemRef,
                        Qty=Decimal(1),
                        UnitPrice=Decimal("80.00"),
                        TaxCodeRef=template.TaxCodeRef,
                    ),
                )
            ],
        ),
        request_id=str(uuid.uuid4()),
    )
    found = await report(env)
    [gone] = [d for d in found.invoices if d.paymo_invoice_id == ACME_1035]
    assert (gone.kind, gone.qbo_invoice_id) == ("missing_in_quickbooks", acme.Id)
    assert "no longer exists" in gone.note
    [extra] = [d for d in found.invoices if d.kind == "missing_in_paymo"]
    assert (extra.qbo_invoice_id, extra.qbo_doc_number, extra.paymo_invoice_id) == (typed.Id, "QB-7", None)


async def test_a_period_that_ends_before_it_starts_is_refused(sync_env: SyncEnv) -> None:
    with pytest.raises(InputError):
        await reconciliation_report(sync_env.ctx, date_from=NOVEMBER_30, date_to=OCTOBER_1)


async def test_a_quiet_period_is_clean(sync_env: SyncEnv) -> None:
    found = await reconciliation_report(
        sync_env.ctx, date_from=dt.date(2026, 6, 1), date_to=dt.date(2026, 6, 30)
    )
    assert found.clean
    assert found.summary == "From 2026-06-01 to 2026-06-30 Paymo and QuickBooks agree: nothing to reconcile."


async def test_time_and_expenses_pushed_by_their_flows_leave_nothing_to_report(sync_env: SyncEnv) -> None:
    env = sync_env
    time = await env.service.plan_time(date_from=OCTOBER_1, date_to=NOVEMBER_30, target="invoice_lines")
    assert not time.blocked
    await env.service.apply(time)
    expenses = await env.service.plan_expenses(date_from=OCTOBER_1, date_to=NOVEMBER_30)
    assert not expenses.blocked
    await env.service.apply(expenses)

    found = await env.service.reconciliation_report(date_from=OCTOBER_1, date_to=NOVEMBER_30)
    assert found.unbilled_time == []
    assert found.expenses_not_pushed == []
    # The draft invoices built from time are the counterpart of time entries, not invoices missing in Paymo.
    assert [d.kind for d in found.invoices] == ["missing_in_quickbooks"] * 5
    assert found.summary == "From 2026-10-01 to 2026-11-30: 5 invoice differences (5 missing in quickbooks)."


@pytest.mark.parametrize(
    ("date_from", "date_to"),
    [(dt.date.min, NOVEMBER_30), (OCTOBER_1, dt.date.max), (dt.date.min, dt.date.max)],
)
async def test_a_period_reaching_the_ends_of_the_calendar_is_read_not_an_overflow(
    sync_env: SyncEnv, date_from: dt.date, date_to: dt.date
) -> None:
    # The time-entry window took a day off 0001-01-01 (OverflowError, an INTERNAL error for the agent);
    # the tools bound their dates, the sync core must not need them to.
    found = await reconciliation_report(sync_env.ctx, date_from=date_from, date_to=date_to)
    assert found.date_from == date_from
    assert found.date_to == date_to
    time = await sync_env.service.plan_time(date_from=date_from, date_to=date_to, target="invoice_lines")
    assert time.tool == "aggregate_time"
