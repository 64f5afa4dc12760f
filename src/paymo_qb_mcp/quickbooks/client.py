"""The async QuickBooks Online client: typed CRUD, void, paged queries, batch, with requestid on writes.

One ``QboClient`` talks to one company (realm) under ``{base_url}/v3/company/{realm_id}/``. Every
request carries ``minorversion`` and asks for JSON; every write carries a caller-chosen ``requestid``
so a retry after a lost response is replayed by QBO instead of executed twice. Rate limiting and the
retry loop live in ``paymo_qb_mcp.net``; this module turns QBO's answers into models or typed errors.
"""

from __future__ import annotations

import datetime as dt
import random
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Generic, Literal, Self, TypeVar, overload
from urllib.parse import quote

import anyio
import httpx
from pydantic import ValidationError

from paymo_qb_mcp.errors import (
    ConfigError,
    DataError,
    InputError,
    PaymoQbError,
    ReauthorizationRequired,
    RequestInfo,
)
from paymo_qb_mcp.net import jsonwire
from paymo_qb_mcp.net.http import HttpService, Sleep
from paymo_qb_mcp.net.ratelimit import (
    QboRealmLimiter,
    RateLimiter,
    limiter_for,
    qbo_batch_limiter,
)
from paymo_qb_mcp.net.retry import RetryPolicy
from paymo_qb_mcp.quickbooks.faults import (
    SERVICE,
    Operation,
    error_for_fault,
    error_for_response,
    fault_from_json,
    parse_fault,
)
from paymo_qb_mcp.quickbooks.models import CompanyInfo, Preferences, QboEntity
from paymo_qb_mcp.quickbooks.query import MAX_PAGE_SIZE, Condition, OrderBy, Select, select
from paymo_qb_mcp.quickbooks.tokens import TokenProvider

__all__ = [
    "CDC_MAX_OBJECTS",
    "DEFAULT_MINORVERSION",
    "MAX_BATCH_ID_LENGTH",
    "MAX_BATCH_ITEMS",
    "MAX_BATCH_REQUEST_ID_LENGTH",
    "MAX_REQUEST_ID_LENGTH",
    "QBO_BASE_URLS",
    "BatchItem",
    "BatchItemResult",
    "CdcResult",
    "QboClient",
    "QueryPage",
    "is_replay_safe",
    "server_time",
]

QBO_BASE_URLS: Mapping[str, str] = {
    "production": "https://quickbooks.api.intuit.com",
    "sandbox": "https://sandbox-quickbooks.api.intuit.com",
}
DEFAULT_MINORVERSION = 75  # minor versions below 75 are retired and silently rendered as 75
MAX_REQUEST_ID_LENGTH = 50
MAX_BATCH_REQUEST_ID_LENGTH = 36
MAX_BATCH_ID_LENGTH = 10  # for bIds when the batch carries a requestid
# The API reference allows 30 items; the batch guide says 10. 30 is what the limits page recommends.
MAX_BATCH_ITEMS = 30
# The most objects one change data capture answers with (reference §3.8): reaching it means "maybe more".
CDC_MAX_OBJECTS = 1000
# Longer statements go in a POST body (Content-Type application/text) so the URL stays short.
_MAX_GET_QUERY_LENGTH = 1500
_BATCH_CHUNK_NAMESPACE = uuid.UUID("5d0f6f3e-2b7c-4d5e-9a51-6b1f1e0c4a27")

_REQUEST_ID = re.compile(r"[!-~]+")  # printable ASCII, no spaces
_REALM_ID = re.compile(r"[A-Za-z0-9]+")
_ENTITY_ID = re.compile(r"[A-Za-z0-9_.-]+")

M = TypeVar("M", bound=QboEntity)
BatchOperation = Literal["create", "update", "delete"]


def is_replay_safe(operation: Operation, params: Mapping[str, str]) -> bool:
    """Whether a request may be sent again after a 5xx or a lost response.

    Reads and queries change nothing. A write is safe only because QBO de-duplicates its
    ``requestid``: the same id replays the first answer instead of writing twice.
    """
    if operation in ("read", "query"):
        return True
    return bool(params.get("requestid"))


def _check_request_id(request_id: str, *, limit: int) -> str:
    if not isinstance(request_id, str) or not _REQUEST_ID.fullmatch(request_id):
        raise InputError(
            "request_id must be non-empty printable ASCII without spaces (QBO's requestid)",
            field_name="request_id",
        )
    if len(request_id) > limit:
        raise InputError(
            f"request_id is {len(request_id)} characters; QBO accepts at most {limit} here",
            field_name="request_id",
        )
    return request_id


def _check_entity_id(entity_id: str, name: str = "Id") -> str:
    if not isinstance(entity_id, str) or not _ENTITY_ID.fullmatch(entity_id):
        raise InputError(f"{name} {entity_id!r} is not a QBO id", field_name=name)
    return entity_id


@dataclass(frozen=True)
class QueryPage(Generic[M]):
    """One page of a query. ``max_results`` is what QBO reports: the number of rows returned."""

    items: list[M]
    start_position: int
    max_results: int
    total_count: int | None = None


@dataclass(frozen=True)
class BatchItem:
    """One entry of a batch request; build with the class methods."""

    model: type[QboEntity]
    operation: BatchOperation | None
    payload: Mapping[str, Any] | None = None
    query: Select[Any] | None = None
    options_data: str | None = None
    bid: str | None = None
    start_position: int | None = None
    max_results: int | None = None

    @property
    def is_write(self) -> bool:
        return self.operation is not None

    @property
    def label(self) -> str:
        return f"{self.operation or 'query'} {self.model.entity_name}"

    @classmethod
    def create(cls, entity: QboEntity, *, bid: str | None = None) -> BatchItem:
        payload = entity.to_wire()
        if "Id" in payload:
            raise InputError("a batch create must not carry an Id; use BatchItem.update", field_name="Id")
        return cls(type(entity), "create", payload, bid=bid)

    @classmethod
    def update(cls, entity: QboEntity, *, sparse: bool = True, bid: str | None = None) -> BatchItem:
        return cls(type(entity), "update", _update_payload(entity, sparse), bid=bid)

    @classmethod
    def delete(
        cls, model: type[QboEntity], entity_id: str, sync_token: str, *, bid: str | None = None
    ) -> BatchItem:
        _require_transaction(model, "delete")
        return cls(model, "delete", _id_and_token(entity_id, sync_token), bid=bid)

    @classmethod
    def void(
        cls, model: type[QboEntity], entity_id: str, sync_token: str, *, bid: str | None = None
    ) -> BatchItem:
        # Batch spells every void as an update with optionsData "void".
        if model.void_style is None:
            raise InputError(f"QuickBooks cannot void a {model.entity_name}", field_name="model")
        payload = {**_id_and_token(entity_id, sync_token), "sparse": True}
        return cls(model, "update", payload, options_data="void", bid=bid)

    @classmethod
    def select(
        cls,
        statement: Select[Any],
        *,
        start_position: int | None = None,
        max_results: int | None = None,
        bid: str | None = None,
    ) -> BatchItem:
        statement.statement(start_position=start_position, max_results=max_results)  # validates bounds
        return cls(
            statement.model,
            None,
            query=statement,
            bid=bid,
            start_position=start_position,
            max_results=max_results,
        )

    def to_wire(self, bid: str) -> dict[str, Any]:
        if self.query is not None:
            text = self.query.statement(start_position=self.start_position, max_results=self.max_results)
            return {"bId": bid, "Query": text}
        body: dict[str, Any] = {"bId": bid, "operation": self.operation, self.model.entity_name: self.payload}
        if self.options_data:
            body["optionsData"] = self.options_data
        return body


@dataclass(frozen=True)
class BatchItemResult:
    """The answer to one batch item: an entity, a query page, or the typed error QBO gave for it."""

    bid: str
    item: BatchItem
    entity: QboEntity | None = None
    page: QueryPage[Any] | None = None
    error: PaymoQbError | None = field(default=None)

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class CdcResult:
    """What ``GET /cdc`` reported: changed records per entity, the Ids of deleted ones, the server's clock.

    ``server_time`` is the response's ``time`` (the high-water mark for the next call; None when QBO
    sent none). ``truncated`` is true when the response holds as many objects as QBO returns at most
    (1000): more changes may exist than were returned, so the caller must reload instead.
    """

    changed: dict[str, list[QboEntity]]
    deleted: dict[str, list[str]]
    server_time: dt.datetime | None
    truncated: bool

    @property
    def count(self) -> int:
        return sum(len(rows) for rows in self.changed.values()) + sum(
            len(ids) for ids in self.deleted.values()
        )


def server_time(document: Mapping[str, Any]) -> dt.datetime | None:
    """The ``time`` QBO puts in every JSON envelope, as an aware datetime (None when absent or unreadable)."""
    raw = document.get("time")
    if not isinstance(raw, str):
        return None
    try:
        moment = dt.datetime.fromisoformat(raw)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def _id_and_token(entity_id: str, sync_token: str) -> dict[str, Any]:
    return {"Id": _check_entity_id(entity_id), "SyncToken": _check_entity_id(str(sync_token), "SyncToken")}


def _update_payload(entity: QboEntity, sparse: bool) -> dict[str, Any]:
    if not entity.Id or entity.SyncToken is None:
        raise InputError(
            f"updating a {entity.entity_name} needs its Id and current SyncToken (re-read it first)",
            field_name="SyncToken",
        )
    _check_entity_id(entity.Id)
    payload = entity.to_wire()
    payload["sparse"] = sparse
    return payload


def _require_transaction(model: type[QboEntity], action: str) -> None:
    if not model.is_transaction:
        raise InputError(
            f"QuickBooks cannot {action} a {model.entity_name} (a name-list entity); "
            "deactivate it instead (Active = false)",
            field_name="model",
        )


class QboClient:
    """An async client for one QBO company. Use as ``async with QboClient(...) as qbo:``.

    ``limiter`` defaults to the process-wide limiter of this realm (500/min, 10/s, 4 in flight),
    and every request to ``/batch`` is additionally paced at 40/min. Passing a ``limiter`` hands all
    pacing to it and to ``batch_limiter`` (none by default then; tests pass ``UnlimitedLimiter()`` or
    one with an injected clock). ``time_scale`` shortens the default limiters' windows that many
    times, for an emulator whose limits are scaled the same way (they are process-wide per realm and
    scale). ``sleep`` is the retry loop's sleep, injectable so tests need not wait out a 429.
    """

    def __init__(
        self,
        *,
        base_url: str,
        realm_id: str,
        token_provider: TokenProvider,
        minorversion: int = DEFAULT_MINORVERSION,
        transport: httpx.AsyncBaseTransport | None = None,
        limiter: RateLimiter | None = None,
        retry: RetryPolicy | None = None,
        batch_limiter: RateLimiter | None = None,
        timeout: float = 60.0,
        sleep: Sleep = anyio.sleep,
        rng: random.Random | None = None,
        time_scale: float = 1.0,
    ) -> None:
        base = base_url.rstrip("/")
        if not base.startswith(("https://", "http://")):
            raise ConfigError(
                f"QBO_BASE_URL {base_url!r} must be an http(s) URL such as {QBO_BASE_URLS['production']}"
            )
        if "/v3" in httpx.URL(base).path:
            raise ConfigError(f"QBO_BASE_URL {base_url!r} must stop before /v3 (the client adds the path)")
        if not _REALM_ID.fullmatch(realm_id or ""):
            raise ConfigError(f"QBO_REALM_ID {realm_id!r} must be the company id (letters and digits)")
        self.realm_id = realm_id
        self.minorversion = minorversion
        self._tokens = token_provider
        if limiter is None:
            # A scaled budget is another budget: it must not be shared with the real one.
            key = realm_id if time_scale == 1.0 else f"{realm_id}@x{time_scale:g}"
            limiter = limiter_for(SERVICE, key, lambda: QboRealmLimiter(time_scale=time_scale))
            if batch_limiter is None:
                batch_limiter = limiter_for(
                    f"{SERVICE}-batch", key, lambda: qbo_batch_limiter(time_scale=time_scale)
                )
        self._batch_limiter = batch_limiter
        self._http = HttpService(
            service=SERVICE,
            base_url=f"{base}/v3/company/{realm_id}",
            transport=transport,
            limiter=limiter,
            retry=retry,
            timeout=timeout,
            headers={"Accept": "application/json"},
            sleep=sleep,
            rng=rng,
        )

    async def __aenter__(self) -> Self:
        await self._http.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self._http.__aexit__(exc_type, exc_value, traceback)

    async def aclose(self) -> None:
        await self._http.aclose()

    # --- transport ---------------------------------------------------------------------------

    async def _send(
        self,
        method: str,
        path: str,
        *,
        operation: Operation,
        what: str,
        params: Mapping[str, str] | None = None,
        json_body: Any = None,
        content: bytes | None = None,
        content_type: str | None = None,
    ) -> tuple[dict[str, Any], RequestInfo]:
        """Send one request (refreshing the token once on 401) and return the decoded JSON body."""
        query = {**(params or {}), "minorversion": str(self.minorversion)}
        replay_safe = is_replay_safe(operation, query)
        token = await self._tokens.access_token()
        response = await self._request(
            method, path, query, json_body, content, content_type, token, replay_safe
        )
        if response.status_code == 401:
            rejected = self._error(response, operation, what)
            fresh = await self._tokens.refresh_after_unauthorized(token)
            if fresh is None:
                raise rejected
            # A 401 means QBO did not act on the request, so sending it again is safe for any write.
            response = await self._request(
                method, path, query, json_body, content, content_type, fresh, replay_safe
            )
            if response.status_code == 401:
                again = self._error(response, operation, what)
                raise ReauthorizationRequired(
                    f"{again.message} A freshly refreshed token was refused too: the connection to this "
                    "company is broken (app disconnected, realm/token mismatch or lost access). "
                    "Run `paymo-qb-mcp auth quickbooks` again."
                )
        info = self._http.request_info(response.request, response)
        if not response.is_success:
            raise self._error(response, operation, what)
        document = self._decode(response, operation, what, info)
        fault = fault_from_json(document)
        if fault is not None:
            # Intuit documents that a 200 "may" carry a Fault; it is an error whatever the status.
            raise error_for_fault(
                fault, status=response.status_code, operation=operation, what=what, request=info
            )
        return document, info

    async def _request(
        self,
        method: str,
        path: str,
        params: Mapping[str, str],
        json_body: Any,
        content: bytes | None,
        content_type: str | None,
        token: str,
        replay_safe: bool,
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        if content_type is not None:
            headers["Content-Type"] = content_type
        return await self._http.request(
            method,
            path,
            params=params,
            json_body=json_body,
            content=content,
            headers=headers,
            replay_safe=replay_safe,
            # QBO counts batch requests in a budget of their own, each attempt once.
            extra_limiter=self._batch_limiter if path == "/batch" else None,
        )

    def _error(self, response: httpx.Response, operation: Operation, what: str) -> PaymoQbError:
        return error_for_response(
            response,
            operation=operation,
            what=what,
            request=self._http.request_info(response.request, response),
        )

    def _decode(
        self, response: httpx.Response, operation: Operation, what: str, info: RequestInfo
    ) -> dict[str, Any]:
        content_type = response.headers.get("Content-Type", "").lower()
        if "json" not in content_type:
            fault = parse_fault(response)
            if fault is not None:
                raise error_for_fault(
                    fault, status=response.status_code, operation=operation, what=what, request=info
                )
            raise DataError(
                f"QuickBooks {what} answered {content_type or 'no Content-Type'} instead of JSON "
                f"(intuit_tid {info.upstream_request_id or 'unknown'})"
            )
        document = jsonwire.loads(response.content)
        if not isinstance(document, dict):
            raise DataError(f"QuickBooks {what} answered a JSON {type(document).__name__}, not an object")
        return document

    @staticmethod
    def _parse(model: type[M], raw: object, what: str) -> M:
        if not isinstance(raw, Mapping):
            raise DataError(
                f"QuickBooks {what}: expected a {model.entity_name} object, got {type(raw).__name__}"
            )
        try:
            return model.model_validate(raw)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}"
                for error in exc.errors()[:5]
            )
            raise DataError(
                f"QuickBooks {what} returned a {model.entity_name} we cannot read: {problems}"
            ) from exc

    def _entity(self, model: type[M], document: Mapping[str, Any], what: str) -> M:
        if model.entity_name not in document:
            keys = ", ".join(sorted(k for k in document if k != "time")) or "nothing"
            raise DataError(f"QuickBooks {what} answered with {keys} instead of a {model.entity_name}")
        return self._parse(model, document[model.entity_name], what)

    # --- single-entity operations ------------------------------------------------------------

    async def read(self, model: type[M], entity_id: str) -> M:
        """``GET /{entity}/{id}``; an unknown or deleted id raises ``NotFound``."""
        _check_entity_id(entity_id)
        what = f"read {model.entity_name} {entity_id}"
        document, _ = await self._send(
            "GET", f"/{model.path()}/{quote(entity_id, safe='')}", operation="read", what=what
        )
        return self._entity(model, document, what)

    @overload
    async def create(
        self, obj: M, *, request_id: str, model: None = None, allow_duplicate_doc_number: bool = False
    ) -> M: ...

    @overload
    async def create(
        self,
        obj: Mapping[str, Any],
        *,
        request_id: str,
        model: type[M],
        allow_duplicate_doc_number: bool = False,
    ) -> M: ...

    async def create(
        self,
        obj: QboEntity | Mapping[str, Any],
        *,
        request_id: str,
        model: type[QboEntity] | None = None,
        allow_duplicate_doc_number: bool = False,
    ) -> QboEntity:
        """``POST /{entity}?requestid=...``: create a record; returns it as QBO stored it.

        Reusing ``request_id`` for the same logical write (on a retry, after a crash) makes QBO
        replay the first answer instead of creating a second record.
        """
        if isinstance(obj, QboEntity):
            target: type[QboEntity] = type(obj)
            payload = obj.to_wire()
        else:
            if model is None:
                raise InputError(
                    "create() with a plain mapping needs model=<Entity class>", field_name="model"
                )
            target = model
            payload = dict(self._parse(model, obj, f"create {model.entity_name}").to_wire())
        if "Id" in payload:
            raise InputError(
                f"create() got a {target.entity_name} that already has an Id; "
                "use update() for existing records",
                field_name="Id",
            )
        params = {"requestid": _check_request_id(request_id, limit=MAX_REQUEST_ID_LENGTH)}
        if allow_duplicate_doc_number:
            params["include"] = "allowduplicatedocnum"
        what = f"create {target.entity_name}"
        document, _ = await self._send(
            "POST", f"/{target.path()}", operation="create", what=what, params=params, json_body=payload
        )
        return self._entity(target, document, what)

    async def update(self, obj: M, *, request_id: str, sparse: bool = True) -> M:
        """``POST /{entity}`` with ``Id``, ``SyncToken`` and ``sparse``.

        Sparse (the default) changes only the fields present on ``obj``; a full update (``sparse=False``)
        sets every omitted writable field to NULL. ``Line`` lists are replaced wholesale either way.
        A stale ``SyncToken`` raises ``Conflict``.
        """
        payload = _update_payload(obj, sparse)
        params = {"requestid": _check_request_id(request_id, limit=MAX_REQUEST_ID_LENGTH)}
        model = type(obj)
        what = f"update {model.entity_name} {obj.Id}"
        document, _ = await self._send(
            "POST", f"/{model.path()}", operation="update", what=what, params=params, json_body=payload
        )
        return self._entity(model, document, what)

    async def delete(self, model: type[M], entity_id: str, sync_token: str, *, request_id: str) -> M:
        """``POST /{entity}?operation=delete`` (transactions only); returns QBO's ``status: Deleted`` stub."""
        _require_transaction(model, "delete")
        payload = _id_and_token(entity_id, sync_token)
        params = {
            "operation": "delete",
            "requestid": _check_request_id(request_id, limit=MAX_REQUEST_ID_LENGTH),
        }
        what = f"delete {model.entity_name} {entity_id}"
        document, _ = await self._send(
            "POST", f"/{model.path()}", operation="delete", what=what, params=params, json_body=payload
        )
        return self._entity(model, document, what)

    async def deactivate(self, model: type[M], entity_id: str, sync_token: str, *, request_id: str) -> M:
        """What "delete" means for name lists (Customer, Item, ...): a sparse update ``Active = false``."""
        if "Active" not in model.model_fields:
            raise InputError(f"a {model.entity_name} has no Active flag to clear", field_name="model")
        entity = model.model_validate({**_id_and_token(entity_id, sync_token), "Active": False})
        return await self.update(entity, request_id=request_id, sparse=True)

    async def void(self, model: type[M], entity_id: str, sync_token: str, *, request_id: str) -> M:
        """Void a transaction: invoices by ``operation=void``, payments by ``operation=update&include=void``.

        The record stays, with zero amounts and ``Voided`` prepended to ``PrivateNote``.
        """
        payload = _id_and_token(entity_id, sync_token)
        params = {"requestid": _check_request_id(request_id, limit=MAX_REQUEST_ID_LENGTH)}
        if model.void_style == "operation_void":
            params["operation"] = "void"
        elif model.void_style == "update_include_void":
            params["operation"] = "update"
            params["include"] = "void"
            payload["sparse"] = True
        else:
            raise InputError(f"QuickBooks cannot void a {model.entity_name}", field_name="model")
        what = f"void {model.entity_name} {entity_id}"
        document, _ = await self._send(
            "POST", f"/{model.path()}", operation="void", what=what, params=params, json_body=payload
        )
        return self._entity(model, document, what)

    async def company_info(self) -> CompanyInfo:
        """``GET /companyinfo/{realmId}``: country, name, address, flags."""
        what = "read CompanyInfo"
        document, _ = await self._send(
            "GET", f"/companyinfo/{quote(self.realm_id, safe='')}", operation="read", what=what
        )
        return self._entity(CompanyInfo, document, what)

    async def preferences(self) -> Preferences:
        """``GET /preferences``: tax model, multicurrency, custom numbering, book close date."""
        return (await self.preferences_at())[0]

    async def preferences_at(self) -> tuple[Preferences, dt.datetime | None]:
        """``preferences()`` and QBO's clock when it answered (``time``; None when absent): a change
        data capture from that moment misses nothing that changed after this read began."""
        what = "read Preferences"
        document, _ = await self._send("GET", "/preferences", operation="read", what=what)
        return self._entity(Preferences, document, what), server_time(document)

    # --- change data capture --------------------------------------------------------------------

    async def cdc(self, models: Sequence[type[QboEntity]], changed_since: dt.datetime) -> CdcResult:
        """``GET /cdc``: every record of ``models`` changed at or after ``changed_since`` (QBO looks back at
        most 30 days and returns at most 1000 objects; ``CdcResult.truncated`` says when that cap was met).

        Deleted records come back as stubs with their Id. TimeActivity, TaxCode and TaxRate are not
        tracked by QBO's change data capture.
        """
        if not models:
            raise InputError("cdc() needs at least one entity", field_name="models")
        if changed_since.tzinfo is None:
            raise InputError("changed_since must be timezone-aware", field_name="changed_since")
        by_name = {model.entity_name: model for model in models}
        params = {
            "entities": ",".join(by_name),
            "changedSince": changed_since.isoformat(timespec="seconds"),
        }
        what = f"change data capture of {', '.join(by_name)}"
        document, _ = await self._send("GET", "/cdc", operation="read", what=what, params=params)
        outer = document.get("CDCResponse")
        if not isinstance(outer, list):
            raise DataError(f"QuickBooks {what} answered without a CDCResponse list")
        changed: dict[str, list[QboEntity]] = {name: [] for name in by_name}
        deleted: dict[str, list[str]] = {name: [] for name in by_name}
        total = 0
        for block in outer:
            responses = block.get("QueryResponse") if isinstance(block, Mapping) else None
            for response in responses if isinstance(responses, list) else []:
                if not isinstance(response, Mapping):
                    continue
                for name, model in by_name.items():
                    rows = response.get(name)
                    if not isinstance(rows, list):
                        continue
                    for row in rows:
                        total += 1
                        if isinstance(row, Mapping) and str(row.get("status", "")).lower() == "deleted":
                            deleted[name].append(str(row.get("Id")))
                        else:
                            changed[name].append(self._parse(model, row, what))
        return CdcResult(
            changed=changed,
            deleted=deleted,
            server_time=server_time(document),
            truncated=total >= CDC_MAX_OBJECTS,
        )

    # --- queries ------------------------------------------------------------------------------

    async def _run_query(self, text: str, what: str) -> Mapping[str, Any]:
        if len(text) <= _MAX_GET_QUERY_LENGTH:
            document, _ = await self._send(
                "GET", "/query", operation="query", what=what, params={"query": text}
            )
        else:
            document, _ = await self._send(
                "POST",
                "/query",
                operation="query",
                what=what,
                content=text.encode("utf-8"),
                content_type="application/text",
            )
        response = document.get("QueryResponse")
        if not isinstance(response, Mapping):
            raise DataError(f"QuickBooks {what} answered without a QueryResponse")
        return response

    def _page(self, model: type[M], response: Mapping[str, Any], what: str) -> QueryPage[M]:
        rows = response.get(model.entity_name, [])  # absent when nothing matched
        if not isinstance(rows, list):
            raise DataError(f"QuickBooks {what}: {model.entity_name} rows are not a list")
        items = [self._parse(model, row, what) for row in rows]
        total = response.get("totalCount")
        return QueryPage(
            items=items,
            start_position=int(response.get("startPosition", 1)),
            max_results=int(response.get("maxResults", len(items))),
            total_count=int(total) if total is not None else None,
        )

    async def query(
        self, statement: Select[M], *, start_position: int = 1, max_results: int = MAX_PAGE_SIZE
    ) -> QueryPage[M]:
        """One page of a query (``STARTPOSITION`` is 1-based, at most 1000 rows)."""
        text = statement.statement(start_position=start_position, max_results=max_results)
        what = f"query {statement.entity}"
        return self._page(statement.model, await self._run_query(text, what), what)

    async def query_all(
        self,
        model_or_statement: type[M] | Select[M],
        *conditions: Condition,
        order_by: str | OrderBy | Sequence[str | OrderBy] | None = "Id",
        page_size: int = MAX_PAGE_SIZE,
    ) -> list[M]:
        """Every matching row, paging until a page comes back short.

        Paging needs a stable order, so ``ORDERBY Id`` is added unless the statement has its own
        ordering or ``order_by`` says otherwise. Name-list queries without an ``Active`` condition
        may return active rows only; add ``ACTIVE_OR_INACTIVE`` (``query.py``) to get both.
        """
        statement = self._statement(model_or_statement, conditions)
        if not statement.ordering and order_by is not None:
            keys = [order_by] if isinstance(order_by, str | OrderBy) else list(order_by)
            statement = statement.order_by(*keys)
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise InputError(f"page_size must be 1..{MAX_PAGE_SIZE}", field_name="page_size")
        items: list[M] = []
        start = 1
        while True:
            page = await self.query(statement, start_position=start, max_results=page_size)
            items.extend(page.items)
            if len(page.items) < page_size:
                return items
            start += page_size

    async def count(self, model_or_statement: type[M] | Select[M], *conditions: Condition) -> int:
        """``SELECT COUNT(*)``: how many rows match."""
        statement = self._statement(model_or_statement, conditions)
        what = f"count {statement.entity}"
        response = await self._run_query(statement.count_statement(), what)
        total = response.get("totalCount")
        if total is None:
            raise DataError(f"QuickBooks {what} answered without totalCount")
        return int(total)

    @staticmethod
    def _statement(model_or_statement: type[M] | Select[M], conditions: Sequence[Condition]) -> Select[M]:
        statement = (
            model_or_statement if isinstance(model_or_statement, Select) else select(model_or_statement)
        )
        return statement.where(*conditions) if conditions else statement

    # --- batch --------------------------------------------------------------------------------

    async def batch(
        self, items: Sequence[BatchItem], *, request_id: str | None = None
    ) -> list[BatchItemResult]:
        """Send items through ``POST /batch``, at most 30 per request; results come back in input order.

        A failing item does not fail the call: its result carries the typed error (``DuplicateName``,
        ``Conflict``, ...). Batches holding writes need ``request_id`` (≤ 36 characters); when the
        list is split, each chunk gets a requestid derived from it, so retrying the whole call with
        the same ``request_id`` replays every chunk. Items are independent: one cannot see another's
        result.
        """
        if not items:
            return []
        has_writes = any(item.is_write for item in items)
        if has_writes and request_id is None:
            raise InputError(
                "a batch with writes needs request_id (QBO's requestid)", field_name="request_id"
            )
        if request_id is not None:
            _check_request_id(request_id, limit=MAX_BATCH_REQUEST_ID_LENGTH)
        bids = self._batch_ids(items, with_request_id=request_id is not None)
        chunks = [
            range(i, min(i + MAX_BATCH_ITEMS, len(items))) for i in range(0, len(items), MAX_BATCH_ITEMS)
        ]
        results: list[BatchItemResult] = []
        for number, chunk in enumerate(chunks):
            chunk_request_id = request_id
            if request_id is not None and len(chunks) > 1:
                chunk_request_id = str(uuid.uuid5(_BATCH_CHUNK_NAMESPACE, f"{request_id}#{number}"))
            results.extend(await self._batch_chunk([(bids[i], items[i]) for i in chunk], chunk_request_id))
        return results

    @staticmethod
    def _batch_ids(items: Sequence[BatchItem], *, with_request_id: bool) -> list[str]:
        bids = [item.bid or f"b{index + 1}" for index, item in enumerate(items)]
        if len(set(bids)) != len(bids):
            raise InputError("batch item ids (bid) must be unique", field_name="bid")
        for bid in bids:
            if not _REQUEST_ID.fullmatch(bid):
                raise InputError(f"batch item id {bid!r} must be printable ASCII", field_name="bid")
            if with_request_id and len(bid) > MAX_BATCH_ID_LENGTH:
                raise InputError(
                    f"batch item id {bid!r} is longer than {MAX_BATCH_ID_LENGTH} characters, "
                    "QBO's limit when the batch carries a requestid",
                    field_name="bid",
                )
        return bids

    async def _batch_chunk(
        self, entries: Sequence[tuple[str, BatchItem]], request_id: str | None
    ) -> list[BatchItemResult]:
        body = {"BatchItemRequest": [item.to_wire(bid) for bid, item in entries]}
        params = {"requestid": request_id} if request_id is not None else {}
        has_writes = any(item.is_write for _, item in entries)
        what = f"batch of {len(entries)}"
        document, info = await self._send(
            "POST",
            "/batch",
            operation="batch" if has_writes else "query",
            what=what,
            params=params,
            json_body=body,
        )
        raw_results = document.get("BatchItemResponse")
        if not isinstance(raw_results, list):
            raise DataError(f"QuickBooks {what} answered without a BatchItemResponse list")
        by_bid = {str(raw.get("bId")): raw for raw in raw_results if isinstance(raw, Mapping)}
        return [self._batch_result(bid, item, by_bid.get(bid), info) for bid, item in entries]

    def _batch_result(
        self, bid: str, item: BatchItem, raw: Mapping[str, Any] | None, info: RequestInfo
    ) -> BatchItemResult:
        what = f"batch item {bid} ({item.label})"
        if raw is None:
            return BatchItemResult(bid, item, error=DataError(f"QuickBooks {what}: no answer for this bId"))
        fault = fault_from_json(raw)
        if fault is not None:
            operation: Operation = "query" if item.operation is None else item.operation
            if item.options_data == "void":
                operation = "void"
            return BatchItemResult(
                bid,
                item,
                error=error_for_fault(fault, status=None, operation=operation, what=what, request=info),
            )
        try:
            if item.query is not None:
                response = raw.get("QueryResponse")
                if not isinstance(response, Mapping):
                    raise DataError(f"QuickBooks {what} answered without a QueryResponse")
                return BatchItemResult(bid, item, page=self._page(item.model, response, what))
            return BatchItemResult(bid, item, entity=self._entity(item.model, raw, what))
        except DataError as exc:
            return BatchItemResult(bid, item, error=exc)
