"""The EDITED_IN_QUICKBOOKS guard: an update never silently overwrites what a human changed in QuickBooks.

The executor remembers, with each link, what our last write left in the QBO record (per-field
digests, ``domain.fingerprint``). A planner about to update that record calls ``guard_overwrite``
with the record as it reads now and the sparse payload it would send: the fields of the payload
whose digest moved since our write were changed by someone else (a bookkeeper extending a due date,
rewording a memo). The update is still planned — Paymo's values are what the sync pushes — but with
a warning naming those fields, their QuickBooks values in ``before`` and ours in ``after``, and the
code ``EDITED_IN_QUICKBOOKS``, which is in ``domain.plan.REQUIRES_HUMAN``: the server then asks a
human even where policies.yaml would allow the write. Declining leaves the QuickBooks version.

QBO's own bookkeeping — payments applied (``Balance``, ``LinkedTxn``), a new ``SyncToken``, renamed
references — is not an edit (``domain.fingerprint`` normalises it away), and a field the update
would not overwrite (because Paymo's value now equals the human's, or the payload does not set it)
is not reported: nothing of it is lost. A link without digests (a record we never wrote, or a link
saved before they were kept) has nothing to compare with and reports nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from paymo_qb_mcp.domain.fingerprint import edited_fields
from paymo_qb_mcp.domain.plan import FindingList
from paymo_qb_mcp.quickbooks import models as qbo_models
from paymo_qb_mcp.store.ledger import Link

__all__ = ["guard_overwrite", "overwritten_edits"]


def overwritten_edits(
    link: Link | None, current: qbo_models.QboEntity, payload: Mapping[str, Any]
) -> tuple[str, ...]:
    """Top-level fields of ``payload`` that someone changed in ``current`` since our last write to it."""
    if link is None or not link.qbo_digests or link.qbo_id != current.Id:
        return ()
    recorded = {name: digest for name, digest in link.qbo_digests if name in payload}
    return edited_fields(current.to_wire(), recorded)


def _shown(value: Any) -> str | None:
    """A short rendering of a scalar (or a reference's value) for the message; None for structures."""
    if isinstance(value, Mapping):
        value = value.get("value") if set(value) <= {"value", "name", "type"} else None
    if value is None or isinstance(value, list | Mapping):
        return None
    return str(value)


def guard_overwrite(
    link: Link | None,
    current: qbo_models.QboEntity,
    payload: Mapping[str, Any],
    *,
    before: dict[str, Any],
    after: dict[str, Any],
    target: str,
    source: str,
    record: str,
    findings: FindingList,
) -> None:
    """Add to ``findings`` the EDITED_IN_QUICKBOOKS warning for an update of ``current`` with ``payload``,
    when the update would overwrite someone's edit.

    Adds each edited field to ``before`` (its QuickBooks value now) and ``after`` (ours) unless the
    change already shows it (``before`` has the field or one of its paths, e.g. ``CustomerMemo.value``).
    ``target`` names the QBO record (``QuickBooks invoice 1039``), ``source`` the Paymo one.
    """
    edited = overwritten_edits(link, current, payload)
    if not edited:
        return
    wire = current.to_wire()
    details: list[str] = []
    for name in edited:
        if not any(key == name or key.startswith(f"{name}.") for key in before):
            before[name] = wire.get(name)
            after.setdefault(name, payload[name])
        theirs, ours = _shown(wire.get(name)), _shown(payload[name])
        details.append(f"{name} (QuickBooks: {theirs}, Paymo: {ours})" if theirs or ours else name)
    findings.warn(
        "EDITED_IN_QUICKBOOKS",
        f"{target} was changed in QuickBooks since paymo-qb-mcp last wrote it: {'; '.join(details)}. "
        f"This update would overwrite that with {source}, so a human must approve it, whatever "
        "policies.yaml allows: approve to apply the Paymo version, or decline to keep the QuickBooks "
        f"one (then make {source} agree with it, or correct QuickBooks, and sync again)",
        record,
    )
