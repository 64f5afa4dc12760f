"""QboClient against respx: URLs, headers, requestid, bodies, paging, 401 refresh, retries, batch."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import respx
from qbo_client_fakes import RecordingSleep, RefreshingTokenProvider

from paymo_qb_mcp.errors import (
    AuthError,
    ConfigError,
    Conflict,
    DataError,
    DuplicateName,
    InputError,
    NotFound,
    ReauthorizationRequired,
    Transient,
)
from paymo_qb_mcp.net import jsonwire
from paymo_qb_mcp.net.ratelimit import UnlimitedLimiter
from paymo_qb_mcp.net.retry import RetryPolicy
from paymo_qb_mcp.quickbooks import (
    QBO_BASE_URLS,
    BatchItem,
    Bill,
    Customer,
    Invoice,
    Line,
    Payment,
    QboClient,
    Ref,
    StaticTokenProvider,
    TokenProvider,
    eq,
    in_,
    select,
)
from paymo_qb_mcp.quickbooks.client import is_replay_safe

BASE = "https://qbo.example.test"
REALM = "9130"
API = f"{BASE}/v3/company/{REALM}"
TIME = "2026-11-26T09:00:00.000-05:00"
THROTTLED_XML_START = (
    b'<IntuitResponse><Fault type="SERVICE"><Error code="3001"><Message>ThrottleExceeded</Message>'
)


def make_client(
    provider: TokenProvider | None = None,
    sleep: RecordingSleep | None = None,
    retry: RetryPolicy | None = None,
) -> QboClient:
    return QboClient(
        base_url=BASE,
        realm_id=REALM,
        token_provider=provider or StaticTokenProvider("token-one"),
        limiter=UnlimitedLimiter(),
        retry=retry,
        sleep=sleep or RecordingSleep(),
        rng=random.Random(7),
    )


def envelope(entity: str, body: dict[str, object], status: int = 200, **headers: str) -> httpx.Response:
    return httpx.Response(
        status,
        content=jsonwire.dumps({entity: body, "time": TIME}),
        headers={"Content-Type": "application/json;charset=UTF-8", "intuit_tid": "tid-ok", **headers},
    )


def standard_fault(
    code: str, message: str, detail: str, status: int = 400, element: str = ""
) -> httpx.Response:
    body = {"Fault": {"Error": [{"Message": message, "Detail": detail, "code": code, "element": element}]}}
    return httpx.Response(
        status,
        content=jsonwire.dumps({**body, "time": TIME}),
        headers={"Content-Type": "application/json", "intuit_tid": "1-abc-fault"},
    )


def gateway_401() -> httpx.Response:
    body = {
        "fault": {
            "error": [
                {
                    "message": "message=AuthenticationFailed; errorCode=003200; statusCode=401",
                    "detail": "Token expired: 0000000000",
                    "code": "3200",
                    "element": None,
                }
            ],
            "type": "AUTHENTICATION",
        },
        "time": 1633520295688,
    }
    return httpx.Response(401, json=body, headers={"intuit_tid": "1-abc-401"})


def query_of(request: httpx.Request) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(str(request.url)).query).items()}


@pytest.fixture
def api() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=API, assert_all_called=False) as router:
        yield router


# --- single-entity operations --------------------------------------------------------------------


async def test_read_gets_the_entity_path_with_minorversion_json_and_the_bearer(api: respx.MockRouter) -> None:
    route = api.get("/customer/42").mock(
        return_value=envelope(
            "Customer", {"Id": "42", "SyncToken": "3", "DisplayName": "ACME Corp.", "Balance": 1.50}
        )
    )
    async with make_client() as qbo:
        customer = await qbo.read(Customer, "42")

    assert customer.DisplayName == "ACME Corp."
    assert customer.Balance == Decimal("1.50")
    request = route.calls.last.request
    assert query_of(request) == {"minorversion": "75"}
    assert request.headers["Accept"] == "application/json"
    assert request.headers["Authorization"] == "Bearer token-one"


async def test_create_posts_the_bare_object_with_requestid_and_exact_decimals(api: respx.MockRouter) -> None:
    route = api.post("/invoice").mock(
        return_value=envelope(
            "Invoice", {"Id": "130", "SyncToken": "0", "TotalAmt": 1874.99, "DocNumber": "1035"}
        )
    )
    invoice = Invoice(
        CustomerRef=Ref(value="58"),
        DocNumber="1035",
        Line=[Line.sales_item(amount=Decimal("1874.99"), item=Ref(value="1"), tax_code=Ref(value="5"))],
    )
    async with make_client() as qbo:
        created = await qbo.create(invoice, request_id="inv-paymo-1035-v1", allow_duplicate_doc_number=True)

    assert created.Id == "130"
    assert created.TotalAmt == Decimal("1874.99")
    request = route.calls.last.request
    assert query_of(request) == {
        "requestid": "inv-paymo-1035-v1",
        "include": "allowduplicatedocnum",
        "minorversion": "75",
    }
    assert request.headers["Content-Type"] == "application/json"
    assert b'"Amount":1874.99' in request.content
    assert jsonwire.loads(request.content) == {
        "DocNumber": "1035",
        "CustomerRef": {"value": "58"},
        "Line": [
            {
                "Amount": Decimal("1874.99"),
                "DetailType": "SalesItemLineDetail",
                "SalesItemLineDetail": {"ItemRef": {"value": "1"}, "TaxCodeRef": {"value": "5"}},
            }
        ],
    }


async def test_create_from_a_mapping_validates_it_against_the_model(api: respx.MockRouter) -> None:
    route = api.post("/customer").mock(
        return_value=envelope("Customer", {"Id": "77", "DisplayName": "Stark"})
    )
    async with make_client() as qbo:
        created = await qbo.create({"DisplayName": "Stark", "Notes": None}, request_id="c-1", model=Customer)
        with pytest.raises(DataError, match="cannot read"):
            await qbo.create({"Line": "not a list"}, request_id="c-2", model=Invoice)
    assert created.Id == "77"
    assert jsonwire.loads(route.calls.last.request.content) == {"DisplayName": "Stark"}


@pytest.mark.parametrize(
    ("request_id", "complaint"),
    [("x" * 51, "at most 50"), ("has space", "printable ASCII"), ("", "printable ASCII")],
)
async def test_writes_refuse_a_bad_request_id_before_sending(
    api: respx.MockRouter, request_id: str, complaint: str
) -> None:
    async with make_client() as qbo:
        with pytest.raises(InputError, match=complaint):
            await qbo.create(Customer(DisplayName="A"), request_id=request_id)
    assert not api.calls


async def test_create_refuses_a_record_that_already_has_an_id(api: respx.MockRouter) -> None:
    async with make_client() as qbo:
        with pytest.raises(InputError, match="use update"):
            await qbo.create(Customer(Id="1", DisplayName="A"), request_id="r")


async def test_update_is_sparse_by_default_and_carries_id_and_sync_token(api: respx.MockRouter) -> None:
    route = api.post("/customer").mock(return_value=envelope("Customer", {"Id": "5", "SyncToken": "4"}))
    async with make_client() as qbo:
        updated = await qbo.update(Customer(Id="5", SyncToken="3", Notes="n"), request_id="u-1")
        await qbo.update(Customer(Id="5", SyncToken="4", DisplayName="Full"), request_id="u-2", sparse=False)
        with pytest.raises(InputError, match="SyncToken"):
            await qbo.update(Customer(Id="5", Notes="n"), request_id="u-3")

    assert updated.SyncToken == "4"
    sparse, full = (jsonwire.loads(call.request.content) for call in route.calls)
    assert sparse == {"Id": "5", "SyncToken": "3", "Notes": "n", "sparse": True}
    assert full == {"Id": "5", "SyncToken": "4", "DisplayName": "Full", "sparse": False}
    assert query_of(route.calls[0].request)["requestid"] == "u-1"


async def test_delete_posts_operation_delete_and_returns_the_deleted_stub(api: respx.MockRouter) -> None:
    route = api.post("/invoice").mock(
        return_value=envelope("Invoice", {"status": "Deleted", "domain": "QBO", "Id": "33"})
    )
    async with make_client() as qbo:
        stub = await qbo.delete(Invoice, "33", "2", request_id="d-1")
        with pytest.raises(InputError, match="deactivate it instead"):
            await qbo.delete(Customer, "1", "0", request_id="d-2")

    assert (stub.Id, stub.status) == ("33", "Deleted")
    request = route.calls.last.request
    assert query_of(request) == {"operation": "delete", "requestid": "d-1", "minorversion": "75"}
    assert jsonwire.loads(request.content) == {"Id": "33", "SyncToken": "2"}


async def test_deactivate_is_a_sparse_update_of_active(api: respx.MockRouter) -> None:
    route = api.post("/customer").mock(return_value=envelope("Customer", {"Id": "9", "Active": False}))
    async with make_client() as qbo:
        await qbo.deactivate(Customer, "9", "1", request_id="off-9")
    assert jsonwire.loads(route.calls.last.request.content) == {
        "Id": "9",
        "SyncToken": "1",
        "Active": False,
        "sparse": True,
    }


async def test_invoices_and_payments_are_voided_the_way_each_requires(api: respx.MockRouter) -> None:
    invoice_route = api.post("/invoice").mock(
        return_value=envelope(
            "Invoice", {"Id": "7", "SyncToken": "3", "TotalAmt": 0, "PrivateNote": "Voided"}
        )
    )
    payment_route = api.post("/payment").mock(
        return_value=envelope("Payment", {"Id": "8", "TotalAmt": 0, "Line": [], "PrivateNote": "Voided"})
    )
    async with make_client() as qbo:
        voided = await qbo.void(Invoice, "7", "2", request_id="v-7")
        await qbo.void(Payment, "8", "0", request_id="v-8")
        with pytest.raises(InputError, match="cannot void a Bill"):
            await qbo.void(Bill, "9", "0", request_id="v-9")

    assert voided.PrivateNote == "Voided"
    assert query_of(invoice_route.calls.last.request) == {
        "operation": "void",
        "requestid": "v-7",
        "minorversion": "75",
    }
    assert jsonwire.loads(invoice_route.calls.last.request.content) == {"Id": "7", "SyncToken": "2"}
    assert query_of(payment_route.calls.last.request) == {
        "operation": "update",
        "include": "void",
        "requestid": "v-8",
        "minorversion": "75",
    }
    assert jsonwire.loads(payment_route.calls.last.request.content) == {
        "Id": "8",
        "SyncToken": "0",
        "sparse": True,
    }


async def test_company_info_and_preferences_use_their_own_paths(api: respx.MockRouter) -> None:
    api.get(f"/companyinfo/{REALM}").mock(return_value=envelope("CompanyInfo", {"Id": "1", "Country": "CA"}))
    api.get("/preferences").mock(
        return_value=envelope(
            "Preferences",
            {
                "CurrencyPrefs": {"MultiCurrencyEnabled": True, "HomeCurrency": {"value": "CAD"}},
                "AccountingInfoPrefs": {"BookCloseDate": "2025-12-31"},
                "TaxPrefs": {"PartnerTaxEnabled": False},
            },
        )
    )
    async with make_client() as qbo:
        info = await qbo.company_info()
        prefs = await qbo.preferences()
    assert info.Country == "CA"
    assert prefs.CurrencyPrefs is not None
    assert prefs.CurrencyPrefs.HomeCurrency == Ref(value="CAD")
    assert prefs.AccountingInfoPrefs is not None
    assert str(prefs.AccountingInfoPrefs.BookCloseDate) == "2025-12-31"


# --- queries ---------------------------------------------------------------------------------------


def paged_customers(total: int) -> tuple[list[str], object]:
    """A /query handler serving ``total`` customers by STARTPOSITION/MAXRESULTS, logging each statement."""
    statements: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        statement = query_of(request)["query"]
        statements.append(statement)
        words = statement.split()
        start = int(words[words.index("STARTPOSITION") + 1])
        size = int(words[words.index("MAXRESULTS") + 1])
        rows = [
            {"Id": str(i), "DisplayName": f"Customer {i}"}
            for i in range(start, min(start + size - 1, total) + 1)
        ]
        body: dict[str, object] = {"startPosition": start, "maxResults": len(rows)}
        if rows:
            body["Customer"] = rows
        return httpx.Response(200, json={"QueryResponse": body, "time": TIME})

    return statements, handler


@pytest.mark.parametrize(("total", "pages"), [(0, 1), (999, 1), (1000, 2), (2500, 3), (3000, 4)])
async def test_query_all_pages_by_1000_until_a_short_page(
    api: respx.MockRouter, total: int, pages: int
) -> None:
    statements, handler = paged_customers(total)
    api.get("/query").mock(side_effect=handler)
    async with make_client() as qbo:
        customers = await qbo.query_all(Customer, eq("Active", True))

    assert [c.Id for c in customers] == [str(i) for i in range(1, total + 1)]
    assert len(statements) == pages
    assert (
        statements[0]
        == "SELECT * FROM Customer WHERE Active = true ORDERBY Id ASC STARTPOSITION 1 MAXRESULTS 1000"
    )
    assert [s.split("STARTPOSITION ")[1] for s in statements] == [
        f"{1 + 1000 * n} MAXRESULTS 1000" for n in range(pages)
    ]


async def test_query_all_keeps_an_explicit_ordering_and_page_size(api: respx.MockRouter) -> None:
    statements, handler = paged_customers(5)
    api.get("/query").mock(side_effect=handler)
    async with make_client() as qbo:
        customers = await qbo.query_all(select(Customer).order_by("DisplayName"), page_size=2)
    assert len(customers) == 5
    assert statements == [
        f"SELECT * FROM Customer ORDERBY DisplayName ASC STARTPOSITION {start} MAXRESULTS 2"
        for start in (1, 3, 5)
    ]


async def test_one_page_reports_what_qbo_said(api: respx.MockRouter) -> None:
    api.get("/query").mock(
        return_value=httpx.Response(
            200,
            json={
                "QueryResponse": {"Customer": [{"Id": "1"}], "startPosition": 11, "maxResults": 1},
                "time": TIME,
            },
        )
    )
    async with make_client() as qbo:
        page = await qbo.query(select(Customer), start_position=11, max_results=10)
    assert (page.start_position, page.max_results, [c.Id for c in page.items]) == (11, 1, ["1"])


async def test_count_reads_total_count(api: respx.MockRouter) -> None:
    route = api.get("/query").mock(
        return_value=httpx.Response(200, json={"QueryResponse": {"totalCount": 42}, "time": TIME})
    )
    async with make_client() as qbo:
        assert await qbo.count(Invoice, eq("CustomerRef", "58")) == 42
    assert (
        query_of(route.calls.last.request)["query"] == "SELECT COUNT(*) FROM Invoice WHERE CustomerRef = '58'"
    )


async def test_a_long_statement_is_posted_as_application_text(api: respx.MockRouter) -> None:
    route = api.post("/query").mock(
        return_value=httpx.Response(200, json={"QueryResponse": {}, "time": TIME})
    )
    ids = [str(n) for n in range(1, 400)]
    async with make_client() as qbo:
        page = await qbo.query(select(Customer).where(in_("Id", ids)))
    assert page.items == []
    request = route.calls.last.request
    assert request.headers["Content-Type"] == "application/text"
    assert request.content.decode().startswith("SELECT * FROM Customer WHERE Id IN ('1', '2', ")
    assert query_of(request) == {"minorversion": "75"}


# --- errors, auth, retries ---------------------------------------------------------------------------


async def test_a_stale_sync_token_raises_conflict_with_the_intuit_tid(api: respx.MockRouter) -> None:
    api.post("/customer").mock(
        return_value=standard_fault(
            "5010", "Stale Object Error", "Stale Object Error : You and root were working"
        )
    )
    async with make_client() as qbo:
        with pytest.raises(Conflict) as caught:
            await qbo.update(Customer(Id="5", SyncToken="0", Notes="x"), request_id="u")
    error = caught.value
    assert error.fault_code == "5010"
    assert error.status == 400
    assert error.upstream_request_id == "1-abc-fault"
    assert error.request is not None
    assert error.request.headers["authorization"] == "***"
    assert "token-one" not in str(error.request)


async def test_a_duplicate_name_on_create_raises_duplicate_name(api: respx.MockRouter) -> None:
    api.post("/customer").mock(
        return_value=standard_fault(
            "6240", "Duplicate Name Exists Error", "The name supplied already exists."
        )
    )
    async with make_client() as qbo:
        with pytest.raises(DuplicateName) as caught:
            await qbo.create(Customer(DisplayName="Wayne Enterprises"), request_id="c")
    assert caught.value.fault_code == "6240"


async def test_reading_an_unknown_id_raises_not_found(api: respx.MockRouter) -> None:
    api.get("/invoice/999").mock(return_value=standard_fault("610", "Object Not Found", "Object Not Found"))
    async with make_client() as qbo:
        with pytest.raises(NotFound):
            await qbo.read(Invoice, "999")


async def test_a_fault_inside_a_200_is_still_an_error(api: respx.MockRouter) -> None:
    api.post("/invoice").mock(
        return_value=standard_fault("6140", "Duplicate Document Number Error", "", status=200)
    )
    async with make_client() as qbo:
        with pytest.raises(Exception, match="fault 6140") as caught:
            await qbo.create(Invoice(DocNumber="1035"), request_id="i")
    assert type(caught.value).__name__ == "DuplicateDocNumber"


async def test_a_success_that_is_not_json_is_a_data_error(api: respx.MockRouter) -> None:
    api.get("/customer/1").mock(
        return_value=httpx.Response(
            200, content=b"<IntuitResponse/>", headers={"Content-Type": "application/xml"}
        )
    )
    api.get("/customer/2").mock(return_value=envelope("Vendor", {"Id": "2"}))
    async with make_client() as qbo:
        with pytest.raises(DataError, match="instead of JSON"):
            await qbo.read(Customer, "1")
        with pytest.raises(DataError, match="Vendor instead of a Customer"):
            await qbo.read(Customer, "2")


async def test_a_401_refreshes_the_token_once_and_retries(api: respx.MockRouter) -> None:
    route = api.get("/customer/1").mock(side_effect=[gateway_401(), envelope("Customer", {"Id": "1"})])
    provider = RefreshingTokenProvider("token-old", "token-new")
    async with make_client(provider) as qbo:
        customer = await qbo.read(Customer, "1")
    assert customer.Id == "1"
    assert provider.refreshed_after == ["token-old"]
    assert [call.request.headers["Authorization"] for call in route.calls] == [
        "Bearer token-old",
        "Bearer token-new",
    ]


async def test_a_write_retried_after_401_keeps_its_requestid(api: respx.MockRouter) -> None:
    route = api.post("/customer").mock(side_effect=[gateway_401(), envelope("Customer", {"Id": "3"})])
    async with make_client(RefreshingTokenProvider("a", "b")) as qbo:
        await qbo.create(Customer(DisplayName="Initech"), request_id="same-id")
    assert [query_of(call.request)["requestid"] for call in route.calls] == ["same-id", "same-id"]


async def test_a_401_that_cannot_be_refreshed_is_an_auth_error_after_one_request(
    api: respx.MockRouter,
) -> None:
    route = api.get("/customer/1").mock(return_value=gateway_401())
    async with make_client() as qbo:
        with pytest.raises(AuthError) as caught:
            await qbo.read(Customer, "1")
    assert type(caught.value) is AuthError
    assert "fault 3200" in caught.value.message
    assert "1-abc-401" in caught.value.message
    assert route.call_count == 1


async def test_a_second_401_after_refreshing_means_reauthorization(api: respx.MockRouter) -> None:
    route = api.get("/customer/1").mock(return_value=gateway_401())
    provider = RefreshingTokenProvider("a", "b", "c")
    async with make_client(provider) as qbo:
        with pytest.raises(ReauthorizationRequired, match="paymo-qb-mcp auth quickbooks"):
            await qbo.read(Customer, "1")
    assert route.call_count == 2
    assert provider.refreshed_after == ["a"]


async def test_a_403_is_not_answered_with_a_refresh(api: respx.MockRouter) -> None:
    api.get("/customer/1").mock(
        return_value=httpx.Response(
            403,
            json={
                "fault": {
                    "error": [{"message": "message=AuthorizationFailed", "code": "3100"}],
                    "type": "SERVICE",
                }
            },
        )
    )
    provider = RefreshingTokenProvider("a", "b")
    async with make_client(provider) as qbo:
        with pytest.raises(AuthError, match="fault 3100"):
            await qbo.read(Customer, "1")
    assert provider.refreshed_after == []


async def test_a_429_is_waited_out_for_its_retry_after_then_succeeds(api: respx.MockRouter) -> None:
    throttled = httpx.Response(
        429,
        content=THROTTLED_XML_START + b"</Error></Fault></IntuitResponse>",
        headers={"Content-Type": "application/xml", "Retry-After": "7"},
    )
    route = api.get("/customer/1").mock(side_effect=[throttled, envelope("Customer", {"Id": "1"})])
    sleep = RecordingSleep()
    async with make_client(sleep=sleep) as qbo:
        await qbo.read(Customer, "1")
    assert route.call_count == 2
    assert sleep.waits == [7.0]


async def test_a_429_that_outlasts_the_retries_is_transient_with_its_retry_after(
    api: respx.MockRouter,
) -> None:
    throttled = httpx.Response(
        429,
        content=THROTTLED_XML_START
        + b"<Detail>The request limit was reached.</Detail></Error></Fault></IntuitResponse>",
        headers={"Content-Type": "application/xml", "Retry-After": "3"},
    )
    api.get("/customer/1").mock(return_value=throttled)
    async with make_client(retry=RetryPolicy(max_attempts=2)) as qbo:
        with pytest.raises(Transient) as caught:
            await qbo.read(Customer, "1")
    assert (caught.value.status, caught.value.fault_code, caught.value.retry_after) == (429, "3001", 3.0)


async def test_a_write_with_a_requestid_is_retried_after_a_500_with_the_same_requestid(
    api: respx.MockRouter,
) -> None:
    route = api.post("/customer").mock(side_effect=[httpx.Response(500), envelope("Customer", {"Id": "11"})])
    sleep = RecordingSleep()
    async with make_client(sleep=sleep) as qbo:
        created = await qbo.create(Customer(DisplayName="Hooli"), request_id="req-hooli")
    assert created.Id == "11"
    assert [query_of(call.request)["requestid"] for call in route.calls] == ["req-hooli", "req-hooli"]
    assert len(sleep.waits) == 1


async def test_a_read_is_retried_after_a_503(api: respx.MockRouter) -> None:
    route = api.get("/customer/1").mock(side_effect=[httpx.Response(503), envelope("Customer", {"Id": "1"})])
    async with make_client() as qbo:
        await qbo.read(Customer, "1")
    assert route.call_count == 2


def test_only_reads_and_writes_carrying_a_requestid_are_replay_safe() -> None:
    assert is_replay_safe("read", {})
    assert is_replay_safe("query", {})
    assert is_replay_safe("create", {"requestid": "r"})
    assert is_replay_safe("batch", {"requestid": "r"})
    assert not is_replay_safe("create", {})
    assert not is_replay_safe("update", {"requestid": ""})
    assert not is_replay_safe("batch", {})


@pytest.mark.parametrize(
    ("base_url", "realm_id", "complaint"),
    [
        ("quickbooks.api.intuit.com", REALM, "http"),
        (f"{QBO_BASE_URLS['sandbox']}/v3/company/{REALM}", REALM, "before /v3"),
        (QBO_BASE_URLS["production"], "91 30", "QBO_REALM_ID"),
        (QBO_BASE_URLS["production"], "", "QBO_REALM_ID"),
    ],
)
def test_a_wrong_base_url_or_realm_is_a_config_error(base_url: str, realm_id: str, complaint: str) -> None:
    with pytest.raises(ConfigError, match=complaint):
        QboClient(base_url=base_url, realm_id=realm_id, token_provider=StaticTokenProvider("t"))


def test_the_documented_base_urls_are_exported() -> None:
    assert QBO_BASE_URLS == {
        "production": "https://quickbooks.api.intuit.com",
        "sandbox": "https://sandbox-quickbooks.api.intuit.com",
    }


# --- batch -------------------------------------------------------------------------------------------


def batch_handler(requests: list[dict[str, object]]) -> object:
    """Answers each batch item: creates echo an Id, bId "b2" fails with 6240, queries return one row."""

    def handler(request: httpx.Request) -> httpx.Response:
        body = jsonwire.loads(request.content)
        requests.append({"query": query_of(request), "body": body})
        answers: list[dict[str, object]] = []
        for item in body["BatchItemRequest"]:
            bid = item["bId"]
            if bid == "b2":
                fault = {
                    "type": "ValidationFault",
                    "Error": [{"Message": "Duplicate Name Exists Error", "code": "6240"}],
                }
                answers.append({"bId": bid, "Fault": fault})
            elif "Query" in item:
                answers.append({"bId": bid, "QueryResponse": {"Customer": [{"Id": "1"}], "maxResults": 1}})
            elif item["operation"] == "delete":
                answers.append({"bId": bid, "Invoice": {"status": "Deleted", "Id": item["Invoice"]["Id"]}})
            elif bid != "lost":
                name = next(key for key in item if key not in ("bId", "operation", "optionsData"))
                answers.append({"bId": bid, name: {**item[name], "Id": f"id-{bid}"}})
        return httpx.Response(
            200,
            content=jsonwire.dumps({"BatchItemResponse": answers, "time": TIME}),
            headers={"Content-Type": "application/json"},
        )

    return handler


async def test_a_batch_splits_into_thirties_and_keeps_input_order(api: respx.MockRouter) -> None:
    requests: list[dict[str, object]] = []
    api.post("/batch").mock(side_effect=batch_handler(requests))
    items = [BatchItem.create(Customer(DisplayName=f"C{n}")) for n in range(65)]
    async with make_client() as qbo:
        results = await qbo.batch(items, request_id="import-2026-11")
        await qbo.batch(items, request_id="import-2026-11")

    assert [len(r["body"]["BatchItemRequest"]) for r in requests[:3]] == [30, 30, 5]  # type: ignore[index]
    assert [result.bid for result in results] == [f"b{n}" for n in range(1, 66)]
    assert [result.entity.Id for result in results if result.entity] == [
        f"id-b{n}" for n in range(1, 66) if n != 2
    ]
    assert isinstance(results[1].error, DuplicateName)
    assert results[1].error.fault_code == "6240"
    assert results[1].error.status is None
    assert all(result.ok for result in results if result.bid != "b2")
    chunk_ids = [r["query"]["requestid"] for r in requests]  # type: ignore[index]
    assert len(set(chunk_ids[:3])) == 3
    assert chunk_ids[:3] == chunk_ids[3:], "a retried call must replay the same chunk requestids"
    assert all(len(rid) <= 36 for rid in chunk_ids)
    assert chunk_ids[0] == str(uuid.UUID(chunk_ids[0]))
    assert [item["operation"] for item in requests[0]["body"]["BatchItemRequest"][:1]] == ["create"]  # type: ignore[index]


async def test_a_single_chunk_batch_uses_the_request_id_as_given_and_mixes_item_kinds(
    api: respx.MockRouter,
) -> None:
    requests: list[dict[str, object]] = []
    api.post("/batch").mock(side_effect=batch_handler(requests))
    items = [
        BatchItem.create(Customer(DisplayName="A")),
        BatchItem.create(Customer(DisplayName="Wayne Enterprises")),
        BatchItem.delete(Invoice, "129", "0"),
        BatchItem.void(Payment, "44", "1"),
        BatchItem.select(select(Customer).where(eq("DisplayName", "O’Reilly Media")), max_results=10),
        BatchItem.update(Customer(Id="5", SyncToken="2", Notes="x"), bid="lost"),
    ]
    async with make_client() as qbo:
        results = await qbo.batch(items, request_id="batch-1")

    sent = requests[0]
    assert sent["query"] == {"requestid": "batch-1", "minorversion": "75"}
    assert sent["body"] == {
        "BatchItemRequest": [
            {"bId": "b1", "operation": "create", "Customer": {"DisplayName": "A"}},
            {"bId": "b2", "operation": "create", "Customer": {"DisplayName": "Wayne Enterprises"}},
            {"bId": "b3", "operation": "delete", "Invoice": {"Id": "129", "SyncToken": "0"}},
            {
                "bId": "b4",
                "operation": "update",
                "Payment": {"Id": "44", "SyncToken": "1", "sparse": True},
                "optionsData": "void",
            },
            {
                "bId": "b5",
                "Query": "SELECT * FROM Customer WHERE DisplayName = 'O\\'Reilly Media' MAXRESULTS 10",
            },
            {
                "bId": "lost",
                "operation": "update",
                "Customer": {"Id": "5", "SyncToken": "2", "Notes": "x", "sparse": True},
            },
        ]
    }
    assert isinstance(results[1].error, DuplicateName)
    deleted, voided, page = results[2].entity, results[3].entity, results[4].page
    assert deleted is not None
    assert deleted.status == "Deleted"
    assert voided is not None
    assert voided.Id == "id-b4"
    assert page is not None
    assert [c.Id for c in page.items] == ["1"]
    assert isinstance(results[5].error, DataError)


async def test_batch_input_is_checked_before_anything_is_sent(api: respx.MockRouter) -> None:
    write = BatchItem.create(Customer(DisplayName="A"))
    async with make_client() as qbo:
        assert await qbo.batch([]) == []
        with pytest.raises(InputError, match="needs request_id"):
            await qbo.batch([write])
        with pytest.raises(InputError, match="at most 36"):
            await qbo.batch([write], request_id="x" * 37)
        with pytest.raises(InputError, match="longer than 10"):
            await qbo.batch([BatchItem.create(Customer(DisplayName="A"), bid="eleven-char")], request_id="r")
        with pytest.raises(InputError, match="unique"):
            await qbo.batch(
                [BatchItem.create(Customer(), bid="x"), BatchItem.create(Customer(), bid="x")], request_id="r"
            )
    assert not api.calls


async def test_a_whole_batch_fault_raises(api: respx.MockRouter) -> None:
    api.post("/batch").mock(return_value=standard_fault("1040", "Batch size exceeds allowed limit", ""))
    async with make_client() as qbo:
        with pytest.raises(Exception, match="fault 1040"):
            await qbo.batch([BatchItem.create(Customer(DisplayName="A"))], request_id="r")
