"""QboClient against the QBO emulator: paging, typed faults, requestid replay, throttling, batch, XSD.

Every JSON body the client sends in these scenarios is checked against Intuit's XSD (``qbo_xsd``).
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs

import anyio
import anyio.lowlevel
import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import qbo_xsd
from paymo_qb_mcp.errors import Conflict, DuplicateDocNumber, DuplicateName, InactiveReference, NotFound
from paymo_qb_mcp.net import jsonwire
from paymo_qb_mcp.net.ratelimit import UnlimitedLimiter
from paymo_qb_mcp.quickbooks import (
    Account,
    BatchItem,
    Customer,
    Employee,
    Invoice,
    Item,
    Line,
    Payment,
    Purchase,
    QboClient,
    Ref,
    StaticTokenProvider,
    TaxCode,
    TimeActivity,
    eq,
    in_,
    like,
    select,
)
from paymo_qb_mcp.quickbooks.models import ENTITY_MODELS, LinkedTxn
from paymo_qb_mcp.quickbooks.query import normalize_quotes
from paymo_qb_mcp.sandbox.faults import RateBudget
from paymo_qb_mcp.sandbox.quickbooks import QboEmulator

BASE_URL = "https://sandbox-quickbooks.api.intuit.com"
FIXED_NOW = dt.datetime(2026, 11, 20, 15, 30, 0, tzinfo=dt.UTC)
_ENTITY_BY_PATH = {model.path(): name for name, model in ENTITY_MODELS.items()}


class EmulatorClock:
    """The emulator's throttling clock; the client's sleep moves it, so a wait really waits out a window."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.waits: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds
        await anyio.lowlevel.checkpoint()


class EmulatorTokens:
    """A token provider that refreshes the way OAuth would: by taking the emulator's current token."""

    def __init__(self, emulator: QboEmulator) -> None:
        self.emulator = emulator
        self.token = emulator.access_token
        self.refreshes = 0

    async def access_token(self) -> str:
        return self.token

    async def refresh_after_unauthorized(self, rejected_token: str) -> str | None:
        self.refreshes += 1
        self.token = self.emulator.access_token
        return self.token


@pytest.fixture
def clock() -> EmulatorClock:
    return EmulatorClock()


@pytest.fixture
def emu(clock: EmulatorClock) -> QboEmulator:
    return QboEmulator("demo", rate_limits="relaxed", clock=clock, now=lambda: FIXED_NOW)


@pytest.fixture
async def qbo(emu: QboEmulator, clock: EmulatorClock) -> AsyncIterator[QboClient]:
    client = QboClient(
        base_url=BASE_URL,
        realm_id=emu.realm_id,
        token_provider=EmulatorTokens(emu),
        transport=httpx.ASGITransport(app=emu.app),
        limiter=UnlimitedLimiter(),
        sleep=clock.sleep,
    )
    async with client:
        yield client
    assert_sent_bodies_match_the_xsd(emu)


def sent_entities(emu: QboEmulator) -> Iterator[tuple[str, dict[str, Any]]]:
    """(entity name, JSON) for every entity body the client posted, batch items included."""
    for logged in emu.request_log:
        if logged.method != "POST" or not logged.body:
            continue
        segment = logged.path.rsplit("/", 1)[-1]
        if segment == "query":
            continue
        document = jsonwire.loads(logged.body)
        if segment == "batch":
            for item in document["BatchItemRequest"]:
                for key, value in item.items():
                    if key in ENTITY_MODELS:
                        yield key, value
        else:
            yield _ENTITY_BY_PATH[segment], document


def assert_sent_bodies_match_the_xsd(emu: QboEmulator) -> None:
    for entity, body in sent_entities(emu):
        qbo_xsd.validate_entity(entity, body)


def query_params(logged_query: str) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(logged_query).items()}


async def one(qbo: QboClient, statement: Any) -> Any:
    page = await qbo.query(statement)
    assert len(page.items) == 1, page.items
    return page.items[0]


# --- paging ------------------------------------------------------------------------------------------


async def test_query_all_pages_through_more_than_a_thousand_customers(
    emu: QboEmulator, qbo: QboClient
) -> None:
    ids = emu.add_customers(2345)
    emu.request_log.clear()

    customers = await qbo.query_all(Customer, like("DisplayName", "Bulk Customer%"))

    assert sorted(c.Id for c in customers if c.Id) == sorted(ids)
    assert len({c.Id for c in customers}) == 2345
    assert customers[0].DisplayName == "Bulk Customer 0001"
    statements = [query_params(logged.query)["query"] for logged in emu.request_log]
    assert [s.rsplit("STARTPOSITION ", 1)[1] for s in statements] == [
        "1 MAXRESULTS 1000",
        "1001 MAXRESULTS 1000",
        "2001 MAXRESULTS 1000",
    ]
    assert await qbo.count(Customer, like("DisplayName", "Bulk Customer%")) == 2345


async def test_inactive_customers_are_found_only_when_asked_for(emu: QboEmulator, qbo: QboClient) -> None:
    emu.add_customers(3, prefix="Dormant", active=False)
    assert await qbo.query_all(Customer, like("DisplayName", "Dormant%")) == []
    both = await qbo.query_all(Customer, like("DisplayName", "Dormant%"), in_("Active", [True, False]))
    assert [c.Active for c in both] == [False, False, False]


# --- query escaping against the emulator's own lexer ---------------------------------------------------


async def test_a_typographic_apostrophe_finds_the_ascii_spelling(qbo: QboClient) -> None:
    customer = await one(qbo, select(Customer).where(eq("DisplayName", "O’Reilly Media")))
    assert customer.DisplayName == "O'Reilly Media"


# Names may not contain ":", tab or newline (QBO's hierarchy separator and line breaks).
_NAME_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters=":\t\n\r"),
    min_size=1,
    max_size=30,
).filter(lambda text: text.strip() == text and text.strip())


_UNIQUE = itertools.count(1)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=_NAME_TEXT)
def test_any_name_is_found_by_an_exact_query(emu: QboEmulator, text: str) -> None:
    suffix = f"#{next(_UNIQUE)}"
    # QBO cannot store what its lexer cannot read, so the record holds the folded quotes...
    (ident,) = emu.add_customers(1, prefix=f"{normalize_quotes(text)} {suffix}")

    async def find() -> list[Customer]:
        async with QboClient(
            base_url=BASE_URL,
            realm_id=emu.realm_id,
            token_provider=StaticTokenProvider(emu.access_token),
            transport=httpx.ASGITransport(app=emu.app),
            limiter=UnlimitedLimiter(),
        ) as client:
            # ...while the query is built from the raw text: the builder does the folding and escaping.
            return await client.query_all(Customer, eq("DisplayName", f"{text} {suffix} 0001"))

    assert [c.Id for c in anyio.run(find)] == [ident]


# --- typed faults ----------------------------------------------------------------------------------------


async def test_a_stale_sync_token_is_a_conflict(qbo: QboClient) -> None:
    acme = await one(qbo, select(Customer).where(eq("DisplayName", "ACME Corp.")))
    fresh = await qbo.update(
        Customer(Id=acme.Id, SyncToken=acme.SyncToken, Notes="first"), request_id="stale-1"
    )
    assert fresh.SyncToken == str(int(acme.SyncToken) + 1)

    with pytest.raises(Conflict) as caught:
        await qbo.update(Customer(Id=acme.Id, SyncToken=acme.SyncToken, Notes="second"), request_id="stale-2")
    assert caught.value.fault_code == "5010"
    assert caught.value.status == 400
    assert caught.value.upstream_request_id


async def test_a_display_name_used_by_a_vendor_is_a_duplicate_name(qbo: QboClient) -> None:
    with pytest.raises(DuplicateName) as caught:
        await qbo.create(Customer(DisplayName="Wayne Enterprises"), request_id="dup-wayne")
    assert caught.value.fault_code == "6240"
    assert caught.value.service == "quickbooks"


async def test_reading_a_missing_record_is_not_found_and_referencing_one_is_inactive_reference(
    qbo: QboClient,
) -> None:
    with pytest.raises(NotFound) as missing:
        await qbo.read(Invoice, "999999")
    assert missing.value.fault_code == "610"
    invoice = Invoice(
        CustomerRef=Ref(value="999999"),
        Line=[Line.sales_item(amount=Decimal(10), item=Ref(value="1"), tax_code=Ref(value="3"))],
    )
    with pytest.raises(InactiveReference):
        await qbo.create(invoice, request_id="ghost-customer")


async def test_a_repeated_doc_number_is_a_duplicate_doc_number(qbo: QboClient) -> None:
    acme = await one(qbo, select(Customer).where(eq("DisplayName", "ACME Corp.")))
    gst = await one(qbo, select(TaxCode).where(eq("Name", "GST")))

    def invoice() -> Invoice:
        return Invoice(
            CustomerRef=Ref(value=acme.Id),
            DocNumber="INV-TEST-1",
            Line=[Line.sales_item(amount=Decimal(100), item=Ref(value="1"), tax_code=Ref(value=gst.Id))],
        )

    await qbo.create(invoice(), request_id="doc-1")
    with pytest.raises(DuplicateDocNumber):
        await qbo.create(invoice(), request_id="doc-2")
    allowed = await qbo.create(invoice(), request_id="doc-3", allow_duplicate_doc_number=True)
    assert allowed.DocNumber == "INV-TEST-1"


# --- idempotency and retries ----------------------------------------------------------------------------


async def test_a_lost_response_is_retried_with_the_same_requestid_and_creates_one_record(
    emu: QboEmulator, qbo: QboClient, clock: EmulatorClock
) -> None:
    emu.faults.fail_next(1, status=502, method="POST", after_commit=True)

    created = await qbo.create(Customer(DisplayName="Stark Industries"), request_id="paymo-client-8-v1")

    matches = await qbo.query_all(Customer, eq("DisplayName", "Stark Industries"))
    assert [c.Id for c in matches] == [created.Id]
    posts = [logged for logged in emu.request_log if logged.method == "POST"]
    assert [(logged.status, query_params(logged.query)["requestid"]) for logged in posts] == [
        (502, "paymo-client-8-v1"),
        (200, "paymo-client-8-v1"),
    ]
    assert len(clock.waits) == 1


async def test_a_write_is_retried_after_a_500_because_it_carries_a_requestid(
    emu: QboEmulator, qbo: QboClient
) -> None:
    emu.faults.fail_next(1, status=500, method="POST")
    created = await qbo.create(Customer(DisplayName="Soylent Foods"), request_id="paymo-client-12-v1")
    assert created.DisplayName == "Soylent Foods"
    writes = [logged for logged in emu.request_log if logged.method == "POST"]
    assert [logged.status for logged in writes] == [500, 200]
    assert all(query_params(logged.query).get("requestid") for logged in writes), (
        "every write carries a requestid"
    )


async def test_a_read_is_retried_after_a_503(emu: QboEmulator, qbo: QboClient) -> None:
    emu.faults.fail_next(2, status=503, method="GET")
    info = await qbo.company_info()
    assert info.CompanyName == "Northwind Pixel Studio Inc."
    assert [logged.status for logged in emu.request_log] == [503, 503, 200]


async def test_a_429_is_waited_out_for_its_retry_after(
    emu: QboEmulator, qbo: QboClient, clock: EmulatorClock
) -> None:
    emu.rate_budget.per_second = RateBudget(2, 1.0)
    emu.retry_after_header = True

    for _ in range(3):
        await qbo.read(Customer, "1")

    assert [logged.status for logged in emu.request_log] == [200, 200, 429, 200]
    assert clock.waits == [1.0]


async def test_a_429_without_retry_after_is_backed_off_from_seconds_growing_until_the_window_frees(
    emu: QboEmulator, qbo: QboClient, clock: EmulatorClock
) -> None:
    emu.rate_budget.per_minute = RateBudget(1, 60.0)
    await qbo.read(Customer, "1")
    await qbo.read(Customer, "1")
    statuses = [logged.status for logged in emu.request_log]
    assert statuses[0] == 200
    assert statuses[-1] == 200
    assert set(statuses[1:-1]) == {429}
    # Not Intuit's flat minute: a second or two at first, doubling, until the minute has passed.
    assert 1.0 <= clock.waits[0] <= 2.0
    assert all(later > earlier for earlier, later in itertools.pairwise(clock.waits))
    assert sum(clock.waits) >= 60.0
    assert sum(clock.waits[:-1]) < 60.0


async def test_an_expired_token_is_refreshed_once_and_the_call_succeeds(
    emu: QboEmulator, qbo: QboClient
) -> None:
    emu.expire_token()
    info = await qbo.company_info()
    assert info.Country == "CA"
    assert [logged.status for logged in emu.request_log] == [401, 200]


# --- writes that must fit Intuit's schema and QBO's arithmetic ---------------------------------------------


async def test_an_invoice_with_every_line_kind_is_accepted_and_read_back_to_the_cent(qbo: QboClient) -> None:
    acme = await one(qbo, select(Customer).where(eq("DisplayName", "ACME Corp.")))
    gst_qst = await one(qbo, select(TaxCode).where(eq("Name", "GST/QST QC - 9.975")))
    exempt = await one(qbo, select(TaxCode).where(eq("Name", "Exempt")))
    services = await one(qbo, select(Item).where(eq("Name", "Services")))
    invoice = Invoice(
        CustomerRef=Ref(value=acme.Id),
        DocNumber="INV-2026-1035",
        TxnDate=dt.date(2026, 11, 2),
        GlobalTaxCalculation="TaxExcluded",
        PrivateNote="paymo:invoice:1035",
        Line=[
            Line.sales_item(
                amount=Decimal("3000.00"),
                item=Ref(value=services.Id),
                qty=Decimal(20),
                unit_price=Decimal(150),
                tax_code=Ref(value=gst_qst.Id),
                description="Design",
                service_date=dt.date(2026, 10, 31),
            ),
            Line.description_only("Hosting is billed at cost"),
            Line.sales_item(
                amount=Decimal("49.99"),
                item=Ref(value=services.Id),
                tax_code=Ref(value=exempt.Id),
                description="Hosting",
            ),
        ],
    )

    created = await qbo.create(invoice, request_id="paymo-invoice-1035")
    read_back = await qbo.read(Invoice, created.Id or "")

    # 3000 × 5 % = 150.00 and 3000 × 9.975 % = 299.25 on the taxable line; hosting is exempt.
    assert read_back.TxnTaxDetail is not None
    assert read_back.TxnTaxDetail.TotalTax == Decimal("449.25")
    assert read_back.TotalAmt == Decimal("3499.24")
    assert read_back.Balance == Decimal("3499.24")
    assert read_back.Line is not None
    assert [line.DetailType for line in read_back.Line] == [
        "SalesItemLineDetail",
        "DescriptionOnly",
        "SalesItemLineDetail",
        "SubTotalLineDetail",
    ]


async def test_payment_void_and_delete_round_trip(qbo: QboClient) -> None:
    acme = await one(qbo, select(Customer).where(eq("DisplayName", "ACME Corp.")))
    gst = await one(qbo, select(TaxCode).where(eq("Name", "GST")))
    invoice = await qbo.create(
        Invoice(
            CustomerRef=Ref(value=acme.Id),
            Line=[Line.sales_item(amount=Decimal("200.00"), item=Ref(value="1"), tax_code=Ref(value=gst.Id))],
        ),
        request_id="pv-invoice",
    )
    assert invoice.TotalAmt == Decimal("210.00")
    payment = await qbo.create(
        Payment(
            CustomerRef=Ref(value=acme.Id),
            TotalAmt=Decimal("84.00"),
            TxnDate=dt.date(2026, 11, 15),
            Line=[
                Line(
                    Amount=Decimal("84.00"), LinkedTxn=[LinkedTxn(TxnId=invoice.Id or "", TxnType="Invoice")]
                )
            ],
        ),
        request_id="pv-payment",
    )
    partly_paid = await qbo.read(Invoice, invoice.Id or "")
    assert partly_paid.Balance == Decimal("126.00")

    voided_payment = await qbo.void(
        Payment, payment.Id or "", payment.SyncToken or "", request_id="pv-void-pay"
    )
    assert voided_payment.TotalAmt == Decimal(0)
    reopened = await qbo.read(Invoice, invoice.Id or "")
    assert reopened.Balance == Decimal("210.00")

    voided = await qbo.void(Invoice, reopened.Id or "", reopened.SyncToken or "", request_id="pv-void-inv")
    assert voided.TotalAmt == Decimal(0)
    assert (voided.PrivateNote or "").startswith("Voided")

    deleted = await qbo.delete(Invoice, voided.Id or "", voided.SyncToken or "", request_id="pv-delete")
    assert deleted.status == "Deleted"
    with pytest.raises(NotFound):
        await qbo.read(Invoice, invoice.Id or "")


async def test_an_expense_and_a_time_activity_are_accepted(qbo: QboClient) -> None:
    visa = await one(qbo, select(Account).where(eq("Name", "Visa")))
    software = await one(qbo, select(Account).where(eq("Name", "Office Supplies and Software")))
    gst_qst = await one(qbo, select(TaxCode).where(eq("Name", "GST/QST QC - 9.975")))
    alice = await one(qbo, select(Employee).where(eq("DisplayName", "Alice Tremblay")))
    acme = await one(qbo, select(Customer).where(eq("DisplayName", "ACME Corp.")))

    purchase = await qbo.create(
        Purchase(
            PaymentType="CreditCard",
            AccountRef=Ref(value=visa.Id),
            TxnDate=dt.date(2026, 10, 5),
            GlobalTaxCalculation="TaxExcluded",
            PrivateNote="paymo:expense:31",
            Line=[
                Line.account_expense(
                    amount=Decimal("24.00"),
                    account=Ref(value=software.Id),
                    description="Figma",
                    tax_code=Ref(value=gst_qst.Id),
                )
            ],
        ),
        request_id="paymo-expense-31",
    )
    assert purchase.Line is not None
    assert purchase.Line[0].Amount == Decimal("24.00")

    montreal = dt.timezone(dt.timedelta(hours=-4))
    activity = await qbo.create(
        TimeActivity(
            NameOf="Employee",
            EmployeeRef=Ref(value=alice.Id),
            CustomerRef=Ref(value=acme.Id),
            ItemRef=Ref(value="2"),
            BillableStatus="Billable",
            HourlyRate=Decimal(150),
            TxnDate=dt.date(2026, 10, 14),
            StartTime=dt.datetime(2026, 10, 14, 9, 0, tzinfo=montreal),
            EndTime=dt.datetime(2026, 10, 14, 10, 15, tzinfo=montreal),
            Description="Design review",
        ),
        request_id="paymo-time-501",
    )
    assert activity.Id
    assert activity.BillableStatus == "Billable"


async def test_a_batch_reports_the_failing_item_and_applies_the_others(qbo: QboClient) -> None:
    results = await qbo.batch(
        [
            BatchItem.create(Customer(DisplayName="Batch Studio A")),
            BatchItem.create(Customer(DisplayName="Wayne Enterprises")),
            BatchItem.select(select(Customer).where(eq("DisplayName", "O’Reilly Media"))),
        ],
        request_id="batch-2026-11-20",
    )

    created, duplicate, found = results
    assert created.ok
    assert created.entity is not None
    assert isinstance(duplicate.error, DuplicateName)
    assert duplicate.error.fault_code == "6240"
    assert found.page is not None
    assert [c.DisplayName for c in found.page.items] == ["O'Reilly Media"]
    assert [c.Id for c in await qbo.query_all(Customer, eq("DisplayName", "Batch Studio A"))] == [
        created.entity.Id
    ]


async def test_a_batch_larger_than_thirty_is_split_and_every_item_applied(
    emu: QboEmulator, qbo: QboClient
) -> None:
    items = [BatchItem.create(Customer(DisplayName=f"Split Client {n:02d}")) for n in range(1, 41)]
    results = await qbo.batch(items, request_id="split-import")
    assert all(result.ok for result in results)
    assert len(await qbo.query_all(Customer, like("DisplayName", "Split Client%"))) == 40
    assert [logged.path.rsplit("/", 1)[1] for logged in emu.request_log if logged.method == "POST"] == [
        "batch",
        "batch",
    ]
