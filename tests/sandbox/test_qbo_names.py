"""QBO emulator name lists and settings: validation faults, uniqueness, updates, currencies, tax service."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
from test_qbo_harness import Qbo, emulator, open_qbo, validated

from paymo_qb_mcp.sandbox.quickbooks import seed


@pytest.fixture
async def qbo() -> AsyncIterator[Qbo]:
    async with open_qbo(emulator()) as client:
        yield client


async def test_creating_a_customer_fills_qbo_defaults(qbo: Qbo) -> None:
    customer = await qbo.create(
        "Customer",
        {
            "DisplayName": "Stark Industries",
            "PrimaryEmailAddr": {"Address": "tony@stark.example"},
            "BillAddr": {"Line1": "10880 Malibu Point", "City": "Malibu", "CountrySubDivisionCode": "CA"},
        },
    )
    assert customer["Id"] == "21"
    assert customer["SyncToken"] == "0"
    assert customer["PrintOnCheckName"] == "Stark Industries"
    assert customer["FullyQualifiedName"] == "Stark Industries"
    assert customer["Active"] is True
    assert customer["Balance"] == 0
    assert customer["CurrencyRef"] == {"value": "CAD", "name": "Canadian Dollar"}
    assert customer["BillAddr"]["Id"].isdigit()
    validated("Customer", customer)


async def test_a_display_name_is_built_from_name_parts_and_no_name_is_6080(qbo: Qbo) -> None:
    customer = await qbo.create("Customer", {"GivenName": "Bruce", "FamilyName": "Banner"})
    assert customer["DisplayName"] == "Bruce Banner"
    error = await qbo.create_fault("Customer", {"CompanyName": "Nameless Inc"})
    assert error["code"] == "6080"


@pytest.mark.parametrize(
    ("entity", "name"),
    [
        ("Customer", "Wayne Enterprises"),  # a vendor's name
        ("Customer", "wayne enterprises"),  # compared ignoring case
        ("Vendor", "ACME Corp."),  # a customer's name
        ("Customer", "Alice Tremblay"),  # an employee's name
        ("Customer", "Hooli"),  # an inactive customer keeps its name
    ],
)
async def test_display_names_are_unique_across_customers_vendors_and_employees(
    qbo: Qbo, entity: str, name: str
) -> None:
    error = await qbo.create_fault(entity, {"DisplayName": name})
    assert error["code"] == "6240"
    assert error["Message"] == "Duplicate Name Exists Error"


async def test_case_sensitive_name_matching_is_a_knob(qbo: Qbo) -> None:
    qbo.emu.behaviour.names_case_insensitive = False
    assert (await qbo.create("Customer", {"DisplayName": "wayne enterprises"}))["Id"]


@pytest.mark.parametrize(
    ("payload", "code", "element"),
    [
        ({"DisplayName": "Soylent: Foods"}, "6000", "DisplayName"),
        ({"DisplayName": "Tab\tName"}, "6000", "DisplayName"),
        ({"DisplayName": "x" * 501}, "2050", "DisplayName"),
        (
            {"DisplayName": "Mail Ltd", "PrimaryEmailAddr": {"Address": "not-an-address"}},
            "2210",
            "PrimaryEmailAddr.Address",
        ),
        (
            {"DisplayName": "Mail Ltd", "PrimaryEmailAddr": {"Address": "a@b"}},
            "2210",
            "PrimaryEmailAddr.Address",
        ),
        ({"DisplayName": "Notes Ltd", "Notes": "n" * 2001}, "2050", "Notes"),
        (
            {"DisplayName": "Phone Ltd", "PrimaryPhone": {"FreeFormNumber": "1" * 31}},
            "2050",
            "PrimaryPhone.FreeFormNumber",
        ),
        ({"DisplayName": "Enum Ltd", "PreferredDeliveryMethod": "Pigeon"}, "2170", "PreferredDeliveryMethod"),
        ({"DisplayName": "Typo Ltd", "DisplayNme": "x"}, "2010", "DisplayNme"),
        ({"DisplayName": "Term Ltd", "SalesTermRef": {"value": "99"}}, "2500", "SalesTermRef"),
    ],
)
async def test_customer_validation_faults(
    qbo: Qbo, payload: dict[str, object], code: str, element: str
) -> None:
    error = await qbo.create_fault("Customer", payload)
    assert (error["code"], error["element"]) == (code, element)


async def test_2050_names_the_limit_and_the_supplied_length(qbo: Qbo) -> None:
    error = await qbo.create_fault("Customer", {"DisplayName": "x" * 501})
    assert error["Detail"].endswith("Min:0 Max:500 supported. Supplied length:501")


async def test_sparse_update_changes_only_what_is_sent_and_bumps_the_sync_token(qbo: Qbo) -> None:
    before = await qbo.read("Customer", "1")
    after = await qbo.update(
        "Customer", {"Id": "1", "SyncToken": "0", "sparse": True, "Notes": "Key account"}
    )
    assert after["SyncToken"] == "1"
    assert after["Notes"] == "Key account"
    assert after["PrimaryEmailAddr"] == before["PrimaryEmailAddr"]
    assert after["BillAddr"] == before["BillAddr"]
    assert after["MetaData"]["CreateTime"] == before["MetaData"]["CreateTime"]
    validated("Customer", after)


async def test_a_numeric_sync_token_is_accepted(qbo: Qbo) -> None:
    after = await qbo.update("Customer", {"Id": "1", "SyncToken": 0, "sparse": True, "Notes": "n"})
    assert after["SyncToken"] == "1"


async def test_full_update_clears_writable_fields_that_are_not_sent(qbo: Qbo) -> None:
    after = await qbo.update("Customer", {"Id": "1", "SyncToken": "0", "DisplayName": "ACME Corp."})
    assert "PrimaryEmailAddr" not in after
    assert "BillAddr" not in after
    assert after["CurrencyRef"]["value"] == "CAD"  # immutable, kept
    assert after["Active"] is True


async def test_a_stale_sync_token_is_5010_on_update(qbo: Qbo) -> None:
    await qbo.update("Customer", {"Id": "2", "SyncToken": "0", "sparse": True, "Notes": "one"})
    error = await qbo.create_fault("Customer", {"Id": "2", "SyncToken": "0", "sparse": True, "Notes": "two"})
    assert error["code"] == "5010"
    assert error["Message"] == "Stale Object Error"
    missing = await qbo.create_fault("Customer", {"Id": "2", "sparse": True, "Notes": "three"})
    assert missing["code"] == "2020"


async def test_a_customer_currency_cannot_change(qbo: Qbo) -> None:
    error = await qbo.create_fault(
        "Customer", {"Id": "4", "SyncToken": "0", "sparse": True, "CurrencyRef": {"value": "CAD"}}
    )
    assert error["code"] == "6000"


async def test_a_customer_in_a_new_currency_adds_it_to_the_company(qbo: Qbo) -> None:
    customer = await qbo.create("Customer", {"DisplayName": "Euro GmbH", "CurrencyRef": {"value": "EUR"}})
    assert customer["CurrencyRef"] == {"value": "EUR", "name": "Euro"}
    codes = await qbo.query("select * from CompanyCurrency")
    assert {row["Code"] for row in codes["CompanyCurrency"]} == {"USD", "EUR"}


async def test_name_lists_are_not_deleted_but_made_inactive(qbo: Qbo) -> None:
    error = await qbo.fault(
        "POST", "customer", payload={"Id": "11", "SyncToken": "0"}, params={"operation": "delete"}
    )
    assert error["code"] == "500"
    inactive = await qbo.update("Customer", {"Id": "11", "SyncToken": "0", "sparse": True, "Active": False})
    assert inactive["Active"] is False
    reactivated = await qbo.update("Customer", {"Id": "9", "SyncToken": "0", "sparse": True, "Active": True})
    assert reactivated["Active"] is True


async def test_sub_customers_get_a_qualified_name_and_level(qbo: Qbo) -> None:
    job = await qbo.create("Customer", {"DisplayName": "ACME Website", "ParentRef": {"value": "1"}})
    assert job["FullyQualifiedName"] == "ACME Corp.:ACME Website"
    assert (job["Job"], job["Level"]) == (True, 1)
    assert job["ParentRef"] == {"value": "1", "name": "ACME Corp."}
    validated("Customer", job)


async def test_vendors_and_employees(qbo: Qbo) -> None:
    vendor = await qbo.create("Vendor", {"DisplayName": "Figma", "TermRef": {"value": seed.TERM_NET_30}})
    assert vendor["Vendor1099"] is False
    assert vendor["TermRef"] == {"value": "3", "name": "Net 30"}
    validated("Vendor", vendor)
    employee = await qbo.create("Employee", {"GivenName": "Chloé", "FamilyName": "Gagnon", "BillRate": 110})
    assert employee["DisplayName"] == "Chloé Gagnon"
    assert employee["BillableTime"] is False
    validated("Employee", employee)
    clash = await qbo.create_fault("Employee", {"GivenName": "Ben", "FamilyName": "Okafor"})
    assert clash["code"] == "6240"


async def test_items_need_a_unique_name_and_an_income_account(qbo: Qbo) -> None:
    item = await qbo.create(
        "Item",
        {
            "Name": "Design",
            "Type": "Service",
            "IncomeAccountRef": {"value": seed.ACCOUNT_SERVICES_INCOME},
            "UnitPrice": 150,
        },
    )
    assert item["IncomeAccountRef"] == {"value": "6", "name": "Services"}
    assert item["FullyQualifiedName"] == "Design"
    validated("Item", item)
    assert (await qbo.create_fault("Item", {"Name": "services", "IncomeAccountRef": {"value": "6"}}))[
        "code"
    ] == "6240"
    assert (await qbo.create_fault("Item", {"Name": "No Account", "Type": "Service"}))["code"] == "2020"
    assert (await qbo.create_fault("Item", {"Name": "Bad", "Type": "Gadget"}))["code"] == "2170"
    assert (await qbo.create_fault("Item", {"Type": "Service"}))["code"] == "2020"


async def test_accounts_need_a_unique_plain_name_and_a_valid_type(qbo: Qbo) -> None:
    account = await qbo.create("Account", {"Name": "Software Subscriptions", "AccountType": "Expense"})
    assert (account["Classification"], account["AccountSubType"]) == (
        "Expense",
        "OtherMiscellaneousServiceCost",
    )
    validated("Account", account)
    sub = await qbo.create(
        "Account", {"Name": "Tolls", "AccountType": "Expense", "ParentRef": {"value": "12"}}
    )
    assert sub["FullyQualifiedName"] == "Car and Truck:Tolls"
    assert sub["SubAccount"] is True
    assert (await qbo.create_fault("Account", {"Name": "Travel", "AccountType": "Expense"}))["code"] == "6240"
    assert (await qbo.create_fault("Account", {"Name": 'Say "hi"', "AccountType": "Expense"}))[
        "code"
    ] == "6000"
    assert (await qbo.create_fault("Account", {"Name": "A:B", "AccountType": "Expense"}))["code"] == "6000"
    assert (await qbo.create_fault("Account", {"Name": "Odd", "AccountType": "Odd"}))["code"] == "2170"


async def test_terms_payment_methods_and_currencies(qbo: Qbo) -> None:
    term = await qbo.create("Term", {"Name": "Net 45", "DueDays": 45})
    assert term["Type"] == "Standard"
    validated("Term", term)
    dated = await qbo.create("Term", {"Name": "15th next month", "DayOfMonthDue": 15, "DueNextMonthDays": 5})
    assert dated["Type"] == "DateDriven"
    method = await qbo.create("PaymentMethod", {"Name": "Interac"})
    assert method["Type"] == "NON_CREDIT_CARD"
    validated("PaymentMethod", method)
    currency = await qbo.create("CompanyCurrency", {"Code": "GBP"})
    assert currency["Name"] == "British Pound Sterling"
    validated("CompanyCurrency", currency)
    assert (await qbo.create_fault("CompanyCurrency", {"Code": "CAD"}))["code"] == "6000"


async def test_exchange_rates_are_read_by_currency_and_date_and_set_by_post(qbo: Qbo) -> None:
    rate = (
        await qbo.ok("GET", "exchangerate", params={"sourcecurrencycode": "USD", "asofdate": "2026-11-15"})
    )["ExchangeRate"]
    assert (rate["Rate"], rate["AsOfDate"], rate["TargetCurrencyCode"]) == (
        Decimal("1.3900"),
        "2026-11-01",
        "CAD",
    )
    validated("ExchangeRate", rate)
    created = await qbo.create(
        "ExchangeRate", {"SourceCurrencyCode": "USD", "Rate": Decimal("1.4012"), "AsOfDate": "2026-11-20"}
    )
    assert created["Rate"] == Decimal("1.4012")
    updated = await qbo.create(
        "ExchangeRate", {"SourceCurrencyCode": "USD", "Rate": Decimal("1.4020"), "AsOfDate": "2026-11-20"}
    )
    assert (updated["Id"], updated["SyncToken"]) == (created["Id"], "1")


async def test_company_info_and_preferences(qbo: Qbo) -> None:
    info = await qbo.read("CompanyInfo", qbo.emu.realm_id)
    assert info["DefaultTimeZone"] == "America/Montreal"
    preferences = (await qbo.ok("GET", "preferences"))["Preferences"]
    assert preferences["AccountingInfoPrefs"]["BookCloseDate"] == "2025-12-31"
    assert preferences["TaxPrefs"]["PartnerTaxEnabled"] is False
    assert preferences["CurrencyPrefs"] == {"MultiCurrencyEnabled": True, "HomeCurrency": {"value": "CAD"}}
    validated("Preferences", preferences)
    updated = await qbo.update(
        "Preferences",
        {
            "SyncToken": preferences["SyncToken"],
            "sparse": True,
            "AccountingInfoPrefs": {"BookCloseDate": "2026-06-30"},
        },
    )
    assert updated["AccountingInfoPrefs"]["BookCloseDate"] == "2026-06-30"
    assert updated["AccountingInfoPrefs"]["CustomerTerminology"] == "Customers"


async def test_tax_codes_and_rates_are_read_only_and_created_through_the_tax_service(qbo: Qbo) -> None:
    code = await qbo.read("TaxCode", seed.TAX_CODE_GST_QST)
    assert code["Name"] == "GST/QST QC - 9.975"
    assert [detail["TaxRateRef"]["value"] for detail in code["SalesTaxRateList"]["TaxRateDetail"]] == [
        "1",
        "3",
    ]
    validated("TaxCode", code)
    validated("TaxRate", await qbo.read("TaxRate", seed.TAX_RATE_QST))
    validated("TaxAgency", await qbo.read("TaxAgency", "2"))
    assert (await qbo.create_fault("TaxCode", {"Name": "Mine"}))["code"] == "500"
    created = await qbo.ok(
        "POST",
        "taxservice/taxcode",
        payload={
            "TaxCode": "HST ON",
            "TaxRateDetails": [
                {"TaxRateName": "HST 13", "RateValue": "13", "TaxAgencyId": "1", "TaxApplicableOn": "Sales"}
            ],
        },
    )
    assert created["TaxCode"] == "HST ON"
    new_code = await qbo.read("TaxCode", created["TaxCodeId"])
    rate_id = created["TaxRateDetails"][0]["TaxRateId"]
    assert new_code["SalesTaxRateList"]["TaxRateDetail"][0]["TaxRateRef"]["value"] == rate_id
    assert (await qbo.read("TaxRate", rate_id))["RateValue"] == 13
