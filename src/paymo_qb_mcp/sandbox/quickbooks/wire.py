"""QBO wire encoding for the emulator: Decimal-exact JSON, the XML representation, timestamps, rounding."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any
from xml.sax.saxutils import escape, quoteattr

import simplejson

NAMESPACE = "http://schema.intuit.com/finance/v3"
CENT = Decimal("0.01")

JSON_CONTENT_TYPE = "application/json;charset=UTF-8"
XML_CONTENT_TYPE = "application/xml;charset=UTF-8"


def loads(text: str) -> Any:
    """Parse JSON with every number that has a fraction or exponent as a Decimal (never a float)."""
    return simplejson.loads(text, use_decimal=True)


def dumps(document: Any) -> bytes:
    """Serialise with Decimals written as JSON numbers, exactly as stored."""
    return simplejson.dumps(document, use_decimal=True, ensure_ascii=False, separators=(",", ":")).encode(
        "utf-8"
    )


def round_money(amount: Decimal, places: int = 2) -> Decimal:
    """Half-up rounding to the currency's minor unit, the way QBO rounds amounts."""
    return amount.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def trim_decimal(amount: Decimal, places: int = 5) -> Decimal:
    """Round to QBO's 5 fractional digits and drop trailing zeros, never switching to exponent notation."""
    rounded = amount.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    if rounded == rounded.to_integral_value():
        return rounded.quantize(Decimal(1))
    return rounded.normalize()


def to_decimal(value: Any) -> Decimal | None:
    """A JSON number (or a numeric string, which QBO's deserialiser also accepts) as a Decimal."""
    if isinstance(value, bool):
        return None
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d+(\.\d+)?\s*", value):
        try:
            return Decimal(value.strip())
        except InvalidOperation:
            return None
    return None


def format_datetime(moment: datetime) -> str:
    """`MetaData` style: seconds precision with the offset, e.g. `2026-11-02T09:15:00-05:00`."""
    return moment.replace(microsecond=0).isoformat()


def format_envelope_time(moment: datetime) -> str:
    """The envelope `time`: milliseconds and offset, e.g. `2026-11-02T09:15:00.287-05:00`."""
    return moment.isoformat(timespec="milliseconds")


def parse_date(text: str) -> date | None:
    try:
        return date.fromisoformat(text) if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text) else None
    except ValueError:
        return None


def parse_datetime(text: str) -> datetime | None:
    """An ISO date-time, with or without offset (naive results are interpreted by the caller)."""
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?", text):
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


# JSON keys that are XML attributes in Intuit's schema; `value` is an element's text content.
_XML_ATTRIBUTES = frozenset(
    {"domain", "sparse", "status", "name", "type", "code", "element", "bId"}
    | {"startPosition", "maxResults", "totalCount", "time", "requestId"}
)


def _xml_scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _xml_element(tag: str, value: Any) -> str:
    if isinstance(value, list):
        return "".join(_xml_element(tag, item) for item in value)
    if not isinstance(value, Mapping):
        return f"<{tag}>{escape(_xml_scalar(value))}</{tag}>"
    if tag.endswith("Ex") and "any" in value:
        # JAXB extension blobs ({"any": [{"name": "{ns}NameValue", "value": {...}}]}) in their XML form.
        inner = "".join(
            _xml_element(str(item.get("name", "")).rsplit("}", 1)[-1], item.get("value", {}))
            for item in value["any"]
            if isinstance(item, Mapping)
        )
        return f"<{tag}>{inner}</{tag}>"
    attributes = "".join(
        f" {key}={quoteattr(_xml_scalar(item))}"
        for key, item in value.items()
        if key in _XML_ATTRIBUTES and not isinstance(item, Mapping | list)
    )
    text = escape(_xml_scalar(value["value"])) if "value" in value else ""
    children = "".join(
        _xml_element(key, item)
        for key, item in value.items()
        if key not in _XML_ATTRIBUTES and key != "value"
    )
    return f"<{tag}{attributes}>{text}{children}</{tag}>"


def to_xml(document: Mapping[str, Any]) -> bytes:
    """Render a JSON envelope in QBO's XML representation (`IntuitResponse`), used when `Accept` is not JSON.

    # GUESS: child elements follow the JSON key order, not the XSD sequence; XML clients that validate
    # element order strictly would notice. Our own client always asks for JSON.
    """
    time_attribute = f" time={quoteattr(str(document['time']))}" if "time" in document else ""
    body = "".join(_xml_element(key, value) for key, value in document.items() if key != "time")
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<IntuitResponse xmlns="{NAMESPACE}"{time_attribute}>{body}</IntuitResponse>'
    ).encode()
