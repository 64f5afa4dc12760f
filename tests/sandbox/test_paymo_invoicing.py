"""Paymo emulator billing: seeded totals by hand, numbering, line replacement, billing links, payments."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import httpx
import pytest
import simplejson

from paymo_qb_mcp.sandbox.paymo import PaymoEmulator
from paymo_qb_mcp.sandbox.paymo import seed as facts

BASE = "https://app.paymoapp.com"
NOW = datetime(2026, 11, 20, 15, 30, tzinfo=UTC)
INV = facts.INVOICE_IDS


def cents(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def parse(response: httpx.Response) -> Any:
    return simplejson.loads(response.content, use_decimal=True)


@pytest.fixture
def emu() -> PaymoEmulator:
    return PaymoEmulator(rate_limits="relaxed", now=lambda: NOW)


@pytest.fixture
async def api(emu: PaymoEmulator) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=emu.app), base_url=BASE, auth=(emu.api_key, "X")
    ) as client:
        yield client


async def invoice(api: httpx.AsyncClient, invoice_id: int) -> dict[str, Any]:
    response = await api.get(f"/api/invoices/{invoice_id}", params={"include": "invoiceitems"})
    assert response.status_code == 200
    found: dict[str, Any] = parse(response)["invoices"][0]
    return found


# --------------------------------------------------------------------------------------- seeded totals


async def test_inv_1035_global_by_hand(api: httpx.AsyncClient) -> None:
    # Design 20 × 150 = 3000, Development 12.5 × 150 = 1875 (taxed), Hosting 1 × 49.99 (untaxed); 10 % off.
    subtotal = Decimal("3000") + Decimal("1875") + Decimal("49.99")  # 4924.99
    discount = cents(subtotal * Decimal("0.10"))  # 492.499 → 492.50
    base = Decimal("4875") * Decimal("0.90")  # 4387.5
    gst = cents(base * Decimal("0.05"))  # 219.375 → 219.38
    qst = cents(base * Decimal("0.09975"))  # 437.653125 → 437.65
    found = await invoice(api, INV["INV-2026-1035"])
    assert found["subtotal"] == subtotal == Decimal("4924.99")
    assert found["discount_amount"] == discount == Decimal("492.50")
    assert found["tax_amount"] == gst == Decimal("219.38")
    assert found["tax2_amount"] == qst == Decimal("437.65")
    assert found["total"] == subtotal - discount + gst + qst == Decimal("5089.52")
    assert [line["apply_tax"] for line in found["invoiceitems"]] == [True, True, False]


async def test_half_up_rounding_on_exact_ties(api: httpx.AsyncClient) -> None:
    # INV-2026-1040: 8500 + 12 × 150 = 10300; QST 10300 × 9.975 % = 1027.425 → 1027.43 (not 1027.42).
    found = await invoice(api, INV["INV-2026-1040"])
    assert found["tax_amount"] == Decimal("515.00")
    assert found["tax2_amount"] == Decimal("1027.43")
    assert found["total"] == Decimal("11842.43")
    # INV-2026-1042: 1100 taxed + 85.50 untaxed; QST 109.725 → 109.73.
    jones = await invoice(api, INV["INV-2026-1042"])
    assert (jones["tax_amount"], jones["tax2_amount"], jones["total"]) == (
        Decimal("55.00"),
        Decimal("109.73"),
        Decimal("1350.23"),
    )


async def test_all_seeded_totals_match_the_documented_facts(api: httpx.AsyncClient) -> None:
    listed = parse(await api.get("/api/invoices"))["invoices"]
    assert {i["number"]: i["total"] for i in listed} == facts.INVOICE_TOTALS["global"]
    assert {i["number"]: i["status"] for i in listed} == facts.INVOICE_STATUSES


async def test_us_model_single_sales_tax() -> None:
    emu = PaymoEmulator(tax_model="us", rate_limits="relaxed")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=emu.app), base_url=BASE, auth=(emu.api_key, "X")
    ) as api:
        found = await invoice(api, INV["INV-2026-1035"])
        company = (await api.get("/api/company")).json()["company"]
        listed = parse(await api.get("/api/invoices"))["invoices"]
    taxed_base = Decimal("4875") * Decimal("0.90")
    assert found["tax_amount"] == cents(taxed_base * Decimal("0.08875")) == Decimal("389.39")
    assert found["tax2_amount"] == 0
    assert found["total"] == Decimal("4924.99") - Decimal("492.50") + Decimal("389.39")
    assert found["currency"] == "USD"
    assert company["default_currency"] == "USD"
    assert company["default_tax"] == "8.875"
    assert {i["number"]: i["total"] for i in listed} == facts.INVOICE_TOTALS["us"]
    assert {i["number"]: i["currency"] for i in listed}["INV-2026-1037"] == "CAD"


async def test_seeded_payments_and_balance(api: httpx.AsyncClient) -> None:
    payments = parse(
        await api.get("/api/invoicepayments", params={"where": f"invoice_id={INV['INV-2026-1035']}"})
    )
    amount = payments["invoicepayments"][0]["amount"]
    assert amount == cents(Decimal("5089.52") * Decimal("0.4")) == Decimal("2035.81")
    assert "currency" not in payments["invoicepayments"][0]


# -------------------------------------------------------------------------------------------- creating


async def test_new_invoice_is_numbered_from_company_settings_and_starts_draft(api: httpx.AsyncClient) -> None:
    first = await api.post(
        "/api/invoices",
        json={"client_id": facts.STARK, "currency": "CAD", "date": "2027-01-04", "status": "paid"},
    )
    assert first.status_code == 201
    created = first.json()["invoices"][0]
    assert created["number"] == "INV-2027-1043"
    assert created["status"] == "draft"
    assert created["due_date"] == "2027-02-03"
    assert created["tax"] == 5
    assert created["tax2_text"] == "QST"
    custom = await api.post(
        "/api/invoices", json={"client_id": facts.STARK, "currency": "CAD", "number": "X-1"}
    )
    assert custom.json()["invoices"][0]["number"] == "X-1"
    company = (await api.get("/api/company")).json()["company"]
    # The counter advances after every create, custom number or not.
    assert company["next_invoice_number"] == "1045"


async def test_duplicate_invoice_number_is_refused(emu: PaymoEmulator, api: httpx.AsyncClient) -> None:
    response = await api.post(
        "/api/invoices", json={"client_id": facts.ACME, "currency": "CAD", "number": "INV-2026-1035"}
    )
    assert response.status_code == 400
    assert "INV-2026-1035" in response.json()["message"]
    assert emu.state.company["next_invoice_number"] == "1043"
    rename = await api.put(f"/api/invoices/{INV['INV-2026-1036']}", json={"number": "INV-2026-1035"})
    assert rename.status_code == 400


async def test_required_fields_and_currency_list(api: httpx.AsyncClient) -> None:
    missing = await api.post("/api/invoices", json={"currency": "CAD"})
    assert missing.json() == {"message": "Missing required params: client_id"}
    non_iso = await api.post("/api/invoices", json={"client_id": facts.GLOBEX, "currency": "US$"})
    assert non_iso.status_code == 201
    assert non_iso.json()["invoices"][0]["currency"] == "US$"
    unknown = await api.post("/api/invoices", json={"client_id": facts.GLOBEX, "currency": "XXX"})
    assert unknown.status_code == 400


async def test_items_on_write_invoiceitems_on_read_with_totals(api: httpx.AsyncClient) -> None:
    response = await api.post(
        "/api/invoices?include=invoiceitems",
        json={
            "client_id": facts.INITECH,
            "currency": "CAD",
            "tax": 5,
            "tax2": 9.975,
            "tax_on_tax": True,
            "discount": 5,
            "items": [
                {"item": "Audit", "price_unit": 333.33, "quantity": 3, "apply_tax": True},
                {"item": "Printing", "price_unit": 12.345, "quantity": 1, "apply_tax": False},
            ],
        },
    )
    created = parse(response)["invoices"][0]
    assert "items" not in created
    assert [line["item"] for line in created["invoiceitems"]] == ["Audit", "Printing"]
    subtotal = Decimal("999.99") + Decimal("12.35")  # 12.345 → 12.35 per line
    base = Decimal("999.99") * Decimal("0.95")
    gst = cents(base * Decimal("0.05"))
    qst = cents((base + gst) * Decimal("0.09975"))  # compound
    assert created["subtotal"] == subtotal
    assert created["discount_amount"] == cents(subtotal * Decimal("0.05"))
    assert created["tax2_amount"] == qst
    assert created["total"] == subtotal - cents(subtotal * Decimal("0.05")) + gst + qst


async def test_items_update_replaces_the_whole_set(emu: PaymoEmulator, api: httpx.AsyncClient) -> None:
    invoice_id = INV["INV-2026-1037"]  # lines 55005, 55006, 55007, untaxed
    response = await api.put(
        f"/api/invoices/{invoice_id}?include=invoiceitems",
        json={
            "items": [
                {"id": 55005},
                {"id": 55006, "quantity": 2},
                {"item": "New", "price_unit": 20, "quantity": 1},
            ]
        },
    )
    assert response.status_code == 200
    updated = parse(response)["invoices"][0]
    lines = updated["invoiceitems"]
    assert [line["id"] for line in lines[:2]] == [55005, 55006]
    assert lines[1]["quantity"] == 2
    assert lines[2]["item"] == "New"
    assert [line["seq"] for line in lines] == [0, 1, 2]
    assert 55007 not in emu.state.tables["invoiceitems"]
    assert updated["subtotal"] == updated["total"] == Decimal("2240") + Decimal("280") + Decimal("20")
    assert updated["updated_on"] == "2026-11-20T15:30:00Z"


async def test_a_line_of_another_invoice_cannot_be_kept(api: httpx.AsyncClient) -> None:
    response = await api.put(f"/api/invoices/{INV['INV-2026-1037']}", json={"items": [{"id": 55001}]})
    assert response.status_code == 400


async def test_lines_with_entries_bill_them_and_removal_unbills(
    emu: PaymoEmulator, api: httpx.AsyncClient
) -> None:
    response = await api.post(
        "/api/invoices?include=invoiceitems",
        json={
            "client_id": facts.SMITH_AND_SONS,
            "currency": "CAD",
            "items": [
                {"item": "November time", "price_unit": 120, "quantity": 1.75, "entries": [40005, 40006]}
            ],
        },
    )
    created = response.json()["invoices"][0]
    line_id = created["invoiceitems"][0]["id"]
    for entry_id in (40005, 40006):
        entry = (await api.get(f"/api/entries/{entry_id}")).json()["entries"][0]
        assert (entry["billed"], entry["invoice_item_id"]) == (True, line_id)
        assert entry["updated_on"] == "2026-11-20T15:30:00Z"
    await api.put(f"/api/invoices/{created['id']}", json={"items": [{"item": "Flat fee", "price_unit": 100}]})
    assert emu.state.tables["entries"][40005]["billed"] is False
    assert emu.state.tables["entries"][40005]["invoice_item_id"] is None


async def test_expense_lines_invoice_the_expense(emu: PaymoEmulator, api: httpx.AsyncClient) -> None:
    response = await api.post(
        "/api/invoices?include=invoiceitems",
        json={
            "client_id": facts.STARK,
            "currency": "CAD",
            "items": [
                {"item": "Train", "price_unit": 142.35, "quantity": 1, "expense_id": facts.EXPENSE_TRAVEL}
            ],
        },
    )
    line = response.json()["invoices"][0]["invoiceitems"][0]
    assert line["expense_id"] == facts.EXPENSE_TRAVEL
    # `apply_tax_to_expenses` is "0" in the demo company, so an expense line is untaxed by default.
    assert line["apply_tax"] is False
    expense = (await api.get(f"/api/expenses/{facts.EXPENSE_TRAVEL}")).json()["expenses"][0]
    assert (expense["invoiced"], expense["invoice_item_id"]) == (True, line["id"])
    await api.delete(f"/api/invoices/{response.json()['invoices'][0]['id']}")
    assert emu.state.tables["expenses"][facts.EXPENSE_TRAVEL]["invoiced"] is False


async def test_estimate_id_flips_the_estimate_to_invoiced(api: httpx.AsyncClient) -> None:
    response = await api.post(
        "/api/invoices",
        json={
            "client_id": facts.STARK,
            "currency": "CAD",
            "estimate_id": facts.ESTIMATE_ID,
            "items": [{"item": "Prototype", "price_unit": 25000, "quantity": 1}],
        },
    )
    invoice_id = response.json()["invoices"][0]["id"]
    estimate = (await api.get(f"/api/estimates/{facts.ESTIMATE_ID}")).json()["estimates"][0]
    assert (estimate["status"], estimate["invoice_id"]) == ("invoiced", invoice_id)


async def test_seeded_estimate_and_estimate_numbering(api: httpx.AsyncClient) -> None:
    seeded = parse(await api.get(f"/api/estimates/{facts.ESTIMATE_ID}?include=estimateitems"))["estimates"][0]
    assert seeded["number"] == facts.ESTIMATE_NUMBER
    assert seeded["status"] == "accepted"
    assert (
        seeded["total"]
        == Decimal("25000") + Decimal("1250") + Decimal("2493.75")
        == facts.ESTIMATE_TOTALS["global"]
    )
    assert len(seeded["estimateitems"]) == 3
    created = await api.post(
        "/api/estimates",
        json={
            "client_id": facts.HOOLI,
            "currency": "CAD",
            "date": "2026-12-01",
            "items": [{"item": "A", "price_unit": 1}],
        },
    )
    assert created.json()["estimates"][0]["number"] == "EST-2026-8"
    bad_status = await api.put(f"/api/estimates/{facts.ESTIMATE_ID}", json={"status": "paid"})
    assert bad_status.status_code == 400


async def test_line_endpoints_are_read_only(api: httpx.AsyncClient) -> None:
    listed = await api.get("/api/invoiceitems", params={"where": f"invoice_id={INV['INV-2026-1035']}"})
    assert [line["id"] for line in listed.json()["invoiceitems"]] == [55001, 55002, 55003]
    assert (await api.post("/api/invoiceitems", json={"invoice_id": INV["INV-2026-1035"]})).status_code == 405


# -------------------------------------------------------------------------------------------- statuses


@pytest.mark.parametrize("status", ["draft", "sent", "viewed", "paid", "void"])
async def test_manual_status_updates(api: httpx.AsyncClient, status: str) -> None:
    response = await api.post(f"/api/invoices/{INV['INV-2026-1041']}", json={"status": status})
    assert response.json()["invoices"][0]["status"] == status


async def test_other_statuses_are_rejected(api: httpx.AsyncClient) -> None:
    response = await api.put(f"/api/invoices/{INV['INV-2026-1041']}", json={"status": "partial"})
    assert response.status_code == 400


# -------------------------------------------------------------------------------------------- payments


async def test_payments_flip_status_to_paid_and_back_to_viewed(api: httpx.AsyncClient) -> None:
    invoice_id = INV["INV-2026-1035"]  # total 5089.52, 2035.81 paid, status sent
    too_much = await api.post("/api/invoicepayments", json={"invoice_id": invoice_id, "amount": "3053.72"})
    assert too_much.status_code == 400
    partial = await api.post("/api/invoicepayments", json={"invoice_id": invoice_id, "amount": 1000})
    assert partial.status_code == 201
    assert (await invoice(api, invoice_id))["status"] == "sent"  # no partial status
    rest = await api.post("/api/invoicepayments", json={"invoice_id": invoice_id, "amount": 2053.71})
    payment_id = rest.json()["invoicepayments"][0]["id"]
    paid = await invoice(api, invoice_id)
    assert paid["status"] == "paid"
    assert paid["updated_on"] == "2026-11-20T15:30:00Z"
    lowered = await api.put(f"/api/invoicepayments/{payment_id}", json={"amount": 2000, "note": "short"})
    assert lowered.status_code == 200
    assert lowered.json()["invoicepayments"][0]["notes"] == "short"
    assert (await invoice(api, invoice_id))["status"] == "viewed"
    back_up = await api.post(f"/api/invoicepayments/{payment_id}", json={"amount": 2053.71})
    assert back_up.status_code == 200
    assert (await invoice(api, invoice_id))["status"] == "paid"
    assert (await api.delete(f"/api/invoicepayments/{payment_id}")).status_code == 200
    assert (await invoice(api, invoice_id))["status"] == "viewed"


async def test_payment_update_cannot_exceed_the_balance(api: httpx.AsyncClient) -> None:
    payment_id = facts.PAYMENT_IDS[0]
    response = await api.put(f"/api/invoicepayments/{payment_id}", json={"amount": "5089.53"})
    assert response.status_code == 400
    exact = await api.put(f"/api/invoicepayments/{payment_id}", json={"amount": "5089.52"})
    assert exact.status_code == 200
    assert (await invoice(api, INV["INV-2026-1035"]))["status"] == "paid"


async def test_payment_date_defaults_to_today_in_company_zone(
    emu: PaymoEmulator, api: httpx.AsyncClient
) -> None:
    emu.state.now = lambda: datetime(2026, 11, 21, 3, 0, tzinfo=UTC)  # still the 20th in Montreal
    response = await api.post("/api/invoicepayments", json={"invoice_id": INV["INV-2026-1041"], "amount": 10})
    assert response.json()["invoicepayments"][0]["date"] == "2026-11-20"


async def test_payment_requires_invoice_and_amount(api: httpx.AsyncClient) -> None:
    response = await api.post("/api/invoicepayments", json={})
    assert response.json() == {"message": "Missing required params: invoice_id, amount"}
