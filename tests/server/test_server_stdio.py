"""The real thing: `paymo-qb-mcp serve --sandbox` as a subprocess over stdio, as Claude Desktop runs it."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import anyio
import pytest
from mcp import Client, StdioServerParameters

from paymo_qb_mcp.sandbox.paymo import seed
from paymo_qb_mcp.store.audit import verify

pytestmark = pytest.mark.slow


def _server(data_dir: Path) -> StdioServerParameters:
    return StdioServerParameters(
        command=sys.executable,
        args=["-m", "paymo_qb_mcp.cli", "serve", "--sandbox", "--log-level", "WARNING"],
        env={"PAYMO_QB_DATA_DIR": str(data_dir)},
    )


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_stdio_server_plans_asks_out_of_band_and_applies(tmp_path: Path, mode: str) -> None:
    data_dir = tmp_path / "data"
    invoice_id = seed.INVOICE_IDS["INV-2026-1035"]
    async with Client(_server(data_dir), mode=mode) as client:  # type: ignore[arg-type]
        tools = {tool.name for tool in (await client.list_tools()).tools}
        assert "sync_invoice" in tools
        status = await client.call_tool("sync_status", {})
        assert not status.is_error, status.content
        assert status.structured_content["connection"].startswith("sandbox")

        planned = await client.call_tool("sync_invoice", {"paymo_invoice_id": invoice_id, "dry_run": True})
        assert planned.structured_content["status"] == "planned"

        pending = await client.call_tool("sync_invoice", {"paymo_invoice_id": invoice_id})
        assert pending.structured_content["status"] == "pending_approval"
        approval_id = pending.structured_content["approval_id"]

        approve = await anyio.run_process(
            [sys.executable, "-m", "paymo_qb_mcp.cli", "approve", approval_id, "--yes"],
            env={**os.environ, "PAYMO_QB_DATA_DIR": str(data_dir)},
            check=False,
        )
        assert approve.returncode == 0, approve.stderr

        applied = await client.call_tool(
            "sync_invoice", {"paymo_invoice_id": invoice_id, "approval_id": approval_id}
        )
        assert not applied.is_error, applied.content
        assert applied.structured_content["status"] == "applied"
        assert applied.structured_content["qbo_total"] == applied.structured_content["paymo_total"]
    checked = verify(data_dir / "audit.jsonl")
    assert checked.ok, checked.reason
    assert checked.entries >= 6
