"""The where builder renders what Paymo's filter grammar expects, and refuses what it cannot express."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from paymo_qb_mcp.errors import InputError
from paymo_qb_mcp.paymo.where import (
    eq,
    ge,
    gt,
    in_,
    le,
    like,
    lt,
    ne,
    not_in,
    not_like,
    render_include,
    render_where,
    time_interval,
    where,
)

MONTREAL = dt.timezone(dt.timedelta(hours=-5))


def test_scalars_render_as_paymo_writes_them() -> None:
    assert str(eq("client_id", 42)) == "client_id=42"
    assert str(eq("active", True)) == "active=true"
    assert str(ne("billed", False)) == "billed!=false"
    assert str(gt("total", Decimal("1911.60"))) == "total>1911.60"
    assert str(eq("name", "Sample Project")) == 'name="Sample Project"'
    assert str(eq("end_time", None)) == "end_time=null"
    assert str(ne("invoice_item_id", None)) == "invoice_item_id!=null"


def test_datetimes_become_unix_timestamps_whatever_their_zone() -> None:
    utc = dt.datetime(2023, 11, 14, 22, 13, 20, tzinfo=dt.UTC)
    assert str(gt("updated_on", utc)) == "updated_on>1700000000"
    assert str(ge("created_on", utc.astimezone(MONTREAL))) == "created_on>=1700000000"


def test_dates_stay_calendar_dates() -> None:
    assert str(ge("date", dt.date(2014, 9, 1))) == "date>=2014-09-01"
    assert str(le("due_date", dt.date(2026, 12, 31))) == "due_date<=2026-12-31"
    assert (
        str(in_("date", [dt.date(2026, 6, 1), dt.date(2026, 6, 30)])) == 'date in ("2026-06-01","2026-06-30")'
    )


def test_lists_quote_strings_and_not_numbers() -> None:
    assert str(in_("status", ["draft", "void"])) == 'status in ("draft","void")'
    assert str(not_in("id", [1, 2, 3])) == "id not in (1,2,3)"
    assert str(in_("users", ["anyone", 12])) == 'users in ("anyone",12)'


def test_like_quotes_the_pattern() -> None:
    assert str(like("name", "%Acme%")) == 'name like "%Acme%"'
    assert str(not_like("name", "Test%")) == 'name not like "Test%"'


def test_quotes_and_backslashes_inside_strings_are_escaped() -> None:
    assert str(eq("name", 'The "Best" Co\\')) == r'name="The \"Best\" Co\\"'
    assert str(eq("name", "O’Reilly Media")) == 'name="O’Reilly Media"'


def test_time_interval_uses_iso_strings_in_utc() -> None:
    start = dt.datetime(2026, 10, 1, tzinfo=MONTREAL)
    end = dt.datetime(2026, 11, 1, tzinfo=MONTREAL)
    assert (
        str(time_interval(start, end)) == 'time_interval in ("2026-10-01T05:00:00Z","2026-11-01T05:00:00Z")'
    )
    with pytest.raises(InputError, match="before its start"):
        time_interval(end, start)


def test_time_interval_writes_every_year_with_four_digits() -> None:
    # strftime's %Y wrote the year 1 as "1", which Paymo (and its emulator) refuse.
    start = dt.datetime.min.replace(tzinfo=dt.UTC)
    end = dt.datetime.max.replace(tzinfo=dt.UTC)
    assert str(time_interval(start, end)) == (
        'time_interval in ("0001-01-01T00:00:00Z","9999-12-31T23:59:59Z")'
    )


def test_where_joins_with_lower_case_and_and_passes_raw_strings_through() -> None:
    assert (
        where(eq("client_id", 5), "users<>anyone", None, ge("date", dt.date(2026, 1, 1)))
        == "client_id=5 and users<>anyone and date>=2026-01-01"
    )
    assert render_where(None) is None
    assert render_where("") is None
    assert render_where("active=true") == "active=true"
    assert render_where(eq("active", True)) == "active=true"
    assert (
        render_where([eq("active", True), eq("projects.active", True)])
        == "active=true and projects.active=true"
    )


@pytest.mark.parametrize(
    "build",
    [
        lambda: eq("name; drop", "x"),
        lambda: eq("Name", "x"),
        lambda: gt("updated_on", dt.datetime(2026, 1, 1)),
        lambda: gt("updated_on", None),
        lambda: in_("status", []),
        lambda: eq("total", Decimal("NaN")),
        lambda: eq("total", 1.5),  # type: ignore[arg-type]
    ],
)
def test_what_paymo_cannot_express_is_refused_with_an_input_error(build) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InputError) as caught:
        build()
    assert caught.value.field_name == "where"


def test_includes_are_checked_and_joined() -> None:
    assert render_include(["invoiceitems", "client.name", "invoiceitems"]) == "invoiceitems,client.name"
    assert render_include("tasklists, tasklists.tasks") == "tasklists,tasklists.tasks"
    assert render_include(["*", "project.name"]) == "*,project.name"
    assert render_include(None) is None
    assert render_include([]) is None
    with pytest.raises(InputError, match="include key"):
        render_include(["invoice items"])


def test_lt_is_strict() -> None:
    assert str(lt("price_per_hour", 50)) == "price_per_hour<50"
