"""Aggregation of billable, unbilled Paymo time by client and project (and task/user), with hours rounding.

Rounding rule: seconds are summed per group first (exact integers), then converted once:
``hours = seconds / 3600`` rounded half-up to 2 decimals. A group's hours therefore differ from
its exact time by at most half a rounding unit (0.005 h = 18 s), whatever the number of entries;
rounding each entry first would let the error grow with the entry count.

Time changed after a push: what was pushed for an entry is compared with its duration now
(``changed_since_push``). Added seconds are billable like new time (``time_added_since_push`` gives
the entry as a view holding only them, to aggregate); fewer seconds are never taken back here, since
what QuickBooks already records is a human's to reduce.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable
from dataclasses import dataclass, replace
from decimal import Decimal
from fractions import Fraction
from typing import Final, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from paymo_qb_mcp.domain.money import round_half_up
from paymo_qb_mcp.errors import InputError

__all__ = [
    "HOURS_DECIMAL_PLACES",
    "ChangedSincePush",
    "ExcludedEntry",
    "ExclusionReason",
    "TimeAggregation",
    "TimeEntryView",
    "TimeGroup",
    "TimeGroupKey",
    "aggregate_time",
    "changed_since_push",
    "hours_and_minutes",
    "hours_from_seconds",
    "local_date",
    "period_window",
    "time_added_since_push",
]

HOURS_DECIMAL_PLACES: Final = 2
_SECONDS_PER_HOUR: Final = 3600

ExclusionReason = Literal["running", "outside_range", "not_billable", "billed", "already_pushed"]


@dataclass(frozen=True)
class TimeEntryView:
    """A Paymo time entry as the aggregation needs it.

    ``date`` is the entry's calendar date in the company's time zone (bulk entries carry it; for
    start/end entries use ``local_date(start_time, company_timezone)``). ``billable`` comes from
    the task/project (entries have no billable flag). ``duration_seconds`` is None for a running
    timer.
    """

    id: int
    client_id: int
    project_id: int
    task_id: int
    user_id: int
    date: dt.date
    duration_seconds: int | None
    billable: bool
    billed: bool = False
    invoice_item_id: int | None = None


@dataclass(frozen=True)
class TimeGroupKey:
    """Client and project always; task and user only when grouping by them."""

    client_id: int
    project_id: int
    task_id: int | None = None
    user_id: int | None = None


@dataclass(frozen=True)
class TimeGroup:
    key: TimeGroupKey
    entry_ids: tuple[int, ...]
    seconds: int
    hours: Decimal
    first_date: dt.date
    last_date: dt.date


@dataclass(frozen=True)
class ExcludedEntry:
    entry_id: int
    reason: ExclusionReason
    detail: str


@dataclass(frozen=True)
class TimeAggregation:
    """Every entry passed in is in exactly one group or exactly one exclusion."""

    start: dt.date
    end: dt.date
    groups: tuple[TimeGroup, ...]
    excluded: tuple[ExcludedEntry, ...]

    @property
    def total_seconds(self) -> int:
        return sum(group.seconds for group in self.groups)

    @property
    def total_hours(self) -> Decimal:
        """Σ of the groups' rounded hours (what invoices built from the groups will show)."""
        return sum((group.hours for group in self.groups), Decimal(0))

    def excluded_by_reason(self) -> dict[ExclusionReason, list[int]]:
        by_reason: dict[ExclusionReason, list[int]] = {}
        for entry in self.excluded:
            by_reason.setdefault(entry.reason, []).append(entry.entry_id)
        return by_reason


@dataclass(frozen=True)
class ChangedSincePush:
    """A pushed entry whose duration is no longer what was pushed to QuickBooks."""

    entry_id: int
    pushed_seconds: int
    current_seconds: int

    @property
    def delta_seconds(self) -> int:
        """Positive when the entry was lengthened, negative when it was shortened."""
        return self.current_seconds - self.pushed_seconds

    @property
    def lengthened(self) -> bool:
        return self.delta_seconds > 0


def changed_since_push(entry: TimeEntryView, pushed_seconds: int | None) -> ChangedSincePush | None:
    """How the entry's duration moved since ``pushed_seconds`` were pushed; None when it did not.

    ``pushed_seconds`` None stands for a record of the push that names only the QBO record: the entry
    was pushed in full then, and nothing says how long it was, so it counts as unchanged. A running
    timer has no duration to compare.
    """
    if pushed_seconds is None or entry.duration_seconds is None:
        return None
    if pushed_seconds < 0:
        raise InputError(
            f"time entry {entry.id} was pushed with a negative duration ({pushed_seconds} s)",
            field_name="pushed_seconds",
        )
    if entry.duration_seconds == pushed_seconds:
        return None
    return ChangedSincePush(entry.id, pushed_seconds, entry.duration_seconds)


def time_added_since_push(entry: TimeEntryView, change: ChangedSincePush) -> TimeEntryView:
    """The entry holding only the seconds added since its push, to aggregate like new time."""
    if change.entry_id != entry.id or not change.lengthened:
        raise InputError(
            f"time entry {entry.id} has no time added since its push", field_name="duration_seconds"
        )
    return replace(entry, duration_seconds=change.delta_seconds)


def hours_from_seconds(seconds: int) -> Decimal:
    """``seconds / 3600`` rounded half-up to 2 decimals (5 400 s → 1.50, 3 660 s → 1.02)."""
    return round_half_up(Fraction(seconds, _SECONDS_PER_HOUR), HOURS_DECIMAL_PLACES)


def hours_and_minutes(seconds: int) -> tuple[int, int]:
    """Whole hours and minutes for a QBO TimeActivity (``Hours``/``Minutes``), minutes rounded half-up."""
    if seconds < 0:
        raise InputError(f"a duration cannot be negative ({seconds} s)", field_name="duration")
    minutes = (seconds + 30) // 60
    return divmod(minutes, 60)


def local_date(moment: dt.datetime, timezone: str | dt.tzinfo) -> dt.date:
    """The calendar date of an aware ``moment`` in ``timezone`` (e.g. the company's "America/Montreal")."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InputError(
            f"{moment.isoformat()} has no time zone; Paymo times are UTC", field_name="start_time"
        )
    if isinstance(timezone, str):
        try:
            zone: dt.tzinfo = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise InputError(f"unknown time zone {timezone!r}", field_name="timezone") from None
    else:
        zone = timezone
    return moment.astimezone(zone).date()


# The ends of what a datetime can hold: a window reaching past them stops there (it already holds every
# instant Paymo can have) instead of overflowing.
_EARLIEST: Final = dt.datetime.min.replace(tzinfo=dt.UTC)
_LATEST: Final = dt.datetime.max.replace(tzinfo=dt.UTC)


def period_window(
    date_from: dt.date, date_to: dt.date, zone: dt.tzinfo, margin: dt.timedelta
) -> tuple[dt.datetime, dt.datetime]:
    """The UTC instants from ``margin`` before the first moment of ``date_from`` in ``zone`` to ``margin``
    after the last moment of ``date_to`` (the start of the next day): the time-entry window of a period.

    Any dates, however far out (0001-01-01, 9999-12-31): a bound past what a datetime can hold is the
    earliest or latest one, never an ``OverflowError``.
    """
    start = _day_start(date_from, zone, -margin, past_the_end=_EARLIEST)
    end = _day_start(date_to, zone, dt.timedelta(days=1) + margin, past_the_end=_LATEST)
    return start, end


def _day_start(
    day: dt.date, zone: dt.tzinfo, shift: dt.timedelta, *, past_the_end: dt.datetime
) -> dt.datetime:
    try:
        return (dt.datetime.combine(day, dt.time.min, zone) + shift).astimezone(dt.UTC)
    except OverflowError:
        return past_the_end


def _exclusion(
    entry: TimeEntryView, start: dt.date, end: dt.date, already_pushed: Collection[int]
) -> ExcludedEntry | None:
    if entry.duration_seconds is None:
        return ExcludedEntry(entry.id, "running", "timer still running (no end time)")
    if not start <= entry.date <= end:
        return ExcludedEntry(entry.id, "outside_range", f"dated {entry.date.isoformat()}")
    if not entry.billable:
        return ExcludedEntry(entry.id, "not_billable", "task/project is not billable")
    if entry.billed or entry.invoice_item_id is not None:
        detail = (
            f"billed on Paymo invoice line {entry.invoice_item_id}"
            if entry.invoice_item_id is not None
            else "marked billed in Paymo"
        )
        return ExcludedEntry(entry.id, "billed", detail)
    if entry.id in already_pushed:
        return ExcludedEntry(entry.id, "already_pushed", "already pushed to QuickBooks")
    return None


def aggregate_time(
    entries: Iterable[TimeEntryView],
    *,
    start: dt.date,
    end: dt.date,
    by_task: bool = False,
    by_user: bool = False,
    already_pushed: Collection[int] = frozenset(),
) -> TimeAggregation:
    """Group billable, unbilled, not yet pushed entries dated ``start``–``end`` (inclusive).

    Groups are keyed by client and project, plus task and/or user when asked, and ordered by key;
    entry ids are ordered within a group. Excluded entries are reported with their reason, checked
    in this order: running timer, outside the range, not billable, billed, already pushed.
    """
    if end < start:
        raise InputError(f"the range ends ({end}) before it starts ({start})", field_name="end")
    pushed = frozenset(already_pushed)
    seen: set[int] = set()
    members: dict[TimeGroupKey, list[TimeEntryView]] = {}
    excluded: list[ExcludedEntry] = []
    for entry in entries:
        if entry.id in seen:
            raise InputError(f"time entry {entry.id} appears twice", field_name="entries")
        seen.add(entry.id)
        if entry.duration_seconds is not None and entry.duration_seconds < 0:
            raise InputError(
                f"time entry {entry.id} has a negative duration ({entry.duration_seconds} s)",
                field_name="duration",
            )
        exclusion = _exclusion(entry, start, end, pushed)
        if exclusion is not None:
            excluded.append(exclusion)
            continue
        key = TimeGroupKey(
            entry.client_id,
            entry.project_id,
            entry.task_id if by_task else None,
            entry.user_id if by_user else None,
        )
        members.setdefault(key, []).append(entry)

    groups = []
    for key in sorted(members, key=_key_order):
        group_entries = members[key]
        seconds = sum(entry.duration_seconds or 0 for entry in group_entries)
        dates = [entry.date for entry in group_entries]
        groups.append(
            TimeGroup(
                key=key,
                entry_ids=tuple(sorted(entry.id for entry in group_entries)),
                seconds=seconds,
                hours=hours_from_seconds(seconds),
                first_date=min(dates),
                last_date=max(dates),
            )
        )
    excluded.sort(key=lambda item: item.entry_id)
    return TimeAggregation(start=start, end=end, groups=tuple(groups), excluded=tuple(excluded))


def _key_order(key: TimeGroupKey) -> tuple[int, int, int, int]:
    return (key.client_id, key.project_id, key.task_id or 0, key.user_id or 0)
