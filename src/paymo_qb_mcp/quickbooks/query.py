"""Building QBO query statements that cannot be mis-escaped.

``select(Customer).where(eq("DisplayName", name), eq("Active", True)).order_by("Id")`` renders
``SELECT * FROM Customer WHERE DisplayName = '...' AND Active = true ORDERBY Id``. Values are never
pasted in by hand: strings are single-quoted with ``\\`` and ``'`` backslash-escaped and typographic
quotes folded to ASCII (QBO's lexer rejects ``’``); property names must be plain identifiers.
QBO has no ``OR``, so a condition refuses to be combined with ``|`` or ``or``. The client's pager adds
``STARTPOSITION``/``MAXRESULTS``; URL encoding is httpx's job.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Final, Generic, Literal, NoReturn, TypeVar

from paymo_qb_mcp.errors import InputError
from paymo_qb_mcp.quickbooks.models import QboEntity

__all__ = [
    "ACTIVE_OR_INACTIVE",
    "MAX_PAGE_SIZE",
    "Condition",
    "Operator",
    "OrderBy",
    "QueryValue",
    "Select",
    "asc",
    "desc",
    "eq",
    "ge",
    "gt",
    "in_",
    "le",
    "like",
    "lt",
    "normalize_quotes",
    "quote_literal",
    "render_value",
    "select",
]

MAX_PAGE_SIZE = 1000  # QBO's MAXRESULTS ceiling

Operator = Literal["=", "<", ">", "<=", ">=", "IN", "LIKE"]
QueryValue = str | bool | int | Decimal | dt.date | dt.datetime

M = TypeVar("M", bound=QboEntity)

_PROPERTY = re.compile(r"[A-Za-z][A-Za-z0-9_]*(?:\.[A-Za-z][A-Za-z0-9_]*)*")

# QBO's lexer fails on typographic quotes ("Invalid content. Lexical error"), so they are folded to
# their ASCII forms. That also makes "O’Reilly" find a record QBO stores as "O'Reilly".
# GUESS: only ’ is documented to break the lexer; the other single and double typographic quotes are
# folded too, since any of them reaching QBO is at best a failed match and at worst a lexical error.
_TYPOGRAPHIC_QUOTES = str.maketrans(
    {
        "\u2018": "'",  # left single quotation mark
        "\u2019": "'",  # right single quotation mark / typographic apostrophe
        "\u201a": "'",  # single low-9 quotation mark
        "\u201b": "'",  # single high-reversed-9 quotation mark
        "\u2032": "'",  # prime
        "\u02bc": "'",  # modifier letter apostrophe
        "\u201c": '"',  # left double quotation mark
        "\u201d": '"',  # right double quotation mark
        "\u201e": '"',  # double low-9 quotation mark
        "\u201f": '"',  # double high-reversed-9 quotation mark
        "\u2033": '"',  # double prime
    }
)


def normalize_quotes(text: str) -> str:
    """Fold typographic quotes to ASCII ``'`` and ``"``."""
    return text.translate(_TYPOGRAPHIC_QUOTES)


def quote_literal(text: str) -> str:
    """A QBO string literal: quotes normalised, then ``\\`` and ``'`` escaped, in single quotes."""
    # Backslashes first, or the backslash added before each apostrophe would be doubled.
    escaped = normalize_quotes(text).replace("\\", "\\\\").replace("'", "\\'")
    return f"'{escaped}'"


def render_value(value: QueryValue) -> str:
    """One value as QBO expects it: booleans bare, everything else quoted."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return quote_literal(value)
    if isinstance(value, int):
        return quote_literal(str(value))
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise InputError(f"cannot query for the non-finite number {value}", field_name="value")
        # Fixed-point, never exponent notation ("1E+2"), which QBO would not read as a number.
        return quote_literal(format(value, "f"))
    if isinstance(value, dt.datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise InputError(
                f"the datetime {value.isoformat()} has no time zone; QBO compares date-times with an offset",
                field_name="value",
            )
        return quote_literal(value.isoformat(timespec="seconds"))
    if isinstance(value, dt.date):
        return quote_literal(value.isoformat())
    raise InputError(
        f"cannot put a {type(value).__name__} in a QBO query; use str, bool, int, Decimal, date or datetime",
        field_name="value",
    )


def _check_property(name: str) -> str:
    if not _PROPERTY.fullmatch(name):
        raise InputError(
            f"{name!r} is not a QBO property name (letters, digits, dots as in MetaData.LastUpdatedTime)",
            field_name="property",
        )
    return name


def _no_or() -> NoReturn:
    raise InputError(
        "QBO queries cannot combine conditions with OR; use in_() for alternatives of one property, "
        "or run one query per alternative",
        field_name="where",
    )


@dataclass(frozen=True)
class Condition:
    """``property operator value``; build with ``eq``, ``lt``, ``in_``, ``like``, ..."""

    property: str
    operator: Operator
    values: tuple[QueryValue, ...]

    def render(self) -> str:
        if self.operator == "IN":
            return f"{self.property} IN ({', '.join(render_value(v) for v in self.values)})"
        return f"{self.property} {self.operator} {render_value(self.values[0])}"

    def __or__(self, other: object) -> NoReturn:
        _no_or()

    def __ror__(self, other: object) -> NoReturn:
        _no_or()

    def __bool__(self) -> NoReturn:
        # `eq(...) or eq(...)` would silently keep only the first condition.
        _no_or()


def _compare(prop: str, operator: Operator, value: QueryValue) -> Condition:
    render_value(value)  # refuse a bad value where it is written, not when the statement renders
    return Condition(_check_property(prop), operator, (value,))


def eq(prop: str, value: QueryValue) -> Condition:
    return _compare(prop, "=", value)


def lt(prop: str, value: QueryValue) -> Condition:
    return _compare(prop, "<", value)


def gt(prop: str, value: QueryValue) -> Condition:
    return _compare(prop, ">", value)


def le(prop: str, value: QueryValue) -> Condition:
    return _compare(prop, "<=", value)


def ge(prop: str, value: QueryValue) -> Condition:
    return _compare(prop, ">=", value)


def in_(prop: str, values: Iterable[QueryValue]) -> Condition:
    """``prop IN (...)``; an empty list is refused (QBO cannot parse ``IN ()``)."""
    collected = tuple(values)
    if not collected:
        raise InputError(f"in_({prop!r}, ...) needs at least one value", field_name=prop)
    for value in collected:
        render_value(value)
    return Condition(_check_property(prop), "IN", collected)


# A name list (customers, vendors, items, tax codes, ...) may answer with its active rows only unless
# the query names Active; this asks for every row, since an inactive one still matters (name clashes,
# reactivation, a mapping that points at it).
ACTIVE_OR_INACTIVE: Final = in_("Active", [True, False])


def like(prop: str, pattern: str) -> Condition:
    """``prop LIKE 'pattern'``; ``%`` is QBO's only wildcard (``'Acme%'``, ``'%Studio%'``)."""
    return Condition(_check_property(prop), "LIKE", (pattern,))


@dataclass(frozen=True)
class OrderBy:
    property: str
    descending: bool = False

    def render(self) -> str:
        return f"{self.property} {'DESC' if self.descending else 'ASC'}"


def asc(prop: str) -> OrderBy:
    return OrderBy(_check_property(prop))


def desc(prop: str) -> OrderBy:
    return OrderBy(_check_property(prop), descending=True)


@dataclass(frozen=True)
class Select(Generic[M]):
    """An immutable ``SELECT * FROM <Entity>`` statement; each method returns a new one."""

    model: type[M]
    conditions: tuple[Condition, ...] = ()
    ordering: tuple[OrderBy, ...] = field(default=())

    @property
    def entity(self) -> str:
        return self.model.entity_name

    def where(self, *conditions: Condition) -> Select[M]:
        """Add conditions, joined with AND (the only connective QBO supports)."""
        for condition in conditions:
            if not isinstance(condition, Condition):
                raise InputError(
                    f"where() takes conditions built with eq(), in_(), like(), ...; got {condition!r}",
                    field_name="where",
                )
        return replace(self, conditions=self.conditions + conditions)

    def order_by(self, *properties: str | OrderBy) -> Select[M]:
        """Sort keys, ascending unless given as ``desc("...")``; replaces any earlier ordering."""
        ordering = tuple(p if isinstance(p, OrderBy) else asc(p) for p in properties)
        return replace(self, ordering=ordering)

    def _where_clause(self) -> str:
        if not self.conditions:
            return ""
        return " WHERE " + " AND ".join(condition.render() for condition in self.conditions)

    def statement(self, *, start_position: int | None = None, max_results: int | None = None) -> str:
        """The statement text; paging clauses only when given (1-based start, at most 1000 rows)."""
        text = f"SELECT * FROM {self.entity}{self._where_clause()}"
        if self.ordering:
            text += " ORDERBY " + ", ".join(order.render() for order in self.ordering)
        if start_position is not None:
            if start_position < 1:
                raise InputError("STARTPOSITION is 1-based", field_name="start_position")
            text += f" STARTPOSITION {start_position}"
        if max_results is not None:
            if not 1 <= max_results <= MAX_PAGE_SIZE:
                raise InputError(f"MAXRESULTS must be 1..{MAX_PAGE_SIZE}", field_name="max_results")
            text += f" MAXRESULTS {max_results}"
        return text

    def count_statement(self) -> str:
        """``SELECT COUNT(*) FROM ...`` with the same conditions (ordering is meaningless there)."""
        return f"SELECT COUNT(*) FROM {self.entity}{self._where_clause()}"

    def __str__(self) -> str:
        return self.statement()


def select(model: type[M]) -> Select[M]:
    """Start a statement for one entity type (QBO queries read one entity each)."""
    if not model.entity_name:
        raise InputError(f"{model.__name__} is not a QBO entity model", field_name="model")
    return Select(model)
