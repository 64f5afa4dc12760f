"""The streamable HTTP transport: a refused request's 401 (body and headers) never echoes the token it was
sent or the one expected, and a working session logs neither, at any level."""

from __future__ import annotations

import base64
import secrets
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from security_support import Exposure, sandbox_connection

from paymo_qb_mcp.config.policy import load_policy
from paymo_qb_mcp.config.settings import shipped_policy_path
from paymo_qb_mcp.quickbooks.tokens import StaticTokenProvider
from paymo_qb_mcp.sandbox import Sandbox
from paymo_qb_mcp.server.app import build_server
from paymo_qb_mcp.server.runtime import open_runtime

BASE = "http://127.0.0.1:8000"
LIST_TOOLS = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
STREAMABLE = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


def http_server(tmp_path: Path, token: str) -> Any:
    sandbox = Sandbox.create("demo", "global", "relaxed")
    connection = sandbox_connection(
        sandbox, StaticTokenProvider(sandbox.qbo.access_token), ledger_dir=tmp_path / "ledger"
    )
    policy = load_policy(shipped_policy_path())

    def factory() -> Any:
        return open_runtime(connection, policy=policy, data_dir=tmp_path / "data", known_secrets=(token,))

    return build_server(factory, http_token=token, public_url=BASE)


async def test_a_refused_request_never_hears_a_token_back(tmp_path: Path) -> None:
    token = f"ht-{secrets.token_hex(24)}"
    wrong = f"ht-{secrets.token_hex(24)}"
    presented = {
        "none": None,
        "wrong bearer": f"Bearer {wrong}",
        "almost right": f"Bearer {token[:-1]}",
        "right token, wrong scheme": f"Basic {base64.b64encode(f'{token}:x'.encode()).decode()}",
        "right token, no scheme": token,
    }
    server = http_server(tmp_path, token)
    app = server.streamable_http_app()
    async with (
        server.session_manager.run(),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as http,
    ):
        for case, authorization in presented.items():
            headers = dict(STREAMABLE) | ({"Authorization": authorization} if authorization else {})
            refused = await http.post("/mcp", json=LIST_TOOLS, headers=headers)
            assert refused.status_code == 401, case
            answer = refused.text + repr(refused.headers.multi_items())
            assert "Bearer" in refused.headers.get("www-authenticate", ""), case
            for secret in (token, token[:-1], wrong, authorization or token):
                assert secret not in answer, case


async def test_a_working_session_logs_no_token(
    tmp_path: Path, every_log_record: pytest.LogCaptureFixture
) -> None:
    token = f"ht-{secrets.token_hex(24)}"
    server = http_server(tmp_path, token)
    exposure = Exposure()
    app = server.streamable_http_app()
    async with server.session_manager.run():
        http = httpx2.AsyncClient(
            transport=httpx2.ASGITransport(app=app),
            base_url=BASE,
            headers={"Authorization": f"Bearer {token}"},
        )
        async with http, Client(streamable_http_client(f"{BASE}/mcp", http_client=http)) as client:
            exposure.add_result("sync_status", await client.call_tool("sync_status", {}))
            exposure.add_result(
                "reconciliation_report",
                await client.call_tool(
                    "reconciliation_report", {"date_from": "2026-10-01", "date_to": "2026-11-30"}
                ),
            )
            exposure.add_result(
                "sync_invoice", await client.call_tool("sync_invoice", {"paymo_invoice_id": 1})
            )
    exposure.add_logs(every_log_record.records)
    exposure.add_files(tmp_path / "data")
    assert exposure.error_codes == ["NOT_FOUND"]
    assert any(record.name.startswith("mcp.") for record in every_log_record.records)
    assert exposure.leaks({"http bearer token": token}) == []
