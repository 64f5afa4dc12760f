"""A 1 MB argument, to every argument of every tool of a shared HTTP server, is refused by the argument
bounds — INPUT naming the argument, the value never repeated — before anything is planned, read, audited or
redacted, while other calls on the same server go on and succeed.

No wall-clock threshold is asserted (the machine is shared): what shows the refusal came early is that it
reached neither the audit log nor either service. The timings are printed (``pytest -s``) for the record.
"""

from __future__ import annotations

import json
import statistics
import time
from typing import Any

import anyio
import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from request_log_support import books_fingerprint, record_requests
from server_support import ServerEnv, audit_events

from paymo_qb_mcp.sandbox.paymo import seed
from paymo_qb_mcp.server.app import build_server

TOKEN = "oversized-http-token-0123456789abcdef"
MEGABYTE = "A" * (1 << 20)
# What each tool needs besides the oversized argument (which replaces one of these or comes on top).
BASE: dict[str, dict[str, Any]] = {
    "find_client_match": {"paymo_client_id": seed.STARK, "dry_run": True},
    "sync_invoice": {"paymo_invoice_id": seed.INVOICE_IDS["INV-2026-1035"], "dry_run": True},
    "mark_paid": {"paymo_invoice_id": seed.INVOICE_IDS["INV-2026-1035"], "dry_run": True},
    "push_expenses": {"date_from": "2026-10-01", "date_to": "2026-11-30", "dry_run": True},
    "aggregate_time": {"date_from": "2026-10-01", "date_to": "2026-11-30", "dry_run": True},
    "create_po_from_budget": {"paymo_project_id": seed.STARK_PROTOTYPE, "dry_run": True},
    "reconciliation_report": {"date_from": "2026-10-01", "date_to": "2026-11-30"},
}
NORMAL = (
    ("sync_status", {}),
    ("find_client_match", {"paymo_client_id": seed.STARK, "dry_run": True}),
)


def text_of(result: Any) -> str:
    return " ".join(str(getattr(block, "text", "")) for block in result.content)


async def test_a_1_mb_argument_is_refused_at_once_while_concurrent_calls_succeed(
    server_env: ServerEnv,
) -> None:
    requests = record_requests(server_env)
    books = books_fingerprint(server_env)
    server = build_server(server_env.factory, http_token=TOKEN, public_url="http://127.0.0.1:8000")
    app = server.streamable_http_app()
    refused: list[tuple[str, str, str, float]] = []
    normal: list[tuple[str, bool, str, float]] = []
    alone: list[float] = []
    async with server.session_manager.run():
        http = httpx2.AsyncClient(
            transport=httpx2.ASGITransport(app=app),
            base_url="http://127.0.0.1:8000",
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=120,
        )
        async with (
            http,
            Client(streamable_http_client("http://127.0.0.1:8000/mcp", http_client=http)) as client,
        ):
            tools = (await client.list_tools()).tools
            cases = [
                (tool.name, name, {**BASE.get(tool.name, {}), name: MEGABYTE})
                for tool in tools
                for name in tool.input_schema.get("properties", {})
            ]
            for name, arguments in NORMAL:  # opens the runtime; then the same calls alone, for comparison
                await client.call_tool(name, arguments)
                started = time.perf_counter()
                assert not (await client.call_tool(name, arguments)).is_error
                alone.append(time.perf_counter() - started)
            finished = anyio.Event()

            async def oversized() -> None:
                for tool, argument, arguments in cases:
                    started = time.perf_counter()
                    result = await client.call_tool(tool, arguments)
                    assert result.is_error
                    refused.append((tool, argument, text_of(result), time.perf_counter() - started))
                finished.set()

            async def meanwhile() -> None:
                while not finished.is_set() or len(normal) < 2 * len(NORMAL):
                    for name, arguments in NORMAL:
                        started = time.perf_counter()
                        result = await client.call_tool(name, arguments)
                        normal.append((name, result.is_error, text_of(result), time.perf_counter() - started))

            async with anyio.create_task_group() as group:
                group.start_soon(meanwhile)
                group.start_soon(oversized)

    arguments_with_strings = {(tool, argument) for tool, argument, _ in cases}
    assert len(refused) == len(arguments_with_strings) >= 30
    for tool, argument, text, _seconds in refused:
        assert text.startswith(f"INPUT: {tool} got arguments it does not accept — {argument}"), text
        assert "A" * 64 not in text
        assert len(text) < 1000
    assert [(name, text) for name, error, text, _ in normal if error] == []
    # Refused before the planner: the audit log holds the normal calls' entries only, and small ones.
    audited = audit_events(server_env)
    assert {event.get("tool") for event in audited if event["event"] == "tool_call"} == {"find_client_match"}
    assert max(len(json.dumps(event)) for event in audited) < 10_000
    # ... and neither service saw the megabyte, nor any write.
    assert max(request.size for request in requests) < 100_000
    assert [request for request in requests if request.writes] == []
    assert books_fingerprint(server_env) == books
    seconds = [row[3] * 1000 for row in refused]
    during = [row[3] * 1000 for row in normal]
    alone_ms = ", ".join(f"{value * 1000:.0f} ms" for value in alone)
    print(
        f"\n1 MB refusals: {len(seconds)}, median {statistics.median(seconds):.1f} ms, slowest "
        f"{max(seconds):.1f} ms; normal calls alone: {alone_ms}; meanwhile: {len(during)} calls, median "
        f"{statistics.median(during):.0f} ms, slowest {max(during):.0f} ms"
    )
