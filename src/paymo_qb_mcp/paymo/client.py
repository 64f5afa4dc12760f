"""The async Paymo API client: API-key auth, envelopes, paging, typed errors and the calls the sync needs."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Awaitable, Callable, Mapping, Sequence
from decimal import Decimal
from types import TracebackType
from typing import Any, Final, Self, TypeVar

import anyio
import httpx
from pydantic import SecretStr, ValidationError

from paymo_qb_mcp.domain.secrets import KnownSecrets
from paymo_qb_mcp.errors import (
    AuthError,
    DataError,
    InputError,
    NotFound,
    PaymoQbError,
    Rejected,
    Transient,
    UpstreamError,
)
from paymo_qb_mcp.net import jsonwire
from paymo_qb_mcp.net.http import HttpService
from paymo_qb_mcp.net.ratelimit import PaymoPacer, RateLimiter, key_fingerprint, limiter_for
from paymo_qb_mcp.net.redact import redact_text
from paymo_qb_mcp.net.retry import RetryPolicy, parse_retry_after
from paymo_qb_mcp.paymo.models import (
    INVOICE_STATUSES,
    Client,
    ClientContact,
    Company,
    Estimate,
    Expense,
    Invoice,
    InvoicePayment,
    PaymoModel,
    Project,
    Task,
    Tasklist,
    TimeEntry,
    User,
)
from paymo_qb_mcp.paymo.where import Condition, render_include, render_where

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_PAGE_SIZE",
    "LARGEST_PAGE_SIZE",
    "SERVICE",
    "Filters",
    "Include",
    "PaymoClient",
]

SERVICE = "paymo"
DEFAULT_BASE_URL = "https://app.paymoapp.com/api"
# Paymo staff suggest 100 per page; included collections are cut at 2,500 objects per response, so
# smaller pages are also what keeps `include=invoiceitems` complete.
DEFAULT_PAGE_SIZE = 100
# Paymo's largest page (2,500, per its support; unconfirmed), for lists without included collections,
# which the 2,500-object cap cannot cut: a month's time entries or payments in a few requests at about
# one a second, instead of one per hundred.
LARGEST_PAGE_SIZE: Final = 2500

Filters = Condition | str | Sequence[Condition | str] | None
Include = Sequence[str] | str | None
Sleep = Callable[[float], Awaitable[None]]
ModelT = TypeVar("ModelT", bound=PaymoModel)

_ERROR_BODY_LIMIT = 300


class PaymoClient:
    """One Paymo account, reached with an API key. Use as ``async with PaymoClient(...) as paymo:``.

    Reads are retried on 5xx and network errors; writes never are (Paymo has no idempotency key, so
    a repeated create could duplicate). 429s are waited out for both, within the retry policy.
    """

    def __init__(
        self,
        *,
        base_url: str = DEFAULT_BASE_URL,
        api_key: str | SecretStr,
        transport: httpx.AsyncBaseTransport | None = None,
        limiter: RateLimiter | None = None,
        retry: RetryPolicy | None = None,
        timeout: float = 30.0,
        sleep: Sleep = anyio.sleep,
        rng: random.Random | None = None,
        time_scale: float = 1.0,
    ) -> None:
        secret = api_key if isinstance(api_key, SecretStr) else SecretStr(api_key)
        key = secret.get_secret_value()
        if not key.strip():
            raise InputError("the Paymo API key is empty; set PAYMO_API_KEY", field_name="api_key")
        # Masked by value in error details: a gateway or error page may quote the key back.
        self._own_secrets = KnownSecrets((key,))
        if limiter is None:
            # One pacer per key for the whole process: every client of the same account shares it. It
            # keeps real time: an injected `sleep` belongs to this client, the pacer outlives it.
            # `time_scale` shortens its first assumed window, for an emulator scaled the same way; a
            # scaled pacer is another budget and is not shared with the real one.
            name = key_fingerprint(key) if time_scale == 1.0 else f"{key_fingerprint(key)}@x{time_scale:g}"
            limiter = limiter_for(SERVICE, name, lambda: PaymoPacer(time_scale=time_scale))
        self._http = HttpService(
            service=SERVICE,
            base_url=base_url,
            transport=transport,
            limiter=limiter,
            retry=retry,
            timeout=timeout,
            # Paymo takes the key as the Basic-auth user name; the password may be any non-empty text.
            auth=httpx.BasicAuth(key, "X"),
            sleep=sleep,
            rng=rng,
        )

    # -- lifecycle ------------------------------------------------------------------------------

    @property
    def limiter(self) -> RateLimiter:
        """The rate limiter this client sends through (shared per API key unless one was passed)."""
        return self._http.limiter

    async def aclose(self) -> None:
        await self._http.aclose()

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

    # -- account --------------------------------------------------------------------------------

    async def company(self) -> Company:
        """The company settings: currency, default taxes, invoice numbering, time zone."""
        body = await self._call("GET", "company", replay_safe=True)
        return self._one(body, Company, "company")

    async def me(self) -> User:
        """The user the API key belongs to."""
        body = await self._call("GET", "me", replay_safe=True)
        return self._one(body, User, "me")

    async def list_users(
        self, *, where: Filters = None, include: Include = None, page_size: int | None = DEFAULT_PAGE_SIZE
    ) -> list[User]:
        return await self._list("users", User, where=where, include=include, page_size=page_size)

    # -- clients --------------------------------------------------------------------------------

    async def list_clients(
        self, *, where: Filters = None, include: Include = None, page_size: int | None = DEFAULT_PAGE_SIZE
    ) -> list[Client]:
        return await self._list("clients", Client, where=where, include=include, page_size=page_size)

    async def get_client(self, client_id: int, *, include: Include = None) -> Client:
        return await self._get("clients", Client, client_id, include=include)

    async def create_client(self, fields: Mapping[str, Any], *, include: Include = None) -> Client:
        """Create a client from wire fields (``name`` required; ``email``, address fields, ...)."""
        name = fields.get("name")
        if not isinstance(name, str) or not name.strip():
            raise InputError("a Paymo client needs a non-empty name", field_name="name")
        return await self._create("clients", Client, fields, include=include)

    async def update_client(
        self, client_id: int, changes: Mapping[str, Any], *, include: Include = None
    ) -> Client:
        """Send only the changed fields (``{"active": false}`` archives the client)."""
        return await self._update("clients", Client, client_id, changes, include=include)

    async def list_client_contacts(
        self, *, where: Filters = None, include: Include = None, page_size: int | None = DEFAULT_PAGE_SIZE
    ) -> list[ClientContact]:
        return await self._list(
            "clientcontacts", ClientContact, where=where, include=include, page_size=page_size
        )

    # -- projects, task lists, tasks ---------------------------------------------------------------

    async def list_projects(
        self, *, where: Filters = None, include: Include = None, page_size: int | None = DEFAULT_PAGE_SIZE
    ) -> list[Project]:
        return await self._list("projects", Project, where=where, include=include, page_size=page_size)

    async def get_project(self, project_id: int, *, include: Include = None) -> Project:
        return await self._get("projects", Project, project_id, include=include)

    async def list_tasklists(
        self, *, where: Filters = None, include: Include = None, page_size: int | None = DEFAULT_PAGE_SIZE
    ) -> list[Tasklist]:
        return await self._list("tasklists", Tasklist, where=where, include=include, page_size=page_size)

    async def list_tasks(
        self, *, where: Filters = None, include: Include = None, page_size: int | None = DEFAULT_PAGE_SIZE
    ) -> list[Task]:
        return await self._list("tasks", Task, where=where, include=include, page_size=page_size)

    async def get_task(self, task_id: int, *, include: Include = None) -> Task:
        return await self._get("tasks", Task, task_id, include=include)

    # -- time -----------------------------------------------------------------------------------

    async def list_time_entries(
        self, *, where: Filters = None, include: Include = None, page_size: int | None = DEFAULT_PAGE_SIZE
    ) -> list[TimeEntry]:
        """Time entries; filter with ``project_id``, ``task_id``, ``user_id``, ``client_id``,
        ``billed`` or ``time_interval(start, end)``."""
        return await self._list("entries", TimeEntry, where=where, include=include, page_size=page_size)

    async def get_time_entry(self, entry_id: int, *, include: Include = None) -> TimeEntry:
        return await self._get("entries", TimeEntry, entry_id, include=include)

    async def update_time_entry(
        self, entry_id: int, changes: Mapping[str, Any], *, include: Include = None
    ) -> TimeEntry:
        """E.g. ``{"billed": True, "invoice_item_id": 77}`` once the time is on an invoice."""
        return await self._update("entries", TimeEntry, entry_id, changes, include=include)

    # -- invoices and payments ---------------------------------------------------------------------

    async def list_invoices(
        self, *, where: Filters = None, include: Include = None, page_size: int | None = DEFAULT_PAGE_SIZE
    ) -> list[Invoice]:
        """Invoices; pass ``include=("invoiceitems", "invoicepayments")`` for lines and payments."""
        return await self._list("invoices", Invoice, where=where, include=include, page_size=page_size)

    async def get_invoice(self, invoice_id: int, *, include: Include = None) -> Invoice:
        return await self._get("invoices", Invoice, invoice_id, include=include)

    async def update_invoice(
        self, invoice_id: int, changes: Mapping[str, Any], *, include: Include = None
    ) -> Invoice:
        """Header changes such as ``{"status": "void"}``. An ``items`` key replaces the complete line set."""
        status = changes.get("status")
        if status is not None and status not in INVOICE_STATUSES:
            raise InputError(
                f"{status!r} is not an invoice status Paymo accepts; use one of {sorted(INVOICE_STATUSES)}",
                field_name="status",
            )
        return await self._update("invoices", Invoice, invoice_id, changes, include=include)

    async def list_invoice_payments(
        self, *, where: Filters = None, include: Include = None, page_size: int | None = DEFAULT_PAGE_SIZE
    ) -> list[InvoicePayment]:
        return await self._list(
            "invoicepayments", InvoicePayment, where=where, include=include, page_size=page_size
        )

    async def create_invoice_payment(
        self, *, invoice_id: int, amount: Decimal, date: dt.date | None = None, notes: str | None = None
    ) -> InvoicePayment:
        """Record a payment in the invoice's currency. Paymo refuses more than the open balance and flips
        the invoice to ``paid`` when the payments reach its total."""
        if not isinstance(amount, Decimal) or not amount.is_finite() or amount <= 0:
            raise InputError(
                f"a payment amount must be a positive Decimal, not {amount!r}", field_name="amount"
            )
        body: dict[str, Any] = {"invoice_id": invoice_id, "amount": amount}
        if date is not None:
            body["date"] = date
        if notes is not None:
            body["notes"] = notes
        return await self._create("invoicepayments", InvoicePayment, body, include=None)

    async def update_invoice_payment(self, payment_id: int, changes: Mapping[str, Any]) -> InvoicePayment:
        return await self._update("invoicepayments", InvoicePayment, payment_id, changes, include=None)

    async def delete_invoice_payment(self, payment_id: int) -> None:
        await self._call("DELETE", f"invoicepayments/{_object_id(payment_id)}", replay_safe=False)

    # -- expenses and estimates --------------------------------------------------------------------

    async def list_expenses(
        self, *, where: Filters = None, include: Include = None, page_size: int | None = DEFAULT_PAGE_SIZE
    ) -> list[Expense]:
        return await self._list("expenses", Expense, where=where, include=include, page_size=page_size)

    async def get_expense(self, expense_id: int, *, include: Include = None) -> Expense:
        return await self._get("expenses", Expense, expense_id, include=include)

    async def update_expense(
        self, expense_id: int, changes: Mapping[str, Any], *, include: Include = None
    ) -> Expense:
        """E.g. ``{"invoiced": True}`` once the expense is billed elsewhere."""
        return await self._update("expenses", Expense, expense_id, changes, include=include)

    async def list_estimates(
        self, *, where: Filters = None, include: Include = None, page_size: int | None = DEFAULT_PAGE_SIZE
    ) -> list[Estimate]:
        return await self._list("estimates", Estimate, where=where, include=include, page_size=page_size)

    async def get_estimate(self, estimate_id: int, *, include: Include = None) -> Estimate:
        return await self._get("estimates", Estimate, estimate_id, include=include)

    # -- plumbing -------------------------------------------------------------------------------

    async def _list(
        self,
        collection: str,
        model: type[ModelT],
        *,
        where: Filters,
        include: Include,
        page_size: int | None,
    ) -> list[ModelT]:
        params = _query(where=where, include=include)
        if page_size is None:
            body = await self._call("GET", collection, params=params, replay_safe=True)
            return self._many(body, model, collection)
        if page_size < 1:
            raise InputError(
                "page_size must be at least 1 (or None for one unpaged request)", field_name="page_size"
            )
        # Paymo pages carry no total or next link: keep going until a page comes back short.
        found: list[ModelT] = []
        seen: set[int] = set()
        page = 0
        while True:
            page_params = {**params, "page": str(page), "page_size": str(page_size)}
            body = await self._call("GET", collection, params=page_params, replay_safe=True)
            batch = self._many(body, model, collection)
            fresh = [item for item in batch if item.id not in seen]
            if batch and not fresh:
                raise DataError(
                    f"Paymo returned page {page} of {collection} with only objects already seen; "
                    "it seems to ignore paging, so the list cannot be read reliably"
                )
            # The sort order is undocumented, so an object created meanwhile can shift a page: ids
            # keep each object once.
            seen.update(item.id for item in fresh)
            found.extend(fresh)
            if len(batch) > page_size:
                return found  # paging ignored, and the whole list came back at once
            if len(batch) < page_size:
                return found
            page += 1

    async def _get(self, collection: str, model: type[ModelT], object_id: int, *, include: Include) -> ModelT:
        path = f"{collection}/{_object_id(object_id)}"
        body = await self._call("GET", path, params=_query(include=include), replay_safe=True)
        return self._one(body, model, path)

    async def _create(
        self, collection: str, model: type[ModelT], fields: Mapping[str, Any], *, include: Include
    ) -> ModelT:
        body = await self._call(
            "POST", collection, params=_query(include=include), json_body=dict(fields), replay_safe=False
        )
        return self._one(body, model, collection)

    async def _update(
        self,
        collection: str,
        model: type[ModelT],
        object_id: int,
        changes: Mapping[str, Any],
        *,
        include: Include,
    ) -> ModelT:
        if not changes:
            raise InputError(f"nothing to change on {collection}/{object_id}", field_name="changes")
        if "id" in changes and changes["id"] != object_id:
            raise InputError("changes must not move an object to another id", field_name="id")
        path = f"{collection}/{_object_id(object_id)}"
        # PUT rather than POST: both update in Paymo, and PUT cannot be mistaken for a create.
        body = await self._call(
            "PUT", path, params=_query(include=include), json_body=dict(changes), replay_safe=False
        )
        return self._one(body, model, path)

    async def _call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json_body: Any = None,
        replay_safe: bool,
    ) -> Any:
        response = await self._http.request(
            method, path, params=params or None, json_body=json_body, replay_safe=replay_safe
        )
        if not response.is_success:
            raise self._error_for(response)
        if not response.content.strip():
            return None
        try:
            return jsonwire.loads(response.content)
        except DataError as exc:
            info = self._http.request_info(response.request, response)
            raise DataError(f"Paymo {info.method} {info.url} answered {response.status_code}: {exc}") from exc

    def _error_for(self, response: httpx.Response) -> PaymoQbError:
        status = response.status_code
        info = self._http.request_info(response.request, response)
        detail = _error_detail(response, self._own_secrets)
        where = f"Paymo {info.method} {info.url} answered {status}: {detail}"
        common: dict[str, Any] = {"service": SERVICE, "status": status, "detail": detail, "request": info}
        if status == 401:
            return AuthError(
                f"{where}. The API key was refused; check PAYMO_API_KEY (My Account → API keys)."
            )
        if status == 404:
            return NotFound(f"{where}. The record does not exist or was deleted; re-read the list.", **common)
        if status == 429:
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            wait = f"retry after {retry_after:.0f} s" if retry_after is not None else "retry later"
            return Transient(
                f"{where}. Paymo's rate limit is spent; {wait}.", retry_after=retry_after, **common
            )
        if status >= 500:
            return Transient(f"{where}. Paymo is having trouble; retry later.", **common)
        if status == 403:
            return Rejected(
                f"{where}. The key's user lacks the permission, or the plan's limit is reached.", **common
            )
        if status == 409:
            # Paymo's documented 409 is a second running timer: state, not a stale copy to re-read.
            return Rejected(f"{where}. The change conflicts with the record's current state.", **common)
        if 400 <= status < 500:
            return Rejected(f"{where}. Fix the request data; repeating it will fail again.", **common)
        return UpstreamError(f"{where}. Unexpected status.", **common)

    def _many(self, body: Any, model: type[ModelT], what: str) -> list[ModelT]:
        records = _envelope(body, what)
        try:
            return [model.model_validate(record) for record in records]
        except ValidationError as exc:
            raise _shape_error(exc, model, what) from exc

    def _one(self, body: Any, model: type[ModelT], what: str) -> ModelT:
        records = self._many(body, model, what)
        if len(records) != 1:
            raise DataError(f"Paymo answered {what} with {len(records)} objects where one was expected")
        return records[0]


def _object_id(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InputError(f"{value!r} is not a Paymo id (a positive integer)", field_name="id")
    return value


def _query(*, where: Filters = None, include: Include = None) -> dict[str, str]:
    params: dict[str, str] = {}
    where_text = render_where(where)
    if where_text:
        params["where"] = where_text
    include_text = render_include(include)
    if include_text:
        params["include"] = include_text
    return params


def _envelope(body: Any, what: str) -> list[Any]:
    """The records inside Paymo's envelope, read as "the single top-level key": its name varies
    (``project_templates`` for ``/projecttemplates``), and ``company`` holds an object, not a list."""
    if not isinstance(body, dict) or len(body) != 1:
        keys = sorted(body) if isinstance(body, dict) else type(body).__name__
        raise DataError(f"Paymo answered {what} without the one-key envelope (got {keys})")
    (value,) = body.values()
    if isinstance(value, dict):
        return [value]
    if isinstance(value, list) and all(isinstance(item, dict) for item in value):
        return value
    raise DataError(f"Paymo's {what} envelope holds a {type(value).__name__}, not objects")


def _shape_error(exc: ValidationError, model: type[PaymoModel], what: str) -> DataError:
    first = exc.errors(include_input=False, include_url=False)[0]
    location = ".".join(str(part) for part in first["loc"])
    return DataError(
        f"Paymo's {what} does not fit {model.__name__}: {location}: {first['msg']} "
        f"({exc.error_count()} problem(s))"
    )


def _error_detail(response: httpx.Response, own_secrets: KnownSecrets) -> str:
    # Paymo's error body is {"message": "..."}; anything else is summarised, never echoed in full.
    try:
        body = jsonwire.loads(response.content) if response.content else None
    except DataError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("message"), str) and body["message"].strip():
        return redact_text(body["message"].strip(), own_secrets)[:_ERROR_BODY_LIMIT]
    text = response.text.strip() if response.content else ""
    if text and not text.startswith("<"):
        return redact_text(text, own_secrets)[:_ERROR_BODY_LIMIT]
    return response.reason_phrase or f"HTTP {response.status_code}"
