"""OAuthTokenProvider against the local Intuit emulator: refresh ahead of expiry and after a 401, rotation
saved before use, single-flight refreshes, crash safety, and `invalid_grant` → ReauthorizationRequired."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import anyio
import httpx
import pytest

from intuit_oauth_support import (
    REDIRECT,
    FakeClock,
    SwitchableApp,
    openid_configuration_url,
    registered_emulator,
    switchable_loopback,
    user_approves,
)
from paymo_qb_mcp.errors import ConfigError, ReauthorizationRequired
from paymo_qb_mcp.quickbooks.oauth import (
    IntuitOAuthClient,
    OAuthApp,
    OAuthTokenProvider,
    TokenRecord,
    new_state,
    parse_redirect,
)
from paymo_qb_mcp.quickbooks.tokens import TokenProvider
from paymo_qb_mcp.sandbox.intuit_oauth import IntuitOAuthEmulator
from paymo_qb_mcp.store import tokens as tokens_module
from paymo_qb_mcp.store.tokens import CredentialStore, open_credential_store

CLIENT_ID = "ABproviderclient"
CLIENT_SECRET = "provider-secret"
REAUTH_MESSAGE = "Run `paymo-qb-mcp auth quickbooks` again to reconnect the company."


class FlakyStore:
    """A real store whose next save fails, as a full disk or a crash right after Intuit answered would."""

    def __init__(self, inner: CredentialStore) -> None:
        self.inner = inner
        self.fail_next_save = False
        self.saves = 0

    def load_qbo_tokens(self, realm_id: str) -> TokenRecord | None:
        return self.inner.load_qbo_tokens(realm_id)

    def save_qbo_tokens(self, tokens: TokenRecord) -> None:
        if self.fail_next_save:
            self.fail_next_save = False
            raise ConfigError("Cannot write the credentials file: No space left on device.")
        self.inner.save_qbo_tokens(tokens)
        self.saves += 1


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def emulator(clock: FakeClock) -> IntuitOAuthEmulator:
    return registered_emulator(CLIENT_ID, CLIENT_SECRET, clock)


@pytest.fixture(scope="module")
def loopback() -> Iterator[tuple[SwitchableApp, str]]:
    with switchable_loopback() as served:
        yield served


@pytest.fixture
def base_url(emulator: IntuitOAuthEmulator, loopback: tuple[SwitchableApp, str]) -> str:
    app, url = loopback
    app.target = emulator.app
    return url


@pytest.fixture
def oauth(base_url: str, clock: FakeClock) -> IntuitOAuthClient:
    app = OAuthApp(
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        redirect_uri=REDIRECT,
        environment="sandbox",
        discovery_url=openid_configuration_url(base_url),
    )
    return IntuitOAuthClient(app, clock=clock)


@pytest.fixture
def store(tmp_path: Path) -> FlakyStore:
    return FlakyStore(open_credential_store(tmp_path, "file"))


@pytest.fixture
async def connected(
    oauth: IntuitOAuthClient, store: FlakyStore, emulator: IntuitOAuthEmulator
) -> TokenRecord:
    """Run the authorization-code flow once and save the result, as `auth quickbooks` does."""
    location = user_approves(await oauth.authorization_url(new_state()))
    tokens = await oauth.exchange_code(parse_redirect(location))
    store.save_qbo_tokens(tokens)
    store.saves = 0
    return tokens


def make_provider(
    oauth: IntuitOAuthClient,
    store: FlakyStore,
    clock: FakeClock,
    realm_id: str,
    environment: str | None = None,
) -> OAuthTokenProvider:
    return OAuthTokenProvider(
        oauth=oauth, store=store, realm_id=realm_id, clock=clock, environment=environment
    )


def userinfo_status(base_url: str, access_token: str) -> int:
    """A protected Intuit resource: 401 unless the bearer token is live (stands in for a QBO call)."""
    response = httpx.get(
        f"{base_url}/v1/openid_connect/userinfo", headers={"Authorization": f"Bearer {access_token}"}
    )
    return response.status_code


def test_provider_implements_the_qbo_client_protocol(oauth: IntuitOAuthClient, store: FlakyStore) -> None:
    provider = OAuthTokenProvider(oauth=oauth, store=store, realm_id="1")
    assert isinstance(provider, TokenProvider)
    assert "secret" not in repr(provider)


async def test_access_token_is_reused_until_five_minutes_before_expiry(
    oauth: IntuitOAuthClient,
    store: FlakyStore,
    clock: FakeClock,
    emulator: IntuitOAuthEmulator,
    connected: TokenRecord,
) -> None:
    provider = make_provider(oauth, store, clock, connected.realm_id)
    assert await provider.access_token() == connected.access_token
    clock.advance(timedelta(minutes=54, seconds=59))
    assert await provider.access_token() == connected.access_token
    assert emulator.token_calls("refresh_token") == 0
    clock.advance(timedelta(seconds=1))
    fresh = await provider.access_token()
    assert fresh != connected.access_token
    assert emulator.token_calls("refresh_token") == 1
    saved = store.load_qbo_tokens(connected.realm_id)
    assert saved is not None
    assert saved.access_token == fresh
    assert saved.access_token_expires_at == clock.now + timedelta(hours=1)


async def test_rotated_refresh_token_is_saved_before_the_new_access_token_is_used(
    oauth: IntuitOAuthClient,
    store: FlakyStore,
    clock: FakeClock,
    emulator: IntuitOAuthEmulator,
    connected: TokenRecord,
) -> None:
    seen_on_save: list[tuple[str, str]] = []
    inner_save = store.save_qbo_tokens

    def recording_save(tokens: TokenRecord) -> None:
        seen_on_save.append((tokens.access_token, tokens.refresh_token))
        inner_save(tokens)

    store.save_qbo_tokens = recording_save  # type: ignore[method-assign]
    provider = make_provider(oauth, store, clock, connected.realm_id)
    clock.advance(timedelta(hours=25))
    handed_out = await provider.access_token()
    rotated = emulator.current_refresh_token()
    assert rotated != connected.refresh_token
    assert seen_on_save == [(handed_out, rotated)]
    saved = store.load_qbo_tokens(connected.realm_id)
    assert saved is not None
    assert saved.refresh_token == rotated
    assert saved.connected_at == connected.connected_at


async def test_refresh_once_after_a_401(
    oauth: IntuitOAuthClient,
    store: FlakyStore,
    clock: FakeClock,
    emulator: IntuitOAuthEmulator,
    base_url: str,
    connected: TokenRecord,
) -> None:
    provider = make_provider(oauth, store, clock, connected.realm_id)
    token = await provider.access_token()
    assert userinfo_status(base_url, token) == 200
    emulator.expire_access_tokens()  # Intuit invalidated it early; our own expiry still says it is fine
    assert userinfo_status(base_url, token) == 401
    replacement = await provider.refresh_after_unauthorized(token)
    assert replacement is not None
    assert replacement != token
    assert userinfo_status(base_url, replacement) == 200
    # Asking again about the same rejected token does not refresh a second time.
    assert await provider.refresh_after_unauthorized(token) == replacement
    assert await provider.access_token() == replacement
    assert emulator.token_calls("refresh_token") == 1


async def test_concurrent_401s_collapse_into_one_token_call(
    oauth: IntuitOAuthClient,
    store: FlakyStore,
    clock: FakeClock,
    emulator: IntuitOAuthEmulator,
    connected: TokenRecord,
) -> None:
    provider = make_provider(oauth, store, clock, connected.realm_id)
    rejected = await provider.access_token()
    emulator.expire_access_tokens()
    results: list[str | None] = []

    async def on_401() -> None:
        results.append(await provider.refresh_after_unauthorized(rejected))

    async with anyio.create_task_group() as group:
        for _ in range(12):
            group.start_soon(on_401)
    assert emulator.token_calls("refresh_token") == 1
    assert len(set(results)) == 1
    assert results[0] not in (None, rejected)


async def test_concurrent_callers_near_expiry_share_one_refresh(
    oauth: IntuitOAuthClient,
    store: FlakyStore,
    clock: FakeClock,
    emulator: IntuitOAuthEmulator,
    connected: TokenRecord,
) -> None:
    provider = make_provider(oauth, store, clock, connected.realm_id)
    clock.advance(timedelta(hours=2))
    results: list[str] = []

    async def call() -> None:
        results.append(await provider.access_token())

    async with anyio.create_task_group() as group:
        for _ in range(12):
            group.start_soon(call)
    assert emulator.token_calls("refresh_token") == 1
    assert store.saves == 1
    assert len(set(results)) == 1


async def test_revoked_connection_requires_reauthorization(
    oauth: IntuitOAuthClient,
    store: FlakyStore,
    clock: FakeClock,
    emulator: IntuitOAuthEmulator,
    connected: TokenRecord,
) -> None:
    provider = make_provider(oauth, store, clock, connected.realm_id)
    emulator.revoke_realm()
    clock.advance(timedelta(hours=1))
    with pytest.raises(ReauthorizationRequired) as caught:
        await provider.access_token()
    assert caught.value.code == "REAUTH"
    assert str(caught.value) == (
        f"QuickBooks no longer accepts the saved refresh token for company {connected.realm_id} "
        f"(it was revoked, expired, or replaced by a newer one). {REAUTH_MESSAGE}"
    )
    saved = store.load_qbo_tokens(connected.realm_id)
    assert saved is not None
    assert saved.refresh_token == connected.refresh_token


async def test_failure_between_receiving_and_saving_never_loses_the_rotated_token(
    oauth: IntuitOAuthClient,
    store: FlakyStore,
    clock: FakeClock,
    emulator: IntuitOAuthEmulator,
    base_url: str,
    connected: TokenRecord,
) -> None:
    provider = make_provider(oauth, store, clock, connected.realm_id)
    clock.advance(timedelta(hours=25))  # the next refresh rotates: the old refresh token dies
    store.fail_next_save = True
    with pytest.raises(ConfigError, match="kept in memory"):
        await provider.access_token()
    rotated = emulator.current_refresh_token()
    assert rotated != connected.refresh_token
    on_disk = store.load_qbo_tokens(connected.realm_id)
    assert on_disk is not None
    assert on_disk.refresh_token == connected.refresh_token

    # The next call saves the pair it is holding first — no second token call, nothing lost.
    token = await provider.access_token()
    assert emulator.token_calls("refresh_token") == 1
    on_disk = store.load_qbo_tokens(connected.realm_id)
    assert on_disk is not None
    assert on_disk.refresh_token == rotated
    assert on_disk.access_token == token
    assert userinfo_status(base_url, token) == 200
    # And the chain goes on from the saved value.
    clock.advance(timedelta(hours=25))
    assert await provider.access_token() != token
    assert emulator.token_calls("refresh_token") == 2


async def test_crash_during_the_file_write_keeps_the_previous_record(
    oauth: IntuitOAuthClient,
    store: FlakyStore,
    clock: FakeClock,
    emulator: IntuitOAuthEmulator,
    tmp_path: Path,
    connected: TokenRecord,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    provider = make_provider(oauth, store, clock, connected.realm_id)
    before = (tmp_path / "credentials.json").read_bytes()

    def power_cut(src: object, dst: object) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(tokens_module.os, "replace", power_cut)
    clock.advance(timedelta(hours=2))
    with pytest.raises(ConfigError, match="Input/output error"):
        await provider.access_token()
    assert (tmp_path / "credentials.json").read_bytes() == before
    assert not [name for name in os.listdir(tmp_path) if name.endswith(".tmp")]
    monkeypatch.undo()
    token = await provider.access_token()
    saved = store.load_qbo_tokens(connected.realm_id)
    assert saved is not None
    assert saved.access_token == token
    assert emulator.token_calls("refresh_token") == 1


async def test_a_token_another_process_rotated_is_adopted_not_refused(
    oauth: IntuitOAuthClient,
    store: FlakyStore,
    clock: FakeClock,
    emulator: IntuitOAuthEmulator,
    connected: TokenRecord,
) -> None:
    server = make_provider(oauth, store, clock, connected.realm_id)
    cli = make_provider(oauth, store, clock, connected.realm_id)
    assert await server.access_token() == connected.access_token
    clock.advance(timedelta(hours=25))
    from_cli = await cli.access_token()  # rotates and saves
    assert emulator.token_calls("refresh_token") == 1
    # The server still holds the superseded refresh token in memory; it must pick up the saved one.
    assert await server.access_token() == from_cli
    assert emulator.token_calls("refresh_token") == 1


async def test_expired_refresh_tokens_need_reauthorization_without_a_token_call(
    oauth: IntuitOAuthClient,
    store: FlakyStore,
    clock: FakeClock,
    emulator: IntuitOAuthEmulator,
    connected: TokenRecord,
) -> None:
    provider = make_provider(oauth, store, clock, connected.realm_id)
    clock.advance(timedelta(days=102))
    with pytest.raises(ReauthorizationRequired, match="100 days without use"):
        await provider.access_token()
    clock.advance(timedelta(days=5 * 365))
    with pytest.raises(ReauthorizationRequired, match="5-year limit"):
        await provider.access_token()
    assert emulator.token_calls("refresh_token") == 0


async def test_missing_connection_and_wrong_environment(
    oauth: IntuitOAuthClient, store: FlakyStore, clock: FakeClock, connected: TokenRecord
) -> None:
    with pytest.raises(ReauthorizationRequired, match="No QuickBooks connection is saved for company 404"):
        await make_provider(oauth, store, clock, "404").access_token()
    with pytest.raises(ConfigError, match="QBO_ENVIRONMENT is production"):
        await make_provider(oauth, store, clock, connected.realm_id, environment="production").access_token()


async def test_qbo_client_refreshes_once_on_401_through_the_provider(
    oauth: IntuitOAuthClient,
    store: FlakyStore,
    clock: FakeClock,
    emulator: IntuitOAuthEmulator,
    connected: TokenRecord,
) -> None:
    """The real QboClient against a QBO stand-in that checks bearer tokens with the OAuth emulator."""
    from paymo_qb_mcp.net.ratelimit import UnlimitedLimiter
    from paymo_qb_mcp.quickbooks import QboClient

    seen: list[str] = []

    def company_api(request: httpx.Request) -> httpx.Response:
        token = request.headers["authorization"].removeprefix("Bearer ")
        seen.append(token)
        if emulator.access_token_realm(token) != connected.realm_id:
            fault = {"error": [{"message": "message=AuthenticationFailed; errorCode=003200", "code": "3200"}]}
            return httpx.Response(401, json={"fault": fault, "time": 1794000000000})
        info = {"Id": "1", "CompanyName": "Northwind Pixel Studio Inc.", "Country": "CA"}
        return httpx.Response(200, json={"CompanyInfo": info, "time": "2026-11-02T01:00:00.000-08:00"})

    provider = make_provider(oauth, store, clock, connected.realm_id)
    async with QboClient(
        base_url="https://sandbox-quickbooks.api.intuit.com",
        realm_id=connected.realm_id,
        token_provider=provider,
        transport=httpx.MockTransport(company_api),
        limiter=UnlimitedLimiter(),
    ) as qbo:
        assert (await qbo.company_info()).CompanyName == "Northwind Pixel Studio Inc."
        emulator.expire_access_tokens()
        assert (await qbo.company_info()).Country == "CA"
    assert seen[0] == seen[1] == connected.access_token
    assert seen[2] != connected.access_token
    assert len(seen) == 3
    assert emulator.token_calls("refresh_token") == 1
    saved = store.load_qbo_tokens(connected.realm_id)
    assert saved is not None
    assert saved.access_token == seen[2]


async def test_an_access_token_another_process_refreshed_is_adopted_without_rotation(
    oauth: IntuitOAuthClient,
    store: FlakyStore,
    clock: FakeClock,
    emulator: IntuitOAuthEmulator,
    connected: TokenRecord,
) -> None:
    server = make_provider(oauth, store, clock, connected.realm_id)
    cli = make_provider(oauth, store, clock, connected.realm_id)
    assert await server.access_token() == connected.access_token
    clock.advance(timedelta(hours=2))  # within the day: Intuit keeps the refresh token's value
    from_cli = await cli.access_token()
    assert emulator.current_refresh_token() == connected.refresh_token
    assert await server.access_token() == from_cli
    assert emulator.token_calls("refresh_token") == 1
