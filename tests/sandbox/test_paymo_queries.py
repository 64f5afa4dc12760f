"""Paymo emulator reads: the `where` language, `include` embedding and field selection, paging."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest

from paymo_qb_mcp.sandbox.paymo import PaymoEmulator
from paymo_qb_mcp.sandbox.paymo import seed as facts
from paymo_qb_mcp.sandbox.paymo.where import parse_where

BASE = "https://app.paymoapp.com"


@pytest.fixture
def emu() -> PaymoEmulator:
    return PaymoEmulator(rate_limits="relaxed", now=lambda: datetime(2026, 11, 20, 15, 30, tzinfo=UTC))


@pytest.fixture
async def api(emu: PaymoEmulator) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=emu.app), base_url=BASE, auth=(emu.api_key, "X")
    ) as client:
        yield client


async def ids(api: httpx.AsyncClient, collection: str, where: str) -> list[int]:
    response = await api.get(f"/api/{collection}", params={"where": where})
    assert response.status_code == 200, response.text
    return [row["id"] for row in response.json()[collection]]


def invoice_ids(*numbers: int) -> list[int]:
    return [facts.INVOICE_IDS[f"INV-2026-{n}"] for n in numbers]


# ----------------------------------------------------------------------------------------------- where


async def test_unfiltered_list_returns_everything_in_id_order(api: httpx.AsyncClient) -> None:
    assert await ids(api, "clients", "") == sorted(facts.CLIENT_IDS.values())


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("status=paid", invoice_ids(1036)),
        ('status in ("draft","void")', invoice_ids(1038, 1040)),
        ("status not in (sent, paid)", invoice_ids(1038, 1040)),
        ("status!=sent", invoice_ids(1036, 1038, 1040)),
        ("status<>sent", invoice_ids(1036, 1038, 1040)),
        ("total>6000", invoice_ids(1036, 1040)),
        ("total>=6898.5 and total<=6898.50", invoice_ids(1036)),
        ("total<1000", invoice_ids(1039)),
        (f"client_id={facts.ACME} and status=draft", invoice_ids(1040)),
        (f"client_id in ({facts.ACME},{facts.STARK})", invoice_ids(1035, 1040, 1041)),
        ('number="INV-2026-1037"', invoice_ids(1037)),
        ('number like "%-104_"', invoice_ids(1040, 1041, 1042)),
        ("number like 1039", invoice_ids(1039)),
        ('number not like "%103%"', invoice_ids(1040, 1041, 1042)),
        ("date>=2026-11-01 and date<2026-11-12", invoice_ids(1039, 1040)),
        ("date<2026-01-01", invoice_ids(1042)),
        ('date in ("2026-10-05","2026-10-31")', invoice_ids(1035)),
        ("currency=USD", invoice_ids(1037)),
        ("discount_text=null", invoice_ids(1036, 1037, 1038, 1039, 1040, 1041, 1042)),
        ("discount_text!=null", invoice_ids(1035)),
        ("tax_on_tax=false and tax=0", invoice_ids(1037)),
    ],
)
async def test_invoice_filters(api: httpx.AsyncClient, where: str, expected: list[int]) -> None:
    assert await ids(api, "invoices", where) == expected


async def test_datetime_fields_compare_as_unix_timestamps(api: httpx.AsyncClient) -> None:
    oct_25 = int(datetime(2026, 10, 25, tzinfo=UTC).timestamp())
    changed = await ids(api, "invoices", f"updated_on>{oct_25}")
    assert changed == invoice_ids(1035, 1039, 1040, 1041)
    created_exactly = int(datetime(2026, 10, 5, 15, tzinfo=UTC).timestamp())
    assert await ids(api, "invoices", f"created_on={created_exactly}") == invoice_ids(1035)


async def test_datetime_fields_refuse_iso_strings(api: httpx.AsyncClient) -> None:
    response = await api.get("/api/invoices", params={"where": 'updated_on>"2026-10-25T00:00:00Z"'})
    assert response.status_code == 400


async def test_booleans_and_text_equality(api: httpx.AsyncClient) -> None:
    assert await ids(api, "tasks", "billable=false") == [facts.TASK_INTERNAL_QA]
    assert await ids(api, "clients", 'name="smith & sons llc"') == [facts.SMITH_AND_SONS]
    assert await ids(api, "clients", 'name like "%lumière%"') == [facts.CAFE_LUMIERE]
    assert await ids(api, "clients", 'name="O’Reilly Media"') == [facts.OREILLY]
    assert await ids(api, "clients", 'name="Soylent: Foods" and active=true') == [facts.SOYLENT]


async def test_quoted_strings_keep_spaces_escapes_and_and(api: httpx.AsyncClient) -> None:
    created = await api.post("/api/clients", json={"name": 'Bread "and" Butter and Co'})
    client_id = created.json()["clients"][0]["id"]
    assert await ids(api, "clients", r'name="Bread \"and\" Butter and Co"') == [client_id]


async def test_list_fields_match_by_membership(emu: PaymoEmulator, api: httpx.AsyncClient) -> None:
    all_projects = sorted(emu.state.tables["projects"])
    assert await ids(api, "projects", f"users={facts.BEN_ID}") == all_projects
    assert await ids(api, "projects", f"managers={facts.BEN_ID}") == []
    task = await api.post("/api/tasks", json={"name": "Unassigned", "project_id": facts.ACME_WEBSITE})
    task_id = task.json()["tasks"][0]["id"]
    assert await ids(api, "tasks", "users=anyone") == [task_id]
    assert task_id not in await ids(api, "tasks", "users<>anyone")
    assert len(await ids(api, "tasks", 'users in ("anyone",2)')) == 14
    assert len(await ids(api, "tasks", "mytasks=true")) == 13
    assert await ids(api, "expenses", "tags=Mileage") == [facts.EXPENSE_MILEAGE]


async def test_entries_special_filters(emu: PaymoEmulator, api: httpx.AsyncClient) -> None:
    assert await ids(api, "entries", f"client_id={facts.SMITH_AND_SONS}") == list(range(40001, 40007))
    october = 'time_interval in ("2026-10-01T00:00:00Z","2026-11-01T00:00:00Z") and user_id=2'
    assert await ids(api, "entries", october) == [40001, 40004, 40009, 40014]
    # Half-open: an interval ending at the bulk entry's UTC midnight leaves it out.
    edge = 'time_interval in ("2026-09-30T00:00:00Z","2026-10-01T00:00:00Z")'
    assert await ids(api, "entries", edge) == []
    assert await ids(api, "entries", "end_time=null") == []
    timer = await api.post(
        "/api/entries", json={"task_id": facts.TASK_DESIGN, "start_time": "2026-11-20T14:00:00Z"}
    )
    timer_id = timer.json()["entries"][0]["id"]
    assert await ids(api, "entries", f"user_id={facts.ALICE_ID} and end_time=null") == [timer_id]
    bad = await api.get("/api/entries", params={"where": 'time_interval in ("2026-10-01T00:00:00Z")'})
    assert bad.status_code == 400


@pytest.mark.parametrize(
    "where",
    [
        "status=",
        "status paid",
        "=paid",
        "status in paid",
        'name="unterminated',
        "status=paid or status=sent",
        "status=paid and",
        "total>abc",
        "date>=2026-13-45",
        "active=maybe",
    ],
)
async def test_invalid_where_is_400(api: httpx.AsyncClient, where: str) -> None:
    collection = "clients" if "active" in where else "invoices"
    response = await api.get(f"/api/{collection}", params={"where": where})
    assert response.status_code == 400
    assert "message" in response.json()


async def test_unknown_where_field_is_400_naming_it(api: httpx.AsyncClient) -> None:
    response = await api.get("/api/invoices", params={"where": "colour=red"})
    assert response.status_code == 400
    assert response.json() == {"message": "Unknown field or reference: `colour`"}


def test_parser_reads_every_operator() -> None:
    conditions = parse_where(
        'a=1 and b!=2 and c<>3 and d>4 and e>=5 and f<6 and g<=7 and h like "%x%" and i not like y '
        'and j in (1, "two", null) and k not in(3) and l=null and m=true'
    )
    assert [c.operator for c in conditions] == [
        "=", "!=", "!=", ">", ">=", "<", "<=", "like", "not like", "in", "not in", "=", "=",
    ]  # fmt: skip
    assert [o.text for o in conditions[9].operands] == ["1", "two", "null"]
    assert [o.quoted for o in conditions[9].operands] == [False, True, False]
    assert conditions[11].operands[0].is_null


# --------------------------------------------------------------------------------------------- include


async def test_child_includes_are_arrays_and_parents_objects(api: httpx.AsyncClient) -> None:
    response = await api.get(
        f"/api/invoices/{facts.INVOICE_IDS['INV-2026-1035']}",
        params={"include": "invoiceitems,client,invoicepayments"},
    )
    invoice = response.json()["invoices"][0]
    assert [line["id"] for line in invoice["invoiceitems"]] == [55001, 55002, 55003]
    assert invoice["client"]["id"] == facts.ACME
    assert invoice["client"]["name"] == "Acme Corporation"
    assert [p["id"] for p in invoice["invoicepayments"]] == [facts.PAYMENT_IDS[0]]


async def test_without_include_an_invoice_has_no_lines(api: httpx.AsyncClient) -> None:
    invoice = (await api.get(f"/api/invoices/{facts.INVOICE_IDS['INV-2026-1035']}")).json()["invoices"][0]
    assert "invoiceitems" not in invoice


async def test_dot_nesting(api: httpx.AsyncClient) -> None:
    response = await api.get(
        f"/api/projects/{facts.ACME_WEBSITE}", params={"include": "tasklists,tasklists.tasks"}
    )
    project = response.json()["projects"][0]
    assert [t["id"] for t in project["tasklists"][0]["tasks"]] == [30001, 30002, 30003]
    assert project["tasklists"][0]["name"] == "Work"
    deeper = await api.get(f"/api/invoices/{facts.INVOICE_IDS['INV-2026-1039']}?include=invoiceitems.entries")
    lines = deeper.json()["invoices"][0]["invoiceitems"]
    assert [[e["id"] for e in line["entries"]] for line in lines] == [[40001, 40002, 40003], [40004]]


async def test_field_selection_on_included_objects(api: httpx.AsyncClient) -> None:
    response = await api.get(
        f"/api/tasks/{facts.TASK_DESIGN}", params={"include": "project.name,project.client.name"}
    )
    task = response.json()["tasks"][0]
    assert task["project"] == {"name": "Acme Website Redesign", "client": {"name": "Acme Corporation"}}
    assert task["name"] == "Design"
    assert "code" in task


async def test_top_level_field_selection_and_star(api: httpx.AsyncClient) -> None:
    narrow = await api.get(f"/api/clients/{facts.ACME}", params={"include": "name,email"})
    assert narrow.json()["clients"][0] == {"name": "Acme Corporation", "email": "ap@acme.example"}
    star = await api.get(f"/api/tasks/{facts.TASK_DESIGN}", params={"include": "*,project.name"})
    task = star.json()["tasks"][0]
    assert task["id"] == facts.TASK_DESIGN
    assert task["project"] == {"name": "Acme Website Redesign"}


async def test_unknown_include_key_is_400(api: httpx.AsyncClient) -> None:
    for include in ("invoiceitem", "client.nonsense", "tags", "secret"):
        response = await api.get("/api/invoices", params={"include": include})
        assert response.status_code == 400
        name = include.split(".")[-1]
        assert response.json() == {"message": f"Unknown field or reference: `{name}`"}


async def test_where_filters_included_children(api: httpx.AsyncClient) -> None:
    await api.put(f"/api/projects/{facts.GLOBEX_PIPELINE}", json={"active": False})
    response = await api.get(
        "/api/clients", params={"include": "projects", "where": f"id={facts.GLOBEX} and projects.active=true"}
    )
    clients = response.json()["clients"]
    assert [c["id"] for c in clients] == [facts.GLOBEX]
    assert clients[0]["projects"] == []


async def test_include_truncation_knob(emu: PaymoEmulator, api: httpx.AsyncClient) -> None:
    emu.include_cap = 4
    response = await api.get("/api/invoices", params={"include": "invoiceitems"})
    lines = [len(invoice["invoiceitems"]) for invoice in response.json()["invoices"]]
    # 3 + 1 fill the cap; every later invoice silently comes back with no lines.
    assert lines == [3, 1, 0, 0, 0, 0, 0, 0]


# ---------------------------------------------------------------------------------------------- paging


async def test_paging_without_metadata(api: httpx.AsyncClient) -> None:
    pages = []
    for page in range(4):
        response = await api.get("/api/entries", params={"page": str(page), "page_size": "6"})
        assert set(response.json()) == {"entries"}
        pages.append([e["id"] for e in response.json()["entries"]])
    assert pages == [
        list(range(40001, 40007)),
        list(range(40007, 40013)),
        list(range(40013, 40019)),
        [40019],
    ]


async def test_where_applies_before_paging(api: httpx.AsyncClient) -> None:
    response = await api.get("/api/entries", params={"where": "user_id=2", "page": "1", "page_size": "3"})
    assert [e["id"] for e in response.json()["entries"]] == [40009, 40010, 40014]


async def test_malformed_paging_is_400(api: httpx.AsyncClient) -> None:
    assert (await api.get("/api/entries", params={"page": "0", "page_size": "0"})).status_code == 400
    assert (await api.get("/api/entries", params={"page": "x", "page_size": "10"})).status_code == 400
