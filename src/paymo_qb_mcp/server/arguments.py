"""What every tool argument accepts: the bounds the tools' input schemas declare (ids, lengths, list sizes,
the dates both services take), and the words an ``INPUT`` error uses to say what an argument accepts.

The bounds are checked by the SDK before a tool runs (its argument validation), so an argument out of
bounds — a 1 MB string, an id past 2^31, the year 1 — is refused in microseconds, before anything is
planned, read, audited or redacted. Everything here is light: declaring the tools imports it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Annotated, Any, Final

from pydantic import Field

__all__ = [
    "APPROVAL_ID_MAX_LENGTH",
    "APPROVAL_ID_PATTERN",
    "FIRST_DAY",
    "LAST_DAY",
    "MAX_PAYMO_ID",
    "MAX_SELECTED_IDS",
    "PLAN_HASH_PATTERN",
    "QBO_ID_MAX_LENGTH",
    "QBO_ID_PATTERN",
    "ApprovalIdText",
    "Day",
    "PaymoId",
    "QboId",
    "accepted",
    "argument_phrases",
]

# GUESS: Paymo documents its ids only as integers; they are MySQL auto-increment keys, and a signed 32-bit
# INT is the usual column (the largest ids seen are 8 digits). QBO's own ids are digit strings.
MAX_PAYMO_ID: Final = 2_147_483_647
# QBO ids are strings of digits (reference §2); a 64-bit id has at most 19 of them.
QBO_ID_MAX_LENGTH: Final = 20
QBO_ID_PATTERN: Final = r"^[0-9]+$"
# `store.approvals`: "apr_" and six characters of Crockford's base32, accepted in any case, with or without
# the prefix and with spaces around it (``normalize_approval_id``), so a human's copy still works; a test
# checks that every id the store makes, and its hand-typed forms, fit.
APPROVAL_ID_MAX_LENGTH: Final = 32
APPROVAL_ID_PATTERN: Final = r"^\s*(?:[Aa][Pp][Rr]_)?[0-9A-Za-z]{6}\s*$"
# `domain.keys.content_hash`: SHA-256 in hexadecimal.
PLAN_HASH_PATTERN: Final = r"^[0-9a-fA-F]{64}$"
# GUESS: QBO takes transaction dates from 1900 on (its UI refuses earlier ones) and Paymo stores dates as
# SQL DATEs; a century either side of today covers any real period and keeps every window computed from a
# date (a day's margin, a time zone) far from the ends of Python's calendar.
FIRST_DAY: Final = dt.date(1900, 1, 1)
LAST_DAY: Final = dt.date(2100, 12, 31)
# The sync core's bound on a list of ids (``sync.invoices.selection.MAX_SELECTED_IDS``), written out so that
# declaring the tools does not import the sync core; a test checks that the two agree. A longer run of
# invoices goes through a period (date_from/date_to), which has no such bound.
MAX_SELECTED_IDS: Final = 5000

PaymoId = Annotated[int, Field(ge=1, le=MAX_PAYMO_ID)]
QboId = Annotated[str, Field(min_length=1, max_length=QBO_ID_MAX_LENGTH, pattern=QBO_ID_PATTERN)]
ApprovalIdText = Annotated[str, Field(max_length=APPROVAL_ID_MAX_LENGTH, pattern=APPROVAL_ID_PATTERN)]
# JSON Schema has no bounds for a `date` string; formatMinimum/formatMaximum are the keywords validators
# that know them use (ajv-formats), and the descriptions say the range in words as well.
Day = Annotated[
    dt.date,
    Field(
        ge=FIRST_DAY,
        le=LAST_DAY,
        json_schema_extra={"formatMinimum": FIRST_DAY.isoformat(), "formatMaximum": LAST_DAY.isoformat()},
    ),
]
DAY_RANGE: Final = f"from {FIRST_DAY.isoformat()} to {LAST_DAY.isoformat()}"

# What a pattern of ours means, in words (an error never shows the regular expression).
_PATTERN_NAMES: Final[Mapping[str, str]] = {
    APPROVAL_ID_PATTERN: "an approval id such as apr_7K2M9Q",
    QBO_ID_PATTERN: "a QuickBooks id (digits only)",
    PLAN_HASH_PATTERN: "a plan_hash (64 hexadecimal characters)",
}


def accepted(schema: Mapping[str, Any]) -> str:
    """What a JSON schema (one argument's) accepts, in words: "an integer from 1 to 2147483647, or null"."""
    options = schema.get("anyOf")
    if isinstance(options, list):
        kinds = [accepted(option) for option in options if option.get("type") != "null"]
        text = " or ".join(kinds) or "null"
        return f"{text}, or null" if len(kinds) < len(options) else text
    if "enum" in schema:
        return "one of " + ", ".join(repr(value) for value in schema["enum"])
    if "const" in schema:
        return repr(schema["const"])
    kind = schema.get("type")
    if kind == "integer":
        return "an integer" + _range(schema.get("minimum"), schema.get("maximum"))
    if kind == "number":
        return "a number" + _range(schema.get("minimum"), schema.get("maximum"))
    if kind == "boolean":
        return "true or false"
    if kind == "string":
        return _string(schema)
    if kind == "array":
        items = schema.get("items")
        each = f", each {accepted(items)}" if isinstance(items, Mapping) else ""
        return f"a list of {_count(schema.get('minItems'), schema.get('maxItems'))}{each}"
    return "what the tool's input schema says"


def _range(low: object, high: object) -> str:
    if low is not None and high is not None:
        return f" from {low} to {high}"
    if low is not None:
        return f" of at least {low}"
    if high is not None:
        return f" of at most {high}"
    return ""


def _count(low: object, high: object) -> str:
    if low is not None and high is not None:
        return f"{low} to {high} items"
    if high is not None:
        return f"at most {high} items"
    if low is not None:
        return f"at least {low} item{'' if low == 1 else 's'}"
    return "items"


def _string(schema: Mapping[str, Any]) -> str:
    if schema.get("format") == "date":
        low, high = schema.get("formatMinimum"), schema.get("formatMaximum")
        return "a date (YYYY-MM-DD)" + _range(low, high)
    name = _PATTERN_NAMES.get(str(schema.get("pattern")), "a string")
    longest = schema.get("maxLength")
    return name if longest is None else f"{name} of at most {longest} characters"


def argument_phrases(input_schema: Mapping[str, Any]) -> dict[str, str]:
    """Each argument of a tool's input schema and what it accepts, in words (``accepted``)."""
    properties = input_schema.get("properties") or {}
    return {name: accepted(schema) for name, schema in properties.items() if isinstance(schema, Mapping)}
