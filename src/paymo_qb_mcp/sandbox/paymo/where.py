"""Paymo's `where` filter language: parsing into conditions and evaluating them against typed values."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from paymo_qb_mcp.sandbox.paymo.schema import Kind
from paymo_qb_mcp.sandbox.paymo.wire import ApiError, unix_seconds

OPERATORS = ("=", "!=", ">", ">=", "<", "<=", "like", "not like", "in", "not in")
LIST_OPERATORS = ("in", "not in")


@dataclass(frozen=True)
class Operand:
    """One value as written: `quoted` distinguishes the string "null" from the literal null."""

    text: str
    quoted: bool

    @property
    def is_null(self) -> bool:
        return not self.quoted and self.text.lower() == "null"


@dataclass(frozen=True)
class Condition:
    path: tuple[str, ...]
    operator: str
    operands: tuple[Operand, ...]
    source: str
    # The operands' values per field kind, worked out on first use (see `_wanted`); not part of equality.
    resolved: dict[Kind, tuple[tuple[Any, ...], frozenset[Any]]] = dataclasses.field(
        default_factory=dict, compare=False, hash=False, repr=False
    )

    @property
    def field(self) -> str:
        return self.path[-1]


def invalid_where(fragment: str) -> ApiError:
    # GUESS: the real message for unparsable filters is undocumented.
    return ApiError(400, f"Invalid where condition: {fragment.strip()}")


_FIELD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")
# Word operators need a boundary after them (`in(` and `in (` are both fine); longest symbols first.
_OPERATOR = re.compile(r"(?i)(not\s+like|not\s+in|like|in)(?=[\s(\"])|(!=|<>|>=|<=|=|>|<)")
# A bare value cannot start with an operator character, so `a==1` is an error rather than "a equals '=1'".
_BARE = re.compile(r"[^\s(),\"'=<>!][^\s(),\"']*")
_AND = re.compile(r"(?i)\s+and\s+")


class _Scanner:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def skip_spaces(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def at_end(self) -> bool:
        return self.pos >= len(self.text)

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def match(self, pattern: re.Pattern[str]) -> re.Match[str] | None:
        found = pattern.match(self.text, self.pos)
        if found:
            self.pos = found.end()
        return found

    def fail(self) -> ApiError:
        return invalid_where(self.text)


def parse_where(text: str) -> list[Condition]:
    """Parse `a=1 and b in ("x","y") and c like "%z%"` into conditions, or raise 400."""
    scanner = _Scanner(text)
    conditions: list[Condition] = []
    scanner.skip_spaces()
    if scanner.at_end():
        return conditions
    while True:
        start = scanner.pos
        scanner.skip_spaces()
        field_match = scanner.match(_FIELD)
        if field_match is None:
            raise scanner.fail()
        scanner.skip_spaces()
        operator_match = scanner.match(_OPERATOR)
        if operator_match is None:
            raise scanner.fail()
        operator = " ".join(operator_match.group(0).lower().split())
        if operator == "<>":
            operator = "!="
        scanner.skip_spaces()
        if operator in LIST_OPERATORS:
            operands = _parse_list(scanner)
        else:
            if scanner.peek() == "(":
                raise scanner.fail()
            operands = (_parse_scalar(scanner),)
        conditions.append(
            Condition(
                path=tuple(field_match.group(0).split(".")),
                operator=operator,
                operands=operands,
                source=text[start : scanner.pos].strip(),
            )
        )
        if scanner.at_end() or not scanner.text[scanner.pos :].strip():
            return conditions
        if scanner.match(_AND) is None:
            raise scanner.fail()


def _parse_list(scanner: _Scanner) -> tuple[Operand, ...]:
    if scanner.peek() != "(":
        raise scanner.fail()
    scanner.pos += 1
    operands: list[Operand] = []
    while True:
        scanner.skip_spaces()
        operands.append(_parse_scalar(scanner))
        scanner.skip_spaces()
        if scanner.peek() == ",":
            scanner.pos += 1
            continue
        if scanner.peek() == ")":
            scanner.pos += 1
            return tuple(operands)
        raise scanner.fail()


def _parse_scalar(scanner: _Scanner) -> Operand:
    quote = scanner.peek()
    if quote in ('"', "'"):
        # GUESS: single quotes work like double quotes, and a backslash escapes the next character.
        scanner.pos += 1
        chars: list[str] = []
        while not scanner.at_end():
            char = scanner.text[scanner.pos]
            scanner.pos += 1
            if char == "\\" and not scanner.at_end():
                chars.append(scanner.text[scanner.pos])
                scanner.pos += 1
                continue
            if char == quote:
                return Operand("".join(chars), quoted=True)
            chars.append(char)
        raise scanner.fail()
    bare = scanner.match(_BARE)
    if bare is None:
        raise scanner.fail()
    return Operand(bare.group(0), quoted=False)


# ---------------------------------------------------------------------------------------------- evaluation

_ANYONE = "anyone"


def _number(operand: Operand, condition: Condition) -> Decimal:
    try:
        value = Decimal(operand.text.strip())
    except InvalidOperation:
        raise invalid_where(condition.source) from None
    if not value.is_finite():
        raise invalid_where(condition.source)
    return value


def _operand_value(kind: Kind, operand: Operand, condition: Condition) -> Any:
    if operand.is_null:
        return None
    if kind in (Kind.INT, Kind.DEC):
        return _number(operand, condition)
    if kind is Kind.INT_LIST:
        if operand.text.lower() == _ANYONE:
            return _ANYONE
        return _number(operand, condition)
    if kind is Kind.BOOL:
        lowered = operand.text.lower()
        if lowered in ("true", "1"):
            return True
        if lowered in ("false", "0"):
            return False
        raise invalid_where(condition.source)
    if kind is Kind.DATE:
        try:
            return date.fromisoformat(operand.text.strip())
        except ValueError:
            raise invalid_where(condition.source) from None
    if kind is Kind.DATETIME:
        # Date-time fields compare as Unix timestamps (filtering docs); an ISO string is refused.
        # GUESS: the refusal (rather than a silent non-match) is ours.
        number = _number(operand, condition)
        if number != number.to_integral_value():
            raise invalid_where(condition.source)
        return int(number)
    if kind in (Kind.TEXT, Kind.TEXT_LIST):
        return operand.text
    raise invalid_where(condition.source)


def check_operands(condition: Condition, kind: Kind) -> None:
    """Refuse values that cannot compare with a field of `kind` (400), before any row is read."""
    for operand in condition.operands:
        _operand_value(kind, operand, condition)
    ordering = condition.operator not in ("=", "!=", *LIST_OPERATORS)
    is_list = kind in (Kind.INT_LIST, Kind.TEXT_LIST)
    if ordering and not is_list and any(operand.is_null for operand in condition.operands):
        # `null` compares only with `=` and `!=`.
        raise invalid_where(condition.source)


def _comparable(kind: Kind, value: Any) -> Any:
    if isinstance(value, datetime):
        return unix_seconds(value)
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, str):
        # GUESS: text compares without regard to case, as MySQL's default collation does.
        return value.casefold()
    return value


def _like_pattern(text: str) -> re.Pattern[str]:
    # GUESS: a pattern without `%` matches as a substring (the docs' `name like Sample` would otherwise
    # equal `=`); `%` and `_` are SQL wildcards; matching ignores case as MySQL's default collation does.
    if "%" not in text and "_" not in text:
        return re.compile(re.escape(text), re.IGNORECASE)
    parts = ["^"]
    for char in text:
        parts.append(".*" if char == "%" else "." if char == "_" else re.escape(char))
    parts.append("$")
    return re.compile("".join(parts), re.IGNORECASE | re.DOTALL)


def _wanted(condition: Condition, kind: Kind) -> tuple[tuple[Any, ...], frozenset[Any]]:
    """The condition's values for a field of `kind` (and, for `in`, the set to look them up in): worked
    out once per condition, not once per row (a 250-id `in` over thousands of rows). Kept on the condition
    itself: a cache keyed by the condition would hash and compare its 250 operands on every row."""
    found = condition.resolved.get(kind)
    if found is None:
        wanted = tuple(_operand_value(kind, operand, condition) for operand in condition.operands)
        found = (wanted, frozenset(_comparable(kind, item) for item in wanted if item is not None))
        condition.resolved[kind] = found
    return found


def matches(condition: Condition, kind: Kind, value: Any) -> bool:
    """Does a stored value of `kind` satisfy the condition? NULLs follow SQL: only `= null` finds them."""
    operator = condition.operator
    wanted, members = _wanted(condition, kind)
    if kind in (Kind.INT_LIST, Kind.TEXT_LIST):
        return _list_matches(condition, kind, list(value or []), wanted)
    if operator in LIST_OPERATORS:
        if value is None:
            return False
        found = _comparable(kind, value) in members
        return found if operator == "in" else not found
    target = wanted[0]
    if target is None:
        if operator == "=":
            return value is None
        if operator == "!=":
            return value is not None
        raise invalid_where(condition.source)
    if value is None:
        return False
    if operator in ("like", "not like"):
        found = bool(_like_pattern(str(target)).search(str(value)))
        return found if operator == "like" else not found
    return _compare(operator, _comparable(kind, value), _comparable(kind, target))


def _compare(operator: str, left: Any, right: Any) -> bool:
    comparisons: dict[str, Callable[[Any, Any], bool]] = {
        "=": lambda a, b: bool(a == b),
        "!=": lambda a, b: bool(a != b),
        ">": lambda a, b: bool(a > b),
        ">=": lambda a, b: bool(a >= b),
        "<": lambda a, b: bool(a < b),
        "<=": lambda a, b: bool(a <= b),
    }
    try:
        return comparisons[operator](left, right)
    except TypeError:
        return False


def _list_matches(condition: Condition, kind: Kind, items: list[Any], wanted: Sequence[Any]) -> bool:
    """List fields (project/task `users`, `managers`, expense `tags`) compare by membership;
    `anyone` stands for the empty list (`users=anyone`, `users<>anyone`, `users in ("anyone",12)`)."""
    operator = condition.operator
    present = {_comparable(kind, item) for item in items}

    def hit(target: Any) -> bool:
        if target == _ANYONE:
            return not items
        if target is None:
            return not items
        if operator in ("like", "not like"):
            pattern = _like_pattern(str(target))
            return any(pattern.search(str(item)) for item in items)
        return _comparable(kind, target) in present

    if operator in ("=", "like", "in"):
        return any(hit(target) for target in wanted)
    if operator in ("!=", "not like", "not in"):
        return not any(hit(target) for target in wanted)
    raise invalid_where(condition.source)
