"""Request validation against the field specifications: keys, types, lengths, enums, e-mails, references."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from paymo_qb_mcp.sandbox.quickbooks import fault as faults
from paymo_qb_mcp.sandbox.quickbooks.fields import Field, Kind
from paymo_qb_mcp.sandbox.quickbooks.wire import parse_date, parse_datetime, to_decimal

# GUESS: QBO's exact RFC 822 check is not published; the reference only says "must contain @ and .".
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_FORBIDDEN_IN_NAMES = (":", "\t", "\n")

Resolver = Callable[[str, str], "Mapping[str, Any] | None"]


def clean(entity: str, payload: Any, fields: Mapping[str, Field]) -> dict[str, Any]:
    """A normalised copy of `payload`: unknown keys rejected, read-only keys and nulls dropped.

    Numbers become Decimals (QBO's deserialiser also takes numeric strings), Ids and SyncTokens
    strings (a numeric SyncToken is tolerated, checklist item 6).
    """
    if not isinstance(payload, Mapping):
        raise faults.invalid_value(entity, payload, f"com.intuit.schema.finance.v3.{entity}")
    return _clean_object(entity, payload, fields, "")


def _clean_object(
    entity: str, payload: Mapping[str, Any], fields: Mapping[str, Field], path: str
) -> dict[str, Any]:
    cleaned: dict[str, Any] = {}
    for key, value in payload.items():
        element = f"{path}.{key}" if path else key
        field = fields.get(key)
        if field is None:
            raise faults.unknown_property(key, entity)
        if value is None or field.read_only:
            continue
        if field.repeated:
            if not isinstance(value, list):
                raise faults.invalid_value(element, value, "java.util.ArrayList")
            cleaned[key] = [_clean_value(entity, item, field, element) for item in value if item is not None]
        else:
            cleaned[key] = _clean_value(entity, value, field, element)
    return cleaned


def _clean_value(entity: str, value: Any, field: Field, element: str) -> Any:
    kind = field.kind
    if kind is Kind.ANY:
        return value
    if kind is Kind.OBJECT:
        if not isinstance(value, Mapping):
            raise faults.invalid_value(element, value, "an object")
        assert field.children is not None
        return _clean_object(entity, value, field.children, element)
    if kind is Kind.REF:
        return _clean_ref(entity, value, element)
    if kind is Kind.MEMO:
        if not isinstance(value, Mapping):
            raise faults.invalid_value(element, value, "com.intuit.schema.finance.v3.MemoRef")
        extra = set(value) - {"value", "id"}
        if extra:
            raise faults.unknown_property(sorted(extra)[0], entity)
        text = value.get("value")
        if text is None:
            return {}
        text = _string(element, text)
        _check_length(element, text, field.max_length)
        return {"value": text}
    if kind is Kind.DECIMAL:
        number = to_decimal(value)
        if number is None:
            raise faults.invalid_value(element, value, "java.math.BigDecimal")
        return number
    if kind is Kind.INTEGER:
        number = to_decimal(value)
        if number is None or number != number.to_integral_value():
            raise faults.invalid_value(element, value, "java.lang.Integer")
        return int(number)
    if kind is Kind.BOOLEAN:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in {"true", "false"}:
            return value.lower() == "true"
        raise faults.invalid_value(element, value, "java.lang.Boolean")
    if kind is Kind.DATE:
        if not isinstance(value, str) or parse_date(value) is None:
            raise faults.invalid_value(element, value, "java.util.Date")
        return value
    if kind is Kind.DATETIME:
        if not isinstance(value, str) or parse_datetime(value) is None:
            raise faults.invalid_value(element, value, "java.util.Date")
        return value
    text = _string(element, value)
    if kind is Kind.EMAIL:
        _check_length(element, text, field.max_length)
        if not _EMAIL.fullmatch(text.strip()):
            raise faults.invalid_email(element, text)
        return text.strip()
    if field.choices is not None and text not in field.choices:
        raise faults.invalid_enum(element, text)
    _check_length(element, text, field.max_length)
    if field.plain_name and any(character in text for character in _FORBIDDEN_IN_NAMES):
        # GUESS: the exact code is not documented; a business validation fault naming the field.
        raise faults.business_validation(
            f"{element} cannot contain a colon (:), a tab or a new line. Supplied value:{text}", element
        )
    return text


def _string(element: str, value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int | Decimal) and not isinstance(value, bool):
        return str(value)
    raise faults.invalid_value(element, value, "java.lang.String")


def _check_length(element: str, text: str, limit: int | None) -> None:
    if limit is not None and len(text) > limit:
        raise faults.too_long(element, limit, len(text))


def _clean_ref(entity: str, value: Any, element: str) -> dict[str, str]:
    if isinstance(value, str | int) and not isinstance(value, bool):
        # Jackson builds a ReferenceType from a bare scalar as its value.
        return {"value": str(value)}
    if not isinstance(value, Mapping):
        raise faults.invalid_value(element, value, "com.intuit.schema.finance.v3.ReferenceType")
    extra = set(value) - {"value", "name", "type"}
    if extra:
        raise faults.unknown_property(sorted(extra)[0], entity)
    cleaned = {key: _string(element, item) for key, item in value.items() if item is not None}
    if not cleaned.get("value"):
        raise faults.required(f"{element}.value")
    return cleaned


def check_references(
    payload: Mapping[str, Any], fields: Mapping[str, Field], resolve: Resolver, path: str = ""
) -> None:
    """2500 for a reference to an unknown Id, 610 for one to an inactive record (checklist item 15)."""
    for key, value in payload.items():
        field = fields.get(key)
        if field is None:
            continue
        element = f"{path}.{key}" if path else key
        items = value if field.repeated and isinstance(value, list) else [value]
        for item in items:
            if field.kind is Kind.REF and field.target is not None and isinstance(item, Mapping):
                ensure_active(resolve, field.target, str(item["value"]), element)
            elif field.kind is Kind.OBJECT and field.children is not None and isinstance(item, Mapping):
                check_references(item, field.children, resolve, element)


def ensure_active(resolve: Resolver, target: str, ident: str, element: str) -> Mapping[str, Any]:
    record = resolve(target, ident)
    if record is None:
        raise faults.invalid_reference(target, ident, element)
    if record.get("Active") is False:
        raise faults.inactive_reference(element)
    return record
