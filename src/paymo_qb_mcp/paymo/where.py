"""Paymo ``where`` filters built from typed conditions, so quoting, timestamps and dates are always right.

Paymo compares date-time fields as Unix timestamps, date fields as ``YYYY-MM-DD``, joins conditions
with a lower-case `` and `` and has no ``or``. ``where(...)`` also takes raw condition strings for
the special filters this module does not model.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal, TypeAlias

from paymo_qb_mcp.errors import InputError

__all__ = [
    "Condition",
    "Operator",
    "WhereValue",
    "eq",
    "ge",
    "gt",
    "in_",
    "le",
    "like",
    "lt",
    "ne",
    "not_in",
    "not_like",
    "render_include",
    "render_where",
    "time_interval",
    "where",
]

Operator = Literal["=", "!=", ">", ">=", "<", "<=", "like", "not like", "in", "not in"]
WhereValue: TypeAlias = bool | int | Decimal | str | dt.date | dt.datetime | None

# A field, or a dot path into an included collection (`projects.active`), as Paymo names them.
_FIELD = re.compile(r"[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)*")
# Include keys, dot paths into them, and `*` for "all own fields".
_INCLUDE = re.compile(r"(\*|[a-z_][a-z0-9_]*)(\.(\*|[a-z_][a-z0-9_]*))*")


@dataclass(frozen=True)
class Condition:
    """One rendered condition, e.g. ``updated_on>1700000000``. Build it with the functions below."""

    field: str
    operator: Operator
    value_text: str

    def __str__(self) -> str:
        if self.operator in ("like", "not like", "in", "not in"):
            return f"{self.field} {self.operator} {self.value_text}"
        return f"{self.field}{self.operator}{self.value_text}"


def _check_field(field: str) -> str:
    if not _FIELD.fullmatch(field):
        raise InputError(
            f"{field!r} is not a Paymo field name; use lower-case letters, digits and _ (dots for includes)",
            field_name="where",
        )
    return field


def _quote(text: str) -> str:
    # GUESS: Paymo documents double quotes around strings but no escape syntax; a backslash before
    # an embedded quote or backslash is the convention of the filter languages it resembles.
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _scalar(value: WhereValue, *, in_list: bool = False) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise InputError(f"cannot filter on the non-finite number {value}", field_name="where")
        return format(value, "f")
    if isinstance(value, dt.datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise InputError(
                f"the datetime {value.isoformat()} has no time zone; Paymo compares date-times as Unix "
                "timestamps, which needs one",
                field_name="where",
            )
        return str(int(value.timestamp()))
    if isinstance(value, dt.date):
        # Bare in comparisons (`date>=2014-09-01` in Paymo's docs), quoted inside lists like strings.
        return _quote(value.isoformat()) if in_list else value.isoformat()
    if isinstance(value, str):
        return _quote(value)
    raise InputError(
        f"cannot filter on a {type(value).__name__}; use int, Decimal, str, bool, date or datetime",
        field_name="where",
    )


def _compare(field: str, operator: Operator, value: WhereValue) -> Condition:
    if value is None and operator not in ("=", "!="):
        raise InputError(f"null can only be compared with = or !=, not {operator}", field_name="where")
    return Condition(_check_field(field), operator, _scalar(value))


def eq(field: str, value: WhereValue) -> Condition:
    """``field=value``; ``None`` becomes ``null``."""
    return _compare(field, "=", value)


def ne(field: str, value: WhereValue) -> Condition:
    return _compare(field, "!=", value)


def gt(field: str, value: WhereValue) -> Condition:
    return _compare(field, ">", value)


def ge(field: str, value: WhereValue) -> Condition:
    return _compare(field, ">=", value)


def lt(field: str, value: WhereValue) -> Condition:
    return _compare(field, "<", value)


def le(field: str, value: WhereValue) -> Condition:
    return _compare(field, "<=", value)


def like(field: str, pattern: str) -> Condition:
    """``field like "pattern"``; put ``%`` wildcards in ``pattern`` yourself."""
    return Condition(_check_field(field), "like", _quote(pattern))


def not_like(field: str, pattern: str) -> Condition:
    return Condition(_check_field(field), "not like", _quote(pattern))


def _members(values: Iterable[WhereValue]) -> str:
    rendered = [_scalar(value, in_list=True) for value in values]
    if not rendered:
        # Paymo's grammar has no empty list; an empty "in" would be a silent parse error upstream.
        raise InputError("an in (...) filter needs at least one value", field_name="where")
    return "(" + ",".join(rendered) + ")"


def in_(field: str, values: Iterable[WhereValue]) -> Condition:
    """``field in (a,b,...)``: set membership, not a range (dates too)."""
    return Condition(_check_field(field), "in", _members(values))


def not_in(field: str, values: Iterable[WhereValue]) -> Condition:
    return Condition(_check_field(field), "not in", _members(values))


def _iso_utc(value: dt.datetime) -> str:
    if value.tzinfo is None or value.utcoffset() is None:
        raise InputError(f"the datetime {value.isoformat()} has no time zone", field_name="where")
    # isoformat, not strftime: "%Y" writes the year 1 as "1", which Paymo cannot read.
    return value.astimezone(dt.UTC).replace(tzinfo=None, microsecond=0).isoformat() + "Z"


def time_interval(start: dt.datetime, end: dt.datetime) -> Condition:
    """Time entries overlapping ``[start, end]``: the one Paymo filter that takes ISO strings, in UTC."""
    if end < start:
        raise InputError("time_interval end is before its start", field_name="where")
    return Condition("time_interval", "in", f'("{_iso_utc(start)}","{_iso_utc(end)}")')


def where(*parts: Condition | str | None) -> str:
    """Join conditions (or raw condition strings, passed through as written) with `` and ``."""
    rendered = [str(part).strip() for part in parts if part is not None]
    return " and ".join(text for text in rendered if text)


def render_where(filters: Condition | str | Sequence[Condition | str] | None) -> str | None:
    """The ``where`` query value for any accepted form of filter, or None for no filter."""
    if filters is None:
        return None
    text = where(filters) if isinstance(filters, Condition | str) else where(*filters)
    return text or None


def render_include(include: Sequence[str] | str | None) -> str | None:
    """The ``include`` query value (``invoiceitems,client.name``), checked key by key."""
    if include is None:
        return None
    keys = [key.strip() for key in (include.split(",") if isinstance(include, str) else include)]
    keys = [key for key in keys if key]
    for key in keys:
        if not _INCLUDE.fullmatch(key):
            raise InputError(f"{key!r} is not a Paymo include key", field_name="include")
    return ",".join(dict.fromkeys(keys)) or None
