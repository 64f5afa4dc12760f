"""CompanyFacts: the closed-books boundary and the currency of a QBO record, as every flow reads them."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from zoneinfo import ZoneInfo

from paymo_qb_mcp.quickbooks.models import Ref
from paymo_qb_mcp.sync.context import CompanyFacts

FACTS = CompanyFacts(
    tax_model="global",
    country="CA",
    home_currency="CAD",
    multicurrency=True,
    custom_txn_numbers=True,
    book_close_date=dt.date(2025, 12, 31),
    paymo_timezone=ZoneInfo("America/Toronto"),
    paymo_currency="CAD",
)


def test_the_book_close_date_itself_is_in_the_closed_period() -> None:
    assert FACTS.in_closed_period(dt.date(2025, 12, 31))
    assert FACTS.in_closed_period(dt.date(2024, 6, 1))
    assert not FACTS.in_closed_period(dt.date(2026, 1, 1))


def test_without_a_book_close_date_nothing_is_closed() -> None:
    assert not replace(FACTS, book_close_date=None).in_closed_period(dt.date(1999, 1, 1))


def test_a_record_without_currency_is_in_the_home_currency() -> None:
    assert FACTS.currency_of(None) == "CAD"
    assert FACTS.currency_of(Ref(value="usd")) == "USD"
