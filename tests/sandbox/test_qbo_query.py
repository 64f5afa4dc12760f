"""QBO emulator query language (reference §4) and change data capture (§3.8)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from test_qbo_harness import FIXED_NOW, Qbo, emulator, invoice_line, open_qbo, parse

from paymo_qb_mcp.sandbox.quickbooks import seed


@pytest.fixture
async def qbo() -> AsyncIterator[Qbo]:
    async with open_qbo(emulator()) as client:
        yield client


def names(response: dict[str, object], entity: str = "Customer") -> list[str]:
    rows = response.get(entity, [])
    assert isinstance(rows, list)
    return [str(row.get("DisplayName", row.get("Name"))) for row in rows]


async def test_select_star_returns_active_rows_in_id_order_with_paging_fields(qbo: Qbo) -> None:
    response = await qbo.query("select * from Customer")
    assert response["startPosition"] == 1
    assert response["maxResults"] == 19  # 20 seeded, Hooli inactive
    ids = [int(row["Id"]) for row in response["Customer"]]
    assert ids == sorted(ids)
    assert "Hooli" not in names(response)


async def test_inactive_rows_appear_only_when_an_active_predicate_asks(qbo: Qbo) -> None:
    assert names(await qbo.query("select * from Customer where Active = false")) == ["Hooli"]
    assert len((await qbo.query("select * from Customer where Active in (true, false)"))["Customer"]) == 20
    qbo.emu.behaviour.active_only_by_default = False
    assert (await qbo.query("select count(*) from Customer"))["totalCount"] == 20


async def test_count_returns_total_count_only(qbo: Qbo) -> None:
    assert await qbo.query("select count(*) from Vendor") == {"totalCount": 3}


async def test_escaped_apostrophes_and_case_insensitive_strings(qbo: Qbo) -> None:
    assert names(await qbo.query("select * from Customer where DisplayName = 'O\\'Reilly Media'")) == [
        "O'Reilly Media"
    ]
    assert names(await qbo.query("select * from Customer where DisplayName = 'acme corp.'")) == ["ACME Corp."]


async def test_like_in_and_ordering(qbo: Qbo) -> None:
    umbrella = await qbo.query(
        "select * from Customer where DisplayName like 'umbrella health%' orderby DisplayName desc"
    )
    assert names(umbrella) == ["Umbrella Health (West)", "Umbrella Health (East)"]
    chosen = await qbo.query("select * from Customer where Id in ('3', '1', '99') ORDER BY Id DESC")
    assert [row["Id"] for row in chosen["Customer"]] == ["3", "1"]
    by_email = await qbo.query("select * from Customer where PrimaryEmailAddr = 'office@smithsons.example'")
    assert names(by_email) == ["Smith and Sons"]


async def test_keywords_are_case_insensitive_and_pages_are_one_based(qbo: Qbo) -> None:
    page = await qbo.query(
        "SeLeCt * FrOm customer WhErE Active = true OrderBy Id StartPosition 3 MaxResults 2"
    )
    assert [row["Id"] for row in page["Customer"]] == ["3", "4"]
    assert (page["startPosition"], page["maxResults"]) == (3, 2)


async def test_references_compare_by_value_and_numbers_and_dates_by_value(qbo: Qbo) -> None:
    for amount, customer in (("50.00", "1"), ("500.00", "1"), ("70.00", "3")):
        await qbo.create(
            "Invoice",
            {
                "CustomerRef": {"value": customer},
                "Line": [invoice_line(amount, tax_code="3")],
                "TxnDate": "2026-11-02",
            },
        )
    acme = await qbo.query("select * from Invoice where CustomerRef = '1' and TotalAmt > '60.00'")
    assert [row["TotalAmt"] for row in acme["Invoice"]] == [Decimal("500.00")]
    dated = await qbo.query(
        "select count(*) from Invoice where TxnDate >= '2026-11-02' and TxnDate < '2026-11-03'"
    )
    assert dated["totalCount"] == 3
    recent = await qbo.query(
        "select count(*) from Invoice where Metadata.LastUpdatedTime >= '2026-11-20T10:00:00-05:00'"
    )
    assert recent["totalCount"] == 3
    assert await qbo.query("select * from Invoice where MetaData.CreateTime > '2026-11-21'") == {}


async def test_projection_returns_sparse_rows_of_scalar_fields(qbo: Qbo) -> None:
    response = await qbo.query("select Id, DisplayName from Customer where Id = '1'")
    assert response["Customer"] == [{"Id": "1", "DisplayName": "ACME Corp.", "domain": "QBO", "sparse": True}]
    error = await qbo.fault("GET", "query", params={"query": "select BillAddr from Customer"})
    assert (error["code"], error["Detail"]) == (
        "4001",
        "QueryValidationError: Property BillAddr not found for Entity Customer",
    )


@pytest.mark.parametrize(
    "statement",
    [
        "select * from Customer where DisplayName = 'A' or DisplayName = 'B'",
        "select from Customer",
        "select * from Customer where DisplayName != 'A'",
        "select * from Customer where DisplayName = 'O’Reilly Media'",
        "select * from Customer where DisplayName = 'unterminated",
        "select * from Customer startposition x",
        "delete from Customer",
    ],
)
async def test_syntax_errors_are_4000(qbo: Qbo, statement: str) -> None:
    error = await qbo.fault("GET", "query", params={"query": statement})
    assert error["code"] == "4000"
    assert error["Message"] == "Error parsing query"
    assert error["Detail"].startswith("QueryParserError: ")


@pytest.mark.parametrize(
    ("statement", "detail"),
    [
        ("select * from Payment where UnappliedAmt > '0'", "property 'UnappliedAmt' is not queryable"),
        (
            "select * from PurchaseOrder where CustomerRef = '1'",
            "Property CustomerRef not found for Entity PurchaseOrder",
        ),
        ("select * from Purchase where EntityRef = '1'", "property 'EntityRef' is not queryable"),
        (
            "select * from Invoice where Line.Amount > '1'",
            "Property Line.Amount not found for Entity Invoice",
        ),
        ("select * from Invoice orderby PrivateNote", "property 'PrivateNote' is not queryable"),
        ("select * from Gizmo", "Entity Gizmo is not supported"),
    ],
)
async def test_unqueryable_properties_are_4001(qbo: Qbo, statement: str, detail: str) -> None:
    error = await qbo.fault("GET", "query", params={"query": statement})
    assert error["code"] == "4001"
    assert error["Detail"] == f"QueryValidationError: {detail}"


async def test_an_empty_result_has_no_entity_key(qbo: Qbo) -> None:
    response = await qbo.ok("GET", "query", params={"query": "select * from Invoice"})
    assert response["QueryResponse"] == {}


async def test_post_query_takes_the_statement_as_the_body(qbo: Qbo) -> None:
    response = await qbo.request(
        "POST",
        "query",
        content=b"select * from Customer where DisplayName = 'Globex'",
        headers={"Content-Type": "application/text"},
    )
    assert names(parse(response)["QueryResponse"]) == ["Globex"]


async def test_paging_past_1000_rows(qbo: Qbo) -> None:
    qbo.emu.add_customers(1205)
    default_page = await qbo.query("select * from Customer")
    assert default_page["maxResults"] == 100
    first = await qbo.query("select * from Customer startposition 1 maxresults 5000")
    assert first["maxResults"] == 1000  # the cap
    second = await qbo.query("select * from Customer startposition 1001 maxresults 1000")
    assert second["maxResults"] == 224  # 19 active seeded + 1205 bulk − 1000
    seen = [row["Id"] for row in first["Customer"] + second["Customer"]]
    assert len(seen) == len(set(seen)) == 1224
    assert await qbo.query("select * from Customer startposition 1225 maxresults 1000") == {}
    assert (await qbo.query("select count(*) from Customer"))["totalCount"] == 1224


# --- change data capture ---------------------------------------------------------------------------


class MovableNow:
    def __init__(self, start: datetime) -> None:
        self.moment = start

    def __call__(self) -> datetime:
        return self.moment


async def test_cdc_returns_changes_and_deleted_stubs_since_a_time() -> None:
    now = MovableNow(FIXED_NOW - timedelta(days=20))
    async with open_qbo(emulator(now=now)) as qbo:
        now.moment = FIXED_NOW
        keep = await qbo.create("Invoice", {"CustomerRef": {"value": "1"}, "Line": [invoice_line("10.00")]})
        dropped = await qbo.create(
            "Invoice", {"CustomerRef": {"value": "1"}, "Line": [invoice_line("20.00")]}
        )
        await qbo.ok(
            "POST", "invoice", payload={"Id": dropped["Id"], "SyncToken": "0"}, params={"operation": "delete"}
        )
        await qbo.update("Customer", {"Id": "3", "SyncToken": "0", "sparse": True, "Notes": "changed"})
        document = await qbo.ok(
            "GET",
            "cdc",
            params={"entities": "Invoice,Customer,Vendor", "changedSince": "2026-11-10T00:00:00-05:00"},
        )
        changes = document["CDCResponse"][0]["QueryResponse"]
        invoices, customers, vendors = changes
        assert [row["Id"] for row in invoices["Invoice"]] == [keep["Id"], dropped["Id"]]
        assert invoices["Invoice"][0]["TotalAmt"] == keep["TotalAmt"]
        assert invoices["Invoice"][1] == {
            "domain": "QBO",
            "status": "Deleted",
            "Id": dropped["Id"],
            "MetaData": {"LastUpdatedTime": "2026-11-20T10:30:00-05:00"},
        }
        # GUESS in the emulator: a balance moved by an invoice does not stamp the customer as changed.
        assert [row["Id"] for row in customers["Customer"]] == ["3"]
        assert vendors == {}
        everything = await qbo.ok("GET", "cdc", params={"entities": "Customer", "changedSince": "2026-10-31"})
        assert len(everything["CDCResponse"][0]["QueryResponse"][0]["Customer"]) == 20


async def test_cdc_refuses_excluded_entities_and_windows_over_30_days(qbo: Qbo) -> None:
    excluded = await qbo.fault(
        "GET", "cdc", params={"entities": "TimeActivity", "changedSince": "2026-11-19"}
    )
    assert excluded["code"] == "6000"
    too_old = await qbo.fault("GET", "cdc", params={"entities": "Customer", "changedSince": "2026-10-01"})
    assert too_old["code"] == "6000"
    qbo.emu.behaviour.cdc_too_old = "truncate"
    truncated = await qbo.ok("GET", "cdc", params={"entities": "Customer", "changedSince": "2026-10-01"})
    assert len(truncated["CDCResponse"][0]["QueryResponse"][0]["Customer"]) == 20
    missing = await qbo.fault("GET", "cdc", params={"entities": "Customer"})
    assert missing["code"] == "2020"


async def test_cdc_caps_a_response_at_1000_objects(qbo: Qbo) -> None:
    qbo.emu.add_customers(1100)
    document = await qbo.ok(
        "GET", "cdc", params={"entities": "Customer,Vendor", "changedSince": "2026-11-19"}
    )
    customers, vendors = document["CDCResponse"][0]["QueryResponse"]
    assert len(customers["Customer"]) == 1000
    assert vendors == {}


def test_the_seed_sits_before_the_fixed_clock() -> None:
    emu = emulator()
    assert (
        emu.state.tables["Customer"][seed.CUSTOMER_ACME]["MetaData"]["CreateTime"]
        == "2026-11-20T10:30:00-05:00"
    )
