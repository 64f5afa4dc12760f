"""`paymo-qb-mcp auth`: the QuickBooks OAuth flow through the real listener (or a pasted URL) against the
Intuit emulator, the Paymo key check, and revocation — with nothing secret ever printed."""

from __future__ import annotations

import os
import re
import socket
import stat
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import anyio
import httpx
import pytest
import respx

from intuit_oauth_support import (
    SwitchableApp,
    clear_settings_variables,
    openid_configuration_url,
    switchable_loopback,
)
from paymo_qb_mcp.cli import main
from paymo_qb_mcp.cli.auth_cmd import open_store, qbo_token_provider
from paymo_qb_mcp.config.settings import load_settings
from paymo_qb_mcp.sandbox.intuit_oauth import IntuitOAuthEmulator
from paymo_qb_mcp.store.tokens import open_credential_store

CLIENT_ID = "ABcliclient"
CLIENT_SECRET = "cli-client-secret-value"
PAYMO_KEY = "paymo-api-key-value-0123"


@pytest.fixture(scope="module")
def loopback() -> Iterator[tuple[SwitchableApp, str]]:
    with switchable_loopback() as served:
        yield served


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def redirect_uri() -> str:
    return f"http://localhost:{free_port()}/callback"


@pytest.fixture
def emulator(loopback: tuple[SwitchableApp, str], redirect_uri: str) -> IntuitOAuthEmulator:
    emulator = IntuitOAuthEmulator()
    emulator.register_app(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, redirect_uris=[redirect_uri])
    loopback[0].target = emulator.app
    return emulator


@pytest.fixture
def discovery_url(loopback: tuple[SwitchableApp, str]) -> str:
    return openid_configuration_url(loopback[1])


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, redirect_uri: str) -> Path:
    clear_settings_variables(monkeypatch)
    directory = tmp_path / "data"
    monkeypatch.setenv("PAYMO_QB_DATA_DIR", str(directory))
    monkeypatch.setenv("PAYMO_QB_TOKEN_STORE", "file")
    monkeypatch.setenv("QBO_ENVIRONMENT", "sandbox")
    monkeypatch.setenv("QBO_REDIRECT_URI", redirect_uri)
    monkeypatch.setenv("QBO_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("QBO_CLIENT_SECRET", CLIENT_SECRET)
    return directory


class Browser:
    """Stands in for the user's browser: follows the link (to Intuit, then to the redirect) in a thread."""

    def __init__(self, tamper: Callable[[str], str] = lambda url: url) -> None:
        self.tamper = tamper
        self.pages: list[httpx.Response] = []
        self.threads: list[threading.Thread] = []

    def open(self, url: str, *args: Any, **kwargs: Any) -> bool:
        def visit() -> None:
            self.pages.append(httpx.get(self.tamper(url), follow_redirects=True, timeout=10))

        thread = threading.Thread(target=visit)
        thread.start()
        self.threads.append(thread)
        return True

    def wait(self) -> None:
        for thread in self.threads:
            thread.join(timeout=10)


@pytest.fixture
def browser(monkeypatch: pytest.MonkeyPatch) -> Browser:
    browser = Browser()
    monkeypatch.setattr("webbrowser.open", browser.open)
    return browser


def credentials_text(data_dir: Path) -> str:
    return (data_dir / "credentials.json").read_text()


def assert_no_secret(text: str, *secrets: str) -> None:
    for secret in secrets:
        assert secret not in text


def test_auth_quickbooks_catches_the_redirect_and_stores_tokens(
    data_dir: Path,
    emulator: IntuitOAuthEmulator,
    discovery_url: str,
    browser: Browser,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["auth", "quickbooks", "--discovery-url", discovery_url]) == 0
    browser.wait()
    out, err = capsys.readouterr()
    assert f"Connected QuickBooks company {emulator.realm_id} (sandbox)." in out
    assert "reconnect by" in out
    assert f"QBO_REALM_ID={emulator.realm_id}" in out
    assert browser.pages[0].status_code == 200
    assert "Authorization received" in browser.pages[0].text

    store = open_credential_store(data_dir, "file")
    tokens = store.load_qbo_tokens(emulator.realm_id)
    assert tokens is not None
    assert tokens.refresh_token == emulator.current_refresh_token()
    assert emulator.access_token_realm(tokens.access_token) == emulator.realm_id
    assert tokens.refresh_token_hard_expires_at is not None
    app = store.load_qbo_app("sandbox")
    assert app is not None
    assert app.discovery_url == discovery_url
    assert_no_secret(out + err, tokens.access_token, tokens.refresh_token, CLIENT_SECRET)
    if os.name == "posix":
        assert stat.S_IMODE((data_dir / "credentials.json").stat().st_mode) == 0o600


def test_auth_quickbooks_paste_mode_reads_the_redirect_url(
    data_dir: Path,
    emulator: IntuitOAuthEmulator,
    discovery_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    def paste(prompt: str = "") -> str:
        printed = capsys.readouterr().out
        link = re.search(r"^\s+(http\S+/connect/oauth2\?\S+)$", printed, re.MULTILINE)
        assert link is not None
        # The user follows the link; with production keys the redirect page may not even load.
        return httpx.get(link.group(1)).headers["location"]

    monkeypatch.setattr("builtins.input", paste)
    assert main(["auth", "quickbooks", "--paste", "--no-browser", "--discovery-url", discovery_url]) == 0
    assert "Connected QuickBooks company" in capsys.readouterr().out
    assert open_credential_store(data_dir, "file").load_qbo_tokens(emulator.realm_id) is not None


def test_auth_quickbooks_rejects_a_state_mismatch(
    data_dir: Path,
    emulator: IntuitOAuthEmulator,
    discovery_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    def forge_state(url: str) -> str:
        parts = urlsplit(url)
        params = {k: v[0] for k, v in parse_qs(parts.query).items()}
        params["state"] = "attacker-chosen-state"
        return urlunsplit(parts._replace(query=urlencode(params)))

    browser = Browser(tamper=forge_state)
    monkeypatch.setattr("webbrowser.open", browser.open)
    assert main(["auth", "quickbooks", "--discovery-url", discovery_url]) == 1
    browser.wait()
    err = capsys.readouterr().err
    assert "does not match" in err
    assert browser.pages[0].status_code == 400
    assert emulator.token_calls() == 0
    assert open_credential_store(data_dir, "file").qbo_realms() == []


def test_auth_quickbooks_reports_a_declined_consent(
    data_dir: Path,
    emulator: IntuitOAuthEmulator,
    discovery_url: str,
    browser: Browser,
    capsys: pytest.CaptureFixture[str],
) -> None:
    emulator.consent = "deny"
    assert main(["auth", "quickbooks", "--discovery-url", discovery_url]) == 1
    browser.wait()
    assert "declined (access_denied)" in capsys.readouterr().err


def test_auth_quickbooks_gives_up_after_the_timeout(
    data_dir: Path,
    emulator: IntuitOAuthEmulator,
    discovery_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr("webbrowser.open", lambda url, *a, **k: True)  # the user never clicks
    assert main(["auth", "quickbooks", "--timeout", "0.2", "--discovery-url", discovery_url]) == 1
    assert "No redirect reached" in capsys.readouterr().err


def test_auth_quickbooks_needs_paste_for_a_remote_redirect_uri(
    data_dir: Path,
    emulator: IntuitOAuthEmulator,
    discovery_url: str,
    browser: Browser,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("QBO_REDIRECT_URI", "https://app.example.com/qbo/callback")
    assert main(["auth", "quickbooks", "--no-browser", "--discovery-url", discovery_url]) == 1
    assert "--paste" in capsys.readouterr().err


def test_auth_quickbooks_asks_for_missing_keys_hiding_the_secret_and_remembers_them(
    data_dir: Path,
    emulator: IntuitOAuthEmulator,
    discovery_url: str,
    browser: Browser,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("QBO_CLIENT_ID")
    monkeypatch.delenv("QBO_CLIENT_SECRET")
    asked: list[str] = []

    def visible(prompt: str = "") -> str:
        asked.append(f"visible:{prompt}")
        return CLIENT_ID

    def hidden(prompt: str = "") -> str:
        asked.append(f"hidden:{prompt}")
        return CLIENT_SECRET

    monkeypatch.setattr("builtins.input", visible)
    monkeypatch.setattr("getpass.getpass", hidden)
    assert main(["auth", "quickbooks", "--discovery-url", discovery_url]) == 0
    assert asked == ["visible:Client ID: ", "hidden:Client secret (input hidden): "]
    asked.clear()
    assert main(["auth", "quickbooks", "--discovery-url", discovery_url]) == 0
    browser.wait()
    assert asked == []
    assert "Using the sandbox client id saved earlier" in capsys.readouterr().out


def test_saved_app_keys_let_the_server_refresh_without_client_variables(
    data_dir: Path,
    emulator: IntuitOAuthEmulator,
    discovery_url: str,
    browser: Browser,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert main(["auth", "quickbooks", "--discovery-url", discovery_url]) == 0
    browser.wait()
    monkeypatch.delenv("QBO_CLIENT_ID")
    monkeypatch.delenv("QBO_CLIENT_SECRET")
    settings = load_settings()
    provider = qbo_token_provider(settings, open_store(settings), emulator.realm_id)

    async def refresh_after_401() -> tuple[str, str | None]:
        token = await provider.access_token()
        emulator.expire_access_tokens()
        return token, await provider.refresh_after_unauthorized(token)

    old, new = anyio.run(refresh_after_401)
    assert new is not None
    assert new != old
    assert emulator.access_token_realm(new) == emulator.realm_id


def test_auth_revoke_quickbooks_disconnects_at_intuit_and_forgets_tokens(
    data_dir: Path,
    emulator: IntuitOAuthEmulator,
    discovery_url: str,
    browser: Browser,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["auth", "quickbooks", "--discovery-url", discovery_url]) == 0
    browser.wait()
    tokens = open_credential_store(data_dir, "file").load_qbo_tokens(emulator.realm_id)
    assert tokens is not None
    assert main(["auth", "revoke", "quickbooks"]) == 0
    assert "Revoked the connection" in capsys.readouterr().out
    assert emulator.access_token_realm(tokens.access_token) is None
    assert emulator.current_refresh_token() is None
    assert open_credential_store(data_dir, "file").qbo_realms() == []


@respx.mock
def test_auth_paymo_verifies_and_stores_the_key(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    me = respx.get("https://app.paymoapp.com/api/me").respond(
        json={"users": [{"id": 1, "name": "Alice Tremblay", "email": "alice@northwind.example"}]}
    )
    respx.get("https://app.paymoapp.com/api/company").respond(
        json={"company": [{"id": 7, "name": "Northwind Pixel Studio"}]}
    )
    monkeypatch.setattr("getpass.getpass", lambda prompt="": PAYMO_KEY)
    assert main(["auth", "paymo"]) == 0
    out, err = capsys.readouterr()
    assert (
        "Paymo API key verified: Alice Tremblay <alice@northwind.example> at Northwind Pixel Studio." in out
    )
    assert_no_secret(out + err, PAYMO_KEY)
    assert me.calls.last.request.headers["authorization"].startswith("Basic ")
    stored = open_credential_store(data_dir, "file").load_paymo()
    assert stored is not None
    assert stored.api_key == PAYMO_KEY
    assert stored.user_name == "Alice Tremblay"
    assert main(["auth", "revoke", "paymo"]) == 0
    assert open_credential_store(data_dir, "file").load_paymo() is None


@respx.mock
def test_auth_paymo_refuses_a_bad_key_and_stores_nothing(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    respx.get("https://app.paymoapp.com/api/me").respond(401, json={"message": "Unauthorized"})
    monkeypatch.setenv("PAYMO_API_KEY", PAYMO_KEY)
    assert main(["auth", "paymo"]) == 1
    out, err = capsys.readouterr()
    assert "API key was refused" in err
    assert_no_secret(out + err, PAYMO_KEY)
    assert not (data_dir / "credentials.json").exists()
