"""QBO emulator invoices and estimates: defaults, tax in both models (worked by hand), updates, void."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest
from test_qbo_harness import Qbo, emulator, invoice_line, open_qbo, validated

from paymo_qb_mcp.sandbox.quickbooks import seed

D = Decimal
GST_QST = seed.TAX_CODE_GST_QST
EXEMPT = seed.TAX_CODE_EXEMPT


@pytest.fixture
async def qbo() -> AsyncIterator[Qbo]:
    async with open_qbo(emulator()) as client:
        yield client


@pytest.fixture
async def qbo_us() -> AsyncIterator[Qbo]:
    async with open_qbo(emulator(tax_model="us")) as client:
        yield client


def tax_lines(invoice: dict[str, Any]) -> dict[str, tuple[Decimal, Decimal]]:
    """TaxRate Id → (Amount, NetAmountTaxable)."""
    return {
        line["TaxLineDetail"]["TaxRateRef"]["value"]: (
            line["Amount"],
            line["TaxLineDetail"]["NetAmountTaxable"],
        )
        for line in invoice["TxnTaxDetail"].get("TaxLine", [])
    }


def discount(amount: str) -> dict[str, Any]:
    return {
        "Amount": D(amount),
        "DetailType": "DiscountLineDetail",
        "DiscountLineDetail": {"PercentBased": False},
    }


async def test_an_invoice_gets_qbo_defaults_and_computed_lines(qbo: Qbo) -> None:
    invoice = await qbo.create(
        "Invoice",
        {
            "CustomerRef": {"value": seed.CUSTOMER_ACME},
            "Line": [invoice_line("3000.00", qty="20", price="150"), invoice_line("49.99", tax_code=EXEMPT)],
        },
    )
    validated("Invoice", invoice)
    assert invoice["SyncToken"] == "0"
    assert [(line.get("Id"), line.get("LineNum"), line["DetailType"]) for line in invoice["Line"]] == [
        ("1", 1, "SalesItemLineDetail"),
        ("2", 2, "SalesItemLineDetail"),
        (None, None, "SubTotalLineDetail"),
    ]
    assert invoice["Line"][2] == {
        "Amount": D("3049.99"),
        "DetailType": "SubTotalLineDetail",
        "SubTotalLineDetail": {},
    }
    assert invoice["Line"][0]["SalesItemLineDetail"]["ItemRef"] == {"value": "1", "name": "Services"}
    assert invoice["TxnDate"] == "2026-11-20"
    assert invoice["SalesTermRef"] == {"value": "3", "name": "Net 30"}
    assert invoice["DueDate"] == "2026-12-20"
    assert "DocNumber" not in invoice  # CustomTxnNumbers is on: no automatic number
    assert invoice["BillAddr"]["Line1"] == "500 Industrial Way"
    customer = await qbo.read("Customer", seed.CUSTOMER_ACME)
    assert invoice["BillAddr"]["Id"] != customer["BillAddr"]["Id"]
    assert invoice["BillEmail"] == {"Address": "billing@acme.example"}
    assert (invoice["EmailStatus"], invoice["PrintStatus"]) == ("NotSet", "NotSet")
    assert invoice["LinkedTxn"] == []
    assert invoice["CurrencyRef"] == {"value": "CAD", "name": "Canadian Dollar"}
    assert invoice["GlobalTaxCalculation"] == "TaxExcluded"
    # 3000 × 5 % = 150.00 GST; 3000 × 9.975 % = 299.25 QST; the exempt line carries 0 %.
    assert tax_lines(invoice) == {
        seed.TAX_RATE_GST: (D("150.00"), D("3000.00")),
        seed.TAX_RATE_QST: (D("299.25"), D("3000.00")),
        "5": (D("0.00"), D("49.99")),
    }
    assert invoice["TotalAmt"] == D("3499.24")
    assert invoice["Balance"] == D("3499.24")
    assert (await qbo.read("Customer", seed.CUSTOMER_ACME))["Balance"] == D("3499.24")


async def test_global_tax_is_per_line_and_per_rate_after_a_prorated_discount(qbo: Qbo) -> None:
    # INV-2026-1035's shape: Design 20 × 150, Development 12.5 × 150, Hosting 49.99 untaxed, 10 % off as
    # a fixed 492.50 discount. Taxed share f = 1 − 492.50 / 4924.99.
    #   Design:      3000 × f = 2699.99939 → GST 134.99997 → 135.00; QST 269.32494 → 269.32
    #   Development: 1875 × f = 1687.49962 → GST  84.37498 →  84.37; QST 168.32809 → 168.33
    invoice = await qbo.create(
        "Invoice",
        {
            "CustomerRef": {"value": seed.CUSTOMER_ACME},
            "Line": [
                invoice_line("3000.00", qty="20", price="150"),
                invoice_line("1875.00", qty="12.5", price="150"),
                invoice_line("49.99", tax_code=EXEMPT),
                discount("492.50"),
            ],
        },
    )
    validated("Invoice", invoice)
    taxes = tax_lines(invoice)
    assert taxes[seed.TAX_RATE_GST] == (D("219.37"), D("4387.50"))
    assert taxes[seed.TAX_RATE_QST][0] == D("437.65")
    assert invoice["TxnTaxDetail"]["TotalTax"] == D("657.02")
    assert invoice["Line"][4]["Amount"] == D("4924.99")  # subtotal before discount
    assert invoice["TotalAmt"] == D("5089.51")  # 4924.99 − 492.50 + 657.02


async def test_a_percent_discount_is_rounded_half_up_to_cents(qbo: Qbo) -> None:
    invoice = await qbo.create(
        "Invoice",
        {
            "CustomerRef": {"value": seed.CUSTOMER_ACME},
            "Line": [
                invoice_line("4924.99", tax_code=EXEMPT),
                {
                    "DetailType": "DiscountLineDetail",
                    "DiscountLineDetail": {"PercentBased": True, "DiscountPercent": 10},
                },
            ],
        },
    )
    assert invoice["Line"][1]["Amount"] == D("492.50")  # 492.499 → 492.50
    assert invoice["TotalAmt"] == D("4432.49")


async def test_without_a_discount_tax_after_discount_changes_nothing(qbo: Qbo) -> None:
    invoice = await qbo.create(
        "Invoice", {"CustomerRef": {"value": seed.CUSTOMER_CAFE_LUMIERE}, "Line": [invoice_line("6000.00")]}
    )
    # 6000 × 5 % = 300.00; 6000 × 9.975 % = 598.50
    assert invoice["TxnTaxDetail"]["TotalTax"] == D("898.50")
    assert invoice["TotalAmt"] == D("6898.50")
    assert invoice["TxnTaxDetail"]["TxnTaxCodeRef"] == {"value": GST_QST}


async def test_tax_inclusive_lines_back_out_the_tax_from_the_gross(qbo: Qbo) -> None:
    line = invoice_line("114.98")
    line["SalesItemLineDetail"]["TaxInclusiveAmt"] = D("114.98")
    invoice = await qbo.create(
        "Invoice",
        {
            "CustomerRef": {"value": seed.CUSTOMER_ACME},
            "GlobalTaxCalculation": "TaxInclusive",
            "Line": [line],
        },
    )
    validated("Invoice", invoice)
    # Shares of the gross over 114.975 %: GST 114.98 × 5 / 114.975 = 5.00022 → 5.00;
    # QST 114.98 × 9.975 / 114.975 = 9.97543 → 9.98; net = 114.98 − 14.98 = 100.00.
    first = invoice["Line"][0]
    assert first["Amount"] == D("100.00")
    assert first["SalesItemLineDetail"]["TaxInclusiveAmt"] == D("114.98")
    assert invoice["TxnTaxDetail"]["TotalTax"] == D("14.98")  # 5.00 + 9.975 → 9.98
    assert invoice["TotalAmt"] == D("114.98")


async def test_tax_amounts_sent_in_txn_tax_detail_are_kept(qbo: Qbo) -> None:
    lines = [invoice_line("10.10"), invoice_line("10.10")]
    computed = await qbo.create("Invoice", {"CustomerRef": {"value": seed.CUSTOMER_ACME}, "Line": lines})
    # Per line: GST 0.505 → 0.51 (×2 = 1.02); QST 1.007475 → 1.01 (×2 = 2.02).
    assert computed["TxnTaxDetail"]["TotalTax"] == D("3.04")
    override = {
        "TaxLine": [
            {
                "Amount": D("1.01"),
                "DetailType": "TaxLineDetail",
                "TaxLineDetail": {"TaxRateRef": {"value": "1"}},
            },
            {
                "Amount": D("2.01"),
                "DetailType": "TaxLineDetail",
                "TaxLineDetail": {"TaxRateRef": {"value": "3"}},
            },
        ]
    }
    kept = await qbo.create(
        "Invoice", {"CustomerRef": {"value": seed.CUSTOMER_ACME}, "Line": lines, "TxnTaxDetail": override}
    )
    assert kept["TxnTaxDetail"]["TotalTax"] == D("3.02")
    assert kept["TotalAmt"] == D("23.22")
    foreign_rate = {
        "TaxLine": [
            {"Amount": D("1"), "DetailType": "TaxLineDetail", "TaxLineDetail": {"TaxRateRef": {"value": "6"}}}
        ]
    }
    error = await qbo.create_fault(
        "Invoice", {"CustomerRef": {"value": seed.CUSTOMER_ACME}, "Line": lines, "TxnTaxDetail": foreign_rate}
    )
    assert error["code"] == "6000"


async def test_us_ast_taxes_taxable_lines_at_the_ship_to_states_rate(qbo_us: Qbo) -> None:
    base = {
        "CustomerRef": {"value": seed.CUSTOMER_SMITH_AND_SONS},
        "Line": [invoice_line("1000.00", tax_code="TAX"), invoice_line("200.00", tax_code="NON")],
    }
    new_york = await qbo_us.create("Invoice", base)
    validated("Invoice", new_york)
    # Bill-to Buffalo, NY: 1000 × 8.875 % = 88.75
    assert new_york["TxnTaxDetail"]["TotalTax"] == D("88.75")
    assert new_york["TxnTaxDetail"]["TxnTaxCodeRef"] == {"value": seed.AST_CODES_US["NY"][0]}
    assert tax_lines(new_york) == {"1": (D("88.75"), D("1000.00"))}
    assert new_york["TotalAmt"] == D("1288.75")
    assert "GlobalTaxCalculation" not in new_york
    assert new_york["CurrencyRef"]["value"] == "USD"
    california = await qbo_us.create(
        "Invoice", {**base, "ShipAddr": {"City": "Oakland", "CountrySubDivisionCode": "CA"}}
    )
    assert california["TxnTaxDetail"]["TotalTax"] == D("72.50")  # 7.25 %
    oregon = await qbo_us.create(
        "Invoice", {**base, "ShipAddr": {"City": "Portland", "CountrySubDivisionCode": "OR"}}
    )
    assert oregon["TxnTaxDetail"]["TotalTax"] == D("60.00")  # any other state: 6 %


async def test_us_ast_applies_tax_after_the_discount_and_honours_a_total_tax_override(qbo_us: Qbo) -> None:
    lines = [
        invoice_line("1000.00", tax_code="TAX"),
        invoice_line("500.00", tax_code="NON"),
        discount("150.00"),
    ]
    invoice = await qbo_us.create(
        "Invoice", {"CustomerRef": {"value": seed.CUSTOMER_SMITH_AND_SONS}, "Line": lines}
    )
    # Taxable 1000 × (1 − 150 / 1500) = 900.00; × 8.875 % = 79.875 → 79.88
    assert invoice["TxnTaxDetail"]["TotalTax"] == D("79.88")
    assert invoice["TotalAmt"] == D("1429.88")
    overridden = await qbo_us.create(
        "Invoice",
        {
            "CustomerRef": {"value": seed.CUSTOMER_SMITH_AND_SONS},
            "Line": lines,
            "TxnTaxDetail": {"TotalTax": D("79.86")},
        },
    )
    assert overridden["TxnTaxDetail"]["TotalTax"] == D("79.86")
    assert tax_lines(overridden)["1"][0] == D("79.86")
    assert overridden["TotalAmt"] == D("1429.86")
    error = await qbo_us.create_fault(
        "Invoice",
        {
            "CustomerRef": {"value": seed.CUSTOMER_SMITH_AND_SONS},
            "Line": [invoice_line("1.00", tax_code="2")],
        },
    )
    assert error["code"] == "2500"


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ({"Line": [invoice_line("10.00")]}, "2020"),  # CustomerRef
        ({"CustomerRef": {"value": "1"}}, "2020"),  # Line
        ({"CustomerRef": {"value": "1"}, "Line": [{"Amount": 10, "SalesItemLineDetail": {}}]}, "2020"),
        (
            {"CustomerRef": {"value": "1"}, "Line": [{"Amount": 10, "DetailType": "SalesItemLineDetail"}]},
            "2020",
        ),
        (
            {
                "CustomerRef": {"value": "1"},
                "Line": [{"DetailType": "SalesItemLineDetail", "SalesItemLineDetail": {}}],
            },
            "2020",
        ),
        ({"CustomerRef": {"value": "1"}, "Line": [invoice_line("10.00", tax_code=None)]}, "6000"),
        ({"CustomerRef": {"value": "1"}, "Line": [invoice_line("10.00", qty="3", price="3.33")]}, "6070"),
        (
            {"CustomerRef": {"value": "1"}, "Line": [invoice_line("10.00")], "GlobalTaxCalculation": "Nope"},
            "2170",
        ),
        ({"CustomerRef": {"value": "1"}, "Line": [invoice_line("10.00")], "EmailStatus": "Sent"}, "2170"),
        ({"CustomerRef": {"value": "9"}, "Line": [invoice_line("10.00")]}, "610"),  # Hooli is inactive
        ({"CustomerRef": {"value": "999"}, "Line": [invoice_line("10.00")]}, "2500"),
        (
            {
                "CustomerRef": {"value": "1"},
                "Line": [invoice_line("10.00")],
                "DocNumber": "INV-2026-1035-ABCDEFGH",
            },
            "2050",
        ),
        ({"CustomerRef": {"value": "1"}, "Line": [invoice_line("10.00")], "TxnDate": "2025-12-15"}, "6210"),
        ({"CustomerRef": {"value": "1"}, "Line": [invoice_line("10.00")], "TxnDate": "2025-12-31"}, "6210"),
        (
            {"CustomerRef": {"value": "1"}, "Line": [invoice_line("10.00")], "CustmerRef": {"value": "1"}},
            "2010",
        ),
        (
            {"CustomerRef": {"value": "1"}, "Line": [invoice_line("10.00")], "BillEmail": {"Address": "x@y"}},
            "2210",
        ),
        ({"CustomerRef": {"value": "1"}, "Line": [invoice_line("10.00")], "PrivateNote": "p" * 4001}, "2050"),
        (
            {
                "CustomerRef": {"value": "1"},
                "Line": [invoice_line("10.00")],
                "CustomerMemo": {"value": "m" * 1001},
            },
            "2050",
        ),
    ],
)
async def test_invoice_validation_faults(qbo: Qbo, payload: dict[str, Any], code: str) -> None:
    assert (await qbo.create_fault("Invoice", payload))["code"] == code


async def test_the_missing_tax_code_fault_says_tax_code(qbo: Qbo) -> None:
    error = await qbo.create_fault(
        "Invoice", {"CustomerRef": {"value": "1"}, "Line": [invoice_line("10.00", tax_code=None)]}
    )
    assert "tax code" in error["Detail"]


async def test_qty_times_unit_price_is_compared_after_rounding(qbo: Qbo) -> None:
    invoice = await qbo.create(
        "Invoice", {"CustomerRef": {"value": "1"}, "Line": [invoice_line("1.25", qty="1.25", price="1")]}
    )
    assert invoice["Line"][0]["Amount"] == D("1.25")
    rounded = await qbo.create(
        "Invoice",
        {"CustomerRef": {"value": "1"}, "Line": [invoice_line("200.00", qty="1.3333", price="150")]},
    )
    assert rounded["Line"][0]["Amount"] == D("200.00")  # 199.995 → 200.00


async def test_doc_numbers_repeat_only_with_allowduplicatedocnum(qbo: Qbo) -> None:
    payload = {"CustomerRef": {"value": "1"}, "Line": [invoice_line("10.00")], "DocNumber": "INV-2026-1035"}
    first = await qbo.create("Invoice", payload)
    assert first["DocNumber"] == "INV-2026-1035"
    error = await qbo.create_fault("Invoice", payload)
    assert error["code"] == "6140"
    assert error["Message"] == "Duplicate Document Number Error"
    again = await qbo.create("Invoice", payload, include="allowduplicatedocnum")
    assert again["DocNumber"] == "INV-2026-1035"
    qbo.emu.behaviour.reject_duplicate_sales_docnumber = False
    assert (await qbo.create("Invoice", payload))["DocNumber"] == "INV-2026-1035"


async def test_auto_generate_numbers_invoices_in_sequence(qbo: Qbo) -> None:
    first = await qbo.create(
        "Invoice",
        {"CustomerRef": {"value": "1"}, "Line": [invoice_line("1.00")], "DocNumber": "AUTO_GENERATE"},
    )
    second = await qbo.create(
        "Invoice",
        {"CustomerRef": {"value": "1"}, "Line": [invoice_line("1.00")], "DocNumber": "AUTO_GENERATE"},
    )
    assert (first["DocNumber"], second["DocNumber"]) == ("1001", "1002")


async def test_a_foreign_currency_invoice_uses_the_customers_currency_and_home_amounts(qbo: Qbo) -> None:
    invoice = await qbo.create(
        "Invoice",
        {
            "CustomerRef": {"value": seed.CUSTOMER_GLOBEX},
            "ExchangeRate": D("1.39"),
            "Line": [invoice_line("1000.00", tax_code=seed.TAX_CODE_ZERO_RATED)],
        },
    )
    validated("Invoice", invoice)
    assert invoice["CurrencyRef"] == {"value": "USD", "name": "United States Dollar"}
    assert (invoice["TotalAmt"], invoice["HomeTotalAmt"], invoice["HomeBalance"]) == (
        D("1000.00"),
        D("1390.00"),
        D("1390.00"),
    )
    mismatch = await qbo.create_fault(
        "Invoice",
        {
            "CustomerRef": {"value": seed.CUSTOMER_GLOBEX},
            "CurrencyRef": {"value": "CAD"},
            "Line": [invoice_line("1.00")],
        },
    )
    assert mismatch["code"] == "6000"
    default_rate = await qbo.create(
        "Invoice",
        {"CustomerRef": {"value": seed.CUSTOMER_GLOBEX}, "Line": [invoice_line("10.00", tax_code="4")]},
    )
    assert default_rate["ExchangeRate"] == 1


async def test_sparse_update_keeps_lines_and_full_update_clears_omitted_fields(qbo: Qbo) -> None:
    created = await qbo.create(
        "Invoice",
        {
            "CustomerRef": {"value": "1"},
            "Line": [invoice_line("100.00")],
            "PrivateNote": "draft",
            "DocNumber": "A-1",
        },
    )
    sparse = await qbo.update(
        "Invoice",
        {"Id": created["Id"], "SyncToken": "0", "sparse": True, "CustomerMemo": {"value": "Thanks"}},
    )
    assert sparse["SyncToken"] == "1"
    assert sparse["Line"] == created["Line"]
    assert (sparse["PrivateNote"], sparse["TotalAmt"]) == ("draft", created["TotalAmt"])
    full = await qbo.update(
        "Invoice",
        {"Id": created["Id"], "SyncToken": "1", "CustomerRef": {"value": "1"}, "Line": sparse["Line"]},
    )
    assert "PrivateNote" not in full
    assert "DocNumber" not in full
    assert "CustomerMemo" not in full
    assert full["TotalAmt"] == created["TotalAmt"]
    validated("Invoice", full)


async def test_sent_lines_replace_all_lines_and_keep_known_ids(qbo: Qbo) -> None:
    created = await qbo.create(
        "Invoice", {"CustomerRef": {"value": "1"}, "Line": [invoice_line("100.00"), invoice_line("50.00")]}
    )
    kept = dict(created["Line"][1])
    kept["Amount"] = D("60.00")
    new_line = {**invoice_line("5.00"), "Id": "77"}
    updated = await qbo.update(
        "Invoice", {"Id": created["Id"], "SyncToken": "0", "sparse": True, "Line": [kept, new_line]}
    )
    assert [(line.get("Id"), line.get("LineNum"), line["Amount"]) for line in updated["Line"]] == [
        ("2", 1, D("60.00")),
        ("3", 2, D("5.00")),
        (None, None, D("65.00")),
    ]
    # Changed lines recompute tax: GST 3.00 + 0.25; QST 60 × 9.975 % = 5.985 → 5.99, 5 × 9.975 % → 0.50
    assert updated["TxnTaxDetail"]["TotalTax"] == D("9.74")
    assert updated["TotalAmt"] == D("74.74")


async def test_updates_and_deletes_check_the_sync_token_and_the_closed_period(qbo: Qbo) -> None:
    created = await qbo.create("Invoice", {"CustomerRef": {"value": "1"}, "Line": [invoice_line("10.00")]})
    stale = await qbo.create_fault(
        "Invoice", {"Id": created["Id"], "SyncToken": "5", "sparse": True, "PrivateNote": "x"}
    )
    assert stale["code"] == "5010"
    stale_delete = await qbo.fault(
        "POST", "invoice", payload={"Id": created["Id"], "SyncToken": "3"}, params={"operation": "delete"}
    )
    assert stale_delete["code"] == "5010"
    stale_void = await qbo.fault(
        "POST", "invoice", payload={"Id": created["Id"], "SyncToken": "3"}, params={"operation": "void"}
    )
    assert stale_void["code"] == "5010"
    into_closed = await qbo.create_fault(
        "Invoice", {"Id": created["Id"], "SyncToken": "0", "sparse": True, "TxnDate": "2025-06-01"}
    )
    assert into_closed["code"] == "6210"


async def test_delete_is_hard_and_reported_with_a_deleted_stub(qbo: Qbo) -> None:
    created = await qbo.create("Invoice", {"CustomerRef": {"value": "1"}, "Line": [invoice_line("10.00")]})
    deleted = await qbo.ok(
        "POST", "invoice", payload={"Id": created["Id"], "SyncToken": "0"}, params={"operation": "delete"}
    )
    assert deleted["Invoice"] == {"status": "Deleted", "domain": "QBO", "Id": created["Id"]}
    gone = await qbo.fault("GET", f"invoice/{created['Id']}")
    assert gone["code"] == "610"
    assert await qbo.query(f"select * from Invoice where Id = '{created['Id']}'") == {}
    assert (await qbo.read("Customer", "1"))["Balance"] == 0


async def test_void_zeroes_the_amounts_and_marks_the_note(qbo: Qbo) -> None:
    created = await qbo.create(
        "Invoice",
        {
            "CustomerRef": {"value": "1"},
            "Line": [invoice_line("300.00", qty="2", price="150")],
            "PrivateNote": "Oct work",
        },
    )
    voided = (
        await qbo.ok(
            "POST", "invoice", payload={"Id": created["Id"], "SyncToken": "0"}, params={"operation": "void"}
        )
    )["Invoice"]
    validated("Invoice", voided)
    assert voided["SyncToken"] == "1"
    assert (voided["TotalAmt"], voided["Balance"], voided["TxnTaxDetail"]["TotalTax"]) == (0, 0, 0)
    assert voided["Line"][0]["Amount"] == 0
    assert voided["Line"][0]["SalesItemLineDetail"]["Qty"] == 0
    assert voided["PrivateNote"] == "Voided - Oct work"
    assert (await qbo.read("Invoice", created["Id"]))["TotalAmt"] == 0


async def test_an_invoice_with_a_payment_cannot_be_voided_unless_configured(qbo: Qbo) -> None:
    invoice = await qbo.create("Invoice", {"CustomerRef": {"value": "1"}, "Line": [invoice_line("100.00")]})
    await qbo.create(
        "Payment",
        {
            "CustomerRef": {"value": "1"},
            "TotalAmt": 10,
            "Line": [{"Amount": 10, "LinkedTxn": [{"TxnId": invoice["Id"], "TxnType": "Invoice"}]}],
        },
    )
    current = await qbo.read("Invoice", invoice["Id"])
    error = await qbo.fault(
        "POST",
        "invoice",
        payload={"Id": invoice["Id"], "SyncToken": current["SyncToken"]},
        params={"operation": "void"},
    )
    assert error["code"] == "6000"
    qbo.emu.behaviour.block_void_with_payments = False
    voided = await qbo.ok(
        "POST",
        "invoice",
        payload={"Id": invoice["Id"], "SyncToken": current["SyncToken"]},
        params={"operation": "void"},
    )
    assert voided["Invoice"]["Balance"] == 0
    payment = (await qbo.query("select * from Payment"))["Payment"][0]
    assert (payment["UnappliedAmt"], payment["Line"]) == (D("10.00"), [])


async def test_an_estimate_is_pending_until_an_invoice_links_it(qbo: Qbo) -> None:
    estimate = await qbo.create(
        "Estimate",
        {
            "CustomerRef": {"value": seed.CUSTOMER_ACME},
            "Line": [invoice_line("25000.00")],
            "ExpirationDate": "2026-12-31",
        },
    )
    validated("Estimate", estimate)
    assert estimate["TxnStatus"] == "Pending"
    assert "Balance" not in estimate
    assert estimate["TotalAmt"] == D("28743.75")  # 25000 + 1250.00 GST + 2493.75 QST
    invoice = await qbo.create(
        "Invoice",
        {
            "CustomerRef": {"value": seed.CUSTOMER_ACME},
            "Line": [invoice_line("2500.00")],
            "LinkedTxn": [{"TxnId": estimate["Id"], "TxnType": "Estimate"}],
        },
    )
    assert invoice["LinkedTxn"] == [{"TxnId": estimate["Id"], "TxnType": "Estimate"}]
    closed = await qbo.read("Estimate", estimate["Id"])
    assert closed["TxnStatus"] == "Closed"
    assert closed["LinkedTxn"] == [{"TxnId": invoice["Id"], "TxnType": "Invoice"}]
    other_customer = await qbo.create_fault(
        "Invoice",
        {
            "CustomerRef": {"value": seed.CUSTOMER_INITECH},
            "Line": [invoice_line("1.00")],
            "LinkedTxn": [{"TxnId": estimate["Id"], "TxnType": "Estimate"}],
        },
    )
    assert other_customer["code"] == "620"


async def test_sending_an_invoice_marks_it_sent(qbo: Qbo) -> None:
    invoice = await qbo.create("Invoice", {"CustomerRef": {"value": "1"}, "Line": [invoice_line("10.00")]})
    sent = (await qbo.ok("POST", f"invoice/{invoice['Id']}/send", params={"sendTo": "ap@acme.example"}))[
        "Invoice"
    ]
    assert sent["EmailStatus"] == "EmailSent"
    assert sent["BillEmail"] == {"Address": "ap@acme.example"}
    assert sent["DeliveryInfo"]["DeliveryType"] == "Email"
    validated("Invoice", sent)


async def test_description_lines_pair_with_description_line_detail_and_subtotal_inline(qbo: Qbo) -> None:
    invoice = await qbo.create(
        "Invoice",
        {
            "CustomerRef": {"value": "1"},
            "Line": [
                invoice_line("100.00"),
                invoice_line("20.00"),
                {"Description": "Subtotal:", "DetailType": "DescriptionOnly", "DescriptionLineDetail": {}},
                {"Description": "Thank you for your business", "DetailType": "DescriptionOnly"},
                {"Amount": D("1.00"), "DetailType": "SubTotalLineDetail", "SubTotalLineDetail": {}},
            ],
        },
    )
    validated("Invoice", invoice)
    description_lines = [line for line in invoice["Line"] if line["DetailType"] == "DescriptionOnly"]
    assert [line.get("Amount") for line in description_lines] == [D("120.00"), None]
    assert all("DescriptionLineDetail" in line for line in description_lines)
    subtotals = [line for line in invoice["Line"] if line["DetailType"] == "SubTotalLineDetail"]
    assert subtotals == [
        {"Amount": D("120.00"), "DetailType": "SubTotalLineDetail", "SubTotalLineDetail": {}}
    ]
    # Per line: GST 5.00 + 1.00; QST 9.975 → 9.98 and 1.995 → 2.00 (an invoice-level 11.97 would differ).
    assert invoice["TotalAmt"] == D("137.98")


async def test_an_exact_half_cent_after_a_discount_rounds_up(qbo: Qbo) -> None:
    # 18703.97 less a fixed 16865.07 leaves exactly 1838.90 taxable; 5 % of it is 91.945 → 91.95.
    # With the discount share cut at 28 Decimal digits the tie became 91.94499… and rounded down.
    invoice = await qbo.create(
        "Invoice",
        {
            "CustomerRef": {"value": seed.CUSTOMER_ACME},
            "TxnDate": "2026-11-02",
            "Line": [
                invoice_line("18703.97", tax_code=seed.TAX_CODE_GST),
                {
                    "Amount": D("16865.07"),
                    "DetailType": "DiscountLineDetail",
                    "DiscountLineDetail": {"PercentBased": False},
                },
            ],
        },
    )
    assert tax_lines(invoice)[seed.TAX_RATE_GST] == (D("91.95"), D("1838.90"))
    assert invoice["TotalAmt"] == D("18703.97") - D("16865.07") + D("91.95")
