"""Human approval end to end: elicitation accept/decline in both protocol eras, the out-of-band path
with `paymo-qb-mcp approve` in a subprocess, and a plan that changed after approval.

Outcomes are asserted in both systems (read back over their APIs) and in the audit log.
"""

from __future__ import annotations

import os
import subprocess
import sys
from decimal import Decimal
from typing import Any

import anyio
import pytest
from server_support import Human, audit_events, paymo_client, qbo_client

from paymo_qb_mcp.quickbooks.models import Invoice
from paymo_qb_mcp.quickbooks.query import eq
from paymo_qb_mcp.sandbox.paymo import seed
from paymo_qb_mcp.store.audit import verify

INVOICE = "INV-2026-1035"
INVOICE_ID = seed.INVOICE_IDS[INVOICE]
PAYMO_TOTAL = seed.INVOICE_TOTALS["global"][INVOICE]


async def qbo_invoices(env: Any, doc_number: str = INVOICE) -> list[Invoice]:
    async with qbo_client(env) as qbo:
        found: list[Invoice] = await qbo.query_all(Invoice, eq("DocNumber", doc_number))
        return found


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_human_accepts_and_the_invoice_is_written_once(server_env: Any, mode: str) -> None:
    human = Human("accept")
    async with server_env.client(mode=mode, human=human) as client:
        result = await client.call_tool("sync_invoice", {"paymo_invoice_id": INVOICE_ID})
    assert not result.is_error, result.content
    out = result.structured_content
    assert out["status"] == "applied"
    assert out["paymo_total"] == str(PAYMO_TOTAL)
    assert Decimal(out["qbo_total"]) == PAYMO_TOTAL
    # The human saw the plan: what, how much, and the hash it approves.
    assert len(human.seen) == 1
    assert INVOICE in human.seen[0].message or "invoice" in human.seen[0].message
    assert human.seen[0].requested_schema["properties"]["approve"]["type"] == "boolean"

    [written] = await qbo_invoices(server_env)
    assert written.Id == out["qbo_invoice_id"]
    assert written.TotalAmt == PAYMO_TOTAL
    events = audit_events(server_env)
    kinds = [event["event"] for event in events]
    assert "approval_granted" in kinds
    assert any(e["event"] == "write" and e["ids"]["quickbooks"] == written.Id for e in events)
    assert events[-1]["event"] == "outcome"
    assert events[-1]["outcome"] == "applied"
    # One logical call → one tool_call entry, even when the modern era sends two tools/call requests.
    assert kinds.count("tool_call") == 1
    [call] = [event for event in events if event["event"] == "tool_call"]
    assert call["details"]["connection"] == "sandbox (test)"
    assert call["arguments"] == {"paymo_invoice_id": INVOICE_ID, "dry_run": False, "approval_id": None}
    assert verify(server_env.data_dir / "audit.jsonl").ok


@pytest.mark.parametrize("mode", ["auto", "legacy"])
@pytest.mark.parametrize("action", ["decline", "cancel"])
async def test_human_declines_and_nothing_is_written(server_env: Any, mode: str, action: str) -> None:
    async with server_env.client(mode=mode, human=Human(action)) as client:
        result = await client.call_tool("sync_invoice", {"paymo_invoice_id": INVOICE_ID})
    assert not result.is_error, result.content
    assert result.structured_content["status"] == "declined"
    assert await qbo_invoices(server_env) == []
    events = audit_events(server_env)
    assert any(e["event"] == "approval_rejected" for e in events)
    assert events[-1]["outcome"] == "declined"
    assert not any(e["event"] == "write" for e in events)


async def test_human_answers_no_in_the_form(server_env: Any) -> None:
    async with server_env.client(human=Human("accept", approve=False)) as client:
        result = await client.call_tool("sync_invoice", {"paymo_invoice_id": INVOICE_ID})
    assert result.structured_content["status"] == "declined"
    assert await qbo_invoices(server_env) == []


async def approve_in_subprocess(env: Any, approval_id: str) -> subprocess.CompletedProcess[bytes]:
    """The human, in another process, exactly as the approve_command says."""
    environment = {**os.environ, "PAYMO_QB_DATA_DIR": str(env.data_dir)}
    with anyio.fail_after(60):
        return await anyio.run_process(
            [sys.executable, "-m", "paymo_qb_mcp.cli", "approve", approval_id, "--yes"],
            env=environment,
            check=False,
        )


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_without_elicitation_a_human_approves_out_of_band(server_env: Any, mode: str) -> None:
    async with server_env.client(mode=mode) as client:
        first = await client.call_tool("sync_invoice", {"paymo_invoice_id": INVOICE_ID})
        assert not first.is_error, first.content
        pending = first.structured_content
        assert pending["status"] == "pending_approval"
        approval_id = pending["approval_id"]
        # The data directory is not the default one here, so the command names it.
        assert pending["approve_command"] == (
            f"PAYMO_QB_DATA_DIR={server_env.data_dir} paymo-qb-mcp approve {approval_id}"
        )
        assert await qbo_invoices(server_env) == []

        # The agent cannot skip the human: re-calling with the id before approval is refused.
        early = await client.call_tool(
            "sync_invoice", {"paymo_invoice_id": INVOICE_ID, "approval_id": approval_id}
        )
        assert early.is_error
        assert "APPROVAL" in early.content[0].text  # type: ignore[union-attr]

        approved = await approve_in_subprocess(server_env, approval_id)
        assert approved.returncode == 0, approved.stderr

        done = await client.call_tool(
            "sync_invoice", {"paymo_invoice_id": INVOICE_ID, "approval_id": approval_id}
        )
        assert not done.is_error, done.content
        assert done.structured_content["status"] == "applied"
        # Single use: the same approval cannot write again.
        again = await client.call_tool(
            "sync_invoice", {"paymo_invoice_id": INVOICE_ID, "approval_id": approval_id}
        )
    assert [invoice.TotalAmt for invoice in await qbo_invoices(server_env)] == [PAYMO_TOTAL]
    assert (
        again.structured_content is None
        or again.structured_content["status"] in ("unchanged",)
        or again.is_error
    )
    events = audit_events(server_env)
    granted = [e for e in events if e["event"] == "approval_granted"]
    assert any((e.get("approval") or {}).get("channel") == "out_of_band" for e in granted)


async def test_a_plan_that_changed_after_approval_is_refused(server_env: Any) -> None:
    async with server_env.client() as client:
        first = await client.call_tool("sync_invoice", {"paymo_invoice_id": INVOICE_ID})
        approval_id = first.structured_content["approval_id"]
        assert (await approve_in_subprocess(server_env, approval_id)).returncode == 0

        # Someone edits the invoice in Paymo after the human approved: the plan no longer hashes the same.
        async with paymo_client(server_env) as paymo:
            invoice = await paymo.get_invoice(INVOICE_ID, include=["invoiceitems"])
            items = [{"id": item.id} for item in invoice.invoiceitems]
            items[0] = {"id": invoice.invoiceitems[0].id, "price_unit": Decimal("175")}
            await paymo.update_invoice(INVOICE_ID, {"items": items})

        tampered = await client.call_tool(
            "sync_invoice", {"paymo_invoice_id": INVOICE_ID, "approval_id": approval_id}
        )
    assert tampered.is_error
    text = tampered.content[0].text  # type: ignore[union-attr]
    assert "APPROVAL" in text
    assert "plan changed" in text
    assert await qbo_invoices(server_env) == []
    assert any(e.get("outcome") == "approval_refused" for e in audit_events(server_env))


# --- governance edges ---------------------------------------------------------------------------

OTHER_INVOICE_ID = seed.INVOICE_IDS["INV-2026-1039"]


async def test_identical_calls_wait_on_one_approval(server_env: Any) -> None:
    async with server_env.client() as client:
        results = [
            await client.call_tool("sync_invoice", {"paymo_invoice_id": INVOICE_ID}) for _ in range(20)
        ]
    outs = [result.structured_content for result in results]
    assert {out["status"] for out in outs} == {"pending_approval"}
    [approval_id] = {out["approval_id"] for out in outs}
    with server_env.approvals() as store:
        [waiting] = store.list_pending()
    assert (waiting.id, waiting.requests) == (approval_id, 20)
    # The agent is told it is the same approval, with the deadline the human was first given.
    assert "already waiting" in outs[-1]["summary"]
    assert waiting.expires_at.strftime("%Y-%m-%d %H:%M") in outs[-1]["summary"]
    requested = [e for e in audit_events(server_env) if e["event"] == "approval_requested"]
    assert len(requested) == 20
    assert [e["approval"]["requests"] for e in requested] == list(range(1, 21))


async def test_an_approval_presented_with_another_plan_stays_approved(server_env: Any) -> None:
    async with server_env.client() as client:
        first = await client.call_tool("sync_invoice", {"paymo_invoice_id": INVOICE_ID})
        approval_id = first.structured_content["approval_id"]
        with server_env.approvals() as store:
            store.approve(approval_id, "alice")

        # The agent presents the human's approval with another invoice (another plan hash).
        wrong_plan = await client.call_tool(
            "sync_invoice", {"paymo_invoice_id": OTHER_INVOICE_ID, "approval_id": approval_id}
        )
        with server_env.approvals() as store:
            assert store.get(approval_id).status == "approved"  # type: ignore[union-attr]

        done = await client.call_tool(
            "sync_invoice", {"paymo_invoice_id": INVOICE_ID, "approval_id": approval_id}
        )
    assert wrong_plan.is_error
    assert wrong_plan.content[0].text.startswith("APPROVAL:")  # type: ignore[union-attr]
    assert "another plan" in wrong_plan.content[0].text  # type: ignore[union-attr]
    assert "still approved" in wrong_plan.content[0].text  # type: ignore[union-attr]
    assert await qbo_invoices(server_env, "INV-2026-1039") == []
    assert not done.is_error, done.content
    assert done.structured_content["status"] == "applied"
    assert [invoice.TotalAmt for invoice in await qbo_invoices(server_env)] == [PAYMO_TOTAL]
