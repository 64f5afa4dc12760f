"""The QBO emulator's HTTP face: an ASGI app serving `/v3/company/{realmId}/...` like the real API.

Per request, in order: request log, injected latency and faults, bearer auth (lower-case gateway
JSON on 401), realm binding, per-realm throttling (XML 429), `requestid` replay, routing to the
engine, and rendering as JSON or XML per `Accept`.
"""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import parse_qs

import anyio
from starlette.applications import Starlette
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
)
from paymo_qb_mcp.sandbox.quickbooks import fault as faults
from paymo_qb_mcp.sandbox.quickbooks import seed as seed_module
from paymo_qb_mcp.sandbox.quickbooks.engine import Behaviour, Engine, EntityRules, WriteOptions
from paymo_qb_mcp.sandbox.quickbooks.expenses import rules as expense_rules
from paymo_qb_mcp.sandbox.quickbooks.fields import ENTITY_FIELDS, PATH_SEGMENTS, SINGLETONS
from paymo_qb_mcp.sandbox.quickbooks.names import lookup_exchange_rate
from paymo_qb_mcp.sandbox.quickbooks.names import rules as name_rules
from paymo_qb_mcp.sandbox.quickbooks.query import execute
from paymo_qb_mcp.sandbox.quickbooks.sales import rules as sales_rules
from paymo_qb_mcp.sandbox.quickbooks.state import QboState, Record, TaxModel
from paymo_qb_mcp.sandbox.quickbooks.taxservice import create_tax_code
from paymo_qb_mcp.sandbox.quickbooks.wire import (
    JSON_CONTENT_TYPE,
    XML_CONTENT_TYPE,
    dumps,
    format_envelope_time,
    loads,
    to_xml,
)

REQUEST_ID_MAX = 50
BATCH_REQUEST_ID_MAX = 36
BATCH_ID_MAX_WITH_REQUEST_ID = 10
_PREFIX = "/v3/company/"


@dataclass
class QboRateBudget:
    """Per-realm budgets (reference §6): requests per minute, per second, and batch requests per minute."""

    per_minute: RateBudget
    per_second: RateBudget
    batch_per_minute: RateBudget

    @classmethod
    def faithful(cls, time_scale: float = 1.0) -> QboRateBudget:
        """QBO's limits; `time_scale` makes every window that many times shorter (10: 500 per 6 s)."""
        return cls(RateBudget(500, 60.0), RateBudget(10, 1.0), RateBudget(40, 60.0)).scaled(time_scale)

    @classmethod
    def relaxed(cls, time_scale: float = 1.0) -> QboRateBudget:
        return cls(RateBudget(50_000, 60.0), RateBudget(1_000, 1.0), RateBudget(50_000, 60.0)).scaled(
            time_scale
        )

    def scaled(self, time_scale: float) -> QboRateBudget:
        return QboRateBudget(
            self.per_minute.scaled(time_scale),
            self.per_second.scaled(time_scale),
            self.batch_per_minute.scaled(time_scale),
        )

    def windows(self) -> dict[str, RateBudget]:
        """The three windows by field name."""
        return {
            "per_minute": self.per_minute,
            "per_second": self.per_second,
            "batch_per_minute": self.batch_per_minute,
        }

    @classmethod
    def from_windows(cls, windows: Mapping[str, RateBudget]) -> QboRateBudget:
        return cls(windows["per_minute"], windows["per_second"], windows["batch_per_minute"])


@dataclass
class _Grant:
    realm_id: str
    expired: bool = False


@dataclass(frozen=True)
class _StoredResponse:
    fingerprint: str
    status: int
    content: bytes
    media_type: str


@dataclass
class _Outcome:
    status: int
    document: dict[str, Any]


def default_now() -> datetime:
    return datetime.now(UTC)


class QboEmulator:
    """An in-memory QuickBooks Online company behind an ASGI app (see `docs/sandbox.md`).

    `time_scale` shortens every rate window (and a `Retry-After`) that many times, so a client paced
    the same way meets QBO's real limits in a fraction of the time; `throttled` counts the 429s sent.
    Knobs beyond `faults` and `rate_budget`: `behaviour` (unconfirmed QBO behaviours),
    `retry_after_header` (opt-in `Retry-After` on 429, unconfirmed for real QBO),
    `requestid_conflict` ("replay" the first response, or "error" with code 600, when a requestid
    comes back with a different body), `foreign_realm_fault` (401 XML code 100, or 403 JSON 3100), and
    `token_realm`: an outside token authority (e.g. the OAuth emulator's `access_token_realm`) asked
    about bearer tokens this emulator did not issue; it returns the token's realm, or None.
    `fault_control=True` serves the fault-control admin path `/__sandbox/...` (`sandbox/control.py`);
    off by default, the path is then an unknown path like any other.
    """

    def __init__(
        self,
        seed: Literal["demo", "empty"] = "demo",
        *,
        tax_model: TaxModel = "global",
        rate_limits: Literal["faithful", "relaxed"] = "faithful",
        realm_id: str = seed_module.DEFAULT_REALM_ID,
        time_scale: float = 1.0,
        clock: Clock = time.monotonic,
        now: Callable[[], datetime] = default_now,
        fault_control: bool = False,
    ) -> None:
        if seed not in {"demo", "empty"}:
            raise ValueError(f"unknown seed {seed!r}: use 'demo' or 'empty'")
        if tax_model not in {"global", "us"}:
            raise ValueError(f"unknown tax model {tax_model!r}: use 'global' or 'us'")
        self.realm_id = realm_id
        self.state = QboState(tax_model=tax_model, time_zone=seed_module.TIME_ZONES[tax_model], now=now)
        seed_module.load(self.state, seed)
        rules: dict[str, EntityRules] = {**name_rules(), **sales_rules(), **expense_rules()}
        self.engine = Engine(self.state, Behaviour(), rules)
        self.behaviour = self.engine.behaviour
        self.faults = Faults()
        self.time_scale = check_time_scale(time_scale)
        profile = QboRateBudget.faithful if rate_limits == "faithful" else QboRateBudget.relaxed
        self.rate_budget = profile(time_scale)
        self.request_log: list[LoggedRequest] = []
        self.retry_after_header = False
        self.requestid_conflict: Literal["replay", "error"] = "replay"
        self.foreign_realm_fault: Literal["401", "403"] = "401"
        self.token_realm: Callable[[str], str | None] | None = None
        self._clock = clock
        self._windows: dict[tuple[str, str], SlidingWindow] = {}
        self._grants: dict[str, _Grant] = {}
        self._unauthorized_next = False
        self._replays: dict[tuple[str, str], _StoredResponse] = {}
        self.access_token = self.issue_access_token()
        self.fault_control = fault_control
        self.control = FaultControl(
            self,
            RateWindows(
                read=lambda: self.rate_budget.windows(),
                write=self._set_rate_windows,
                profile=_rate_profile,
            ),
        )
        self.app = Starlette(
            routes=[Route("/{path:path}", self._handle, methods=["GET", "POST", "PUT", "PATCH", "DELETE"])]
        )

    # --- tokens ----------------------------------------------------------------------------------
    def issue_access_token(self, realm_id: str | None = None) -> str:
        """A new valid bearer token bound to `realm_id` (this company by default)."""
        token = f"qbo-sandbox-{secrets.token_urlsafe(24)}"
        self._grants[token] = _Grant(realm_id or self.realm_id)
        return token

    def expire_token(self) -> None:
        """The next API call answers 401 (gateway JSON); the current token stays expired and a fresh one
        becomes `access_token`, as a refresh would obtain.
        """
        grant = self._grants.get(self.access_token)
        if grant is not None:
            grant.expired = True
        self._unauthorized_next = True
        self.access_token = self.issue_access_token()

    def revoke_token(self, token: str) -> None:
        self._grants.pop(token, None)

    # --- bulk helpers for tests ------------------------------------------------------------------
    def add_customers(self, count: int, *, prefix: str = "Bulk Customer", active: bool = True) -> list[str]:
        """Create `count` customers directly in state ("Bulk Customer 0001", ...); returns their Ids."""
        ids: list[str] = []
        for number in range(1, count + 1):
            name = f"{prefix} {number:04d}"
            record: Record = {
                "Taxable": self.state.tax_model == "us",
                "Job": False,
                "BillWithParent": False,
                "Balance": 0,
                "BalanceWithJobs": 0,
                "CurrencyRef": self.state.currency_ref(self.state.home_currency),
                "PreferredDeliveryMethod": "Print",
                "IsProject": False,
                "FullyQualifiedName": name,
                "DisplayName": name,
                "PrintOnCheckName": name,
                "Active": active,
            }
            ids.append(self.state.insert("Customer", record)["Id"])
        return ids

    @property
    def throttled(self) -> int:
        """How many answers in `request_log` were 429 (rate limited, or an injected 429)."""
        return sum(1 for logged in self.request_log if logged.status == 429)

    def _set_rate_windows(self, windows: dict[str, RateBudget]) -> None:
        self.rate_budget = QboRateBudget.from_windows(windows)

    # --- HTTP ------------------------------------------------------------------------------------
    async def _handle(self, request: Request) -> Response:
        if self.fault_control and is_control_path(request.url.path):
            return await self.control.answer(request)
        body = await request.body()
        response = await self._respond(request, body)
        self.request_log.append(
            LoggedRequest(request.method, request.url.path, request.url.query, response.status_code, body)
        )
        self.faults.answered += 1
        slow = self.faults.slow_answer()
        if slow > 0:
            # Processed and logged: only the answer is late (a client's timeout may give up on it).
            await anyio.sleep(slow)
        return response

    async def _respond(self, request: Request, body: bytes) -> Response:
        method, path = request.method, request.url.path
        if self.faults.latency_s > 0:
            await anyio.sleep(self.faults.latency_s)
        burst_left = self.faults.throttle(self._clock())
        if burst_left is not None:
            return self._burst(burst_left)
        scripted = self.faults.take_scripted(method, path)
        if scripted is not None and not scripted.after_commit:
            return self._injected(scripted.status)
        random_status = self.faults.random_failure()
        if random_status is not None:
            return self._injected(random_status)
        if not path.startswith(_PREFIX):
            return Response("Not Found", status_code=404, media_type="text/plain")
        realm, _, rest = path[len(_PREFIX) :].partition("/")
        denied = self._authenticate(request, realm)
        if denied is not None:
            return denied
        throttled = self._throttle(realm, rest)
        if throttled is not None:
            return throttled
        wants_json = "json" in request.headers.get("accept", "").lower()
        params = {
            key: values[-1] for key, values in parse_qs(request.url.query, keep_blank_values=True).items()
        }
        request_id = params.get("requestid") if method == "POST" else None
        replay_key = (realm, request_id) if request_id else None
        fingerprint = hashlib.sha256(f"{method} {path}\n".encode() + body).hexdigest()
        if request_id is not None:
            limit = BATCH_REQUEST_ID_MAX if rest.lower() == "batch" else REQUEST_ID_MAX
            if len(request_id) > limit:
                # GUESS: the fault for an over-long requestid is not documented; a length fault on it.
                return self._render(
                    _Outcome(400, self._fault_document(faults.too_long("requestid", limit, len(request_id)))),
                    wants_json,
                )
        if replay_key is not None and replay_key in self._replays:
            stored = self._replays[replay_key]
            if stored.fingerprint == fingerprint or self.requestid_conflict == "replay":
                response = Response(stored.content, status_code=stored.status, media_type=stored.media_type)
                response.headers["intuit_tid"] = str(uuid.uuid4())
                return self._maybe_after_commit(scripted, response)
            duplicate = faults.fault(
                "600",
                "Duplicate Request ID",
                "RequestId already exists in the system, duplicate request is detected",
                "requestid",
            )
            return self._render(_Outcome(400, self._fault_document(duplicate)), wants_json)
        outcome = self._route(
            method, rest.strip("/").split("/") if rest.strip("/") else [], params, body, request_id
        )
        response = self._render(outcome, wants_json)
        if replay_key is not None:
            self._replays[replay_key] = _StoredResponse(
                fingerprint, response.status_code, bytes(response.body), str(response.media_type)
            )
        return self._maybe_after_commit(scripted, response)

    def _maybe_after_commit(self, scripted: Any, response: Response) -> Response:
        """A scripted `after_commit` fault: the write happened, the client only sees the error."""
        if scripted is not None and scripted.after_commit:
            return self._injected(int(scripted.status))
        return response

    def _burst(self, left: float) -> Response:
        """A 429 of a fault burst, saying when it ends if `faults.burst_retry_after` says so."""
        response = self._injected(429)
        if self.faults.burst_retry_after:
            response.headers["Retry-After"] = retry_after(left, self.time_scale)
        return response

    def _injected(self, status: int) -> Response:
        now = self.state.now()
        if status == 401:
            return self._json(faults.gateway_unauthorized("Token expired", _epoch_ms(now)), 401)
        if status == 429:
            return self._xml(faults.throttle_xml(now), 429)
        return self._json(
            {"Fault": faults.system_fault(status).body(), "time": format_envelope_time(now)}, status
        )

    def _authenticate(self, request: Request, realm: str) -> Response | None:
        now = self.state.now()
        header = request.headers.get("authorization")
        detail: str | None = None
        grant: _Grant | None = None
        if header is None:
            detail = None
        elif not header.lower().startswith("bearer ") or len(header.split()) != 2:
            detail = "Malformed bearer token: too short or too long"
        else:
            token = header.split()[1]
            grant = self._grants.get(token)
            if grant is None and self.token_realm is not None:
                realm_of_token = self.token_realm(token)
                grant = _Grant(realm_of_token) if realm_of_token is not None else None
            if grant is None:
                detail = "Token invalid"
            elif grant.expired:
                detail = "Token expired"
        if self._unauthorized_next:
            self._unauthorized_next = False
            return self._json(faults.gateway_unauthorized("Token expired", _epoch_ms(now)), 401)
        if grant is None or grant.expired:
            return self._json(faults.gateway_unauthorized(detail, _epoch_ms(now)), 401)
        if grant.realm_id != realm:
            if self.foreign_realm_fault == "403":
                return self._json(faults.gateway_forbidden(_epoch_ms(now)), 403)
            return self._xml(faults.realm_mismatch_xml(now), 401)
        return None

    def _throttle(self, realm: str, rest: str) -> Response | None:
        """HTTP 429 with the XML ThrottleExceeded body when a per-realm window is full (checklist item 36).

        Each window counts a request when it arrives. GUESS: a batch request counts in the per-second and
        per-minute windows as well as in the batch window (the reference gives the batch limit beside
        the others and says nothing of how they combine). GUESS: a request refused by one window still
        counts in the windows checked before it, and in none after it; how real QBO accounts refused
        requests is not documented.
        """
        checks = [("second", self.rate_budget.per_second), ("minute", self.rate_budget.per_minute)]
        if rest.strip("/").lower() == "batch":
            checks.append(("batch", self.rate_budget.batch_per_minute))
        for name, budget in checks:
            window = self._windows.get((realm, name))
            if window is None:
                window = self._windows[(realm, name)] = SlidingWindow(budget, self._clock)
            window.budget = budget
            allowed, _remaining, reset_in = window.hit()
            if not allowed:
                response = self._xml(faults.throttle_xml(self.state.now()), 429)
                if self.retry_after_header:
                    # Opt-in: whether real QBO sends Retry-After is unconfirmed (reference §1.6).
                    response.headers["Retry-After"] = retry_after(reset_in, self.time_scale)
                return response
        return None

    # --- routing ---------------------------------------------------------------------------------
    def _route(
        self, method: str, segments: list[str], params: Mapping[str, str], body: bytes, request_id: str | None
    ) -> _Outcome:
        try:
            return self._dispatch(method, segments, params, body, request_id)
        except faults.QboFault as error:
            return _Outcome(error.status, self._fault_document(error))

    def _dispatch(
        self, method: str, segments: list[str], params: Mapping[str, str], body: bytes, request_id: str | None
    ) -> _Outcome:
        if not segments:
            return _not_found()
        head = segments[0].lower()
        if head == "query" and len(segments) == 1:
            text = params.get("query") if method == "GET" else _decode(body)
            if not text:
                raise faults.query_parse_error(
                    'Encountered " <EOF> "" at line 1, column 1. Was expecting: "select" ...'
                )
            response = execute(self.state, text, active_only_by_default=self.behaviour.active_only_by_default)
            return self._ok({"QueryResponse": response})
        if head == "batch" and len(segments) == 1 and method == "POST":
            return self._ok({"BatchItemResponse": self._batch(_json_body(body), request_id)})
        if head == "cdc" and len(segments) == 1 and method == "GET":
            changes = self.engine.change_data_capture(
                params.get("entities"), params.get("changedSince") or params.get("changedsince")
            )
            return self._ok({"CDCResponse": [{"QueryResponse": changes}]})
        if head == "taxservice" and segments[1:] == ["taxcode"] and method == "POST":
            return self._ok(create_tax_code(self.engine, _json_body(body)), wrap=False)
        if head == "exchangerate" and len(segments) == 1:
            if method == "GET":
                source = params.get("sourcecurrencycode") or params.get("sourceCurrencyCode")
                if not source:
                    raise faults.required("sourcecurrencycode")
                rate = lookup_exchange_rate(
                    self.engine, source, params.get("asofdate") or params.get("asOfDate")
                )
                if rate is None:
                    raise faults.object_not_found("ExchangeRate", transaction=False)
                return self._ok({"ExchangeRate": self.state.snapshot("ExchangeRate", rate["Id"])})
            return self._write("ExchangeRate", _json_body(body), params)
        entity = PATH_SEGMENTS.get(head)
        if entity is None:
            return _not_found()
        if method == "GET" and len(segments) == 2:
            if entity == "CompanyInfo" and segments[1] not in {self.realm_id, "1"}:
                raise faults.object_not_found(entity, transaction=False)
            return self._ok({entity: self.engine.read(entity, segments[1])})
        if method == "GET" and len(segments) == 1 and entity in SINGLETONS:
            return self._ok({entity: self.engine.read(entity, "1")})
        if method == "POST" and len(segments) == 1:
            return self._write(entity, _json_body(body), params)
        if (
            method == "POST"
            and len(segments) == 3
            and segments[2] == "send"
            and entity in {"Invoice", "Estimate"}
        ):
            return self._ok({entity: self._send(entity, segments[1], params.get("sendTo"))})
        return _not_found()

    def _write(self, entity: str, payload: Any, params: Mapping[str, str]) -> _Outcome:
        operation = (params.get("operation") or "").lower()
        include = {part.strip().lower() for part in (params.get("include") or "").split(",") if part.strip()}
        options = WriteOptions(allow_duplicate_docnumber="allowduplicatedocnum" in include)
        if operation == "delete":
            return self._ok({entity: self.engine.delete(entity, payload)})
        if operation == "void" or (operation == "update" and "void" in include):
            if operation == "void" and entity != "Invoice":
                raise faults.unsupported_operation(
                    f"Operation void is not supported for {entity}; use operation=update&include=void."
                )
            if operation == "update" and entity == "Invoice":
                raise faults.unsupported_operation("Invoices are voided with operation=void.")
            return self._ok({entity: self.engine.void(entity, payload)})
        if operation not in {"", "update", "create"}:
            raise faults.unsupported_operation(f"Operation {operation} is not supported.")
        is_update = (
            operation == "update"
            or entity in SINGLETONS
            or (isinstance(payload, Mapping) and payload.get("Id") not in (None, ""))
        )
        if entity == "ExchangeRate":
            return self._ok({entity: self._upsert_exchange_rate(payload, options)})
        if is_update:
            return self._ok({entity: self.engine.update(entity, payload, options)})
        return self._ok({entity: self.engine.create(entity, payload, options)})

    def _upsert_exchange_rate(self, payload: Any, options: WriteOptions) -> Record:
        """POST /exchangerate sets the rate for (currency, date); an existing one is updated (GUESS)."""
        if isinstance(payload, Mapping):
            source = str(payload.get("SourceCurrencyCode", "")).upper()
            for row in self.state.rows("ExchangeRate"):
                if row["SourceCurrencyCode"] == source and row["AsOfDate"] == payload.get("AsOfDate"):
                    upsert = {"SyncToken": row["SyncToken"], **payload, "Id": row["Id"], "sparse": True}
                    return self.engine.update("ExchangeRate", upsert, options)
        return self.engine.create("ExchangeRate", payload, options)

    def _send(self, entity: str, ident: str, send_to: str | None) -> Record:
        """POST /invoice/{Id}/send: records the delivery and marks the form sent."""
        record = self.engine.read(entity, ident)
        address = send_to or record.get("BillEmail", {}).get("Address")
        if not address:
            raise faults.business_validation("An e-mail address is required to send this form.", "BillEmail")
        update: Record = {
            "Id": ident,
            "SyncToken": record["SyncToken"],
            "sparse": True,
            "EmailStatus": "EmailSent",
            "BillEmail": {"Address": address},
        }
        self.engine.update(entity, update)
        stored = self.state.tables[entity][ident]
        stored["DeliveryInfo"] = {
            "DeliveryType": "Email",
            "DeliveryTime": self.state.now().replace(microsecond=0).isoformat(),
        }
        return self.state.snapshot(entity, ident)

    # --- batch -----------------------------------------------------------------------------------
    def _batch(self, payload: Any, request_id: str | None) -> list[dict[str, Any]]:
        items = payload.get("BatchItemRequest") if isinstance(payload, Mapping) else None
        if not isinstance(items, list):
            raise faults.required("BatchItemRequest")
        if not items:
            raise faults.fault("400", "MalformedRequest", "Batch Request is Empty")
        if len(items) > self.behaviour.batch_max_items:
            raise faults.fault(
                "1040",
                "Batch size exceeds allowed limit",
                f"Batch size {len(items)} exceeds the maximum of {self.behaviour.batch_max_items} items.",
            )
        seen: set[str] = set()
        for item in items:
            batch_id = item.get("bId") if isinstance(item, Mapping) else None
            if not isinstance(batch_id, str) or not batch_id:
                raise faults.required("bId")
            if batch_id in seen:
                raise faults.fault(
                    "400", "MalformedRequest", f"Duplicate bId {batch_id} in the batch request", "bId"
                )
            if request_id is not None and len(batch_id) > BATCH_ID_MAX_WITH_REQUEST_ID:
                raise faults.too_long("bId", BATCH_ID_MAX_WITH_REQUEST_ID, len(batch_id))
            seen.add(batch_id)
        results: list[dict[str, Any]] = []
        with self.state.batch_isolation():
            for item in items:
                try:
                    results.append({"bId": item["bId"], **self._batch_item(item)})
                except faults.QboFault as error:
                    results.append({"bId": item["bId"], "Fault": error.body()})
        return results

    def _batch_item(self, item: Mapping[str, Any]) -> dict[str, Any]:
        if "Query" in item:
            return {
                "QueryResponse": execute(
                    self.state,
                    str(item["Query"]),
                    active_only_by_default=self.behaviour.active_only_by_default,
                )
            }
        keys = [key for key in item if key not in {"bId", "operation", "optionsData"}]
        if len(keys) != 1 or keys[0] not in ENTITY_FIELDS:
            raise faults.fault(
                "2010",
                "Request has invalid or unsupported property",
                f"Property Name:{', '.join(keys) or 'none'} specified is unsupported or invalid",
            )
        entity = keys[0]
        payload = item[entity]
        operation = str(item.get("operation") or "")
        options_data = {
            part.strip().lower() for part in str(item.get("optionsData") or "").split(",") if part.strip()
        }
        options = WriteOptions(allow_duplicate_docnumber="allowduplicatedocnum" in options_data)
        if operation == "create":
            return {entity: self.engine.create(entity, payload, options)}
        if operation == "update" and "void" in options_data:
            return {entity: self.engine.void(entity, payload)}
        if operation == "update":
            return {entity: self.engine.update(entity, payload, options)}
        if operation == "delete":
            return {entity: self.engine.delete(entity, payload)}
        raise faults.unsupported_operation(f"Operation {operation or '(none)'} is not supported in a batch.")

    # --- rendering -------------------------------------------------------------------------------
    def _ok(self, document: dict[str, Any], *, wrap: bool = True) -> _Outcome:
        if wrap:
            document = {**document, "time": format_envelope_time(self.state.now())}
        return _Outcome(200, document)

    def _fault_document(self, error: faults.QboFault) -> dict[str, Any]:
        return {"Fault": error.body(), "time": format_envelope_time(self.state.now())}

    def _render(self, outcome: _Outcome, wants_json: bool) -> Response:
        if outcome.status == 404 and not outcome.document:
            return Response("Not Found", status_code=404, media_type="text/plain")
        if wants_json:
            return self._json(outcome.document, outcome.status)
        return self._xml(to_xml(outcome.document), outcome.status)

    def _json(self, document: Mapping[str, Any], status: int) -> Response:
        response = Response(dumps(document), status_code=status, media_type=JSON_CONTENT_TYPE)
        response.headers["intuit_tid"] = str(uuid.uuid4())
        return response

    def _xml(self, content: bytes, status: int) -> Response:
        response = Response(content, status_code=status, media_type=XML_CONTENT_TYPE)
        response.headers["intuit_tid"] = str(uuid.uuid4())
        return response


def _rate_profile(rate_limits: str, time_scale: float) -> dict[str, RateBudget]:
    profile = QboRateBudget.faithful if rate_limits == "faithful" else QboRateBudget.relaxed
    return profile(time_scale).windows()


def _not_found() -> _Outcome:
    return _Outcome(404, {})


def _epoch_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _decode(body: bytes) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise faults.unsupported_operation(
            "Operation com.sun.org.apache.xerces.internal.impl.io.MalformedByteSequenceException: "
            f"Invalid byte {error.start + 1} of {len(body)}-byte UTF-8 sequence. is not supported."
        ) from error


def _json_body(body: bytes) -> Any:
    text = _decode(body)
    if not text.strip():
        raise faults.fault("2010", "Request has invalid or unsupported property", "Request body is empty")
    try:
        return loads(text)
    except ValueError as error:
        raise faults.fault(
            "2010",
            "Request has invalid or unsupported property",
            f"Property Name:{error} specified is unsupported or invalid",
        ) from error
