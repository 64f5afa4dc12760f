"""Helpers for the security review: collect everything a run lets out (tool results and errors, resources,
log records, files on disk) and find any secret in it, raw or as the Basic credentials built from it."""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import httpx
from mcp.types import CallToolResult, ElicitRequestParams, ElicitResult

from paymo_qb_mcp.net.ratelimit import UnlimitedLimiter
from paymo_qb_mcp.quickbooks.oauth import TokenRecord
from paymo_qb_mcp.quickbooks.tokens import TokenProvider
from paymo_qb_mcp.sandbox import Sandbox
from paymo_qb_mcp.server.runtime import Connection
from paymo_qb_mcp.store.tokens import CredentialStore

__all__ = [
    "EchoingTransport",
    "Exposure",
    "PluggableApp",
    "RecordingStore",
    "accept",
    "sandbox_connection",
    "secret_forms",
]


class PluggableApp:
    """One loopback server for a module (uvicorn is slow to start); each test plugs its emulator in."""

    def __init__(self) -> None:
        self.target: Any = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.target(scope, receive, send)


class RecordingStore:
    """The product's credential store, remembering every token record saved (to know what to look for)."""

    def __init__(self, inner: CredentialStore) -> None:
        self.inner = inner
        self.saved: list[TokenRecord] = []

    def load_qbo_tokens(self, realm_id: str) -> TokenRecord | None:
        return self.inner.load_qbo_tokens(realm_id)

    def save_qbo_tokens(self, tokens: TokenRecord) -> None:
        self.inner.save_qbo_tokens(tokens)
        self.saved.append(tokens)


async def accept(context: Any, params: ElicitRequestParams) -> ElicitResult:
    """A human who reads the plan and approves it."""
    return ElicitResult(action="accept", content={"approve": True, "note": "checked"})


def secret_forms(name: str, value: str, *, basic_password: str | None = None) -> dict[str, str]:
    """A secret as it could leak: as is, and (for a Basic-auth user name) inside the encoded header."""
    forms = {name: value}
    if basic_password is not None:
        forms[f"{name} as Basic credentials"] = base64.b64encode(
            f"{value}:{basic_password}".encode()
        ).decode()
    return forms


def sandbox_connection(
    sandbox: Sandbox,
    tokens: TokenProvider,
    *,
    ledger_dir: Path,
    paymo_transport: httpx.AsyncBaseTransport | None = None,
    qbo_transport: httpx.AsyncBaseTransport | None = None,
) -> Connection:
    """The server's connection to the in-process emulators, as `serve --sandbox` builds it."""
    return Connection(
        paymo_base_url="https://app.paymoapp.com/api",
        paymo_api_key=sandbox.paymo.api_key,
        qbo_base_url="https://sandbox-quickbooks.api.intuit.com",
        qbo_realm_id=sandbox.qbo.realm_id,
        qbo_tokens=tokens,
        paymo_transport=paymo_transport or sandbox.paymo_transport(),
        qbo_transport=qbo_transport or sandbox.qbo_transport(),
        paymo_limiter=UnlimitedLimiter(),
        qbo_limiter=UnlimitedLimiter(),
        label="sandbox (security review)",
        ledger_dir=ledger_dir,
    )


@dataclass
class Exposure:
    """Everything a run let out of the server, by where it went."""

    texts: list[tuple[str, str]] = field(default_factory=list)
    error_codes: list[str] = field(default_factory=list)
    applied: int = 0

    def add(self, where: str, text: str) -> None:
        self.texts.append((where, text))

    def add_result(self, tool: str, result: CallToolResult) -> CallToolResult:
        for block in result.content:
            self.add(f"result of {tool}", block.model_dump_json())
        if result.structured_content is not None:
            self.add(f"structured result of {tool}", json.dumps(result.structured_content, default=str))
            if result.structured_content.get("status") == "applied":
                self.applied += 1
        if result.is_error:
            text = str(getattr(result.content[0], "text", ""))
            self.error_codes.append(text.split(":", 1)[0])
        return result

    def add_logs(self, records: list[logging.LogRecord]) -> None:
        formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
        for record in records:
            # The formatted line (traceback included) and every attribute a handler could print.
            self.add(f"log {record.name}", formatter.format(record))
            self.add(f"log record {record.name}", repr(vars(record)))

    def add_files(self, directory: Path) -> None:
        for path in sorted(directory.rglob("*")):
            if path.is_file():
                self.add(f"file {path.relative_to(directory.parent)}", path.read_bytes().decode("latin-1"))

    def leaks(self, secret_values: Mapping[str, str]) -> list[str]:
        return [
            f"{name} in {where}"
            for where, text in self.texts
            for name, value in secret_values.items()
            if value in text
        ]


class EchoingTransport(httpx.AsyncBaseTransport):
    """An emulator behind a careless gateway: every error answer quotes the credential the request
    carried, in the service's own error shape (or as a plain-text error page)."""

    def __init__(self, inner: httpx.AsyncBaseTransport, service: Literal["paymo", "quickbooks"]) -> None:
        self.inner = inner
        self.service = service
        self.echoed = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if response.status_code < 400:
            return response
        await response.aread()
        header = request.headers.get("authorization", "")
        scheme, _, credential = header.partition(" ")
        if scheme.lower() == "basic":
            credential = base64.b64decode(credential).decode().partition(":")[0]
        self.echoed += 1
        kept = {name: value for name, value in response.headers.items() if name.lower() in ("intuit_tid",)}
        if self.echoed % 3 == 0:
            page = f"{response.status_code} error for {credential} (sent {header})"
            return httpx.Response(response.status_code, headers=kept, text=page)
        body: dict[str, Any]
        if self.service == "paymo":
            body = {"message": f"Invalid API key {credential}. Authorization: {header}"}
        else:
            body = {
                "Fault": {
                    "Error": [
                        {
                            "Message": f"Token {credential} refused",
                            "Detail": f"Authorization: {header}; token {credential}",
                            "code": "3200" if response.status_code == 401 else "10000",
                        }
                    ],
                    "type": "AUTHENTICATION" if response.status_code == 401 else "SystemFault",
                },
                "time": dt.datetime.now(dt.UTC).isoformat(),
            }
        return httpx.Response(response.status_code, headers=kept, json=body)
