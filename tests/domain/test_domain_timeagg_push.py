"""Time changed after a push: added seconds are billable once, removed ones are never taken back."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paymo_qb_mcp.domain.timeagg import (
    ChangedSincePush,
    TimeEntryView,
    aggregate_time,
    changed_since_push,
    time_added_since_push,
)
from paymo_qb_mcp.errors import InputError

NOV_3 = dt.date(2026, 11, 3)


def entry(seconds: int | None, entry_id: int = 40005) -> TimeEntryView:
    return TimeEntryView(
        id=entry_id,
        client_id=3,
        project_id=20,
        task_id=300,
        user_id=1,
        date=NOV_3,
        duration_seconds=seconds,
        billable=True,
    )


def test_a_lengthened_entry_holds_only_the_added_seconds() -> None:
    change = changed_since_push(entry(7200), 3600)
    assert change == ChangedSincePush(entry_id=40005, pushed_seconds=3600, current_seconds=7200)
    assert change.lengthened
    assert change.delta_seconds == 3600
    added = time_added_since_push(entry(7200), change)
    assert added.duration_seconds == 3600
    assert added == entry(3600)  # everything else (client, task, date, flags) is the entry's own
    (group,) = aggregate_time([added], start=NOV_3, end=NOV_3).groups
    assert (group.entry_ids, str(group.hours)) == ((40005,), "1.00")


def test_a_shortened_entry_is_a_negative_change_with_nothing_to_add() -> None:
    change = changed_since_push(entry(1800), 3600)
    assert change is not None
    assert not change.lengthened
    assert change.delta_seconds == -1800
    with pytest.raises(InputError, match="no time added"):
        time_added_since_push(entry(1800), change)


def test_unchanged_old_style_and_running_entries_have_no_change() -> None:
    assert changed_since_push(entry(3600), 3600) is None
    # A record of the push that names only the QBO record: pushed in full, length unknown.
    assert changed_since_push(entry(7200), None) is None
    assert changed_since_push(entry(None), 3600) is None


def test_a_change_belongs_to_its_entry_and_a_negative_push_is_refused() -> None:
    change = changed_since_push(entry(7200), 3600)
    assert change is not None
    with pytest.raises(InputError, match="40006"):
        time_added_since_push(entry(7200, entry_id=40006), change)
    with pytest.raises(InputError, match="negative"):
        changed_since_push(entry(60), -1)


@given(st.lists(st.integers(min_value=0, max_value=200_000), min_size=1, max_size=12))
def test_edits_after_pushes_bill_the_longest_duration_exactly_once(durations: list[int]) -> None:
    """Push, edit, push again, …: QuickBooks ends up with the longest the entry ever was when pushed,
    never less than it is now, and an unchanged entry adds nothing."""
    pushed_total = durations[0]  # the first push, in full
    marker = durations[0]
    for duration in durations[1:]:
        change = changed_since_push(entry(duration), marker)
        if change is None:
            assert duration == marker
            continue
        assert change.current_seconds == duration
        if change.lengthened:
            added = time_added_since_push(entry(duration), change)
            assert added.duration_seconds is not None
            pushed_total += added.duration_seconds
            marker = duration  # the marker records the new duration once pushed
        # A shortened entry keeps its marker: QuickBooks still has what was pushed.
        assert pushed_total == marker
        assert pushed_total >= duration
        assert changed_since_push(entry(marker), marker) is None
    assert pushed_total == max(durations)
