"""The QBO side of the demo agency and of an empty company, in both tax models (docs/sandbox.md)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from paymo_qb_mcp.sandbox.quickbooks import DEFAULT_REALM_ID, QboEmulator, seed


def names(emulator: QboEmulator, entity: str) -> dict[str, str]:
    field = "DisplayName" if entity in {"Customer", "Vendor", "Employee"} else "Name"
    return {ident: str(row[field]) for ident, row in emulator.state.tables[entity].items()}


def test_the_demo_company_has_the_documented_customers_vendors_and_employees() -> None:
    emulator = QboEmulator()
    customers = names(emulator, "Customer")
    assert [customers[str(ident)] for ident in range(1, 11)] == [
        "ACME Corp.",
        "Cafe Lumiere",
        "Smith and Sons",
        "Globex",
        "Initech Inc",
        "Jones Consulting",
        "Umbrella Health (East)",
        "Umbrella Health (West)",
        "Hooli",
        "O'Reilly Media",
    ]
    assert {"Amy's Bird Sanctuary", "Bill's Windsurf Shop"} <= set(customers.values())
    table = emulator.state.tables["Customer"]
    assert table[seed.CUSTOMER_HOOLI]["Active"] is False
    assert table[seed.CUSTOMER_ACME]["PrimaryEmailAddr"] == {"Address": "billing@acme.example"}
    assert "PrimaryEmailAddr" not in table[seed.CUSTOMER_CAFE_LUMIERE]
    assert table[seed.CUSTOMER_JONES_CONSULTING]["BillAddr"]["City"] == "London"
    # Matched customers share their Paymo client's place, so address evidence corroborates the match.
    assert table[seed.CUSTOMER_ACME]["BillAddr"]["City"] == "Toronto"
    assert table[seed.CUSTOMER_HOOLI]["BillAddr"]["City"] == "Palo Alto"
    assert (
        table[seed.CUSTOMER_UMBRELLA_EAST]["BillAddr"]["City"]
        == table[seed.CUSTOMER_UMBRELLA_WEST]["BillAddr"]["City"]
    )
    assert table[seed.CUSTOMER_GLOBEX]["CurrencyRef"]["value"] == "USD"
    assert names(emulator, "Vendor") == {"1": "Wayne Enterprises", "2": "Pixel Freelance Co.", "3": "Adobe"}
    assert names(emulator, "Employee") == {"1": "Alice Tremblay", "2": "Ben Okafor"}
    for entity in ("Invoice", "Payment", "Purchase", "Bill", "TimeActivity", "Estimate", "PurchaseOrder"):
        assert emulator.state.tables[entity] == {}


def test_the_global_company_is_canadian_with_gst_and_qst() -> None:
    emulator = QboEmulator()
    state = emulator.state
    assert emulator.realm_id == DEFAULT_REALM_ID
    assert (state.company_info["Country"], state.home_currency, state.multicurrency) == ("CA", "CAD", True)
    assert state.preference("TaxPrefs", "PartnerTaxEnabled") is False
    assert state.preference("SalesFormsPrefs", "CustomTxnNumbers") is True
    assert str(state.book_close_date) == "2025-12-31"
    assert names(emulator, "TaxCode") == {
        "1": "GST",
        "2": "GST/QST QC - 9.975",
        "3": "Exempt",
        "4": "Zero-rated",
        "5": "Out of Scope",
    }
    assert state.tables["TaxRate"][seed.TAX_RATE_QST]["RateValue"] == Decimal("9.975")
    assert names(emulator, "Account")[seed.ACCOUNT_CHEQUING] == "Chequing"
    assert state.tables["Account"][seed.ACCOUNT_MILEAGE]["FullyQualifiedName"] == "Car and Truck:Mileage"
    assert names(emulator, "PaymentMethod") == {"1": "Cash", "2": "Cheque", "3": "Credit Card", "4": "EFT"}
    assert names(emulator, "Term") == {"1": "Due on receipt", "2": "Net 15", "3": "Net 30", "4": "Net 60"}


def test_the_us_company_uses_automated_sales_tax_and_usd() -> None:
    emulator = QboEmulator(tax_model="us")
    state = emulator.state
    assert (state.company_info["Country"], state.home_currency) == ("US", "USD")
    assert state.preference("TaxPrefs", "PartnerTaxEnabled") is True
    assert state.tables["Customer"][seed.CUSTOMER_GLOBEX]["CurrencyRef"]["value"] == "CAD"
    assert (
        state.tables["Customer"][seed.CUSTOMER_SMITH_AND_SONS]["BillAddr"]["CountrySubDivisionCode"] == "NY"
    )
    assert (
        state.tables["Customer"]["11"]["BillAddr"]["City"] == "New York"
    )  # unrelated sample customers are local
    code_id, rate_id = state.ast_codes["NY"]
    assert state.tables["TaxRate"][rate_id]["RateValue"] == Decimal("8.875")
    assert state.tables["TaxCode"][code_id]["Name"] == "New York City"
    assert names(emulator, "Account")[seed.ACCOUNT_CHEQUING] == "Checking"
    assert names(emulator, "PaymentMethod")[seed.PAYMENT_METHOD_CHEQUE] == "Check"


@pytest.mark.parametrize("tax_model", ["global", "us"])
def test_an_empty_company_keeps_only_what_a_new_company_has(tax_model: str) -> None:
    emulator = QboEmulator("empty", tax_model=tax_model)  # type: ignore[arg-type]
    tables = emulator.state.tables
    for entity in ("Customer", "Vendor", "Employee", "Invoice", "Payment", "TimeActivity"):
        assert tables[entity] == {}
    assert names(emulator, "Item") == {"1": "Services", "2": "Hours"}
    assert len(tables["Account"]) == len(seed.ACCOUNTS)
    assert len(tables["Term"]) == 4
    assert len(tables["PaymentMethod"]) == 4
    assert tables["TaxCode"]
    assert tables["CompanyInfo"]["1"]["CompanyName"] == "Northwind Pixel Studio Inc."


def test_the_seed_is_deterministic() -> None:
    moment = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
    first, second = QboEmulator(now=lambda: moment), QboEmulator(now=lambda: moment)
    assert first.state.tables == second.state.tables
    assert first.access_token != second.access_token


def test_unknown_seeds_and_models_are_refused() -> None:
    with pytest.raises(ValueError, match="seed"):
        QboEmulator("full")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="tax model"):
        QboEmulator(tax_model="eu")  # type: ignore[arg-type]
