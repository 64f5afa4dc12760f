"""How commands reach Paymo and QuickBooks: live accounts (settings + credential store) or the sandbox.

A server run connects when its runtime opens (the first call that needs it), not at start-up: the
credential store, the API clients and the emulators load then.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Final, Literal

from paymo_qb_mcp.config.policy import Policy, load_policy
from paymo_qb_mcp.config.settings import Settings
from paymo_qb_mcp.errors import ConfigError, PaymoQbError
from paymo_qb_mcp.server.runtime import Connection, Runtime, RuntimeFactory, open_runtime

if TYPE_CHECKING:
    from paymo_qb_mcp.sandbox import Sandbox

__all__ = [
    "SANDBOX_PAYMO_API_KEY",
    "Target",
    "build_target",
    "live_connection",
    "runtime_factory",
    "sandbox_connection",
]

# The sandbox's Paymo key is its seed's (a throwaway, docs/sandbox.md). `serve --sandbox` masks it in
# its logs from start-up, before the emulators exist; a test checks it is the key the sandbox gives out.
SANDBOX_PAYMO_API_KEY: Final = "5c2a1e7b94d04f3e8a61b7d2c9f0e4a8"


@dataclass(frozen=True)
class Target:
    """Everything a server run needs: the connection (or how to make it when the runtime opens), the
    policy and where state lives."""

    connection: Connection | Callable[[], Connection]
    policy: Policy
    policy_path: Path
    data_dir: Path
    known_secrets: tuple[str, ...] = field(repr=False)
    cache_refresh_seconds: float = 2.0

    def connect(self) -> Connection:
        """The connection, made now when it is made on demand (the credential store or the emulators)."""
        return self.connection if isinstance(self.connection, Connection) else self.connection()


def live_connection(settings: Settings) -> Connection:
    """Real accounts: the Paymo key and QBO tokens from the environment or what `auth` stored."""
    from paymo_qb_mcp.cli.auth_cmd import open_store, qbo_token_provider, resolve_oauth_app
    from paymo_qb_mcp.quickbooks.tokens import StaticTokenProvider

    store = open_store(settings)
    paymo_key = settings.paymo_api_key.get_secret_value() if settings.paymo_api_key else None
    if paymo_key is None:
        stored = store.load_paymo()
        paymo_key = stored.api_key if stored is not None else None
    if not paymo_key:
        raise ConfigError("No Paymo API key: set PAYMO_API_KEY or run `paymo-qb-mcp auth paymo`.")
    realm_id = settings.qbo_realm_id
    if realm_id is None:
        realms = store.qbo_realms()
        if len(realms) != 1:
            raise ConfigError(
                "QBO_REALM_ID is not set and "
                + ("no QuickBooks company is connected" if not realms else f"{len(realms)} are connected")
                + ": run `paymo-qb-mcp auth quickbooks`, or set QBO_REALM_ID to the company id."
            )
        realm_id = realms[0]
    tokens = (
        StaticTokenProvider(settings.qbo_access_token)
        if settings.qbo_access_token is not None
        else qbo_token_provider(settings, store, realm_id)
    )
    # What only the credential store knows is masked by value in the audit log and approvals too.
    stored_secrets: list[str] = []
    if settings.qbo_access_token is None:
        app = resolve_oauth_app(settings, store, settings.qbo_environment)
        try:
            saved = store.load_qbo_tokens(realm_id)
        except PaymoQbError:
            saved = None  # the token provider reports a damaged record on first use, with its fix
        stored_secrets += [app.client_secret] if app is not None else []
        stored_secrets += [saved.access_token, saved.refresh_token] if saved is not None else []
    return Connection(
        paymo_base_url=settings.paymo_base_url,
        paymo_api_key=paymo_key,
        qbo_base_url=settings.qbo_base_url,
        qbo_realm_id=realm_id,
        qbo_tokens=tokens,
        label=f"live ({settings.qbo_environment})",
        known_secrets=tuple(stored_secrets),
    )


def sandbox_connection(
    *, seed: Literal["demo", "empty"] = "demo", tax_model: Literal["global", "us"] = "global"
) -> tuple[Connection, Sandbox]:
    """In-process emulators of both services, seeded with the demo agency (no accounts needed).

    The ledger lives in a temporary directory for as long as the emulators (this process).
    """
    from paymo_qb_mcp.net.ratelimit import UnlimitedLimiter
    from paymo_qb_mcp.quickbooks.tokens import StaticTokenProvider
    from paymo_qb_mcp.sandbox import Sandbox

    sandbox = Sandbox.create(seed, tax_model, "relaxed")
    ledger_dir = Path(tempfile.mkdtemp(prefix="paymo-qb-sandbox-ledger-"))
    atexit.register(shutil.rmtree, ledger_dir, ignore_errors=True)
    connection = Connection(
        paymo_base_url="https://app.paymoapp.com/api",
        paymo_api_key=sandbox.paymo.api_key,
        qbo_base_url="https://sandbox-quickbooks.api.intuit.com",
        qbo_realm_id=sandbox.qbo.realm_id,
        qbo_tokens=StaticTokenProvider(sandbox.qbo.access_token),
        paymo_transport=sandbox.paymo_transport(),
        qbo_transport=sandbox.qbo_transport(),
        # The relaxed emulators never throttle a demo; client-side pacing would only slow it down.
        paymo_limiter=UnlimitedLimiter(),
        qbo_limiter=UnlimitedLimiter(),
        label=f"sandbox ({seed}, {tax_model} tax model)",
        ledger_dir=ledger_dir,
    )
    return connection, sandbox


def build_target(settings: Settings, connection: Connection | Callable[[], Connection]) -> Target:
    """The policy (loaded and checked now), the data directory and the settings' secrets; ``connection``
    may be a function that makes it, called when a runtime opens."""
    policy_path = settings.policy_path()
    return Target(
        connection=connection,
        policy=load_policy(policy_path),
        policy_path=policy_path,
        data_dir=settings.ensure_data_dir(),
        known_secrets=settings.secret_values(),
        cache_refresh_seconds=settings.cache_refresh_seconds,
    )


def runtime_factory(
    target: Target, *, on_connect: Callable[[Connection], None] | None = None
) -> RuntimeFactory:
    """Opens a runtime on ``target``: connects (``Target.connect``), tells ``on_connect`` (``serve`` masks
    the connection's credentials in its logs), and opens the clients and stores."""

    @asynccontextmanager
    async def factory() -> AsyncIterator[Runtime]:
        from paymo_qb_mcp.sync.company import CacheSettings

        connection = target.connect()
        if on_connect is not None:
            on_connect(connection)
        async with open_runtime(
            connection,
            policy=target.policy,
            data_dir=target.data_dir,
            known_secrets=target.known_secrets,
            cache=CacheSettings(refresh_interval=target.cache_refresh_seconds),
        ) as runtime:
            yield runtime

    return factory
