"""The HTTP loop both API clients share: rate-limit slot, send, observe, retry decision, redacted logs."""

from __future__ import annotations

import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from types import TracebackType
from typing import Any, Self

import anyio
import httpx

from paymo_qb_mcp import __version__
from paymo_qb_mcp.errors import RequestInfo, Transient
from paymo_qb_mcp.net import jsonwire
from paymo_qb_mcp.net.ratelimit import RateLimiter
from paymo_qb_mcp.net.redact import RedactingFilter, redact_headers, redact_text, redact_url
from paymo_qb_mcp.net.retry import RetryPolicy, decide_retry, parse_retry_after
from paymo_qb_mcp.net.waits import announce_wait

__all__ = ["DEFAULT_REQUEST_ID_HEADERS", "USER_AGENT", "HttpService", "Sleep", "request_info"]

logger = logging.getLogger(__name__)
# httpx logs every request URL in full at INFO (user-info and query included); its lines get the same
# masking as ours.
logging.getLogger("httpx").addFilter(RedactingFilter())

USER_AGENT = f"paymo-qb-mcp/{__version__} (+https://github.com/paymo-qb-mcp/paymo-qb-mcp)"
# intuit_tid is QBO's transaction id for support tickets; Paymo documents none, X-Request-Id is the
# common convention should it send one.
DEFAULT_REQUEST_ID_HEADERS: tuple[str, ...] = ("intuit_tid", "x-request-id")

Sleep = Callable[[float], Awaitable[None]]


def request_info(
    request: httpx.Request,
    response: httpx.Response | None = None,
    *,
    request_id_headers: Sequence[str] = DEFAULT_REQUEST_ID_HEADERS,
) -> RequestInfo:
    """What was sent, redacted, plus the service's own id for the call when the response has one."""
    upstream_id = None
    if response is not None:
        upstream_id = next(
            (response.headers[name] for name in request_id_headers if name in response.headers), None
        )
    return RequestInfo(
        method=request.method,
        url=redact_url(request.url),
        upstream_request_id=upstream_id,
        headers=redact_headers(request.headers),
    )


def _never_sent(exc: httpx.TransportError) -> bool:
    # These fail before a single byte of the request reaches the service, so even a write that is
    # not idempotent can be repeated.
    return isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)


class HttpService:
    """One service's HTTP endpoint: shared limiter, retry policy and JSON codec around an httpx client.

    Non-2xx responses are returned, not raised: each API client knows how its service spells errors.
    Only a network failure that survives the retry policy is raised, as ``errors.Transient``.
    """

    def __init__(
        self,
        *,
        service: str,
        base_url: str,
        transport: httpx.AsyncBaseTransport | None = None,
        limiter: RateLimiter,
        retry: RetryPolicy | None = None,
        timeout: float = 30.0,
        headers: Mapping[str, str] | None = None,
        auth: httpx.Auth | None = None,
        sleep: Sleep = anyio.sleep,
        rng: random.Random | None = None,
        request_id_headers: Sequence[str] = DEFAULT_REQUEST_ID_HEADERS,
    ) -> None:
        self.service = service
        self.limiter = limiter
        self.retry_policy = retry or RetryPolicy()
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._request_id_headers = tuple(request_id_headers)
        default_headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
        default_headers.update(headers or {})
        self._client = httpx.AsyncClient(
            base_url=base_url,
            transport=transport,
            timeout=httpx.Timeout(timeout),
            headers=default_headers,
            auth=auth,
            follow_redirects=False,
        )

    @property
    def base_url(self) -> httpx.URL:
        return self._client.base_url

    def request_info(self, request: httpx.Request, response: httpx.Response | None = None) -> RequestInfo:
        """``request_info`` with this service's request-id header names."""
        return request_info(request, response, request_id_headers=self._request_id_headers)

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json_body: Any = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        replay_safe: bool,
        extra_limiter: RateLimiter | None = None,
    ) -> httpx.Response:
        """Send ``method path`` until it succeeds or the retry policy says stop; return the last response.

        ``replay_safe`` must be true only for reads and for writes the service de-duplicates (a QBO
        ``requestid``): those alone are repeated after a 5xx or a network error. ``extra_limiter`` paces
        this request on top of the service's limiter (QBO's batch budget), every attempt in both.
        Waits are announced to the reporter of ``net.waits`` before they start.
        """
        if json_body is not None and content is not None:
            raise ValueError("pass json_body or content, not both")
        request_headers = dict(headers or {})
        if json_body is not None:
            content = jsonwire.dumps(json_body)
            request_headers.setdefault("Content-Type", "application/json")
        policy = self.retry_policy
        attempt = 0
        waited = 0.0
        while True:
            attempt += 1
            request = self._client.build_request(
                method, path, params=params, content=content, headers=request_headers
            )
            response: httpx.Response | None = None
            failure: httpx.TransportError | None = None
            async with self._slots(extra_limiter):
                try:
                    response = await self._client.send(request)
                except httpx.TransportError as exc:
                    failure = exc
            if response is not None:
                if extra_limiter is not None:
                    extra_limiter.observe(response.status_code, response.headers)
                self.limiter.observe(response.status_code, response.headers)
                logger.debug(
                    "%s %s %s -> %d", self.service, method, redact_url(request.url), response.status_code
                )
            status = None if response is None else response.status_code
            decision = decide_retry(
                policy,
                attempt=attempt,
                waited=waited,
                status=status,
                network_error=failure is not None,
                retry_after=None
                if response is None
                else parse_retry_after(response.headers.get("Retry-After")),
                replay_safe=replay_safe or (failure is not None and _never_sent(failure)),
                rng=self._rng,
            )
            if not decision.retry:
                if failure is not None:
                    raise self._network_failure(request, failure, attempt, replay_safe, decision.reason)
                assert response is not None
                return response
            logger.warning(
                "%s %s %s: %s; retry %d of %d in %.2f s",
                self.service,
                method,
                redact_url(request.url),
                decision.reason,
                attempt,
                (policy.max_throttled_attempts if status == 429 else policy.max_attempts) - 1,
                decision.delay,
            )
            await announce_wait(self.service, decision.delay, f"retrying: {decision.reason}")
            await self._sleep(decision.delay)
            waited += decision.delay

    @asynccontextmanager
    async def _slots(self, extra_limiter: RateLimiter | None) -> AsyncIterator[None]:
        # The narrower budget first, so a request waiting for it does not hold a slot of the wider one.
        if extra_limiter is None:
            async with self.limiter.slot():
                yield
        else:
            async with extra_limiter.slot(), self.limiter.slot():
                yield

    def _network_failure(
        self,
        request: httpx.Request,
        failure: httpx.TransportError,
        attempts: int,
        replay_safe: bool,
        why: str,
    ) -> Transient:
        info = self.request_info(request)
        outcome = (
            "it was not applied"
            if _never_sent(failure)
            else "it is safe to repeat"
            if replay_safe
            else "the service may or may not have applied it; read back before repeating it"
        )
        message = (
            f"{self.service} {request.method} {info.url} failed after {attempts} attempt(s): "
            f"{type(failure).__name__}: {redact_text(str(failure)) or 'no detail'} ({why}); {outcome}. "
            "Retry later or check connectivity."
        )
        return Transient(message, service=self.service, request=info)

    async def aclose(self) -> None:
        await self._client.aclose()

    async def __aenter__(self) -> Self:
        await self._client.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self._client.__aexit__(exc_type, exc_value, traceback)
