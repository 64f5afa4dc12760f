"""PaymoClient against respx: auth, envelopes, paging, typed errors, and which calls are retried."""

from __future__ import annotations

import base64
import datetime as dt
import json
import random
from decimal import Decimal

import httpx
import pytest
import respx

from paymo_qb_mcp.errors import AuthError, DataError, InputError, NotFound, Rejected, Transient, UpstreamError
from paymo_qb_mcp.net.ratelimit import (
    PaymoPacer,
    UnlimitedLimiter,
    clear_limiters,
    key_fingerprint,
    limiter_for,
)
from paymo_qb_mcp.net.retry import RetryPolicy
from paymo_qb_mcp.paymo import (
    Client,
    Company,
    Estimate,
    Expense,
    Invoice,
    InvoicePayment,
    PaymoClient,
    PaymoModel,
    Project,
    Task,
    Tasklist,
    TimeEntry,
    User,
    eq,
    ge,
    in_,
)

API = "https://app.paymoapp.com/api"
KEY = "pk-test-5e1f0a9c"


class Sleeps:
    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def make_client(sleep: Sleeps | None = None, retry: RetryPolicy | None = None) -> PaymoClient:
    return PaymoClient(
        api_key=KEY, limiter=UnlimitedLimiter(), sleep=sleep or Sleeps(), retry=retry, rng=random.Random(0)
    )


def client_json(client_id: int, name: str = "Acme Corporation") -> dict[str, object]:
    return {
        "id": client_id,
        "name": name,
        "email": "ap@acme.example",
        "active": True,
        "created_on": "2026-10-01T09:00:00Z",
        "updated_on": "2026-10-02T10:11:12Z",
    }


def envelope(key: str, *objects: object) -> httpx.Response:
    return httpx.Response(200, json={key: list(objects)})


@respx.mock
async def test_requests_carry_the_key_as_basic_user_and_ask_for_json() -> None:
    route = respx.get(f"{API}/me").mock(return_value=envelope("users", {"id": 1, "name": "Alice Tremblay"}))
    async with make_client() as paymo:
        me = await paymo.me()
    assert me.name == "Alice Tremblay"
    sent = route.calls.last.request
    assert sent.headers["authorization"] == "Basic " + base64.b64encode(f"{KEY}:X".encode()).decode()
    assert sent.headers["accept"] == "application/json"


@respx.mock
async def test_company_is_an_object_envelope_with_string_settings() -> None:
    respx.get(f"{API}/company").mock(
        return_value=httpx.Response(
            200,
            json={
                "company": {
                    "id": 1,
                    "name": "Northwind Pixel Studio",
                    "default_currency": "CAD",
                    "default_tax": "5",
                    "default_tax2": "9.975",
                    "tax_on_tax": "0",
                    "next_invoice_number": "1043",
                    "timezone": "America/Montreal",
                    "max_users": None,
                }
            },
        )
    )
    async with make_client() as paymo:
        company = await paymo.company()
    assert company.default_tax2 == "9.975"
    assert company.default_tax2_percent == Decimal("9.975")
    assert company.default_tax_on_tax is False
    assert company.next_invoice_number == "1043"
    assert company.model_extra == {"max_users": None}


def test_company_number_settings_read_as_decimals_or_none() -> None:
    company = Company(default_price_per_hour=" 95.50 ", default_tax="", default_tax2="n/a")
    assert company.default_hourly_rate == Decimal("95.50")
    assert company.default_tax_percent is None
    assert company.default_tax2_percent is None
    assert Company().default_hourly_rate is None


@respx.mock
async def test_get_invoice_with_includes_reads_exact_money_lines_and_payments() -> None:
    body = (
        b'{"invoices":[{"id":7,"number":"INV-2026-1035","client_id":1,"status":"sent","currency":"CAD",'
        b'"date":"2026-11-03","due_date":null,"subtotal":4924.99,"tax":5,"tax_amount":221.25,'
        b'"tax2":9.975,"tax2_amount":441.39,"tax_on_tax":false,"discount":10,"discount_amount":492.50,'
        b'"total":5095.13,"token":"perm","created_on":"2026-11-03T14:00:00Z","updated_on":"2026-11-03T14:00:00Z",'
        b'"invoiceitems":[{"id":70,"item":"Design","price_unit":150,"quantity":20.0,"apply_tax":true,"seq":0},'
        b'{"id":71,"item":"Hosting","price_unit":49.99,"quantity":1,"apply_tax":false,"seq":2}],'
        b'"invoicepayments":[{"id":9,"invoice_id":7,"amount":2038.05,"date":"2026-11-10"}]}]}'
    )
    route = respx.get(f"{API}/invoices/7").mock(return_value=httpx.Response(200, content=body))
    async with make_client() as paymo:
        invoice = await paymo.get_invoice(7, include=["invoiceitems", "invoicepayments"])
    assert route.calls.last.request.url.params["include"] == "invoiceitems,invoicepayments"
    assert invoice.total == Decimal("5095.13")
    assert str(invoice.discount_amount) == "492.50"
    assert invoice.due_date is None
    assert invoice.date == dt.date(2026, 11, 3)
    assert invoice.created_on == dt.datetime(2026, 11, 3, 14, tzinfo=dt.UTC)
    assert invoice.invoiceitems is not None
    assert [line.price_unit for line in invoice.invoiceitems] == [Decimal(150), Decimal("49.99")]
    assert invoice.balance == Decimal("3057.08")
    assert invoice.model_extra == {"token": "perm"}


@respx.mock
async def test_lists_page_until_a_short_page_keeping_where_and_include() -> None:
    pages = {0: [client_json(1), client_json(2)], 1: [client_json(3), client_json(4)], 2: [client_json(5)]}

    def answer(request: httpx.Request) -> httpx.Response:
        return envelope("clients", *pages[int(request.url.params["page"])])

    route = respx.get(f"{API}/clients").mock(side_effect=answer)
    async with make_client() as paymo:
        clients = await paymo.list_clients(where=eq("active", True), include="clientcontacts", page_size=2)
    assert [client.id for client in clients] == [1, 2, 3, 4, 5]
    assert route.call_count == 3
    for number, call in enumerate(route.calls):
        params = call.request.url.params
        assert params["page"] == str(number)
        assert params["page_size"] == "2"
        assert params["where"] == "active=true"
        assert params["include"] == "clientcontacts"


@respx.mock
async def test_a_full_last_page_costs_one_more_empty_request() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params["page"])
        return envelope(
            "clients", *([client_json(page * 2 + 1), client_json(page * 2 + 2)] if page < 2 else [])
        )

    route = respx.get(f"{API}/clients").mock(side_effect=answer)
    async with make_client() as paymo:
        clients = await paymo.list_clients(page_size=2)
    assert len(clients) == 4
    assert route.call_count == 3


@respx.mock
async def test_an_object_shifted_between_pages_is_kept_once() -> None:
    pages = {0: [client_json(1), client_json(2)], 1: [client_json(2), client_json(3)], 2: []}
    respx.get(f"{API}/clients").mock(
        side_effect=lambda request: envelope("clients", *pages[int(request.url.params["page"])])
    )
    async with make_client() as paymo:
        clients = await paymo.list_clients(page_size=2)
    assert [client.id for client in clients] == [1, 2, 3]


@respx.mock
async def test_a_service_that_ignores_paging_is_detected() -> None:
    respx.get(f"{API}/clients").mock(return_value=envelope("clients", client_json(1), client_json(2)))
    async with make_client() as paymo:
        with pytest.raises(DataError, match="ignore paging"):
            await paymo.list_clients(page_size=2)


@respx.mock
async def test_unpaged_lists_send_no_paging_parameters() -> None:
    route = respx.get(f"{API}/tasks").mock(return_value=envelope("tasks", {"id": 1, "name": "Design"}))
    async with make_client() as paymo:
        tasks = await paymo.list_tasks(where="users<>anyone", page_size=None)
    assert [task.name for task in tasks] == ["Design"]
    params = route.calls.last.request.url.params
    assert "page" not in params
    assert params["where"] == "users<>anyone"


@respx.mock
async def test_the_envelope_key_is_read_whatever_its_name() -> None:
    respx.get(f"{API}/clientcontacts").mock(
        return_value=envelope("client_contacts", {"id": 3, "client_id": 1, "is_main": True})
    )
    async with make_client() as paymo:
        [contact] = await paymo.list_client_contacts(page_size=None)
    assert contact.is_main is True


@pytest.mark.parametrize(
    "body",
    [
        {"clients": [], "extra": []},
        ["not", "an", "envelope"],
        {"clients": "nope"},
        {"clients": [{"id": 1}]},  # a client without its required name
        {"clients": [{"id": "x", "name": "A"}]},
    ],
)
@respx.mock
async def test_unexpected_shapes_raise_data_error(body: object) -> None:
    respx.get(f"{API}/clients").mock(return_value=httpx.Response(200, json=body))
    async with make_client() as paymo:
        with pytest.raises(DataError):
            await paymo.list_clients(page_size=None)


@respx.mock
async def test_a_non_json_success_raises_data_error() -> None:
    respx.get(f"{API}/clients/1").mock(return_value=httpx.Response(200, text="<html>maintenance</html>"))
    async with make_client() as paymo:
        with pytest.raises(DataError, match="could not parse"):
            await paymo.get_client(1)


@pytest.mark.parametrize(
    ("status", "error_type", "hint"),
    [
        (400, Rejected, "Fix the request data"),
        (403, Rejected, "permission"),
        (404, NotFound, "does not exist"),
        (409, Rejected, "conflicts"),
        (422, Rejected, "Fix the request data"),
    ],
)
@respx.mock
async def test_client_errors_map_to_typed_errors_with_paymos_message(
    status: int, error_type: type[UpstreamError], hint: str
) -> None:
    route = respx.get(f"{API}/clients/99").mock(
        return_value=httpx.Response(status, json={"message": "Unknown field or reference: `x`"})
    )
    async with make_client() as paymo:
        with pytest.raises(error_type) as caught:
            await paymo.get_client(99, include="x")
    error = caught.value
    assert type(error) is error_type
    assert route.call_count == 1
    assert error.service == "paymo"
    assert error.status == status
    assert error.detail == "Unknown field or reference: `x`"
    assert hint in error.message
    assert error.request is not None
    assert error.request.method == "GET"
    assert error.request.url == f"{API}/clients/99?include=x"
    assert error.request.headers["authorization"] == "***"
    assert KEY not in error.for_agent()


@respx.mock
async def test_401_is_an_auth_error_that_never_shows_the_key() -> None:
    route = respx.get(f"{API}/me").mock(return_value=httpx.Response(401, json={"message": "Unauthorized"}))
    async with make_client() as paymo:
        with pytest.raises(AuthError) as caught:
            await paymo.me()
    assert route.call_count == 1
    assert "PAYMO_API_KEY" in caught.value.message
    assert KEY not in caught.value.message


@respx.mock
async def test_429_is_waited_out_then_succeeds() -> None:
    sleeps = Sleeps()
    route = respx.get(f"{API}/clients/1").mock(
        side_effect=[httpx.Response(429, headers={"Retry-After": "3"}), envelope("clients", client_json(1))]
    )
    async with make_client(sleeps) as paymo:
        client = await paymo.get_client(1)
    assert client.id == 1
    assert route.call_count == 2
    assert sleeps.calls == [3.0]


@respx.mock
async def test_429_that_outlasts_the_retry_budget_is_transient_with_retry_after() -> None:
    respx.get(f"{API}/clients/1").mock(return_value=httpx.Response(429, headers={"Retry-After": "300"}))
    async with make_client() as paymo:
        with pytest.raises(Transient) as caught:
            await paymo.get_client(1)
    assert caught.value.retry_after == 300.0
    assert caught.value.status == 429
    assert "retry after 300 s" in caught.value.message


@respx.mock
async def test_reads_are_retried_on_5xx_and_end_as_transient() -> None:
    sleeps = Sleeps()
    route = respx.get(f"{API}/projects/4").mock(return_value=httpx.Response(503, text="<html>down</html>"))
    async with make_client(sleeps, retry=RetryPolicy(max_attempts=3)) as paymo:
        with pytest.raises(Transient) as caught:
            await paymo.get_project(4)
    assert route.call_count == 3
    assert len(sleeps.calls) == 2
    assert caught.value.status == 503
    assert caught.value.detail == "Service Unavailable"


@respx.mock
async def test_create_invoice_payment_sends_exact_money_and_is_not_retried_on_500() -> None:
    sleeps = Sleeps()
    route = respx.post(f"{API}/invoicepayments").mock(
        return_value=httpx.Response(500, json={"message": "oops"})
    )
    async with make_client(sleeps) as paymo:
        with pytest.raises(Transient):
            await paymo.create_invoice_payment(
                invoice_id=7, amount=Decimal("2038.05"), date=dt.date(2026, 11, 10)
            )
    assert route.call_count == 1
    assert sleeps.calls == []
    assert route.calls.last.request.content == b'{"invoice_id":7,"amount":2038.05,"date":"2026-11-10"}'


@respx.mock
async def test_create_invoice_payment_returns_the_created_payment() -> None:
    respx.post(f"{API}/invoicepayments").mock(
        return_value=httpx.Response(
            201,
            headers={"Location": f"{API}/invoicepayments/12"},
            json={"invoicepayments": [{"id": 12, "invoice_id": 7, "amount": 100.5, "notes": "QBO 88"}]},
        )
    )
    async with make_client() as paymo:
        payment = await paymo.create_invoice_payment(invoice_id=7, amount=Decimal("100.50"), notes="QBO 88")
    assert (payment.id, payment.amount, payment.notes) == (12, Decimal("100.5"), "QBO 88")


@pytest.mark.parametrize("amount", [Decimal(0), Decimal(-5), Decimal("NaN"), 10.5])
async def test_payment_amounts_must_be_positive_decimals(amount: Decimal) -> None:
    async with make_client() as paymo:
        with pytest.raises(InputError) as caught:
            await paymo.create_invoice_payment(invoice_id=7, amount=amount)
    assert caught.value.field_name == "amount"


@respx.mock
async def test_updates_are_partial_puts() -> None:
    route = respx.put(f"{API}/entries/31").mock(
        return_value=envelope("entries", {"id": 31, "billed": True, "invoice_item_id": 70, "duration": 4500})
    )
    async with make_client() as paymo:
        entry = await paymo.update_time_entry(31, {"billed": True, "invoice_item_id": 70})
    assert entry.billed is True
    assert json.loads(route.calls.last.request.content) == {"billed": True, "invoice_item_id": 70}


@respx.mock
async def test_update_invoice_status_and_refuses_unknown_statuses() -> None:
    route = respx.put(f"{API}/invoices/7").mock(
        return_value=envelope("invoices", {"id": 7, "status": "void"})
    )
    async with make_client() as paymo:
        invoice = await paymo.update_invoice(7, {"status": "void"})
        assert invoice.status == "void"
        with pytest.raises(InputError, match="partial"):
            await paymo.update_invoice(7, {"status": "partial"})
        with pytest.raises(InputError, match="nothing to change"):
            await paymo.update_expense(3, {})
        with pytest.raises(InputError, match="not a Paymo id"):
            await paymo.get_invoice(0)
    assert route.call_count == 1


@respx.mock
async def test_delete_invoice_payment_accepts_any_small_body() -> None:
    route = respx.delete(f"{API}/invoicepayments/12").mock(
        side_effect=[httpx.Response(200, json={}), httpx.Response(200, content=b"")]
    )
    async with make_client() as paymo:
        await paymo.delete_invoice_payment(12)
        await paymo.delete_invoice_payment(12)
    assert route.call_count == 2


@respx.mock
async def test_create_client_requires_a_name() -> None:
    route = respx.post(f"{API}/clients").mock(
        return_value=httpx.Response(201, json={"clients": [client_json(20, "Stark Industries")]})
    )
    async with make_client() as paymo:
        with pytest.raises(InputError, match="name"):
            await paymo.create_client({"email": "tony@stark.example"})
        created = await paymo.create_client({"name": "Stark Industries", "email": "tony@stark.example"})
    assert created.id == 20
    assert route.call_count == 1


def test_clients_of_one_key_share_one_pacer_and_empty_keys_are_refused() -> None:
    clear_limiters()
    first = PaymoClient(api_key=KEY)
    second = PaymoClient(api_key=KEY)
    other = PaymoClient(api_key="another-key")
    assert first.limiter is second.limiter
    assert isinstance(first.limiter, PaymoPacer)
    assert other.limiter is not first.limiter
    assert limiter_for("paymo", key_fingerprint(KEY), UnlimitedLimiter) is first.limiter
    clear_limiters()
    with pytest.raises(InputError, match="PAYMO_API_KEY"):
        PaymoClient(api_key="  ")


@respx.mock
async def test_list_filters_combine_typed_conditions() -> None:
    expenses = respx.get(f"{API}/expenses").mock(return_value=envelope("expenses"))
    invoices = respx.get(f"{API}/invoices").mock(return_value=envelope("invoices"))
    async with make_client() as paymo:
        assert (
            await paymo.list_expenses(where=[eq("invoiced", False), ge("date", dt.date(2026, 10, 1))]) == []
        )
        assert await paymo.list_invoices(where=in_("status", ["sent", "viewed"])) == []
    assert expenses.calls.last.request.url.params["where"] == "invoiced=false and date>=2026-10-01"
    assert invoices.calls.last.request.url.params["where"] == 'status in ("sent","viewed")'


ENDPOINTS = [
    ("list_users", User, (), "GET", "users", "users", {"id": 2, "name": "Ben Okafor", "price_per_hour": 120}),
    (
        "list_projects",
        Project,
        (),
        "GET",
        "projects",
        "projects",
        {"id": 3, "name": "Acme Website", "budget_hours": 120},
    ),
    ("get_project", Project, (3,), "GET", "projects/3", "projects", {"id": 3, "name": "Acme Website"}),
    (
        "list_tasklists",
        Tasklist,
        (),
        "GET",
        "tasklists",
        "tasklists",
        {"id": 4, "name": "Phase 1", "project_id": 3},
    ),
    ("get_task", Task, (5,), "GET", "tasks/5", "tasks", {"id": 5, "name": "Design", "billable": True}),
    (
        "get_time_entry",
        TimeEntry,
        (6,),
        "GET",
        "entries/6",
        "entries",
        {"id": 6, "date": "2026-10-05", "duration": 5400},
    ),
    (
        "list_time_entries",
        TimeEntry,
        (),
        "GET",
        "entries",
        "entries",
        {"id": 6, "start_time": "2026-10-05T13:00:00Z"},
    ),
    ("list_invoices", Invoice, (), "GET", "invoices", "invoices", {"id": 7, "total": 10.5}),
    (
        "list_invoice_payments",
        InvoicePayment,
        (),
        "GET",
        "invoicepayments",
        "invoicepayments",
        {"id": 8, "amount": 1},
    ),
    (
        "update_invoice_payment",
        InvoicePayment,
        (8, {"notes": "x"}),
        "PUT",
        "invoicepayments/8",
        "invoicepayments",
        {"id": 8, "amount": 1},
    ),
    (
        "get_expense",
        Expense,
        (9,),
        "GET",
        "expenses/9",
        "expenses",
        {"id": 9, "amount": 12.3, "tags": ["Travel"]},
    ),
    (
        "update_expense",
        Expense,
        (9, {"invoiced": True}),
        "PUT",
        "expenses/9",
        "expenses",
        {"id": 9, "invoiced": True},
    ),
    ("list_estimates", Estimate, (), "GET", "estimates", "estimates", {"id": 10, "status": "accepted"}),
    (
        "get_estimate",
        Estimate,
        (10,),
        "GET",
        "estimates/10",
        "estimates",
        {"id": 10, "estimateitems": [{"id": 1}]},
    ),
    (
        "update_client",
        Client,
        (1, {"active": False}),
        "PUT",
        "clients/1",
        "clients",
        {"id": 1, "name": "A", "active": False},
    ),
    ("get_client", Client, (1,), "GET", "clients/1", "clients", {"id": 1, "name": "A"}),
]


@pytest.mark.parametrize(("method", "model", "args", "http_method", "path", "key", "record"), ENDPOINTS)
@respx.mock
async def test_every_endpoint_uses_its_collection_and_model(
    method: str,
    model: type[PaymoModel],
    args: tuple[object, ...],
    http_method: str,
    path: str,
    key: str,
    record: dict[str, object],
) -> None:
    route = respx.request(http_method, f"{API}/{path}").mock(return_value=envelope(key, record))
    async with make_client() as paymo:
        result = await getattr(paymo, method)(*args)
    assert route.call_count == 1
    [received] = result if isinstance(result, list) else [result]
    assert received.id == record["id"]
    assert received.model_dump(exclude_unset=True) == received.model_validate(record).model_dump(
        exclude_unset=True
    )
