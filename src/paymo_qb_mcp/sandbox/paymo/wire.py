"""Paymo wire formats for the emulator: JSON with Decimal money, UTC timestamps, value coercion, errors."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl

import simplejson

from paymo_qb_mcp.sandbox.paymo.schema import Kind


class ApiError(Exception):
    """An error answer in Paymo's shape: an HTTP status and a body `{"message": ...}`."""

    def __init__(self, status: int, message: str | None = None, headers: Mapping[str, str] | None = None):
        self.status = status
        self.message = message if message is not None else HTTPStatus(status).phrase
        self.headers = dict(headers or {})
        super().__init__(f"{status} {self.message}")


def missing_params(names: list[str]) -> ApiError:
    # Message observed live (expense create without client_id); several names are joined the way the
    # message's plural suggests. GUESS: comma-separated, in the order the fields are documented.
    return ApiError(400, f"Missing required params: {', '.join(names)}")


def unknown_reference(name: str) -> ApiError:
    return ApiError(400, f"Unknown field or reference: `{name}`")


def invalid_value(name: str) -> ApiError:
    # GUESS: Paymo's message for a value of the wrong type is undocumented.
    return ApiError(400, f"Invalid value for field: `{name}`")


def loads(raw: bytes) -> Any:
    """Parse JSON with every non-integer number as Decimal (money never passes through float)."""
    return simplejson.loads(raw, use_decimal=True)


def dumps(value: Any) -> bytes:
    return simplejson.dumps(value, use_decimal=True, ensure_ascii=False, separators=(",", ":")).encode()


def money_out(amount: Decimal) -> Decimal:
    """Decimal as Paymo prints money: `1911.6`, `375`, never an exponent."""
    if amount == amount.to_integral_value():
        return amount.quantize(Decimal(1))
    text = format(amount.normalize(), "f")
    return Decimal(text)


def format_datetime(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def format_date(day: date) -> str:
    return day.isoformat()


def parse_datetime(text: str) -> datetime:
    """Accepts `Z`, an offset, or no zone at all (read as UTC, as one live client sends)."""
    candidate = text.strip()
    if candidate.endswith(("Z", "z")):
        candidate = candidate[:-1] + "+00:00"
    parsed = datetime.fromisoformat(candidate)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).replace(microsecond=0)


def unix_seconds(moment: datetime) -> int:
    return int(moment.timestamp())


def start_of_utc_day(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def plus_seconds(moment: datetime, seconds: int) -> datetime:
    return moment + timedelta(seconds=seconds)


_INTEGER = re.compile(r"[+-]?\d+")


def _to_decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | Decimal):
        return Decimal(value)
    if isinstance(value, str):
        try:
            parsed = Decimal(value.strip())
        except InvalidOperation:
            return None
        return parsed if parsed.is_finite() else None
    return None


def coerce(name: str, kind: Kind, value: Any) -> Any:
    """Turn one request value into the stored Python value for a field of `kind`, or raise 400."""
    if value is None:
        return None
    if kind is Kind.INT:
        if isinstance(value, str) and value.strip() == "":
            return None
        number = _to_decimal(value)
        if number is None or number != number.to_integral_value():
            raise invalid_value(name)
        return int(number)
    if kind is Kind.DEC:
        if isinstance(value, str) and value.strip() == "":
            return None
        number = _to_decimal(value)
        if number is None:
            raise invalid_value(name)
        return number
    if kind is Kind.BOOL:
        return _to_bool(name, value)
    if kind is Kind.TEXT:
        if isinstance(value, str):
            return value
        if isinstance(value, int | Decimal) and not isinstance(value, bool):
            return str(value)
        raise invalid_value(name)
    if kind is Kind.DATE:
        if isinstance(value, str):
            if value.strip() == "":
                return None
            try:
                return date.fromisoformat(value.strip()[:10])
            except ValueError:
                raise invalid_value(name) from None
        raise invalid_value(name)
    if kind is Kind.DATETIME:
        if isinstance(value, str):
            if value.strip() == "":
                return None
            try:
                return parse_datetime(value)
            except ValueError:
                raise invalid_value(name) from None
        raise invalid_value(name)
    if kind is Kind.INT_LIST:
        if not isinstance(value, list):
            raise invalid_value(name)
        return [coerce(name, Kind.INT, item) for item in value if item is not None]
    if kind is Kind.TEXT_LIST:
        if not isinstance(value, list):
            raise invalid_value(name)
        return [coerce(name, Kind.TEXT, item) for item in value if item is not None]
    if kind is Kind.OBJECT:
        if not isinstance(value, dict):
            raise invalid_value(name)
        return value
    raise AssertionError(kind)  # pragma: no cover


def _to_bool(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | Decimal) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in {"true", "1", "false", "0", ""}:
        return value.strip().lower() in {"true", "1"}
    raise invalid_value(name)


def render_value(kind: Kind, value: Any) -> Any:
    """Stored Python value → JSON-ready value in Paymo's wire format."""
    if value is None:
        return None
    if kind is Kind.DEC:
        return money_out(value)
    if kind is Kind.DATE:
        return format_date(value)
    if kind is Kind.DATETIME:
        return format_datetime(value)
    if kind in (Kind.INT_LIST, Kind.TEXT_LIST):
        return list(value)
    if kind is Kind.OBJECT:
        return dict(value)
    return value


def decode_body(raw: bytes, content_type: str) -> dict[str, Any]:
    """Decode a request body by its declared Content-Type into a dict of fields."""
    media_type = content_type.split(";", 1)[0].strip().lower()
    if not raw.strip():
        return {}
    if media_type == "application/x-www-form-urlencoded":
        try:
            text = raw.decode()
        except UnicodeDecodeError:
            raise ApiError(400, "Decoding failed: Syntax error") from None
        return _nest_form_fields(parse_qsl(text, keep_blank_values=True))
    if media_type in ("application/json", "") or media_type.endswith("+json"):
        try:
            decoded = loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise ApiError(400, "Decoding failed: Syntax error") from None
        if not isinstance(decoded, dict):
            # GUESS: an array body (someone trying a bulk create) is refused like an undecodable one.
            raise ApiError(400, "Decoding failed: Syntax error")
        return decoded
    # GUESS: text/xml and multipart are documented but nothing we emulate needs them.
    raise ApiError(400, f"Unsupported content type: {media_type}")


_BRACKETS = re.compile(r"\[([^\]]*)\]")


def _nest_form_fields(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """PHP-style form keys (`items[0][item]=x`, `tags[]=a`) → nested dicts and lists."""
    root: dict[str, Any] = {}
    for key, value in pairs:
        head, _, rest = key.partition("[")
        path = [head, *_BRACKETS.findall("[" + rest)] if rest else [head]
        node: Any = root
        for index, part in enumerate(path):
            last = index == len(path) - 1
            if isinstance(node, list):
                if last:
                    node.append(value)
                    break
                node.append({})
                node = node[-1]
                continue
            if last:
                node[part] = value
                break
            following = path[index + 1]
            default: Any = [] if following == "" else {}
            node = node.setdefault(part, default)
    return {key: _lists_from_index_dicts(value) for key, value in root.items()}


def _lists_from_index_dicts(value: Any) -> Any:
    if isinstance(value, dict):
        converted = {key: _lists_from_index_dicts(item) for key, item in value.items()}
        if converted and all(_INTEGER.fullmatch(key) for key in converted):
            return [converted[key] for key in sorted(converted, key=int)]
        return converted
    if isinstance(value, list):
        return [_lists_from_index_dicts(item) for item in value]
    return value
