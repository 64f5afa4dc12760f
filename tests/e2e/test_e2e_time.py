"""aggregate_time through a real MCP session: billable, unbilled Paymo time reaches QuickBooks as
TimeActivities or draft invoice lines, and two overlapping periods never push an hour twice — checked
against hours computed independently from Paymo's own time entries."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from e2e_support import E2eEnv, call, e2e_env, money, paymo_client

from paymo_qb_mcp.quickbooks.models import Employee, Invoice, TimeActivity
from paymo_qb_mcp.sandbox.paymo import seed
from paymo_qb_mcp.sandbox.quickbooks import seed as qbo_seed

OCTOBER_1, OCTOBER_15, OCTOBER_31, NOVEMBER_30 = (
    dt.date(2026, 10, 1),
    dt.date(2026, 10, 15),
    dt.date(2026, 10, 31),
    dt.date(2026, 11, 30),
)
MONTREAL = ZoneInfo("America/Montreal")


async def billable_seconds(env: E2eEnv, start: dt.date, end: dt.date) -> dict[int, tuple[int, int, int]]:
    """Straight from Paymo, independently of the sync: entry id → (client, user, seconds) of the time in
    the range that is billable by the hour (task and project billable, neither flat-priced) and unbilled."""
    async with paymo_client(env.server_env) as paymo:
        tasks = {task.id: task for task in await paymo.list_tasks()}
        projects = {project.id: project for project in await paymo.list_projects()}
        entries = await paymo.list_time_entries()
    found: dict[int, tuple[int, int, int]] = {}
    for entry in entries:
        task, project = tasks[entry.task_id or 0], projects[entry.project_id or 0]
        if entry.date is not None:
            day = entry.date
        else:
            assert entry.start_time is not None
            day = entry.start_time.astimezone(MONTREAL).date()
        billable = bool(project.billable) and bool(task.billable if task.billable is not None else True)
        by_the_hour = not project.flat_billing and not task.flat_billing
        unbilled = not entry.billed and entry.invoice_item_id is None
        if billable and by_the_hour and unbilled and start <= day <= end:
            assert entry.duration is not None
            assert entry.user_id is not None
            found[entry.id] = (project.client_id or 0, entry.user_id, entry.duration)
    return found


async def bookkeeper_adds_chloe(env: E2eEnv) -> str:
    """Chloé has no QuickBooks employee in the seed; the bookkeeper adds her (as the blocker asks)."""
    employee = Employee.model_validate(
        {
            "DisplayName": "Chloé Gagnon",
            "GivenName": "Chloé",
            "FamilyName": "Gagnon",
            "PrimaryEmailAddr": {"Address": "chloe@northwindpixel.example"},
        }
    )
    created: Employee = await env.qbo_create(employee, request_id="bookkeeper-adds-chloe")
    assert created.Id is not None
    return created.Id


def minutes(activity: TimeActivity) -> int:
    return (activity.Hours or 0) * 60 + (activity.Minutes or 0)


async def test_overlapping_periods_push_every_billable_minute_exactly_once_as_time_activities(
    tmp_path: Path,
) -> None:
    env = e2e_env(tmp_path)
    async with env.client() as client:
        # Chloé has no employee yet: her time is left out, naming her and the fix; the others' goes ahead.
        # (Before time was decided per group, her missing employee refused the whole push.)
        first = await call(client, "aggregate_time", date_from=OCTOBER_1, date_to=NOVEMBER_30)
        assert first["status"] == "applied"
        left_out = [r for r in first["results"] if r["status"] == "blocked"]
        assert left_out
        for entry in left_out:
            assert entry["reason"].startswith("NO_WORKER")
            assert "Chloé Gagnon" in entry["reason"]
            assert entry["action"] == "skip"
        written = await env.qbo_all(TimeActivity)
        assert written
        assert {activity.EmployeeRef.value for activity in written if activity.EmployeeRef} == {
            qbo_seed.EMPLOYEE_ALICE,
            qbo_seed.EMPLOYEE_BEN,
        }
        chloe = await bookkeeper_adds_chloe(env)

        october = await call(client, "aggregate_time", date_from=OCTOBER_1, date_to=OCTOBER_31)
        late = await call(client, "aggregate_time", date_from=OCTOBER_15, date_to=NOVEMBER_30)
        union = await call(client, "aggregate_time", date_from=OCTOBER_1, date_to=NOVEMBER_30)
    # October brings Chloé's October time; the later period overlaps both runs before it, which pushed
    # everything in it already, and so does their union.
    assert october["status"] == "applied"
    assert late["status"] == union["status"] == "unchanged"

    expected = await billable_seconds(env, OCTOBER_1, NOVEMBER_30)
    overlap = await billable_seconds(env, OCTOBER_15, OCTOBER_31)
    assert overlap, "the two periods must share billable time for this test to mean anything"
    activities = await env.qbo_all(TimeActivity)
    # Every billable minute of the union is in QuickBooks once: the overlap is not counted twice.
    assert sum(minutes(a) for a in activities) * 60 == sum(seconds for _, _, seconds in expected.values())
    employee_of = {
        seed.ALICE_ID: qbo_seed.EMPLOYEE_ALICE,
        seed.BEN_ID: qbo_seed.EMPLOYEE_BEN,
        seed.CHLOE_ID: chloe,
    }
    per_employee: dict[str, int] = {}
    for _, user_id, seconds in expected.values():
        per_employee[employee_of[user_id]] = per_employee.get(employee_of[user_id], 0) + seconds
    pushed_per_employee: dict[str, int] = {}
    for activity in activities:
        assert activity.EmployeeRef is not None
        employee = activity.EmployeeRef.value
        pushed_per_employee[employee] = pushed_per_employee.get(employee, 0) + minutes(activity) * 60
        assert activity.BillableStatus == "Billable"
        assert activity.ItemRef is not None
        assert activity.ItemRef.value == qbo_seed.ITEM_HOURS
        assert activity.TxnDate is not None
        assert OCTOBER_1 <= activity.TxnDate <= NOVEMBER_30
    assert pushed_per_employee == per_employee
    # The second run listed the overlap's entries as already pushed, not as new time.
    created = [
        r["qbo_id"] for run in (first, october, late) for r in run["results"] if r["action"] == "create"
    ]
    assert sorted(created) == sorted(str(a.Id) for a in activities)
    ta_writes = [w for w in env.writes("aggregate_time") if w["ids"]["entity"] == "time_activity"]
    assert sorted(w["ids"]["quickbooks"] for w in ta_writes) == sorted(created)
    assert all(w["ids"]["paymo"] for w in ta_writes)
    # Paymo is only read: nothing there is marked billed by a push to QuickBooks.
    async with paymo_client(env.server_env) as paymo:
        billed = {entry.id for entry in await paymo.list_time_entries() if entry.billed}
    assert billed == set(seed.BILLED_ENTRY_IDS)


async def test_overlapping_periods_as_draft_invoice_lines_bill_each_hour_once(tmp_path: Path) -> None:
    env = e2e_env(tmp_path)
    async with env.client() as client:
        october = await call(
            client, "aggregate_time", date_from=OCTOBER_1, date_to=OCTOBER_31, target="invoice_lines"
        )
        late = await call(
            client, "aggregate_time", date_from=OCTOBER_15, date_to=NOVEMBER_30, target="invoice_lines"
        )
        again = await call(
            client, "aggregate_time", date_from=OCTOBER_1, date_to=NOVEMBER_30, target="invoice_lines"
        )
    assert october["status"] == late["status"] == "applied"
    assert again["status"] == "unchanged"

    drafts = [await env.qbo_read(Invoice, str(i.Id)) for i in await env.qbo_all(Invoice)]
    created = {r["qbo_id"] for run in (october, late) for r in run["results"] if r["entity"] == "invoice"}
    assert {d.Id for d in drafts} == created
    lines = [line for d in drafts for line in d.Line or [] if line.SalesItemLineDetail is not None]
    expected_seconds = sum(
        seconds for _, _, seconds in (await billable_seconds(env, OCTOBER_1, NOVEMBER_30)).values()
    )
    pushed_hours = sum(
        (money(line.SalesItemLineDetail.Qty) for line in lines if line.SalesItemLineDetail), Decimal(0)
    )
    # Each line's hours are rounded once to hundredths, so the total may differ by ≤ half a hundredth per
    # line — far less than the shortest entry in the overlap, which a double push would add.
    assert abs(pushed_hours - Decimal(expected_seconds) / 3600) <= Decimal("0.005") * len(lines)
    for draft in drafts:
        assert draft.DocNumber is None  # QBO numbers it when a human sends it
        assert draft.EmailStatus in (None, "NotSet")
        assert money(draft.TotalAmt) > 0
    assert await env.qbo_all(TimeActivity) == []
