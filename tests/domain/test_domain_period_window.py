"""The time-entry window of a period: a day's margin each side of the period's days in a time zone, in UTC,
and never an OverflowError however far out the dates are (it stops at the ends of a datetime)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paymo_qb_mcp.domain.timeagg import period_window

MONTREAL = ZoneInfo("America/Montreal")
TOKYO = ZoneInfo("Asia/Tokyo")
DAY = dt.timedelta(days=1)


def test_a_month_in_montreal_with_a_day_each_side() -> None:
    start, end = period_window(dt.date(2026, 11, 1), dt.date(2026, 11, 30), MONTREAL, DAY)
    assert start == dt.datetime(2026, 10, 31, 4, tzinfo=dt.UTC)  # midnight EDT, a day early
    assert end == dt.datetime(2026, 12, 2, 5, tzinfo=dt.UTC)  # the end of Nov 30 EST, a day late
    assert start.tzinfo is dt.UTC
    assert end.tzinfo is dt.UTC


@pytest.mark.parametrize("zone", [dt.UTC, MONTREAL, TOKYO])
def test_the_ends_of_the_calendar_stop_at_the_ends_of_a_datetime(zone: dt.tzinfo) -> None:
    start, end = period_window(dt.date.min, dt.date.max, zone, DAY)
    assert start == dt.datetime.min.replace(tzinfo=dt.UTC)
    assert end == dt.datetime.max.replace(tzinfo=dt.UTC)
    assert (
        period_window(dt.date.min, dt.date.min, zone, dt.timedelta(0))[0]
        <= period_window(dt.date.min, dt.date.min, zone, dt.timedelta(0))[1]
    )


@given(
    st.dates(),
    st.dates(),
    st.sampled_from([dt.UTC, MONTREAL, TOKYO]),
    st.integers(min_value=0, max_value=3),
)
def test_any_dates_give_a_window_holding_the_whole_period(
    first: dt.date, second: dt.date, zone: dt.tzinfo, margin_days: int
) -> None:
    date_from, date_to = min(first, second), max(first, second)
    start, end = period_window(date_from, date_to, zone, dt.timedelta(days=margin_days))
    assert start <= end
    # Where the period's days can be written as instants at all, the window holds them.
    try:
        first_moment = dt.datetime.combine(date_from, dt.time.min, zone)
        last_moment = dt.datetime.combine(date_to, dt.time.max, zone)
        inside = (first_moment.astimezone(dt.UTC), last_moment.astimezone(dt.UTC))
    except OverflowError:
        return
    assert start <= inside[0]
    assert inside[1] <= end
