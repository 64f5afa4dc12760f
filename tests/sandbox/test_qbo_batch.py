"""QBO emulator batch endpoint (reference §3.7): per-item results, independence, options, limits."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest
from test_qbo_harness import Qbo, emulator, invoice_line, open_qbo, parse, validated

from paymo_qb_mcp.sandbox.quickbooks import seed


@pytest.fixture
async def qbo() -> AsyncIterator[Qbo]:
    async with open_qbo(emulator()) as client:
        yield client


async def batch(qbo: Qbo, *items: dict[str, Any], **params: str) -> list[dict[str, Any]]:
    document = await qbo.ok("POST", "batch", payload={"BatchItemRequest": list(items)}, params=params or None)
    assert set(document) == {"BatchItemResponse", "time"}
    return list(document["BatchItemResponse"])


async def test_items_answer_by_bid_with_http_200_even_when_some_fail(qbo: Qbo) -> None:
    invoice = await qbo.create("Invoice", {"CustomerRef": {"value": "1"}, "Line": [invoice_line("10.00")]})
    results = await batch(
        qbo,
        {"bId": "bid1", "operation": "create", "Vendor": {"DisplayName": "ACME Corp."}},
        {"bId": "bid2", "operation": "create", "Vendor": {"DisplayName": "Figma"}},
        {
            "bId": "bid3",
            "operation": "update",
            "Customer": {"Id": "3", "SyncToken": "0", "sparse": True, "Notes": "n"},
        },
        {"bId": "bid4", "operation": "delete", "Invoice": {"Id": invoice["Id"], "SyncToken": "0"}},
        {"bId": "bid5", "Query": "select * from Vendor where DisplayName = 'Adobe'"},
    )
    assert [result["bId"] for result in results] == ["bid1", "bid2", "bid3", "bid4", "bid5"]
    fault = results[0]["Fault"]
    assert fault["type"] == "ValidationFault"
    assert fault["Error"][0]["code"] == "6240"
    assert validated("Vendor", results[1]["Vendor"])["DisplayName"] == "Figma"
    assert results[2]["Customer"]["SyncToken"] == "1"
    assert results[3]["Invoice"] == {"status": "Deleted", "domain": "QBO", "Id": invoice["Id"]}
    assert [row["DisplayName"] for row in results[4]["QueryResponse"]["Vendor"]] == ["Adobe"]


async def test_items_cannot_see_what_other_items_of_the_batch_created(qbo: Qbo) -> None:
    results = await batch(
        qbo,
        {"bId": "c", "operation": "create", "Customer": {"DisplayName": "Stark Industries"}},
        {
            "bId": "i",
            "operation": "create",
            "Invoice": {"CustomerRef": {"value": "21"}, "Line": [invoice_line("1.00")]},
        },
        {"bId": "q", "Query": "select * from Customer where DisplayName = 'Stark Industries'"},
    )
    assert results[0]["Customer"]["Id"] == "21"
    assert results[1]["Fault"]["Error"][0]["code"] == "2500"
    assert results[2]["QueryResponse"] == {}
    assert (await qbo.read("Customer", "21"))["DisplayName"] == "Stark Industries"


async def test_options_data_voids_and_allows_duplicate_doc_numbers(qbo: Qbo) -> None:
    first = await qbo.create(
        "Invoice", {"CustomerRef": {"value": "1"}, "Line": [invoice_line("100.00")], "DocNumber": "INV-1"}
    )
    payment = await qbo.create(
        "Payment",
        {
            "CustomerRef": {"value": "1"},
            "TotalAmt": Decimal("50.00"),
            "Line": [
                {"Amount": Decimal("50.00"), "LinkedTxn": [{"TxnId": first["Id"], "TxnType": "Invoice"}]}
            ],
        },
    )
    duplicate = {"CustomerRef": {"value": "1"}, "Line": [invoice_line("5.00")], "DocNumber": "INV-1"}
    results = await batch(
        qbo,
        {
            "bId": "v",
            "operation": "update",
            "optionsData": "void",
            "Payment": {"Id": payment["Id"], "SyncToken": "0", "sparse": True},
        },
        {"bId": "d1", "operation": "create", "Invoice": duplicate},
        {"bId": "d2", "operation": "create", "optionsData": "allowduplicatedocnum", "Invoice": duplicate},
    )
    assert results[0]["Payment"]["TotalAmt"] == 0
    assert results[1]["Fault"]["Error"][0]["code"] == "6140"
    assert results[2]["Invoice"]["DocNumber"] == "INV-1"


async def test_unsupported_item_operations_fail_alone(qbo: Qbo) -> None:
    results = await batch(
        qbo,
        {"bId": "m", "operation": "merge", "Customer": {"Id": "1"}},
        {"bId": "x", "operation": "create", "Widget": {}},
        {"bId": "ok", "operation": "create", "Term": {"Name": "Net 7", "DueDays": 7}},
    )
    assert results[0]["Fault"]["Error"][0]["code"] == "500"
    assert results[1]["Fault"]["Error"][0]["code"] == "2010"
    assert results[2]["Term"]["DueDays"] == 7


async def test_oversized_empty_and_malformed_batches_are_refused_whole(qbo: Qbo) -> None:
    items = [{"bId": f"b{number}", "Query": "select count(*) from Customer"} for number in range(31)]
    oversize = await qbo.fault("POST", "batch", payload={"BatchItemRequest": items})
    assert oversize["code"] == "1040"
    assert (await qbo.fault("POST", "batch", payload={"BatchItemRequest": []}))["code"] == "400"
    twice = [{"bId": "same", "Query": "select * from Term"}, {"bId": "same", "Query": "select * from Term"}]
    assert (await qbo.fault("POST", "batch", payload={"BatchItemRequest": twice}))["code"] == "400"
    no_id = [{"Query": "select * from Term"}]
    assert (await qbo.fault("POST", "batch", payload={"BatchItemRequest": no_id}))["code"] == "2020"
    qbo.emu.behaviour.batch_max_items = 10
    assert (await qbo.fault("POST", "batch", payload={"BatchItemRequest": items[:11]}))["code"] == "1040"
    assert len(await batch(qbo, *items[:10])) == 10


async def test_a_batch_with_a_requestid_is_replayed_whole(qbo: Qbo) -> None:
    items = [{"bId": "t", "operation": "create", "Term": {"Name": "Net 10", "DueDays": 10}}]
    first = await qbo.request(
        "POST", "batch", payload={"BatchItemRequest": items}, params={"requestid": "batch-1"}
    )
    second = await qbo.request(
        "POST", "batch", payload={"BatchItemRequest": items}, params={"requestid": "batch-1"}
    )
    assert first.content == second.content
    assert "Term" in parse(second)["BatchItemResponse"][0]
    assert (await qbo.query("select count(*) from Term"))["totalCount"] == 5
    long_id = await qbo.fault(
        "POST", "batch", payload={"BatchItemRequest": items}, params={"requestid": "b" * 37}
    )
    assert long_id["code"] == "2050"
    long_bid = [{"bId": "b" * 11, "Query": "select * from Term"}]
    refused = await qbo.fault(
        "POST", "batch", payload={"BatchItemRequest": long_bid}, params={"requestid": "batch-2"}
    )
    assert refused["code"] == "2050"


async def test_batch_items_are_validated_like_single_calls(qbo: Qbo) -> None:
    results = await batch(
        qbo,
        {"bId": "a", "operation": "create", "Customer": {"DisplayName": "Soylent: Foods"}},
        {
            "bId": "b",
            "operation": "update",
            "Customer": {"Id": seed.CUSTOMER_ACME, "SyncToken": "7", "sparse": True},
        },
        {"bId": "c", "Query": "select * from Customer where A = 'b' or B = 'c'"},
    )
    assert [result["Fault"]["Error"][0]["code"] for result in results] == ["6000", "5010", "4000"]
