"""The streamable HTTP transport: 401 without the bearer token, a working session with it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from paymo_qb_mcp.errors import ConfigError
from paymo_qb_mcp.server.app import build_server

TOKEN = "test-http-token-0123456789abcdef"


def _http_server(server_env: Any) -> Any:
    # The same runtime as the in-process server, now behind bearer auth.
    return build_server(server_env.factory, http_token=TOKEN, public_url="http://127.0.0.1:8000")


async def test_requests_without_the_token_get_401(server_env: Any) -> None:
    server = _http_server(server_env)
    app = server.streamable_http_app()
    async with (
        server.session_manager.run(),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:8000") as http,
    ):
        body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
        headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
        missing = await http.post("/mcp", json=body, headers=headers)
        wrong = await http.post("/mcp", json=body, headers={**headers, "Authorization": "Bearer nope"})
    assert missing.status_code == 401
    assert wrong.status_code == 401
    assert "Bearer" in missing.headers.get("www-authenticate", "")


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_a_session_with_the_token_works(server_env: Any, mode: str) -> None:
    server = _http_server(server_env)
    app = server.streamable_http_app()
    async with server.session_manager.run():
        http = httpx2.AsyncClient(
            transport=httpx2.ASGITransport(app=app),
            base_url="http://127.0.0.1:8000",
            headers={"Authorization": f"Bearer {TOKEN}"},
        )
        async with (
            http,
            Client(
                streamable_http_client("http://127.0.0.1:8000/mcp", http_client=http), mode=mode
            ) as client,
        ):
            tools = await client.list_tools()
            status = await client.call_tool("sync_status", {})
    assert "sync_invoice" in {tool.name for tool in tools.tools}
    assert not status.is_error


def test_a_short_http_token_is_refused(tmp_path: Path, server_env: Any) -> None:
    with pytest.raises(ConfigError, match="at least 16"):
        build_server(server_env.factory, http_token="short")
