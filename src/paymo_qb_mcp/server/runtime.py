"""The server's long-lived state: both clients, the sync service, policy, approvals, audit, write budget;
and ``LazyRuntime``, which opens that state on the first call that needs it.

Importing this module is cheap (the clients, stores and sync core load when a runtime opens), so the
server can declare its tools and answer ``initialize`` without them.
"""

from __future__ import annotations

import datetime as dt
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import anyio

from paymo_qb_mcp.domain.secrets import KnownSecrets
from paymo_qb_mcp.errors import ConfigError

if TYPE_CHECKING:
    import httpx
    from anyio.abc import TaskGroup, TaskStatus

    from paymo_qb_mcp.config.policy import Policy
    from paymo_qb_mcp.domain.plan import Plan
    from paymo_qb_mcp.net.ratelimit import RateLimiter
    from paymo_qb_mcp.quickbooks.tokens import TokenProvider
    from paymo_qb_mcp.store.approvals import ApprovalStore
    from paymo_qb_mcp.store.audit import AuditLog
    from paymo_qb_mcp.store.ledger import Ledger
    from paymo_qb_mcp.store.write_budget import WriteWindow
    from paymo_qb_mcp.sync.company import CacheSettings
    from paymo_qb_mcp.sync.service import SyncService

__all__ = [
    "Connection",
    "LastRun",
    "LazyRuntime",
    "Runtime",
    "RuntimeFactory",
    "WriteBudget",
    "open_runtime",
    "runtime_opener",
]


# How many prepared plans stay readable as resources.
RECENT_PLANS: Final = 16


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class WriteBudget:
    """The policy's writes per minute, counted per logical write (one plan hash), not per request, and
    spent from the window every server on the data directory shares (``store.write_budget``): restarts
    and parallel servers do not multiply the limit.

    On 2026-07-28 connections one logical call arrives as several ``tools/call`` requests; keying on
    the plan hash makes a retried round of the same plan free.
    """

    def __init__(self, per_minute: int, window: WriteWindow) -> None:
        self.per_minute = per_minute
        self._window = window

    def spend(self, plan_hash: str) -> None:
        """Count this plan's write, or raise RateLimitedLocally (``WRITE_LIMIT``) saying when to retry."""
        self._window.spend(plan_hash, self.per_minute)


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
        from paymo_qb_mcp.net.ratelimit import key_fingerprint

        qbo = key_fingerprint(f"{self.qbo_base_url.rstrip('/')}|{self.qbo_realm_id}")
        paymo = key_fingerprint(f"{self.paymo_base_url.rstrip('/')}|{self.paymo_api_key}")
        return qbo, paymo

    async def secret_values(self) -> tuple[str, ...]:
        """Every credential this connection is known to carry, for redaction by value."""
        from paymo_qb_mcp.quickbooks.tokens import StaticTokenProvider

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
    # The credentials this server holds (settings, credential store, connection), as values to mask in
    # results and errors and to refuse as arguments.
    secrets: KnownSecrets = field(default_factory=KnownSecrets, repr=False)
    # This process's `write_audit.WriterLease`: its write intents name it, so that another server starting
    # on the same data directory leaves them open while this one lives.
    writer: str | None = None

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
    from paymo_qb_mcp.paymo.client import PaymoClient
    from paymo_qb_mcp.quickbooks.client import QboClient
    from paymo_qb_mcp.server.write_audit import WriterLease, settle_open_intents
    from paymo_qb_mcp.store.approvals import ApprovalStore
    from paymo_qb_mcp.store.audit import AuditLog
    from paymo_qb_mcp.store.ledger import Ledger
    from paymo_qb_mcp.store.write_budget import WriteWindow
    from paymo_qb_mcp.sync.company import CompanyData, persisted_on_exit
    from paymo_qb_mcp.sync.context import SyncContext
    from paymo_qb_mcp.sync.service import SyncService

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
        write_window = stack.enter_context(WriteWindow(data_dir))
        secrets = KnownSecrets(known_secrets)
        lease = stack.enter_context(WriterLease(data_dir))
        # Writes a process sent but did not live to audit the outcome of are accounted for first.
        settle_open_intents(audit, ledger, data_dir=data_dir)
        ctx = SyncContext(paymo=paymo, qbo=qbo, ledger=ledger, mappings=policy.mappings, company=company)
        yield Runtime(
            service=SyncService(ctx),
            policy=policy,
            approvals=approvals,
            audit=audit,
            ledger=ledger,
            write_budget=WriteBudget(policy.limits.writes_per_minute, write_window),
            data_dir=data_dir,
            connection_label=connection.label,
            secrets=secrets,
            writer=lease.writer,
        )


# Opens the runtime of one server run (``open_runtime`` with what the command line resolved).
RuntimeFactory = Callable[[], AbstractAsyncContextManager[Runtime]]


def runtime_opener(connection: Connection, *, policy: Policy, data_dir: Path) -> RuntimeFactory:
    """A factory that opens a runtime on an already made ``connection`` (the demo, the benchmark, tests);
    ``serve`` connects inside its factory instead (``cli.connect.runtime_factory``)."""

    def factory() -> AbstractAsyncContextManager[Runtime]:
        return open_runtime(connection, policy=policy, data_dir=data_dir)

    return factory


class LazyRuntime:
    """A server run's runtime, opened by the first call that needs it and closed when the run ends.

    Opening it (both clients, the ledger, approvals, audit, the company data; for ``serve --sandbox`` the
    emulators too) is what start-up would otherwise wait for: ``initialize`` and the listings never pay
    for it. However many first calls arrive together, it opens once. An opening that fails raises to
    the call that asked for it, and the next call tries again (a fixed configuration is picked up
    without a restart). The runtime is entered and left in one task of the server's task group, so
    whatever it opens is closed in the task that opened it.
    """

    def __init__(
        self,
        factory: RuntimeFactory,
        task_group: TaskGroup,
        *,
        check: Callable[[Runtime], None] | None = None,
    ) -> None:
        self._factory = factory
        self._task_group = task_group
        self._check = check
        self._lock = anyio.Lock()
        self._closing = anyio.Event()
        self._runtime: Runtime | None = None
        # How many times a runtime was opened in this run: 1 once any call needed it, never more.
        self.times_opened = 0

    @property
    def runtime(self) -> Runtime | None:
        """The runtime while it is open; None before the first call that needs it and after the run."""
        return self._runtime

    async def get(self) -> Runtime:
        """The runtime, opened now if no call opened it yet (errors of the opening are raised here)."""
        runtime = self._runtime
        if runtime is not None:
            return runtime
        async with self._lock:
            if self._runtime is not None:
                return self._runtime
            if self._closing.is_set():
                raise ConfigError("the server is shutting down; nothing was done")
            opened: Runtime = await self._task_group.start(self._keep_open)
            return opened

    def close(self) -> None:
        """End the run: the runtime, if one was opened, is closed by the task that keeps it."""
        self._closing.set()

    async def _keep_open(self, *, task_status: TaskStatus[Runtime] = anyio.TASK_STATUS_IGNORED) -> None:
        async with self._factory() as runtime:
            if self._check is not None:
                self._check(runtime)
            self._runtime = runtime
            self.times_opened += 1
            task_status.started(runtime)
            try:
                await self._closing.wait()
            finally:
                self._runtime = None
