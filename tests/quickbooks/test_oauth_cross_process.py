"""Token refresh across processes: several real processes sharing one credential store race to refresh the
same QuickBooks token against the emulated Intuit token endpoint — exactly one refresh call is made, every
process ends with the same live access token, and the stored refresh token is the one Intuit accepts."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from intuit_oauth_support import (
    REDIRECT,
    FakeClock,
    openid_configuration_url,
    registered_emulator,
    user_approves,
)
from paymo_qb_mcp.quickbooks.oauth import IntuitOAuthClient, OAuthApp, new_state, parse_redirect
from paymo_qb_mcp.sandbox.intuit_oauth import IntuitOAuthEmulator, serve_on_loopback
from paymo_qb_mcp.store.tokens import open_credential_store

CLIENT_ID = "ABraceclient"
CLIENT_SECRET = "race-secret"
PROCESSES = 4

# One process: the server, `doctor`, a second server... each with its own provider on the shared store.
# It says "ready" once built, waits for "go" so that all of them ask for a token at the same moment,
# and prints the access token it ended with (or the error).
CHILD = textwrap.dedent(
    """
    import sys
    from datetime import datetime
    from pathlib import Path

    import anyio

    from paymo_qb_mcp.quickbooks.oauth import IntuitOAuthClient, OAuthApp, OAuthTokenProvider
    from paymo_qb_mcp.store.tokens import open_credential_store

    data_dir, discovery, realm_id, now, client_id, client_secret, redirect = sys.argv[1:8]
    moment = datetime.fromisoformat(now)

    def clock():
        return moment

    app = OAuthApp(
        client_id=client_id,
        client_secret=client_secret,
        redirect_uri=redirect,
        environment="sandbox",
        discovery_url=discovery,
    )
    provider = OAuthTokenProvider(
        oauth=IntuitOAuthClient(app, clock=clock),
        store=open_credential_store(Path(data_dir), "file"),
        realm_id=realm_id,
        environment="sandbox",
        clock=clock,
    )
    print("ready", flush=True)
    sys.stdin.readline()
    try:
        print("token", anyio.run(provider.access_token), flush=True)
    except Exception as exc:
        print("error", type(exc).__name__, exc, flush=True)
    """
)


class SlowTokenEndpoint:
    """The emulator, with each token call held a moment: every racer is inside its refresh before the first
    answer comes back, which is when two of them spend the same refresh token."""

    def __init__(self, emulator: IntuitOAuthEmulator) -> None:
        self.emulator = emulator

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"].endswith("/tokens/bearer"):
            await asyncio.sleep(0.4)
        await self.emulator.app(scope, receive, send)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def emulator(clock: FakeClock) -> IntuitOAuthEmulator:
    return registered_emulator(CLIENT_ID, CLIENT_SECRET, clock)


@pytest.fixture
def base_url(emulator: IntuitOAuthEmulator) -> Iterator[str]:
    with serve_on_loopback(SlowTokenEndpoint(emulator)) as url:
        yield url


async def connect(base_url: str, clock: FakeClock, data_dir: Path) -> str:
    """`auth quickbooks`: the authorization-code flow once, its tokens saved in the file store."""
    app = OAuthApp(
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        redirect_uri=REDIRECT,
        environment="sandbox",
        discovery_url=openid_configuration_url(base_url),
    )
    oauth = IntuitOAuthClient(app, clock=clock)
    location = user_approves(await oauth.authorization_url(new_state()))
    tokens = await oauth.exchange_code(parse_redirect(location))
    open_credential_store(data_dir, "file").save_qbo_tokens(tokens)
    return tokens.refresh_token


def race(data_dir: Path, base_url: str, realm_id: str, clock: FakeClock) -> list[list[str]]:
    arguments = [
        str(data_dir),
        openid_configuration_url(base_url),
        realm_id,
        clock.now.isoformat(),
        CLIENT_ID,
        CLIENT_SECRET,
        REDIRECT,
    ]
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, *arguments],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(PROCESSES)
    ]
    try:
        for racer in racers:
            assert racer.stdout is not None
            assert racer.stdout.readline().strip() == "ready"
        for racer in racers:
            assert racer.stdin is not None
            racer.stdin.write("go\n")
            racer.stdin.flush()
        return [racer.communicate(timeout=120)[0].split() for racer in racers]
    finally:
        for racer in racers:
            if racer.poll() is None:
                racer.kill()
                racer.wait()


@pytest.mark.slow
@pytest.mark.parametrize(
    "later",
    [
        pytest.param(timedelta(hours=25), id="refresh-token-rotates"),
        pytest.param(timedelta(hours=2), id="refresh-token-kept"),
    ],
)
async def test_processes_racing_to_refresh_make_one_call_and_keep_a_live_token(
    emulator: IntuitOAuthEmulator, clock: FakeClock, base_url: str, tmp_path: Path, later: timedelta
) -> None:
    first_refresh_token = await connect(base_url, clock, tmp_path)
    clock.advance(later)  # every process now finds the access token stale and wants to refresh

    outputs = await asyncio.to_thread(race, tmp_path, base_url, emulator.realm_id, clock)

    assert [output[0] for output in outputs] == ["token"] * PROCESSES, outputs
    tokens = {output[1] for output in outputs}
    assert len(tokens) == 1, "every process uses the one refresh's result"
    assert emulator.token_calls("refresh_token") == 1
    (token,) = tokens
    assert emulator.access_token_realm(token) == emulator.realm_id
    stored = open_credential_store(tmp_path, "file").load_qbo_tokens(emulator.realm_id)
    assert stored is not None
    assert stored.access_token == token
    assert stored.refresh_token == emulator.current_refresh_token()
    rotated = later >= timedelta(hours=24)
    assert (stored.refresh_token != first_refresh_token) is rotated


async def test_a_refresh_lock_held_too_long_is_a_transient_error_not_a_second_refresh(
    emulator: IntuitOAuthEmulator, clock: FakeClock, base_url: str, tmp_path: Path
) -> None:
    from paymo_qb_mcp.errors import Transient
    from paymo_qb_mcp.quickbooks.oauth import OAuthTokenProvider

    await connect(base_url, clock, tmp_path)
    store = open_credential_store(tmp_path, "file")
    app = OAuthApp(
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        redirect_uri=REDIRECT,
        environment="sandbox",
        discovery_url=openid_configuration_url(base_url),
    )
    provider = OAuthTokenProvider(
        oauth=IntuitOAuthClient(app, clock=clock),
        store=store,
        realm_id=emulator.realm_id,
        clock=clock,
        refresh_lock_timeout_s=0.2,
    )
    clock.advance(timedelta(hours=2))
    stuck = store.qbo_refresh_lock(emulator.realm_id)  # another process, stuck mid-refresh
    stuck.acquire()
    try:
        with pytest.raises(Transient, match="still holds the refresh lock"):
            await provider.access_token()
    finally:
        stuck.release()
    assert emulator.token_calls("refresh_token") == 0
    await provider.access_token()
    assert emulator.token_calls("refresh_token") == 1
