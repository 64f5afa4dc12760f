"""Billable time aggregation: grouping, exclusions, the hours rounding rule and conservation of seconds."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paymo_qb_mcp.domain.timeagg import (
    TimeEntryView,
    TimeGroupKey,
    aggregate_time,
    hours_and_minutes,
    hours_from_seconds,
    local_date,
)
from paymo_qb_mcp.errors import InputError

OCT_1 = dt.date(2026, 10, 1)
NOV_30 = dt.date(2026, 11, 30)


def entry(
    entry_id: int, seconds: int | None, *, day: int = 5, month: int = 10, **overrides: object
) -> TimeEntryView:
    fields: dict[str, object] = {
        "id": entry_id,
        "client_id": 1,
        "project_id": 10,
        "task_id": 100,
        "user_id": 1,
        "date": dt.date(2026, month, day),
        "duration_seconds": seconds,
        "billable": True,
    }
    fields.update(overrides)
    return TimeEntryView(**fields)  # type: ignore[arg-type]


def test_hours_are_rounded_half_up_once_per_group() -> None:
    # The seed's awkward durations: 4500 s = 1.25 h, 5400 s = 1.5 h, 2700 s = 0.75 h, 3660 s = 1.0166… h.
    assert [hours_from_seconds(s) for s in (4500, 5400, 2700, 3660)] == [
        Decimal("1.25"),
        Decimal("1.50"),
        Decimal("0.75"),
        Decimal("1.02"),
    ]
    assert hours_from_seconds(18) == Decimal("0.01")  # 0.005 h exactly rounds up
    assert hours_from_seconds(17) == Decimal("0.00")
    # Three entries of 3660 s: 10980 s = 3.05 h (rounding each first would give 3 × 1.02 = 3.06).
    result = aggregate_time([entry(i, 3660) for i in (1, 2, 3)], start=OCT_1, end=NOV_30)
    assert result.groups[0].hours == Decimal("3.05")
    assert result.groups[0].seconds == 10980


def test_hours_and_minutes_for_time_activity() -> None:
    assert hours_and_minutes(4500) == (1, 15)
    assert hours_and_minutes(3660) == (1, 1)
    assert hours_and_minutes(89) == (0, 1)
    assert hours_and_minutes(90) == (0, 2)
    assert hours_and_minutes(3599 + 31) == (1, 1)
    with pytest.raises(InputError):
        hours_and_minutes(-1)


def test_groups_by_client_and_project_then_optionally_task_and_user() -> None:
    entries = [
        entry(1, 3600, task_id=100, user_id=1),
        entry(2, 1800, task_id=101, user_id=2),
        entry(3, 900, task_id=100, user_id=2, project_id=11),
        entry(4, 600, client_id=2, project_id=20),
    ]
    plain = aggregate_time(entries, start=OCT_1, end=NOV_30)
    assert [(group.key, group.entry_ids, group.seconds) for group in plain.groups] == [
        (TimeGroupKey(1, 10), (1, 2), 5400),
        (TimeGroupKey(1, 11), (3,), 900),
        (TimeGroupKey(2, 20), (4,), 600),
    ]
    by_task_and_user = aggregate_time(entries, start=OCT_1, end=NOV_30, by_task=True, by_user=True)
    assert [group.key for group in by_task_and_user.groups] == [
        TimeGroupKey(1, 10, 100, 1),
        TimeGroupKey(1, 10, 101, 2),
        TimeGroupKey(1, 11, 100, 2),
        TimeGroupKey(2, 20, 100, 1),
    ]
    by_user = aggregate_time(entries, start=OCT_1, end=NOV_30, by_user=True)
    assert by_user.groups[0].key == TimeGroupKey(1, 10, None, 1)


def test_excluded_entries_are_reported_with_their_reason() -> None:
    entries = [
        entry(1, 3600),
        entry(2, None),  # running timer
        entry(3, 3600, month=9, day=30),  # before the range
        entry(4, 3600, billable=False),
        entry(5, 3600, billed=True, invoice_item_id=77),
        entry(6, 3600, invoice_item_id=78),  # billed state known only from the invoice line
        entry(7, 3600),  # already pushed
    ]
    result = aggregate_time(entries, start=OCT_1, end=NOV_30, already_pushed={7})
    assert [group.entry_ids for group in result.groups] == [(1,)]
    assert result.excluded_by_reason() == {
        "running": [2],
        "outside_range": [3],
        "not_billable": [4],
        "billed": [5, 6],
        "already_pushed": [7],
    }
    assert "77" in next(item.detail for item in result.excluded if item.entry_id == 5)


def test_range_is_inclusive_and_dates_tracked() -> None:
    entries = [entry(1, 60, month=10, day=1), entry(2, 60, month=11, day=30), entry(3, 60, month=12, day=1)]
    result = aggregate_time(entries, start=OCT_1, end=NOV_30)
    assert result.groups[0].entry_ids == (1, 2)
    assert (result.groups[0].first_date, result.groups[0].last_date) == (OCT_1, NOV_30)


def test_invalid_inputs_are_refused() -> None:
    with pytest.raises(InputError, match="twice"):
        aggregate_time([entry(1, 60), entry(1, 60)], start=OCT_1, end=NOV_30)
    with pytest.raises(InputError, match="negative"):
        aggregate_time([entry(1, -60)], start=OCT_1, end=NOV_30)
    with pytest.raises(InputError, match="before it starts"):
        aggregate_time([], start=NOV_30, end=OCT_1)


def test_local_date_reads_utc_times_in_the_company_zone() -> None:
    late_evening_in_montreal = dt.datetime(2026, 11, 1, 2, 30, tzinfo=dt.UTC)
    assert local_date(late_evening_in_montreal, "America/Montreal") == dt.date(2026, 10, 31)
    assert local_date(late_evening_in_montreal, dt.UTC) == dt.date(2026, 11, 1)
    with pytest.raises(InputError):
        local_date(dt.datetime(2026, 11, 1, 2, 30), "America/Montreal")
    with pytest.raises(InputError):
        local_date(late_evening_in_montreal, "Mars/Olympus")


entries_strategy = st.lists(
    st.builds(
        TimeEntryView,
        id=st.integers(min_value=1, max_value=10**6),
        client_id=st.integers(min_value=1, max_value=3),
        project_id=st.integers(min_value=1, max_value=4),
        task_id=st.integers(min_value=1, max_value=4),
        user_id=st.integers(min_value=1, max_value=3),
        date=st.dates(min_value=dt.date(2026, 9, 1), max_value=dt.date(2026, 12, 31)),
        duration_seconds=st.one_of(st.none(), st.integers(min_value=0, max_value=12 * 3600)),
        billable=st.booleans(),
        billed=st.booleans(),
        invoice_item_id=st.one_of(st.none(), st.integers(min_value=1, max_value=99)),
    ),
    max_size=40,
    unique_by=lambda item: item.id,
)


@settings(max_examples=150, deadline=None)
@given(
    entries=entries_strategy,
    by_task=st.booleans(),
    by_user=st.booleans(),
    pushed_share=st.integers(min_value=0, max_value=3),
)
def test_aggregation_conserves_entries_and_seconds(
    entries: list[TimeEntryView], by_task: bool, by_user: bool, pushed_share: int
) -> None:
    pushed = {item.id for item in entries if item.id % 4 < pushed_share}
    result = aggregate_time(
        entries, start=OCT_1, end=NOV_30, by_task=by_task, by_user=by_user, already_pushed=pushed
    )
    grouped = [entry_id for group in result.groups for entry_id in group.entry_ids]
    excluded = [item.entry_id for item in result.excluded]
    # Every entry id is in exactly one group or exactly one exclusion.
    assert sorted(grouped + excluded) == sorted(item.id for item in entries)
    assert len(set(grouped)) == len(grouped)
    by_id = {item.id: item for item in entries}
    for group in result.groups:
        assert group.seconds == sum(by_id[i].duration_seconds or 0 for i in group.entry_ids)
        # No group gains or loses more than half the rounding unit (0.005 h).
        assert abs(Fraction(group.hours) - Fraction(group.seconds, 3600)) <= Fraction(1, 200)
        for entry_id in group.entry_ids:
            included = by_id[entry_id]
            assert included.billable
            assert not included.billed
            assert included.invoice_item_id is None
            assert entry_id not in pushed
            assert OCT_1 <= included.date <= NOV_30
    assert result.total_seconds == sum(by_id[i].duration_seconds or 0 for i in grouped)
    assert result.total_hours == sum((group.hours for group in result.groups), Decimal(0))
