"""Many Paymo invoices as one plan: a list of ids or a period, read in bulk, each invoice planned as alone.

The invoices are read with a few paged Paymo requests; the QBO invoices they are linked to, and those
carrying their numbers, with a few ``Id IN (...)`` / ``DocNumber IN (...)`` queries; exchange rates
once per currency. Each invoice is then planned exactly as ``plan_invoice`` plans it alone, so a
period's plan holds the same changes, findings and figures as the invoices' single plans: deciding
which of them go ahead (policy, blockers) is the caller's.

A period leaves Paymo drafts out unless ``statuses`` asks for them (a draft is not billed yet); an
invoice named by id is planned whatever its status (a draft with a DRAFT_INVOICE warning).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final, TypeVar

from paymo_qb_mcp.domain.keys import doc_number
from paymo_qb_mcp.errors import InputError
from paymo_qb_mcp.paymo import models as paymo_models
from paymo_qb_mcp.paymo.client import LARGEST_PAGE_SIZE
from paymo_qb_mcp.paymo.models import INVOICE_STATUSES
from paymo_qb_mcp.paymo.where import Condition as PaymoCondition
from paymo_qb_mcp.paymo.where import ge as paymo_ge
from paymo_qb_mcp.paymo.where import in_ as paymo_in
from paymo_qb_mcp.paymo.where import le as paymo_le
from paymo_qb_mcp.quickbooks import models as qbo_models
from paymo_qb_mcp.quickbooks.query import in_
from paymo_qb_mcp.sync.context import SyncContext
from paymo_qb_mcp.sync.invoices.building import ExchangeRates
from paymo_qb_mcp.sync.invoices.model import INVOICE_LINK_KIND, InvoicePlan
from paymo_qb_mcp.sync.invoices.planner import INVOICE_INCLUDES, plan_loaded_invoice
from paymo_qb_mcp.sync.side_by_side import side_by_side

__all__ = [
    "DEFAULT_PERIOD_STATUSES",
    "MAX_SELECTED_IDS",
    "PAYMO_INCLUDE_CAP",
    "BulkLookup",
    "InvoiceSelection",
    "SelectionPlan",
    "plan_invoice_selection",
]

T = TypeVar("T")
# A period is what was billed: every status but draft.
DEFAULT_PERIOD_STATUSES: Final = ("sent", "viewed", "paid", "void")
MAX_SELECTED_IDS: Final = 5000
# Ids per Paymo `id in (...)` filter (with lines included) and per QBO `IN (...)` query: short enough
# for any URL or body.
_PAYMO_CHUNK: Final = 250
# Paymo cuts an included collection at this many objects per response, silently (reference §7).
PAYMO_INCLUDE_CAP: Final = 2500
_QBO_CHUNK: Final = 500


@dataclass(frozen=True)
class InvoiceSelection:
    """Which Paymo invoices: ``paymo_invoice_ids``, or the period ``date_from``–``date_to`` (invoice date,
    inclusive) with ``statuses`` (default: everything billed, drafts left out)."""

    paymo_invoice_ids: tuple[int, ...] = ()
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    statuses: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        by_ids = bool(self.paymo_invoice_ids)
        by_period = self.date_from is not None or self.date_to is not None
        if by_ids == by_period:
            raise InputError(
                "select invoices either by paymo_invoice_ids or by date_from and date_to, not both and not "
                "neither",
                field_name="paymo_invoice_ids",
            )
        if by_period and (self.date_from is None or self.date_to is None):
            raise InputError("a period needs both date_from and date_to", field_name="date_from")
        if self.date_from is not None and self.date_to is not None and self.date_from > self.date_to:
            raise InputError(
                f"date_from {self.date_from} is after date_to {self.date_to}", field_name="date_from"
            )
        if len(self.paymo_invoice_ids) > MAX_SELECTED_IDS:
            raise InputError(
                f"at most {MAX_SELECTED_IDS} invoice ids per call; select a period or split the list",
                field_name="paymo_invoice_ids",
            )
        if any(ident < 1 for ident in self.paymo_invoice_ids):
            raise InputError("Paymo invoice ids are positive integers", field_name="paymo_invoice_ids")
        unknown = sorted(set(self.statuses or ()) - INVOICE_STATUSES)
        if unknown:
            raise InputError(
                f"unknown Paymo invoice status {', '.join(unknown)}; use "
                f"{', '.join(sorted(INVOICE_STATUSES))}",
                field_name="statuses",
            )
        if self.statuses is not None and by_ids:
            raise InputError("statuses only narrows a period (date_from/date_to)", field_name="statuses")

    def describe(self) -> str:
        if self.paymo_invoice_ids:
            count = len(self.paymo_invoice_ids)
            return f"{count} Paymo invoice{'' if count == 1 else 's'} chosen by id"
        statuses = ", ".join(self.period_statuses)
        return f"Paymo invoices dated {self.date_from} to {self.date_to} ({statuses})"

    @property
    def period_statuses(self) -> tuple[str, ...]:
        return tuple(sorted(set(self.statuses))) if self.statuses else DEFAULT_PERIOD_STATUSES


@dataclass(frozen=True)
class SelectionPlan:
    """Each selected invoice's own plan (oldest first), and the ids Paymo does not have."""

    selection: InvoiceSelection
    items: tuple[InvoicePlan, ...]
    missing: tuple[int, ...] = ()


class BulkLookup:
    """``ExistingInvoices`` read ahead: every linked QBO invoice and every one carrying a selected number."""

    def __init__(self) -> None:
        self._by_id: dict[str, qbo_models.Invoice] = {}
        self._by_doc: dict[str, list[qbo_models.Invoice]] = {}

    @classmethod
    async def read(cls, ctx: SyncContext, qbo_ids: Iterable[str], doc_numbers: Iterable[str]) -> BulkLookup:
        lookup = cls()
        for chunk in _chunks(sorted(set(qbo_ids)), _QBO_CHUNK):
            for row in await ctx.qbo.query_all(qbo_models.Invoice, in_("Id", chunk)):
                lookup._remember(row)
        for chunk in _chunks(sorted(set(doc_numbers)), _QBO_CHUNK):
            for row in await ctx.qbo.query_all(qbo_models.Invoice, in_("DocNumber", chunk)):
                lookup._remember(row)
        return lookup

    def _remember(self, row: qbo_models.Invoice) -> None:
        if row.Id is None or row.Id in self._by_id:
            return
        self._by_id[row.Id] = row
        if row.DocNumber:
            self._by_doc.setdefault(row.DocNumber, []).append(row)

    async def by_id(self, qbo_id: str) -> qbo_models.Invoice | None:
        return self._by_id.get(qbo_id)

    async def by_doc_number(self, doc: str) -> list[qbo_models.Invoice]:
        return list(self._by_doc.get(doc, ()))


async def plan_invoice_selection(ctx: SyncContext, selection: InvoiceSelection) -> SelectionPlan:
    """Plan every selected invoice as ``plan_invoice`` would (writes nothing), reading in bulk."""
    invoices: list[paymo_models.Invoice] = []

    async def read() -> None:
        invoices.extend(await _read_invoices(ctx, selection))

    # The invoices and the company data they are planned against are read side by side.
    async with side_by_side() as group:
        group.start_soon(read)
        group.start_soon(ctx.data.warm)
    found = {invoice.id for invoice in invoices}
    missing = tuple(ident for ident in dict.fromkeys(selection.paymo_invoice_ids) if ident not in found)
    facts = await ctx.facts()
    linked = [link.qbo_id for invoice in invoices if (link := ctx.ledger.link(INVOICE_LINK_KIND, invoice.id))]
    numbers = (
        [doc_number(invoice.number or str(invoice.id)).value for invoice in invoices]
        if facts.custom_txn_numbers
        else []
    )
    lookup = await BulkLookup.read(ctx, linked, numbers)
    rates = ExchangeRates(ctx)
    items = [await plan_loaded_invoice(ctx, invoice, lookup, rates) for invoice in invoices]
    return SelectionPlan(selection=selection, items=tuple(items), missing=missing)


async def _read_invoices(ctx: SyncContext, selection: InvoiceSelection) -> list[paymo_models.Invoice]:
    """The selected invoices with their lines and the time entries those bill.

    A period is listed without its lines first (up to 1,000 invoices a request), then read by id in
    chunks with the lines included: Paymo silently cuts an included collection at 2,500 objects per
    response, so a chunk that may have been cut is read again in halves.
    """
    if selection.paymo_invoice_ids:
        wanted = sorted(set(selection.paymo_invoice_ids))
    else:
        assert selection.date_from is not None
        assert selection.date_to is not None
        conditions: list[PaymoCondition] = [
            paymo_ge("date", selection.date_from),
            paymo_le("date", selection.date_to),
            paymo_in("status", selection.period_statuses),
        ]
        listed = await ctx.paymo.list_invoices(where=conditions, page_size=LARGEST_PAGE_SIZE)
        wanted = sorted({invoice.id for invoice in listed})
    invoices: dict[int, paymo_models.Invoice] = {}
    for chunk in _chunks(wanted, _PAYMO_CHUNK):
        for invoice in await _read_whole(ctx, chunk):
            invoices[invoice.id] = invoice
    return sorted(invoices.values(), key=lambda invoice: (invoice.date or dt.date.min, invoice.id))


async def _read_whole(ctx: SyncContext, ids: Sequence[int]) -> list[paymo_models.Invoice]:
    """Invoices by id with lines and entries, in as many requests as keep every included collection whole."""
    found = await ctx.paymo.list_invoices(where=paymo_in("id", ids), include=INVOICE_INCLUDES, page_size=None)
    items = [item for invoice in found for item in invoice.invoiceitems or []]
    entries = sum(len(item.entries or []) for item in items)
    if len(ids) > 1 and max(len(items), entries) >= PAYMO_INCLUDE_CAP:
        half = len(ids) // 2
        return [*await _read_whole(ctx, ids[:half]), *await _read_whole(ctx, ids[half:])]
    return found


def _chunks(values: Sequence[T], size: int) -> list[list[T]]:
    return [list(values[start : start + size]) for start in range(0, len(values), size)]
