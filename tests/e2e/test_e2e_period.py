"""A month of invoices as one plan through a real MCP session: the policy decides per invoice, blocked and
denied invoices are listed and left out while the rest goes ahead, a human approves the whole period
once (in the client or out of band), an approval stops matching when an invoice in the period changes,
and a customer a bookkeeper adds in QuickBooks between two calls is found by the next plan."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import yaml
from e2e_support import E2eEnv, Human, call, call_error, e2e_env, money, paymo_client, policy_text
from server_support import make_env

from paymo_qb_mcp.quickbooks.models import Customer, EmailAddress, Invoice
from paymo_qb_mcp.quickbooks.query import eq
from paymo_qb_mcp.sandbox.paymo import seed

INV = seed.INVOICE_IDS
TOTALS = seed.INVOICE_TOTALS["global"]
# The demo's October–November, and the closed December of 2025 where INV-2026-1042 is dated.
PERIOD = {"date_from": dt.date(2025, 12, 1), "date_to": dt.date(2026, 11, 30)}
WRITTEN = ("INV-2026-1035", "INV-2026-1036", "INV-2026-1039", "INV-2026-1041")


def env_with_rules(tmp_path: Path, rules: list[dict[str, Any]], *, human: Human | None = None) -> E2eEnv:
    """The shipped policy (writes allowed by default) with ``rules`` tried first."""
    document = yaml.safe_load(policy_text(default="allow"))
    document["rules"] = rules + document["rules"]
    path = tmp_path / "policies.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return E2eEnv(make_env(tmp_path, path), human or Human("accept"))


DENY_USD = {
    "name": "no US dollars through the agent",
    "tools": ["sync_invoice"],
    "when": {"currency_in": ["USD"]},
    "effect": "deny",
}


def by_number(result: dict[str, Any]) -> dict[int, dict[str, Any]]:
    return {entry["paymo_invoice_id"]: entry for entry in result["results"] if entry["paymo_invoice_id"]}


async def qbo_invoices(env: E2eEnv) -> dict[str, Invoice]:
    found = await env.qbo_all(Invoice)
    numbers = [invoice.DocNumber for invoice in found]
    assert len(numbers) == len(set(numbers)), f"a duplicate invoice in QuickBooks: {numbers}"
    return {invoice.DocNumber or "": invoice for invoice in found}


async def test_a_period_applies_what_may_go_ahead_and_lists_the_denied_and_the_blocked(
    tmp_path: Path,
) -> None:
    env = env_with_rules(tmp_path, [DENY_USD])
    async with env.client() as client:
        result = await call(client, "sync_invoice", **PERIOD)

    assert result["status"] == "applied"
    entries = by_number(result)
    # Every invoice of the period but the draft (not billed yet: left out of a period by default).
    assert set(entries) == set(INV.values()) - {INV["INV-2026-1040"]}
    blocked = entries[INV["INV-2026-1042"]]
    assert blocked["status"] == "blocked"
    assert blocked["reason"].startswith("CLOSED_PERIOD")
    denied = entries[INV["INV-2026-1037"]]
    assert denied["status"] == "denied"
    assert "no US dollars through the agent" in denied["reason"]
    assert entries[INV["INV-2026-1038"]]["status"] == "unchanged"  # void in Paymo, never synced
    for number in WRITTEN:
        entry = entries[INV[number]]
        assert entry["status"] == "applied", entry
        assert money(entry["paymo_total"]) == money(entry["qbo_total"]) == TOTALS[number]
    # Both left-out invoices are named where the agent and the human read.
    left_out = [finding for finding in result["findings"] if finding["code"] == "LEFT_OUT"]
    assert {finding["record"] for finding in left_out} == {
        f"paymo:invoice:{INV['INV-2026-1037']}",
        f"paymo:invoice:{INV['INV-2026-1042']}",
    }

    books = await qbo_invoices(env)
    assert set(books) == set(WRITTEN)
    for number in WRITTEN:
        assert books[number].TotalAmt == TOTALS[number]
    # Two of them are large and one needs a new customer: one question for the whole period.
    assert len(env.human.seen) == 1
    question = env.human.seen[0].message
    assert "4 to write, 1 unchanged, 1 blocked, 1 denied" in question
    assert "These need you (3)" in question
    assert "Totals: CAD 15,486.02" in question  # 5089.52 + 6898.50 + 623.62 + 2874.38
    assert "rule 'large invoices need a human' ×2, rule 'new customers need a human' ×1" in question
    granted = [event for event in env.audit() if event["event"] == "approval_granted"]
    assert len(granted) == 1
    assert {
        event["ids"]["paymo"] for event in env.writes("sync_invoice") if event["ids"]["entity"] == "invoice"
    } == {str(INV[number]) for number in WRITTEN}

    # Again: nothing is written twice.
    async with env.client() as client:
        again = await call(client, "sync_invoice", **PERIOD)
    assert again["status"] == "unchanged"
    assert {entry["status"] for entry in by_number(again).values()} == {"unchanged", "blocked", "denied"}
    assert set(await qbo_invoices(env)) == set(WRITTEN)


async def test_one_approval_out_of_band_applies_the_period_once_and_a_changed_invoice_voids_it(
    tmp_path: Path,
) -> None:
    # No elicitation (like Claude Desktop today): the plan waits for `paymo-qb-mcp approve`.
    env = e2e_env(tmp_path, default="confirm")
    november = {"date_from": dt.date(2026, 11, 1), "date_to": dt.date(2026, 11, 30)}
    async with env.server_env.client() as client:
        pending = await call(client, "sync_invoice", **november)
    assert pending["status"] == "pending_approval"
    assert {entry["status"] for entry in by_number(pending).values()} == {"pending_approval"}
    with env.server_env.approvals() as approvals:
        stored = approvals.require(pending["approval_id"])
        assert "2 to write" in stored.details["question"]
        approvals.approve(pending["approval_id"], "bookkeeper")

    # Someone corrects an invoice of the period after the human approved: the plan is not the same.
    async with paymo_client(env.server_env) as paymo:
        await paymo.update_invoice(INV["INV-2026-1039"], {"notes": "Net 15, thank you"})
    async with env.server_env.client() as client:
        refused = await call_error(client, "sync_invoice", **november, approval_id=pending["approval_id"])
    assert refused.startswith("APPROVAL: ")
    assert await qbo_invoices(env) == {}

    # A new plan, approved once, applies the whole month once.
    async with env.server_env.client() as client:
        pending = await call(client, "sync_invoice", **november)
    with env.server_env.approvals() as approvals:
        approvals.approve(pending["approval_id"], "bookkeeper")
    async with env.server_env.client() as client:
        applied = await call(client, "sync_invoice", **november, approval_id=pending["approval_id"])
        again = await call(client, "sync_invoice", **november)
    assert applied["status"] == "applied"
    assert {entry["status"] for entry in by_number(applied).values()} == {"applied"}
    assert again["status"] == "unchanged"
    books = await qbo_invoices(env)
    assert set(books) == {"INV-2026-1039", "INV-2026-1041"}
    assert books["INV-2026-1039"].CustomerMemo is not None
    assert books["INV-2026-1039"].CustomerMemo.value == "Net 15, thank you"


async def test_a_customer_added_in_quickbooks_between_two_calls_is_found_by_the_next_plan(
    tmp_path: Path,
) -> None:
    env = e2e_env(tmp_path)
    stark = INV["INV-2026-1041"]  # Stark Industries has no QuickBooks customer yet
    async with env.client() as client:
        before = await call(client, "find_client_match", paymo_client_id=seed.STARK, dry_run=True)
        planned = await call(client, "sync_invoice", paymo_invoice_id=stark, dry_run=True)
        assert before["decision"] == "none"
        assert any(
            change["entity"] == "customer" and change["action"] == "create" for change in planned["changes"]
        )

        # A bookkeeper adds the customer in QuickBooks, a moment before the agent calls again.
        added = await env.qbo_create(
            Customer(
                DisplayName="Stark Industries Inc.",
                PrimaryEmailAddr=EmailAddress(Address="ap@stark.example"),
            ),
            request_id="bookkeeper-adds-stark",
        )
        applied = await call(client, "sync_invoice", paymo_invoice_id=stark)

    assert applied["status"] == "applied"
    assert not any(
        entry["entity"] == "customer" and entry["action"] == "create" for entry in applied["results"]
    )
    [invoice] = await env.qbo_all(Invoice, eq("DocNumber", "INV-2026-1041"))
    assert invoice.CustomerRef is not None
    assert invoice.CustomerRef.value == added.Id
    assert [
        customer.Id for customer in await env.qbo_all(Customer) if "Stark" in (customer.DisplayName or "")
    ] == [added.Id]
