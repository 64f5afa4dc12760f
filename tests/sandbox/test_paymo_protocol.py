"""Paymo emulator protocol: paths, auth (key, login, sessions), envelopes, create/update/delete, errors."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal

import httpx
import pytest
import simplejson

from paymo_qb_mcp.sandbox.paymo import PaymoEmulator
from paymo_qb_mcp.sandbox.paymo import seed as facts

BASE = "https://app.paymoapp.com"
NOW = datetime(2026, 11, 20, 15, 30, tzinfo=UTC)


@pytest.fixture
def emu() -> PaymoEmulator:
    return PaymoEmulator(rate_limits="relaxed", now=lambda: NOW)


@pytest.fixture
async def api(emu: PaymoEmulator) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=emu.app), base_url=BASE, auth=(emu.api_key, "X")
    ) as client:
        yield client


def anonymous(emu: PaymoEmulator) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=emu.app), base_url=BASE)


def body(response: httpx.Response) -> dict[str, object]:
    parsed = simplejson.loads(response.content, use_decimal=True)
    assert isinstance(parsed, dict)
    return parsed


async def test_api_key_as_username_with_any_password(emu: PaymoEmulator) -> None:
    async with anonymous(emu) as client:
        for password in ("X", "random-uuid-4f1c", ""):
            response = await client.get("/api/me", auth=(emu.api_key, password))
            assert response.status_code == 200
            assert body(response) == {"users": [body(response)["users"][0]]}  # type: ignore[index]
            assert response.json()["users"][0]["id"] == facts.ALICE_ID


async def test_email_and_password_login(emu: PaymoEmulator) -> None:
    async with anonymous(emu) as client:
        assert (await client.get("/api/me", auth=(emu.email, emu.password))).status_code == 200
        assert (await client.get("/api/me", auth=(emu.email, "wrong"))).status_code == 401


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Basic " + base64.b64encode(b"not-a-key:X").decode()},
        {"Authorization": "Basic !!!"},
        {"Authorization": "Bearer " + facts.ALICE_API_KEY},
        {"X-Session": "deadbeef"},
    ],
)
async def test_missing_or_bad_credentials_are_401(emu: PaymoEmulator, headers: dict[str, str]) -> None:
    async with anonymous(emu) as client:
        response = await client.get("/api/clients", headers=headers)
    assert response.status_code == 401
    assert response.json() == {"message": "Unauthorized"}
    assert response.headers["X-Ratelimit-Limit"] == "1000"


async def test_sessions_authenticate_list_and_end(emu: PaymoEmulator, api: httpx.AsyncClient) -> None:
    created = await api.post("/api/sessions")
    assert created.status_code == 201
    session = created.json()["sessions"][0]
    assert len(session["id"]) == 32
    assert set(session["id"]) <= set("0123456789abcdef")
    assert session["user_id"] == facts.ALICE_ID
    assert session["created_on"] == "2026-11-20T15:30:00Z"
    assert session["expires_on"] == "2026-12-20T15:30:00Z"
    assert created.headers["Location"] == f"{BASE}/api/sessions/{session['id']}"
    async with anonymous(emu) as client:
        me = await client.get("/api/me", headers={"X-Session": session["id"]})
        assert me.json()["users"][0]["id"] == facts.ALICE_ID
        listed = await client.get("/api/sessions", headers={"X-Session": session["id"]})
        assert [s["id"] for s in listed.json()["sessions"]] == [session["id"]]
        ended = await client.delete(f"/api/sessions/{session['id']}", headers={"X-Session": session["id"]})
        assert ended.status_code == 200
        assert (await client.get("/api/me", headers={"X-Session": session["id"]})).status_code == 401


async def test_expired_session_is_refused(emu: PaymoEmulator) -> None:
    moments = [NOW]
    emu.state.now = lambda: moments[0]
    async with anonymous(emu) as client:
        token = (await client.post("/api/sessions", auth=(emu.api_key, "X"))).json()["sessions"][0]["id"]
        moments[0] = datetime(2026, 12, 21, tzinfo=UTC)
        assert (await client.get("/api/me", headers={"X-Session": token})).status_code == 401


async def test_company_is_an_object_with_string_settings(api: httpx.AsyncClient) -> None:
    company = (await api.get("/api/company")).json()["company"]
    assert isinstance(company, dict)
    assert company["name"] == "Northwind Pixel Studio"
    for key, value in {
        "default_currency": "CAD",
        "default_tax": "5",
        "default_tax2": "9.975",
        "default_tax_text": "GST",
        "default_tax2_text": "QST",
        "tax_on_tax": "0",
        "invoice_format": "INV-[yyyy]-[i]",
        "next_invoice_number": "1043",
        "due_interval": "30",
        "timezone": "America/Montreal",
    }.items():
        assert company[key] == value, key
    assert company["current_users"] == 3
    assert company["current_projects"] == 5


async def test_company_update_stores_strings(api: httpx.AsyncClient) -> None:
    response = await api.put(
        "/api/company", json={"next_invoice_number": 2000, "default_tax": 7.5, "bogus": 1}
    )
    assert response.status_code == 200
    company = response.json()["company"]
    assert company["next_invoice_number"] == "2000"
    assert company["default_tax"] == "7.5"
    assert "bogus" not in company


async def test_create_answers_201_with_location_and_envelope(api: httpx.AsyncClient) -> None:
    response = await api.post(
        "/api/clients", json={"name": "Vandelay Industries", "email": "art@vandelay.example"}
    )
    assert response.status_code == 201
    client = response.json()["clients"][0]
    assert response.headers["Location"] == f"{BASE}/api/clients/{client['id']}"
    assert client["name"] == "Vandelay Industries"
    assert client["active"] is True
    assert client["phone"] is None
    assert client["created_on"] == client["updated_on"] == "2026-11-20T15:30:00Z"
    assert "image" not in client
    fetched = await api.get(f"/api/clients/{client['id']}")
    assert fetched.json() == {"clients": [client]}


async def test_location_uses_the_configured_host() -> None:
    emu = PaymoEmulator(rate_limits="relaxed", public_host="http://127.0.0.1:8123/")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=emu.app), base_url=BASE, auth=(emu.api_key, "X")
    ) as client:
        response = await client.post("/api/clients", json={"name": "Kramerica"})
    assert (
        response.headers["Location"]
        == f"http://127.0.0.1:8123/api/clients/{response.json()['clients'][0]['id']}"
    )


@pytest.mark.parametrize("method", ["POST", "PUT"])
async def test_update_by_post_and_put_bumps_updated_on(emu: PaymoEmulator, method: str) -> None:
    later = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
    emu.state.now = lambda: later
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=emu.app), base_url=BASE, auth=(emu.api_key, "X")
    ) as client:
        response = await client.request(method, f"/api/clients/{facts.HOOLI}", json={"active": False, "x": 1})
    assert response.status_code == 200
    client_record = response.json()["clients"][0]
    assert client_record["active"] is False
    assert client_record["updated_on"] == "2026-11-21T09:00:00Z"
    assert client_record["created_on"] == "2026-09-01T13:00:00Z"


async def test_form_urlencoded_bodies_are_accepted(api: httpx.AsyncClient) -> None:
    response = await api.post("/api/clients", data={"name": "Form Co", "active": "0"})
    assert response.status_code == 201
    assert response.json()["clients"][0]["active"] is False


async def test_undecodable_body_is_400(api: httpx.AsyncClient) -> None:
    response = await api.post(
        "/api/clients", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json() == {"message": "Decoding failed: Syntax error"}
    bulk = await api.post("/api/clients", json=[{"name": "a"}, {"name": "b"}])
    assert bulk.status_code == 400


async def test_missing_required_params_message(api: httpx.AsyncClient) -> None:
    response = await api.post("/api/expenses", json={"amount": 10, "currency": "CAD"})
    assert response.status_code == 400
    assert response.json() == {"message": "Missing required params: client_id"}
    both = await api.post("/api/expenses", json={"currency": "CAD"})
    assert both.json() == {"message": "Missing required params: client_id, amount"}


async def test_unknown_ids_and_paths_are_404(api: httpx.AsyncClient) -> None:
    assert (await api.get("/api/clients/99999")).status_code == 404
    assert (await api.put("/api/clients/99999", json={"name": "x"})).status_code == 404
    assert (await api.delete("/api/clients/99999")).status_code == 404
    assert (await api.get("/api/clients/abc")).status_code == 404
    assert (await api.get("/api/nonsense")).status_code == 404
    # An id from another collection is not a hit here: id ranges do not overlap.
    assert (await api.get(f"/api/projects/{facts.ACME}")).status_code == 404


async def test_delete_answers_200(api: httpx.AsyncClient) -> None:
    response = await api.delete(f"/api/clients/{facts.SOYLENT}")
    assert response.status_code == 200
    assert response.json() == {}
    assert (await api.get(f"/api/clients/{facts.SOYLENT}")).status_code == 404


async def test_patch_is_not_a_paymo_verb(api: httpx.AsyncClient) -> None:
    assert (await api.patch(f"/api/clients/{facts.ACME}", json={"name": "x"})).status_code == 405


async def test_employee_cannot_write_invoices_or_manage_foreign_projects(emu: PaymoEmulator) -> None:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=emu.app), base_url=BASE, auth=(facts.BEN_API_KEY, "X")
    ) as ben:
        refused = await ben.post("/api/invoices", json={"client_id": facts.ACME, "currency": "CAD"})
        assert refused.status_code == 403
        assert "message" in refused.json()
        project = await ben.put(f"/api/projects/{facts.ACME_WEBSITE}", json={"name": "Mine now"})
        assert project.status_code == 403
        # Reading is fine.
        assert (await ben.get("/api/invoices")).status_code == 200


async def test_plan_limits_answer_403_with_documented_messages(
    emu: PaymoEmulator, api: httpx.AsyncClient
) -> None:
    emu.state.company["max_projects"] = 5
    emu.state.company["max_users"] = 3
    projects = await api.post("/api/projects", json={"name": "One too many"})
    assert projects.status_code == 403
    assert projects.json() == {"message": "Adding projects denied. Projects limit reached."}
    users = await api.post("/api/users", json={"email": "dan@northwindpixel.example"})
    assert users.status_code == 403
    assert users.json() == {"message": "Could not add user. Maximum number of users reached."}


async def test_money_is_a_json_number_and_dates_are_utc(api: httpx.AsyncClient) -> None:
    response = await api.get(f"/api/invoices/{facts.INVOICE_IDS['INV-2026-1035']}")
    assert b'"total":5089.52' in response.content
    assert b'"discount_amount":492.5' in response.content
    invoice = body(response)["invoices"][0]  # type: ignore[index]
    assert invoice["total"] == Decimal("5089.52")
    assert invoice["date"] == "2026-10-05"
    assert invoice["created_on"] == "2026-10-05T15:00:00Z"


async def test_a_refused_write_leaves_no_trace(emu: PaymoEmulator, api: httpx.AsyncClient) -> None:
    before = emu.state.company["next_invoice_number"]
    count = len(emu.state.tables["invoices"])
    response = await api.post(
        "/api/invoices",
        json={"client_id": facts.ACME, "currency": "CAD", "items": [{"item": "x", "entries": [99999999]}]},
    )
    assert response.status_code == 400
    assert emu.state.company["next_invoice_number"] == before
    assert len(emu.state.tables["invoices"]) == count
    assert len(emu.state.tables["invoiceitems"]) == 15


async def test_unknown_body_fields_are_ignored_silently(api: httpx.AsyncClient) -> None:
    # A live client sent `title`/`price` instead of `item`/`price_unit` and got a zero line.
    response = await api.post(
        "/api/invoices?include=invoiceitems",
        json={
            "client_id": facts.ACME,
            "currency": "CAD",
            "items": [{"title": "Oops", "price": 100, "quantity": 3}],
        },
    )
    assert response.status_code == 201
    invoice = response.json()["invoices"][0]
    assert invoice["total"] == 0
    assert invoice["invoiceitems"][0]["quantity"] == 3
    assert invoice["invoiceitems"][0]["item"] == ""
