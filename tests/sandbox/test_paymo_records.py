"""Paymo emulator record rules: time entries and timers, tasks, projects, expenses, users, cascades."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest

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


# ---------------------------------------------------------------------------------------- time entries


async def test_seeded_entry_shapes_omit_the_other_shapes_fields(api: httpx.AsyncClient) -> None:
    bulk = (await api.get("/api/entries/40001")).json()["entries"][0]
    assert bulk["is_bulk"] is True
    assert (bulk["date"], bulk["duration"]) == ("2026-10-06", 4500)
    assert "start_time" not in bulk
    assert "end_time" not in bulk
    timed = (await api.get("/api/entries/40004")).json()["entries"][0]
    assert timed["is_bulk"] is False
    assert (timed["start_time"], timed["end_time"], timed["duration"]) == (
        "2026-10-27T18:00:00Z",
        "2026-10-27T19:01:00Z",
        3660,
    )
    assert "date" not in timed
    assert "billable" not in timed
    assert (timed["billed"], timed["invoice_item_id"]) == (True, 55010)


async def test_create_both_shapes_with_derived_project(api: httpx.AsyncClient) -> None:
    timed = await api.post(
        "/api/entries",
        json={
            "task_id": facts.TASK_DEVELOPMENT,
            "start_time": "2026-11-19T09:00:00-05:00",
            "end_time": "2026-11-19T10:30:00-05:00",
            "project_id": 1,
        },
    )
    assert timed.status_code == 201
    entry = timed.json()["entries"][0]
    assert entry["project_id"] == facts.ACME_WEBSITE
    assert entry["start_time"] == "2026-11-19T14:00:00Z"
    assert entry["duration"] == 5400
    assert entry["user_id"] == facts.ALICE_ID
    assert (entry["billed"], entry["added_manually"]) == (False, True)
    bulk = await api.post(
        "/api/entries", json={"task_id": facts.TASK_SUPPORT, "date": "2026-11-19", "duration": 900}
    )
    assert bulk.json()["entries"][0]["project_id"] == facts.SMITH_RETAINER
    assert bulk.json()["entries"][0]["is_bulk"] is True


async def test_entry_shape_errors(api: httpx.AsyncClient) -> None:
    short = await api.post(
        "/api/entries",
        json={
            "task_id": facts.TASK_DESIGN,
            "start_time": "2026-11-19T09:00:00Z",
            "end_time": "2026-11-19T09:00:59Z",
        },
    )
    assert short.status_code == 400
    no_task = await api.post("/api/entries", json={"date": "2026-11-19", "duration": 60})
    assert no_task.json() == {"message": "Missing required params: task_id"}
    half_bulk = await api.post("/api/entries", json={"task_id": facts.TASK_DESIGN, "date": "2026-11-19"})
    assert half_bulk.json() == {"message": "Missing required params: duration"}
    nothing = await api.post("/api/entries", json={"task_id": facts.TASK_DESIGN})
    assert nothing.status_code == 400


async def test_one_running_timer_per_user(api: httpx.AsyncClient) -> None:
    start = {"task_id": facts.TASK_DESIGN, "start_time": "2026-11-20T14:00:00Z"}
    timer = await api.post("/api/entries", json=start)
    assert timer.status_code == 201
    running = timer.json()["entries"][0]
    assert running["end_time"] is None
    assert running["added_manually"] is False
    second = await api.post("/api/entries", json={**start, "task_id": facts.TASK_DEVELOPMENT})
    assert second.status_code == 409
    for_ben = await api.post("/api/entries", json={**start, "user_id": facts.BEN_ID})
    assert for_ben.status_code == 201
    too_soon = await api.put(f"/api/entries/{running['id']}", json={"end_time": "2026-11-20T14:00:30Z"})
    assert too_soon.status_code == 400
    stopped = await api.put(f"/api/entries/{running['id']}", json={"end_time": "2026-11-20T15:00:00Z"})
    assert stopped.json()["entries"][0]["duration"] == 3600
    assert (await api.post("/api/entries", json=start)).status_code == 201


async def test_duration_changes_only_on_bulk_entries(api: httpx.AsyncClient) -> None:
    bulk = await api.put("/api/entries/40001", json={"duration": 7200})
    assert bulk.json()["entries"][0]["duration"] == 7200
    timed = await api.put("/api/entries/40002", json={"duration": 7200})
    assert timed.json()["entries"][0]["duration"] == 5400
    stretched = await api.put("/api/entries/40002", json={"end_time": "2026-10-13T16:00:00Z"})
    assert stretched.json()["entries"][0]["duration"] == 7200


async def test_entry_can_be_billed_directly(api: httpx.AsyncClient) -> None:
    response = await api.put("/api/entries/40005", json={"billed": True, "invoice_item_id": 55009})
    assert (response.json()["entries"][0]["billed"], response.json()["entries"][0]["invoice_item_id"]) == (
        True,
        55009,
    )


async def test_archived_project_takes_no_time(api: httpx.AsyncClient) -> None:
    await api.put(f"/api/projects/{facts.ACME_WEBSITE}", json={"active": False})
    response = await api.post(
        "/api/entries", json={"task_id": facts.TASK_DESIGN, "date": "2026-11-19", "duration": 60}
    )
    assert response.status_code == 400


async def test_employees_log_only_their_own_time(emu: PaymoEmulator) -> None:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=emu.app), base_url=BASE, auth=(facts.BEN_API_KEY, "X")
    ) as ben:
        own = await ben.post(
            "/api/entries", json={"task_id": facts.TASK_SUPPORT, "date": "2026-11-19", "duration": 600}
        )
        assert own.json()["entries"][0]["user_id"] == facts.BEN_ID
        other = await ben.post(
            "/api/entries",
            json={
                "task_id": facts.TASK_SUPPORT,
                "date": "2026-11-19",
                "duration": 600,
                "user_id": facts.ALICE_ID,
            },
        )
        assert other.status_code == 403
        assert (await ben.put("/api/entries/40002", json={"description": "mine"})).status_code == 403


# ------------------------------------------------------------------------------------- tasks, projects


async def test_task_created_with_project_only_goes_to_default_task_list(api: httpx.AsyncClient) -> None:
    first = await api.post(
        "/api/tasks", json={"name": "Accessibility audit", "project_id": facts.ACME_WEBSITE}
    )
    task = first.json()["tasks"][0]
    assert task["code"] == "AWR-4"
    assert task["billable"] is True
    assert task["user_id"] == facts.ALICE_ID
    tasklist = (await api.get(f"/api/tasklists/{task['tasklist_id']}")).json()["tasklists"][0]
    assert tasklist["name"] == "Default Task List"
    second = await api.post("/api/tasks", json={"name": "Perf audit", "project_id": facts.ACME_WEBSITE})
    assert second.json()["tasks"][0]["tasklist_id"] == task["tasklist_id"]
    assert second.json()["tasks"][0]["code"] == "AWR-5"
    missing = await api.post("/api/tasks", json={"name": "Floating"})
    assert missing.json() == {"message": "Missing required params: tasklist_id"}


async def test_task_completion_records_who_and_when(api: httpx.AsyncClient) -> None:
    done = (await api.put(f"/api/tasks/{facts.TASK_DESIGN}", json={"complete": True})).json()["tasks"][0]
    assert (done["completed_on"], done["completed_by"]) == ("2026-11-20T15:30:00Z", facts.ALICE_ID)
    reopened = (await api.put(f"/api/tasks/{facts.TASK_DESIGN}", json={"complete": False})).json()["tasks"][0]
    assert reopened["completed_on"] is None


async def test_project_without_client_goes_to_sample_client(api: httpx.AsyncClient) -> None:
    project = (await api.post("/api/projects", json={"name": "Internal Tools"})).json()["projects"][0]
    client = (await api.get(f"/api/clients/{project['client_id']}")).json()["clients"][0]
    assert client["name"] == "Sample Client"
    assert project["code"] == "IT"
    again = (await api.post("/api/projects", json={"name": "More tools"})).json()["projects"][0]
    assert again["client_id"] == project["client_id"]


async def test_project_users_include_managers(api: httpx.AsyncClient) -> None:
    response = await api.post(
        "/api/projects", json={"name": "Pair", "client_id": facts.HOOLI, "users": [2], "managers": [3]}
    )
    project = response.json()["projects"][0]
    assert (project["users"], project["managers"]) == ([2, 3], [3])
    me = (await api.get("/api/users/3")).json()["users"][0]
    assert project["id"] in me["assigned_projects"]
    assert me["managed_projects"] == [project["id"]]


async def test_project_manager_may_update_their_project(emu: PaymoEmulator, api: httpx.AsyncClient) -> None:
    await api.put(f"/api/projects/{facts.SMITH_RETAINER}", json={"managers": [facts.ALICE_ID, facts.BEN_ID]})
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=emu.app), base_url=BASE, auth=(facts.BEN_API_KEY, "X")
    ) as ben:
        response = await ben.put(f"/api/projects/{facts.SMITH_RETAINER}", json={"budget_hours": 40})
    assert response.status_code == 200
    assert response.json()["projects"][0]["budget_hours"] == 40


# -------------------------------------------------------------------------------------------- expenses


async def test_expense_rules(api: httpx.AsyncClient) -> None:
    created = await api.post(
        "/api/expenses",
        json={
            "client_id": facts.GLOBEX,
            "amount": 12.5,
            "currency": "U$S",
            "tags": ["Meals", "Travel"],
            "notes": "Lunch",
            "unknown": True,
        },
    )
    assert created.status_code == 201
    expense = created.json()["expenses"][0]
    assert (expense["amount"], expense["price"], expense["currency"]) == (12.5, 12.5, "U$S")
    assert expense["tags"] == ["Meals", "Travel"]
    assert expense["invoiced"] is False
    assert expense["file"] == ""
    assert expense["date"] == "2026-11-20"
    assert expense["user_id"] == facts.ALICE_ID
    marked = await api.put(f"/api/expenses/{expense['id']}", json={"invoiced": True})
    assert marked.json()["expenses"][0]["invoiced"] is True
    bad_currency = await api.post(
        "/api/expenses", json={"client_id": facts.GLOBEX, "amount": 1, "currency": "Dollars"}
    )
    assert bad_currency.status_code == 400
    project_only = await api.post(
        "/api/expenses", json={"project_id": facts.GLOBEX_PIPELINE, "amount": 1, "currency": "CAD"}
    )
    assert project_only.json() == {"message": "Missing required params: client_id"}


async def test_seeded_expenses(api: httpx.AsyncClient) -> None:
    expenses = {e["id"]: e for e in (await api.get("/api/expenses")).json()["expenses"]}
    assert expenses[facts.EXPENSE_US_DOLLAR]["currency"] == "US$"
    assert expenses[facts.EXPENSE_INVOICED]["invoiced"] is True
    assert expenses[facts.EXPENSE_INVOICED]["invoice_item_id"] == 55003
    assert {tag for e in expenses.values() for tag in e["tags"]} == {"Software", "Travel", "Mileage"}


# ------------------------------------------------------------------------------------- users, contacts


async def test_user_rules(api: httpx.AsyncClient) -> None:
    missing = await api.post("/api/users", json={"name": "Dan"})
    assert missing.json() == {"message": "Missing required params: email"}
    created = await api.post(
        "/api/users", json={"email": "dan@northwindpixel.example", "password": "secret123"}
    )
    user = created.json()["users"][0]
    assert user["type"] == "Employee"
    assert user["price_per_hour"] == 150
    assert "password" not in user
    duplicate = await api.post("/api/users", json={"email": "DAN@northwindpixel.example"})
    assert duplicate.status_code == 400
    login = await api.get("/api/me", auth=("dan@northwindpixel.example", "secret123"))
    assert login.json()["users"][0]["id"] == user["id"]


async def test_single_main_contact_per_client(api: httpx.AsyncClient) -> None:
    created = await api.post(
        "/api/clientcontacts", json={"client_id": facts.ACME, "name": "New AP", "is_main": True}
    )
    assert created.json()["clientcontacts"][0]["is_main"] is True
    previous = (await api.get("/api/clientcontacts/15001")).json()["clientcontacts"][0]
    assert previous["is_main"] is False
    contacts = await api.get(
        "/api/clientcontacts", params={"where": f"client_id={facts.ACME}", "include": "client.name"}
    )
    assert [c["client"] for c in contacts.json()["clientcontacts"]] == [{"name": "Acme Corporation"}] * 2


# -------------------------------------------------------------------------------------------- cascades


async def test_deleting_a_client_cascades_to_its_work(emu: PaymoEmulator, api: httpx.AsyncClient) -> None:
    assert (await api.delete(f"/api/clients/{facts.SMITH_AND_SONS}")).status_code == 200
    tables = emu.state.tables
    assert facts.SMITH_RETAINER not in tables["projects"]
    assert 25005 not in tables["tasklists"]
    assert facts.TASK_STRATEGY_SESSIONS not in tables["tasks"]
    assert facts.TASK_SUPPORT not in tables["tasks"]
    assert not any(entry_id in tables["entries"] for entry_id in range(40001, 40007))
    # Invoices stay: financial records are not part of the documented cascade.
    assert facts.INVOICE_IDS["INV-2026-1039"] in tables["invoices"]
    assert 40007 in tables["entries"]


async def test_deleting_a_task_list_or_task_takes_its_time(
    emu: PaymoEmulator, api: httpx.AsyncClient
) -> None:
    await api.delete(f"/api/tasks/{facts.TASK_INTERNAL_QA}")
    assert 40011 not in emu.state.tables["entries"]
    await api.delete("/api/tasklists/25003")
    assert {30007, 30008} & set(emu.state.tables["tasks"]) == set()
    assert {40013, 40014, 40015} & set(emu.state.tables["entries"]) == set()


async def test_deleting_a_user_deletes_their_time(emu: PaymoEmulator, api: httpx.AsyncClient) -> None:
    await api.delete(f"/api/users/{facts.CHLOE_ID}")
    assert not any(e["user_id"] == facts.CHLOE_ID for e in emu.state.tables["entries"].values())
    assert all(facts.CHLOE_ID not in p["users"] for p in emu.state.tables["projects"].values())
