"""The `auth` command: connect a QuickBooks company (OAuth, caught on a localhost listener or pasted),
connect a Paymo account (API key, verified first), and revoke either. Credentials go to the token store;
tokens and keys are never printed."""

from __future__ import annotations

import argparse
import errno
import getpass
import html
import socket
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from paymo_qb_mcp.errors import AuthError, ConfigError, PaymoQbError

if TYPE_CHECKING:
    from paymo_qb_mcp.config.settings import Settings
    from paymo_qb_mcp.quickbooks.oauth import OAuthApp, OAuthTokenProvider
    from paymo_qb_mcp.store.tokens import CredentialStore, QboAppCredentials

DEFAULT_CALLBACK_TIMEOUT_S = 300.0
LOOPBACK_HOSTS = {"localhost": ("127.0.0.1", "::1"), "127.0.0.1": ("127.0.0.1",), "::1": ("::1",)}


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "auth",
        help="connect your QuickBooks company or Paymo account",
        description="Connect (or disconnect) the accounts paymo-qb-mcp works with. See docs/connect.md.",
    )
    services = parser.add_subparsers(dest="service", metavar="SERVICE", required=True)

    quickbooks = services.add_parser(
        "quickbooks",
        help="connect a QuickBooks Online company (OAuth 2.0)",
        description=(
            "Opens Intuit's consent page, catches the redirect on the local listener named by "
            "QBO_REDIRECT_URI (or takes the pasted redirect URL), and stores the tokens."
        ),
    )
    quickbooks.add_argument(
        "--environment",
        choices=("sandbox", "production"),
        help="which key set: sandbox (Development keys) or production (default: QBO_ENVIRONMENT)",
    )
    quickbooks.add_argument("--no-browser", action="store_true", help="print the link instead of opening it")
    quickbooks.add_argument(
        "--paste",
        action="store_true",
        help="paste the URL the browser lands on, instead of listening on localhost "
        "(needed for production keys, whose redirect URI must be HTTPS)",
    )
    quickbooks.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_CALLBACK_TIMEOUT_S,
        metavar="SECONDS",
        help="how long to wait for the redirect (default: %(default)s)",
    )
    quickbooks.add_argument(
        "--discovery-url",
        metavar="URL",
        help="an OAuth discovery document to use instead of Intuit's (to rehearse against a local emulator)",
    )

    services.add_parser(
        "paymo",
        help="store a Paymo API key (verified with a call to Paymo first)",
        description="Reads PAYMO_API_KEY or asks for the key, checks it with GET /api/me, and stores it.",
    )

    revoke = services.add_parser(
        "revoke",
        help="disconnect: revoke QuickBooks tokens at Intuit, or forget the Paymo key",
        description="Revokes the QuickBooks refresh token at Intuit and deletes it here, "
        "or deletes the Paymo key.",
    )
    revoke.add_argument("target", choices=("quickbooks", "paymo"))
    revoke.add_argument("--realm", metavar="ID", help="the QuickBooks company id (default: QBO_REALM_ID)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    handlers: dict[str, Callable[[argparse.Namespace], int]] = {
        "quickbooks": _run_quickbooks,
        "paymo": _run_paymo,
        "revoke": _run_revoke,
    }
    try:
        return handlers[args.service](args)
    except PaymoQbError as exc:
        print(f"paymo-qb-mcp auth {args.service}: {exc}", file=sys.stderr)
        return 1
    except (KeyboardInterrupt, EOFError):
        print(f"\npaymo-qb-mcp auth {args.service}: cancelled; nothing was stored.", file=sys.stderr)
        return 130


# ---------------------------------------------------------------------- shared wiring


def open_store(settings: Settings) -> CredentialStore:
    """The credential store PAYMO_QB_DATA_DIR and PAYMO_QB_TOKEN_STORE point at."""
    from paymo_qb_mcp.store.tokens import open_credential_store

    return open_credential_store(settings.ensure_data_dir(), settings.token_store)


def resolve_oauth_app(settings: Settings, store: CredentialStore, environment: str) -> OAuthApp | None:
    """The Intuit app to refresh tokens with: QBO_CLIENT_ID/SECRET if set, else the keys `auth` saved."""
    from paymo_qb_mcp.quickbooks.oauth import OAuthApp

    stored = store.load_qbo_app(environment)
    if settings.qbo_client_id and settings.qbo_client_secret:
        same_app = stored is not None and stored.client_id == settings.qbo_client_id
        return OAuthApp(
            client_id=settings.qbo_client_id,
            client_secret=settings.qbo_client_secret.get_secret_value(),
            redirect_uri=settings.qbo_redirect_uri,
            environment=environment,
            discovery_url=stored.discovery_url if same_app and stored else None,
        )
    if stored is None:
        return None
    return OAuthApp(
        client_id=stored.client_id,
        client_secret=stored.client_secret,
        redirect_uri=stored.redirect_uri,
        environment=environment,
        discovery_url=stored.discovery_url,
    )


def qbo_token_provider(settings: Settings, store: CredentialStore, realm_id: str) -> OAuthTokenProvider:
    """A refreshing token provider for `realm_id`, from the settings and what `auth quickbooks` saved."""
    from paymo_qb_mcp.quickbooks.oauth import IntuitOAuthClient, OAuthTokenProvider

    app = resolve_oauth_app(settings, store, settings.qbo_environment)
    if app is None:
        raise ConfigError(
            f"No Intuit app keys for the {settings.qbo_environment} environment: set QBO_CLIENT_ID and "
            "QBO_CLIENT_SECRET, or run `paymo-qb-mcp auth quickbooks` (it saves them)."
        )
    return OAuthTokenProvider(
        oauth=IntuitOAuthClient(app),
        store=store,
        realm_id=realm_id,
        environment=settings.qbo_environment,
    )


def _load_settings() -> Settings:
    from paymo_qb_mcp.config.settings import load_settings

    return load_settings()


def _ask(prompt: str, *, secret: bool = False) -> str:
    answer = (getpass.getpass(prompt) if secret else input(prompt)).strip()
    if not answer:
        raise ConfigError(f"Nothing entered for {prompt.strip().rstrip(':')}; nothing was stored.")
    return answer


def _when(moment: datetime | None) -> str:
    if moment is None:
        return "not reported"
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


# ---------------------------------------------------------------------- auth quickbooks


def _app_credentials(
    settings: Settings, store: CredentialStore, environment: str, discovery_url: str | None
) -> QboAppCredentials:
    from paymo_qb_mcp.store.tokens import QboAppCredentials

    stored = store.load_qbo_app(environment)
    if settings.qbo_client_id:
        client_id = settings.qbo_client_id
    elif stored is not None:
        client_id = stored.client_id
        print(f"Using the {environment} client id saved earlier ({client_id}).")
    else:
        print(
            f"Your Intuit app's {environment} keys are on developer.intuit.com → "
            "your app → Keys & credentials."
        )
        client_id = _ask("Client ID: ")
    if settings.qbo_client_secret is not None:
        client_secret = settings.qbo_client_secret.get_secret_value()
    elif stored is not None and stored.client_id == client_id:
        client_secret = stored.client_secret
    else:
        client_secret = _ask("Client secret (input hidden): ", secret=True)
    return QboAppCredentials(
        environment=environment,
        client_id=client_id,
        client_secret=client_secret,
        redirect_uri=settings.qbo_redirect_uri,
        discovery_url=discovery_url,
    )


def _run_quickbooks(args: argparse.Namespace) -> int:
    import anyio

    settings = _load_settings()
    environment: str = args.environment or settings.qbo_environment
    store = open_store(settings)
    app_keys = _app_credentials(settings, store, environment, args.discovery_url)
    return anyio.run(_connect_quickbooks, args, settings, store, app_keys)


async def _connect_quickbooks(
    args: argparse.Namespace, settings: Settings, store: CredentialStore, app_keys: QboAppCredentials
) -> int:
    import anyio.to_thread

    from paymo_qb_mcp.quickbooks.oauth import (
        IntuitOAuthClient,
        OAuthApp,
        new_state,
        parse_redirect,
        verify_state,
    )

    oauth = IntuitOAuthClient(
        OAuthApp(
            client_id=app_keys.client_id,
            client_secret=app_keys.client_secret,
            redirect_uri=app_keys.redirect_uri,
            environment=app_keys.environment,
            discovery_url=app_keys.discovery_url,
        )
    )
    state = new_state()
    url = await oauth.authorization_url(state)

    async def show_link() -> None:
        print("Open this link, sign in to Intuit, pick the company and click Connect:")
        print(f"\n  {url}\n")
        if not args.no_browser:
            import webbrowser

            await anyio.to_thread.run_sync(webbrowser.open, url)

    if args.paste:
        await show_link()
        print("After connecting, the browser lands on your redirect URI (the page itself may fail to load).")
        redirect = await anyio.to_thread.run_sync(input, "Paste the full address from the address bar: ")
    else:
        redirect = await wait_for_redirect(app_keys.redirect_uri, state, args.timeout, show_link)
    response = parse_redirect(redirect)
    verify_state(state, response.state)
    tokens = await oauth.exchange_code(response)
    await anyio.to_thread.run_sync(store.save_qbo_app, app_keys)
    await anyio.to_thread.run_sync(store.save_qbo_tokens, tokens)

    print(f"Connected QuickBooks company {tokens.realm_id} ({tokens.environment}).")
    print(f"  access token   valid until {_when(tokens.access_token_expires_at)} (renewed automatically)")
    print(
        f"  refresh token  valid until {_when(tokens.refresh_token_expires_at)} "
        "(each use extends it; unused for 100 days, it dies)"
    )
    if tokens.refresh_token_hard_expires_at is not None:
        print(
            f"  reconnect by   {_when(tokens.refresh_token_hard_expires_at)} "
            "at the latest (Intuit's 5-year limit)"
        )
    print(f"  stored in      {store.describe()}")
    hints = []
    if settings.qbo_realm_id != tokens.realm_id:
        hints.append(f"QBO_REALM_ID={tokens.realm_id}")
    if settings.qbo_environment != tokens.environment:
        hints.append(f"QBO_ENVIRONMENT={tokens.environment}")
    if hints:
        print(f"Next: set {' and '.join(hints)} for the server, then run `paymo-qb-mcp doctor`.")
    else:
        print("Next: run `paymo-qb-mcp doctor`.")
    return 0


@dataclass
class _Redirect:
    url: str | None = None


def _bind_loopback(host: str, port: int) -> list[socket.socket]:
    addresses = LOOPBACK_HOSTS[host]
    sockets: list[socket.socket] = []
    for address in addresses:
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((address, port))
        except OSError as exc:
            sock.close()
            if exc.errno == errno.EADDRINUSE:
                for opened in sockets:
                    opened.close()
                raise ConfigError(
                    f"Port {port} on {address} is in use, so the redirect cannot be caught there. Stop what "
                    "uses it, or pick another port in QBO_REDIRECT_URI (and register that URI in your Intuit "
                    "app), or use --paste."
                ) from None
            # "localhost" may also mean ::1; a machine without IPv6 simply has one socket fewer.
            if len(addresses) > 1:
                continue
            raise ConfigError(f"Cannot listen on {address}:{port} ({exc.strerror}); use --paste.") from None
        sockets.append(sock)
    return sockets


def _callback_page(title: str, body: str, status: int) -> Any:
    from starlette.responses import HTMLResponse

    page = (
        "<!doctype html><html><head><meta charset='utf-8'><title>paymo-qb-mcp</title></head>"
        f"<body style='font-family:sans-serif;max-width:40em;margin:4em auto'><h1>{html.escape(title)}</h1>"
        f"<p>{html.escape(body)}</p></body></html>"
    )
    return HTMLResponse(page, status_code=status)


async def wait_for_redirect(
    redirect_uri: str, state: str, timeout_s: float, when_listening: Callable[[], Awaitable[None]]
) -> str:
    """Listen on the loopback address of `redirect_uri` until Intuit's redirect arrives; return its URL.

    `when_listening` runs once the socket accepts connections (it shows or opens the link).
    """
    import anyio
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.routing import Route

    from paymo_qb_mcp.quickbooks.oauth import parse_redirect, verify_state

    parts = urlsplit(redirect_uri)
    host = (parts.hostname or "").lower()
    if parts.scheme != "http" or host not in LOOPBACK_HOSTS:
        raise ConfigError(
            f"QBO_REDIRECT_URI {redirect_uri} is not a plain-http address on this machine, so this command "
            "cannot catch the redirect itself. Use --paste (production keys need an HTTPS redirect URI), or "
            "set QBO_REDIRECT_URI to http://localhost:8765/callback and register it in your Intuit app."
        )
    port = parts.port or 80
    path = parts.path or "/"
    received = _Redirect()
    arrived = anyio.Event()

    async def callback(request: Request) -> Any:
        if received.url is not None:
            return _callback_page("Already done", "This authorization was already received.", 409)
        received.url = str(request.url)
        arrived.set()
        try:
            verify_state(state, parse_redirect(received.url).state)
        except AuthError as exc:
            return _callback_page("Not connected", str(exc), 400)
        return _callback_page(
            "Authorization received", "You can close this tab and return to the terminal.", 200
        )

    app = Starlette(routes=[Route(path, callback, methods=["GET"])])
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False))
    sockets = _bind_loopback(host, port)
    try:
        async with anyio.create_task_group() as group:
            group.start_soon(server.serve, sockets)
            # uvicorn exposes readiness only as a flag, not an event.
            while not server.started:  # noqa: ASYNC110
                await anyio.sleep(0.01)
            await when_listening()
            print(f"Waiting for the redirect on {redirect_uri} (Ctrl+C to give up) ...")
            with anyio.move_on_after(timeout_s):
                await arrived.wait()
            server.should_exit = True
            server.force_exit = True
    finally:
        for sock in sockets:
            sock.close()
    if received.url is None:
        raise AuthError(
            f"No redirect reached {redirect_uri} within {timeout_s:.0f} s; nothing was stored. "
            "Check that this exact URI is registered in your Intuit app, or run again with --paste."
        )
    return received.url


# ---------------------------------------------------------------------- auth paymo


def _run_paymo(args: argparse.Namespace) -> int:
    import anyio

    settings = _load_settings()
    store = open_store(settings)
    if settings.paymo_api_key is not None:
        print("Using the API key in PAYMO_API_KEY.")
        api_key = settings.paymo_api_key.get_secret_value()
    else:
        print("Create a key in Paymo under My Account → API keys.")
        api_key = _ask("Paymo API key (input hidden): ", secret=True)
    return anyio.run(_connect_paymo, settings, store, api_key)


async def _connect_paymo(settings: Settings, store: CredentialStore, api_key: str) -> int:
    import anyio.to_thread

    from paymo_qb_mcp.paymo import PaymoClient
    from paymo_qb_mcp.store.tokens import PaymoCredentials

    async with PaymoClient(base_url=settings.paymo_base_url, api_key=api_key) as paymo:
        me = await paymo.me()
        company = await paymo.company()
    credentials = PaymoCredentials(
        api_key=api_key,
        user_name=me.name,
        company_name=company.name,
        verified_at=datetime.now(UTC),
    )
    await anyio.to_thread.run_sync(store.save_paymo, credentials)
    who = " ".join(part for part in (me.name, f"<{me.email}>" if me.email else None) if part)
    print(f"Paymo API key verified: {who or 'user'} at {company.name or 'the company'}.")
    print(f"  stored in      {store.describe()}")
    print("Next: run `paymo-qb-mcp doctor`.")
    return 0


# ---------------------------------------------------------------------- auth revoke


def _run_revoke(args: argparse.Namespace) -> int:
    import anyio

    settings = _load_settings()
    store = open_store(settings)
    if args.target == "paymo":
        store.delete_paymo()
        print("Deleted the stored Paymo API key.")
        print("To make it useless everywhere, also delete it in Paymo (My Account → API keys).")
        return 0
    realm_id = args.realm or settings.qbo_realm_id
    if realm_id is None:
        realms = store.qbo_realms()
        if len(realms) != 1:
            listed = ", ".join(realms) if realms else "none"
            raise ConfigError(f"Say which company to disconnect with --realm (stored: {listed}).")
        realm_id = realms[0]
    return anyio.run(_revoke_quickbooks, settings, store, realm_id)


async def _revoke_quickbooks(settings: Settings, store: CredentialStore, realm_id: str) -> int:
    import anyio.to_thread

    from paymo_qb_mcp.quickbooks.oauth import IntuitOAuthClient

    tokens = await anyio.to_thread.run_sync(store.load_qbo_tokens, realm_id)
    if tokens is None:
        print(f"No QuickBooks connection is stored for company {realm_id}; nothing to revoke.")
        return 0
    app = resolve_oauth_app(settings, store, tokens.environment)
    revoked = False
    if app is not None and app.client_id == tokens.client_id:
        await IntuitOAuthClient(app).revoke(tokens.refresh_token)
        revoked = True
    await anyio.to_thread.run_sync(store.delete_qbo_tokens, realm_id)
    if revoked:
        print(
            f"Revoked the connection to QuickBooks company {realm_id} at Intuit and deleted its tokens here."
        )
    else:
        print(f"Deleted the tokens for QuickBooks company {realm_id} here.")
        print("The app keys that issued them are not available to revoke them at Intuit, so also")
        print("disconnect the app in QuickBooks (Settings → Apps → Disconnect).")
    return 0
