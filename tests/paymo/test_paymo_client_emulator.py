"""PaymoClient against the Paymo emulator: filters, includes, paging, rate limits, faults and typed errors."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import AsyncIterator, Sequence
from decimal import Decimal

import anyio.lowlevel
import httpx
import pytest

from paymo_qb_mcp.errors import AuthError, NotFound, Rejected, Transient
from paymo_qb_mcp.net.ratelimit import PaymoPacer
from paymo_qb_mcp.paymo import (
    PaymoClient,
    PaymoModel,
    TimeEntry,
    eq,
    ge,
    gt,
    in_,
    le,
    like,
    lt,
    ne,
    not_in,
    time_interval,
)
from paymo_qb_mcp.sandbox.faults import RateBudget
from paymo_qb_mcp.sandbox.paymo import PaymoEmulator

ACME = 10001
INV_1035, INV_1037 = 50001, 50003


class SharedClock:
    """The emulator's rate window and our pacer read this clock; sleeping advances it instead of waiting."""

    def __init__(self) -> None:
        self.now = 5000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await anyio.lowlevel.checkpoint()


@pytest.fixture
def clock() -> SharedClock:
    return SharedClock()


@pytest.fixture
def emu(clock: SharedClock) -> PaymoEmulator:
    return PaymoEmulator(seed="demo", rate_limits="relaxed", clock=clock)


def connect(emu: PaymoEmulator, clock: SharedClock, *, api_key: str | None = None) -> PaymoClient:
    return PaymoClient(
        api_key=api_key or emu.api_key,
        transport=httpx.ASGITransport(app=emu.app),
        limiter=PaymoPacer(clock=clock, sleep=clock.sleep),
        sleep=clock.sleep,
        rng=random.Random(0),
    )


@pytest.fixture
async def paymo(emu: PaymoEmulator, clock: SharedClock) -> AsyncIterator[PaymoClient]:
    async with connect(emu, clock) as client:
        yield client


def ids(records: Sequence[PaymoModel]) -> set[int]:
    return {record.id for record in records}


# -- where ------------------------------------------------------------------------------------------


async def test_where_filters_on_ids_statuses_and_money(paymo: PaymoClient) -> None:
    assert ids(await paymo.list_invoices(where=eq("client_id", ACME))) == {50001, 50006}
    assert ids(await paymo.list_invoices(where=in_("status", ["draft", "void"]))) == {50004, 50006}
    assert ids(await paymo.list_invoices(where=not_in("status", ["sent", "viewed", "paid"]))) == {
        50004,
        50006,
    }
    big = await paymo.list_invoices(where=gt("total", Decimal("5000.00")))
    assert ids(big) == {50001, 50002, 50003, 50006}
    assert all(invoice.total is not None and invoice.total > 5000 for invoice in big)


async def test_where_compares_date_fields_as_calendar_dates(paymo: PaymoClient) -> None:
    november = await paymo.list_invoices(
        where=[ge("date", dt.date(2026, 11, 1)), le("date", dt.date(2026, 11, 30))]
    )
    assert {invoice.number for invoice in november} == {"INV-2026-1039", "INV-2026-1040", "INV-2026-1041"}
    before_2026 = await paymo.list_invoices(where=lt("date", dt.date(2026, 1, 1)))
    assert [invoice.number for invoice in before_2026] == ["INV-2026-1042"]
    unbilled_expenses = await paymo.list_expenses(
        where=[eq("invoiced", False), ge("date", dt.date(2026, 10, 1))]
    )
    assert ids(unbilled_expenses) == {60001, 60002, 60003, 60004}


async def test_where_compares_date_times_as_unix_timestamps(paymo: PaymoClient) -> None:
    everything = await paymo.list_time_entries()
    since = dt.datetime(2026, 11, 2, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=-5)))  # 15:00 UTC
    changed = await paymo.list_time_entries(where=gt("updated_on", since))
    expected = {entry.id for entry in everything if entry.updated_on is not None and entry.updated_on > since}
    assert ids(changed) == expected
    assert 0 < len(expected) < len(everything)
    at_or_after = await paymo.list_time_entries(where=ge("updated_on", since))
    assert ids(at_or_after) - ids(changed) == {40001, 40002, 40003, 40004}  # updated exactly at 15:00 UTC


async def test_time_interval_and_the_filter_only_client_id_select_time_entries(paymo: PaymoClient) -> None:
    everything = await paymo.list_time_entries()
    november = time_interval(dt.datetime(2026, 11, 1, tzinfo=dt.UTC), dt.datetime(2026, 12, 1, tzinfo=dt.UTC))

    def day(entry: TimeEntry) -> dt.date:
        if entry.date is not None:
            return entry.date
        assert entry.start_time is not None
        return entry.start_time.date()

    in_november = {entry.id for entry in everything if day(entry).month == 11}
    assert ids(await paymo.list_time_entries(where=november)) == in_november
    acme_in_november = await paymo.list_time_entries(where=[november, eq("client_id", ACME)])
    assert ids(acme_in_november) == {40010, 40011, 40012}


async def test_where_on_text_booleans_and_several_conditions(paymo: PaymoClient) -> None:
    assert [client.name for client in await paymo.list_clients(where=like("name", "%acme%"))] == [
        "Acme Corporation"
    ]
    oreilly = await paymo.list_clients(where=eq("name", "O’Reilly Media"))
    assert [client.id for client in oreilly] == [10011]
    unbilled = await paymo.list_time_entries(where=[eq("task_id", 30012), eq("billed", False)])
    assert ids(unbilled) == {40005}
    billed_elsewhere = await paymo.list_time_entries(where=[ne("invoice_item_id", None), eq("billed", True)])
    assert ids(billed_elsewhere) == {40001, 40002, 40003, 40004}
    assert await paymo.list_clients(where='name="Nobody at all"') == []


# -- includes ---------------------------------------------------------------------------------------


async def test_includes_embed_lines_payments_and_the_parent_client(paymo: PaymoClient) -> None:
    invoice = await paymo.get_invoice(INV_1035, include=["invoiceitems", "invoicepayments", "client"])
    assert invoice.number == "INV-2026-1035"
    assert invoice.client is not None
    assert invoice.client.name == "Acme Corporation"
    assert invoice.invoiceitems is not None
    assert [line.item for line in invoice.invoiceitems][:2] == ["Design", "Development"]
    assert all(isinstance(line.price_unit, Decimal) for line in invoice.invoiceitems)
    assert invoice.invoicepayments is not None
    assert len(invoice.invoicepayments) == 1
    assert invoice.total is not None
    assert invoice.balance == invoice.total - invoice.invoicepayments[0].amount
    bare = await paymo.get_invoice(INV_1035)
    assert bare.invoiceitems is None
    assert bare.balance is None


async def test_includes_on_lists_nest_children_under_each_parent(paymo: PaymoClient) -> None:
    projects = await paymo.list_projects(
        where=eq("client_id", ACME), include=["tasklists", "tasklists.tasks"]
    )
    [website] = projects
    assert website.name == "Acme Website Redesign"
    assert website.budget_hours == Decimal(120)
    assert website.tasklists
    task_names = {task.name for tasklist in website.tasklists for task in (tasklist.tasks or [])}
    assert {"Design", "Development", "Internal QA"} <= task_names


# -- paging -----------------------------------------------------------------------------------------


async def test_paging_reads_every_page_until_a_short_one(paymo: PaymoClient, emu: PaymoEmulator) -> None:
    unpaged = await paymo.list_time_entries(page_size=None)
    emu.request_log.clear()
    paged = await paymo.list_time_entries(page_size=4)
    assert [entry.id for entry in paged] == [entry.id for entry in unpaged]
    assert len(paged) == 19
    queries = [logged.query for logged in emu.request_log]
    assert len(queries) == 5  # 4 + 4 + 4 + 4 + 3
    assert all(f"page={number}" in query and "page_size=4" in query for number, query in enumerate(queries))


# -- rate limits ------------------------------------------------------------------------------------


async def test_a_429_is_waited_out_and_the_call_then_succeeds(emu: PaymoEmulator, clock: SharedClock) -> None:
    emu.rate_budget = RateBudget(5, 5.0)
    # Another program spends the key's whole budget first.
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=emu.app), auth=(emu.api_key, "X")
    ) as other:
        for _ in range(5):
            assert (await other.get("https://app.paymoapp.com/api/me")).status_code == 200
    async with connect(emu, clock) as paymo:
        client = await paymo.get_client(ACME)
    assert client.name == "Acme Corporation"
    assert [logged.status for logged in emu.request_log] == [200] * 5 + [429, 200]
    assert clock.sleeps == [5.0]  # Retry-After, once


async def test_the_pacer_keeps_a_busy_client_under_paymos_limit(
    emu: PaymoEmulator, clock: SharedClock
) -> None:
    emu.rate_budget = RateBudget(5, 5.0)
    start = clock.now
    async with connect(emu, clock) as paymo:
        for _ in range(12):
            await paymo.me()
    assert [logged.status for logged in emu.request_log] == [200] * 12
    assert clock.now - start >= 10.0  # 12 calls at 5 per 5 s span at least two full periods


# -- faults -----------------------------------------------------------------------------------------


async def test_a_payment_create_is_not_retried_after_a_500(paymo: PaymoClient, emu: PaymoEmulator) -> None:
    emu.faults.fail_next(1, status=500, method="POST")
    with pytest.raises(Transient) as caught:
        await paymo.create_invoice_payment(invoice_id=INV_1037, amount=Decimal("100.00"))
    assert caught.value.status == 500
    posts = [logged for logged in emu.request_log if logged.method == "POST"]
    assert len(posts) == 1
    assert await paymo.list_invoice_payments(where=eq("invoice_id", INV_1037)) == []


async def test_a_lost_payment_response_is_not_replayed_into_a_duplicate(
    paymo: PaymoClient, emu: PaymoEmulator
) -> None:
    emu.faults.fail_next(1, status=502, method="POST", after_commit=True)
    with pytest.raises(Transient, match="502"):
        await paymo.create_invoice_payment(invoice_id=INV_1037, amount=Decimal("100.00"))
    payments = await paymo.list_invoice_payments(where=eq("invoice_id", INV_1037))
    assert [payment.amount for payment in payments] == [Decimal("100.00")]


async def test_a_read_is_retried_after_a_500(
    paymo: PaymoClient, emu: PaymoEmulator, clock: SharedClock
) -> None:
    emu.faults.fail_next(1, status=500, method="GET")
    client = await paymo.get_client(ACME)
    assert client.id == ACME
    assert [logged.status for logged in emu.request_log] == [500, 200]
    assert len(clock.sleeps) == 1


# -- typed errors -----------------------------------------------------------------------------------


async def test_400_is_rejected_with_paymos_message(paymo: PaymoClient) -> None:
    with pytest.raises(Rejected) as caught:
        await paymo.get_client(ACME, include="nonsense")
    assert caught.value.status == 400
    assert caught.value.detail == "Unknown field or reference: `nonsense`"
    with pytest.raises(Rejected, match="greater than the remaining amount"):
        await paymo.create_invoice_payment(invoice_id=INV_1037, amount=Decimal("999999.00"))
    with pytest.raises(Rejected) as syntax:
        await paymo.list_clients(where="name ~ nothing")
    assert syntax.value.status == 400


async def test_401_is_an_auth_error(emu: PaymoEmulator, clock: SharedClock) -> None:
    async with connect(emu, clock, api_key="not-a-real-key") as paymo:
        with pytest.raises(AuthError) as caught:
            await paymo.me()
    assert "not-a-real-key" not in str(caught.value)


async def test_404_is_not_found(paymo: PaymoClient) -> None:
    with pytest.raises(NotFound) as caught:
        await paymo.get_invoice(99999)
    assert caught.value.status == 404
    assert caught.value.request is not None
    assert caught.value.request.url == "https://app.paymoapp.com/api/invoices/99999"


# -- the writes the sync needs ------------------------------------------------------------------------


async def test_paying_the_balance_marks_the_invoice_paid(paymo: PaymoClient) -> None:
    invoice = await paymo.get_invoice(INV_1037, include="invoicepayments")
    assert invoice.status == "sent"
    assert invoice.balance is not None
    payment = await paymo.create_invoice_payment(
        invoice_id=INV_1037, amount=invoice.balance, date=dt.date(2026, 11, 20), notes="QBO Payment 88"
    )
    assert (payment.amount, payment.date, payment.notes) == (
        invoice.balance,
        dt.date(2026, 11, 20),
        "QBO Payment 88",
    )
    paid = await paymo.get_invoice(INV_1037, include="invoicepayments")
    assert paid.status == "paid"
    assert paid.balance == 0
    await paymo.delete_invoice_payment(payment.id)
    assert (await paymo.get_invoice(INV_1037)).status == "viewed"


async def test_marking_time_and_expenses_billed_and_managing_clients(paymo: PaymoClient) -> None:
    entry = await paymo.update_time_entry(40005, {"billed": True})
    assert entry.billed is True
    assert (await paymo.get_time_entry(40005)).billed is True
    expense = await paymo.update_expense(60001, {"invoiced": True})
    assert expense.invoiced is True
    created = await paymo.create_client({"name": "Pied Piper", "email": "richard@piedpiper.example"})
    assert created.name == "Pied Piper"
    archived = await paymo.update_client(created.id, {"active": False})
    assert archived.active is False
    voided = await paymo.update_invoice(50006, {"status": "void"})
    assert voided.status == "void"
