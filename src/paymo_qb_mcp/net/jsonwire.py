"""The JSON wire codec of both API clients: floats parse as Decimal, Decimals write as exact JSON numbers."""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from collections.abc import Set
from decimal import Decimal
from typing import Any

import simplejson
from pydantic import BaseModel, SecretBytes, SecretStr

from paymo_qb_mcp.errors import DataError

__all__ = ["dumps", "loads"]


def _reject_constant(name: str) -> Decimal:
    # NaN and Infinity are not JSON; a service sending them is sending something we cannot reconcile.
    raise DataError(f"JSON contains the non-standard constant {name}; expected a finite number")


def loads(data: bytes | str) -> Any:
    """Parse JSON text; every number with a fraction or exponent becomes a ``Decimal``, never a float."""
    try:
        return simplejson.loads(data, use_decimal=True, parse_constant=_reject_constant)
    except simplejson.JSONDecodeError as exc:
        # The document itself is not echoed: a service error page may be large or carry tokens.
        raise DataError(f"expected JSON but could not parse it: {exc.msg} at line {exc.lineno}") from exc
    except UnicodeDecodeError as exc:
        raise DataError(f"expected UTF-8 JSON but could not decode it: {exc.reason}") from exc


def _format_datetime(value: dt.datetime) -> str:
    if value.tzinfo is None or value.utcoffset() is None:
        raise DataError(f"refusing to send the naive datetime {value.isoformat()}; attach a time zone")
    if value.utcoffset() == dt.timedelta(0):
        # Paymo documents UTC as a trailing Z; QBO accepts it too.
        return value.astimezone(dt.UTC).replace(tzinfo=None).isoformat() + "Z"
    return value.isoformat()


def _to_json_compatible(obj: Any) -> Any:
    # Called by simplejson for anything it cannot encode natively; the result is encoded recursively,
    # so nested dates and models inside a model dump come back here too.
    if isinstance(obj, BaseModel):
        # Python mode keeps Decimals as Decimals (pydantic's JSON mode would turn them into strings);
        # everything else that JSON mode would convert is converted below.
        return obj.model_dump(mode="python", by_alias=True)
    if isinstance(obj, dt.datetime):
        return _format_datetime(obj)
    if isinstance(obj, dt.date):
        return obj.isoformat()
    if isinstance(obj, dt.time):
        return obj.isoformat()
    if isinstance(obj, enum.Enum):
        return obj.value
    if isinstance(obj, uuid.UUID):
        return str(obj)
    if isinstance(obj, SecretStr | SecretBytes):
        # Sending a secret in a body is always a deliberate get_secret_value() by the caller.
        return str(obj)
    if isinstance(obj, Set):
        return sorted(obj, key=repr)
    raise TypeError(f"cannot write {type(obj).__name__} as JSON")


def dumps(obj: Any) -> bytes:
    """Serialize to compact UTF-8 JSON; ``Decimal`` is written digit for digit as a JSON number."""
    text: str = simplejson.dumps(
        obj,
        use_decimal=True,
        allow_nan=False,
        ensure_ascii=False,
        separators=(",", ":"),
        default=_to_json_compatible,
        tuple_as_array=True,
    )
    return text.encode("utf-8")
