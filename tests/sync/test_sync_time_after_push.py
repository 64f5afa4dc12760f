"""A Paymo time entry changed after its push: added time is pushed exactly once, removed time is reported
and never taken back unasked, and the reconciliation report counts what is still to push."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sync_support import SyncEnv

from paymo_qb_mcp.domain.plan import Change, Plan
from paymo_qb_mcp.errors import UpstreamError
from paymo_qb_mcp.quickbooks.models import Employee, Invoice, TimeActivity
from paymo_qb_mcp.sandbox.paymo import seed as paymo_seed
from paymo_qb_mcp.sync.service import SyncService
from paymo_qb_mcp.sync.timesheets import PushedTime, pushed_time

OCT_1, NOV_30 = dt.date(2026, 10, 1), dt.date(2026, 11, 30)
ENTRY = 40005  # Alice, 1 h (3600 s) of Smith & Sons strategy on 2026-11-03, at her 150/h
OTHER_SMITH_ENTRY = 40006  # Ben, 45 min of Smith & Sons support on 2026-11-05
NON_BILLABLE_ENTRY = 40011  # Internal QA


async def add_chloe_as_employee(env: SyncEnv) -> None:
    await env.qbo.create(
        {
            "DisplayName": "Chloé Gagnon",
            "GivenName": "Chloé",
            "FamilyName": "Gagnon",
            "PrimaryEmailAddr": {"Address": "chloe@northwindpixel.example"},
        },
        model=Employee,
        request_id="test-employee-chloe",
    )


async def plan(env: SyncEnv, **options: object) -> Plan:
    return await env.service.plan_time(date_from=OCT_1, date_to=NOV_30, **options)  # type: ignore[arg-type]


async def push(env: SyncEnv, **options: object) -> Plan:
    planned = await plan(env, **options)
    assert not planned.blocked, planned.summary
    outcome = await env.service.apply(planned)
    assert outcome.findings == [], [finding.message for finding in outcome.findings]
    return planned


async def set_duration(env: SyncEnv, seconds: int) -> None:
    await env.paymo.update_time_entry(ENTRY, {"duration": seconds})


def codes(planned: Plan) -> list[tuple[str, str]]:
    return [(finding.severity, finding.code) for finding in planned.findings if "AFTER_PUSH" in finding.code]


def covering(planned: Plan, entry_id: int) -> list[Change]:
    return [
        change
        for change in planned.writes
        if change.lookup is not None and entry_id in change.lookup.get("mark_done", {}).get("keys", [])
    ]


def record_of(env: SyncEnv, planned: Plan, entry_id: int) -> str:
    """The QuickBooks record the write covering the entry created (its time_group link)."""
    (change,) = covering(planned, entry_id)
    link = env.ledger.link("time_group", str(change.paymo_id))
    assert link is not None
    return link.qbo_id


def skipped(planned: Plan) -> dict[int | str | None, str | None]:
    return {change.paymo_id: change.qbo_id for change in planned.changes if change.entity == "time_entry"}


async def billable_minutes(env: SyncEnv) -> int:
    """Straight from Paymo: the hourly-billable, unbilled time of the period, in whole minutes."""
    tasks = {task.id: task for task in await env.paymo.list_tasks()}
    projects = {project.id: project for project in await env.paymo.list_projects()}
    seconds = 0
    for entry in await env.paymo.list_time_entries():
        task, project = tasks[entry.task_id or 0], projects[entry.project_id or 0]
        billable = bool(project.billable) and bool(task.billable)
        by_the_hour = not project.flat_billing and not task.flat_billing
        if billable and by_the_hour and not entry.billed and entry.invoice_item_id is None:
            seconds += entry.duration or 0
    assert seconds % 60 == 0
    return seconds // 60


async def activity_minutes(env: SyncEnv) -> int:
    return sum((a.Hours or 0) * 60 + (a.Minutes or 0) for a in await env.qbo.query_all(TimeActivity))


async def test_a_push_records_the_seconds_it_pushed_with_the_record(sync_env: SyncEnv) -> None:
    await add_chloe_as_employee(sync_env)
    first = await push(sync_env)

    alice = record_of(sync_env, first, ENTRY)
    ben = record_of(sync_env, first, OTHER_SMITH_ENTRY)  # a TimeActivity belongs to one employee
    assert sync_env.ledger.done_value("time_entry", ENTRY) == f"{alice}:3600"
    assert pushed_time(sync_env.ledger, ENTRY) == PushedTime(qbo_id=alice, seconds=3600)
    assert pushed_time(sync_env.ledger, OTHER_SMITH_ENTRY) == PushedTime(qbo_id=ben, seconds=2700)
    assert pushed_time(sync_env.ledger, NON_BILLABLE_ENTRY) is None


async def test_a_lengthened_entry_pushes_exactly_the_added_time_once(sync_env: SyncEnv) -> None:
    await add_chloe_as_employee(sync_env)
    await push(sync_env)
    await set_duration(sync_env, 7200)  # it was two hours, not one

    again = await plan(sync_env)
    assert activity_keys(again) == activity_keys(await plan(sync_env))  # the same key when planned again
    (change,) = again.writes
    assert change.entity == "time_activity"
    assert change.payload is not None
    assert (change.payload["Hours"], change.payload["Minutes"]) == (1, 0)
    assert change.payload["HourlyRate"] == Decimal(150)
    assert change.after is not None
    assert change.after["entries"] == [ENTRY]
    assert change.after["added_since_push"] is True
    assert change.after["amount"] == Decimal("150.00")
    assert "time added after the push to 1 entry (40005)" in change.payload["Description"]
    assert codes(again) == [("info", "TIME_EXTENDED_AFTER_PUSH")]
    (extended,) = [f for f in again.findings if f.code == "TIME_EXTENDED_AFTER_PUSH"]
    assert "40005" in extended.message
    assert "1.00 h" in extended.message
    assert "3600 s" in extended.message
    assert extended.record == "paymo:entry:40005"
    assert ENTRY not in skipped(again)  # the added time is planned, not skipped

    outcome = await sync_env.service.apply(again)
    assert [item.outcome for item in outcome.applied] == ["created"]
    added = await sync_env.qbo.read(TimeActivity, outcome.applied[0].qbo_id or "")
    assert (added.Hours, added.Minutes, added.HourlyRate) == (1, 0, Decimal(150))
    assert pushed_time(sync_env.ledger, ENTRY) == PushedTime(qbo_id=added.Id, seconds=7200)

    third = await plan(sync_env)
    assert third.writes == ()
    assert codes(third) == []
    assert skipped(third)[ENTRY] == added.Id
    # Every billable minute is in QuickBooks exactly once, the added hour included.
    assert await activity_minutes(sync_env) == await billable_minutes(sync_env)


async def test_a_shortened_entry_warns_and_writes_nothing(sync_env: SyncEnv) -> None:
    await add_chloe_as_employee(sync_env)
    first = await push(sync_env)
    qbo_id = record_of(sync_env, first, ENTRY)
    minutes_before = await activity_minutes(sync_env)
    await set_duration(sync_env, 1800)

    shorter = await plan(sync_env)
    assert shorter.writes == ()
    assert not shorter.blocked
    assert codes(shorter) == [("warning", "TIME_REDUCED_AFTER_PUSH")]
    (reduced,) = [f for f in shorter.findings if f.code == "TIME_REDUCED_AFTER_PUSH"]
    assert "40005" in reduced.message
    assert f"QuickBooks record {qbo_id}" in reduced.message
    assert "1.00 h when it was pushed" in reduced.message
    assert "0.50 h now" in reduced.message
    assert "reduce" in reduced.message
    assert skipped(shorter)[ENTRY] == qbo_id
    await sync_env.service.apply(shorter)
    assert await activity_minutes(sync_env) == minutes_before
    assert pushed_time(sync_env.ledger, ENTRY) == PushedTime(qbo_id=qbo_id, seconds=3600)

    # Lengthened later to 1.5 h: only the half hour beyond what QuickBooks already has is pushed.
    await set_duration(sync_env, 5400)
    longer = await plan(sync_env)
    assert codes(longer) == [("info", "TIME_EXTENDED_AFTER_PUSH")]
    (added,) = longer.writes
    assert added.payload is not None
    assert (added.payload["Hours"], added.payload["Minutes"]) == (0, 30)


async def test_an_old_style_marker_counts_as_pushed_in_full(sync_env: SyncEnv) -> None:
    await add_chloe_as_employee(sync_env)
    first = await push(sync_env)
    qbo_id = record_of(sync_env, first, ENTRY)
    # What a push recorded before the seconds were kept: the QuickBooks Id alone.
    sync_env.ledger.mark_done("time_entry", ENTRY, qbo_id)
    await set_duration(sync_env, 7200)

    again = await plan(sync_env)
    assert again.writes == ()
    assert codes(again) == []
    assert skipped(again)[ENTRY] == qbo_id
    assert pushed_time(sync_env.ledger, ENTRY) == PushedTime(qbo_id=qbo_id, seconds=None)
    found = await sync_env.service.reconciliation_report(date_from=OCT_1, date_to=NOV_30)
    assert found.unbilled_time == []


async def test_added_time_as_invoice_lines_is_one_draft_line_for_the_client(sync_env: SyncEnv) -> None:
    await push(sync_env, target="invoice_lines")
    drafts_before = {invoice.Id for invoice in await sync_env.qbo.query_all(Invoice)}
    await set_duration(sync_env, 7200)

    again = await plan(sync_env, target="invoice_lines")
    (change,) = again.writes
    assert change.entity == "invoice"
    assert change.lookup is not None
    assert change.lookup["mark_done"]["keys"] == [ENTRY]
    assert change.lookup["mark_done"]["suffixes"] == {str(ENTRY): "7200"}
    assert "time added to pushed entries" in change.summary
    outcome = await sync_env.service.apply(again)
    (applied,) = outcome.applied
    assert applied.outcome == "created"
    assert applied.qbo_id not in drafts_before
    draft = await sync_env.qbo.read(Invoice, applied.qbo_id or "")
    (line,) = [line for line in draft.Line or [] if line.SalesItemLineDetail is not None]
    assert line.SalesItemLineDetail is not None
    detail = line.SalesItemLineDetail
    assert (detail.Qty, detail.UnitPrice) == (Decimal("1.00"), Decimal(150))
    assert "40005" in (line.Description or "")
    assert (await plan(sync_env, target="invoice_lines")).writes == ()


async def test_a_lost_answer_for_added_time_is_finished_by_planning_again(sync_env: SyncEnv) -> None:
    await add_chloe_as_employee(sync_env)
    await push(sync_env)
    await set_duration(sync_env, 7200)
    fragile = SyncService(await sync_env.fresh_context(qbo=await sync_env.qbo_without_retries()))
    planned = await fragile.plan_time(date_from=OCT_1, date_to=NOV_30)
    count = len(await sync_env.qbo.query_all(TimeActivity))
    sync_env.qbo_emu.faults.fail_next(
        1, status=503, method="POST", path_contains="timeactivity", after_commit=True
    )
    with pytest.raises(UpstreamError):
        await fragile.apply(planned)
    still = pushed_time(sync_env.ledger, ENTRY)
    assert still is not None
    assert still.seconds == 3600  # the marker moves only once the write is confirmed

    again = await plan(sync_env)
    assert activity_keys(again) == activity_keys(planned)
    outcome = await sync_env.service.apply(again)
    assert [item.outcome for item in outcome.applied] == ["replayed"]
    assert len(await sync_env.qbo.query_all(TimeActivity)) == count + 1
    assert (await plan(sync_env)).writes == ()


async def test_the_report_lists_the_added_time_until_it_is_pushed(sync_env: SyncEnv) -> None:
    await add_chloe_as_employee(sync_env)
    await push(sync_env)
    await set_duration(sync_env, 7200)
    await sync_env.paymo.update_time_entry(40015, {"duration": 3600})  # shortened: nothing to bill

    found = await sync_env.service.reconciliation_report(date_from=OCT_1, date_to=NOV_30)
    assert [(t.paymo_client_id, t.paymo_project_id, t.entries, t.hours) for t in found.unbilled_time] == [
        (paymo_seed.SMITH_AND_SONS, paymo_seed.SMITH_RETAINER, 1, "1.00")
    ]
    assert "1.00 h of billable time neither billed nor pushed" in found.summary

    await push(sync_env)
    after = await sync_env.service.reconciliation_report(date_from=OCT_1, date_to=NOV_30)
    assert after.unbilled_time == []


async def test_added_time_on_an_entry_since_billed_in_paymo_is_not_pushed(sync_env: SyncEnv) -> None:
    await add_chloe_as_employee(sync_env)
    await push(sync_env)
    await sync_env.paymo.update_time_entry(ENTRY, {"duration": 7200, "billed": True})

    again = await plan(sync_env)
    assert again.writes == ()
    assert codes(again) == []
    found = await sync_env.service.reconciliation_report(date_from=OCT_1, date_to=NOV_30)
    assert found.unbilled_time == []


def activity_keys(planned: Plan) -> list[tuple[int | str | None, str | None]]:
    return [(change.paymo_id, change.content_hash) for change in planned.writes]
