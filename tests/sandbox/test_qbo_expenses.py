"""QBO emulator purchase side and time: Purchase, Bill, PurchaseOrder and TimeActivity rules."""

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


def expense_line(amount: str, account: str = seed.ACCOUNT_OFFICE_SOFTWARE, **detail: Any) -> dict[str, Any]:
    return {
        "Amount": D(amount),
        "DetailType": "AccountBasedExpenseLineDetail",
        "AccountBasedExpenseLineDetail": {"AccountRef": {"value": account}, **detail},
    }


def purchase(**fields: Any) -> dict[str, Any]:
    return {
        "PaymentType": "CreditCard",
        "AccountRef": {"value": seed.ACCOUNT_VISA},
        "EntityRef": {"value": seed.VENDOR_ADOBE, "type": "Vendor"},
        "Line": [expense_line("59.99")],
        **fields,
    }


async def test_a_credit_card_purchase_totals_its_lines(qbo: Qbo) -> None:
    created = await qbo.create(
        "Purchase", purchase(Line=[expense_line("59.99"), expense_line("20.00", seed.ACCOUNT_TRAVEL)])
    )
    validated("Purchase", created)
    assert created["TotalAmt"] == D("79.99")
    assert created["EntityRef"] == {"value": "3", "name": "Adobe", "type": "Vendor"}
    assert created["AccountRef"] == {"value": "5", "name": "Visa"}
    assert created["Line"][0]["AccountBasedExpenseLineDetail"]["BillableStatus"] == "NotBillable"
    assert created["Line"][1]["AccountBasedExpenseLineDetail"]["AccountRef"]["name"] == "Travel"
    assert created["TxnTaxDetail"] == {"TotalTax": 0}


async def test_purchase_lines_with_a_tax_code_carry_purchase_tax(qbo: Qbo) -> None:
    line = expense_line("100.00", TaxCodeRef={"value": seed.TAX_CODE_GST_QST})
    created = await qbo.create("Purchase", purchase(Line=[line]))
    # Purchase rates of the GST/QST code: 100 × 5 % = 5.00 and 100 × 9.975 % = 9.975 → 9.98
    assert created["TxnTaxDetail"]["TotalTax"] == D("14.98")
    assert {tax["TaxLineDetail"]["TaxRateRef"]["value"] for tax in created["TxnTaxDetail"]["TaxLine"]} == {
        seed.TAX_RATE_GST_PURCHASE,
        seed.TAX_RATE_QST_PURCHASE,
    }
    assert created["TotalAmt"] == D("114.98")


async def test_the_payee_type_is_found_when_not_given(qbo: Qbo) -> None:
    created = await qbo.create("Purchase", purchase(EntityRef={"value": seed.VENDOR_WAYNE}))
    assert created["EntityRef"] == {"value": "1", "name": "Wayne Enterprises", "type": "Vendor"}
    employee = await qbo.create("Purchase", purchase(EntityRef={"value": "2", "type": "Employee"}))
    assert employee["EntityRef"]["name"] == "Ben Okafor"


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"PaymentType": None}, "2020"),
        ({"AccountRef": None}, "2020"),
        ({"PaymentType": "Barter"}, "2170"),
        ({"PaymentType": "Check"}, "6000"),  # a credit card account cannot pay a check
        ({"PaymentType": "Cash", "Credit": True, "AccountRef": {"value": "1"}}, "6000"),
        ({"Line": []}, "2020"),
        (
            {
                "Line": [
                    {
                        "Amount": 5,
                        "DetailType": "AccountBasedExpenseLineDetail",
                        "AccountBasedExpenseLineDetail": {},
                    }
                ]
            },
            "2020",
        ),
        ({"Line": [{"Amount": 5, "DetailType": "SalesItemLineDetail", "SalesItemLineDetail": {}}]}, "2170"),
        ({"Line": [expense_line("5.00", BillableStatus="Billable")]}, "2020"),  # no CustomerRef
        (
            {"Line": [expense_line("5.00", BillableStatus="HasBeenBilled", CustomerRef={"value": "1"})]},
            "6000",
        ),
        ({"Line": [expense_line("5.00", "404")]}, "2500"),
        ({"EntityRef": {"value": "9", "type": "Customer"}}, "610"),
        ({"EntityRef": {"value": "1", "type": "Robot"}}, "2170"),
        ({"TxnDate": "2025-01-15"}, "6210"),
    ],
)
async def test_purchase_validation_faults(qbo: Qbo, changes: dict[str, Any], code: str) -> None:
    payload = purchase()
    for key, value in changes.items():
        if value is None:
            payload.pop(key)
        else:
            payload[key] = value
    assert (await qbo.create_fault("Purchase", payload))["code"] == code


async def test_check_numbers_follow_the_duplicate_check_preference(qbo: Qbo) -> None:
    check = purchase(PaymentType="Check", AccountRef={"value": seed.ACCOUNT_CHEQUING}, DocNumber="1201")
    await qbo.create("Purchase", check)
    assert (await qbo.create_fault("Purchase", check))["code"] == "6140"
    assert (await qbo.create("Purchase", check, include="allowduplicatedocnum"))["DocNumber"] == "1201"


async def test_a_bill_has_a_due_date_from_terms_and_a_balance(qbo: Qbo) -> None:
    bill = await qbo.create(
        "Bill",
        {
            "VendorRef": {"value": seed.VENDOR_PIXEL_FREELANCE},
            "SalesTermRef": {"value": seed.TERM_NET_15},
            "TxnDate": "2026-11-02",
            "DocNumber": "PF-88",
            "Line": [expense_line("1200.00", seed.ACCOUNT_LEGAL)],
        },
    )
    validated("Bill", bill)
    assert (bill["DueDate"], bill["Balance"], bill["TotalAmt"]) == ("2026-11-17", D("1200.00"), D("1200.00"))
    assert bill["APAccountRef"] == {"value": seed.ACCOUNT_PAYABLE, "name": "Accounts Payable (A/P)"}
    assert (await qbo.read("Vendor", seed.VENDOR_PIXEL_FREELANCE))["Balance"] == D("1200.00")
    duplicate = await qbo.create_fault(
        "Bill",
        {
            "VendorRef": {"value": seed.VENDOR_PIXEL_FREELANCE},
            "DocNumber": "PF-88",
            "Line": [expense_line("1.00")],
        },
    )
    assert duplicate["code"] == "6140"
    other_vendor = await qbo.create(
        "Bill",
        {"VendorRef": {"value": seed.VENDOR_ADOBE}, "DocNumber": "PF-88", "Line": [expense_line("1.00")]},
    )
    assert other_vendor["DocNumber"] == "PF-88"
    assert (await qbo.create_fault("Bill", {"Line": [expense_line("1.00")]}))["code"] == "2020"


async def test_a_purchase_order_is_open_by_default(qbo: Qbo) -> None:
    order = await qbo.create(
        "PurchaseOrder",
        {
            "VendorRef": {"value": seed.VENDOR_PIXEL_FREELANCE},
            "Line": [
                {
                    "Amount": D("3000.00"),
                    "DetailType": "ItemBasedExpenseLineDetail",
                    "ItemBasedExpenseLineDetail": {"ItemRef": {"value": "2"}, "Qty": 20, "UnitPrice": 150},
                }
            ],
        },
    )
    validated("PurchaseOrder", order)
    assert (order["POStatus"], order["EmailStatus"], order["TotalAmt"]) == ("Open", "NotSet", D("3000.00"))
    mismatch = await qbo.create_fault(
        "PurchaseOrder",
        {
            "VendorRef": {"value": "2"},
            "Line": [
                {
                    "Amount": D("3000.00"),
                    "DetailType": "ItemBasedExpenseLineDetail",
                    "ItemBasedExpenseLineDetail": {"ItemRef": {"value": "2"}, "Qty": 19, "UnitPrice": 150},
                }
            ],
        },
    )
    assert mismatch["code"] == "6070"


def time_activity(**fields: Any) -> dict[str, Any]:
    return {
        "NameOf": "Employee",
        "EmployeeRef": {"value": seed.EMPLOYEE_ALICE},
        "CustomerRef": {"value": seed.CUSTOMER_ACME},
        "ItemRef": {"value": seed.ITEM_HOURS},
        "TxnDate": "2026-11-03",
        "Hours": 1,
        "Minutes": 15,
        **fields,
    }


async def test_time_activity_defaults_and_names(qbo: Qbo) -> None:
    activity = await qbo.create("TimeActivity", time_activity())
    validated("TimeActivity", activity)
    assert activity["BillableStatus"] == "NotBillable"
    assert activity["EmployeeRef"] == {"value": "1", "name": "Alice Tremblay"}
    assert (activity["Hours"], activity["Minutes"], activity["Taxable"]) == (1, 15, False)
    billable = await qbo.create("TimeActivity", time_activity(BillableStatus="Billable", HourlyRate=150))
    assert (billable["BillableStatus"], billable["HourlyRate"]) == ("Billable", 150)
    vendor_time = await qbo.create(
        "TimeActivity",
        time_activity(NameOf="Vendor", EmployeeRef=None, VendorRef={"value": seed.VENDOR_PIXEL_FREELANCE}),
    )
    assert "EmployeeRef" not in vendor_time
    assert vendor_time["VendorRef"]["name"] == "Pixel Freelance Co."


async def test_start_and_end_times_are_company_local(qbo: Qbo) -> None:
    activity = await qbo.create(
        "TimeActivity",
        time_activity(
            Hours=None,
            Minutes=None,
            TxnDate=None,
            StartTime="2026-11-04T09:00:00",
            EndTime="2026-11-04T10:01:00",
        ),
    )
    assert (activity["StartTime"], activity["EndTime"]) == (
        "2026-11-04T09:00:00-05:00",
        "2026-11-04T10:01:00-05:00",
    )
    assert activity["TxnDate"] == "2026-11-04"
    assert "Hours" not in activity


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"NameOf": None}, "2020"),
        ({"NameOf": "Other"}, "2170"),
        ({"EmployeeRef": None}, "2020"),
        ({"EmployeeRef": {"value": "3"}}, "2500"),  # Chloé is not a QBO employee
        ({"NameOf": "Vendor"}, "2020"),  # VendorRef missing
        ({"Hours": None, "Minutes": None}, "2020"),
        ({"Minutes": 75}, "6000"),
        ({"Hours": 8761}, "6000"),
        (
            {
                "StartTime": "2026-11-04T10:00:00",
                "EndTime": "2026-11-04T09:00:00",
                "Hours": None,
                "Minutes": None,
            },
            "6000",
        ),
        ({"BillableStatus": "Billable", "CustomerRef": None}, "2020"),
        ({"BillableStatus": "HasBeenBilled"}, "6000"),
        ({"BillableStatus": "HAS_BEEN_BILLED"}, "2170"),
        ({"Description": "d" * 4001}, "2050"),
        ({"TxnDate": "2025-12-01"}, "6210"),
    ],
)
async def test_time_activity_validation_faults(qbo: Qbo, changes: dict[str, Any], code: str) -> None:
    payload = time_activity()
    for key, value in changes.items():
        if value is None:
            payload.pop(key, None)
        else:
            payload[key] = value
    assert (await qbo.create_fault("TimeActivity", payload))["code"] == code


async def test_invoicing_time_marks_it_billed_and_deleting_the_invoice_releases_it(qbo: Qbo) -> None:
    activity = await qbo.create("TimeActivity", time_activity(BillableStatus="Billable", HourlyRate=150))
    line = invoice_line("187.50", qty="1.25", price="150")
    line["LinkedTxn"] = [{"TxnId": activity["Id"], "TxnType": "TimeActivity"}]
    invoice = await qbo.create("Invoice", {"CustomerRef": {"value": seed.CUSTOMER_ACME}, "Line": [line]})
    billed = await qbo.read("TimeActivity", activity["Id"])
    assert (billed["BillableStatus"], billed["SyncToken"]) == ("HasBeenBilled", "1")
    again = await qbo.create_fault("Invoice", {"CustomerRef": {"value": seed.CUSTOMER_ACME}, "Line": [line]})
    assert again["code"] == "620"
    unchanged = await qbo.update(
        "TimeActivity",
        {"Id": activity["Id"], "SyncToken": "1", "sparse": True, "BillableStatus": "NotBillable"},
    )
    assert unchanged["BillableStatus"] == "HasBeenBilled"
    await qbo.ok(
        "POST", "invoice", payload={"Id": invoice["Id"], "SyncToken": "0"}, params={"operation": "delete"}
    )
    assert (await qbo.read("TimeActivity", activity["Id"]))["BillableStatus"] == "Billable"
