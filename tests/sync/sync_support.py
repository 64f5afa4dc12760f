"""The sync test environment: both emulators, real clients over ASGI, a ledger in tmp_path, a policy.

Imported by module name (`from sync_support import ...`): test modules must not import `conftest`,
which is ambiguous when several test folders have one.

`sync_env` is the demo agency in the global (Canadian GST/QST) tax model with the root `policies.yaml`;
`sync_env_us` is its New York office on Automated Sales Tax with the US policy below. Both are
function-scoped, so every test starts from the seed. Clients do not pace and never sleep between
retries, which keeps end-to-end tests fast; tests that need retries off use `env.qbo_without_retries()`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import httpx

from paymo_qb_mcp.config.policy import Mappings, Policy, load_policy
from paymo_qb_mcp.net.ratelimit import UnlimitedLimiter
from paymo_qb_mcp.net.retry import RetryPolicy
from paymo_qb_mcp.paymo.client import PaymoClient
from paymo_qb_mcp.quickbooks.client import QboClient
from paymo_qb_mcp.quickbooks.tokens import StaticTokenProvider
from paymo_qb_mcp.sandbox.paymo import PaymoEmulator
from paymo_qb_mcp.sandbox.quickbooks import QboEmulator
from paymo_qb_mcp.store.ledger import Ledger
from paymo_qb_mcp.sync.context import SyncContext
from paymo_qb_mcp.sync.service import SyncService

TaxModel = Literal["global", "us"]

PAYMO_BASE_URL = "https://app.paymoapp.com/api"
QBO_BASE_URL = "https://sandbox-quickbooks.api.intuit.com"
# 2026-11-20 10:30 in Montreal: after QBO's closed books (2025-12-31), inside the demo's Oct–Nov 2026.
FIXED_NOW = dt.datetime(2026, 11, 20, 15, 30, tzinfo=dt.UTC)
SHIPPED_POLICY = Path(__file__).resolve().parents[2] / "policies.yaml"

# The New York office: AST picks the rate, so lines only say TAX or NON; the ids of the accounts,
# items and vendor are the same as in the global seed.
US_POLICY_YAML = """
version: 1
default: confirm
rules:
  - name: matching and reads are free
    when: {operation: [read, link]}
    effect: allow
  - name: closed books
    when: {txn_date_before: "2026-01-01"}
    effect: deny
mappings:
  tax:
    exempt_code: {id: "NON"}
    codes:
      - paymo_percents: ["8.875"]
        qbo_tax_code: {id: "TAX"}
      - paymo_percents: []
        qbo_tax_code: {id: "NON"}
  expense_accounts:
    default: {id: "15", name: "Uncategorized Expense"}
  expense_target:
    type: purchase
    payment_type: Cash
    payment_account: {id: "1", name: "Checking"}
  service_item: {id: "1", name: "Services"}
  purchase_order_vendor: {id: "2", name: "Pixel Freelance Co."}
  time_activities:
    item: {id: "2", name: "Hours"}
"""


async def _no_sleep(seconds: float) -> None:
    return None


def fixed_now() -> dt.datetime:
    return FIXED_NOW


@dataclass
class SyncEnv:
    """One sync run's world; every attribute is live (emulator state changes as the tests write)."""

    tax_model: TaxModel
    paymo_emu: PaymoEmulator
    qbo_emu: QboEmulator
    paymo: PaymoClient
    qbo: QboClient
    ledger: Ledger
    policy: Policy
    ctx: SyncContext
    service: SyncService
    data_dir: Path
    _stack: AsyncExitStack = field(repr=False, default_factory=AsyncExitStack)

    @property
    def mappings(self) -> Mappings:
        return self.policy.mappings

    async def qbo_without_retries(self) -> QboClient:
        """A second QBO client on the same emulator that gives up at the first error (lost-response tests)."""
        return await self._stack.enter_async_context(_qbo_client(self.qbo_emu, RetryPolicy(max_attempts=1)))

    async def fresh_context(self, *, qbo: QboClient | None = None) -> SyncContext:
        """Another SyncContext over the same emulators and ledger (as a second process would have)."""
        return SyncContext(
            paymo=self.paymo, qbo=qbo or self.qbo, ledger=self.ledger, mappings=self.mappings, now=fixed_now
        )


def _qbo_client(emulator: QboEmulator, retry: RetryPolicy | None = None) -> QboClient:
    return QboClient(
        base_url=QBO_BASE_URL,
        realm_id=emulator.realm_id,
        token_provider=StaticTokenProvider(emulator.access_token),
        transport=httpx.ASGITransport(app=emulator.app),
        limiter=UnlimitedLimiter(),
        batch_limiter=UnlimitedLimiter(),
        retry=retry,
        sleep=_no_sleep,
    )


@asynccontextmanager
async def build_sync_env(tmp_path: Path, *, tax_model: TaxModel = "global") -> AsyncIterator[SyncEnv]:
    """A fresh demo world (both emulators seeded alike) with clients, ledger, context and service."""
    paymo_emu = PaymoEmulator("demo", tax_model=tax_model, rate_limits="relaxed", now=fixed_now)
    qbo_emu = QboEmulator("demo", tax_model=tax_model, rate_limits="relaxed", now=fixed_now)
    if tax_model == "global":
        policy = load_policy(SHIPPED_POLICY)
    else:
        policy = Policy.from_yaml(US_POLICY_YAML, source="tests/sync US policy")
    data_dir = tmp_path / f"data-{tax_model}"
    async with AsyncExitStack() as stack:
        paymo = await stack.enter_async_context(
            PaymoClient(
                base_url=PAYMO_BASE_URL,
                api_key=paymo_emu.api_key,
                transport=httpx.ASGITransport(app=paymo_emu.app),
                limiter=UnlimitedLimiter(),
                sleep=_no_sleep,
            )
        )
        qbo = await stack.enter_async_context(_qbo_client(qbo_emu))
        ledger = Ledger(data_dir)
        stack.callback(ledger.close)
        ctx = SyncContext(paymo=paymo, qbo=qbo, ledger=ledger, mappings=policy.mappings, now=fixed_now)
        env = SyncEnv(
            tax_model=tax_model,
            paymo_emu=paymo_emu,
            qbo_emu=qbo_emu,
            paymo=paymo,
            qbo=qbo,
            ledger=ledger,
            policy=policy,
            ctx=ctx,
            service=SyncService(ctx),
            data_dir=data_dir,
            _stack=stack,
        )
        yield env
