"""QBO emulator payments: applications reduce balances, reciprocal links, validation, update, delete, void."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest
from test_qbo_harness import Qbo, emulator, invoice_line, open_qbo, validated

from paymo_qb_mcp.sandbox.quickbooks import seed

D = Decimal


@pytest.fixture
async def qbo() -> AsyncIterator[Qbo]:
    async with open_qbo(emulator()) as client:
        yield client


def applying(*pairs: tuple[str, str]) -> list[dict[str, Any]]:
    return [
        {"Amount": D(amount), "LinkedTxn": [{"TxnId": txn_id, "TxnType": "Invoice"}]}
        for txn_id, amount in pairs
    ]


async def new_invoice(
    qbo: Qbo, amount: str = "1000.00", customer: str = seed.CUSTOMER_ACME, **extra: Any
) -> dict[str, Any]:
    line = invoice_line(amount, tax_code=seed.TAX_CODE_EXEMPT)
    return await qbo.create("Invoice", {"CustomerRef": {"value": customer}, "Line": [line], **extra})


async def test_a_partial_payment_reduces_the_balance_and_links_both_ways(qbo: Qbo) -> None:
    invoice = await new_invoice(qbo, DocNumber="INV-2026-1035")
    payment = await qbo.create(
        "Payment",
        {
            "CustomerRef": {"value": seed.CUSTOMER_ACME},
            "TotalAmt": D("400.00"),
            "Line": applying((invoice["Id"], "400.00")),
        },
    )
    validated("Payment", payment)
    assert payment["UnappliedAmt"] == 0
    assert payment["DepositToAccountRef"] == {
        "value": seed.ACCOUNT_UNDEPOSITED_FUNDS,
        "name": "Undeposited Funds",
    }
    extras = {item["value"]["Name"]: item["value"]["Value"] for item in payment["Line"][0]["LineEx"]["any"]}
    assert extras == {
        "txnId": invoice["Id"],
        "txnOpenBalance": "1000.00",
        "txnReferenceNumber": "INV-2026-1035",
    }
    after = await qbo.read("Invoice", invoice["Id"])
    assert after["Balance"] == D("600.00")
    assert after["TotalAmt"] == D("1000.00")
    assert after["LinkedTxn"] == [{"TxnId": payment["Id"], "TxnType": "Payment"}]
    assert after["SyncToken"] == "1"
    assert (await qbo.read("Customer", seed.CUSTOMER_ACME))["Balance"] == D("600.00")


async def test_one_payment_can_pay_several_invoices_and_leave_credit(qbo: Qbo) -> None:
    first = await new_invoice(qbo, "100.00")
    second = await new_invoice(qbo, "250.00")
    payment = await qbo.create(
        "Payment",
        {
            "CustomerRef": {"value": "1"},
            "TotalAmt": D("400.00"),
            "Line": applying((first["Id"], "100.00"), (second["Id"], "250.00")),
        },
    )
    assert payment["UnappliedAmt"] == D("50.00")
    assert (await qbo.read("Invoice", first["Id"]))["Balance"] == 0
    assert (await qbo.read("Invoice", second["Id"]))["Balance"] == 0
    assert (await qbo.read("Customer", "1"))["Balance"] == D("-50.00")
    credit = await qbo.create("Payment", {"CustomerRef": {"value": "1"}, "TotalAmt": D("75.00")})
    assert (credit["UnappliedAmt"], credit.get("Line", [])) == (D("75.00"), [])


@pytest.mark.parametrize(
    ("payment", "code"),
    [
        ({"TotalAmt": 10}, "2020"),  # CustomerRef
        ({"CustomerRef": {"value": "1"}}, "2020"),  # TotalAmt
        ({"CustomerRef": {"value": "1"}, "TotalAmt": 10, "Line": [{"Amount": 10}]}, "2020"),  # LinkedTxn
        (
            {
                "CustomerRef": {"value": "1"},
                "TotalAmt": 10,
                "Line": [{"LinkedTxn": [{"TxnId": "1", "TxnType": "Invoice"}]}],
            },
            "2020",
        ),
        ({"CustomerRef": {"value": "1"}, "TotalAmt": 10, "TxnDate": "2025-10-01"}, "6210"),
        ({"CustomerRef": {"value": "1"}, "TotalAmt": 10, "DepositToAccountRef": {"value": "8"}}, "6000"),
        ({"CustomerRef": {"value": "1"}, "TotalAmt": 10, "PaymentRefNum": "x" * 22}, "2050"),
    ],
)
async def test_payment_validation_faults(qbo: Qbo, payment: dict[str, Any], code: str) -> None:
    assert (await qbo.create_fault("Payment", payment))["code"] == code


async def test_over_application_and_other_customers_invoices_are_refused(qbo: Qbo) -> None:
    invoice = await new_invoice(qbo, "100.00")
    over = await qbo.create_fault(
        "Payment",
        {"CustomerRef": {"value": "1"}, "TotalAmt": D("150.00"), "Line": applying((invoice["Id"], "150.00"))},
    )
    assert over["code"] == "6000"
    foreign = await qbo.create_fault(
        "Payment",
        {
            "CustomerRef": {"value": seed.CUSTOMER_INITECH},
            "TotalAmt": D("10.00"),
            "Line": applying((invoice["Id"], "10.00")),
        },
    )
    assert foreign["code"] == "620"
    beyond_total = await qbo.create_fault(
        "Payment",
        {"CustomerRef": {"value": "1"}, "TotalAmt": D("5.00"), "Line": applying((invoice["Id"], "10.00"))},
    )
    assert beyond_total["code"] == "6000"
    unknown = await qbo.create_fault(
        "Payment", {"CustomerRef": {"value": "1"}, "TotalAmt": D("5.00"), "Line": applying(("4040", "5.00"))}
    )
    assert unknown["code"] == "2500"
    assert (await qbo.read("Invoice", invoice["Id"]))["Balance"] == D("100.00")


async def test_updating_a_payment_replaces_its_applications(qbo: Qbo) -> None:
    first = await new_invoice(qbo, "100.00")
    second = await new_invoice(qbo, "200.00")
    payment = await qbo.create(
        "Payment",
        {"CustomerRef": {"value": "1"}, "TotalAmt": D("100.00"), "Line": applying((first["Id"], "100.00"))},
    )
    moved = await qbo.update(
        "Payment",
        {"Id": payment["Id"], "SyncToken": "0", "sparse": True, "Line": applying((second["Id"], "100.00"))},
    )
    assert moved["SyncToken"] == "1"
    first_after = await qbo.read("Invoice", first["Id"])
    assert (first_after["Balance"], first_after["LinkedTxn"]) == (D("100.00"), [])
    second_after = await qbo.read("Invoice", second["Id"])
    assert second_after["Balance"] == D("100.00")
    assert second_after["LinkedTxn"] == [{"TxnId": payment["Id"], "TxnType": "Payment"}]
    # Re-applying the same amount to the same invoice is not over-application: the old share is released.
    again = await qbo.update(
        "Payment",
        {"Id": payment["Id"], "SyncToken": "1", "sparse": True, "Line": applying((second["Id"], "100.00"))},
    )
    assert again["SyncToken"] == "2"


async def test_deleting_a_payment_restores_the_invoice(qbo: Qbo) -> None:
    invoice = await new_invoice(qbo, "100.00")
    payment = await qbo.create(
        "Payment",
        {"CustomerRef": {"value": "1"}, "TotalAmt": D("40.00"), "Line": applying((invoice["Id"], "40.00"))},
    )
    await qbo.ok(
        "POST", "payment", payload={"Id": payment["Id"], "SyncToken": "0"}, params={"operation": "delete"}
    )
    after = await qbo.read("Invoice", invoice["Id"])
    assert (after["Balance"], after["LinkedTxn"]) == (D("100.00"), [])
    assert (await qbo.fault("GET", f"payment/{payment['Id']}"))["code"] == "610"


async def test_voiding_a_payment_keeps_it_with_zero_amounts(qbo: Qbo) -> None:
    invoice = await new_invoice(qbo, "100.00")
    payment = await qbo.create(
        "Payment",
        {"CustomerRef": {"value": "1"}, "TotalAmt": D("40.00"), "Line": applying((invoice["Id"], "40.00"))},
    )
    voided = (
        await qbo.ok(
            "POST",
            "payment",
            payload={"Id": payment["Id"], "SyncToken": "0", "sparse": True},
            params={"operation": "update", "include": "void"},
        )
    )["Payment"]
    validated("Payment", voided)
    assert (voided["TotalAmt"], voided["UnappliedAmt"], voided["Line"]) == (0, 0, [])
    assert voided["PrivateNote"] == "Voided"
    assert voided["SyncToken"] == "1"
    assert (await qbo.read("Invoice", invoice["Id"]))["Balance"] == D("100.00")
    wrong_way = await qbo.fault(
        "POST", "payment", payload={"Id": payment["Id"], "SyncToken": "1"}, params={"operation": "void"}
    )
    assert wrong_way["code"] == "500"


async def test_deleting_a_paid_invoice_leaves_the_payment_unapplied(qbo: Qbo) -> None:
    invoice = await new_invoice(qbo, "100.00")
    payment = await qbo.create(
        "Payment",
        {"CustomerRef": {"value": "1"}, "TotalAmt": D("100.00"), "Line": applying((invoice["Id"], "100.00"))},
    )
    current = await qbo.read("Invoice", invoice["Id"])
    await qbo.ok(
        "POST",
        "invoice",
        payload={"Id": invoice["Id"], "SyncToken": current["SyncToken"]},
        params={"operation": "delete"},
    )
    after = await qbo.read("Payment", payment["Id"])
    assert (after["Line"], after["UnappliedAmt"], after["SyncToken"]) == ([], D("100.00"), "1")


async def test_a_foreign_currency_payment_must_match_its_invoice(qbo: Qbo) -> None:
    invoice = await new_invoice(qbo, "500.00", customer=seed.CUSTOMER_GLOBEX, ExchangeRate=D("1.39"))
    payment = await qbo.create(
        "Payment",
        {
            "CustomerRef": {"value": seed.CUSTOMER_GLOBEX},
            "TotalAmt": D("500.00"),
            "ExchangeRate": D("1.40"),
            "Line": applying((invoice["Id"], "500.00")),
        },
    )
    assert payment["CurrencyRef"]["value"] == "USD"
    assert payment["ExchangeRate"] == D("1.40")
    paid = await qbo.read("Invoice", invoice["Id"])
    assert (paid["Balance"], paid["HomeBalance"]) == (0, 0)
