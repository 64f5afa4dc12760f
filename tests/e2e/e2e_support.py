"""Scenario-test helpers: a governed MCP server on the sandbox, tool calls through a real MCP client, and
read-backs of both systems over their own APIs (QuickBooks via QboClient, Paymo via PaymoClient)."""

from __future__ import annotations

import datetime as dt
import functools
import json
import os
import select
import signal
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import yaml
from mcp import Client
from server_support import SHIPPED_POLICY, Human, ServerEnv, audit_events, make_env, paymo_client, qbo_client

from paymo_qb_mcp.net import http as net_http
from paymo_qb_mcp.net.retry import RetryPolicy
from paymo_qb_mcp.quickbooks.models import QboEntity
from paymo_qb_mcp.quickbooks.query import Condition

__all__ = [
    "US_MAPPINGS",
    "E2eEnv",
    "Human",
    "call",
    "call_error",
    "e2e_env",
    "inside_record_text",
    "limit_retries",
    "money",
    "paymo_client",
    "policy_text",
    "qbo_client",
    "record_text_paths",
    "strings_at",
]

M = TypeVar("M", bound=QboEntity)

# The New York office (US model, Automated Sales Tax): lines say TAX or NON and AST picks the rate; the
# accounts, items and vendor have the same ids as in the global seed (as in tests/sync's US policy).
US_MAPPINGS: dict[str, Any] = {
    "tax": {
        "exempt_code": {"id": "NON"},
        "codes": [
            {"paymo_percents": ["8.875"], "qbo_tax_code": {"id": "TAX"}},
            {"paymo_percents": [], "qbo_tax_code": {"id": "NON"}},
        ],
    },
    "expense_accounts": {"default": {"id": "15", "name": "Uncategorized Expense"}},
    "expense_target": {
        "type": "purchase",
        "payment_type": "Cash",
        "payment_account": {"id": "1", "name": "Checking"},
    },
    "service_item": {"id": "1", "name": "Services"},
    "purchase_order_vendor": {"id": "2", "name": "Pixel Freelance Co."},
    "time_activities": {"item": {"id": "2", "name": "Hours"}},
}


def money(value: object) -> Decimal:
    """A decimal string from a tool result (or a wire Decimal) as a Decimal; never through float."""
    assert value is not None
    assert not isinstance(value, float), f"money arrived as a float: {value!r}"
    return Decimal(str(value))


def policy_text(
    *,
    default: str = "allow",
    mappings: Mapping[str, Any] | None = None,
    replace_mappings: bool = False,
) -> str:
    """The shipped policies.yaml with another default and some mappings changed (or all replaced).

    Its rules stay: closed books are denied, new customers and invoices of 5 000 or more need a human.
    """
    document = yaml.safe_load(SHIPPED_POLICY.read_text(encoding="utf-8"))
    document["default"] = default
    if replace_mappings:
        document["mappings"] = dict(mappings or {})
    else:
        document["mappings"] = {**document["mappings"], **(mappings or {})}
    return str(yaml.safe_dump(document, sort_keys=False, allow_unicode=True))


class E2eEnv:
    """One scenario's world: the server, a human who approves, and read-backs of both systems."""

    def __init__(self, server_env: ServerEnv, human: Human) -> None:
        self.server_env = server_env
        self.human = human

    @property
    def sandbox(self) -> Any:
        return self.server_env.sandbox

    def client(self, *, mode: str = "auto") -> Client:
        return self.server_env.client(mode=mode, human=self.human)

    async def paymo_post(self, collection: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """A Paymo user adding a record through Paymo's API (what the product's client never creates,
        such as a time entry); returns the created record."""
        return await self._paymo_write("POST", collection, body, expected=201)

    async def paymo_put(self, collection: str, record_id: int, body: Mapping[str, Any]) -> dict[str, Any]:
        """A Paymo user changing a record the product's client never changes (e.g. a project's name)."""
        return await self._paymo_write("PUT", f"{collection}/{record_id}", body, expected=200)

    async def _paymo_write(
        self, method: str, path: str, body: Mapping[str, Any], *, expected: int
    ) -> dict[str, Any]:
        async with httpx.AsyncClient(
            transport=self.sandbox.paymo_transport(),
            base_url="https://app.paymoapp.com/api/",
            auth=httpx.BasicAuth(self.sandbox.paymo.api_key, "X"),
            headers={"Accept": "application/json"},
        ) as http:
            response = await http.request(method, path, json=dict(body))
        assert response.status_code == expected, response.text
        collection = path.split("/")[0]
        [record] = response.json(parse_float=Decimal)[collection]
        return dict(record)

    async def qbo_all(self, model: type[M], *conditions: Condition) -> list[M]:
        async with qbo_client(self.server_env) as qbo:
            found: list[M] = await qbo.query_all(model, *conditions)
            return found

    async def qbo_read(self, model: type[M], entity_id: str) -> M:
        async with qbo_client(self.server_env) as qbo:
            record: M = await qbo.read(model, entity_id)
            return record

    async def qbo_create(self, record: QboEntity, *, request_id: str) -> Any:
        """A bookkeeper typing a record into QuickBooks (straight through the API)."""
        async with qbo_client(self.server_env) as qbo:
            return await qbo.create(record, request_id=request_id)

    def audit(self) -> list[dict[str, Any]]:
        return audit_events(self.server_env)

    def writes(self, tool: str | None = None, *, since: int = 0) -> list[dict[str, Any]]:
        """`write` audit events (optionally of one tool, after the first ``since`` audit entries)."""
        return [
            event
            for event in self.audit()[since:]
            if event["event"] == "write" and (tool is None or event.get("tool") == tool)
        ]

    def outcomes(self, tool: str, *, since: int = 0) -> list[str]:
        return [
            str(event["outcome"])
            for event in self.audit()[since:]
            if event["event"] == "outcome" and event.get("tool") == tool
        ]


def e2e_env(
    tmp_path: Path,
    *,
    tax_model: str = "global",
    default: str = "allow",
    mappings: Mapping[str, Any] | None = None,
    replace_mappings: bool = False,
    human: Human | None = None,
) -> E2eEnv:
    path = tmp_path / "policies.yaml"
    path.write_text(
        policy_text(default=default, mappings=mappings, replace_mappings=replace_mappings), encoding="utf-8"
    )
    return E2eEnv(make_env(tmp_path, path, tax_model), human or Human("accept"))


def _text(result: Any) -> str:
    return " ".join(str(getattr(block, "text", "")) for block in result.content)


async def call(client: Client, tool: str, **arguments: Any) -> dict[str, Any]:
    """Call a tool as an agent would; it must succeed. Returns the structured result."""
    result = await client.call_tool(tool, _wire(arguments))
    assert not result.is_error, f"{tool} failed: {_text(result)}"
    assert result.structured_content is not None, tool
    return dict(result.structured_content)


async def call_error(client: Client, tool: str, **arguments: Any) -> str:
    """Call a tool that must fail; returns the error text the agent sees."""
    result = await client.call_tool(tool, _wire(arguments))
    assert result.is_error, f"{tool} unexpectedly succeeded: {result.structured_content}"
    return _text(result)


def _wire(arguments: Mapping[str, Any]) -> dict[str, Any]:
    def one(value: Any) -> Any:
        if isinstance(value, dt.date):
            return value.isoformat()
        if isinstance(value, Sequence) and not isinstance(value, str):
            return [one(item) for item in value]
        return value

    return {key: one(value) for key, value in arguments.items()}


def record_text_paths(schema: Mapping[str, Any]) -> set[str]:
    """Paths (``a.b``, ``[]`` for list items) of the fields an output schema marks as record text."""
    definitions = schema.get("$defs", {})
    marked: set[str] = set()

    def visit(node: Mapping[str, Any], path: str) -> None:
        if "$ref" in node:
            node = definitions[str(node["$ref"]).rsplit("/", 1)[-1]]
        if "record text" in str(node.get("description", "")).lower() and path:
            marked.add(path)
        for option in node.get("anyOf", []):
            visit(option, path)
        if isinstance(node.get("items"), Mapping):
            visit(node["items"], f"{path}[]")
        for name, child in node.get("properties", {}).items():
            visit(child, f"{path}.{name}" if path else name)

    visit(schema, "")
    return marked


def strings_at(value: Any, path: str = "") -> list[tuple[str, str]]:
    """Every (path, string) in a JSON value; list items add ``[]`` to the path."""
    if isinstance(value, Mapping):
        return [
            found
            for key, item in value.items()
            for found in strings_at(item, f"{path}.{key}" if path else key)
        ]
    if isinstance(value, list):
        return [found for item in value for found in strings_at(item, f"{path}[]")]
    return [(path, value)] if isinstance(value, str) else []


def inside_record_text(path: str, marked: set[str]) -> bool:
    return any(path == field or path.startswith((f"{field}.", f"{field}[]")) for field in marked)


def limit_retries(monkeypatch: pytest.MonkeyPatch, attempts: int) -> None:
    """Clients opened from now on try each request at most ``attempts`` times, without waiting between.

    The server opens its clients with the default retry policy; this is the seam to exhaust (or turn
    off, with 1) the QBO client's retries without real backoff sleeps.
    """
    monkeypatch.setattr(
        net_http, "RetryPolicy", functools.partial(RetryPolicy, max_attempts=attempts, base_delay=0.0)
    )


@contextmanager
def served_sandbox(timeout_s: float = 60.0) -> Iterator[dict[str, Any]]:
    """`paymo-qb-mcp sandbox` as its own process (ports the OS picks), for servers in other processes to
    reach; its facts line. Stopped (SIGTERM, then killed) on the way out."""
    sandbox = subprocess.Popen(
        [sys.executable, "-m", "paymo_qb_mcp.cli", "sandbox", "--paymo-port", "0", "--qbo-port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert sandbox.stdout is not None
        ready, _, _ = select.select([sandbox.stdout], [], [], timeout_s)
        assert ready, "the sandbox printed nothing"
        facts: dict[str, Any] = json.loads(sandbox.stdout.readline())
        yield facts
    finally:
        sandbox.send_signal(signal.SIGTERM)
        try:
            sandbox.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            sandbox.kill()
            sandbox.communicate()
