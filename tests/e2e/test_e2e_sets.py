"""mark_paid, push_expenses and aggregate_time over a set through a real MCP session, decided per item like a
period of invoices: an item a guard blocks and one a policy rule denies are listed (with the reason) and
left out while the others are applied, one approval covers the whole set, and results say item by item
what became of each; a missing mapping still blocks the whole call."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from e2e_support import E2eEnv, Human, call, call_error, money, paymo_client, policy_text
from server_support import make_env

from paymo_qb_mcp.quickbooks.models import Invoice, Payment, Purchase, TimeActivity
from paymo_qb_mcp.sandbox.paymo import seed
from paymo_qb_mcp.sandbox.quickbooks import seed as qbo_seed

INV = seed.INVOICE_IDS
CLOSED_DAY = dt.date(2025, 12, 15)  # the sandbox company's books are closed through 2025-12-31
OCTOBER_1, NOVEMBER_30 = dt.date(2026, 10, 1), dt.date(2026, 11, 30)


def env_with_rules(
    tmp_path: Path,
    rules: list[dict[str, Any]],
    *,
    default: str = "allow",
    mappings: dict[str, Any] | None = None,
) -> E2eEnv:
    """The shipped policy with ``rules`` tried first (and another default or mappings when given)."""
    document = yaml.safe_load(policy_text(default=default, mappings=mappings))
    document["rules"] = rules + document["rules"]
    path = tmp_path / "policies.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return E2eEnv(make_env(tmp_path, path), Human("accept"))


def deny_usd(tool: str) -> dict[str, Any]:
    return {
        "name": "no US dollars through the agent",
        "tools": [tool],
        "when": {"currency_in": ["USD"]},
        "effect": "deny",
    }


def by_key(result: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The result's entries item by item (the run's own skips, which have no key, left out)."""
    items: dict[str, list[dict[str, Any]]] = {}
    for entry in result["results"]:
        if entry["key"] is not None:
            items.setdefault(entry["key"], []).append(entry)
    return items


def status_of(entries: list[dict[str, Any]]) -> str:
    """An item's status: every entry of one item carries the same."""
    statuses = {entry["status"] for entry in entries}
    assert len(statuses) == 1, entries
    return statuses.pop()


def left_out_records(result: dict[str, Any]) -> set[str]:
    return {finding["record"] for finding in result["findings"] if finding["code"] == "LEFT_OUT"}


async def test_push_expenses_applies_the_others_and_lists_the_blocked_and_the_denied_expense(
    tmp_path: Path,
) -> None:
    env = env_with_rules(tmp_path, [deny_usd("push_expenses")])
    async with paymo_client(env.server_env) as paymo:
        # A mileage claim dated in the closed period: the CLOSED_PERIOD guard blocks it.
        await paymo.update_expense(seed.EXPENSE_MILEAGE, {"date": CLOSED_DAY})
    chosen = [
        seed.EXPENSE_SOFTWARE,
        seed.EXPENSE_TRAVEL,
        seed.EXPENSE_MILEAGE,
        seed.EXPENSE_US_DOLLAR,
        seed.EXPENSE_INVOICED,
    ]
    async with env.client() as client:
        result = await call(client, "push_expenses", expense_ids=chosen)

    assert result["status"] == "applied"
    items = by_key(result)
    assert set(items) == {f"paymo:expense:{expense_id}" for expense_id in chosen}
    [blocked] = items[f"paymo:expense:{seed.EXPENSE_MILEAGE}"]
    assert (blocked["status"], blocked["action"]) == ("blocked", "skip")
    assert blocked["reason"].startswith("CLOSED_PERIOD: ")
    assert (blocked["total"], blocked["currency"]) == ("84.00", "CAD")
    [denied] = items[f"paymo:expense:{seed.EXPENSE_US_DOLLAR}"]
    assert (denied["status"], denied["action"]) == ("denied", "skip")
    assert "no US dollars through the agent" in denied["reason"]
    assert left_out_records(result) == {blocked["key"], denied["key"]}

    applied = {seed.EXPENSE_SOFTWARE: "75.00", seed.EXPENSE_TRAVEL: "142.35", seed.EXPENSE_INVOICED: "49.99"}
    purchases: dict[str, str] = {}
    for expense_id, amount in applied.items():
        entries = items[f"paymo:expense:{expense_id}"]
        assert status_of(entries) == "applied"
        [expense] = [entry for entry in entries if entry["entity"] == "expense"]
        assert (expense["action"], expense["paymo_id"], expense["total"]) == (
            "create",
            str(expense_id),
            amount,
        )
        purchases[str(expense_id)] = expense["qbo_id"]
    # The new customer the train ticket needs is written with it, under its key.
    travel = items[f"paymo:expense:{seed.EXPENSE_TRAVEL}"]
    assert [(entry["entity"], entry["action"]) for entry in travel] == [
        ("customer", "create"),
        ("expense", "create"),
    ]

    books = {str(purchase.Id): purchase for purchase in await env.qbo_all(Purchase)}
    assert set(books) == set(purchases.values())
    for expense_id, purchase_id in purchases.items():
        assert money(books[purchase_id].TotalAmt) == Decimal(applied[int(expense_id)])
    # One question for the whole set (the new customer needs a human), naming who needs them and why.
    assert len(env.human.seen) == 1
    question = env.human.seen[0].message
    assert "3 to write, 0 unchanged, 1 blocked, 1 denied" in question
    assert "These need you (1)" in question
    assert "Train Montréal–Toronto" in question
    assert "Totals: CAD 267.34" in question  # 75.00 + 142.35 + 49.99
    assert "Left out (2)" in question
    assert len([event for event in env.audit() if event["event"] == "approval_granted"]) == 1

    # Again: the applied expenses are unchanged, the other two are still listed, nothing is written.
    audit_size = len(env.audit())
    async with env.client() as client:
        again = await call(client, "push_expenses", expense_ids=chosen)
    assert again["status"] == "unchanged"
    assert {key: status_of(entries) for key, entries in by_key(again).items()} == {
        **{f"paymo:expense:{expense_id}": "unchanged" for expense_id in applied},
        blocked["key"]: "blocked",
        denied["key"]: "denied",
    }
    assert env.writes(since=audit_size) == []


async def test_aggregate_time_pushes_each_group_it_may_and_asks_once_for_all_of_them(tmp_path: Path) -> None:
    # Every write needs a human here; US dollars are refused; Chloé has no QuickBooks employee (a guard).
    env = env_with_rules(tmp_path, [deny_usd("aggregate_time")], default="confirm")
    async with env.client() as client:
        result = await call(client, "aggregate_time", date_from=OCTOBER_1, date_to=NOVEMBER_30)

    assert result["status"] == "applied"
    items = by_key(result)
    statuses = {key: status_of(entries) for key, entries in items.items()}
    blocked = [entries for key, entries in items.items() if statuses[key] == "blocked"]
    denied = [entries for key, entries in items.items() if statuses[key] == "denied"]
    applied = [entries for key, entries in items.items() if statuses[key] == "applied"]
    assert blocked
    assert denied
    assert applied
    for [entry] in blocked:
        assert entry["reason"].startswith("NO_WORKER: ")
        assert "Chloé Gagnon" in entry["reason"]
        assert entry["currency"] == "CAD"
    for [entry] in denied:
        assert entry["currency"] == "USD"
        assert "no US dollars through the agent" in entry["reason"]
    assert left_out_records(result) == {entries[0]["key"] for entries in blocked + denied}

    activities = {str(activity.Id): activity for activity in await env.qbo_all(TimeActivity)}
    created = {
        entry["qbo_id"]: entry
        for entries in applied
        for entry in entries
        if entry["entity"] == "time_activity"
    }
    assert set(activities) == set(created)
    for qbo_id in created:
        activity = activities[qbo_id]
        assert activity.EmployeeRef is not None
        assert activity.EmployeeRef.value in (qbo_seed.EMPLOYEE_ALICE, qbo_seed.EMPLOYEE_BEN)
    # The plan's totals are the applied groups' own: no US dollars, none of Chloé's time.
    assert result["totals"] == {
        "CAD": str(sum((money(entry["total"]) for entry in created.values()), Decimal(0)))
    }
    # One approval for every group, asked once.
    assert len(env.human.seen) == 1
    question = env.human.seen[0].message
    assert f"{len(applied)} to write, 0 unchanged, {len(blocked)} blocked, {len(denied)} denied" in question
    assert f"These need you ({len(applied)})" in question
    assert f"{len(applied)} of {len(applied)} time groups need a human" in question
    granted = [event for event in env.audit() if event["event"] == "approval_granted"]
    assert len(granted) == 1


async def test_aggregate_time_as_draft_invoices_decides_per_client(tmp_path: Path) -> None:
    env = env_with_rules(tmp_path, [deny_usd("aggregate_time")])
    async with env.client() as client:
        result = await call(
            client, "aggregate_time", date_from=OCTOBER_1, date_to=NOVEMBER_30, target="invoice_lines"
        )
    assert result["status"] == "applied"
    items = by_key(result)
    statuses = {key: status_of(entries) for key, entries in items.items()}
    # Globex is billed in US dollars: its whole draft invoice is refused, the other clients' are written.
    [denied] = [entries for key, entries in items.items() if statuses[key] == "denied"]
    assert [(entry["entity"], entry["currency"]) for entry in denied] == [("invoice", "USD")]
    applied = [entries for key, entries in items.items() if statuses[key] == "applied"]
    assert len(applied) == 2  # Acme and Smith & Sons
    drafts = [entry for entries in applied for entry in entries if entry["entity"] == "invoice"]
    assert [(entry["action"], entry["currency"]) for entry in drafts] == [("create", "CAD")] * 2
    assert len(await env.qbo_all(Invoice)) == 2
    assert set(statuses.values()) == {"applied", "denied"}


async def test_mark_paid_leaves_out_the_blocked_and_the_denied_invoice_and_records_the_rest(
    tmp_path: Path,
) -> None:
    rule = {
        "name": "large payments are entered by hand",
        "tools": ["mark_paid"],
        "when": {"amount_gte": "5000.00"},
        "effect": "deny",
    }
    env = env_with_rules(tmp_path, [rule])
    acme, cafe, smith = INV["INV-2026-1035"], INV["INV-2026-1036"], INV["INV-2026-1039"]
    async with env.client() as client:
        synced = await call(client, "sync_invoice", paymo_invoice_ids=[acme, cafe, smith])
        assert synced["status"] == "applied"
        async with paymo_client(env.server_env) as paymo:
            # Smith & Sons paid something the clerk dated in the closed period: CLOSED_PERIOD blocks it.
            await paymo.create_invoice_payment(
                invoice_id=smith, amount=Decimal("100.00"), date=CLOSED_DAY, notes="Cheque 9"
            )
        asked_before = len(env.human.seen)
        result = await call(client, "mark_paid", since=dt.date(2025, 12, 1), direction="to_quickbooks")

    assert result["status"] == "applied"
    items = {key: status_of(entries) for key, entries in by_key(result).items()}
    assert items == {
        f"paymo:invoice:{acme}": "applied",
        f"paymo:invoice:{cafe}": "denied",  # 6898.50 paid in full
        f"paymo:invoice:{smith}": "blocked",
    }
    entries = by_key(result)
    [blocked] = entries[f"paymo:invoice:{smith}"]
    assert blocked["reason"].startswith("CLOSED_PERIOD: ")
    [denied] = entries[f"paymo:invoice:{cafe}"]
    assert "large payments are entered by hand" in denied["reason"]
    assert denied["total"] == "6898.50"
    assert left_out_records(result) == {blocked["key"], denied["key"]}
    [pushed] = [entry for entry in entries[f"paymo:invoice:{acme}"] if entry["action"] == "create"]
    assert (pushed["entity"], pushed["paymo_id"], pushed["total"]) == (
        "payment",
        str(seed.PAYMENT_IDS[0]),
        "2035.81",
    )

    payments = await env.qbo_all(Payment)
    assert [str(payment.Id) for payment in payments] == [pushed["qbo_id"]]
    assert money(payments[0].TotalAmt) == Decimal("2035.81")
    assert len(env.human.seen) == asked_before  # allowed by default: nobody is asked


async def test_a_missing_mapping_still_blocks_the_whole_set(tmp_path: Path) -> None:
    env = env_with_rules(tmp_path, [], mappings={"expense_accounts": None})
    async with env.client() as client:
        refused = await call_error(client, "push_expenses", date_from=OCTOBER_1, date_to=NOVEMBER_30)
    assert refused.startswith("BLOCKED: ")
    assert "MAPPING_MISSING" in refused
    assert await env.qbo_all(Purchase) == []
