"""Two-way payments end to end: partial payments both ways, several per invoice, one QBO payment across
two invoices, nothing recorded twice, echo suppression, over-payments reported, foreign currency."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest
from sync_support import SyncEnv

from paymo_qb_mcp.domain.keys import marker
from paymo_qb_mcp.domain.plan import Change, Plan
from paymo_qb_mcp.paymo.models import Invoice as PaymoInvoice
from paymo_qb_mcp.quickbooks.models import Invoice, Line, LinkedTxn, Payment, Ref
from paymo_qb_mcp.quickbooks.query import eq
from paymo_qb_mcp.sandbox.paymo import seed as paymo_seed
from paymo_qb_mcp.sync.payments import (
    KIND_PAYMENT_TO_PAYMO,
    KIND_PAYMENT_TO_QBO,
    payment_done_key,
    plan_payments,
    qbo_payment_note,
)

INV = paymo_seed.INVOICE_IDS
ACME_1035 = INV["INV-2026-1035"]  # CAD 5 089.52, 40 % (2 035.81) paid in Paymo by the seed
GLOBEX_1037 = INV["INV-2026-1037"]  # USD 5 702.40, unpaid
SMITH_1039 = INV["INV-2026-1039"]  # CAD 623.62, unpaid
ACME_1040 = INV["INV-2026-1040"]  # CAD 11 842.43, draft
SEEDED_40_PERCENT = paymo_seed.PAYMENT_IDS[0]


async def sync_invoice(env: SyncEnv, paymo_invoice_id: int) -> Invoice:
    planned = await env.service.plan_invoice(paymo_invoice_id)
    assert not planned.plan.blocked, planned.plan.summary
    await env.service.apply(planned.plan)
    link = env.ledger.link("invoice", paymo_invoice_id)
    assert link is not None
    return await env.qbo.read(Invoice, link.qbo_id)


async def paymo_invoice(env: SyncEnv, paymo_invoice_id: int) -> PaymoInvoice:
    return await env.paymo.get_invoice(paymo_invoice_id, include=("invoicepayments",))


async def qbo_invoice(env: SyncEnv, qbo_id: str) -> Invoice:
    return await env.qbo.read(Invoice, qbo_id)


async def enter_qbo_payment(
    env: SyncEnv, day: dt.date, *applied: tuple[Invoice, Decimal], note: str | None = None
) -> Payment:
    """A payment typed into QuickBooks by a user, applied to one or more invoices."""
    customer = applied[0][0].CustomerRef
    assert customer is not None
    lines = [
        Line(Amount=amount, LinkedTxn=[LinkedTxn(TxnId=str(invoice.Id), TxnType="Invoice")])
        for invoice, amount in applied
    ]
    total = sum((amount for _, amount in applied), Decimal(0))
    payment = Payment(
        CustomerRef=Ref(value=customer.value),
        TotalAmt=total,
        TxnDate=day,
        Line=lines,
        PrivateNote=note,
        CurrencyRef=applied[0][0].CurrencyRef,
        ExchangeRate=applied[0][0].ExchangeRate,
    )
    return await env.qbo.create(payment, request_id=str(uuid.uuid4()))


async def plan_and_apply(env: SyncEnv, **arguments: object) -> Plan:
    """Plan through the facade the MCP tool calls, then apply; the plan must not be blocked."""
    plan = await env.service.plan_payments(**arguments)  # type: ignore[arg-type]
    assert not plan.blocked, plan.summary
    outcome = await env.service.apply(plan)
    assert outcome.findings == [], [finding.message for finding in outcome.findings]
    return plan


def writes(plan: Plan, target: str | None = None) -> list[Change]:
    return [change for change in plan.writes if target is None or change.target == target]


def codes(plan: Plan) -> list[str]:
    return [finding.code for finding in plan.findings]


async def qbo_payments_of(env: SyncEnv, invoice: Invoice) -> list[Payment]:
    assert invoice.CustomerRef is not None
    rows = await env.qbo.query_all(Payment, eq("CustomerRef", invoice.CustomerRef.value))
    return [
        row
        for row in rows
        if any(link.TxnId == invoice.Id for line in row.Line or [] for link in line.LinkedTxn or [])
    ]


# --- Paymo → QuickBooks ------------------------------------------------------------------------------


async def test_paymo_payments_of_40_then_60_percent_settle_the_quickbooks_invoice(sync_env: SyncEnv) -> None:
    env = sync_env
    qbo = await sync_invoice(env, ACME_1035)
    assert qbo.TotalAmt == Decimal("5089.52")

    first = await plan_and_apply(env, paymo_invoice_id=ACME_1035)
    [create] = writes(first)
    assert (create.target, create.action, create.paymo_id) == ("quickbooks", "create", SEEDED_40_PERCENT)
    assert create.after is not None
    assert create.after["amount"] == Decimal("2035.81")
    assert first.totals == {"CAD": "2035.81"}
    qbo = await qbo_invoice(env, str(qbo.Id))
    assert qbo.Balance == Decimal("3053.71")
    [pushed] = await qbo_payments_of(env, qbo)
    assert pushed.TotalAmt == Decimal("2035.81")
    assert marker("payment", SEEDED_40_PERCENT) in (pushed.PrivateNote or "")
    assert pushed.TxnDate == dt.date(2026, 10, 25)

    rest = await env.paymo.create_invoice_payment(
        invoice_id=ACME_1035, amount=Decimal("3053.71"), date=dt.date(2026, 11, 18), notes="Cheque 1142"
    )
    assert (await paymo_invoice(env, ACME_1035)).status == "paid"
    second = await plan_and_apply(env, paymo_invoice_id=ACME_1035)
    [create] = writes(second)
    assert create.paymo_id == rest.id
    # Skipped: the 40 % already in QBO (Paymo side) and the same payment seen from QBO (not copied back).
    assert [(c.paymo_id, c.qbo_id) for c in second.changes if c.action == "skip"] == [
        (SEEDED_40_PERCENT, pushed.Id),
        (SEEDED_40_PERCENT, pushed.Id),
    ]

    qbo = await qbo_invoice(env, str(qbo.Id))
    assert qbo.Balance == Decimal("0")
    assert sorted(p.TotalAmt or 0 for p in await qbo_payments_of(env, qbo)) == [
        Decimal("2035.81"),
        Decimal("3053.71"),
    ]
    paymo = await paymo_invoice(env, ACME_1035)
    assert paymo.status == "paid"
    assert sorted(p.id for p in paymo.invoicepayments or []) == [SEEDED_40_PERCENT, rest.id]
    # Nothing left to do on either side, and QBO's payments are not pulled back (they came from Paymo).
    assert (await plan_payments(env.ctx, paymo_invoice_id=ACME_1035)).is_noop


async def test_several_paymo_payments_in_one_plan_respect_the_quickbooks_balance(sync_env: SyncEnv) -> None:
    env = sync_env
    qbo = await sync_invoice(env, SMITH_1039)
    for amount, day in (("100.00", 3), ("200.00", 4), ("323.62", 5)):
        await env.paymo.create_invoice_payment(
            invoice_id=SMITH_1039, amount=Decimal(amount), date=dt.date(2026, 11, day)
        )
    plan = await plan_and_apply(env, paymo_invoice_id=SMITH_1039)
    assert [c.after["amount"] for c in writes(plan) if c.after] == [
        Decimal("100.00"),
        Decimal("200.00"),
        Decimal("323.62"),
    ]
    assert plan.totals == {"CAD": "623.62"}
    assert (await qbo_invoice(env, str(qbo.Id))).Balance == Decimal("0")
    assert len(await qbo_payments_of(env, qbo)) == 3


# --- QuickBooks → Paymo ------------------------------------------------------------------------------


async def test_quickbooks_payments_of_40_then_60_percent_mark_the_paymo_invoice_paid(
    sync_env: SyncEnv,
) -> None:
    env = sync_env
    qbo = await sync_invoice(env, SMITH_1039)
    assert qbo.TotalAmt == Decimal("623.62")

    forty = await enter_qbo_payment(env, dt.date(2026, 11, 10), (qbo, Decimal("249.45")))
    first = await plan_and_apply(env, paymo_invoice_id=SMITH_1039, direction="to_paymo")
    [create] = writes(first)
    assert (create.target, create.qbo_id) == ("paymo", forty.Id)
    paymo = await paymo_invoice(env, SMITH_1039)
    [recorded] = paymo.invoicepayments or []
    assert (recorded.amount, recorded.date) == (Decimal("249.45"), dt.date(2026, 11, 10))
    assert recorded.notes == qbo_payment_note(str(forty.Id))
    assert paymo.status == "sent"  # Paymo has no partial status
    assert env.ledger.done_value(KIND_PAYMENT_TO_PAYMO, payment_done_key(str(forty.Id), str(qbo.Id))) == str(
        recorded.id
    )

    sixty = await enter_qbo_payment(env, dt.date(2026, 11, 19), (qbo, Decimal("374.17")))
    second = await plan_and_apply(env, paymo_invoice_id=SMITH_1039)  # both directions
    assert [(c.target, c.qbo_id) for c in writes(second)] == [("paymo", sixty.Id)]

    paymo = await paymo_invoice(env, SMITH_1039)
    assert paymo.status == "paid"
    assert sorted(p.amount for p in paymo.invoicepayments or []) == [Decimal("249.45"), Decimal("374.17")]
    assert (await qbo_invoice(env, str(qbo.Id))).Balance == Decimal("0")
    # The Paymo payments we wrote are never pushed back as new QBO payments.
    again = await plan_payments(env.ctx, paymo_invoice_id=SMITH_1039)
    assert again.is_noop
    assert len(await qbo_payments_of(env, qbo)) == 2


async def test_one_quickbooks_payment_across_two_invoices_becomes_two_paymo_payments(
    sync_env: SyncEnv,
) -> None:
    env = sync_env
    older = await sync_invoice(env, ACME_1035)
    newer = await sync_invoice(env, ACME_1040)
    assert older.CustomerRef == newer.CustomerRef
    both = await enter_qbo_payment(
        env, dt.date(2026, 11, 16), (older, Decimal("1000.00")), (newer, Decimal("2500.50"))
    )

    plan = await plan_and_apply(env, since=dt.date(2026, 11, 1), direction="to_paymo")
    assert sorted((c.payload or {})["invoice_id"] for c in writes(plan)) == [ACME_1035, ACME_1040]
    assert plan.totals == {"CAD": "3500.50"}

    older_paymo = await paymo_invoice(env, ACME_1035)
    newer_paymo = await paymo_invoice(env, ACME_1040)
    from_qbo = [p for p in older_paymo.invoicepayments or [] if p.notes == qbo_payment_note(str(both.Id))]
    assert [p.amount for p in from_qbo] == [Decimal("1000.00")]
    assert [(p.amount, p.notes) for p in newer_paymo.invoicepayments or []] == [
        (Decimal("2500.50"), qbo_payment_note(str(both.Id)))
    ]
    # Paymo also has the seeded 40 %, which this plan (to_paymo only) did not push.
    assert (await qbo_invoice(env, str(older.Id))).Balance == Decimal("4089.52")
    assert older_paymo.balance == Decimal("2053.71")
    assert (await qbo_invoice(env, str(newer.Id))).Balance == Decimal("9341.93")
    assert newer_paymo.balance == Decimal("9341.93")
    assert (await plan_payments(env.ctx, since=dt.date(2026, 11, 1), direction="to_paymo")).is_noop


async def test_invoices_one_quickbooks_payment_pays_together_are_one_item(sync_env: SyncEnv) -> None:
    env = sync_env
    older = await sync_invoice(env, ACME_1035)
    newer = await sync_invoice(env, ACME_1040)
    smith = await sync_invoice(env, SMITH_1039)
    await enter_qbo_payment(
        env, dt.date(2026, 11, 16), (older, Decimal("1000.00")), (newer, Decimal("2500.50"))
    )
    await enter_qbo_payment(env, dt.date(2026, 11, 17), (smith, Decimal("100.00")))

    itemized = await env.service.plan_payment_items(since=dt.date(2026, 11, 1), direction="to_paymo")

    # The cheque's two copies to Paymo go together (or not at all); Smith & Sons' payment is its own item.
    assert [item.key for item in itemized.items] == [
        f"paymo:invoice:{ACME_1035}",
        f"paymo:invoice:{SMITH_1039}",
    ]
    together, alone = itemized.items
    assert sorted((c.payload or {})["invoice_id"] for c in together.plan.writes) == [ACME_1035, ACME_1040]
    assert (together.total, together.currency) == (Decimal("3500.50"), "CAD")
    assert "INV-2026-1035, INV-2026-1040" in together.label
    assert [(c.payload or {})["invoice_id"] for c in alone.plan.writes] == [SMITH_1039]
    # The one plan of the run holds the same writes as the items (in the invoices' order).
    merged = await plan_payments(env.ctx, since=dt.date(2026, 11, 1), direction="to_paymo")
    assert sorted(map(repr, merged.changes)) == sorted(map(repr, itemized.merged().changes))
    assert len(merged.writes) == 3


async def test_a_voided_quickbooks_payment_is_not_copied(sync_env: SyncEnv) -> None:
    env = sync_env
    qbo = await sync_invoice(env, SMITH_1039)
    payment = await enter_qbo_payment(env, dt.date(2026, 11, 10), (qbo, Decimal("100.00")))
    assert payment.Id is not None
    assert payment.SyncToken is not None
    await env.qbo.void(Payment, payment.Id, payment.SyncToken, request_id=str(uuid.uuid4()))
    plan = await plan_payments(env.ctx, paymo_invoice_id=SMITH_1039)
    assert plan.is_noop
    assert (await paymo_invoice(env, SMITH_1039)).invoicepayments == []


# --- nothing twice -----------------------------------------------------------------------------------


async def test_mark_paid_twice_records_nothing_twice(sync_env: SyncEnv) -> None:
    env = sync_env
    qbo = await sync_invoice(env, ACME_1035)
    from_qbo = await enter_qbo_payment(env, dt.date(2026, 11, 12), (qbo, Decimal("500.00")))
    plan = await plan_payments(env.ctx, paymo_invoice_id=ACME_1035)
    assert sorted(c.target for c in writes(plan)) == ["paymo", "quickbooks"]

    first = await env.service.apply(plan)
    again = await env.service.apply(plan)  # the same approved plan, run a second time
    assert sorted(item.outcome for item in first.applied) == ["created", "created"]
    assert sorted(item.outcome for item in again.applied) == ["unchanged", "unchanged"]
    assert (await plan_payments(env.ctx, paymo_invoice_id=ACME_1035)).is_noop

    paymo = await paymo_invoice(env, ACME_1035)
    assert sorted(p.amount for p in paymo.invoicepayments or []) == [Decimal("500.00"), Decimal("2035.81")]
    assert sorted(p.TotalAmt or 0 for p in await qbo_payments_of(env, qbo)) == [
        Decimal("500.00"),
        Decimal("2035.81"),
    ]
    qbo = await qbo_invoice(env, str(qbo.Id))
    assert qbo.Balance == paymo.balance == Decimal("2553.71")
    assert from_qbo.Id is not None


async def test_writes_whose_ledger_entries_were_lost_are_recovered_by_marker_not_repeated(
    sync_env: SyncEnv,
) -> None:
    env = sync_env
    qbo = await sync_invoice(env, ACME_1035)
    from_qbo = await enter_qbo_payment(env, dt.date(2026, 11, 12), (qbo, Decimal("500.00")))
    assert from_qbo.Id is not None
    # An earlier run wrote both copies and crashed before its ledger entries were saved: the records
    # exist, with their origin markers, and the ledger knows nothing of them.
    pushed_before = await enter_qbo_payment(
        env, dt.date(2026, 10, 25), (qbo, Decimal("2035.81")), note=marker("payment", SEEDED_40_PERCENT)
    )
    written_before = await env.paymo.create_invoice_payment(
        invoice_id=ACME_1035,
        amount=Decimal("500.00"),
        date=dt.date(2026, 11, 12),
        notes=qbo_payment_note(from_qbo.Id),
    )

    plan = await plan_and_apply(env, paymo_invoice_id=ACME_1035)
    by_target = {change.target: change for change in writes(plan)}
    assert set(by_target) == {"ledger", "paymo"}
    assert by_target["ledger"].action == "link"
    assert by_target["ledger"].qbo_id == pushed_before.Id
    assert by_target["paymo"].lookup == {
        "done_key": payment_done_key(from_qbo.Id, str(qbo.Id)),
        "marker": qbo_payment_note(from_qbo.Id),
    }
    assert plan.totals == {}  # nothing new is paid on either side
    assert env.ledger.done_value(KIND_PAYMENT_TO_PAYMO, payment_done_key(from_qbo.Id, str(qbo.Id))) == str(
        written_before.id
    )
    link = env.ledger.link(KIND_PAYMENT_TO_QBO, SEEDED_40_PERCENT)
    assert link is not None
    assert link.qbo_id == pushed_before.Id
    assert len((await paymo_invoice(env, ACME_1035)).invoicepayments or []) == 2
    assert len(await qbo_payments_of(env, qbo)) == 2
    assert (await plan_payments(env.ctx, paymo_invoice_id=ACME_1035)).is_noop


# --- echo suppression ------------------------------------------------------------------------------


async def test_a_payment_pushed_to_quickbooks_is_not_pulled_back_into_paymo(sync_env: SyncEnv) -> None:
    env = sync_env
    await sync_invoice(env, ACME_1035)
    await plan_and_apply(env, paymo_invoice_id=ACME_1035, direction="to_quickbooks")

    back = await plan_payments(env.ctx, paymo_invoice_id=ACME_1035, direction="to_paymo")
    assert back.is_noop
    [skip] = back.changes
    assert skip.reason is not None
    assert "echo" in skip.reason
    # Even with the ledger link gone, the marker in QuickBooks says where the payment came from.
    env.ledger.remove_link(KIND_PAYMENT_TO_QBO, SEEDED_40_PERCENT)
    assert (await plan_payments(env.ctx, paymo_invoice_id=ACME_1035, direction="to_paymo")).is_noop
    assert [p.id for p in (await paymo_invoice(env, ACME_1035)).invoicepayments or []] == [SEEDED_40_PERCENT]


async def test_a_payment_written_to_paymo_is_not_pushed_back_to_quickbooks(sync_env: SyncEnv) -> None:
    env = sync_env
    qbo = await sync_invoice(env, SMITH_1039)
    await enter_qbo_payment(env, dt.date(2026, 11, 10), (qbo, Decimal("249.45")))
    await plan_and_apply(env, paymo_invoice_id=SMITH_1039, direction="to_paymo")

    forth = await plan_payments(env.ctx, paymo_invoice_id=SMITH_1039, direction="to_quickbooks")
    assert forth.is_noop
    assert len(await qbo_payments_of(env, qbo)) == 1


@pytest.mark.parametrize("direction", ["both", "to_paymo", "to_quickbooks"])
async def test_one_receipt_typed_into_both_systems_is_linked_not_copied(
    sync_env: SyncEnv, direction: str
) -> None:
    env = sync_env
    qbo = await sync_invoice(env, SMITH_1039)
    day = dt.date(2026, 11, 10)
    await env.paymo.create_invoice_payment(invoice_id=SMITH_1039, amount=Decimal("300.00"), date=day)
    typed = await enter_qbo_payment(env, day, (qbo, Decimal("300.00")))

    plan = await plan_and_apply(env, paymo_invoice_id=SMITH_1039, direction=direction)
    [link] = writes(plan)
    assert (link.action, link.target, link.qbo_id) == ("link", "ledger", typed.Id)
    assert "PAYMENT_ENTERED_TWICE" in codes(plan)
    assert (await plan_payments(env.ctx, paymo_invoice_id=SMITH_1039)).is_noop
    assert len((await paymo_invoice(env, SMITH_1039)).invoicepayments or []) == 1
    assert len(await qbo_payments_of(env, qbo)) == 1


# --- guards ----------------------------------------------------------------------------------------


async def test_a_payment_exceeding_the_open_balance_is_reported_not_written(sync_env: SyncEnv) -> None:
    env = sync_env
    qbo = await sync_invoice(env, ACME_1035)
    # The customer paid everything and the bookkeeper entered it in QBO; Paymo already has 40 % of it.
    full = await enter_qbo_payment(env, dt.date(2026, 11, 12), (qbo, Decimal("5089.52")))

    plan = await plan_payments(env.ctx, paymo_invoice_id=ACME_1035)
    assert plan.is_noop
    assert not plan.blocked
    exceeded = {f.record: f.message for f in plan.findings if f.code == "PAYMENT_EXCEEDS_BALANCE"}
    assert set(exceeded) == {f"quickbooks:payment:{full.Id}", f"paymo:payment:{SEEDED_40_PERCENT}"}
    assert "3053.71 open, 2035.81 less than the payment" in exceeded[f"quickbooks:payment:{full.Id}"]
    assert "0.00 open, 2035.81 less than the payment" in exceeded[f"paymo:payment:{SEEDED_40_PERCENT}"]
    await env.service.apply(plan)
    assert [p.id for p in (await paymo_invoice(env, ACME_1035)).invoicepayments or []] == [SEEDED_40_PERCENT]
    assert len(await qbo_payments_of(env, qbo)) == 1


async def test_payments_of_an_unsynced_invoice_ask_for_sync_invoice_first(sync_env: SyncEnv) -> None:
    one = await plan_payments(sync_env.ctx, paymo_invoice_id=INV["INV-2026-1036"])
    assert one.blocked
    assert codes(one) == ["INVOICE_NOT_SYNCED"]
    assert "sync_invoice" in one.findings[0].message
    every = await plan_payments(sync_env.ctx, since=dt.date(2026, 10, 1))
    assert not every.blocked
    assert every.is_noop
    assert sorted(f.record or "" for f in every.findings) == [
        f"paymo:invoice:{ACME_1035}",
        f"paymo:invoice:{INV['INV-2026-1036']}",
    ]


async def test_since_leaves_out_earlier_payments(sync_env: SyncEnv) -> None:
    env = sync_env
    qbo = await sync_invoice(env, ACME_1035)
    await enter_qbo_payment(env, dt.date(2026, 10, 30), (qbo, Decimal("10.00")))
    later = await enter_qbo_payment(env, dt.date(2026, 11, 2), (qbo, Decimal("20.00")))
    plan = await plan_payments(env.ctx, paymo_invoice_id=ACME_1035, since=dt.date(2026, 11, 1))
    # The seeded Paymo payment (2026-10-25) and the 10.00 QBO payment are before `since`.
    assert [(c.target, c.qbo_id) for c in writes(plan)] == [("paymo", later.Id)]


async def test_a_foreign_currency_payment_carries_the_exchange_rate_of_its_date(sync_env: SyncEnv) -> None:
    env = sync_env
    qbo = await sync_invoice(env, GLOBEX_1037)
    assert qbo.CurrencyRef is not None
    assert qbo.CurrencyRef.value == "USD"
    await env.paymo.create_invoice_payment(
        invoice_id=GLOBEX_1037, amount=Decimal("2000.00"), date=dt.date(2026, 11, 5)
    )
    plan = await plan_and_apply(env, paymo_invoice_id=GLOBEX_1037)
    [create] = writes(plan)
    assert create.payload is not None
    # The seed's rates: 1.3750 from 2026-10-01, 1.3900 from 2026-11-01 (CAD per USD).
    assert create.payload["ExchangeRate"] == Decimal("1.3900")
    assert create.payload["CurrencyRef"] == {"value": "USD"}
    assert plan.totals == {"USD": "2000.00"}
    [written] = await qbo_payments_of(env, qbo)
    assert written.CurrencyRef is not None
    assert written.CurrencyRef.value == "USD"
    assert written.ExchangeRate == Decimal("1.39")
    assert (await qbo_invoice(env, str(qbo.Id))).Balance == Decimal("3702.40")


async def test_a_foreign_currency_payment_without_a_known_rate_is_blocked(sync_env: SyncEnv) -> None:
    env = sync_env
    await sync_invoice(env, GLOBEX_1037)
    await env.paymo.create_invoice_payment(
        invoice_id=GLOBEX_1037, amount=Decimal("2000.00"), date=dt.date(2026, 9, 15)
    )
    plan = await plan_payments(env.ctx, paymo_invoice_id=GLOBEX_1037)
    assert plan.blocked
    assert codes(plan) == ["EXCHANGE_RATE_UNKNOWN"]
    assert "never recorded at a silent rate of 1" in plan.findings[0].message


async def test_a_longer_payment_id_in_a_note_is_not_taken_for_the_marker(sync_env: SyncEnv) -> None:
    env = sync_env
    qbo = await sync_invoice(env, SMITH_1039)
    typed = await enter_qbo_payment(env, dt.date(2026, 11, 10), (qbo, Decimal("100.00")))
    # Another payment whose note names QBO payment <id>0: "qbo:payment:<id>" is a prefix of it.
    await env.paymo.create_invoice_payment(
        invoice_id=SMITH_1039,
        amount=Decimal("50.00"),
        date=dt.date(2026, 11, 11),
        notes=qbo_payment_note(f"{typed.Id}0"),
    )
    plan = await plan_and_apply(env, paymo_invoice_id=SMITH_1039, direction="to_paymo")
    [create] = writes(plan)
    assert create.reason is None  # a real copy, not a recovery
    recorded = [
        p
        for p in (await paymo_invoice(env, SMITH_1039)).invoicepayments or []
        if p.amount == Decimal("100.00")
    ]
    assert [p.notes for p in recorded] == [qbo_payment_note(str(typed.Id))]


async def test_a_copied_payment_voided_in_quickbooks_is_reported(sync_env: SyncEnv) -> None:
    env = sync_env
    qbo = await sync_invoice(env, SMITH_1039)
    typed = await enter_qbo_payment(env, dt.date(2026, 11, 10), (qbo, Decimal("100.00")))
    await plan_and_apply(env, paymo_invoice_id=SMITH_1039)
    current = await env.qbo.read(Payment, str(typed.Id))
    assert current.Id is not None
    assert current.SyncToken is not None
    await env.qbo.void(Payment, current.Id, current.SyncToken, request_id=str(uuid.uuid4()))

    plan = await plan_payments(env.ctx, paymo_invoice_id=SMITH_1039)
    assert plan.is_noop
    assert codes(plan) == ["COPIED_PAYMENT_VOIDED"]
    [paymo_payment] = (await paymo_invoice(env, SMITH_1039)).invoicepayments or []
    assert plan.findings[0].record == f"paymo:payment:{paymo_payment.id}"
    # Once the human deletes the copy in Paymo, both sides agree and nothing is said any more.
    await env.paymo.delete_invoice_payment(paymo_payment.id)
    settled = await plan_payments(env.ctx, paymo_invoice_id=SMITH_1039)
    assert settled.is_noop
    assert settled.findings == ()


async def test_a_paymo_payment_changed_after_its_push_updates_the_quickbooks_payment(
    sync_env: SyncEnv,
) -> None:
    env = sync_env
    qbo = await sync_invoice(env, ACME_1035)
    await plan_and_apply(env, paymo_invoice_id=ACME_1035)
    link = env.ledger.link(KIND_PAYMENT_TO_QBO, SEEDED_40_PERCENT)
    assert link is not None
    await env.paymo.update_invoice_payment(SEEDED_40_PERCENT, {"amount": Decimal("2000.00")})

    plan = await plan_and_apply(env, paymo_invoice_id=ACME_1035)
    [update] = writes(plan)
    assert (update.action, update.qbo_id) == ("update", link.qbo_id)
    assert update.before == {"TotalAmt": Decimal("2035.81"), "TxnDate": dt.date(2026, 10, 25)}
    written = await env.qbo.read(Payment, link.qbo_id)
    assert written.TotalAmt == Decimal("2000.00")
    assert (await qbo_invoice(env, str(qbo.Id))).Balance == Decimal("3089.52")
    assert len(await qbo_payments_of(env, qbo)) == 1
    assert (await plan_payments(env.ctx, paymo_invoice_id=ACME_1035)).is_noop


async def test_a_pushed_payment_voided_in_quickbooks_is_reported_not_pushed_again(sync_env: SyncEnv) -> None:
    env = sync_env
    qbo = await sync_invoice(env, ACME_1035)
    await plan_and_apply(env, paymo_invoice_id=ACME_1035)
    link = env.ledger.link(KIND_PAYMENT_TO_QBO, SEEDED_40_PERCENT)
    assert link is not None
    current = await env.qbo.read(Payment, link.qbo_id)
    assert current.SyncToken is not None
    await env.qbo.void(Payment, link.qbo_id, current.SyncToken, request_id=str(uuid.uuid4()))

    plan = await plan_payments(env.ctx, paymo_invoice_id=ACME_1035)
    assert plan.is_noop
    assert codes(plan) == ["PUSHED_PAYMENT_GONE"]
    assert "voided" in plan.findings[0].message
    assert (await qbo_invoice(env, str(qbo.Id))).Balance == Decimal("5089.52")


async def test_on_a_us_company_the_foreign_currency_is_cad_and_its_rate_is_used(sync_env_us: SyncEnv) -> None:
    env = sync_env_us
    qbo = await sync_invoice(env, GLOBEX_1037)
    assert qbo.CurrencyRef is not None
    assert qbo.CurrencyRef.value == "CAD"
    await env.paymo.create_invoice_payment(
        invoice_id=GLOBEX_1037, amount=Decimal("702.40"), date=dt.date(2026, 10, 20)
    )
    plan = await plan_and_apply(env, paymo_invoice_id=GLOBEX_1037)
    [create] = writes(plan)
    assert create.after is not None
    # USD per CAD as of 2026-10-01 (the seed's next rate starts 2026-11-01).
    assert create.after["exchange_rate"] == Decimal("0.7273")
    [written] = await qbo_payments_of(env, qbo)
    assert written.ExchangeRate == Decimal("0.7273")
    assert (await qbo_invoice(env, str(qbo.Id))).Balance == Decimal("5000.00")
