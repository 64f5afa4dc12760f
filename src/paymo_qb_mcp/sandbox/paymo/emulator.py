"""The Paymo API emulator: an ASGI app over the in-memory state, with auth, rate limits, faults and a log."""

from __future__ import annotations

import base64
import binascii
import hashlib
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import anyio
import httpx
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from paymo_qb_mcp.sandbox.control import FaultControl, RateWindows, is_control_path
from paymo_qb_mcp.sandbox.faults import (
    Clock,
    Faults,
    LoggedRequest,
    RateBudget,
    SlidingWindow,
    check_time_scale,
    retry_after,
    seconds_text,
)
from paymo_qb_mcp.sandbox.paymo import seed as demo_seed
from paymo_qb_mcp.sandbox.paymo.context import Actor
from paymo_qb_mcp.sandbox.paymo.operations import Writer
from paymo_qb_mcp.sandbox.paymo.schema import RESOURCES
from paymo_qb_mcp.sandbox.paymo.state import PaymoState, Record, Session
from paymo_qb_mcp.sandbox.paymo.views import INCLUDE_CAP, Reader, attach_child_conditions, parse_include
from paymo_qb_mcp.sandbox.paymo.webhooks import WebhookDelivery, plan_deliveries, send_deliveries
from paymo_qb_mcp.sandbox.paymo.wire import ApiError, decode_body, dumps, format_datetime

Seed = Literal["demo", "empty"]
TaxModel = Literal["global", "us"]
RateLimits = Literal["faithful", "relaxed"]

# Faithful: 5 requests per 5 s per API key (PHP SDK defaults, a user's report of being stopped after 5
# POSTs). Relaxed: the same mechanism with room for a whole test scenario.
RATE_BUDGETS: dict[str, tuple[int, float]] = {"faithful": (5, 5.0), "relaxed": (1000, 5.0)}
SESSION_LIFETIME = timedelta(days=30)
ALL_METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"]


def _utc_now() -> datetime:
    return datetime.now(UTC)


class PaymoEmulator:
    """A faithful local Paymo API (see the reference's fidelity checklist), seeded with the demo agency.

    `app` serves `/api/...`; `api_key` is Alice's (Admin) key for Basic auth (any password); `email` and
    `password` are her login; `faults`, `rate_budget`, `request_log`, `state` are for tests.
    `include_cap` (2,500) truncates included collections per type per response, silently.
    `webhook_transport` routes webhook deliveries (None = the network); `webhook_deliveries` records them.
    `time_scale` shortens the rate window (and its headers and `Retry-After`) that many times, so a
    client paced the same way meets Paymo's limit in a fraction of the time; `throttled` counts the 429s.
    `fault_control=True` serves the fault-control admin path `/__sandbox/...` (`sandbox/control.py`);
    off by default, the path is then an unknown path like any other.
    """

    def __init__(
        self,
        seed: Seed = "demo",
        *,
        tax_model: TaxModel = "global",
        rate_limits: RateLimits = "faithful",
        public_host: str = "https://app.paymoapp.com",
        time_scale: float = 1.0,
        clock: Clock = time.monotonic,
        now: Callable[[], datetime] = _utc_now,
        fault_control: bool = False,
    ) -> None:
        if seed not in ("demo", "empty"):
            raise ValueError(f"seed must be 'demo' or 'empty', not {seed!r}")
        if tax_model not in ("global", "us"):
            raise ValueError(f"tax_model must be 'global' or 'us', not {tax_model!r}")
        if rate_limits not in RATE_BUDGETS:
            raise ValueError(f"rate_limits must be 'faithful' or 'relaxed', not {rate_limits!r}")
        self.seed = seed
        self.tax_model = tax_model
        self.public_host = public_host.rstrip("/")
        self.state = PaymoState(now=now)
        demo_seed.load(self.state, seed=seed, tax_model=tax_model)
        self.api_key = demo_seed.ALICE_API_KEY
        self.email = demo_seed.ALICE_EMAIL
        self.password = demo_seed.ALICE_PASSWORD
        self.faults = Faults()
        limit, period = RATE_BUDGETS[rate_limits]
        self.time_scale = check_time_scale(time_scale)
        self.rate_budget = RateBudget(limit, period).scaled(time_scale)
        self.request_log: list[LoggedRequest] = []
        self.include_cap = INCLUDE_CAP
        self.webhook_transport: httpx.AsyncBaseTransport | None = None
        self.webhook_deliveries: list[WebhookDelivery] = []
        self._clock = clock
        self._windows: dict[str, SlidingWindow] = {}
        self._writer = Writer(self.state)
        self.fault_control = fault_control
        self.control = FaultControl(
            self,
            RateWindows(
                read=lambda: {"per_user": self.rate_budget},
                write=self._set_rate_windows,
                profile=_rate_profile,
                flat=True,
            ),
        )
        self.app = Starlette(routes=[Route("/{path:path}", self._endpoint, methods=ALL_METHODS)])

    @property
    def throttled(self) -> int:
        """How many answers in `request_log` were 429."""
        return sum(1 for logged in self.request_log if logged.status == 429)

    def _set_rate_windows(self, windows: dict[str, RateBudget]) -> None:
        self.rate_budget = windows["per_user"]

    # ------------------------------------------------------------------ the pipeline

    async def _endpoint(self, request: Request) -> Response:
        if self.fault_control and is_control_path(request.url.path):
            return await self.control.answer(request)
        raw = await request.body()
        response = await self._answer(request, raw)
        self.faults.answered += 1
        self.request_log.append(
            LoggedRequest(request.method, request.url.path, request.url.query, response.status_code, raw)
        )
        slow = self.faults.slow_answer()
        if slow > 0:
            # Processed and logged: only the answer is late (a client's timeout may give up on it).
            await anyio.sleep(slow)
        return response

    async def _answer(self, request: Request, raw: bytes) -> Response:
        if self.faults.latency_s > 0:
            await anyio.sleep(self.faults.latency_s)
        try:
            actor = self._authenticate(request)
        except ApiError as error:
            # GUESS: refused credentials are counted per client address, so the headers stay truthful.
            window_key = f"anonymous:{request.client.host if request.client else ''}"
            return _error_response(error, self._rate_headers(window_key)[1])
        # GUESS: the budget is "per API key"; we count per user, so a user's key, login and sessions share it.
        allowed, headers, wait = self._rate_headers(f"user:{actor.user_id}")
        if not allowed:
            # Every request keeps getting 429 until the period has passed (rate limiting docs).
            headers["Retry-After"] = wait
            return _error_response(ApiError(429, "Too Many Requests"), headers)
        burst_left = self.faults.throttle(self._clock())
        if burst_left is not None:
            # A fault burst: throttled like a spent window, saying when it ends unless set not to.
            if self.faults.burst_retry_after:
                headers["Retry-After"] = retry_after(burst_left, self.time_scale)
            return _error_response(ApiError(429, "Too Many Requests"), headers)
        method, path = request.method, request.url.path
        fault = self.faults.take_scripted(method, path)
        if fault is not None and not fault.after_commit:
            return _error_response(ApiError(fault.status), headers)
        random_status = self.faults.random_failure()
        if random_status is not None:
            return _error_response(ApiError(random_status), headers)
        try:
            response = self._route(request, raw, actor)
        except ApiError as error:
            response = _error_response(error, {})
        if fault is not None:
            # The lost response: the write above is applied, the client sees only the error.
            lost = _error_response(ApiError(fault.status), headers)
            lost.background = response.background
            return lost
        response.headers.update(headers)
        return response

    def _rate_headers(self, key: str) -> tuple[bool, dict[str, str], str]:
        """Count one request; whether it may pass, the rate headers, and the Retry-After if it may not."""
        window = self._windows.get(key)
        if window is None:
            window = self._windows[key] = SlidingWindow(self.rate_budget, self._clock)
        # Tests may swap `rate_budget`; every window follows the current one.
        window.budget = self.rate_budget
        allowed, remaining, reset_in = window.hit()
        headers = {
            "X-Ratelimit-Limit": str(self.rate_budget.limit),
            "X-Ratelimit-Remaining": str(remaining),
            "X-Ratelimit-Decay-Period": seconds_text(self.rate_budget.period_s),
        }
        return allowed, headers, retry_after(reset_in, self.time_scale)

    # ------------------------------------------------------------------ authentication

    def _authenticate(self, request: Request) -> Actor:
        ip = request.client.host if request.client else "127.0.0.1"
        user = (
            self._user_from_session(request)
            if "x-session" in request.headers
            else self._user_from_basic(request)
        )
        if user is None or not user.get("active", True):
            raise ApiError(401, "Unauthorized", {"WWW-Authenticate": 'Basic realm="Paymo API"'})
        return Actor(user_id=user["id"], is_admin=user.get("type") == "Admin", ip=ip)

    def _user_from_session(self, request: Request) -> Record | None:
        session = self.state.sessions.get(request.headers["x-session"].strip())
        if session is None or session.expires_on <= self.state.timestamp():
            return None
        return self.state.get("users", session.user_id)

    def _user_from_basic(self, request: Request) -> Record | None:
        header = request.headers.get("authorization", "")
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic" or not encoded:
            return None
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
        username, _, password = decoded.partition(":")
        # API key as the username and any text as the password (authentication.md).
        owner = self.state.api_keys.get(username)
        if owner is not None:
            return self.state.get("users", owner)
        for user in self.state.rows("users"):
            if str(user.get("email") or "").casefold() == username.casefold():
                expected = self.state.passwords.get(user["id"])
                if expected is not None and password == expected:
                    return user
                return None
        return None

    # ------------------------------------------------------------------ routing

    def _route(self, request: Request, raw: bytes, actor: Actor) -> Response:
        segments = [s for s in request.url.path.split("/") if s]
        if not segments or segments[0] != "api" or len(segments) > 3:
            raise ApiError(404, "Not Found")
        method = request.method
        if method not in ("GET", "POST", "PUT", "DELETE"):
            raise ApiError(405, "Method Not Allowed")
        name, item = segments[1] if len(segments) > 1 else "", segments[2] if len(segments) > 2 else None
        params = request.query_params
        if name == "me" and item is None:
            return self._me(method, actor, params.get("include"))
        if name == "company" and item is None:
            return self._company(method, request, raw, actor)
        if name == "sessions":
            return self._sessions(method, item, actor)
        if name not in RESOURCES:
            raise ApiError(404, "Not Found")
        if item is None:
            if method == "GET":
                return self._list(name, actor, params.get("where"), params.get("include"), params)
            if method == "POST":
                return self._create(name, self._body(request, raw), actor, params.get("include"))
            raise ApiError(405, "Method Not Allowed")
        if not item.isdigit():
            raise ApiError(404, "Not Found")
        record_id = int(item)
        if method == "GET":
            return self._show(name, record_id, actor, params.get("include"))
        if method in ("POST", "PUT"):
            return self._update(name, record_id, self._body(request, raw), actor, params.get("include"))
        return self._delete(name, record_id, actor)

    @staticmethod
    def _body(request: Request, raw: bytes) -> dict[str, Any]:
        return decode_body(raw, request.headers.get("content-type", ""))

    def _reader(self, actor: Actor) -> Reader:
        return Reader(self.state, actor.user_id, public_host=self.public_host, include_cap=self.include_cap)

    # ------------------------------------------------------------------ collections

    def _list(
        self, collection: str, actor: Actor, where: str | None, include: str | None, params: Any
    ) -> Response:
        reader = self._reader(actor)
        node = parse_include(collection, include)
        rows, nested = reader.select(collection, where)
        attach_child_conditions(node, nested)
        rows = _page(rows, params.get("page"), params.get("page_size"))
        return _json({collection: [reader.render(collection, row, node) for row in rows]})

    def _visible(self, collection: str, record_id: int, actor: Actor) -> Record:
        reader = self._reader(actor)
        for row in reader.visible_rows(collection):
            if row["id"] == record_id:
                return row
        raise ApiError(404, "Not Found")

    def _show(self, collection: str, record_id: int, actor: Actor, include: str | None) -> Response:
        node = parse_include(collection, include)
        record = self._visible(collection, record_id, actor)
        return _json({collection: [self._reader(actor).render(collection, record, node)]})

    def _create(self, collection: str, body: dict[str, Any], actor: Actor, include: str | None) -> Response:
        node = parse_include(collection, include)
        record, background = self._write(lambda: self._writer.create(collection, body, actor))
        assert record is not None
        response = _json(
            {collection: [self._reader(actor).render(collection, record, node)]},
            status=201,
            headers={"Location": f"{self.public_host}/api/{collection}/{record['id']}"},
        )
        response.background = background
        return response

    def _update(
        self, collection: str, record_id: int, body: dict[str, Any], actor: Actor, include: str | None
    ) -> Response:
        node = parse_include(collection, include)
        record, background = self._write(lambda: self._writer.update(collection, record_id, body, actor))
        assert record is not None
        response = _json({collection: [self._reader(actor).render(collection, record, node)]})
        response.background = background
        return response

    def _delete(self, collection: str, record_id: int, actor: Actor) -> Response:
        _, background = self._write(lambda: self._writer.delete(collection, record_id, actor))
        # GUESS: the body of a successful DELETE is undocumented; one SDK JSON-decodes it, so `{}`.
        response = _json({})
        response.background = background
        return response

    def _write(self, operation: Callable[[], Record | None]) -> tuple[Record | None, BackgroundTask | None]:
        """Run one write atomically; a refusal rolls every change back. Webhooks go out afterwards."""
        self.state.begin()
        try:
            record = operation()
        except BaseException:
            self.state.rollback()
            raise
        events = self.state.commit()
        deliveries = plan_deliveries(self.state, events, self.public_host)
        if not deliveries:
            return record, None
        task = BackgroundTask(
            send_deliveries, self.state, deliveries, self.webhook_transport, self.webhook_deliveries
        )
        return record, task

    # ------------------------------------------------------------------ me, company, sessions

    def _me(self, method: str, actor: Actor, include: str | None) -> Response:
        if method != "GET":
            raise ApiError(405, "Method Not Allowed")
        node = parse_include("users", include)
        user = self.state.require("users", actor.user_id)
        return _json({"users": [self._reader(actor).render("users", user, node)]})

    def _company(self, method: str, request: Request, raw: bytes, actor: Actor) -> Response:
        if method in ("POST", "PUT"):
            body = self._body(request, raw)
            self._write(lambda: self._company_update(body, actor))
        elif method != "GET":
            raise ApiError(405, "Method Not Allowed")
        return _json({"company": self._render_company()})

    def _company_update(self, body: dict[str, Any], actor: Actor) -> None:
        self._writer.update_company(body, actor)

    def _render_company(self) -> dict[str, Any]:
        company = {
            key: format_datetime(value) if isinstance(value, datetime) else value
            for key, value in self.state.company.items()
        }
        month = self.state.timestamp()
        company["current_users"] = len(self.state.tables["users"])
        company["current_projects"] = len(self.state.tables["projects"])
        # Invoices are counted per month (company.md).
        company["current_invoices"] = sum(
            1
            for invoice in self.state.rows("invoices")
            if (invoice["created_on"].year, invoice["created_on"].month) == (month.year, month.month)
        )
        return company

    def _sessions(self, method: str, item: str | None, actor: Actor) -> Response:
        own = [s for s in self.state.sessions.values() if s.user_id == actor.user_id]
        if item is None and method == "GET":
            return _json({"sessions": [_render_session(s) for s in own]})
        if item is None and method == "POST":
            created = self._new_session(actor)
            return _json(
                {"sessions": [_render_session(created)]},
                status=201,
                headers={"Location": f"{self.public_host}/api/sessions/{created.id}"},
            )
        if item is None:
            raise ApiError(405, "Method Not Allowed")
        session = next((s for s in own if s.id == item), None)
        if session is None:
            raise ApiError(404, "Not Found")
        if method == "GET":
            return _json({"sessions": [_render_session(session)]})
        if method == "DELETE":
            self.state.sessions.pop(session.id, None)
            return _json({})
        raise ApiError(405, "Method Not Allowed")

    def _new_session(self, actor: Actor) -> Session:
        number = self.state.new_session_number()
        # Hex ids like Paymo's; derived from a counter so replayed runs are identical.
        token = hashlib.sha256(f"paymo-sandbox:session:{actor.user_id}:{number}".encode()).hexdigest()[:32]
        moment = self.state.timestamp()
        session = Session(token, actor.user_id, actor.ip, moment + SESSION_LIFETIME, moment, moment)
        self.state.sessions[token] = session
        return session


def _rate_profile(rate_limits: str, time_scale: float) -> dict[str, RateBudget]:
    limit, period = RATE_BUDGETS[rate_limits]
    return {"per_user": RateBudget(limit, period).scaled(time_scale)}


def _render_session(session: Session) -> dict[str, Any]:
    return {
        "id": session.id,
        "ip": session.ip,
        "expires_on": format_datetime(session.expires_on),
        "created_on": format_datetime(session.created_on),
        "updated_on": format_datetime(session.updated_on),
        "user_id": session.user_id,
    }


def _page(rows: list[Record], page: str | None, page_size: str | None) -> list[Record]:
    """`page` (0-based) with `page_size`; no metadata. GUESS: `page_size` alone means page 0, and
    `page` alone is ignored (live clients always send both)."""
    if page_size is None:
        return rows
    if not page_size.isdigit() or int(page_size) == 0 or (page is not None and not page.isdigit()):
        # GUESS: wording for malformed paging parameters.
        raise ApiError(400, "Invalid paging parameters")
    size, number = int(page_size), int(page or 0)
    return rows[number * size : (number + 1) * size]


def _json(payload: Any, *, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(dumps(payload), status_code=status, headers=headers, media_type="application/json")


def _error_response(error: ApiError, headers: dict[str, str]) -> Response:
    return _json({"message": error.message}, status=error.status, headers={**headers, **error.headers})
