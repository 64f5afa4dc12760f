"""Paymo emulator seeds: the demo agency's facts for both tax models, and the empty company."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest

from paymo_qb_mcp.sandbox.paymo import PaymoEmulator
from paymo_qb_mcp.sandbox.paymo import seed as facts

BASE = "https://app.paymoapp.com"


async def read_all(emu: PaymoEmulator, *paths: str) -> dict[str, object]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=emu.app), base_url=BASE, auth=(emu.api_key, "X")
    ) as api:
        return {path: (await api.get(path)).json() for path in paths}


@pytest.fixture
def demo() -> PaymoEmulator:
    return PaymoEmulator(rate_limits="relaxed")


def test_ids_are_deterministic_and_documented(demo: PaymoEmulator) -> None:
    tables = demo.state.tables
    assert sorted(tables["clients"]) == sorted(facts.CLIENT_IDS.values())
    assert {tables["clients"][i]["name"] for i in facts.CLIENT_IDS.values()} == set(facts.CLIENT_IDS)
    assert sorted(tables["projects"]) == list(range(20001, 20006))
    assert sorted(tables["tasks"]) == list(range(30001, 30014))
    assert sorted(tables["entries"]) == list(range(40001, 40020))
    assert {tables["invoices"][i]["number"]: i for i in tables["invoices"]} == facts.INVOICE_IDS
    assert sorted(tables["invoiceitems"]) == list(range(55001, 55016))
    assert sorted(tables["invoicepayments"]) == list(facts.PAYMENT_IDS)
    assert sorted(tables["expenses"]) == list(range(60001, 60006))
    assert sorted(tables["estimates"]) == [facts.ESTIMATE_ID]
    assert [e for e in tables["entries"] if tables["entries"][e]["billed"]] == list(facts.BILLED_ENTRY_IDS)
    second = PaymoEmulator(rate_limits="relaxed")
    assert second.state.tables["invoices"] == demo.state.tables["invoices"]


def test_entries_cover_both_shapes_and_odd_durations(demo: PaymoEmulator) -> None:
    entries = demo.state.tables["entries"].values()
    assert {e["is_bulk"] for e in entries} == {True, False}
    assert {4500, 5400, 2700, 3660} <= {e["duration"] for e in entries}
    assert all(e["end_time"] is not None for e in entries if not e["is_bulk"])
    non_billable = [e for e in entries if not demo.state.tables["tasks"][e["task_id"]]["billable"]]
    assert [e["id"] for e in non_billable] == [40011]


def test_invoice_1039_was_built_from_time(demo: PaymoEmulator) -> None:
    entries = demo.state.tables["entries"]
    line_hours = {
        line_id: Decimal(sum(e["duration"] for e in entries.values() if e["invoice_item_id"] == line_id))
        / 3600
        for line_id in (55009, 55010)
    }
    assert line_hours[55009] == demo.state.tables["invoiceitems"][55009]["quantity"] == Decimal("3.5")
    # 3 660 s = 1.0166… h, billed as 1.02 h.
    assert round(line_hours[55010], 2) == demo.state.tables["invoiceitems"][55010]["quantity"]


async def test_users_and_keys(demo: PaymoEmulator) -> None:
    users = (await read_all(demo, "/api/users"))["/api/users"]
    assert isinstance(users, dict)
    assert [(u["id"], u["name"], u["type"], u["price_per_hour"]) for u in users["users"]] == [
        (1, "Alice Tremblay", "Admin", 150),
        (2, "Ben Okafor", "Employee", 120),
        (3, "Chloé Gagnon", "Employee", 110),
    ]
    assert demo.api_key == facts.ALICE_API_KEY
    assert (demo.email, demo.password) == (facts.ALICE_EMAIL, facts.ALICE_PASSWORD)


async def test_empty_seed_keeps_company_and_users_only() -> None:
    emu = PaymoEmulator("empty", rate_limits="relaxed")
    read = await read_all(emu, "/api/users", "/api/company", "/api/clients", "/api/invoices", "/api/entries")
    assert len(read["/api/users"]["users"]) == 3  # type: ignore[index]
    assert read["/api/company"]["company"]["next_invoice_number"] == "1043"  # type: ignore[index]
    for path in ("/api/clients", "/api/invoices", "/api/entries"):
        assert read[path] == {path.rsplit("/", 1)[1]: []}
    for collection, table in emu.state.tables.items():
        if collection != "users":
            assert table == {}, collection


async def test_empty_seed_ids_start_at_the_same_floors() -> None:
    emu = PaymoEmulator("empty", rate_limits="relaxed")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=emu.app), base_url=BASE, auth=(emu.api_key, "X")
    ) as api:
        client = (await api.post("/api/clients", json={"name": "First"})).json()["clients"][0]
        invoice = (
            await api.post("/api/invoices", json={"client_id": client["id"], "currency": "CAD"})
        ).json()
    assert client["id"] == 10001
    assert invoice["invoices"][0]["id"] == 50001


async def test_us_model_company_and_currencies() -> None:
    emu = PaymoEmulator(tax_model="us", rate_limits="relaxed")
    read = await read_all(emu, "/api/company", "/api/expenses", f"/api/estimates/{facts.ESTIMATE_ID}")
    company = read["/api/company"]["company"]  # type: ignore[index]
    assert (company["default_currency"], company["default_tax"], company["default_tax2"]) == (
        "USD",
        "8.875",
        "0",
    )
    assert company["timezone"] == "America/New_York"
    currencies = {e["id"]: e["currency"] for e in read["/api/expenses"]["expenses"]}  # type: ignore[index]
    assert currencies[facts.EXPENSE_US_DOLLAR] == "US$"
    assert currencies[facts.EXPENSE_SOFTWARE] == "USD"
    estimate = read[f"/api/estimates/{facts.ESTIMATE_ID}"]["estimates"][0]  # type: ignore[index]
    assert (
        Decimal(str(estimate["total"]))
        == facts.ESTIMATE_TOTALS["us"]
        == Decimal("25000") + Decimal("2218.75")
    )


def test_bad_constructor_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="seed"):
        PaymoEmulator("full")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="tax_model"):
        PaymoEmulator(tax_model="eu")  # type: ignore[arg-type]
