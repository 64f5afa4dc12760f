"""push_expenses through a real MCP session: Purchases by default, Bills when the policy says so — each
expense once, on the account its tag maps to, in its own currency — read back from both systems."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from e2e_support import US_MAPPINGS, E2eEnv, call, e2e_env, paymo_client

from paymo_qb_mcp.paymo.models import Expense
from paymo_qb_mcp.quickbooks.models import Bill, Purchase
from paymo_qb_mcp.sandbox.paymo import seed
from paymo_qb_mcp.sandbox.quickbooks import seed as qbo_seed

SEPTEMBER_1, NOVEMBER_30 = dt.date(2026, 9, 1), dt.date(2026, 11, 30)
ACCOUNT_BY_TAG = {  # the shipped policy's mappings.expense_accounts.by_tag
    "Software": qbo_seed.ACCOUNT_OFFICE_SOFTWARE,
    "Travel": qbo_seed.ACCOUNT_TRAVEL,
    "Mileage": qbo_seed.ACCOUNT_MILEAGE,
}
HOME_CURRENCY_EXPENSES = [
    seed.EXPENSE_SOFTWARE,
    seed.EXPENSE_TRAVEL,
    seed.EXPENSE_MILEAGE,
    seed.EXPENSE_INVOICED,
]


async def paymo_expenses(env: E2eEnv) -> dict[int, Expense]:
    async with paymo_client(env.server_env) as paymo:
        return {expense.id: expense for expense in await paymo.list_expenses()}


def expected_account(expense: Expense) -> str:
    return next(ACCOUNT_BY_TAG[tag] for tag in expense.tags if tag in ACCOUNT_BY_TAG)


def currency_of(expense: Expense) -> str:
    return "USD" if expense.currency in ("US$", "USD") else "CAD"


async def test_expenses_become_purchases_once_on_the_account_their_tag_maps_to(tmp_path: Path) -> None:
    env = e2e_env(tmp_path)
    expenses = await paymo_expenses(env)
    async with env.client() as client:
        first = await call(client, "push_expenses", date_from=SEPTEMBER_1, date_to=NOVEMBER_30)
        assert first["status"] == "applied"
        pushed = {int(r["paymo_id"]): r["qbo_id"] for r in first["results"] if r["entity"] == "expense"}
        assert sorted(pushed) == sorted(expenses)

        for expense_id, purchase_id in pushed.items():
            expense = expenses[expense_id]
            purchase = await env.qbo_read(Purchase, purchase_id)
            [line] = purchase.Line or []
            detail = line.AccountBasedExpenseLineDetail
            assert detail is not None
            assert detail.AccountRef is not None
            assert purchase.TotalAmt == line.Amount == expense.amount
            assert purchase.TxnDate == expense.date
            assert detail.AccountRef.value == expected_account(expense)
            assert purchase.PaymentType == "Cash"
            assert purchase.AccountRef is not None
            assert purchase.AccountRef.value == qbo_seed.ACCOUNT_CHEQUING
            assert (purchase.CurrencyRef.value if purchase.CurrencyRef else "CAD") == currency_of(expense)
            assert f"paymo:expense:{expense_id}" in (purchase.PrivateNote or "")
        expense_writes = [w for w in env.writes("push_expenses") if w["ids"]["entity"] == "expense"]
        assert sorted((int(w["ids"]["paymo"]), w["ids"]["quickbooks"]) for w in expense_writes) == sorted(
            pushed.items()
        )
        assert {w["outcome"] for w in expense_writes} == {"created"}

        # Run again (an agent retrying, or next month's overlapping period): nothing new anywhere.
        audit_size = len(env.audit())
        again = await call(client, "push_expenses", date_from=SEPTEMBER_1, date_to=NOVEMBER_30)
        assert again["status"] == "unchanged"
        assert env.writes(since=audit_size) == []
        overlap = await call(
            client, "push_expenses", expense_ids=[seed.EXPENSE_TRAVEL, seed.EXPENSE_SOFTWARE]
        )
        assert overlap["status"] == "unchanged"
    purchases = await env.qbo_all(Purchase)
    assert sorted(str(p.Id) for p in purchases) == sorted(pushed.values())
    # Paymo is only read: its expenses are exactly as before.
    assert await paymo_expenses(env) == expenses


async def test_expenses_become_bills_to_the_mapped_vendor_when_the_policy_says_so(tmp_path: Path) -> None:
    env = e2e_env(
        tmp_path,
        mappings={
            "expense_target": {"type": "bill", "vendor": {"id": qbo_seed.VENDOR_ADOBE, "name": "Adobe"}}
        },
    )
    expenses = await paymo_expenses(env)
    async with env.client() as client:
        first = await call(client, "push_expenses", expense_ids=HOME_CURRENCY_EXPENSES)
        assert first["status"] == "applied"
        pushed = {int(r["paymo_id"]): r["qbo_id"] for r in first["results"] if r["entity"] == "expense"}
        assert sorted(pushed) == sorted(HOME_CURRENCY_EXPENSES)
        for expense_id, bill_id in pushed.items():
            bill = await env.qbo_read(Bill, bill_id)
            expense = expenses[expense_id]
            assert bill.VendorRef is not None
            assert bill.VendorRef.value == qbo_seed.VENDOR_ADOBE
            assert bill.TotalAmt == bill.Balance == expense.amount  # owed, not paid
            [line] = bill.Line or []
            assert line.AccountBasedExpenseLineDetail is not None
            assert line.AccountBasedExpenseLineDetail.AccountRef is not None
            assert line.AccountBasedExpenseLineDetail.AccountRef.value == expected_account(expense)

        again = await call(client, "push_expenses", expense_ids=HOME_CURRENCY_EXPENSES)
        assert again["status"] == "unchanged"
    assert sorted(str(b.Id) for b in await env.qbo_all(Bill)) == sorted(pushed.values())
    assert await env.qbo_all(Purchase) == []


async def test_on_the_us_company_a_usd_expense_of_a_cad_client_is_refused_with_the_true_reason(
    tmp_path: Path,
) -> None:
    # The New York office pays AWS in dollars for Globex, whom it invoices in Canadian dollars; QuickBooks
    # cannot bill a USD expense to a CAD customer. The refusal must say that — not that Globex "is invoiced
    # in USD", which is false and sends the bookkeeper looking at the wrong invoices. It leaves that expense
    # out, and the others go ahead (before expenses were decided one by one, it refused the whole call).
    env = e2e_env(tmp_path, tax_model="us", mappings=US_MAPPINGS, replace_mappings=True)
    async with paymo_client(env.server_env) as paymo:
        expense = await paymo.get_expense(seed.EXPENSE_US_DOLLAR)
        globex_invoice = await paymo.get_invoice(seed.INVOICE_IDS["INV-2026-1037"])
    assert (expense.currency, globex_invoice.currency) == ("US$", "CAD")
    chosen = [seed.EXPENSE_US_DOLLAR, seed.EXPENSE_SOFTWARE, seed.EXPENSE_TRAVEL, seed.EXPENSE_MILEAGE]
    async with env.client() as client:
        result = await call(client, "push_expenses", expense_ids=chosen)
        alone = await call(client, "push_expenses", expense_ids=[seed.EXPENSE_US_DOLLAR])
    assert result["status"] == "applied"
    [refused] = [entry for entry in result["results"] if entry["status"] == "blocked"]
    assert (refused["key"], refused["action"]) == (f"paymo:expense:{seed.EXPENSE_US_DOLLAR}", "skip")
    reason = refused["reason"]
    assert reason.startswith("CURRENCY_MISMATCH: ")
    assert "is invoiced in USD" not in reason
    assert "(a USD transaction)" in reason
    assert "'Globex' (Id 4) is in CAD" in reason
    assert [finding["record"] for finding in result["findings"] if finding["code"] == "LEFT_OUT"] == [
        refused["key"]
    ]
    pushed = {entry["paymo_id"] for entry in result["results"] if entry["status"] == "applied"}
    assert {str(expense_id) for expense_id in chosen[1:]} <= pushed
    assert len(await env.qbo_all(Purchase)) == 3
    # On its own it is still refused for the same reason, and nothing is written.
    assert alone["status"] == "unchanged"
    assert [(entry["status"], entry["reason"]) for entry in alone["results"]] == [("blocked", reason)]
    assert len(await env.qbo_all(Purchase)) == 3
