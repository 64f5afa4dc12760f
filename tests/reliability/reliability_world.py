"""One fault-storm world: the benchmark's company seeded into a fresh sandbox, the product's MCP server over
it (its own limiters and retry loop, on the storm's time scale), a network that keeps the clients'
timeouts (scaled) and timestamps every exchange, and an MCP client session as an agent holds it."""

from __future__ import annotations

import functools
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
import yaml
from mcp import Client
from mcp.server import MCPServer
from mcp.types import ElicitRequestParams, ElicitResult

from paymo_qb_mcp.config.policy import load_policy
from paymo_qb_mcp.net import http as net_http
from paymo_qb_mcp.net.ratelimit import clear_limiters
from paymo_qb_mcp.net.retry import RetryPolicy
from paymo_qb_mcp.quickbooks.tokens import StaticTokenProvider
from paymo_qb_mcp.sandbox import Sandbox
from paymo_qb_mcp.sandbox.core import DEFAULT_PAYMO_BASE_URL, DEFAULT_QBO_BASE_URL
from paymo_qb_mcp.server.app import build_server
from paymo_qb_mcp.server.runtime import Connection, runtime_opener

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.seeding import Dataset, seed_volume  # noqa: E402 - the benchmark's generated company

__all__ = ["Exchange", "StormNetwork", "World", "scale_retries", "world"]

SHIPPED_POLICY = REPO / "policies.yaml"


@dataclass(frozen=True)
class Exchange:
    """One request on the storm network: when it left, when its answer (or the timeout) came, and how."""

    service: str
    method: str
    path: str
    sent: float
    answered: float
    status: int | None
    retry_after: float | None

    @property
    def timed_out(self) -> bool:
        return self.status is None


class StormNetwork(httpx.AsyncBaseTransport):
    """The network between a client and one emulator, at the storm's time scale.

    The in-process transport has no clock of its own; a real connection gives up when an answer is
    slower than the client's read timeout. This one does the same with the timeout the client set
    (``QboClient``'s 60 s, ``PaymoClient``'s 30 s) divided by ``scale``, raising ``httpx.ReadTimeout``
    as httpx's own network layer would, and logs every exchange with its times.
    """

    def __init__(
        self, inner: httpx.AsyncBaseTransport, service: str, scale: float, log: list[Exchange]
    ) -> None:
        self._inner = inner
        self._service = service
        self._scale = scale
        self._log = log

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        timeouts = request.extensions.get("timeout") or {}
        read = timeouts.get("read")
        limit = None if read is None else read / self._scale
        sent = time.monotonic()
        response: httpx.Response | None = None
        with anyio.move_on_after(limit):
            response = await self._inner.handle_async_request(request)
        answered = time.monotonic()
        status = None if response is None else response.status_code
        header = None if response is None else response.headers.get("Retry-After")
        self._log.append(
            Exchange(
                self._service,
                request.method,
                request.url.path,
                sent,
                answered,
                status,
                None if header is None else float(header),
            )
        )
        if response is None:
            raise httpx.ReadTimeout(f"no answer within {limit:.3f} s (scaled read timeout)", request=request)
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()


def scale_retries(monkeypatch: pytest.MonkeyPatch, scale: float) -> None:
    """The product's retry loop on the storm's time scale: every wait and bound of the default
    ``RetryPolicy`` ``scale`` times shorter (the attempts are the same), as the limiters' windows are
    through ``Connection.time_scale`` and the emulators' through ``Sandbox.create(time_scale=...)``."""
    default = RetryPolicy()
    monkeypatch.setattr(
        net_http,
        "RetryPolicy",
        functools.partial(
            RetryPolicy,
            base_delay=default.base_delay / scale,
            max_delay=default.max_delay / scale,
            max_total_wait=default.max_total_wait / scale,
            default_429_wait=default.default_429_wait / scale,
        ),
    )


@dataclass
class Human:
    """Accepts whatever the server asks (new customers, large invoices), counting the questions."""

    asked: int = 0

    async def __call__(self, context: Any, params: ElicitRequestParams) -> ElicitResult:
        self.asked += 1
        return ElicitResult(action="accept", content={"approve": True, "note": "reliability storm"})


@dataclass
class World:
    sandbox: Sandbox
    dataset: Dataset
    server: MCPServer
    data_dir: Path
    exchanges: list[Exchange]
    human: Human = field(default_factory=Human)

    def client(self) -> Client:
        return Client(self.server, elicitation_callback=self.human)

    def storm_off(self) -> None:
        self.sandbox.qbo.faults.clear()
        self.sandbox.paymo.faults.clear()


def _policy(path: Path) -> Path:
    """The shipped policy with writes allowed by default and no writes-per-minute budget to speak of (an
    agent retrying through a storm plans many times); its closed-books rule and confirmations stay."""
    document = yaml.safe_load(SHIPPED_POLICY.read_text(encoding="utf-8"))
    document["default"] = "allow"
    document["limits"] = {**(document.get("limits") or {}), "writes_per_minute": 1_000_000}
    path.write_text(yaml.safe_dump(document, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def world(directory: Path, *, invoices: int, seed: int, scale: float) -> World:
    """A fresh sandbox with the benchmark's company of ``invoices`` invoices (the same ``seed`` gives the
    same company) and the product's server over it, paced by its own limiters on ``scale``."""
    directory.mkdir(parents=True, exist_ok=True)
    # Each world paces itself from scratch: a pause a storm left in the process-wide limiters is not
    # the next world's.
    clear_limiters()
    sandbox = Sandbox.create("empty", "global", "relaxed", time_scale=scale)
    dataset = seed_volume(sandbox, invoices, seed=seed)
    policy_path = _policy(directory / "policies.yaml")
    policy = load_policy(policy_path)
    data_dir = directory / "data"
    exchanges: list[Exchange] = []
    connection = Connection(
        paymo_base_url=DEFAULT_PAYMO_BASE_URL,
        paymo_api_key=sandbox.paymo.api_key,
        qbo_base_url=DEFAULT_QBO_BASE_URL,
        qbo_realm_id=sandbox.qbo.realm_id,
        qbo_tokens=StaticTokenProvider(sandbox.qbo.access_token),
        paymo_transport=StormNetwork(sandbox.paymo_transport(), "paymo", scale, exchanges),
        qbo_transport=StormNetwork(sandbox.qbo_transport(), "quickbooks", scale, exchanges),
        label="sandbox (reliability)",
        time_scale=scale,
    )

    factory = runtime_opener(connection, policy=policy, data_dir=data_dir)

    server = build_server(factory, policy_path=policy_path)
    return World(sandbox=sandbox, dataset=dataset, server=server, data_dir=data_dir, exchanges=exchanges)
