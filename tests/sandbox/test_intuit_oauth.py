"""The Intuit OAuth emulator behaves as quickbooks-api.md §11 and §13 items 38–39 describe."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from intuit_oauth_support import REDIRECT, FakeClock, registered_emulator
from paymo_qb_mcp.sandbox.intuit_oauth import (
    AUTHORIZATION_CODE_LIFETIME,
    DEFAULT_REALM_ID,
    REFRESH_TOKEN_HARD_LIFETIME,
    IntuitOAuthEmulator,
    serve_on_loopback,
)

BASE = "https://oauth.emulator.test"
CLIENT_ID = "ABclientid123"
CLIENT_SECRET = "client-secret-xyz"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def emulator(clock: FakeClock) -> IntuitOAuthEmulator:
    return registered_emulator(CLIENT_ID, CLIENT_SECRET, clock)


@pytest.fixture
async def http(emulator: IntuitOAuthEmulator) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=emulator.app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
        yield client


def basic(client_id: str = CLIENT_ID, secret: str = CLIENT_SECRET) -> dict[str, str]:
    token = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {token}", "Accept": "application/json"}


async def authorize(http: httpx.AsyncClient, **overrides: str) -> httpx.Response:
    params = {
        "client_id": CLIENT_ID,
        "response_type": "code",
        "scope": "com.intuit.quickbooks.accounting",
        "redirect_uri": REDIRECT,
        "state": "state-123",
        **overrides,
    }
    return await http.get("/connect/oauth2", params=params)


def redirect_params(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 302
    location = response.headers["location"]
    assert location.startswith(REDIRECT + "?")
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


async def get_code(http: httpx.AsyncClient) -> str:
    return redirect_params(await authorize(http))["code"]


async def exchange(
    http: httpx.AsyncClient, code: str, redirect_uri: str = REDIRECT, headers: dict[str, str] | None = None
) -> httpx.Response:
    return await http.post(
        "/oauth2/v1/tokens/bearer",
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri},
        headers=headers or basic(),
    )


async def refresh(
    http: httpx.AsyncClient, token: str, headers: dict[str, str] | None = None
) -> httpx.Response:
    return await http.post(
        "/oauth2/v1/tokens/bearer",
        data={"grant_type": "refresh_token", "refresh_token": token},
        headers=headers or basic(),
    )


async def test_discovery_document_points_at_the_emulator(http: httpx.AsyncClient) -> None:
    for path in ("/.well-known/openid_configuration/", "/.well-known/openid_sandbox_configuration"):
        response = await http.get(path)
        assert response.status_code == 200
        document = response.json()
        assert document["authorization_endpoint"] == f"{BASE}/connect/oauth2"
        assert document["token_endpoint"] == f"{BASE}/oauth2/v1/tokens/bearer"
        assert document["revocation_endpoint"] == f"{BASE}/v2/oauth2/tokens/revoke"
        assert document["userinfo_endpoint"] == f"{BASE}/v1/openid_connect/userinfo"
        assert document["issuer"] == f"{BASE}/op/v1"
        assert document["jwks_uri"] == f"{BASE}/op/v1/jwks"
        assert "client_secret_basic" in document["token_endpoint_auth_methods_supported"]


async def test_authorize_redirects_with_code_state_and_realm(http: httpx.AsyncClient) -> None:
    params = redirect_params(await authorize(http))
    assert params["state"] == "state-123"
    assert params["realmId"] == DEFAULT_REALM_ID
    assert params["code"]


async def test_authorize_refuses_unregistered_redirect_without_redirecting(http: httpx.AsyncClient) -> None:
    response = await authorize(http, redirect_uri="http://evil.example/callback")
    assert response.status_code == 400
    assert "location" not in response.headers
    unknown_client = await authorize(http, client_id="nope")
    assert unknown_client.status_code == 400


async def test_authorize_reports_bad_scope_and_user_refusal_on_the_redirect(
    http: httpx.AsyncClient, emulator: IntuitOAuthEmulator
) -> None:
    assert redirect_params(await authorize(http, scope="com.intuit.nothing"))["error"] == "invalid_scope"
    emulator.consent = "deny"
    denied = redirect_params(await authorize(http))
    assert denied == {"error": "access_denied", "state": "state-123"}


async def test_code_exchange_returns_intuit_token_response(http: httpx.AsyncClient) -> None:
    response = await exchange(http, await get_code(http))
    assert response.status_code == 200
    assert response.headers["intuit_tid"]
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 3600
    assert body["x_refresh_token_expires_in"] == 8726400
    assert body["access_token"]
    assert body["refresh_token"]
    assert "x_refresh_token_hard_expires_in" not in body


async def test_hard_expiry_only_with_the_opt_in_header(http: httpx.AsyncClient, clock: FakeClock) -> None:
    headers = {**basic(), "x-include-refresh-token-hard-expires-in": "true"}
    body = (await exchange(http, await get_code(http), headers=headers)).json()
    assert body["x_refresh_token_hard_expires_in"] == int(REFRESH_TOKEN_HARD_LIFETIME.total_seconds())
    clock.advance(timedelta(days=1))
    refreshed = (await refresh(http, body["refresh_token"], headers=headers)).json()
    assert refreshed["x_refresh_token_hard_expires_in"] == int(
        (REFRESH_TOKEN_HARD_LIFETIME - timedelta(days=1)).total_seconds()
    )


async def test_authorization_code_is_single_use_and_reuse_revokes_its_grant(
    http: httpx.AsyncClient, emulator: IntuitOAuthEmulator
) -> None:
    code = await get_code(http)
    first = (await exchange(http, code)).json()
    second = await exchange(http, code)
    assert second.status_code == 400
    assert second.json()["error"] == "invalid_grant"
    assert emulator.access_token_realm(first["access_token"]) is None
    assert (await refresh(http, first["refresh_token"])).json()["error"] == "invalid_grant"


async def test_code_expires_and_needs_the_same_redirect_uri(
    http: httpx.AsyncClient, clock: FakeClock
) -> None:
    code = await get_code(http)
    clock.advance(AUTHORIZATION_CODE_LIFETIME)
    assert (await exchange(http, code)).json()["error"] == "invalid_grant"
    fresh = await get_code(http)
    assert (await exchange(http, fresh, redirect_uri="http://localhost:9999/other")).status_code == 400


async def test_wrong_client_secret_is_invalid_client(http: httpx.AsyncClient) -> None:
    response = await exchange(http, await get_code(http), headers=basic(secret="wrong"))
    assert response.status_code == 401
    assert response.json() == {"error": "invalid_client"}


async def test_refresh_rotates_at_the_cadence_and_refuses_superseded_tokens(
    http: httpx.AsyncClient, emulator: IntuitOAuthEmulator, clock: FakeClock
) -> None:
    first = (await exchange(http, await get_code(http))).json()
    clock.advance(timedelta(hours=2))
    same_day = (await refresh(http, first["refresh_token"])).json()
    assert same_day["refresh_token"] == first["refresh_token"]
    assert same_day["access_token"] != first["access_token"]
    clock.advance(timedelta(hours=23))
    next_day = (await refresh(http, first["refresh_token"])).json()
    assert next_day["refresh_token"] != first["refresh_token"]
    assert emulator.current_refresh_token() == next_day["refresh_token"]
    superseded = await refresh(http, first["refresh_token"])
    assert superseded.status_code == 400
    assert superseded.json()["error"] == "invalid_grant"
    assert (await refresh(http, next_day["refresh_token"])).status_code == 200


async def test_refresh_token_expires_after_100_days_idle(http: httpx.AsyncClient, clock: FakeClock) -> None:
    first = (await exchange(http, await get_code(http))).json()
    clock.advance(timedelta(seconds=8726400))
    assert (await refresh(http, first["refresh_token"])).json()["error"] == "invalid_grant"


async def test_access_tokens_expire_after_an_hour(
    http: httpx.AsyncClient, emulator: IntuitOAuthEmulator, clock: FakeClock
) -> None:
    token = (await exchange(http, await get_code(http))).json()["access_token"]
    assert emulator.access_token_realm(token) == DEFAULT_REALM_ID
    clock.advance(timedelta(seconds=3599))
    assert emulator.access_token_realm(token) == DEFAULT_REALM_ID
    clock.advance(timedelta(seconds=1))
    assert emulator.access_token_realm(token) is None
    assert emulator.access_token_realm("made-up") is None


async def test_refresh_with_another_apps_credentials_is_refused(
    http: httpx.AsyncClient, emulator: IntuitOAuthEmulator
) -> None:
    emulator.register_app(client_id="other", client_secret="other-secret", redirect_uris=[REDIRECT])
    first = (await exchange(http, await get_code(http))).json()
    response = await refresh(http, first["refresh_token"], headers=basic("other", "other-secret"))
    assert response.json() == {
        "error": "invalid_grant",
        "error_description": "Incorrect Token type or clientID",
    }


async def test_revoke_disconnects_the_grant(http: httpx.AsyncClient, emulator: IntuitOAuthEmulator) -> None:
    first = (await exchange(http, await get_code(http))).json()
    response = await http.post(
        "/v2/oauth2/tokens/revoke",
        json={"token": first["refresh_token"]},
        headers=basic(),
    )
    assert response.status_code == 200
    assert response.content == b""
    assert emulator.access_token_realm(first["access_token"]) is None
    assert (await refresh(http, first["refresh_token"])).json()["error"] == "invalid_grant"


async def test_userinfo_needs_a_live_access_token(http: httpx.AsyncClient) -> None:
    first = (await exchange(http, await get_code(http))).json()
    ok = await http.get(
        "/v1/openid_connect/userinfo", headers={"Authorization": f"Bearer {first['access_token']}"}
    )
    assert ok.status_code == 200
    assert (
        await http.get("/v1/openid_connect/userinfo", headers={"Authorization": "Bearer x"})
    ).status_code == 401


async def test_token_calls_are_counted_by_grant_type(
    http: httpx.AsyncClient, emulator: IntuitOAuthEmulator
) -> None:
    first = (await exchange(http, await get_code(http))).json()
    await refresh(http, first["refresh_token"])
    assert emulator.token_calls("authorization_code") == 1
    assert emulator.token_calls("refresh_token") == 1
    assert emulator.token_calls() == 2


def test_serve_on_loopback_answers_on_127_0_0_1(emulator: IntuitOAuthEmulator) -> None:
    with serve_on_loopback(emulator.app) as base_url:
        assert base_url.startswith("http://127.0.0.1:")
        document = httpx.get(f"{base_url}/.well-known/openid_configuration").json()
        assert document["token_endpoint"] == f"{base_url}/oauth2/v1/tokens/bearer"
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{base_url}/.well-known/openid_configuration")
