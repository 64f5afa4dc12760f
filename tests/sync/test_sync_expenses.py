"""Expenses Paymo → QBO end to end: Purchases or Bills on the tag's account, pushed once, currency, guards."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

from sync_support import SyncEnv, fixed_now

from paymo_qb_mcp.config.policy import ExpenseTarget, QboRef
from paymo_qb_mcp.domain.keys import marker
from paymo_qb_mcp.domain.plan import Plan
from paymo_qb_mcp.quickbooks.models import Account, Bill, Purchase
from paymo_qb_mcp.sandbox.paymo import seed as paymo_seed
from paymo_qb_mcp.sandbox.quickbooks import seed as qbo_seed
from paymo_qb_mcp.sync.context import SyncContext
from paymo_qb_mcp.sync.service import SyncService

SOFTWARE = paymo_seed.EXPENSE_SOFTWARE
TRAVEL = paymo_seed.EXPENSE_TRAVEL
MILEAGE = paymo_seed.EXPENSE_MILEAGE
US_DOLLAR = paymo_seed.EXPENSE_US_DOLLAR
INVOICED = paymo_seed.EXPENSE_INVOICED
ALL = (SOFTWARE, TRAVEL, MILEAGE, US_DOLLAR, INVOICED)
# By tag (policies.yaml): Software, Travel, Mileage; the seed tags the USD and invoiced ones Software.
EXPECTED_ACCOUNTS = {
    SOFTWARE: qbo_seed.ACCOUNT_OFFICE_SOFTWARE,
    TRAVEL: qbo_seed.ACCOUNT_TRAVEL,
    MILEAGE: qbo_seed.ACCOUNT_MILEAGE,
    US_DOLLAR: qbo_seed.ACCOUNT_OFFICE_SOFTWARE,
    INVOICED: qbo_seed.ACCOUNT_OFFICE_SOFTWARE,
}
LINE = "AccountBasedExpenseLineDetail"


async def push(service: SyncService, **selection: object) -> Plan:
    plan = await service.plan_expenses(**selection)  # type: ignore[arg-type]
    assert not plan.blocked, plan.summary
    outcome = await service.apply(plan)
    assert outcome.findings == [], [finding.message for finding in outcome.findings]
    return plan


def by_marker(records: list[Purchase] | list[Bill]) -> dict[int, Purchase | Bill]:
    """QBO records keyed by the Paymo expense id their marker names."""
    found: dict[int, Purchase | Bill] = {}
    for record in records:
        for expense_id in ALL:
            if marker("expense", expense_id) in (record.PrivateNote or "").split():
                assert expense_id not in found, f"expense {expense_id} is in QuickBooks twice"
                found[expense_id] = record
    return found


def line_detail(record: Purchase | Bill) -> tuple[Decimal, str, str | None, str | None]:
    (line,) = record.Line or []
    detail = line.AccountBasedExpenseLineDetail
    assert detail is not None
    assert detail.AccountRef is not None
    assert line.Amount is not None
    return (
        line.Amount,
        detail.AccountRef.value,
        detail.CustomerRef.value if detail.CustomerRef else None,
        detail.BillableStatus,
    )


def service_with(env: SyncEnv, target: ExpenseTarget) -> SyncService:
    mappings = env.mappings.model_copy(update={"expense_target": target})
    return SyncService(
        SyncContext(paymo=env.paymo, qbo=env.qbo, ledger=env.ledger, mappings=mappings, now=fixed_now)
    )


def posts_to(env: SyncEnv, path: str) -> int:
    """QBO writes of one entity: single POSTs, plus the items of that entity in batch requests."""
    singles = sum(
        1
        for entry in env.qbo_emu.request_log
        if entry.method == "POST" and entry.path.endswith(f"/{path}") and entry.status == 200
    )
    batched = sum(
        1
        for entry in env.qbo_emu.request_log
        if entry.method == "POST" and entry.path.endswith("/batch") and entry.status == 200
        for item in json.loads(entry.body)["BatchItemRequest"]
        if any(key.lower() == path for key in item)
    )
    return singles + batched


# --- the default mapping: purchases ----------------------------------------------------------


async def test_expenses_become_purchases_on_the_account_their_tag_maps_to(sync_env: SyncEnv) -> None:
    await push(sync_env.service)

    purchases = by_marker(await sync_env.qbo.query_all(Purchase))
    assert sorted(purchases) == sorted(ALL)
    expenses = {expense.id: expense for expense in await sync_env.paymo.list_expenses()}
    for expense_id, purchase in purchases.items():
        assert purchase.Id is not None
        stored = await sync_env.qbo.read(Purchase, purchase.Id)
        amount, account, customer, status = line_detail(stored)
        paymo = expenses[expense_id]
        assert amount == stored.TotalAmt == paymo.amount
        assert account == EXPECTED_ACCOUNTS[expense_id]
        assert stored.PaymentType == "Cash"
        assert stored.AccountRef is not None
        assert stored.AccountRef.value == qbo_seed.ACCOUNT_CHEQUING
        assert stored.TxnDate == paymo.date
        # The client's customer, through the ledger link the plan made (or the customer it created).
        customer_link = sync_env.ledger.link("customer", paymo.client_id or 0)
        assert customer_link is not None
        assert customer == customer_link.qbo_id
        assert status == ("NotBillable" if expense_id == INVOICED else "Billable")
        expense_link = sync_env.ledger.link("expense", expense_id)
        assert expense_link is not None
        assert expense_link.qbo_id == stored.Id
    acme = sync_env.ledger.link("customer", paymo_seed.ACME)
    assert acme is not None
    assert acme.qbo_id == "1"  # "ACME Corp."
    # Nothing is written to Paymo: the expenses read back exactly as before.
    assert {expense.id: bool(expense.invoiced) for expense in expenses.values()} == {
        SOFTWARE: False,
        TRAVEL: False,
        MILEAGE: False,
        US_DOLLAR: False,
        INVOICED: True,
    }


async def test_expenses_are_pushed_once_however_often_it_runs(sync_env: SyncEnv) -> None:
    first = await push(sync_env.service)
    assert first.counts()["create"] == 6  # five expenses and the Stark Industries customer

    for _ in range(2):
        again = await sync_env.service.plan_expenses()
        assert again.writes == ()
        assert [change.action for change in again.changes] == ["skip"] * 5
        await sync_env.service.apply(again)

    assert len(await sync_env.qbo.query_all(Purchase)) == 5
    assert posts_to(sync_env, "purchase") == 5


async def test_the_us_dollar_expense_carries_usd_and_the_exchange_rate_of_its_date(sync_env: SyncEnv) -> None:
    expense = await sync_env.paymo.get_expense(US_DOLLAR)
    assert expense.currency == "US$"  # Paymo's own, non-ISO code

    await push(sync_env.service, expense_ids=[US_DOLLAR])

    (purchase,) = by_marker(await sync_env.qbo.query_all(Purchase)).values()
    assert purchase.Id is not None
    stored = await sync_env.qbo.read(Purchase, purchase.Id)
    assert stored.CurrencyRef is not None
    assert stored.CurrencyRef.value == "USD"
    # The latest QuickBooks rate on or before 2026-10-31 is the one of 2026-10-01: never a silent 1.
    assert stored.ExchangeRate == Decimal("1.3750")
    assert stored.TotalAmt == Decimal("298.17")
    # QuickBooks takes a purchase's currency from its payee: the client's (USD) customer, Globex.
    assert stored.EntityRef is not None
    assert stored.EntityRef.value == "4"
    assert stored.EntityRef.type == "Customer"


async def test_an_unknown_exchange_rate_blocks_the_expense(sync_env: SyncEnv) -> None:
    await sync_env.paymo.update_expense(US_DOLLAR, {"date": dt.date(2026, 9, 15)})

    plan = await sync_env.service.plan_expenses(expense_ids=[US_DOLLAR])

    assert plan.blocked
    assert [finding.code for finding in plan.findings if finding.severity == "blocker"] == [
        "EXCHANGE_RATE_MISSING"
    ]
    assert plan.writes == ()


async def test_expenses_become_bills_when_the_mapping_says_so(sync_env: SyncEnv) -> None:
    target = ExpenseTarget(type="bill", vendor=QboRef(id=qbo_seed.VENDOR_ADOBE, name="Adobe"))
    service = service_with(sync_env, target)
    home_currency = [SOFTWARE, TRAVEL, MILEAGE, INVOICED]

    plan = await push(service, expense_ids=home_currency)

    assert {change.wire_entity for change in plan.writes if change.entity == "expense"} == {"Bill"}
    bills = by_marker(await sync_env.qbo.query_all(Bill))
    assert sorted(bills) == sorted(home_currency)
    for expense_id, bill in bills.items():
        assert bill.Id is not None
        stored = await sync_env.qbo.read(Bill, bill.Id)
        assert stored.VendorRef is not None
        assert stored.VendorRef.value == qbo_seed.VENDOR_ADOBE
        amount, account, _, _ = line_detail(stored)
        expense = await sync_env.paymo.get_expense(expense_id)
        assert amount == stored.Balance == expense.amount
        assert account == EXPECTED_ACCOUNTS[expense_id]
    assert await sync_env.qbo.query_all(Purchase) == []
    assert (await service.plan_expenses(expense_ids=home_currency)).writes == ()


async def test_a_bill_in_another_currency_than_its_vendor_is_blocked(sync_env: SyncEnv) -> None:
    service = service_with(sync_env, ExpenseTarget(type="bill", vendor=QboRef(id=qbo_seed.VENDOR_ADOBE)))

    plan = await service.plan_expenses(expense_ids=[US_DOLLAR])

    (blocker,) = [finding for finding in plan.findings if finding.severity == "blocker"]
    assert blocker.code == "VENDOR_CURRENCY"
    assert "USD" in blocker.message
    assert "CAD" in blocker.message


# --- changes, receipts, flags ----------------------------------------------------------------


async def test_a_changed_expense_is_a_sparse_update_of_the_same_purchase(sync_env: SyncEnv) -> None:
    await push(sync_env.service, expense_ids=[SOFTWARE])
    link = sync_env.ledger.link("expense", SOFTWARE)
    assert link is not None
    before = await sync_env.qbo.read(Purchase, link.qbo_id)

    await sync_env.paymo.update_expense(SOFTWARE, {"amount": Decimal("80.50"), "notes": "Figma (annual)"})
    plan = await push(sync_env.service, expense_ids=[SOFTWARE])

    (update,) = plan.writes
    assert update.action == "update"
    assert update.qbo_id == before.Id
    assert update.before is not None
    assert update.before["TotalAmt"] == Decimal("75.00")
    after = await sync_env.qbo.read(Purchase, link.qbo_id)
    assert after.TotalAmt == Decimal("80.50")
    assert int(after.SyncToken or 0) == int(before.SyncToken or 0) + 1
    (line,) = after.Line or []
    assert line.Description is not None
    assert line.Description.startswith("Figma (annual)")
    assert len(await sync_env.qbo.query_all(Purchase)) == 1
    assert (await sync_env.service.plan_expenses(expense_ids=[SOFTWARE])).writes == ()


async def test_the_receipt_url_goes_into_the_private_note_with_the_marker(sync_env: SyncEnv) -> None:
    receipt = "https://app.paymoapp.com/files/receipts/figma-2026-10.pdf"
    sync_env.paymo_emu.state.update("expenses", SOFTWARE, {"file": receipt})

    plan = await push(sync_env.service, expense_ids=[SOFTWARE])

    (create,) = [change for change in plan.writes if change.entity == "expense"]
    assert create.after is not None
    assert create.after["receipt"] == receipt
    (purchase,) = by_marker(await sync_env.qbo.query_all(Purchase)).values()
    assert receipt in (purchase.PrivateNote or "")
    assert marker("expense", SOFTWARE) in (purchase.PrivateNote or "")


async def test_an_already_invoiced_expense_is_pushed_as_a_cost_and_flagged(sync_env: SyncEnv) -> None:
    plan = await push(sync_env.service, expense_ids=[INVOICED])

    flagged = [finding for finding in plan.findings if finding.code == "ALREADY_INVOICED"]
    assert [finding.severity for finding in flagged] == ["info"]
    assert flagged[0].record == f"paymo:expense:{INVOICED}"
    (purchase,) = by_marker(await sync_env.qbo.query_all(Purchase)).values()
    _, _, customer, status = line_detail(purchase)
    assert customer == "1"
    assert status == "NotBillable"


# --- guards found at plan time ---------------------------------------------------------------


async def test_an_inactive_expense_account_blocks_at_plan_time(sync_env: SyncEnv) -> None:
    travel = await sync_env.qbo.read(Account, qbo_seed.ACCOUNT_TRAVEL)
    assert travel.SyncToken is not None
    await sync_env.qbo.deactivate(
        Account, qbo_seed.ACCOUNT_TRAVEL, travel.SyncToken, request_id="deactivate-1"
    )

    plan = await sync_env.service.plan_expenses(expense_ids=[SOFTWARE, TRAVEL])

    (blocker,) = [finding for finding in plan.findings if finding.severity == "blocker"]
    assert blocker.code == "INACTIVE_REF"
    assert "Travel" in blocker.message
    assert "610" in blocker.message
    assert plan.blocked


async def test_item_by_item_an_inactive_account_or_a_missing_id_leaves_out_only_its_expense(
    sync_env: SyncEnv,
) -> None:
    travel = await sync_env.qbo.read(Account, qbo_seed.ACCOUNT_TRAVEL)
    assert travel.SyncToken is not None
    await sync_env.qbo.deactivate(
        Account, qbo_seed.ACCOUNT_TRAVEL, travel.SyncToken, request_id="deactivate-2"
    )
    missing = 69999

    itemized = await sync_env.service.plan_expense_items(expense_ids=[SOFTWARE, TRAVEL, MILEAGE, missing])

    assert not itemized.common.blocked
    items = {item.key: item for item in itemized.items}
    assert list(items) == [f"paymo:expense:{n}" for n in (SOFTWARE, TRAVEL, MILEAGE, missing)]
    blocked = {key: item for key, item in items.items() if item.plan.blocked}
    assert [finding.code for finding in blocked[f"paymo:expense:{TRAVEL}"].plan.findings] == ["INACTIVE_REF"]
    assert [finding.code for finding in blocked[f"paymo:expense:{missing}"].plan.findings] == ["NOT_FOUND"]
    for expense_id, amount in ((SOFTWARE, Decimal("75.00")), (MILEAGE, Decimal("84.00"))):
        item = items[f"paymo:expense:{expense_id}"]
        assert not item.plan.blocked
        assert [change.entity for change in item.plan.writes][-1] == "expense"
        assert (item.total, item.currency) == (amount, "CAD")
    # The one plan of the same expenses is still blocked as a whole.
    assert (await sync_env.service.plan_expenses(expense_ids=[SOFTWARE, TRAVEL, MILEAGE, missing])).blocked


async def test_item_by_item_a_missing_mapping_still_blocks_the_run(sync_env: SyncEnv) -> None:
    mappings = sync_env.mappings.model_copy(update={"expense_accounts": None})
    service = SyncService(
        SyncContext(
            paymo=sync_env.paymo, qbo=sync_env.qbo, ledger=sync_env.ledger, mappings=mappings, now=fixed_now
        )
    )

    itemized = await service.plan_expense_items(expense_ids=[SOFTWARE])

    assert [finding.code for finding in itemized.common.findings] == ["MAPPING_MISSING"]
    assert itemized.common.blocked


async def test_an_expense_in_the_closed_period_blocks_at_plan_time(sync_env: SyncEnv) -> None:
    await sync_env.paymo.update_expense(MILEAGE, {"date": dt.date(2025, 12, 15)})

    plan = await sync_env.service.plan_expenses(expense_ids=[MILEAGE])

    (blocker,) = [finding for finding in plan.findings if finding.severity == "blocker"]
    assert blocker.code == "CLOSED_PERIOD"
    assert "2025-12-31" in blocker.message
    assert plan.writes == ()


async def test_date_filters_select_expenses_by_their_date(sync_env: SyncEnv) -> None:
    plan = await sync_env.service.plan_expenses(date_from=dt.date(2026, 10, 1), date_to=dt.date(2026, 10, 31))

    chosen = sorted(change.paymo_id for change in plan.writes if change.entity == "expense")  # type: ignore[type-var]
    assert chosen == [SOFTWARE, MILEAGE, US_DOLLAR]
