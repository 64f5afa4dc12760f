"""QuickBooks OAuth 2.0: the authorization-code flow through `intuit-oauth`, and the token provider that keeps
a realm's access token fresh — refresh ahead of expiry and once after a 401, single-flight within the
process and, through the store's lock, across every process sharing the store (the others re-read the
store and use the one refresh's result), the rotated refresh token saved before the new access token is
used, `invalid_grant` turned into one clear "run `paymo-qb-mcp auth quickbooks` again".

`intuitlib.AuthClient` is synchronous (a `requests.Session` that fetches the discovery document when
built), so every call runs in a worker thread. Facts: quickbooks-api.md §11.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, runtime_checkable
from urllib.parse import parse_qs, urlsplit

import anyio
import anyio.to_thread

from paymo_qb_mcp.errors import (
    AuthError,
    ConfigError,
    DataError,
    PaymoQbError,
    ReauthorizationRequired,
    RequestInfo,
    Transient,
    UpstreamError,
)
from paymo_qb_mcp.net.redact import redact_url

__all__ = [
    "ACCOUNTING_SCOPE",
    "REAUTHORIZE_COMMAND",
    "AuthorizationResponse",
    "IntuitOAuthClient",
    "OAuthApp",
    "OAuthTokenProvider",
    "QboTokenSet",
    "RefreshLock",
    "SharedTokenStore",
    "TokenRecord",
    "TokenRefresher",
    "TokenStore",
    "new_state",
    "parse_redirect",
    "verify_state",
]

logger = logging.getLogger(__name__)

Clock = Callable[[], datetime]

ACCOUNTING_SCOPE = "com.intuit.quickbooks.accounting"
REAUTHORIZE_COMMAND = "paymo-qb-mcp auth quickbooks"
SERVICE = "quickbooks"
DEFAULT_REFRESH_MARGIN = timedelta(minutes=5)
DEFAULT_TIMEOUT_S = 30.0
# Longer than one token call may take (DEFAULT_TIMEOUT_S), so a waiting process outlasts a slow holder.
DEFAULT_REFRESH_LOCK_TIMEOUT_S = 75.0


def _utc_now() -> datetime:
    return datetime.now(UTC)


class TokenRecord(Protocol):
    """One realm's tokens and what is known about them (read-only view)."""

    @property
    def realm_id(self) -> str: ...
    @property
    def environment(self) -> str: ...
    @property
    def client_id(self) -> str: ...
    @property
    def access_token(self) -> str: ...
    @property
    def access_token_expires_at(self) -> datetime: ...
    @property
    def refresh_token(self) -> str: ...
    @property
    def refresh_token_expires_at(self) -> datetime: ...
    @property
    def refresh_token_hard_expires_at(self) -> datetime | None: ...
    @property
    def scopes(self) -> tuple[str, ...]: ...
    @property
    def connected_at(self) -> datetime: ...
    @property
    def last_intuit_tid(self) -> str | None: ...


class TokenStore(Protocol):
    """Durable token storage (``paymo_qb_mcp.store.tokens.CredentialStore`` implements it).

    Blocking calls; the provider runs them in a worker thread. `save_qbo_tokens` must replace the
    record atomically: after a crash either the old or the new record is there, whole.
    """

    def load_qbo_tokens(self, realm_id: str) -> TokenRecord | None: ...
    def save_qbo_tokens(self, tokens: TokenRecord) -> None: ...


@dataclass(frozen=True, kw_only=True)
class QboTokenSet:
    """Tokens as the OAuth layer produces them, with absolute expiry times."""

    realm_id: str
    environment: str
    client_id: str
    access_token: str = field(repr=False)
    access_token_expires_at: datetime
    refresh_token: str = field(repr=False)
    refresh_token_expires_at: datetime
    refresh_token_hard_expires_at: datetime | None = None
    scopes: tuple[str, ...] = (ACCOUNTING_SCOPE,)
    connected_at: datetime
    last_intuit_tid: str | None = None


class RefreshLock(Protocol):
    """A lock shared with other processes (``filelock.FileLock`` is one).

    `acquire` blocks (it runs in a worker thread) and raises ``TimeoutError`` when `timeout` seconds
    pass; `release` may be called from another thread than the one that acquired it.
    """

    def acquire(self, timeout: float | None = None) -> object: ...
    def release(self) -> None: ...


@runtime_checkable
class SharedTokenStore(Protocol):
    """A token store other processes use too (``CredentialStore`` is one): it offers the lock under which
    exactly one of them refreshes a realm's tokens while the others wait and then read the result."""

    def qbo_refresh_lock(self, realm_id: str) -> RefreshLock: ...


class TokenRefresher(Protocol):
    """Exchanges a refresh token for new tokens (``IntuitOAuthClient`` implements it)."""

    async def refresh(self, current: TokenRecord) -> QboTokenSet: ...


@dataclass(frozen=True, kw_only=True)
class OAuthApp:
    """An Intuit app's key set and where its OAuth service is.

    `environment` is ``production`` or ``sandbox`` (which key set: Development keys reach sandbox
    companies). `discovery_url` replaces Intuit's discovery document, e.g. with the local emulator's.
    """

    client_id: str
    client_secret: str = field(repr=False)
    redirect_uri: str
    environment: str
    discovery_url: str | None = None

    @property
    def discovery_target(self) -> str:
        # intuitlib treats any environment other than sandbox/production as the discovery URL itself.
        return self.discovery_url or self.environment


@dataclass(frozen=True)
class AuthorizationResponse:
    """What Intuit's redirect carried back: the one-time code, the echoed state and the company id."""

    code: str = field(repr=False)
    state: str
    realm_id: str


def new_state() -> str:
    """A fresh unguessable CSRF `state` for one authorization attempt."""
    return secrets.token_urlsafe(32)


def verify_state(expected: str, received: str) -> None:
    """Refuse a redirect whose `state` is not the one this attempt sent (CSRF or a stale browser tab)."""
    if not received or not hmac.compare_digest(expected.encode(), received.encode()):
        raise AuthError(
            "The `state` in the redirect does not match the one this command sent, so the redirect did not "
            "come from the authorization started here (a stale browser tab, or a forged request). Nothing "
            f"was stored; run `{REAUTHORIZE_COMMAND}` again and use the new link."
        )


def parse_redirect(url_or_query: str) -> AuthorizationResponse:
    """Read code, state and realmId from the redirect URL (or its query string) Intuit sent the browser to."""
    text = url_or_query.strip()
    query = urlsplit(text).query if "://" in text else text.lstrip("?")
    params = {name: values[0] for name, values in parse_qs(query, keep_blank_values=True).items()}
    error = params.get("error")
    if error:
        if error == "access_denied":
            raise AuthError(
                "QuickBooks authorization was declined (access_denied): nothing was connected. "
                f"Run `{REAUTHORIZE_COMMAND}` again and choose Connect."
            )
        raise AuthError(
            f"Intuit answered the authorization with error {error!r}; check the app's redirect URIs and "
            f"scopes on developer.intuit.com, then run `{REAUTHORIZE_COMMAND}` again."
        )
    missing = [name for name in ("code", "state", "realmId") if not params.get(name)]
    if missing:
        raise AuthError(
            f"The redirect URL has no {', '.join(missing)}; paste the whole address from the browser's "
            "address bar after clicking Connect (it starts with your redirect URI)."
        )
    return AuthorizationResponse(code=params["code"], state=params["state"], realm_id=params["realmId"])


# ---------------------------------------------------------------------- intuit-oauth, made async


def _build_auth_client(app: OAuthApp, timeout_s: float) -> Any:
    """An `intuitlib.AuthClient` with a request timeout and a note of Intuit's `intuit_tid` header."""
    from intuitlib.client import AuthClient

    class _AuthClient(AuthClient):  # type: ignore[misc]
        # requests.Session has no default timeout; without one a stalled token call would hang forever.
        def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
            kwargs.setdefault("timeout", timeout_s)
            response = super().request(method, url, *args, **kwargs)
            self.last_intuit_tid = response.headers.get("intuit_tid")
            return response

    return _AuthClient(
        client_id=app.client_id,
        client_secret=app.client_secret,
        redirect_uri=app.redirect_uri,
        environment=app.discovery_target,
    )


_RESPONSE_ATTRIBUTES = (
    "access_token",
    "expires_in",
    "refresh_token",
    "x_refresh_token_expires_in",
    "x_refresh_token_hard_expires_in",
    "last_intuit_tid",
)


class IntuitOAuthClient:
    """The OAuth calls of one Intuit app, async, through `intuit-oauth`'s `AuthClient`.

    The `AuthClient` keeps token state on itself, so one instance serves one call at a time (a lock),
    and the discovery document is fetched once, on first use.
    """

    def __init__(
        self,
        app: OAuthApp,
        *,
        clock: Clock = _utc_now,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        request_hard_expiry: bool = True,
    ) -> None:
        self.app = app
        self._clock = clock
        self._timeout_s = timeout_s
        self._request_hard_expiry = request_hard_expiry
        self._client: Any = None
        self._lock = anyio.Lock()

    async def _auth_client(self) -> Any:
        if self._client is None:
            self._client = await anyio.to_thread.run_sync(self._build_blocking)
        return self._client

    def _build_blocking(self) -> Any:
        import requests
        from intuitlib.exceptions import AuthClientError

        where = self.app.discovery_url or f"Intuit's {self.app.environment} discovery document"
        try:
            client = _build_auth_client(self.app, self._timeout_s)
        except AuthClientError as exc:
            if exc.status_code in (404, 410):
                raise ConfigError(
                    f"The OAuth discovery document {where} was not found (HTTP {exc.status_code})."
                ) from None
            raise _upstream_from_auth_error(exc, "fetching the OAuth discovery document", where) from None
        except requests.RequestException as exc:
            raise Transient(
                f"Could not reach {where} ({type(exc).__name__}); check the network and try again.",
                service=SERVICE,
            ) from None
        except (ValueError, KeyError) as exc:
            raise DataError(
                f"The OAuth discovery document {where} is not what Intuit publishes ({exc})."
            ) from None
        # The opt-in header makes Intuit report the 5-year hard expiry (intuit-oauth ≥ 1.2.7).
        client.include_refresh_token_hard_expires_in = self._request_hard_expiry
        return client

    async def authorization_url(self, state: str, scopes: tuple[str, ...] = (ACCOUNTING_SCOPE,)) -> str:
        """The URL to send the user to (`scope`, `redirect_uri`, `state`, `response_type=code`)."""
        from intuitlib.enums import Scopes

        async with self._lock:
            client = await self._auth_client()
            wanted = [Scopes(scope) for scope in scopes]
            url: str = client.get_authorization_url(wanted, state_token=state)
            return url

    async def exchange_code(self, response: AuthorizationResponse) -> QboTokenSet:
        """Trade the one-time authorization code for the first token pair of a realm."""
        async with self._lock:
            client = await self._auth_client()
            sent_at = self._clock()
            values = await anyio.to_thread.run_sync(
                self._call_blocking,
                client,
                "get_bearer_token",
                (response.code,),
                {"realm_id": response.realm_id},
            )
        return self._token_set(
            values,
            realm_id=response.realm_id,
            sent_at=sent_at,
            connected_at=sent_at,
            previous_hard_expiry=None,
        )

    async def refresh(self, current: TokenRecord) -> QboTokenSet:
        """New tokens for `current`'s realm; the refresh token may have rotated (always keep the newest)."""
        if current.client_id and current.client_id != self.app.client_id:
            raise ConfigError(
                f"The saved tokens for QuickBooks company {current.realm_id} were issued to Intuit app "
                f"{current.client_id}, but QBO_CLIENT_ID is {self.app.client_id}. Set the matching client id "
                f"and secret, or run `{REAUTHORIZE_COMMAND}` with the new app."
            )
        async with self._lock:
            client = await self._auth_client()
            sent_at = self._clock()
            values = await anyio.to_thread.run_sync(
                self._call_blocking, client, "refresh", (), {"refresh_token": current.refresh_token}
            )
        refreshed = self._token_set(
            values,
            realm_id=current.realm_id,
            sent_at=sent_at,
            connected_at=current.connected_at,
            previous_hard_expiry=current.refresh_token_hard_expires_at,
            previous_scopes=current.scopes,
        )
        if refreshed.refresh_token != current.refresh_token:
            logger.info("QuickBooks rotated the refresh token for realm %s", current.realm_id)
        return refreshed

    async def revoke(self, token: str) -> None:
        """Revoke a refresh (or access) token: Intuit disconnects the app from that company."""
        async with self._lock:
            client = await self._auth_client()
            await anyio.to_thread.run_sync(self._call_blocking, client, "revoke", (), {"token": token})

    def _call_blocking(
        self, client: Any, method: str, args: tuple[Any, ...], kwargs: Mapping[str, Any]
    ) -> dict[str, Any]:
        import requests
        from intuitlib.exceptions import AuthClientError

        # Values left over from the previous call must not leak into this one's result.
        for name in _RESPONSE_ATTRIBUTES:
            setattr(client, name, None)
        try:
            getattr(client, method)(*args, **kwargs)
        except AuthClientError as exc:
            raise _translate_auth_error(exc, method) from None
        except requests.RequestException as exc:
            raise Transient(
                f"Could not reach Intuit's OAuth service ({type(exc).__name__}); try again shortly.",
                service=SERVICE,
            ) from None
        return {name: getattr(client, name, None) for name in _RESPONSE_ATTRIBUTES}

    def _token_set(
        self,
        values: Mapping[str, Any],
        *,
        realm_id: str,
        sent_at: datetime,
        connected_at: datetime,
        previous_hard_expiry: datetime | None,
        previous_scopes: tuple[str, ...] = (ACCOUNTING_SCOPE,),
    ) -> QboTokenSet:
        access_token = values.get("access_token")
        refresh_token = values.get("refresh_token")
        if not access_token or not refresh_token:
            raise DataError("Intuit's token response has no access_token or refresh_token.")
        hard_in = values.get("x_refresh_token_hard_expires_in")
        # Expiries count from when the request left, so clock skew and latency only make us refresh early.
        return QboTokenSet(
            realm_id=realm_id,
            environment=self.app.environment,
            client_id=self.app.client_id,
            access_token=str(access_token),
            access_token_expires_at=sent_at + _seconds(values.get("expires_in"), "expires_in"),
            refresh_token=str(refresh_token),
            refresh_token_expires_at=sent_at
            + _seconds(values.get("x_refresh_token_expires_in"), "x_refresh_token_expires_in"),
            refresh_token_hard_expires_at=(
                sent_at + _seconds(hard_in, "x_refresh_token_hard_expires_in")
                if hard_in is not None
                else previous_hard_expiry
            ),
            scopes=previous_scopes,
            connected_at=connected_at,
            last_intuit_tid=values.get("last_intuit_tid"),
        )


def _seconds(value: Any, name: str) -> timedelta:
    try:
        seconds = int(value)
    except (TypeError, ValueError):
        raise DataError(f"Intuit's token response has no usable {name} ({value!r}).") from None
    return timedelta(seconds=seconds)


def _error_code(exc: Any) -> str | None:
    try:
        import json

        body = json.loads(exc.content or b"{}")
    except ValueError:
        return None
    return str(body.get("error")) if isinstance(body, dict) and body.get("error") else None


def _request_info(exc: Any) -> RequestInfo:
    response = getattr(exc, "response", None)
    request = getattr(response, "request", None)
    url = redact_url(str(getattr(request, "url", "") or ""))
    method = str(getattr(request, "method", "") or "POST")
    return RequestInfo(method=method, url=url, upstream_request_id=exc.intuit_tid)


def _upstream_from_auth_error(exc: Any, action: str, where: str) -> UpstreamError:
    status = int(exc.status_code)
    message = f"Intuit's OAuth service failed while {action} ({where}): HTTP {status}."
    if status == 429 or status >= 500:
        return Transient(
            message + " Try again shortly.", service=SERVICE, status=status, request=_request_info(exc)
        )
    return UpstreamError(message, service=SERVICE, status=status, request=_request_info(exc))


def _translate_auth_error(exc: Any, method: str) -> PaymoQbError:
    status = int(exc.status_code)
    code = _error_code(exc)
    tid = f" (intuit_tid {exc.intuit_tid})" if exc.intuit_tid else ""
    if code == "invalid_client" or status == 401:
        return AuthError(
            "Intuit refused the app's client id or secret (invalid_client)"
            f"{tid}. Copy both again from the app's Keys & credentials page — Development keys for sandbox "
            "companies, Production keys for real ones — and check QBO_ENVIRONMENT."
        )
    if code == "invalid_grant" and method == "get_bearer_token":
        return AuthError(
            f"Intuit refused the authorization code (invalid_grant){tid}: codes expire within minutes, work "
            "once, and need the same redirect URI as the authorization request. Nothing was stored; run "
            f"`{REAUTHORIZE_COMMAND}` again."
        )
    if code == "invalid_grant":
        return ReauthorizationRequired(
            "QuickBooks no longer accepts the saved refresh token (it was revoked, expired, or replaced by a "
            f"newer one){tid}. Run `{REAUTHORIZE_COMMAND}` again to reconnect the company."
        )
    action = {"get_bearer_token": "exchanging the code", "refresh": "refreshing tokens", "revoke": "revoking"}
    return _upstream_from_auth_error(exc, action.get(method, method), f"error {code or 'unknown'}{tid}")


# ---------------------------------------------------------------------- the token provider


class OAuthTokenProvider:
    """Access tokens for one QBO realm (implements ``paymo_qb_mcp.quickbooks.tokens.TokenProvider``).

    - refreshes when the access token has less than `refresh_margin` left, and once after a 401;
    - one refresh at a time: callers arriving during a refresh wait for it and share its result;
    - the new pair is saved (atomically, by the store) *before* the new access token is handed out; if
      saving fails the pair is kept in memory and saving is retried first on the next call, so a
      rotated refresh token is never thrown away;
    - across processes: when the store is a ``SharedTokenStore`` the refresh runs under its lock and the
      stored record is read again once the lock is held, so of several processes (the server and
      `doctor`, two servers, replicas) exactly one spends the refresh token and the rest use the pair it
      saved — nobody is left holding a token Intuit has rotated away;
    - a refresh token Intuit refuses (`invalid_grant`) ends in ``ReauthorizationRequired`` — unless
      another process already saved a newer one, which is then used.

    Use one provider per realm per process: the single-flight lock lives in the instance.
    """

    def __init__(
        self,
        *,
        oauth: TokenRefresher,
        store: TokenStore,
        realm_id: str,
        environment: str | None = None,
        clock: Clock = _utc_now,
        refresh_margin: timedelta = DEFAULT_REFRESH_MARGIN,
        refresh_lock_timeout_s: float = DEFAULT_REFRESH_LOCK_TIMEOUT_S,
    ) -> None:
        self._oauth = oauth
        self._store = store
        self.realm_id = realm_id
        self._environment = environment
        self._clock = clock
        self._margin = refresh_margin
        self._tokens: TokenRecord | None = None
        self._unsaved: TokenRecord | None = None
        self._lock = anyio.Lock()
        self._refresh_lock_timeout_s = refresh_lock_timeout_s
        self._shared_lock: RefreshLock | None = None

    def __repr__(self) -> str:
        return f"OAuthTokenProvider(realm_id={self.realm_id!r})"

    async def access_token(self) -> str:
        async with self._lock:
            tokens = await self._current_locked()
            if self._usable(tokens):
                return tokens.access_token
            return (await self._refresh_locked(tokens)).access_token

    async def refresh_after_unauthorized(self, rejected_token: str) -> str | None:
        async with self._lock:
            tokens = await self._current_locked()
            if tokens.access_token != rejected_token and self._usable(tokens):
                return tokens.access_token
            refreshed = await self._refresh_locked(tokens, rejected_token=rejected_token)
            # Only if Intuit handed back the very token QBO refused is there nothing better to offer.
            return refreshed.access_token if refreshed.access_token != rejected_token else None

    async def tokens(self) -> TokenRecord:
        """The current record (expiries for `doctor`), refreshed first if the access token is stale."""
        async with self._lock:
            tokens = await self._current_locked()
            return tokens if self._usable(tokens) else await self._refresh_locked(tokens)

    def _usable(self, tokens: TokenRecord) -> bool:
        return self._clock() < tokens.access_token_expires_at - self._margin

    async def _load(self) -> TokenRecord | None:
        return await anyio.to_thread.run_sync(self._store.load_qbo_tokens, self.realm_id)

    @asynccontextmanager
    async def _exclusive(self) -> AsyncIterator[None]:
        """Hold the store's cross-process refresh lock (nothing to hold for a store of this process only)."""
        if not isinstance(self._store, SharedTokenStore):
            yield
            return
        if self._shared_lock is None:
            self._shared_lock = self._store.qbo_refresh_lock(self.realm_id)
        lock = self._shared_lock
        try:
            # The wait is not abandoned on cancellation: a lock acquired by a worker thread nobody waits
            # for would never be released.
            await anyio.to_thread.run_sync(lock.acquire, self._refresh_lock_timeout_s)
        except TimeoutError:
            raise Transient(
                f"Another process has been refreshing the QuickBooks tokens of company {self.realm_id} for "
                f"{self._refresh_lock_timeout_s:.0f} s and still holds the refresh lock; try again shortly.",
                service=SERVICE,
            ) from None
        try:
            yield
        finally:
            lock.release()

    async def _current_locked(self) -> TokenRecord:
        if self._unsaved is not None:
            async with self._exclusive():
                await self._save_locked(self._unsaved)
        if self._tokens is None:
            loaded = await self._load()
            if loaded is None:
                raise ReauthorizationRequired(
                    f"No QuickBooks connection is saved for company {self.realm_id}. "
                    f"Run `{REAUTHORIZE_COMMAND}` to connect it."
                )
            self._check_environment(loaded)
            self._tokens = loaded
        return self._tokens

    def _check_environment(self, tokens: TokenRecord) -> None:
        if self._environment and tokens.environment and tokens.environment != self._environment:
            raise ConfigError(
                f"The saved tokens for QuickBooks company {self.realm_id} are for the {tokens.environment} "
                f"environment, but QBO_ENVIRONMENT is {self._environment}. Set QBO_ENVIRONMENT="
                f"{tokens.environment}, or run `{REAUTHORIZE_COMMAND} --environment {self._environment}`."
            )

    def _check_refresh_token_alive(self, tokens: TokenRecord) -> None:
        now = self._clock()
        hard = tokens.refresh_token_hard_expires_at
        if hard is not None and now >= hard:
            reason = f"reached its 5-year limit on {hard:%Y-%m-%d}"
        elif now >= tokens.refresh_token_expires_at:
            reason = f"expired on {tokens.refresh_token_expires_at:%Y-%m-%d} after 100 days without use"
        else:
            return
        raise ReauthorizationRequired(
            f"The saved QuickBooks refresh token for company {self.realm_id} {reason}. "
            f"Run `{REAUTHORIZE_COMMAND}` again to reconnect the company."
        )

    async def _save_locked(self, tokens: TokenRecord) -> None:
        self._unsaved = tokens
        try:
            await anyio.to_thread.run_sync(self._store.save_qbo_tokens, tokens)
        except (PaymoQbError, OSError) as exc:
            logger.error(
                "QuickBooks issued new tokens for realm %s but saving them failed (%s); they are kept in "
                "memory and saving is retried on the next call",
                self.realm_id,
                type(exc).__name__,
            )
            raise ConfigError(
                f"{exc} QuickBooks issued new tokens for company {self.realm_id}; they are kept in "
                "memory and will be saved on the next call — fix this before stopping the server."
            ) from exc
        self._unsaved = None
        self._tokens = tokens

    async def _refresh_locked(self, tokens: TokenRecord, *, rejected_token: str | None = None) -> TokenRecord:
        async with self._exclusive():
            return await self._refresh_exclusively(tokens, rejected_token=rejected_token)

    async def _refresh_exclusively(
        self, tokens: TokenRecord, *, rejected_token: str | None = None
    ) -> TokenRecord:
        # Another process sharing the store (the CLI beside the server) may have refreshed already: read
        # the store again now that no other process can be refreshing.
        stored = await self._load()
        if stored is not None and (
            stored.refresh_token != tokens.refresh_token or stored.access_token != tokens.access_token
        ):
            self._check_environment(stored)
            self._tokens = tokens = stored
            if self._usable(stored) and stored.access_token != rejected_token:
                return stored
        self._check_refresh_token_alive(tokens)
        try:
            refreshed: TokenRecord = await self._oauth.refresh(tokens)
        except ReauthorizationRequired:
            # A concurrent process may have rotated the token between our read and our call.
            latest = await self._load()
            if latest is None or latest.refresh_token == tokens.refresh_token:
                raise ReauthorizationRequired(
                    "QuickBooks no longer accepts the saved refresh token for company "
                    f"{self.realm_id} (it was revoked, expired, or replaced by a newer one). "
                    f"Run `{REAUTHORIZE_COMMAND}` again to reconnect the company."
                ) from None
            self._tokens = latest
            if self._usable(latest) and latest.access_token != rejected_token:
                return latest
            refreshed = await self._oauth.refresh(latest)
        await self._save_locked(refreshed)
        return refreshed
