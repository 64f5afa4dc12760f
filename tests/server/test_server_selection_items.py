"""combine_items on hand-made sets: a change two items need is written once (by the first), an item whose
shared write differs is left out as conflicting, the run's own blocker blocks the plan, and results name
each record's item."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from server_support import SHIPPED_POLICY

from paymo_qb_mcp.config.policy import load_policy
from paymo_qb_mcp.domain.plan import Change, Finding, Plan
from paymo_qb_mcp.server.selection import combine_items, item_results
from paymo_qb_mcp.sync.items import ItemizedPlan, PlannedItem

TOOL = "push_expenses"
POLICY = load_policy(SHIPPED_POLICY)
NOVEMBER = dt.date(2026, 11, 3)


def customer_link(qbo_id: str = "7") -> Change:
    return Change(
        action="link",
        entity="customer",
        paymo_id=10001,
        qbo_id=qbo_id,
        summary=f"Link Paymo client 10001 to QuickBooks customer {qbo_id}",
        target="ledger",
        link_kind="customer",
    )


def expense(expense_id: int, amount: str) -> Change:
    return Change(
        action="create",
        entity="expense",
        paymo_id=expense_id,
        after={"amount": Decimal(amount), "currency": "CAD", "txn_date": NOVEMBER},
        payload={"TotalAmt": Decimal(amount)},
        summary=f"Create QuickBooks Purchase for Paymo expense {expense_id}",
        wire_entity="Purchase",
        link_kind="expense",
    )


def paymo_payment(qbo_payment: str, invoice_id: int, amount: str) -> Change:
    """A QuickBooks payment copied to Paymo, as mark_paid plans it: no Paymo id until it exists, so its
    done-marker names it."""
    return Change(
        action="create",
        entity="payment",
        target="paymo",
        wire_entity="invoicepayments",
        link_kind="payment_to_paymo",
        qbo_id=qbo_payment,
        payload={"invoice_id": invoice_id, "amount": Decimal(amount), "date": NOVEMBER},
        lookup={"done_key": f"{qbo_payment}:{invoice_id}", "marker": f"qbo:payment:{qbo_payment}"},
        summary=f"Record QuickBooks payment {qbo_payment} in Paymo",
    )


def item(expense_id: int, *changes: Change, findings: tuple[Finding, ...] = ()) -> PlannedItem:
    return PlannedItem(
        key=f"paymo:expense:{expense_id}",
        kind="expense",
        label=f"Paymo expense {expense_id}",
        plan=Plan.build(TOOL, changes, findings=findings, totals={"CAD": Decimal(1)}),
        total=Decimal(1),
        currency="CAD",
    )


def itemized(*items: PlannedItem, common: tuple[Finding, ...] = ()) -> ItemizedPlan:
    return ItemizedPlan(
        TOOL, "a test set", items, Plan.build(TOOL, [], findings=common), "expense", "expenses"
    )


def by_key(results: list[Any]) -> dict[str | None, list[tuple[str, str]]]:
    found: dict[str | None, list[tuple[str, str]]] = {}
    for result in results:
        found.setdefault(result.key, []).append((result.entity, result.status))
    return found


def test_a_change_two_items_need_is_written_once_and_listed_with_the_first() -> None:
    combined = combine_items(
        TOOL,
        itemized(
            item(1, customer_link(), expense(1, "10.00")), item(2, customer_link(), expense(2, "20.00"))
        ),
        POLICY,
    )

    assert [change.entity for change in combined.plan.writes] == ["customer", "expense", "expense"]
    assert [verdict.status for verdict in combined.verdicts] == ["included", "included"]
    assert combined.plan.totals == {"CAD": "2.00"}
    assert by_key(item_results(combined, None, "planned")) == {
        "paymo:expense:1": [("customer", "planned"), ("expense", "planned")],
        "paymo:expense:2": [("expense", "planned")],
    }


def test_an_item_that_needs_a_shared_record_written_differently_is_left_out() -> None:
    combined = combine_items(
        TOOL,
        itemized(
            item(1, customer_link("7"), expense(1, "10.00")), item(2, customer_link("8"), expense(2, "9.00"))
        ),
        POLICY,
    )

    first, second = combined.verdicts
    assert first.status == "included"
    assert second.status == "blocked"
    assert second.reason.startswith("CONFLICTING_ITEMS: ")
    assert [change.paymo_id for change in combined.plan.writes] == [10001, 1]
    [left_out] = [finding for finding in combined.plan.findings if finding.code == "LEFT_OUT"]
    assert left_out.record == "paymo:expense:2"


def test_payments_copied_to_paymo_for_different_invoices_do_not_conflict() -> None:
    # They have no Paymo id yet: each is told apart by its done-marker, not taken for one record
    # "planned differently" (which left all but the first out of every mark_paid run).
    combined = combine_items(
        "mark_paid",
        itemized(
            item(1, paymo_payment("101", 1, "10.00")),
            item(2, paymo_payment("102", 2, "20.00")),
            item(3, paymo_payment("103", 3, "30.00")),
        ),
        POLICY,
    )

    assert [verdict.status for verdict in combined.verdicts] == ["included", "included", "included"]
    assert [change.qbo_id for change in combined.plan.writes] == ["101", "102", "103"]


def test_a_blocked_item_is_left_out_and_the_runs_own_blocker_blocks_the_plan() -> None:
    blocker = Finding(severity="blocker", code="CLOSED_PERIOD", message="closed", record="paymo:expense:2")
    set_of_two = itemized(item(1, expense(1, "10.00")), item(2, findings=(blocker,)))

    combined = combine_items(TOOL, set_of_two, POLICY)
    assert not combined.plan.blocked
    assert [verdict.status for verdict in combined.verdicts] == ["included", "blocked"]
    assert by_key(item_results(combined, None, "planned"))["paymo:expense:2"] == [("expense", "blocked")]

    missing = Finding(severity="blocker", code="MAPPING_MISSING", message="no mapping")
    run_blocked = itemized(*set_of_two.items, common=(missing,))
    assert combine_items(TOOL, run_blocked, POLICY).plan.blocked
