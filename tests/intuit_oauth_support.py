"""What the tests of the QuickBooks OAuth flow share: a clock tests move by hand, Intuit's emulator with an
app registered, one loopback server per module that each test plugs its own emulator into, the user's
approval in the browser, and a process environment cleared of the settings' variables.

Import it from any test (``tests/`` is on ``sys.path`` through the rootdir conftest):
``from intuit_oauth_support import FakeClock, ...``. It uses the sandbox only, never the product.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from paymo_qb_mcp.sandbox.intuit_oauth import IntuitOAuthEmulator, serve_on_loopback

REDIRECT = "http://localhost:8765/callback"
START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)

# Every variable `load_settings` reads: a test clears them so the developer's own never leak in.
SETTINGS_VARIABLES = (
    "PAYMO_QB_CONFIG",
    "PAYMO_API_KEY",
    "PAYMO_BASE_URL",
    "QBO_REALM_ID",
    "QBO_ENVIRONMENT",
    "QBO_BASE_URL",
    "QBO_ACCESS_TOKEN",
    "QBO_CLIENT_ID",
    "QBO_CLIENT_SECRET",
    "QBO_REDIRECT_URI",
    "PAYMO_QB_TOKEN_STORE",
    "PAYMO_QB_DATA_DIR",
    "PAYMO_QB_POLICY",
    "PAYMO_QB_HTTP_TOKEN",
)


class FakeClock:
    """An aware ``now()`` that only moves when a test says so."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


def registered_emulator(
    client_id: str, client_secret: str, clock: FakeClock, *, redirect_uri: str = REDIRECT
) -> IntuitOAuthEmulator:
    """Intuit's OAuth service on ``clock``, rotating refresh tokens daily, with one app registered."""
    emulator = IntuitOAuthEmulator(clock=clock, rotation_cadence=timedelta(hours=24))
    emulator.register_app(client_id=client_id, client_secret=client_secret, redirect_uris=[redirect_uri])
    return emulator


class SwitchableApp:
    """The ASGI app a loopback server runs: whichever emulator the current test plugged in."""

    def __init__(self) -> None:
        self.target: Any = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.target(scope, receive, send)


@contextmanager
def switchable_loopback() -> Iterator[tuple[SwitchableApp, str]]:
    """One loopback server (starting uvicorn per test is slow) and its base URL; set ``app.target``."""
    app = SwitchableApp()
    with serve_on_loopback(app) as base_url:
        yield app, base_url


def openid_configuration_url(base_url: str) -> str:
    """Where the emulator served at ``base_url`` publishes its OpenID configuration."""
    return f"{base_url}/.well-known/openid_configuration"


def user_approves(authorization_url: str) -> str:
    """What the browser does: follow the authorization URL to Intuit's redirect, return where it points."""
    response = httpx.get(authorization_url, follow_redirects=False)
    assert response.status_code == 302
    location: str = response.headers["location"]
    return location


def clear_settings_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in SETTINGS_VARIABLES:
        monkeypatch.delenv(name, raising=False)
