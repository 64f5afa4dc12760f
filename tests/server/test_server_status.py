"""sync_status through a real MCP client: its links, intents and pending approvals come from the stores'
counts and index, never from reading every link or every approval."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, NoReturn

import diskcache
import pytest
from server_support import ServerEnv

from paymo_qb_mcp.store.approvals import ApprovalStore
from paymo_qb_mcp.store.ledger import Ledger


async def test_sync_status_reads_counts_not_the_whole_ledger(
    server_env: ServerEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Ledger(server_env.data_dir) as ledger:
        for n in range(40):
            ledger.save_link(
                "invoice", 50_000 + n, str(900 + n), sync_token="0", content_hash="h", origin="ours"
            )
        for n in range(3):
            ledger.save_link(
                "customer", 10_000 + n, str(n + 1), sync_token=None, content_hash="h", origin="paymo"
            )
        ledger.record_intent("invoice", 60_000, "req-1", "h")
        for n in range(20):
            ledger.mark_done("time_entry", 40_000 + n, "TimeActivity")
    expires = datetime.now(UTC) + timedelta(minutes=15)
    with ApprovalStore(server_env.data_dir) as approvals:
        for n in range(10):
            approvals.reject(approvals.create("sync_invoice", {}, f"plan{n}", "old", {}, expires).id, "alice")
        waiting = approvals.create(
            "sync_invoice", {"paymo_invoice_id": 50001}, "plan", "Create it", {}, expires
        )

    async with server_env.client() as client:

        def walk(*args: Any, **kwargs: Any) -> NoReturn:
            raise AssertionError("sync_status walked a store")

        # The stores are open by now; from here on, reading every key fails the call.
        monkeypatch.setattr(Ledger, "_scan", walk)
        monkeypatch.setattr(diskcache.Cache, "iterkeys", walk)
        monkeypatch.setattr(diskcache.Cache, "__iter__", walk)
        status = await client.call_tool("sync_status", {})
    assert not status.is_error, status.content
    found = status.structured_content
    assert found is not None
    assert found["links"] == [{"kind": "customer", "links": 3}, {"kind": "invoice", "links": 40}]
    assert found["pending_intents"] == 1
    assert [approval["approval_id"] for approval in found["pending_approvals"]] == [waiting.id]
