"""The OAuth flow end to end: the real `intuit-oauth` library against the Intuit emulator on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

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
from paymo_qb_mcp.errors import AuthError, ConfigError, ReauthorizationRequired
from paymo_qb_mcp.quickbooks.oauth import (
    ACCOUNTING_SCOPE,
    AuthorizationResponse,
    IntuitOAuthClient,
    OAuthApp,
    new_state,
    parse_redirect,
    verify_state,
)
from paymo_qb_mcp.sandbox.intuit_oauth import IntuitOAuthEmulator

CLIENT_ID = "ABflowclient"
CLIENT_SECRET = "flow-secret"


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
def discovery_url(emulator: IntuitOAuthEmulator, loopback: tuple[SwitchableApp, str]) -> str:
    app, base_url = loopback
    app.target = emulator.app
    return openid_configuration_url(base_url)


@pytest.fixture
def oauth(discovery_url: str, clock: FakeClock) -> IntuitOAuthClient:
    app = OAuthApp(
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        redirect_uri=REDIRECT,
        environment="sandbox",
        discovery_url=discovery_url,
    )
    return IntuitOAuthClient(app, clock=clock)


async def connect(oauth: IntuitOAuthClient) -> AuthorizationResponse:
    state = new_state()
    redirect = user_approves(await oauth.authorization_url(state))
    response = parse_redirect(redirect)
    verify_state(state, response.state)
    return response


async def test_authorization_url_carries_scope_state_and_redirect(oauth: IntuitOAuthClient) -> None:
    url = await oauth.authorization_url("the-state")
    params = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    assert urlsplit(url).path == "/connect/oauth2"
    assert params == {
        "client_id": CLIENT_ID,
        "response_type": "code",
        "scope": ACCOUNTING_SCOPE,
        "redirect_uri": REDIRECT,
        "state": "the-state",
    }


async def test_code_exchange_yields_tokens_with_absolute_expiries(
    oauth: IntuitOAuthClient, emulator: IntuitOAuthEmulator, clock: FakeClock
) -> None:
    response = await connect(oauth)
    tokens = await oauth.exchange_code(response)
    assert tokens.realm_id == emulator.realm_id
    assert tokens.environment == "sandbox"
    assert tokens.client_id == CLIENT_ID
    assert tokens.access_token_expires_at == clock.now + timedelta(hours=1)
    assert tokens.refresh_token_expires_at == clock.now + timedelta(seconds=8726400)
    assert tokens.refresh_token_hard_expires_at == clock.now + timedelta(days=5 * 365)
    assert tokens.connected_at == clock.now
    assert tokens.last_intuit_tid
    assert emulator.access_token_realm(tokens.access_token) == emulator.realm_id
    assert tokens.refresh_token == emulator.current_refresh_token()


async def test_refresh_keeps_the_value_within_a_day_and_rotates_after(
    oauth: IntuitOAuthClient, emulator: IntuitOAuthEmulator, clock: FakeClock
) -> None:
    first = await oauth.exchange_code(await connect(oauth))
    clock.advance(timedelta(hours=3))
    same_day = await oauth.refresh(first)
    assert same_day.refresh_token == first.refresh_token
    assert same_day.access_token != first.access_token
    assert same_day.connected_at == first.connected_at
    assert same_day.access_token_expires_at == clock.now + timedelta(hours=1)
    clock.advance(timedelta(hours=24))
    rotated = await oauth.refresh(same_day)
    assert rotated.refresh_token != first.refresh_token
    # The superseded value is dead: only the newest refresh token works.
    with pytest.raises(ReauthorizationRequired, match="paymo-qb-mcp auth quickbooks"):
        await oauth.refresh(first)
    assert (await oauth.refresh(rotated)).refresh_token == rotated.refresh_token


async def test_revoked_refresh_token_requires_reauthorization(
    oauth: IntuitOAuthClient, emulator: IntuitOAuthEmulator
) -> None:
    tokens = await oauth.exchange_code(await connect(oauth))
    await oauth.revoke(tokens.refresh_token)
    assert emulator.access_token_realm(tokens.access_token) is None
    with pytest.raises(ReauthorizationRequired) as caught:
        await oauth.refresh(tokens)
    assert caught.value.code == "REAUTH"
    assert tokens.refresh_token not in str(caught.value)


async def test_authorization_code_works_once(oauth: IntuitOAuthClient, emulator: IntuitOAuthEmulator) -> None:
    response = await connect(oauth)
    await oauth.exchange_code(response)
    with pytest.raises(AuthError, match="authorization code") as caught:
        await oauth.exchange_code(response)
    assert not isinstance(caught.value, ReauthorizationRequired)
    assert emulator.token_calls("authorization_code") == 2


async def test_state_mismatch_is_rejected_before_any_exchange(
    oauth: IntuitOAuthClient, emulator: IntuitOAuthEmulator
) -> None:
    redirect = user_approves(await oauth.authorization_url(new_state()))
    forged = parse_redirect(redirect)
    with pytest.raises(AuthError, match="does not match"):
        verify_state(new_state(), forged.state)
    with pytest.raises(AuthError, match="does not match"):
        verify_state("expected", "")
    assert emulator.token_calls() == 0


async def test_wrong_client_secret_is_an_auth_error_naming_the_keys(discovery_url: str) -> None:
    app = OAuthApp(
        client_id=CLIENT_ID,
        client_secret="wrong",
        redirect_uri=REDIRECT,
        environment="sandbox",
        discovery_url=discovery_url,
    )
    oauth = IntuitOAuthClient(app)
    response = await connect(oauth)
    with pytest.raises(AuthError, match="invalid_client") as caught:
        await oauth.exchange_code(response)
    assert "wrong" not in str(caught.value)


async def test_tokens_of_another_app_are_a_config_error(oauth: IntuitOAuthClient, discovery_url: str) -> None:
    tokens = await oauth.exchange_code(await connect(oauth))
    other = IntuitOAuthClient(
        OAuthApp(
            client_id="other",
            client_secret="x",
            redirect_uri=REDIRECT,
            environment="sandbox",
            discovery_url=discovery_url,
        )
    )
    with pytest.raises(ConfigError, match="QBO_CLIENT_ID"):
        await other.refresh(tokens)


async def test_unreachable_or_missing_discovery_document(discovery_url: str) -> None:
    from paymo_qb_mcp.errors import Transient

    missing = IntuitOAuthClient(
        OAuthApp(
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            redirect_uri=REDIRECT,
            environment="sandbox",
            discovery_url=discovery_url.replace("openid_configuration", "nothing-here"),
        )
    )
    with pytest.raises(ConfigError, match="not found"):
        await missing.authorization_url("s")
    closed = IntuitOAuthClient(
        OAuthApp(
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            redirect_uri=REDIRECT,
            environment="sandbox",
            discovery_url="http://127.0.0.1:9/.well-known/openid_configuration",
        )
    )
    with pytest.raises(Transient):
        await closed.authorization_url("s")


def test_parse_redirect_reads_full_urls_and_bare_queries() -> None:
    full = parse_redirect("https://example.com/callback?code=C1&state=S1&realmId=42")
    assert (full.code, full.state, full.realm_id) == ("C1", "S1", "42")
    assert parse_redirect("?code=C2&state=S2&realmId=7").realm_id == "7"
    with pytest.raises(AuthError, match="declined"):
        parse_redirect("http://localhost:8765/callback?error=access_denied&state=S")
    with pytest.raises(AuthError, match="realmId"):
        parse_redirect("http://localhost:8765/callback?code=C&state=S")
