"""Every write is in the audit log even when the server dies between QuickBooks accepting it and the outcome
entry: the intent is durable before the request leaves, and the next server start appends what the
ledger shows. The sandbox is its own process; the MCP server runs over stdio as Claude Desktop runs it,
and is killed (SIGKILL) right after the write reached QuickBooks and was linked."""

from __future__ import annotations

import os
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from e2e_support import policy_text
from e2e_support import served_sandbox as served_sandbox_process
from mcp import Client, StdioServerParameters

from paymo_qb_mcp.sandbox.paymo import seed
from paymo_qb_mcp.store.audit import AuditLog

pytestmark = pytest.mark.slow
TIMEOUT_S = 60.0

# The server as `paymo-qb-mcp serve`, except that it dies the moment its first write is linked: after
# QuickBooks accepted it, before the outcome reaches the audit log.
SERVER = textwrap.dedent(
    """
    import os, signal, sys
    from paymo_qb_mcp.sync.executor import Executor

    if os.environ.get("DIE_AFTER_WRITE"):
        real = Executor.remember_write

        def remember_write(self, *args, **kwargs):
            real(self, *args, **kwargs)
            os.kill(os.getpid(), signal.SIGKILL)

        Executor.remember_write = remember_write

    from paymo_qb_mcp.cli import main

    sys.exit(main(["serve", "--log-level", "WARNING"]))
    """
)


def _server(tmp_path: Path, facts: dict[str, Any], *, die: bool) -> StdioServerParameters:
    script = tmp_path / "server.py"
    script.write_text(SERVER, encoding="utf-8")
    policy = tmp_path / "policies.yaml"
    policy.write_text(policy_text(default="allow"), encoding="utf-8")
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PAYMO_QB_DATA_DIR": str(tmp_path / "data"),
        "PAYMO_QB_POLICY": str(policy),
        "PAYMO_QB_TOKEN_STORE": "file",
        "PAYMO_BASE_URL": facts["paymo_base_url"],
        "PAYMO_API_KEY": facts["paymo_api_key"],
        "QBO_BASE_URL": facts["qbo_base_url"],
        "QBO_REALM_ID": facts["realm_id"],
        "QBO_ACCESS_TOKEN": facts["qbo_access_token"],
        "QBO_ENVIRONMENT": "sandbox",
    }
    if die:
        env["DIE_AFTER_WRITE"] = "1"
    return StdioServerParameters(command=sys.executable, args=[str(script)], env=env)


@pytest.fixture
def served_sandbox() -> Iterator[dict[str, Any]]:
    """`paymo-qb-mcp sandbox` as its own process; its facts."""
    with served_sandbox_process(TIMEOUT_S) as facts:
        yield facts


async def test_a_write_whose_outcome_was_never_audited_is_accounted_for_by_the_next_start(
    tmp_path: Path, served_sandbox: dict[str, Any]
) -> None:
    facts = served_sandbox
    invoice = seed.INVOICE_IDS["INV-2026-1039"]  # Smith and Sons: an existing customer, a small total
    audit = AuditLog.in_data_dir(tmp_path / "data")
    try:
        async with Client(_server(tmp_path, facts, die=True)) as client:  # type: ignore[arg-type]
            await client.call_tool("sync_invoice", {"paymo_invoice_id": invoice})
    except Exception:  # the server died under the call: that is the point
        pass
    tail = audit.tail(50)
    events = [entry["event"] for entry in tail]
    # The invoice's intent was durable before the request left (its customer, which QuickBooks had, was
    # linked first: intended and recorded before it), and it died before the invoice's outcome.
    created = next(
        i for i, e in enumerate(tail) if e["event"] == "write_intent" and e["ids"]["entity"] == "invoice"
    )
    assert "write" not in events[created:]

    async with Client(_server(tmp_path, facts, die=False)) as client:  # type: ignore[arg-type]
        status = await client.call_tool("sync_status", {})
        assert not status.is_error, status.content
        again = await client.call_tool("sync_invoice", {"paymo_invoice_id": invoice})
        assert not again.is_error, again.content

    entries = audit.tail(100)
    [intent] = [e for e in entries if e["event"] == "write_intent" and e["ids"]["entity"] == "invoice"]
    [recovered] = [e for e in entries if e["event"] == "write_recovered"]
    assert recovered["details"]["write"] == intent["details"]["write"]
    assert recovered["outcome"] == "written"
    assert recovered["ids"]["quickbooks"]  # the QuickBooks invoice the dead server created
    assert recovered["ids"]["paymo"] == str(invoice)
    # The record is there once, and the next call found it linked: nothing written twice.
    assert again.structured_content is not None
    assert again.structured_content["status"] == "unchanged"
    assert again.structured_content["qbo_invoice_id"] == recovered["ids"]["quickbooks"]
    assert [e["event"] for e in entries].count("intents_settled") == 2  # each start settles once
    assert audit.verify().ok
