"""Fingerprints of what we wrote to a QBO record, per field, so a later human edit there can be told apart.

After every write the executor keeps one digest per top-level field its payload set (``DueDate``,
``Line``, ``CustomerRef``, ...), taken from the record QBO returned. A planner about to overwrite
those fields compares the digests of the record as it is now: a field whose digest moved was changed
by someone else in QuickBooks since our write.

Only what QBO's own bookkeeping changes without anyone editing the record is normalised away, so
it never reads as an edit: a payment applied to an invoice (its ``LinkedTxn`` entry, ``LineEx`` open
balances on payment lines; ``Balance`` and ``SyncToken`` are never fields we send), a referenced
record being renamed (a ``…Ref``'s ``name``), ``MetaData`` timestamps and the geocoding QBO adds to
addresses (``Lat``/``Long``). Numbers compare by value (``150.00`` = ``150``), through
``keys.content_hash``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

from paymo_qb_mcp.domain.keys import content_hash

__all__ = ["edited_fields", "field_digests", "fingerprint", "normalised_wire_value"]

# Keys QBO maintains itself, at any depth of a record.
_SYSTEM_KEYS: Final = frozenset({"MetaData", "SyncToken", "LineEx", "Lat", "Long"})
# Transaction links QBO adds when a payment is applied to this record (an invoice, a bill).
_SYSTEM_LINK_TYPES: Final = frozenset({"Payment", "BillPayment"})


def normalised_wire_value(value: Any, key: str = "") -> Any:
    """A wire value without what QBO changes on its own (see the module docstring)."""
    if isinstance(value, Mapping):
        if key.endswith("Ref") and "value" in value:
            # A reference is the record it points at; its display name follows renames of that record.
            return {name: item for name, item in value.items() if name != "name"}
        return {
            name: normalised_wire_value(item, str(name))
            for name, item in value.items()
            if name not in _SYSTEM_KEYS
        }
    if isinstance(value, list | tuple):
        items = list(value)
        if key == "LinkedTxn":
            items = [
                item
                for item in items
                if not (isinstance(item, Mapping) and item.get("TxnType") in _SYSTEM_LINK_TYPES)
            ]
        return [normalised_wire_value(item, key) for item in items]
    return value


def field_digests(wire: Mapping[str, Any], fields: Iterable[str]) -> dict[str, str]:
    """One digest per named top-level field of a QBO wire record (an absent field digests as null)."""
    return {name: content_hash(normalised_wire_value(wire.get(name), name)) for name in sorted(set(fields))}


def fingerprint(digests: Mapping[str, str]) -> str | None:
    """One hash over all the field digests; None when nothing was recorded."""
    return content_hash(dict(digests)) if digests else None


def edited_fields(wire: Mapping[str, Any], recorded: Mapping[str, str]) -> tuple[str, ...]:
    """The recorded fields whose value in ``wire`` (the record as it is now) differs from when recorded."""
    now = field_digests(wire, recorded)
    return tuple(name for name in sorted(recorded) if now[name] != recorded[name])
