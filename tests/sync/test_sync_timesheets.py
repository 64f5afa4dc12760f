"""Billable time Paymo → QBO end to end: TimeActivities or draft invoice lines, never an hour pushed twice."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sync_support import SyncEnv

from paymo_qb_mcp.domain.keys import find_markers
from paymo_qb_mcp.domain.plan import Plan
from paymo_qb_mcp.errors import InputError, ReconciliationError, UpstreamError
from paymo_qb_mcp.quickbooks.models import Employee, Invoice, TimeActivity
from paymo_qb_mcp.sandbox.paymo import seed as paymo_seed
from paymo_qb_mcp.sandbox.quickbooks import seed as qbo_seed
from paymo_qb_mcp.sync.service import SyncService
from paymo_qb_mcp.sync.timesheets import hourly_rate

OCT_1, OCT_15, OCT_31, NOV_30 = (
    dt.date(2026, 10, 1),
    dt.date(2026, 10, 15),
    dt.date(2026, 10, 31),
    dt.date(2026, 11, 30),
)
MONTREAL = ZoneInfo("America/Montreal")
NON_BILLABLE_ENTRY = 40011  # Internal QA
FLAT_PRICE_ENTRIES = (40016, 40017, 40018, 40019)  # Café Lumière and Stark, flat-priced projects


async def push(env: SyncEnv, start: dt.date, end: dt.date, **options: object) -> Plan:
    plan = await env.service.plan_time(date_from=start, date_to=end, **options)  # type: ignore[arg-type]
    assert not plan.blocked, plan.summary
    outcome = await env.service.apply(plan)
    assert outcome.findings == [], [finding.message for finding in outcome.findings]
    return plan


async def add_chloe_as_employee(env: SyncEnv) -> str:
    created = await env.qbo.create(
        {
            "DisplayName": "Chloé Gagnon",
            "GivenName": "Chloé",
            "FamilyName": "Gagnon",
            "PrimaryEmailAddr": {"Address": "chloe@northwindpixel.example"},
        },
        model=Employee,
        request_id="test-employee-chloe",
    )
    assert created.Id is not None
    return created.Id


async def billable_unbilled_seconds(env: SyncEnv, start: dt.date, end: dt.date) -> dict[int, int]:
    """Straight from Paymo's API, independently of the sync: hourly-billable, unbilled time in the range."""
    tasks = {task.id: task for task in await env.paymo.list_tasks()}
    projects = {project.id: project for project in await env.paymo.list_projects()}
    found: dict[int, int] = {}
    for entry in await env.paymo.list_time_entries():
        task, project = tasks[entry.task_id or 0], projects[entry.project_id or 0]
        assert entry.start_time is not None or entry.date is not None
        day = entry.date or entry.start_time.astimezone(MONTREAL).date()  # type: ignore[union-attr]
        billable = bool(project.billable) and bool(task.billable)
        by_the_hour = not project.flat_billing and not task.flat_billing
        unbilled = not entry.billed and entry.invoice_item_id is None
        if billable and by_the_hour and unbilled and start <= day <= end:
            assert entry.duration is not None
            found[entry.id] = entry.duration
    return found


def activity_minutes(activity: TimeActivity) -> int:
    return (activity.Hours or 0) * 60 + (activity.Minutes or 0)


def covered_entries(plan: Plan) -> list[int]:
    return sorted(
        entry_id
        for change in plan.writes
        if change.lookup is not None and "mark_done" in change.lookup
        for entry_id in change.lookup["mark_done"]["keys"]
    )


def activity_keys(plan: Plan) -> list[tuple[int | str | None, str | None]]:
    return [
        (change.paymo_id, change.content_hash) for change in plan.writes if change.entity == "time_activity"
    ]


# --- TimeActivity ----------------------------------------------------------------------------


async def test_a_user_without_employee_blocks_naming_the_user_and_the_mapping(sync_env: SyncEnv) -> None:
    plan = await sync_env.service.plan_time(date_from=OCT_1, date_to=NOV_30)

    (blocker,) = [finding for finding in plan.findings if finding.severity == "blocker"]
    assert blocker.code == "NO_WORKER"
    assert "Chloé Gagnon" in blocker.message
    assert "mappings.time_activities.users" in blocker.message
    assert blocker.record == f"paymo:user:{paymo_seed.CHLOE_ID}"
    with pytest.raises(ReconciliationError, match="blocked"):
        await sync_env.service.apply(plan)
    assert await sync_env.qbo.query_all(TimeActivity) == []


async def test_item_by_item_a_user_without_employee_leaves_out_only_their_groups(sync_env: SyncEnv) -> None:
    itemized = await sync_env.service.plan_time_items(date_from=OCT_1, date_to=NOV_30)

    assert not itemized.common.blocked
    blocked = [item for item in itemized.items if item.plan.blocked]
    free = [item for item in itemized.items if not item.plan.blocked]
    assert blocked
    assert free
    for item in blocked:
        assert [finding.code for finding in item.plan.findings if finding.severity == "blocker"] == [
            "NO_WORKER"
        ]
        assert "Chloé Gagnon" in item.label
        assert item.plan.writes == ()
    for item in free:
        assert item.key.startswith("paymo:time_group:")
        # Each group carries what it needs: its customer's link or create and its person's link.
        [activity] = [change for change in item.plan.writes if change.entity == "time_activity"]
        assert item.key == f"paymo:time_group:{activity.paymo_id}"
        assert item.plan.totals == {item.currency: str(item.total)}
    # Alice's first group and her later ones each carry her employee's link; one plan writes it once.
    employee_links = [
        change.paymo_id for item in free for change in item.plan.writes if change.entity == "employee"
    ]
    assert sorted(set(employee_links)) == [paymo_seed.ALICE_ID, paymo_seed.BEN_ID]
    assert len(employee_links) == len(free)
    plan = await sync_env.service.plan_time(date_from=OCT_1, date_to=NOV_30)
    assert sorted(change.paymo_id for change in plan.writes if change.entity == "employee") == [
        paymo_seed.ALICE_ID,
        paymo_seed.BEN_ID,
    ]
    assert itemized.merged().plan_hash == plan.plan_hash


async def test_overlapping_ranges_never_push_an_hour_twice(sync_env: SyncEnv) -> None:
    await add_chloe_as_employee(sync_env)

    october = await push(sync_env, OCT_1, OCT_31)
    late = await push(sync_env, OCT_15, NOV_30)
    union = await sync_env.service.plan_time(date_from=OCT_1, date_to=NOV_30)

    # Entries the first run pushed show up as skips in the overlapping one, naming their record.
    skipped = {change.paymo_id: change.qbo_id for change in late.changes if change.entity == "time_entry"}
    overlap = await billable_unbilled_seconds(sync_env, OCT_15, OCT_31)
    assert set(skipped) == set(overlap) == {40014}  # Ben's ETL work of Oct 21
    assert all(qbo_id for qbo_id in skipped.values())
    assert union.writes == ()
    assert set(covered_entries(october)).isdisjoint(covered_entries(late))

    expected = await billable_unbilled_seconds(sync_env, OCT_1, NOV_30)
    activities = await sync_env.qbo.query_all(TimeActivity)
    assert sum(activity_minutes(activity) for activity in activities) * 60 == sum(expected.values())
    assert sorted(covered_entries(october) + covered_entries(late)) == sorted(expected)
    for entry_id in expected:
        assert sync_env.ledger.is_done("time_entry", entry_id)
    for entry_id in (*paymo_seed.BILLED_ENTRY_IDS, NON_BILLABLE_ENTRY, *FLAT_PRICE_ENTRIES):
        assert not sync_env.ledger.is_done("time_entry", entry_id)
        assert all(str(entry_id) not in (activity.Description or "") for activity in activities)
    for activity in activities:
        assert activity.BillableStatus == "Billable"
        assert activity.NameOf == "Employee"
        assert activity.ItemRef is not None
        assert activity.ItemRef.value == qbo_seed.ITEM_HOURS
        (found,) = find_markers(activity.Description)
        assert found.kind == "time_group"
        assert sync_env.ledger.link("time_group", found.paymo_id) is not None
    # Paymo is only read: its entries keep their billed flags.
    entries = {entry.id: entry for entry in await sync_env.paymo.list_time_entries()}
    assert {entry_id for entry_id, entry in entries.items() if entry.billed} == set(
        paymo_seed.BILLED_ENTRY_IDS
    )


async def test_time_activities_carry_employee_customer_rate_and_last_working_day(sync_env: SyncEnv) -> None:
    await add_chloe_as_employee(sync_env)
    plan = await push(sync_env, OCT_1, NOV_30)

    activities = {
        (
            activity.EmployeeRef.value if activity.EmployeeRef else "",
            activity.CustomerRef.value if activity.CustomerRef else "",
        ): activity
        for activity in await sync_env.qbo.query_all(TimeActivity)
    }
    # Acme Website Redesign, Alice: 4 h (Oct 1) + 61 min (Nov 9) at her own rate, dated on her last day.
    alice_acme = activities[(qbo_seed.EMPLOYEE_ALICE, "1")]
    assert (alice_acme.Hours, alice_acme.Minutes) == (5, 1)
    assert alice_acme.HourlyRate == Decimal(150)
    assert alice_acme.TxnDate == dt.date(2026, 11, 9)
    assert alice_acme.Description is not None
    assert "2026-10-01 – 2026-11-30" in alice_acme.Description
    assert "40007, 40012" in alice_acme.Description
    # Ben on Globex (a USD customer): 5.5 h + 1.5 h at his rate.
    ben_globex = activities[(qbo_seed.EMPLOYEE_BEN, "4")]
    assert (ben_globex.Hours, ben_globex.Minutes, ben_globex.HourlyRate) == (7, 0, Decimal(120))
    employee_links = {change.paymo_id for change in plan.changes if change.entity == "employee"}
    assert employee_links == {paymo_seed.ALICE_ID, paymo_seed.BEN_ID, paymo_seed.CHLOE_ID}
    assert plan.totals == {"CAD": "2318.00", "USD": "2040.00"}


async def test_hours_are_summed_in_seconds_and_rounded_once_per_group(sync_env: SyncEnv) -> None:
    # Three 1 000 s entries: 3 000 s = 0.8333… h → 0.83 h (rounding each first would give 3 × 0.28 = 0.84).
    for offset in range(3):
        sync_env.paymo_emu.state.insert(
            "entries",
            {
                "task_id": paymo_seed.TASK_SUPPORT,
                "project_id": paymo_seed.SMITH_RETAINER,
                "user_id": paymo_seed.BEN_ID,
                "is_bulk": True,
                "date": dt.date(2026, 12, 1) + dt.timedelta(days=offset),
                "duration": 1000,
                "description": "Support call",
                "billed": False,
            },
            event=False,
        )

    plan = await push(sync_env, dt.date(2026, 12, 1), dt.date(2026, 12, 31))

    (activity_change,) = [change for change in plan.writes if change.entity == "time_activity"]
    assert activity_change.after is not None
    assert activity_change.after["hours"] == Decimal("0.83")
    assert activity_change.after["amount"] == Decimal("99.60")  # 0.83 h × 120
    (activity,) = await sync_env.qbo.query_all(TimeActivity)
    assert (activity.Hours, activity.Minutes) == (0, 50)  # 0.83 h to the nearest minute


async def test_the_same_range_planned_twice_gives_the_same_keys_and_hash(sync_env: SyncEnv) -> None:
    await add_chloe_as_employee(sync_env)
    first = await sync_env.service.plan_time(
        date_from=OCT_1, date_to=NOV_30, group_by=("client", "project", "task")
    )
    second = await sync_env.service.plan_time(
        date_from=OCT_1, date_to=NOV_30, group_by=("client", "project", "task")
    )

    assert first.plan_hash == second.plan_hash
    assert [change.paymo_id for change in first.changes] == [change.paymo_id for change in second.changes]
    other = await sync_env.service.plan_time(
        date_from=OCT_1, date_to=OCT_31, group_by=("client", "project", "task")
    )
    keys = {change.paymo_id for change in first.writes if change.entity == "time_activity"}
    assert keys.isdisjoint(change.paymo_id for change in other.writes if change.entity == "time_activity")


async def test_the_project_billing_mode_decides_the_rate(sync_env: SyncEnv) -> None:
    await add_chloe_as_employee(sync_env)
    sync_env.paymo_emu.state.update(
        "projects", paymo_seed.GLOBEX_PIPELINE, {"hourly_billing_mode": "project"}
    )

    await push(sync_env, OCT_1, NOV_30)

    globex = [
        activity
        for activity in await sync_env.qbo.query_all(TimeActivity)
        if activity.CustomerRef is not None and activity.CustomerRef.value == "4"
    ]
    assert {activity.HourlyRate for activity in globex} == {Decimal(140)}


def test_hourly_rate_follows_paymo_billing_modes() -> None:
    rates = {"user": Decimal(110), "task": Decimal(95), "project": Decimal(150), "company": Decimal(100)}
    assert hourly_rate(None, **rates) == (Decimal(110), "user")
    assert hourly_rate("task", **rates) == (Decimal(95), "task")
    assert hourly_rate("project", **rates) == (Decimal(150), "project")
    assert hourly_rate("company", **rates) == (Decimal(100), "company")
    # An unset rate (null or 0) falls through to the next level in the mode's order.
    assert hourly_rate("task", user=Decimal(110), task=None, project=Decimal(150), company=None) == (
        Decimal(110),
        "user",
    )
    assert hourly_rate(None, user=Decimal(0), task=None, project=Decimal(150), company=None) == (
        Decimal(150),
        "project",
    )
    assert hourly_rate(None, user=None, task=None, project=None, company=None) is None


async def test_a_crash_before_the_entries_are_marked_is_healed_by_the_next_run(
    sync_env: SyncEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    await add_chloe_as_employee(sync_env)
    plan = await sync_env.service.plan_time(date_from=OCT_1, date_to=OCT_31)
    real_mark_done = sync_env.ledger.mark_done

    def crash(kind: str, key: str | int, value: str = "") -> None:
        raise RuntimeError("the process died here")

    monkeypatch.setattr(sync_env.ledger, "mark_done", crash)
    with pytest.raises(RuntimeError, match="died"):
        await sync_env.service.apply(plan)
    monkeypatch.setattr(sync_env.ledger, "mark_done", real_mark_done)
    groups = len([change for change in plan.writes if change.entity == "time_activity"])
    assert groups > 1
    # The groups went to QBO in one batch: all were written; the first was linked (its entries unmarked)
    # when the process died, the others not even linked.
    assert len(await sync_env.qbo.query_all(TimeActivity)) == groups

    again = await sync_env.service.plan_time(date_from=OCT_1, date_to=OCT_31)
    # The same groups with the same keys and content (so the same requestids); the links the first
    # run saved before it died are not planned again.
    assert activity_keys(again) == activity_keys(plan)
    outcome = await sync_env.service.apply(again)

    outcomes = [item.outcome for item in outcome.applied if item.change.entity == "time_activity"]
    assert outcomes[0] == "unchanged"
    # The recorded batch is sent again with its requestid: QBO replays it and nothing is created twice.
    assert set(outcomes[1:]) == {"replayed"}
    october = await billable_unbilled_seconds(sync_env, OCT_1, OCT_31)
    assert all(sync_env.ledger.is_done("time_entry", entry_id) for entry_id in october)
    later = await sync_env.service.plan_time(date_from=OCT_1, date_to=NOV_30)
    assert set(covered_entries(later)).isdisjoint(october)
    activities = await sync_env.qbo.query_all(TimeActivity)
    assert len(activities) == len([change for change in plan.writes if change.entity == "time_activity"])


async def test_a_lost_answer_blocks_other_periods_until_the_same_period_finishes_it(
    sync_env: SyncEnv,
) -> None:
    await add_chloe_as_employee(sync_env)
    fragile = SyncService(await sync_env.fresh_context(qbo=await sync_env.qbo_without_retries()))
    plan = await fragile.plan_time(date_from=OCT_1, date_to=OCT_31)
    groups = len([change for change in plan.writes if change.entity == "time_activity"])
    # QuickBooks stores the batch of TimeActivities, but its answer never arrives.
    sync_env.qbo_emu.faults.fail_next(1, status=503, method="POST", path_contains="batch", after_commit=True)
    with pytest.raises(UpstreamError):
        await fragile.apply(plan)
    assert len(await sync_env.qbo.query_all(TimeActivity)) == groups

    other = await sync_env.service.plan_time(date_from=OCT_15, date_to=NOV_30)
    # One per group whose answer was lost.
    assert [finding.code for finding in other.findings if finding.severity == "blocker"] == [
        "UNFINISHED_PUSH"
    ] * groups

    same = await sync_env.service.plan_time(date_from=OCT_1, date_to=OCT_31)
    assert not same.blocked
    outcome = await sync_env.service.apply(same)
    outcomes = [item.outcome for item in outcome.applied if item.change.entity == "time_activity"]
    # The recorded batch goes again with its requestid: QBO replays its answer, nothing is created twice.
    assert outcomes == ["replayed"] * groups
    assert len(await sync_env.qbo.query_all(TimeActivity)) == groups
    assert not (await sync_env.service.plan_time(date_from=OCT_15, date_to=NOV_30)).blocked


# --- draft invoice lines ---------------------------------------------------------------------


async def test_invoice_lines_create_one_draft_invoice_per_client_with_a_line_per_group(
    sync_env: SyncEnv,
) -> None:
    plan = await push(sync_env, OCT_1, NOV_30, target="invoice_lines")

    invoices = {
        invoice.CustomerRef.value if invoice.CustomerRef else "": invoice
        for invoice in await sync_env.qbo.query_all(Invoice)
    }
    assert set(invoices) == {"1", "3", "4"}  # ACME Corp., Smith and Sons, Globex
    acme = await sync_env.qbo.read(Invoice, invoices["1"].Id or "")
    sales = [line for line in acme.Line or [] if line.DetailType == "SalesItemLineDetail"]
    # Paymo takes each user's rate first, so Acme's hours split per rate: Chloé 110, Ben 120, Alice 150.
    shape = sorted(
        (line.SalesItemLineDetail.Qty, line.SalesItemLineDetail.UnitPrice, line.Amount)  # type: ignore[union-attr]
        for line in sales
    )
    assert shape == [
        (Decimal("2.50"), Decimal(110), Decimal("275.00")),
        (Decimal("5.02"), Decimal(150), Decimal("753.00")),
        (Decimal("8.75"), Decimal(120), Decimal("1050.00")),
    ]
    for line in sales:
        detail = line.SalesItemLineDetail
        assert detail is not None
        assert detail.ItemRef is not None
        assert detail.ItemRef.value == qbo_seed.ITEM_SERVICES
        assert detail.TaxCodeRef is not None
        assert (
            detail.TaxCodeRef.value == qbo_seed.TAX_CODE_GST_QST
        )  # the taxes of Acme's latest Paymo invoice
    assert acme.DocNumber is None
    assert acme.EmailStatus == "NotSet"
    assert acme.TxnDate == dt.date(2026, 11, 9)
    assert acme.TxnTaxDetail is not None
    assert acme.TotalAmt == Decimal("2078.00") + acme.TxnTaxDetail.TotalTax  # type: ignore[operator]
    (found,) = find_markers(acme.PrivateNote)
    assert found.kind == "time_group"
    globex = await sync_env.qbo.read(Invoice, invoices["4"].Id or "")
    assert globex.CurrencyRef is not None
    assert globex.CurrencyRef.value == "USD"
    assert globex.ExchangeRate == Decimal("1.3900")
    assert globex.TotalAmt == Decimal("2040.00")  # zero-rated, as Globex's Paymo invoices are

    assert (
        await sync_env.service.plan_time(date_from=OCT_1, date_to=NOV_30, target="invoice_lines")
    ).writes == ()
    assert len(await sync_env.qbo.query_all(Invoice)) == 3
    expected = await billable_unbilled_seconds(sync_env, OCT_1, NOV_30)
    assert covered_entries(plan) == sorted(expected)


async def test_time_pushed_as_invoice_lines_is_not_pushed_again_as_time_activities(sync_env: SyncEnv) -> None:
    await add_chloe_as_employee(sync_env)
    await push(sync_env, OCT_1, OCT_31, target="invoice_lines")

    later = await sync_env.service.plan_time(date_from=OCT_1, date_to=NOV_30)

    october = await billable_unbilled_seconds(sync_env, OCT_1, OCT_31)
    assert set(covered_entries(later)).isdisjoint(october)
    assert {change.paymo_id for change in later.changes if change.action == "skip"} == set(october)


async def test_unknown_grouping_is_refused(sync_env: SyncEnv) -> None:
    with pytest.raises(InputError, match="group time by"):
        await sync_env.service.plan_time(date_from=OCT_1, date_to=NOV_30, group_by=("client", "week"))  # type: ignore[arg-type]
