"""The QBO query language (reference §4): lexer, parser and evaluator over the emulated tables.

SELECT * | COUNT(*) | field[, field] FROM Entity [WHERE p op v [AND ...]]
[ORDERBY|ORDER BY p [ASC|DESC][, ...]] [STARTPOSITION n] [MAXRESULTS n]
Keywords, entity and property names are case-insensitive; strings use single quotes with `\\'` escapes.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from paymo_qb_mcp.sandbox.quickbooks import fault as faults
from paymo_qb_mcp.sandbox.quickbooks.fields import ACTIVE_FILTERED, ENTITY_FIELDS, FILTERABLE, Field, Kind
from paymo_qb_mcp.sandbox.quickbooks.state import QboState
from paymo_qb_mcp.sandbox.quickbooks.wire import parse_date, parse_datetime

DEFAULT_MAX_RESULTS = 100
MAX_RESULTS_CAP = 1000
_KEYWORDS = frozenset(
    {"select", "from", "where", "and", "or", "in", "like", "orderby", "order", "by", "asc", "desc"}
    | {"startposition", "maxresults", "count", "iterator"}
)
_EXPECTED_AFTER_ENTITY = (
    '<EOF> <AND> "iterator" ... "maxresults" ... <OR> ... "order" ... "orderby" ... "startposition" ...'
)
_SCALAR_KINDS = frozenset(
    {Kind.STRING, Kind.EMAIL, Kind.DECIMAL, Kind.INTEGER, Kind.BOOLEAN, Kind.DATE, Kind.DATETIME}
)
_META_FIELDS = {
    "metadata.createtime": "MetaData.CreateTime",
    "metadata.lastupdatedtime": "MetaData.LastUpdatedTime",
}


@dataclass(frozen=True)
class Token:
    kind: str  # "word", "string", "number", "symbol", "eof"
    text: str
    column: int
    value: Any = None

    @property
    def lower(self) -> str:
        return self.text.lower()


@dataclass(frozen=True)
class Condition:
    field: str
    operator: str
    values: tuple[Any, ...]


@dataclass
class Query:
    entity: str
    count: bool = False
    fields: list[str] | None = None
    conditions: list[Condition] = field(default_factory=list)
    order: list[tuple[str, bool]] = field(default_factory=list)
    start_position: int = 1
    max_results: int = DEFAULT_MAX_RESULTS


_TOKEN = re.compile(
    r"(?P<space>\s+)|(?P<string>'(?:\\.|[^'\\])*')|(?P<number>-?\d+(?:\.\d+)?)"
    r"|(?P<word>[A-Za-z_][A-Za-z0-9_.]*)|(?P<symbol><=|>=|!=|<>|[=<>(),*])"
)


# Typographic quotes break QBO's lexer even inside a string literal (reference §4 and §12.2).
_TYPOGRAPHIC_QUOTES = re.compile("[\u2018\u2019\u201a\u201b\u201c\u201d\u201e\u201f\u2032\u2033]")


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        typographic = _TYPOGRAPHIC_QUOTES.search(text, position, match.end()) if match else None
        if match is None or typographic is not None:
            position = typographic.start() if typographic is not None else position
            character = text[position]
            raise faults.query_parse_error(
                f"Invalid content. Lexical error at line 1, column {position + 1}.  Encountered: "
                f'"{character}" ({ord(character)}), after : ""'
            )
        kind = match.lastgroup
        raw = match.group()
        if kind == "string":
            tokens.append(Token("string", raw, position + 1, re.sub(r"\\(.)", r"\1", raw[1:-1])))
        elif kind == "number":
            tokens.append(Token("number", raw, position + 1, Decimal(raw)))
        elif kind in {"word", "symbol"}:
            tokens.append(Token(str(kind), raw, position + 1))
        position = match.end()
    tokens.append(Token("eof", "<EOF>", len(text) + 1))
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text)
        self.index = 0

    @property
    def current(self) -> Token:
        return self.tokens[self.index]

    def advance(self) -> Token:
        token = self.current
        self.index += 1
        return token

    def error(self, expecting: str) -> faults.QboFault:
        token = self.current
        label = "<EOF>" if token.kind == "eof" else f'<{token.kind.upper()}> "{token.text} "'
        return faults.query_parse_error(
            f'Encountered " {label}" at line 1, column {token.column}. Was expecting one of: {expecting}'
        )

    def keyword(self, *words: str) -> bool:
        return self.current.kind == "word" and self.current.lower in words

    def expect_keyword(self, word: str) -> None:
        if not self.keyword(word):
            raise self.error(f'"{word}" ...')
        self.advance()

    def expect_symbol(self, symbol: str) -> None:
        if not (self.current.kind == "symbol" and self.current.text == symbol):
            raise self.error(f'"{symbol}" ...')
        self.advance()

    def identifier(self) -> str:
        if self.current.kind != "word" or self.current.lower in _KEYWORDS - {"count"}:
            raise self.error("<IDENTIFIER> ...")
        return self.advance().text

    def parse(self) -> Query:
        self.expect_keyword("select")
        count = False
        selected: list[str] | None = None
        if self.current.kind == "symbol" and self.current.text == "*":
            self.advance()
        elif self.keyword("count"):
            self.advance()
            self.expect_symbol("(")
            self.expect_symbol("*")
            self.expect_symbol(")")
            count = True
        else:
            selected = [self.identifier()]
            while self.current.kind == "symbol" and self.current.text == ",":
                self.advance()
                selected.append(self.identifier())
        self.expect_keyword("from")
        query = Query(entity=self.identifier(), count=count, fields=selected)
        if self.keyword("where"):
            self.advance()
            query.conditions.append(self.condition())
            while self.keyword("and"):
                self.advance()
                query.conditions.append(self.condition())
            if self.keyword("or"):
                # The parser knows OR but QBO does not support it (reference §4).
                raise self.error('<EOF> <AND> "iterator" ... "maxresults" ... "order" ... "orderby" ...')
        if self.keyword("orderby", "order"):
            if self.advance().lower == "order":
                self.expect_keyword("by")
            query.order.append(self.order_item())
            while self.current.kind == "symbol" and self.current.text == ",":
                self.advance()
                query.order.append(self.order_item())
        while self.keyword("startposition", "maxresults"):
            word = self.advance().lower
            number = self.current
            if number.kind != "number" or number.value != number.value.to_integral_value():
                raise self.error("<INTEGER> ...")
            self.advance()
            if word == "startposition":
                query.start_position = max(int(number.value), 1)
            else:
                query.max_results = min(max(int(number.value), 0), MAX_RESULTS_CAP)
        if self.current.kind != "eof":
            raise self.error(_EXPECTED_AFTER_ENTITY)
        return query

    def condition(self) -> Condition:
        name = self.identifier()
        if self.keyword("in"):
            self.advance()
            self.expect_symbol("(")
            values = [self.value()]
            while self.current.kind == "symbol" and self.current.text == ",":
                self.advance()
                values.append(self.value())
            self.expect_symbol(")")
            return Condition(name, "in", tuple(values))
        if self.keyword("like"):
            self.advance()
            if self.current.kind != "string":
                raise self.error("<STRING> ...")
            return Condition(name, "like", (self.advance().value,))
        token = self.current
        if token.kind != "symbol" or token.text not in {"=", "<", ">", "<=", ">="}:
            raise self.error('"=" ... "<" ... ">" ... "<=" ... ">=" ... "in" ... "like" ...')
        self.advance()
        return Condition(name, token.text, (self.value(),))

    def value(self) -> Any:
        token = self.current
        if token.kind in {"string", "number"}:
            self.advance()
            return token.value
        if token.kind == "word" and token.lower in {"true", "false"}:
            self.advance()
            return token.lower == "true"
        raise self.error("<STRING> ... <NUMBER> ... <BOOLEAN> ...")

    def order_item(self) -> tuple[str, bool]:
        name = self.identifier()
        descending = False
        if self.keyword("asc", "desc"):
            descending = self.advance().lower == "desc"
        return name, descending


def parse(text: str) -> Query:
    return _Parser(text).parse()


@dataclass(frozen=True)
class _Property:
    name: str
    field: Field | None  # None for MetaData.* and Id


def _entity(name: str) -> str:
    for entity in ENTITY_FIELDS:
        if entity.lower() == name.lower():
            return entity
    raise faults.query_validation_error(f"Entity {name} is not supported")


def _property(entity: str, raw: str, *, filtering: bool) -> _Property:
    fields = ENTITY_FIELDS[entity]
    name = _META_FIELDS.get(raw.lower()) or next((key for key in fields if key.lower() == raw.lower()), None)
    if name is None or name in {"domain", "sparse", "status"}:
        raise faults.query_validation_error(f"Property {raw} not found for Entity {entity}")
    if filtering and name not in FILTERABLE.get(entity, frozenset()):
        raise faults.query_validation_error(f"property '{name}' is not queryable")
    return _Property(name, None if name.startswith("MetaData.") else fields[name])


def _raw_value(record: Mapping[str, Any], prop: _Property) -> Any:
    if prop.name.startswith("MetaData."):
        return record.get("MetaData", {}).get(prop.name.split(".", 1)[1])
    value = record.get(prop.name)
    if isinstance(value, Mapping):
        # References filter by value (CustomerRef = '1'); e-mail objects by address.
        return value.get("value", value.get("Address"))
    return value


def _comparable(value: Any, prop: _Property, state: QboState) -> Any:
    """Bring a stored value or a literal to one comparable type for this property."""
    if value is None:
        return None
    kind = prop.field.kind if prop.field is not None else Kind.DATETIME
    if prop.name == "Id" or kind is Kind.REF:
        text = str(value)
        return (
            (0, Decimal(text), text)
            if re.fullmatch(r"-?\d+(\.\d+)?", text)
            else (1, Decimal(0), text.casefold())
        )
    if kind in {Kind.DECIMAL, Kind.INTEGER}:
        try:
            return Decimal(str(value))
        except ArithmeticError as error:
            raise faults.query_validation_error(
                f"Invalid value {value!r} for property '{prop.name}'"
            ) from error
    if kind is Kind.BOOLEAN:
        if isinstance(value, bool):
            return value
        return str(value).lower() == "true"
    if kind is Kind.DATE:
        parsed_date = parse_date(str(value)[:10])
        if parsed_date is None:
            raise faults.query_validation_error(f"Invalid date {value!r} for property '{prop.name}'")
        return parsed_date
    if kind is Kind.DATETIME:
        text = str(value)
        moment: datetime | None
        day = parse_date(text)
        moment = datetime(day.year, day.month, day.day) if day else parse_datetime(text)
        if moment is None:
            raise faults.query_validation_error(f"Invalid date-time {value!r} for property '{prop.name}'")
        return moment if moment.tzinfo is not None else moment.replace(tzinfo=state.zone)
    # GUESS: string comparisons ignore case, as QBO's name lookups appear to.
    return str(value).casefold()


def _like(pattern: str) -> re.Pattern[str]:
    return re.compile(
        "".join(".*" if char == "%" else re.escape(char) for char in pattern), re.IGNORECASE | re.DOTALL
    )


def _matcher(condition: Condition, prop: _Property, state: QboState) -> Callable[[Mapping[str, Any]], bool]:
    if condition.operator == "like":
        regex = _like(str(condition.values[0]))
        return lambda record: (
            (value := _raw_value(record, prop)) is not None and bool(regex.fullmatch(str(value)))
        )
    targets = [_comparable(value, prop, state) for value in condition.values]
    operator = condition.operator

    def matches(record: Mapping[str, Any]) -> bool:
        value = _comparable(_raw_value(record, prop), prop, state)
        if value is None:
            return False
        try:
            if operator in {"=", "in"}:
                return value in targets
            target = targets[0]
            return bool(
                (operator == "<" and value < target)
                or (operator == ">" and value > target)
                or (operator == "<=" and value <= target)
                or (operator == ">=" and value >= target)
            )
        except TypeError:
            return False

    return matches


def _sort_key(prop: _Property, state: QboState) -> Callable[[Mapping[str, Any]], tuple[int, Any]]:
    def key(record: Mapping[str, Any]) -> tuple[int, Any]:
        value = _comparable(_raw_value(record, prop), prop, state)
        return (1, "") if value is None else (0, value)

    return key


def execute(state: QboState, text: str, *, active_only_by_default: bool) -> dict[str, Any]:
    """Run a statement; returns the `QueryResponse` object (empty `{}` when nothing matches)."""
    query = parse(text)
    entity = _entity(query.entity)
    predicates = []
    mentions_active = False
    for condition in query.conditions:
        prop = _property(entity, condition.field, filtering=True)
        if (
            condition.operator == "like"
            and prop.field is not None
            and prop.field.kind not in {Kind.STRING, Kind.EMAIL, Kind.OBJECT}
        ):
            raise faults.query_validation_error(
                f"LIKE is only supported on string properties, not '{prop.name}'"
            )
        mentions_active = mentions_active or prop.name == "Active"
        predicates.append(_matcher(condition, prop, state))
    rows = list(state.rows(entity))
    if active_only_by_default and entity in ACTIVE_FILTERED and not mentions_active:
        rows = [row for row in rows if row.get("Active", True) is not False]
    rows = [row for row in rows if all(predicate(row) for predicate in predicates)]
    if query.count:
        return {"totalCount": len(rows)}
    id_prop = _Property("Id", ENTITY_FIELDS[entity]["Id"])
    rows.sort(key=_sort_key(id_prop, state))
    for name, descending in reversed(query.order):
        prop = _property(entity, name, filtering=True)
        rows.sort(key=_sort_key(prop, state), reverse=descending)
    page = rows[query.start_position - 1 : query.start_position - 1 + query.max_results]
    if not page:
        return {}
    if query.fields is None:
        result = [state.snapshot(entity, row["Id"]) for row in page]
    else:
        props = [_property(entity, name, filtering=False) for name in query.fields]
        for prop in props:
            if prop.field is not None and prop.field.kind not in _SCALAR_KINDS:
                raise faults.query_validation_error(f"Property {prop.name} not found for Entity {entity}")
        result = [
            {
                **{prop.name: row[prop.name] for prop in props if prop.name in row},
                "domain": "QBO",
                "sparse": True,
            }
            for row in page
        ]
    return {entity: result, "startPosition": query.start_position, "maxResults": len(result)}
