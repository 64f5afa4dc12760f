"""A local emulation of Intuit's OAuth 2.0 service: discovery, authorize, token, revoke, userinfo, JWKS.

Faithful to quickbooks-api.md §11 and §13 items 38–39: the discovery document points at this server,
so `intuitlib.AuthClient` works unchanged when given the discovery URL as its `environment`;
authorization codes are single-use and bound to a realm, client and redirect URI; refresh tokens
rotate at a configurable cadence and superseded ones are refused with 400 `invalid_grant`; the
5-year hard expiry is reported only when the opt-in header is sent. It imports nothing from the
product: the QBO emulator (or a test) asks `access_token_realm()` whether a bearer token is valid.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import secrets
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import simplejson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

Clock = Callable[[], datetime]

ACCESS_TOKEN_LIFETIME = timedelta(seconds=3600)
# x_refresh_token_expires_in as Intuit reports it right after a refresh (≈ 101 days, rolling).
REFRESH_TOKEN_ROLLING_LIFETIME = timedelta(seconds=8726400)
REFRESH_TOKEN_HARD_LIFETIME = timedelta(days=5 * 365)
# Intuit returns the same refresh token for about a day, then a new one (quickbooks-api.md §11.2).
DEFAULT_ROTATION_CADENCE = timedelta(hours=24)
# GUESS: Intuit does not publish the authorization code lifetime; 5 minutes matches common practice
# and Intuit's developer-forum answers. Tests move the clock to prove expiry.
AUTHORIZATION_CODE_LIFETIME = timedelta(minutes=5)
HARD_EXPIRY_OPT_IN_HEADER = "x-include-refresh-token-hard-expires-in"

KNOWN_SCOPES = frozenset(
    {
        "com.intuit.quickbooks.accounting",
        "com.intuit.quickbooks.payment",
        "openid",
        "email",
        "profile",
        "phone",
        "address",
    }
)

DEFAULT_REALM_ID = "9341453050298464"


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _new_token(prefix: str, length: int = 48) -> str:
    return prefix + secrets.token_urlsafe(length)


@dataclass
class RegisteredApp:
    """A key set from the Intuit developer portal: client credentials and registered redirect URIs."""

    client_id: str
    client_secret: str = field(repr=False)
    redirect_uris: tuple[str, ...]


@dataclass
class _AuthorizationCode:
    code: str = field(repr=False)
    client_id: str
    redirect_uri: str
    realm_id: str
    scopes: tuple[str, ...]
    expires_at: datetime
    used: bool = False
    grant: _Grant | None = None


@dataclass
class _Grant:
    """One connection of an app to a company: the current refresh token and every access token it issued."""

    client_id: str
    realm_id: str
    scopes: tuple[str, ...]
    created_at: datetime
    refresh_token: str = field(repr=False)
    refresh_token_issued_at: datetime
    refresh_token_expires_at: datetime
    superseded_refresh_tokens: set[str] = field(default_factory=set, repr=False)
    access_tokens: dict[str, datetime] = field(default_factory=dict, repr=False)
    revoked: bool = False

    @property
    def hard_expires_at(self) -> datetime:
        return self.created_at + REFRESH_TOKEN_HARD_LIFETIME


@dataclass(frozen=True)
class OAuthRequestRecord:
    """One request the emulator answered: enough for tests to count token calls by grant type."""

    method: str
    path: str
    grant_type: str | None
    status: int


class IntuitOAuthEmulator:
    """In-memory Intuit OAuth service; `.app` is the ASGI application."""

    def __init__(
        self,
        *,
        realm_id: str = DEFAULT_REALM_ID,
        clock: Clock = _utc_now,
        rotation_cadence: timedelta = DEFAULT_ROTATION_CADENCE,
    ) -> None:
        self.realm_id = realm_id
        self.clock = clock
        self.rotation_cadence = rotation_cadence
        # "approve" stands for a user who signs in, picks the company and clicks Connect;
        # "deny" for one who clicks Cancel (Intuit redirects with error=access_denied).
        self.consent = "approve"
        self.apps: dict[str, RegisteredApp] = {}
        self.request_log: list[OAuthRequestRecord] = []
        self._codes: dict[str, _AuthorizationCode] = {}
        self._grants: list[_Grant] = []
        self._lock = threading.Lock()
        self.app = Starlette(
            routes=[
                Route("/.well-known/openid_configuration", self._discovery, methods=["GET"]),
                Route("/.well-known/openid_configuration/", self._discovery, methods=["GET"]),
                Route("/.well-known/openid_sandbox_configuration", self._discovery, methods=["GET"]),
                Route("/.well-known/openid_sandbox_configuration/", self._discovery, methods=["GET"]),
                Route("/connect/oauth2", self._authorize, methods=["GET"]),
                Route("/oauth2/v1/tokens/bearer", self._token, methods=["POST"]),
                Route("/v2/oauth2/tokens/revoke", self._revoke, methods=["POST"]),
                Route("/v1/openid_connect/userinfo", self._userinfo, methods=["GET"]),
                Route("/op/v1/jwks", self._jwks, methods=["GET"]),
            ]
        )

    # ------------------------------------------------------------------ set-up and inspection

    def register_app(
        self, *, client_id: str, client_secret: str, redirect_uris: tuple[str, ...] | list[str]
    ) -> RegisteredApp:
        registered = RegisteredApp(client_id, client_secret, tuple(redirect_uris))
        self.apps[client_id] = registered
        return registered

    def access_token_realm(self, access_token: str) -> str | None:
        """The realm an access token is valid for right now, or None (unknown, expired or revoked)."""
        now = self.clock()
        with self._lock:
            for grant in self._grants:
                expires_at = grant.access_tokens.get(access_token)
                if expires_at is not None:
                    return grant.realm_id if not grant.revoked and now < expires_at else None
        return None

    def current_refresh_token(self, realm_id: str | None = None) -> str | None:
        """The refresh token Intuit would accept now for the newest live grant of a realm."""
        wanted = realm_id or self.realm_id
        with self._lock:
            live = [g for g in self._grants if g.realm_id == wanted and not g.revoked]
            return live[-1].refresh_token if live else None

    def expire_access_tokens(self) -> None:
        """Make every issued access token invalid now (what an hour of waiting would do)."""
        now = self.clock()
        with self._lock:
            for grant in self._grants:
                for token in grant.access_tokens:
                    grant.access_tokens[token] = now

    def revoke_realm(self, realm_id: str | None = None) -> None:
        """Disconnect every app from a company, as a user doing it from the QBO UI would."""
        wanted = realm_id or self.realm_id
        with self._lock:
            for grant in self._grants:
                if grant.realm_id == wanted:
                    grant.revoked = True

    def token_calls(self, grant_type: str | None = None) -> int:
        """How many token-endpoint calls were answered (optionally of one grant type)."""
        return sum(
            1
            for record in self.request_log
            if record.path.endswith("/tokens/bearer") and grant_type in (None, record.grant_type)
        )

    # ------------------------------------------------------------------ endpoints

    def _log(self, request: Request, response: Response, grant_type: str | None = None) -> Response:
        self.request_log.append(
            OAuthRequestRecord(request.method, request.url.path, grant_type, response.status_code)
        )
        return response

    async def _discovery(self, request: Request) -> Response:
        base = str(request.base_url).rstrip("/")
        document = {
            "issuer": f"{base}/op/v1",
            "authorization_endpoint": f"{base}/connect/oauth2",
            "token_endpoint": f"{base}/oauth2/v1/tokens/bearer",
            "userinfo_endpoint": f"{base}/v1/openid_connect/userinfo",
            "revocation_endpoint": f"{base}/v2/oauth2/tokens/revoke",
            "jwks_uri": f"{base}/op/v1/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": sorted(KNOWN_SCOPES),
            "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
            "claims_supported": ["aud", "exp", "iat", "iss", "realmid", "sub"],
        }
        return self._log(request, _json(document))

    async def _authorize(self, request: Request) -> Response:
        params = request.query_params
        client_id = params.get("client_id", "")
        redirect_uri = params.get("redirect_uri", "")
        registered = self.apps.get(client_id)
        # Intuit shows an error page (no redirect) when it cannot trust the redirect URI.
        if registered is None:
            return self._log(request, _error_page("invalid_client", "Unknown client_id."))
        if redirect_uri not in registered.redirect_uris:
            return self._log(
                request,
                _error_page(
                    "invalid_request", "The redirect_uri is not one of the app's registered redirect URIs."
                ),
            )
        state = params.get("state")
        scopes = tuple(params.get("scope", "").split())
        error: str | None = None
        if params.get("response_type") != "code":
            error = "unsupported_response_type"
        elif not scopes or any(scope not in KNOWN_SCOPES for scope in scopes):
            error = "invalid_scope"
        # GUESS: Intuit's docs call `state` required; an authorize request without one is refused.
        elif not state:
            error = "invalid_request"
        elif self.consent != "approve":
            error = "access_denied"
        if error is not None:
            query = {"error": error}
            if state:
                query["state"] = state
            return self._log(request, RedirectResponse(_with_query(redirect_uri, query), status_code=302))
        code = _new_token("AB11", 24)
        with self._lock:
            self._codes[code] = _AuthorizationCode(
                code=code,
                client_id=client_id,
                redirect_uri=redirect_uri,
                realm_id=self.realm_id,
                scopes=scopes,
                expires_at=self.clock() + AUTHORIZATION_CODE_LIFETIME,
            )
        query = {"code": code, "state": state or "", "realmId": self.realm_id}
        return self._log(request, RedirectResponse(_with_query(redirect_uri, query), status_code=302))

    async def _token(self, request: Request) -> Response:
        form = await request.form()
        grant_type = str(form.get("grant_type", "")) or None
        client = self._authenticate_client(request, {k: str(v) for k, v in form.items()})
        if client is None:
            return self._log(request, _oauth_error(401, "invalid_client"), grant_type)
        include_hard = request.headers.get(HARD_EXPIRY_OPT_IN_HEADER, "").strip().lower() == "true"
        if grant_type == "authorization_code":
            response = self._exchange_code(
                client, str(form.get("code", "")), str(form.get("redirect_uri", "")), include_hard
            )
        elif grant_type == "refresh_token":
            response = self._refresh(client, str(form.get("refresh_token", "")), include_hard)
        else:
            response = _oauth_error(400, "unsupported_grant_type")
        return self._log(request, response, grant_type)

    def _authenticate_client(self, request: Request, form: dict[str, str]) -> RegisteredApp | None:
        header = request.headers.get("authorization", "")
        client_id: str | None
        client_secret: str | None
        if header.lower().startswith("basic "):
            try:
                decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                return None
            client_id, _, client_secret = decoded.partition(":")
        else:
            client_id, client_secret = form.get("client_id"), form.get("client_secret")
        registered = self.apps.get(client_id or "")
        if registered is None or not secrets.compare_digest(
            registered.client_secret.encode(), (client_secret or "").encode()
        ):
            return None
        return registered

    def _exchange_code(
        self, client: RegisteredApp, code: str, redirect_uri: str, include_hard: bool
    ) -> Response:
        now = self.clock()
        with self._lock:
            issued = self._codes.get(code)
            if issued is None or issued.client_id != client.client_id:
                return _oauth_error(400, "invalid_grant")
            if issued.used:
                # RFC 6749 §4.1.2: a code used twice revokes what it already granted (Intuit "poisons" it).
                if issued.grant is not None:
                    issued.grant.revoked = True
                return _oauth_error(400, "invalid_grant")
            issued.used = True
            if now >= issued.expires_at or issued.redirect_uri != redirect_uri:
                return _oauth_error(400, "invalid_grant")
            grant = _Grant(
                client_id=client.client_id,
                realm_id=issued.realm_id,
                scopes=issued.scopes,
                created_at=now,
                refresh_token=_new_token("AB11"),
                refresh_token_issued_at=now,
                refresh_token_expires_at=now + REFRESH_TOKEN_ROLLING_LIFETIME,
            )
            issued.grant = grant
            self._grants.append(grant)
            return self._token_response(grant, now, include_hard)

    def _refresh(self, client: RegisteredApp, refresh_token: str, include_hard: bool) -> Response:
        now = self.clock()
        with self._lock:
            grant = next(
                (
                    g
                    for g in self._grants
                    if g.refresh_token == refresh_token or refresh_token in g.superseded_refresh_tokens
                ),
                None,
            )
            if grant is None:
                return _oauth_error(400, "invalid_grant", "Incorrect or invalid refresh token")
            if grant.client_id != client.client_id:
                return _oauth_error(400, "invalid_grant", "Incorrect Token type or clientID")
            if grant.revoked or refresh_token != grant.refresh_token:
                return _oauth_error(400, "invalid_grant", "Token has been expired or revoked.")
            if now >= grant.refresh_token_expires_at or now >= grant.hard_expires_at:
                return _oauth_error(400, "invalid_grant", "Token has been expired or revoked.")
            if now - grant.refresh_token_issued_at >= self.rotation_cadence:
                grant.superseded_refresh_tokens.add(grant.refresh_token)
                grant.refresh_token = _new_token("AB11")
                grant.refresh_token_issued_at = now
            grant.refresh_token_expires_at = min(now + REFRESH_TOKEN_ROLLING_LIFETIME, grant.hard_expires_at)
            return self._token_response(grant, now, include_hard)

    def _token_response(self, grant: _Grant, now: datetime, include_hard: bool) -> Response:
        access_token = _new_token("eyJlbmMiOiJBMTI4Q0JDLUhTMjU2IiwiYWxnIjoiZGlyIn0..", 96)
        grant.access_tokens[access_token] = now + ACCESS_TOKEN_LIFETIME
        body: dict[str, Any] = {
            "token_type": "bearer",
            "access_token": access_token,
            "expires_in": int(ACCESS_TOKEN_LIFETIME.total_seconds()),
            "refresh_token": grant.refresh_token,
            "x_refresh_token_expires_in": int((grant.refresh_token_expires_at - now).total_seconds()),
        }
        if include_hard:
            body["x_refresh_token_hard_expires_in"] = int((grant.hard_expires_at - now).total_seconds())
        return _json(body)

    async def _revoke(self, request: Request) -> Response:
        client = self._authenticate_client(request, {})
        if client is None:
            return self._log(request, _oauth_error(401, "invalid_client"))
        try:
            payload = simplejson.loads(await request.body())
            token = str(payload["token"])
        except (ValueError, KeyError, TypeError):
            return self._log(request, _oauth_error(400, "invalid_request"))
        with self._lock:
            for grant in self._grants:
                if grant.client_id == client.client_id and (
                    token == grant.refresh_token or token in grant.access_tokens
                ):
                    grant.revoked = True
        # RFC 7009 §2.2: an unknown or already revoked token is answered with 200 too.
        # GUESS: Intuit answers 200 with an empty body; intuitlib only parses a non-empty body.
        return self._log(request, Response(status_code=200, headers=_intuit_headers()))

    async def _userinfo(self, request: Request) -> Response:
        header = request.headers.get("authorization", "")
        token = header[7:].strip() if header.lower().startswith("bearer ") else ""
        realm_id = self.access_token_realm(token)
        if realm_id is None:
            return self._log(request, _oauth_error(401, "invalid_token"))
        return self._log(request, _json({"sub": f"emulated-user-{realm_id}", "email": "owner@example.com"}))

    async def _jwks(self, request: Request) -> Response:
        # GUESS: no id_token is ever issued (that would need an RS256 signing key), so the key set is empty.
        return self._log(request, _json({"keys": []}))


def _intuit_headers() -> dict[str, str]:
    return {"intuit_tid": f"1-{secrets.token_hex(4)}-{secrets.token_hex(12)}"}


def _json(body: dict[str, Any], status: int = 200) -> Response:
    return JSONResponse(body, status_code=status, headers=_intuit_headers())


def _oauth_error(status: int, error: str, description: str | None = None) -> Response:
    body = {"error": error}
    if description:
        body["error_description"] = description
    return _json(body, status)


def _error_page(error: str, description: str) -> Response:
    html = f"<html><body><h1>Something went wrong</h1><p>{error}: {description}</p></body></html>"
    return HTMLResponse(html, status_code=400, headers=_intuit_headers())


def _with_query(url: str, params: dict[str, str]) -> str:
    parts = urlsplit(url)
    query = f"{parts.query}&{urlencode(params)}" if parts.query else urlencode(params)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


# ---------------------------------------------------------------------- serving on loopback


@contextlib.contextmanager
def serve_on_loopback(app: Any, *, port: int = 0) -> Iterator[str]:
    """Serve an ASGI app on 127.0.0.1 in a background thread; yields its base URL, stops on exit."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    bound_port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        # uvicorn flips `started` once the socket accepts connections.
        started = threading.Event()
        while not server.started and thread.is_alive():
            started.wait(0.005)
        if not server.started:
            raise RuntimeError("the loopback server did not start")
        yield f"http://127.0.0.1:{bound_port}"
    finally:
        server.should_exit = True
        # Keep-alive connections from the client would otherwise hold the shutdown for a while.
        server.force_exit = True
        thread.join(timeout=10)
        sock.close()
