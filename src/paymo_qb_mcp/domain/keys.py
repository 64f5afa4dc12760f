"""Idempotency keys: canonical JSON, content hashes, QBO requestids, record markers and DocNumbers."""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Final, NamedTuple

import simplejson
from pydantic import BaseModel

from paymo_qb_mcp.errors import InputError

__all__ = [
    "BATCH_REQUEST_ID_MAX_LENGTH",
    "DOC_NUMBER_MAX_LENGTH",
    "REQUEST_ID_MAX_LENGTH",
    "DocNumber",
    "Marker",
    "add_marker",
    "canonical_json",
    "content_hash",
    "doc_number",
    "find_markers",
    "marker",
    "parse_marker",
    "request_id",
]

REQUEST_ID_MAX_LENGTH: Final = 50
BATCH_REQUEST_ID_MAX_LENGTH: Final = 36
DOC_NUMBER_MAX_LENGTH: Final = 21

# A fixed namespace makes request ids stable across processes, machines and releases.
_REQUEST_ID_NAMESPACE: Final = uuid.UUID("8f7b2c1e-5d0a-4f3b-9a61-2c7e4b9d0a53")
_MARKER_PREFIX: Final = "paymo"
_KIND_PATTERN: Final = re.compile(r"[a-z][a-z0-9_]{0,39}")
_MARKER_PATTERN: Final = re.compile(r"(?<![\w:])paymo:([a-z][a-z0-9_]{0,39}):(\d{1,19})(?![\w:])")


# --------------------------------------------------------------------------------------------
# Canonical JSON and content hashes
# --------------------------------------------------------------------------------------------


def _canonical_decimal(value: Decimal) -> str:
    if not value.is_finite():
        raise InputError(f"cannot hash the non-finite number {value}")
    if value == 0:
        return "0"  # also folds -0
    # Fixed-point, trailing zeros removed: 150, 150.0 and 1.5E+2 hash alike.
    return format(value.normalize(), "f")


def _prepare(value: object, path: str) -> object:
    """Rewrite ``value`` into plain JSON types, in its canonical form."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, enum.Enum):
        return _prepare(value.value, path)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        raise InputError(f"{path}: float {value!r} in hashed content; use Decimal (money is never a float)")
    if isinstance(value, Decimal):
        return simplejson.RawJSON(_canonical_decimal(value))
    if isinstance(value, dt.datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise InputError(f"{path}: naive datetime {value.isoformat()}; datetimes must be timezone-aware")
        # The same instant hashes the same whatever zone it was expressed in.
        return value.astimezone(dt.UTC).isoformat()
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, BaseModel):
        return _prepare(value.model_dump(mode="python"), path)
    if isinstance(value, Mapping):
        prepared: dict[str, object] = {}
        for key, item in value.items():
            if isinstance(key, enum.Enum):
                key = key.value
            if isinstance(key, bool) or not isinstance(key, (str, int)):
                raise InputError(f"{path}: mapping key {key!r} is neither a string nor an integer")
            text = str(key)
            if text in prepared:
                raise InputError(f"{path}: keys {key!r} and {text!r} collide in JSON")
            prepared[text] = _prepare(item, f"{path}.{text}")
        return prepared
    if isinstance(value, (list, tuple)):
        return [_prepare(item, f"{path}[{index}]") for index, item in enumerate(value)]
    if isinstance(value, (set, frozenset)):
        items = [_prepare(item, f"{path}{{}}") for item in value]
        return sorted(items, key=_dumps)
    raise InputError(f"{path}: cannot put {type(value).__name__} into canonical JSON")


def _dumps(prepared: object) -> str:
    return simplejson.dumps(
        prepared, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def canonical_json(obj: object) -> str:
    """One JSON text per value: sorted keys, no whitespace, Decimals fixed-point without trailing
    zeros (150.00 → 150), aware datetimes in UTC ISO 8601, dates ISO, sets sorted, pydantic models
    dumped. Floats and naive datetimes are refused so nothing ambiguous is ever hashed.
    """
    return _dumps(_prepare(obj, "$"))


def content_hash(obj: object) -> str:
    """SHA-256 (hex) of ``canonical_json(obj)`` in UTF-8."""
    return hashlib.sha256(canonical_json(obj).encode("utf-8")).hexdigest()


# --------------------------------------------------------------------------------------------
# requestid
# --------------------------------------------------------------------------------------------


def request_id(kind: str, paymo_id: int | str, content_hash: str, attempt_scope: str = "") -> str:
    """The QBO ``requestid`` for one logical write: a name-based UUID (36 characters).

    The same (kind, Paymo id, content hash, scope) always gives the same id, so every retry of a
    write, in this process or after a crash, is recognised by QBO and answered with the original
    response instead of being executed twice. A different content (or ``attempt_scope``, e.g. an
    approval id when a human approved a fresh attempt) gives a different id. 36 characters fit
    both QBO's limit of 50 and its batch limit of 36.
    """
    _check_kind(kind)
    if not str(paymo_id).strip():
        raise InputError("request_id needs the Paymo id of the record", field_name="paymo_id")
    if not content_hash:
        raise InputError("request_id needs the content hash of the write", field_name="content_hash")
    name = canonical_json([kind, str(paymo_id), content_hash, attempt_scope])
    return str(uuid.uuid5(_REQUEST_ID_NAMESPACE, name))


# --------------------------------------------------------------------------------------------
# Markers (in QBO PrivateNote / Notes)
# --------------------------------------------------------------------------------------------


class Marker(NamedTuple):
    """A parsed ``paymo:<kind>:<id>`` marker."""

    kind: str
    paymo_id: int

    def __str__(self) -> str:
        return marker(self.kind, self.paymo_id)


def _check_kind(kind: str) -> None:
    if not _KIND_PATTERN.fullmatch(kind):
        raise InputError(
            f"record kind {kind!r} must be lower-case letters, digits or '_' (e.g. 'invoice')",
            field_name="kind",
        )


def marker(kind: str, paymo_id: int | str) -> str:
    """The marker we write into a QBO record we created, e.g. ``paymo:invoice:123``."""
    _check_kind(kind)
    text = str(paymo_id).strip()
    if not text.isdigit() or not text.isascii():
        raise InputError(f"Paymo id {paymo_id!r} must be a non-negative integer", field_name="paymo_id")
    return f"{_MARKER_PREFIX}:{kind}:{int(text)}"


def find_markers(text: str | None) -> list[Marker]:
    """Every marker in a note, in order of appearance (duplicates removed)."""
    if not text:
        return []
    found: list[Marker] = []
    for match in _MARKER_PATTERN.finditer(text):
        found_marker = Marker(match.group(1), int(match.group(2)))
        if found_marker not in found:
            found.append(found_marker)
    return found


def parse_marker(text: str | None) -> Marker | None:
    """The first marker in a note (``PrivateNote``/``Notes`` may hold other text too), or None."""
    markers = find_markers(text)
    return markers[0] if markers else None


def add_marker(note: str | None, kind: str, paymo_id: int | str, *, max_length: int) -> str:
    """``note`` with the record's marker appended (once), keeping within the field's ``max_length``.

    The marker wins over the human text: when the note is too long, the text is cut (with "…").
    """
    tag = marker(kind, paymo_id)
    text = (note or "").rstrip()
    if Marker(kind, int(str(paymo_id))) in find_markers(text):
        if len(text) > max_length:
            raise InputError(f"note is longer than {max_length} characters", field_name="note")
        return text
    if not text:
        return tag
    separator = "\n"
    room = max_length - len(tag) - len(separator)
    if room <= 0:
        raise InputError(f"a {max_length}-character field cannot hold the marker {tag}")
    if len(text) > room:
        text = text[: room - 1].rstrip() + "…"
    return f"{text}{separator}{tag}"


# --------------------------------------------------------------------------------------------
# DocNumber
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DocNumber:
    """The QBO ``DocNumber`` for a Paymo invoice number, and what had to change to get it."""

    value: str
    original: str
    changes: tuple[str, ...] = ()

    @property
    def altered(self) -> bool:
        return bool(self.changes)

    def __str__(self) -> str:
        return self.value


_CONTROL_OR_SPACE: Final = re.compile(r"[\s\x00-\x1f\x7f]+")
_HEAD_LENGTH: Final = 8


def doc_number(paymo_number: str) -> DocNumber:
    """Paymo's invoice ``number`` as a QBO ``DocNumber`` (≤ 21 characters), reporting any change.

    Whitespace and control characters collapse to single spaces and are trimmed. A longer
    number keeps its first 8 and last 12 characters around a ``~`` (the head names the series,
    the tail carries the counter, so distinct numbers stay distinct in practice); the
    ``paymo:invoice:<id>`` marker in ``PrivateNote`` remains the authoritative link.
    """
    changes: list[str] = []
    cleaned = _CONTROL_OR_SPACE.sub(" ", paymo_number).strip()
    if cleaned != paymo_number:
        changes.append("whitespace/control characters normalised")
    if not cleaned:
        raise InputError("the Paymo invoice number is empty", field_name="number")
    if len(cleaned) > DOC_NUMBER_MAX_LENGTH:
        tail_length = DOC_NUMBER_MAX_LENGTH - _HEAD_LENGTH - 1
        cleaned = f"{cleaned[:_HEAD_LENGTH]}~{cleaned[-tail_length:]}"
        changes.append(
            f"shortened from {len(paymo_number)} to {DOC_NUMBER_MAX_LENGTH} characters (QBO limit)"
        )
    return DocNumber(cleaned, paymo_number, tuple(changes))
