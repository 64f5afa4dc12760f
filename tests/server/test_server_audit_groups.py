"""What one write tool call audits goes out in groups: the entries that led to the decision, durable before
anything is sent; the intent of each request that writes, durable before it leaves; then the outcomes —
two fsyncs a group where each entry used to cost three; the chain still verifies."""

from __future__ import annotations

import os
from typing import Any

import pytest
from server_support import Human, ServerEnv, audit_events

from paymo_qb_mcp.quickbooks.client import QboClient
from paymo_qb_mcp.sandbox.paymo import seed


async def test_sync_invoice_writes_its_audit_entries_in_two_groups(
    server_env: ServerEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    fsyncs: list[int] = []
    real_fsync = os.fsync

    def counting(descriptor: int) -> None:
        # Only the audit log's files: the company-data snapshots (sync.company) have fsyncs of their own.
        if "audit" in os.path.basename(os.readlink(f"/proc/self/fd/{descriptor}")):
            fsyncs.append(descriptor)
        real_fsync(descriptor)

    monkeypatch.setattr(os, "fsync", counting)
    seen_at_first_write: list[tuple[list[str], int]] = []
    real_create = QboClient.create

    async def create(self: QboClient, *args: Any, **kwargs: Any) -> Any:
        if not seen_at_first_write:
            # What the audit log durably holds when the first write leaves for QuickBooks.
            seen_at_first_write.append(([e["event"] for e in audit_events(server_env)], len(fsyncs)))
        return await real_create(self, *args, **kwargs)

    monkeypatch.setattr(QboClient, "create", create)

    async with server_env.client(human=Human("accept")) as client:
        first = await client.call_tool(
            "sync_invoice", {"paymo_invoice_id": seed.INVOICE_IDS["INV-2026-1035"]}
        )
        assert not first.is_error, first.content
        seen_at_first_write.clear()
        before = len(fsyncs)
        second = await client.call_tool(
            "sync_invoice", {"paymo_invoice_id": seed.INVOICE_IDS["INV-2026-1036"]}
        )
        assert not second.is_error, second.content
    assert second.structured_content is not None
    assert second.structured_content["status"] == "applied"

    events = [e["event"] for e in audit_events(server_env)]
    call = events[len(events) - 9 :]
    # The customer's link (ledger-only, its wave) and the invoice's create are each audited ahead.
    assert call == [
        "tool_call",
        "plan",
        "decision",
        "approval_granted",
        "write_intent",
        "write",
        "write_intent",
        "write",
        "outcome",
    ]
    # Four groups, each one fsync of the log and one of the head record's temporary file: the decision,
    # the link's intent (before the ledger saves it), the create's intent (before the request leaves,
    # with the link's outcome), the outcomes.
    assert len(fsyncs) - before == 8
    [(durable, fsyncs_then)] = seen_at_first_write
    assert durable[-7:] == [
        "tool_call",
        "plan",
        "decision",
        "approval_granted",
        "write_intent",
        "write",
        "write_intent",
    ]
    assert fsyncs_then - before == 6
    assert server_env.audit().verify().ok
