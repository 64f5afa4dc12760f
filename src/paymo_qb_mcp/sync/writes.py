"""What applying a plan produces, and the small rules every write path shares (single writes and batches).

``AppliedChange`` says what one change did (created, updated, …, failed, skipped); ``ApplyOutcome``
collects them for a plan. The helpers name the QBO model of a change, resolve ``@link:`` placeholders,
compare read-back values with what a change expects, and tell a record carrying our marker.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final, Protocol

from paymo_qb_mcp.domain.keys import canonical_json
from paymo_qb_mcp.domain.plan import Change, Finding
from paymo_qb_mcp.errors import (
    Conflict,
    DataError,
    InputError,
    NotFound,
    PaymoQbError,
    ReconciliationError,
    Rejected,
)
from paymo_qb_mcp.quickbooks import models as qbo_models

__all__ = [
    "ISOLATED_ERRORS",
    "LINK_PLACEHOLDER_PREFIX",
    "AppliedChange",
    "ApplyOutcome",
    "Progress",
    "WriteObserver",
    "as_date",
    "failed",
    "has_note",
    "holds_marker",
    "link_placeholder",
    "qbo_model",
    "readback_findings",
    "same_value",
    "skipped",
    "summary_record",
    "wire_value",
]

LINK_PLACEHOLDER_PREFIX: Final = "@link:"
# Errors about one record (QBO refused it, it changed or vanished, it read back wrong): that change
# fails alone. Anything else (network, rate limit, credentials, configuration) stops the apply.
ISOLATED_ERRORS: Final[tuple[type[PaymoQbError], ...]] = (
    Rejected,
    Conflict,
    NotFound,
    ReconciliationError,
    DataError,
)
# progress(done, total, message): after each change or batch that was applied.
Progress = Callable[[int, int, str], Awaitable[None]]
_NOTE_FIELDS: Final = ("PrivateNote", "Notes", "Memo", "Description")


class WriteObserver(Protocol):
    """Told about writes as they happen, so they can be recorded ahead (the audit log's write-ahead).

    ``intend`` is awaited before the request of a write (or of a batch of writes) leaves for QuickBooks
    or Paymo, and must have made its record durable when it returns; ``done`` after, with what each
    change did (ledger-only links are only ``done``).
    """

    async def intend(self, changes: Sequence[Change]) -> None: ...

    async def done(self, applied: Sequence[AppliedChange]) -> None: ...


def _all_entities() -> dict[str, type[qbo_models.QboEntity]]:
    found: dict[str, type[qbo_models.QboEntity]] = {}
    pending: list[type[qbo_models.QboEntity]] = [qbo_models.QboEntity]
    while pending:
        cls = pending.pop()
        if cls.entity_name:
            found[cls.entity_name] = cls
        pending.extend(cls.__subclasses__())
    return found


_MODELS: Final = _all_entities()


def qbo_model(entity_name: str) -> type[qbo_models.QboEntity]:
    """The wire model of a QBO entity name such as ``Invoice``."""
    try:
        return _MODELS[entity_name]
    except KeyError:
        raise InputError(f"unknown QuickBooks entity {entity_name!r}", field_name="wire_entity") from None


@dataclass(frozen=True)
class AppliedChange:
    """What one change did: ``outcome`` is created, updated, voided, deleted, linked, replayed,
    recovered (found an earlier write of ours and linked it), unchanged, failed (``error`` says why;
    nothing of it was written) or skipped (a change it depends on failed)."""

    change: Change
    outcome: str
    qbo_id: str | None = None
    paymo_id: str | None = None
    record: qbo_models.QboEntity | None = None
    findings: tuple[Finding, ...] = ()
    error: PaymoQbError | None = None

    @property
    def wrote(self) -> bool:
        """True when the change left something in either system (or in the ledger)."""
        return self.outcome not in ("unchanged", "failed", "skipped")


@dataclass
class ApplyOutcome:
    plan_hash: str
    applied: list[AppliedChange] = field(default_factory=list)

    @property
    def findings(self) -> list[Finding]:
        return [finding for item in self.applied for finding in item.findings]

    @property
    def failures(self) -> list[AppliedChange]:
        """The changes that failed or were skipped because one they depend on failed."""
        return [item for item in self.applied if item.outcome in ("failed", "skipped")]


def wire_value(record: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted wire path; ``Line.count`` counts a list."""
    value: Any = record
    for part in path.split("."):
        if isinstance(value, Mapping):
            value = value.get(part)
        elif part == "count" and isinstance(value, list):
            value = len(value)
        else:
            return None
    return value


def same_value(left: Any, right: Any) -> bool:
    """Wire values compared as QBO means them: numbers by value, booleans as booleans."""
    if isinstance(left, bool) or isinstance(right, bool):
        # bool is an int: without this, True would be read as the number "True" and never match.
        return left is right
    if isinstance(left, Decimal | int) and isinstance(right, Decimal | int | str):
        try:
            return Decimal(str(left)) == Decimal(str(right))
        except ArithmeticError:
            return False
    if isinstance(right, Decimal | int) and isinstance(left, str):
        return same_value(right, left)
    return bool(canonical_json(left) == canonical_json(right))


def readback_findings(
    model: type[qbo_models.QboEntity], qbo_id: str, wire: Mapping[str, Any], expect: Mapping[str, Any]
) -> tuple[Finding, ...]:
    """READBACK_MISMATCH warnings for every expected path the record does not show."""
    findings: list[Finding] = []
    for path, expected in expect.items():
        actual = wire_value(wire, path)
        if not same_value(actual, expected):
            findings.append(
                Finding(
                    severity="warning",
                    code="READBACK_MISMATCH",
                    message=(
                        f"QuickBooks {model.entity_name} {qbo_id}: {path} reads back as {actual!s}, "
                        f"the plan wrote {expected!s}"
                    ),
                    record=f"quickbooks:{model.entity_name.lower()}:{qbo_id}",
                )
            )
    return tuple(findings)


# What a written record's outcome keeps when many are written at once (a batch): the identity and the total
# the tools report. A full record holds every line as models (tens of kB); a period of thousands of
# invoices would otherwise keep them all until the call returns.
_SUMMARY_FIELDS: Final = ("Id", "SyncToken", "DocNumber", "TotalAmt", "Balance", "Active")


def summary_record(record: qbo_models.QboEntity) -> qbo_models.QboEntity:
    """The record with only its identity and totals (``_SUMMARY_FIELDS``), checked already."""
    model = type(record)
    values = {name: getattr(record, name) for name in _SUMMARY_FIELDS if name in model.model_fields}
    return model.model_construct(**values)


def link_placeholder(kind: str, paymo_id: int | str) -> str:
    """A payload value the executor replaces with the QBO id linked to (kind, paymo_id)."""
    return f"{LINK_PLACEHOLDER_PREFIX}{kind}:{paymo_id}"


def as_date(value: Any) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value))


def holds_marker(note: str, marker_text: str) -> bool:
    """Whether ``note`` carries ``marker_text`` whole: ``qbo:payment:1`` is not in ``qbo:payment:12``."""
    return re.search(rf"(?<![\w:]){re.escape(marker_text)}(?![\w:])", note) is not None


def has_note(record: qbo_models.QboEntity, text: str) -> bool:
    wire = record.to_wire()
    return any(holds_marker(str(wire.get(name) or ""), text) for name in _NOTE_FIELDS)


def failed(change: Change, error: PaymoQbError) -> AppliedChange:
    """A change that was not written: QBO (or Paymo) refused it, or it changed meanwhile."""
    finding = Finding(
        severity="warning",
        code="WRITE_FAILED",
        message=f"{change.summary}: not written. {error.for_agent()}",
        record=_record_of(change),
    )
    return AppliedChange(
        change, "failed", qbo_id=change.qbo_id, paymo_id=_paymo_id(change), findings=(finding,), error=error
    )


def skipped(change: Change, because: Change) -> AppliedChange:
    """A change not attempted because one it depends on failed."""
    finding = Finding(
        severity="warning",
        code="DEPENDENCY_FAILED",
        message=f"{change.summary}: not attempted, because it needs what failed: {because.summary}",
        record=_record_of(change),
    )
    return AppliedChange(
        change, "skipped", qbo_id=change.qbo_id, paymo_id=_paymo_id(change), findings=(finding,)
    )


def _paymo_id(change: Change) -> str | None:
    return None if change.paymo_id is None else str(change.paymo_id)


def _record_of(change: Change) -> str | None:
    return f"paymo:{change.link_kind}:{change.paymo_id}" if change.link_kind and change.paymo_id else None
