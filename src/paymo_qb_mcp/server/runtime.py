"""The server's long-lived state: both clients, the sync service, policy, approvals, audit, write budget."""

from __future__ import annotations

import datetime as dt
import time
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import httpx

from paymo_qb_mcp.config.policy import Policy
from paymo_qb_mcp.domain.plan import Plan
from paymo_qb_mcp.errors import RateLimitedLocally
from paymo_qb_mcp.net.ratelimit import RateLimiter, key_fingerprint
from paymo_qb_mcp.paymo.client import PaymoClient
from paymo_qb_mcp.quickbooks.client import QboClient
from paymo_qb_mcp.quickbooks.tokens import StaticTokenProvider, TokenProvider
from paymo_qb_mcp.store.approvals import ApprovalStore
from paymo_qb_mcp.store.audit import AuditLog
from paymo_qb_mcp.store.ledger import Ledger
from paymo_qb_mcp.sync.company import CacheSettings, CompanyData, persisted_on_exit
from paymo_qb_mcp.sync.context import SyncContext
from paymo_qb_mcp.sync.service import SyncService

__all__ = ["Connection", "LastRun", "Runtime", "WriteBudget", "open_runtime"]


# How many prepared plans stay readable as resources.
RECENT_PLANS: Final = 16


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class WriteBudget:
    """The policy's writes per minute, counted per logical write (one plan hash), not per request.

    On 2026-07-28 connections one logical call arrives as several ``tools/call`` requests; keying on
    the plan hash makes a retried round of the same plan free.
    """

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self._clock = clock
        self._spent: deque[tuple[float, str]] = deque()

    def spend(self, plan_hash: str) -> None:
        now = self._clock()
        while self._spent and now - self._spent[0][0] >= 60.0:
            self._spent.popleft()
        if any(spent_hash == plan_hash for _, spent_hash in self._spent):
            return
        if len(self._spent) >= self.per_minute:
            retry_after = max(60.0 - (now - self._spent[0][0]), 0.0)
            raise RateLimitedLocally(
                f"the policy allows {self.per_minute} writes per minute and they are used up; "
                f"retry after {retry_after:.0f} s",
                retry_after=retry_after,
            )
        self._spent.append((now, plan_hash))


@dataclass(frozen=True)
class LastRun:
    tool: str
    status: str
    plan_hash: str | None
    at: dt.datetime
    summary: str


@dataclass(frozen=True)
class Connection:
    """How to reach both services: URLs, credentials, and (for the sandbox and tests) transports."""

    paymo_base_url: str
    paymo_api_key: str = field(repr=False)
    qbo_base_url: str
    qbo_realm_id: str
    qbo_tokens: TokenProvider
    paymo_transport: httpx.AsyncBaseTransport | None = None
    qbo_transport: httpx.AsyncBaseTransport | None = None
    paymo_limiter: RateLimiter | None = None
    qbo_limiter: RateLimiter | None = None
    label: str = "live"
    # Rate windows this many times shorter than the real services' (an emulator scaled the same way,
    # for benchmarks); used by the default limiters when none are given.
    time_scale: float = 1.0
    # Where the link ledger lives when not in the data directory: the sandbox starts from its seed
    # in every process, so links from an earlier process would point at records that no longer
    # exist; it keeps its ledger in a directory of its own for its lifetime (approvals and audit
    # stay in the data directory, shared with the `approve` command).
    ledger_dir: Path | None = None
    # Other credentials behind this connection (e.g. the Intuit client secret and the tokens the
    # credential store held at start): the audit log and approvals mask them by value.
    known_secrets: tuple[str, ...] = field(default=(), repr=False)

    def company_keys(self) -> tuple[str, str]:
        """Names for each company's data in the data directory (hashes: never a key or a token)."""
        qbo = key_fingerprint(f"{self.qbo_base_url.rstrip('/')}|{self.qbo_realm_id}")
        paymo = key_fingerprint(f"{self.paymo_base_url.rstrip('/')}|{self.paymo_api_key}")
        return qbo, paymo

    async def secret_values(self) -> tuple[str, ...]:
        """Every credential this connection is known to carry, for redaction by value."""
        values = [self.paymo_api_key, *self.known_secrets]
        if isinstance(self.qbo_tokens, StaticTokenProvider):
            # A fixed token costs no I/O to ask for; a refreshing provider's tokens change over time and
            # are masked by their shape instead.
            values.append(await self.qbo_tokens.access_token())
        return tuple(values)


@dataclass
class Runtime:
    service: SyncService
    policy: Policy
    approvals: ApprovalStore
    audit: AuditLog
    ledger: Ledger
    write_budget: WriteBudget
    data_dir: Path
    connection_label: str
    now: Callable[[], dt.datetime] = _utc_now
    last_runs: deque[LastRun] = field(default_factory=lambda: deque(maxlen=20))
    recent_plans: OrderedDict[str, tuple[Plan, dict[str, Any]]] = field(default_factory=OrderedDict)

    def remember_plan(self, plan: Plan, details: Mapping[str, Any]) -> None:
        """Keep a plan this server prepared (the last few), readable as ``paymo-qb://plans/{plan_hash}``."""
        self.recent_plans[plan.plan_hash] = (plan, dict(details))
        self.recent_plans.move_to_end(plan.plan_hash)
        while len(self.recent_plans) > RECENT_PLANS:
            self.recent_plans.popitem(last=False)

    def record_run(self, tool: str, status: str, plan_hash: str | None, summary: str) -> None:
        self.last_runs.append(LastRun(tool, status, plan_hash, self.now(), summary))


@asynccontextmanager
async def open_runtime(
    connection: Connection,
    *,
    policy: Policy,
    data_dir: Path,
    known_secrets: tuple[str, ...] = (),
    cache: CacheSettings | None = None,
) -> AsyncIterator[Runtime]:
    """Open both clients and the stores for the lifetime of a server (or one in-process client).

    ``known_secrets`` (the settings' secrets) and the connection's own credentials are masked by value
    wherever they would reach the audit log or the approvals store. The company data (``sync.company``)
    is kept next to the ledger, so the sandbox's (which forgets everything) goes with its ledger.
    """
    known_secrets = (*known_secrets, *await connection.secret_values())
    async with AsyncExitStack() as stack:
        paymo = await stack.enter_async_context(
            PaymoClient(
                base_url=connection.paymo_base_url,
                api_key=connection.paymo_api_key,
                transport=connection.paymo_transport,
                limiter=connection.paymo_limiter,
                time_scale=connection.time_scale,
            )
        )
        qbo = await stack.enter_async_context(
            QboClient(
                base_url=connection.qbo_base_url,
                realm_id=connection.qbo_realm_id,
                token_provider=connection.qbo_tokens,
                transport=connection.qbo_transport,
                limiter=connection.qbo_limiter,
                time_scale=connection.time_scale,
            )
        )
        ledger_dir = connection.ledger_dir or data_dir
        ledger = stack.enter_context(Ledger(ledger_dir))
        qbo_key, paymo_key = connection.company_keys()
        company = await stack.enter_async_context(
            persisted_on_exit(
                CompanyData(
                    qbo,
                    paymo,
                    directory=ledger_dir / "company",
                    qbo_key=qbo_key,
                    paymo_key=paymo_key,
                    settings=cache,
                )
            )
        )
        approvals = stack.enter_context(ApprovalStore(data_dir, known_secrets=known_secrets))
        audit = AuditLog.in_data_dir(data_dir, known_secrets=known_secrets)
        ctx = SyncContext(paymo=paymo, qbo=qbo, ledger=ledger, mappings=policy.mappings, company=company)
        yield Runtime(
            service=SyncService(ctx),
            policy=policy,
            approvals=approvals,
            audit=audit,
            ledger=ledger,
            write_budget=WriteBudget(policy.limits.writes_per_minute),
            data_dir=data_dir,
            connection_label=connection.label,
        )
