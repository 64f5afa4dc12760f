"""The query builder: statements render as QBO expects, and no value can break out of its quotes."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paymo_qb_mcp.errors import InputError
from paymo_qb_mcp.quickbooks.models import Customer, Invoice
from paymo_qb_mcp.quickbooks.query import (
    ACTIVE_OR_INACTIVE,
    Condition,
    desc,
    eq,
    ge,
    gt,
    in_,
    le,
    like,
    lt,
    normalize_quotes,
    quote_literal,
    render_value,
    select,
)


def read_literal(text: str, start: int) -> tuple[str, int]:
    """Read a QBO string literal at ``start`` the way its lexer does: ``\\`` escapes the next character.

    Returns the value and the index just past the closing quote.
    """
    assert text[start] == "'", f"no literal at {start}: {text[start : start + 10]!r}"
    value: list[str] = []
    index = start + 1
    while index < len(text):
        char = text[index]
        if char == "\\":
            value.append(text[index + 1])
            index += 2
        elif char == "'":
            return "".join(value), index + 1
        else:
            value.append(char)
            index += 1
    raise AssertionError("unterminated literal")


def tokens(statement: str) -> list[str]:
    """Split a statement into words, punctuation and whole literals (kept with their quotes)."""
    out: list[str] = []
    index = 0
    while index < len(statement):
        char = statement[index]
        if char.isspace():
            index += 1
        elif char == "'":
            _, end = read_literal(statement, index)
            out.append(statement[index:end])
            index = end
        elif char in "(),":
            out.append(char)
            index += 1
        else:
            match = re.compile(r"[^\s'(),]+").match(statement, index)
            assert match
            out.append(match.group(0))
            index = match.end()
    return out


# Plain text rarely strings quotes and backslashes together; the second alphabet does little else.
ANY_TEXT = st.one_of(st.text(), st.text(alphabet="\\'’‘“”\"% aZ"))


@given(ANY_TEXT)
def test_any_text_round_trips_through_a_quoted_literal(text: str) -> None:
    literal = quote_literal(text)
    value, end = read_literal(literal, 0)
    assert value == normalize_quotes(text)
    assert end == len(literal), "the literal closed early: an apostrophe or backslash escaped its quotes"


@given(ANY_TEXT, ANY_TEXT)
def test_no_value_can_add_conditions_to_a_statement(name: str, company: str) -> None:
    statement = (
        select(Customer)
        .where(eq("DisplayName", name), eq("CompanyName", company), eq("Active", True))
        .statement()
    )
    words = tokens(statement)
    assert words[:5] == ["SELECT", "*", "FROM", "Customer", "WHERE"]
    assert words[5:8] == ["DisplayName", "=", quote_literal(name)]
    assert words[8:12] == ["AND", "CompanyName", "=", quote_literal(company)]
    assert words[12:] == ["AND", "Active", "=", "true"]
    assert read_literal(words[7], 0)[0] == normalize_quotes(name)


def test_apostrophes_and_backslashes_are_escaped_and_typographic_quotes_folded() -> None:
    assert quote_literal("Adam's Candy Shop") == r"'Adam\'s Candy Shop'"
    assert quote_literal("O’Reilly Media") == r"'O\'Reilly Media'"
    assert quote_literal("C:\\path\\") == r"'C:\\path\\'"
    assert quote_literal("\\'") == r"'\\\''"
    assert quote_literal("“Quoted” & 100%") == "'\"Quoted\" & 100%'"


def test_a_full_statement_renders_in_qbo_syntax() -> None:
    statement = (
        select(Invoice)
        .where(
            eq("CustomerRef", "58"),
            ge("TxnDate", dt.date(2026, 10, 1)),
            lt(
                "MetaData.LastUpdatedTime",
                dt.datetime(2026, 11, 1, tzinfo=dt.timezone(dt.timedelta(hours=-4))),
            ),
            gt("TotalAmt", Decimal("300.00")),
            le("Balance", 1000),
            in_("DocNumber", ["INV-2026-1035", "INV-2026-1036"]),
        )
        .order_by("TxnDate", desc("Id"))
    )
    assert statement.statement(start_position=1001, max_results=1000) == (
        "SELECT * FROM Invoice WHERE CustomerRef = '58' AND TxnDate >= '2026-10-01'"
        " AND MetaData.LastUpdatedTime < '2026-11-01T00:00:00-04:00' AND TotalAmt > '300.00'"
        " AND Balance <= '1000' AND DocNumber IN ('INV-2026-1035', 'INV-2026-1036')"
        " ORDERBY TxnDate ASC, Id DESC STARTPOSITION 1001 MAXRESULTS 1000"
    )
    assert str(statement).endswith("ORDERBY TxnDate ASC, Id DESC")


def test_booleans_are_bare_even_inside_in_and_like_keeps_the_percent_wildcard() -> None:
    statement = select(Customer).where(in_("Active", [True, False]), like("DisplayName", "Acme%"))
    assert (
        statement.statement()
        == "SELECT * FROM Customer WHERE Active IN (true, false) AND DisplayName LIKE 'Acme%'"
    )


def test_active_or_inactive_asks_a_name_list_for_every_row() -> None:
    assert select(Customer).where(ACTIVE_OR_INACTIVE).statement() == (
        "SELECT * FROM Customer WHERE Active IN (true, false)"
    )


def test_count_keeps_conditions_and_drops_ordering() -> None:
    statement = select(Customer).where(eq("Active", True)).order_by("Id")
    assert statement.count_statement() == "SELECT COUNT(*) FROM Customer WHERE Active = true"


def test_statements_are_immutable_builders() -> None:
    base = select(Customer)
    narrowed = base.where(eq("Active", True))
    assert base.statement() == "SELECT * FROM Customer"
    assert narrowed.statement() == "SELECT * FROM Customer WHERE Active = true"


def test_decimals_render_without_exponent_notation() -> None:
    assert render_value(Decimal("1E+2")) == "'100'"
    assert render_value(Decimal("0.000001")) == "'0.000001'"


@pytest.mark.parametrize(
    ("build", "complaint"),
    [
        (lambda: eq("DisplayName", 1.5), "float"),  # type: ignore[arg-type]
        (lambda: eq("DisplayName", None), "NoneType"),  # type: ignore[arg-type]
        (lambda: eq("TxnDate", dt.datetime(2026, 1, 1)), "no time zone"),
        (lambda: eq("TotalAmt", Decimal("NaN")), "non-finite"),
        (lambda: eq("DisplayName = 'x' OR Id", "1"), "not a QBO property name"),
        (lambda: eq("Id;", "1"), "not a QBO property name"),
        (lambda: in_("Id", []), "at least one value"),
        (lambda: select(Customer).statement(start_position=0), "1-based"),
        (lambda: select(Customer).statement(max_results=1001), "MAXRESULTS"),
        (lambda: select(Customer).where("Active = true"), "conditions built with"),  # type: ignore[arg-type]
    ],
)
def test_malformed_input_is_refused_with_an_input_error(build: object, complaint: str) -> None:
    with pytest.raises(InputError, match=complaint):
        build()  # type: ignore[operator]


def test_or_is_refused_in_every_spelling() -> None:
    left, right = eq("DisplayName", "A"), eq("DisplayName", "B")
    with pytest.raises(InputError, match="OR"):
        _ = left | right
    with pytest.raises(InputError, match="OR"):
        _ = left or right
    with pytest.raises(InputError, match="OR"):
        _ = None | left  # type: ignore[operator]


def test_conditions_compare_by_value() -> None:
    assert eq("Id", "1") == Condition("Id", "=", ("1",))
