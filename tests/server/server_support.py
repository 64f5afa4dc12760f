"""Helpers for server tests: an MCP server on the sandbox, a human that answers elicitations, read-backs."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mcp import Client
from mcp.server import MCPServer
from mcp.types import ElicitRequestParams, ElicitResult

from paymo_qb_mcp.config.policy import Policy, load_policy
from paymo_qb_mcp.net.ratelimit import UnlimitedLimiter
from paymo_qb_mcp.quickbooks.tokens import StaticTokenProvider
from paymo_qb_mcp.sandbox import Sandbox
from paymo_qb_mcp.server.app import build_server
from paymo_qb_mcp.server.runtime import Connection, Runtime, runtime_opener
from paymo_qb_mcp.store.approvals import ApprovalStore
from paymo_qb_mcp.store.audit import AuditLog

ROOT = Path(__file__).resolve().parents[2]
SHIPPED_POLICY = ROOT / "policies.yaml"


@dataclass
class Human:
    """Answers elicitations like a person would, and remembers what they were shown."""

    action: str = "accept"
    approve: bool = True
    seen: list[ElicitRequestParams] = field(default_factory=list)

    async def __call__(self, context: Any, params: ElicitRequestParams) -> ElicitResult:
        self.seen.append(params)
        if self.action == "accept":
            return ElicitResult(action="accept", content={"approve": self.approve, "note": "checked"})
        return ElicitResult(action=self.action)


@dataclass
class ServerEnv:
    sandbox: Sandbox
    server: MCPServer
    data_dir: Path
    policy: Policy
    factory: Callable[[], AbstractAsyncContextManager[Runtime]]

    def client(self, *, mode: str = "auto", human: Human | None = None) -> Client:
        if human is None:
            return Client(self.server, mode=mode)
        return Client(self.server, mode=mode, elicitation_callback=human)

    def audit(self) -> AuditLog:
        return AuditLog.in_data_dir(self.data_dir)

    def approvals(self) -> ApprovalStore:
        return ApprovalStore(self.data_dir)


def make_env(tmp_path: Path, policy_path: Path = SHIPPED_POLICY, tax_model: str = "global") -> ServerEnv:
    sandbox = Sandbox.create("demo", tax_model, "relaxed")  # type: ignore[arg-type]
    policy = load_policy(policy_path)
    data_dir = tmp_path / "data"
    connection = Connection(
        paymo_base_url="https://app.paymoapp.com/api",
        paymo_api_key=sandbox.paymo.api_key,
        qbo_base_url="https://sandbox-quickbooks.api.intuit.com",
        qbo_realm_id=sandbox.qbo.realm_id,
        qbo_tokens=StaticTokenProvider(sandbox.qbo.access_token),
        paymo_transport=sandbox.paymo_transport(),
        qbo_transport=sandbox.qbo_transport(),
        paymo_limiter=UnlimitedLimiter(),
        qbo_limiter=UnlimitedLimiter(),
        label="sandbox (test)",
    )

    factory = runtime_opener(connection, policy=policy, data_dir=data_dir)

    server = build_server(factory, policy_path=policy_path)
    return ServerEnv(sandbox=sandbox, server=server, data_dir=data_dir, policy=policy, factory=factory)


@asynccontextmanager
async def qbo_client(env: ServerEnv) -> AsyncIterator[Any]:
    """A QuickBooks client on the sandbox, to read back what the server wrote."""
    from paymo_qb_mcp.quickbooks.client import QboClient

    async with QboClient(
        base_url="https://sandbox-quickbooks.api.intuit.com",
        realm_id=env.sandbox.qbo.realm_id,
        token_provider=StaticTokenProvider(env.sandbox.qbo.access_token),
        transport=env.sandbox.qbo_transport(),
        limiter=UnlimitedLimiter(),
    ) as client:
        yield client


@asynccontextmanager
async def paymo_client(env: ServerEnv) -> AsyncIterator[Any]:
    """A Paymo client on the sandbox, to read back (or change) the Paymo side."""
    from paymo_qb_mcp.paymo.client import PaymoClient

    async with PaymoClient(
        api_key=env.sandbox.paymo.api_key, transport=env.sandbox.paymo_transport(), limiter=UnlimitedLimiter()
    ) as client:
        yield client


def audit_events(env: ServerEnv) -> list[dict[str, Any]]:
    return env.audit().tail(10_000)
