"""Invoice sync Paymo → QBO end to end: cent-exact tax, re-sync, updates, voids, crashes and guards."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from sync_support import SyncEnv, fixed_now

from paymo_qb_mcp.config.policy import TaxCodeMapping
from paymo_qb_mcp.domain.keys import marker
from paymo_qb_mcp.domain.plan import Plan
from paymo_qb_mcp.errors import ReconciliationError
from paymo_qb_mcp.paymo.models import Invoice as PaymoInvoice
from paymo_qb_mcp.quickbooks.models import Customer, Invoice, Line
from paymo_qb_mcp.quickbooks.query import eq
from paymo_qb_mcp.sandbox.paymo import seed as paymo_seed
from paymo_qb_mcp.sandbox.quickbooks import seed as qbo_seed
from paymo_qb_mcp.store.ledger import Ledger
from paymo_qb_mcp.sync.context import SyncContext
from paymo_qb_mcp.sync.invoices import InvoiceSelection
from paymo_qb_mcp.sync.invoices import selection as invoice_selection
from paymo_qb_mcp.sync.service import SyncService

INV = paymo_seed.INVOICE_IDS
SALES = "SalesItemLineDetail"


async def paymo_invoice(env: SyncEnv, number: str) -> PaymoInvoice:
    return await env.paymo.get_invoice(INV[number], include=("invoiceitems",))


async def qbo_invoices(env: SyncEnv, doc_number: str) -> list[Invoice]:
    return await env.qbo.query_all(Invoice, eq("DocNumber", doc_number))


async def sync(env: SyncEnv | SyncService, number: str) -> tuple[Plan, Invoice | None]:
    service = env.service if isinstance(env, SyncEnv) else env
    planned = await service.plan_invoice(INV[number])
    assert not planned.plan.blocked, planned.plan.summary
    outcome = await service.apply(planned.plan)
    assert outcome.findings == [], [f.message for f in outcome.findings]
    written = [item for item in outcome.applied if item.change.entity == "invoice"]
    record = written[-1].record if written else None
    assert record is None or isinstance(record, Invoice)
    return planned.plan, record


def sales_lines(invoice: Invoice) -> list[Line]:
    return [line for line in invoice.Line or [] if line.DetailType == SALES]


def discount_total(invoice: Invoice) -> Decimal:
    return sum(
        (line.Amount or Decimal(0) for line in invoice.Line or [] if line.DetailType == "DiscountLineDetail"),
        Decimal(0),
    )


def tax_by_rate(invoice: Invoice) -> dict[str, Decimal]:
    assert invoice.TxnTaxDetail is not None
    result: dict[str, Decimal] = {}
    for line in invoice.TxnTaxDetail.TaxLine or []:
        assert line.TaxLineDetail is not None
        assert line.TaxLineDetail.TaxRateRef is not None
        result[line.TaxLineDetail.TaxRateRef.value] = line.Amount or Decimal(0)
    return result


def invoice_creates(env: SyncEnv) -> int:
    return sum(
        1
        for entry in env.qbo_emu.request_log
        if entry.method == "POST"
        and entry.path.endswith("/invoice")
        and "operation" not in entry.query
        and entry.status == 200
    )


def service_with(env: SyncEnv, **tax: Any) -> SyncService:
    mappings = env.mappings.model_copy(update={"tax": env.mappings.tax.model_copy(update=tax)})
    ctx = SyncContext(paymo=env.paymo, qbo=env.qbo, ledger=env.ledger, mappings=mappings, now=fixed_now)
    return SyncService(ctx)


# --- cent-exact tax ---------------------------------------------------------------------------


async def test_tax_exclusive_invoice_with_discount_and_two_rates_matches_paymo_to_the_cent(
    sync_env: SyncEnv,
) -> None:
    _, record = await sync(sync_env, "INV-2026-1035")
    assert record is not None
    assert record.Id is not None

    paymo = await paymo_invoice(sync_env, "INV-2026-1035")
    qbo = await sync_env.qbo.read(Invoice, record.Id)
    assert paymo.total == Decimal("5089.52")
    assert qbo.TotalAmt == paymo.total
    assert qbo.GlobalTaxCalculation == "TaxExcluded"
    assert qbo.TxnTaxDetail is not None
    assert qbo.TxnTaxDetail.TotalTax == paymo.tax_amount + paymo.tax2_amount  # type: ignore[operator]
    charged = {rate: amount for rate, amount in tax_by_rate(qbo).items() if amount}
    assert charged == {qbo_seed.TAX_RATE_GST: paymo.tax_amount, qbo_seed.TAX_RATE_QST: paymo.tax2_amount}
    assert discount_total(qbo) == paymo.discount_amount == Decimal("492.50")
    lines = sales_lines(qbo)
    assert [line.Amount for line in lines] == [Decimal("3000.00"), Decimal("1875.00"), Decimal("49.99")]
    codes = [line.SalesItemLineDetail.TaxCodeRef.value for line in lines]  # type: ignore[union-attr]
    # A VAT/GST company needs a code on every line: the untaxed hosting line is exempt.
    assert codes == [qbo_seed.TAX_CODE_GST_QST, qbo_seed.TAX_CODE_GST_QST, qbo_seed.TAX_CODE_EXEMPT]
    assert qbo.DocNumber == "INV-2026-1035"
    assert marker("invoice", INV["INV-2026-1035"]) in (qbo.PrivateNote or "")
    assert qbo.TxnDate == dt.date(2026, 10, 5)
    assert qbo.DueDate == dt.date(2026, 11, 4)
    assert qbo.SalesTermRef is not None
    assert qbo.SalesTermRef.value == qbo_seed.TERM_NET_30
    link = sync_env.ledger.link("invoice", INV["INV-2026-1035"])
    assert link is not None
    assert link.qbo_id == qbo.Id


async def test_tax_inclusive_invoice_with_discount_and_two_rates_matches_paymo_to_the_cent(
    sync_env: SyncEnv,
) -> None:
    service = service_with(sync_env, global_tax_calculation="TaxInclusive")

    _, record = await sync(service, "INV-2026-1035")
    assert record is not None
    assert record.Id is not None

    paymo = await paymo_invoice(sync_env, "INV-2026-1035")
    qbo = await sync_env.qbo.read(Invoice, record.Id)
    assert qbo.GlobalTaxCalculation == "TaxInclusive"
    assert qbo.TotalAmt == paymo.total
    assert qbo.TxnTaxDetail is not None
    assert qbo.TxnTaxDetail.TotalTax == paymo.tax_amount + paymo.tax2_amount  # type: ignore[operator]
    # Under TaxInclusive the line amounts QBO stores are still Paymo's net amounts.
    assert [line.Amount for line in sales_lines(qbo)] == [
        Decimal("3000.00"),
        Decimal("1875.00"),
        Decimal("49.99"),
    ]
    assert all(line.SalesItemLineDetail.TaxInclusiveAmt for line in sales_lines(qbo))  # type: ignore[union-attr]


@pytest.mark.parametrize("number", ["INV-2026-1036", "INV-2026-1039", "INV-2026-1040", "INV-2026-1041"])
async def test_every_seeded_invoice_lands_on_paymos_total(sync_env: SyncEnv, number: str) -> None:
    _, record = await sync(sync_env, number)
    assert record is not None
    assert record.Id is not None

    paymo = await paymo_invoice(sync_env, number)
    qbo = await sync_env.qbo.read(Invoice, record.Id)
    assert qbo.TotalAmt == paymo.total == paymo_seed.INVOICE_TOTALS["global"][number]


async def test_us_sales_tax_invoice_matches_paymo_through_the_total_tax_override(
    sync_env_us: SyncEnv,
) -> None:
    planned = await sync_env_us.service.plan_invoice(INV["INV-2026-1035"])
    create = next(c for c in planned.plan.writes if c.entity == "invoice")
    paymo = await paymo_invoice(sync_env_us, "INV-2026-1035")
    assert create.payload is not None
    assert create.payload["TxnTaxDetail"] == {"TotalTax": paymo.tax_amount}
    assert all(
        line["SalesItemLineDetail"]["TaxCodeRef"]["value"] in {"TAX", "NON"}
        for line in create.payload["Line"]
        if line["DetailType"] == SALES
    )
    assert "GlobalTaxCalculation" not in create.payload

    outcome = await sync_env_us.service.apply(planned.plan)

    assert outcome.findings == []
    qbo_id = outcome.applied[-1].qbo_id
    assert qbo_id is not None
    qbo = await sync_env_us.qbo.read(Invoice, qbo_id)
    assert paymo.total == paymo_seed.INVOICE_TOTALS["us"]["INV-2026-1035"]
    assert qbo.TotalAmt == paymo.total
    assert qbo.TxnTaxDetail is not None
    assert qbo.TxnTaxDetail.TotalTax == paymo.tax_amount


# --- re-sync, update, void ----------------------------------------------------------------------


async def test_invoice_synced_three_times_exists_once(sync_env: SyncEnv) -> None:
    first, _ = await sync(sync_env, "INV-2026-1036")
    second, _ = await sync(sync_env, "INV-2026-1036")
    third, _ = await sync(sync_env, "INV-2026-1036")

    assert [c.action for c in first.writes] == ["link", "create"]
    assert second.is_noop
    assert third.is_noop
    assert [c.action for c in third.changes] == ["skip"]
    assert len(await qbo_invoices(sync_env, "INV-2026-1036")) == 1
    assert invoice_creates(sync_env) == 1


async def test_changed_paymo_invoice_becomes_one_sparse_update(sync_env: SyncEnv) -> None:
    _, created = await sync(sync_env, "INV-2026-1039")
    assert created is not None
    assert created.Id is not None
    paymo = await paymo_invoice(sync_env, "INV-2026-1039")
    items = sorted(paymo.invoiceitems or [], key=lambda item: item.seq or 0)
    await sync_env.paymo.update_invoice(
        INV["INV-2026-1039"],
        {
            "due_date": "2026-12-16",
            "items": [{"id": items[0].id, "quantity": Decimal("4.25")}, {"id": items[1].id}],
        },
    )
    changed = await paymo_invoice(sync_env, "INV-2026-1039")

    planned = await sync_env.service.plan_invoice(INV["INV-2026-1039"])

    assert [(c.action, c.entity) for c in planned.plan.writes] == [("update", "invoice")]
    update = planned.plan.writes[0]
    assert update.qbo_id == created.Id
    assert update.sync_token == created.SyncToken
    assert update.payload is not None
    assert update.before is not None
    assert update.after is not None
    assert "CustomerRef" not in update.payload
    assert set(update.payload) <= {
        "DueDate",
        "Line",
        "TxnTaxDetail",
        "GlobalTaxCalculation",
        "ApplyTaxAfterDiscount",
    }
    assert update.before["DueDate"] == dt.date(2026, 12, 2)
    assert update.after["DueDate"] == "2026-12-16"
    assert update.before["TotalAmt"] == paymo.total
    assert update.after["TotalAmt"] == changed.total
    assert planned.qbo_total == changed.total

    outcome = await sync_env.service.apply(planned.plan)

    assert [item.outcome for item in outcome.applied] == ["updated"]
    assert outcome.findings == []
    qbo = await sync_env.qbo.read(Invoice, created.Id)
    assert qbo.TotalAmt == changed.total != paymo.total
    assert qbo.DueDate == dt.date(2026, 12, 16)
    assert qbo.CustomerRef == created.CustomerRef
    assert int(qbo.SyncToken or 0) == int(created.SyncToken or 0) + 1
    assert len(await qbo_invoices(sync_env, "INV-2026-1039")) == 1
    assert (await sync_env.service.plan_invoice(INV["INV-2026-1039"])).plan.is_noop


async def test_time_billed_lines_carry_their_service_date(sync_env: SyncEnv) -> None:
    _, record = await sync(sync_env, "INV-2026-1039")
    assert record is not None
    dates = [line.SalesItemLineDetail.ServiceDate for line in sales_lines(record)]  # type: ignore[union-attr]
    assert all(
        isinstance(day, dt.date) and dt.date(2026, 10, 1) <= day <= dt.date(2026, 10, 31) for day in dates
    )


async def test_voided_paymo_invoice_is_voided_in_quickbooks(sync_env: SyncEnv) -> None:
    _, created = await sync(sync_env, "INV-2026-1041")
    assert created is not None
    assert created.Id is not None
    await sync_env.paymo.update_invoice(INV["INV-2026-1041"], {"status": "void"})

    planned = await sync_env.service.plan_invoice(INV["INV-2026-1041"])

    assert [(c.action, c.entity) for c in planned.plan.writes] == [("void", "invoice")]
    assert planned.qbo_total == 0
    await sync_env.service.apply(planned.plan)

    qbo = await sync_env.qbo.read(Invoice, created.Id)
    assert qbo.TotalAmt == 0
    assert (qbo.PrivateNote or "").startswith("Voided")
    assert (await sync_env.paymo.get_invoice(INV["INV-2026-1041"])).status == "void"
    again = await sync_env.service.plan_invoice(INV["INV-2026-1041"])
    assert again.plan.is_noop


async def test_void_paymo_invoice_never_synced_is_skipped(sync_env: SyncEnv) -> None:
    planned = await sync_env.service.plan_invoice(INV["INV-2026-1038"])

    assert planned.plan.is_noop
    assert not planned.plan.blocked
    assert [c.action for c in planned.plan.changes] == ["skip"]
    assert await qbo_invoices(sync_env, "INV-2026-1038") == []


# --- crash safety -------------------------------------------------------------------------------


async def test_crash_after_quickbooks_accepted_the_create_creates_nothing_on_the_next_run(
    sync_env: SyncEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    planned = await sync_env.service.plan_invoice(INV["INV-2026-1036"])
    real_save_link = Ledger.save_link
    crashed: list[str] = []

    def crash_once(self: Ledger, kind: str, *args: Any, **kwargs: Any) -> Any:
        if kind == "invoice" and not crashed:
            crashed.append(kind)
            raise OSError("disk full: the process dies here")
        return real_save_link(self, kind, *args, **kwargs)

    monkeypatch.setattr(Ledger, "save_link", crash_once)
    with pytest.raises(OSError, match="the process dies here"):
        await sync_env.service.apply(planned.plan)
    assert sync_env.ledger.link("invoice", INV["INV-2026-1036"]) is None
    assert sync_env.ledger.intent("invoice", INV["INV-2026-1036"]) is not None
    assert len(await qbo_invoices(sync_env, "INV-2026-1036")) == 1

    # The next run (a fresh context, as after a restart) finds the record by its marker.
    service = SyncService(await sync_env.fresh_context())
    replanned = await service.plan_invoice(INV["INV-2026-1036"])
    assert [(c.action, c.entity, c.target) for c in replanned.plan.writes] == [("link", "invoice", "ledger")]
    await service.apply(replanned.plan)

    found = await qbo_invoices(sync_env, "INV-2026-1036")
    assert len(found) == 1
    assert invoice_creates(sync_env) == 1
    link = sync_env.ledger.link("invoice", INV["INV-2026-1036"])
    assert link is not None
    assert link.qbo_id == found[0].Id
    assert sync_env.ledger.intent("invoice", INV["INV-2026-1036"]) is None
    assert (await service.plan_invoice(INV["INV-2026-1036"])).plan.is_noop


# --- guards found at plan time ------------------------------------------------------------------


async def test_invoice_in_a_closed_period_is_blocked(sync_env: SyncEnv) -> None:
    planned = await sync_env.service.plan_invoice(INV["INV-2026-1042"])

    assert planned.plan.blocked
    blocker = next(f for f in planned.plan.findings if f.severity == "blocker")
    assert blocker.code == "CLOSED_PERIOD"
    assert "2025-12-31" in blocker.message
    with pytest.raises(ReconciliationError):
        await sync_env.service.apply(planned.plan)
    assert await qbo_invoices(sync_env, "INV-2026-1042") == []


async def test_foreign_currency_invoice_carries_currency_and_quickbooks_exchange_rate(
    sync_env: SyncEnv,
) -> None:
    plan, record = await sync(sync_env, "INV-2026-1037")
    assert record is not None
    assert record.Id is not None

    qbo = await sync_env.qbo.read(Invoice, record.Id)
    paymo = await paymo_invoice(sync_env, "INV-2026-1037")
    assert paymo.currency == "USD"
    assert qbo.CurrencyRef is not None
    assert qbo.CurrencyRef.value == "USD"
    # The rate in force on 2026-10-15 is the one QBO holds as of 2026-10-01.
    assert qbo.ExchangeRate == Decimal("1.3750")
    assert qbo.TotalAmt == paymo.total
    assert qbo.CustomerRef is not None
    assert qbo.CustomerRef.value == qbo_seed.CUSTOMER_GLOBEX
    assert plan.totals == {"USD": "5702.40"}


async def test_missing_exchange_rate_blocks_instead_of_a_silent_one(sync_env: SyncEnv) -> None:
    await sync_env.paymo.update_invoice(
        INV["INV-2026-1037"], {"date": "2026-09-15", "due_date": "2026-10-15"}
    )

    planned = await sync_env.service.plan_invoice(INV["INV-2026-1037"])

    assert [f.code for f in planned.plan.findings if f.severity == "blocker"] == ["EXCHANGE_RATE_MISSING"]
    assert await qbo_invoices(sync_env, "INV-2026-1037") == []


async def test_docnumber_used_by_a_record_that_is_not_ours_is_blocked(sync_env: SyncEnv) -> None:
    # Paymo's own QuickBooks export made this copy: same number, no marker.
    native = await sync_env.qbo.create(
        {
            "CustomerRef": {"value": qbo_seed.CUSTOMER_SMITH_AND_SONS},
            "DocNumber": "INV-2026-1039",
            "TxnDate": "2026-11-02",
            "Line": [
                {
                    "DetailType": SALES,
                    "Amount": Decimal("100.00"),
                    "SalesItemLineDetail": {"TaxCodeRef": {"value": qbo_seed.TAX_CODE_GST_QST}},
                }
            ],
        },
        model=Invoice,
        request_id="native-export-1",
    )

    planned = await sync_env.service.plan_invoice(INV["INV-2026-1039"])

    blocker = next(f for f in planned.plan.findings if f.severity == "blocker")
    assert blocker.code == "DUPLICATE_DOCNUMBER"
    assert f"invoice {native.Id}" in blocker.message
    assert planned.plan.is_noop


async def test_inactive_service_item_is_blocked(sync_env: SyncEnv) -> None:
    sync_env.qbo_emu.state.tables["Item"][qbo_seed.ITEM_SERVICES]["Active"] = False

    planned = await sync_env.service.plan_invoice(INV["INV-2026-1036"])

    assert [f.code for f in planned.plan.findings if f.severity == "blocker"] == ["INACTIVE_REF"]


async def test_new_customer_and_its_invoice_are_created_by_one_plan(sync_env: SyncEnv) -> None:
    planned = await sync_env.service.plan_invoice(INV["INV-2026-1041"])

    assert [(c.action, c.entity) for c in planned.plan.writes] == [
        ("create", "customer"),
        ("create", "invoice"),
    ]
    invoice_change = planned.plan.writes[1]
    assert invoice_change.payload is not None
    assert invoice_change.payload["CustomerRef"] == {"value": f"@link:customer:{paymo_seed.STARK}"}

    outcome = await sync_env.service.apply(planned.plan)

    assert outcome.findings == []
    customer_id = outcome.applied[0].qbo_id
    assert customer_id is not None
    qbo = await sync_env.qbo.read(Invoice, outcome.applied[1].qbo_id or "")
    assert qbo.CustomerRef is not None
    assert qbo.CustomerRef.value == customer_id
    customer = await sync_env.qbo.read(Customer, customer_id)
    assert customer.DisplayName == "Stark Industries"


async def test_totals_that_cannot_match_block_with_the_exact_difference(sync_env: SyncEnv) -> None:
    # A policy that maps GST + QST to the GST-only code: QBO could never charge Paymo's QST.
    codes = [{"paymo_percents": ["5", "9.975"], "qbo_tax_code": {"id": qbo_seed.TAX_CODE_GST}}]
    service = service_with(sync_env, codes=tuple(TaxCodeMapping.model_validate(code) for code in codes))

    planned = await service.plan_invoice(INV["INV-2026-1036"])

    assert planned.plan.is_noop
    blocker = next(f for f in planned.plan.findings if f.severity == "blocker")
    assert blocker.code == "TOTAL_MISMATCH"
    difference = planned.qbo_total - planned.paymo_total
    assert difference == Decimal("-598.50")  # Paymo's QST on 6 000.00
    assert f"difference {difference} CAD" in blocker.message
    assert planned.plan.totals == {}
    with pytest.raises(ReconciliationError):
        await service.apply(planned.plan)
    assert await qbo_invoices(sync_env, "INV-2026-1036") == []


async def test_paymo_number_longer_than_quickbooks_allows_is_shortened_and_reported(
    sync_env: SyncEnv,
) -> None:
    long_number = "NORTHWIND-QC-2026-INVOICE-1036"
    await sync_env.paymo.update_invoice(INV["INV-2026-1036"], {"number": long_number})

    plan, record = await sync(sync_env, "INV-2026-1036")

    altered = next(f for f in plan.findings if f.code == "DOCNUMBER_ALTERED")
    assert altered.severity == "warning"
    assert record is not None
    assert record.DocNumber is not None
    assert len(record.DocNumber) == 21
    assert record.DocNumber in altered.message
    assert marker("invoice", INV["INV-2026-1036"]) in (record.PrivateNote or "")


async def test_invoice_voided_in_quickbooks_but_live_in_paymo_is_not_resurrected(sync_env: SyncEnv) -> None:
    _, created = await sync(sync_env, "INV-2026-1041")
    assert created is not None
    assert created.Id is not None
    await sync_env.qbo.void(Invoice, created.Id, created.SyncToken or "0", request_id="human-void")
    await sync_env.paymo.update_invoice(INV["INV-2026-1041"], {"due_date": "2026-12-30"})

    planned = await sync_env.service.plan_invoice(INV["INV-2026-1041"])

    assert [f.code for f in planned.plan.findings if f.severity == "blocker"] == ["VOIDED_IN_QUICKBOOKS"]
    assert planned.plan.is_noop


async def test_a_period_is_planned_exactly_as_its_invoices_alone_even_when_paymo_cuts_included_lines(
    sync_env: SyncEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Paymo silently cuts an included collection at 2,500 objects per response; here at 5 (more than any
    # one demo invoice has), so the period's lines only come whole when the reader notices and reads
    # smaller chunks.
    sync_env.paymo_emu.include_cap = 5
    monkeypatch.setattr(invoice_selection, "PAYMO_INCLUDE_CAP", 5)
    selection = InvoiceSelection(date_from=dt.date(2026, 10, 1), date_to=dt.date(2026, 11, 30))
    selected = await sync_env.service.plan_invoice_selection(selection)
    sync_env.paymo_emu.include_cap = 2500
    numbers = [item.number for item in selected.items]
    assert numbers == [f"INV-2026-{n}" for n in (1035, 1036, 1037, 1038, 1039, 1041)]  # no draft
    for item in selected.items:
        assert item.paymo_invoice_id is not None
        alone = await sync_env.service.plan_invoice(item.paymo_invoice_id)
        assert item.plan.plan_hash == alone.plan.plan_hash, item.number
        assert item.paymo_total == alone.paymo_total
