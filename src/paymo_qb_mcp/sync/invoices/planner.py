"""Planning one Paymo invoice in QBO: create, sparse update, void or skip, cent-exact, never twice.

A Paymo invoice becomes a QBO invoice whose ``TotalAmt`` equals Paymo's ``total`` to the cent: the
lines keep Paymo's amounts (``Qty`` × ``UnitPrice`` chosen to satisfy QBO's rule 6070), Paymo's
discount is one fixed-amount discount line, and when QBO's own per-line tax rounding would land
elsewhere the plan carries the tax override (``TxnTaxDetail.TaxLine`` amounts in the global model,
``TotalTax`` under US Automated Sales Tax) that ``domain.tax.map_invoice_to_qbo`` computed. When no
valid invoice reproduces Paymo's total, a blocker states the exact difference.

Ledger kind ``invoice`` links Paymo invoice id → QBO Invoice Id; our invoices carry
``paymo:invoice:<id>`` in ``PrivateNote`` and the Paymo number as ``DocNumber`` (6140 is found here).
How existing QBO invoices are found is an ``ExistingInvoices``: one read per question for one
invoice, read ahead in bulk for a period (``selection``).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Final, Protocol

from paymo_qb_mcp.domain.keys import DocNumber, doc_number
from paymo_qb_mcp.domain.money import ZERO, normalize_currency, quantize
from paymo_qb_mcp.domain.plan import Plan
from paymo_qb_mcp.errors import NotFound
from paymo_qb_mcp.paymo import models as paymo_models
from paymo_qb_mcp.quickbooks import models as qbo_models
from paymo_qb_mcp.quickbooks.models import is_voided
from paymo_qb_mcp.quickbooks.query import eq
from paymo_qb_mcp.store.ledger import Link
from paymo_qb_mcp.sync.context import CompanyFacts, SyncContext
from paymo_qb_mcp.sync.invoices.building import ExchangeRates, build_invoice
from paymo_qb_mcp.sync.invoices.changes import plan_create, plan_update, plan_void
from paymo_qb_mcp.sync.invoices.model import (
    INVOICE_LINK_KIND,
    INVOICE_TOOL,
    Draft,
    InvoicePlan,
    invoice_content_hash,
    marked_for,
    owner_text,
    skip_change,
)

__all__ = ["INVOICE_INCLUDES", "DirectLookup", "ExistingInvoices", "plan_invoice", "plan_loaded_invoice"]

# What a Paymo invoice is read with: its lines and the time entries they bill (for service dates).
INVOICE_INCLUDES: Final = ("invoiceitems", "invoiceitems.entries")


class ExistingInvoices(Protocol):
    """Where the planner finds QBO invoices: read one by one (one invoice), or ahead in bulk (a period)."""

    async def by_id(self, qbo_id: str) -> qbo_models.Invoice | None:
        """The invoice with this Id, or None when QBO has none (deleted)."""
        ...

    async def by_doc_number(self, doc: str) -> list[qbo_models.Invoice]:
        """Every invoice numbered ``doc``."""
        ...


class DirectLookup:
    """``ExistingInvoices`` by one request per question (a single invoice's plan)."""

    def __init__(self, ctx: SyncContext) -> None:
        self._ctx = ctx

    async def by_id(self, qbo_id: str) -> qbo_models.Invoice | None:
        try:
            return await self._ctx.qbo.read(qbo_models.Invoice, qbo_id)
        except NotFound:
            return None

    async def by_doc_number(self, doc: str) -> list[qbo_models.Invoice]:
        return await self._ctx.qbo.query_all(qbo_models.Invoice, eq("DocNumber", doc))


async def plan_invoice(ctx: SyncContext, paymo_invoice_id: int) -> InvoicePlan:
    """Plan the QBO side of one Paymo invoice; writes nothing.

    First sync → create (with the customer's create/link/reactivation before it when needed);
    unchanged since the last sync → skip; changed → one sparse update against the current
    SyncToken with field-level before/after (``CustomerRef`` only moves when the client's customer
    changed, and then with a warning; an update that would overwrite fields someone changed in
    QuickBooks since our last write warns EDITED_IN_QUICKBOOKS, which a human must confirm); voided
    in Paymo after a sync → void; voided and never synced → skip. An invoice already in QBO with our
    marker (an earlier run that crashed before linking, or a concurrent run) is linked, never
    created twice. A Paymo draft (not sent to the client yet) is planned with a DRAFT_INVOICE warning.
    """
    invoice = await ctx.paymo.get_invoice(paymo_invoice_id, include=INVOICE_INCLUDES)
    return await plan_loaded_invoice(ctx, invoice, DirectLookup(ctx), ExchangeRates(ctx))


async def plan_loaded_invoice(
    ctx: SyncContext, invoice: paymo_models.Invoice, lookup: ExistingInvoices, rates: ExchangeRates
) -> InvoicePlan:
    """``plan_invoice`` for an invoice already read (with ``INVOICE_INCLUDES``)."""
    facts = await ctx.facts()
    record = f"paymo:invoice:{invoice.id}"
    currency = normalize_currency(str(invoice.currency or facts.paymo_currency))
    paymo_total = invoice.total if invoice.total is not None else ZERO
    draft = Draft()

    def result(qbo_total: Decimal, existing: qbo_models.Invoice | None) -> InvoicePlan:
        return _result(invoice, draft, paymo_total, qbo_total, existing, currency)

    doc = doc_number(invoice.number or str(invoice.id))
    link = ctx.ledger.link(INVOICE_LINK_KIND, invoice.id)
    existing = await _find_existing(lookup, invoice, link, doc, facts, draft)
    if draft.blocked:
        return result(paymo_total, existing)

    if invoice.status == "void":
        return result(plan_void(invoice, existing, link, facts, currency, draft), existing)
    if invoice.status == "draft":
        draft.findings.warn(
            "DRAFT_INVOICE",
            f"Paymo invoice {invoice.number} is a draft: it has not been sent to the client, so it is not "
            "billed yet. Syncing it posts it to QuickBooks as money owed now; send it in Paymo first unless "
            "that is what you want",
            record,
        )

    hash_now = invoice_content_hash(invoice)
    if existing is not None and link is not None and link.content_hash == hash_now:
        _note_quickbooks_edits(invoice, existing, paymo_total, currency, draft, record)
        draft.changes.append(
            skip_change(
                invoice,
                f"Paymo invoice {invoice.number} is unchanged since it was synced",
                "content hash equals the stored link's",
                qbo_id=existing.Id,
            )
        )
        return result(existing.TotalAmt or ZERO, existing)

    if existing is not None and is_voided(existing):
        draft.findings.block(
            "VOIDED_IN_QUICKBOOKS",
            f"QuickBooks invoice {existing.Id} for Paymo invoice {invoice.number} was voided in QuickBooks "
            "while the Paymo invoice is still live; void it in Paymo too, or remove the link to post it as "
            "a new invoice",
            record,
        )
        return result(ZERO, existing)
    built = await build_invoice(ctx, invoice, currency, doc, facts, draft, record, rates)
    if built is None:
        return result(draft.qbo_would_total if draft.qbo_would_total is not None else paymo_total, existing)
    if existing is None:
        plan_create(invoice, built, hash_now, doc, facts, draft)
    else:
        plan_update(invoice, built, hash_now, existing, link, facts, draft)
    return result(
        built.mapping.expected.total if built.mapping.expected is not None else paymo_total, existing
    )


def _note_quickbooks_edits(
    invoice: paymo_models.Invoice,
    existing: qbo_models.Invoice,
    paymo_total: Decimal,
    currency: str,
    draft: Draft,
    record: str,
) -> None:
    """An unchanged Paymo invoice whose QBO copy no longer shows its total was edited or voided in QBO.

    Nothing is written (the sync pushes Paymo's changes, it does not undo a bookkeeper's), but the skip
    says so, so the difference reconciliation_report lists is explained where the agent acts on it.
    """
    shown = existing.DocNumber or existing.Id
    if is_voided(existing):
        draft.findings.warn(
            "VOIDED_IN_QUICKBOOKS",
            f"QuickBooks invoice {shown} was voided in QuickBooks after the sync while Paymo invoice "
            f"{invoice.number} is still live; nothing is written: void it in Paymo too, or remove the link "
            "to post it as a new invoice",
            record,
        )
        return
    qbo_total = existing.TotalAmt if existing.TotalAmt is not None else ZERO
    if quantize(qbo_total, currency) != quantize(paymo_total, currency):
        draft.findings.warn(
            "CHANGED_IN_QUICKBOOKS",
            f"QuickBooks invoice {shown} totals {currency} {qbo_total} but Paymo invoice {invoice.number} "
            f"{paymo_total}: it was changed in QuickBooks after the sync. Paymo's invoice is unchanged, so "
            "nothing is written (a QuickBooks edit is never undone unasked): correct it in QuickBooks, or "
            "change the Paymo invoice to sync Paymo's version again",
            record,
        )


def _result(
    invoice: paymo_models.Invoice,
    draft: Draft,
    paymo_total: Decimal,
    qbo_total: Decimal,
    existing: qbo_models.Invoice | None,
    currency: str,
) -> InvoicePlan:
    plan = Plan.build(INVOICE_TOOL, draft.changes, findings=draft.findings, totals=draft.totals)
    return InvoicePlan(
        plan=plan,
        paymo_total=paymo_total,
        qbo_total=qbo_total,
        qbo_invoice_id=existing.Id if existing is not None else None,
        currency=currency,
        paymo_invoice_id=invoice.id,
        number=invoice.number,
    )


async def _find_existing(
    lookup: ExistingInvoices,
    invoice: paymo_models.Invoice,
    link: Link | None,
    doc: DocNumber,
    facts: CompanyFacts,
    draft: Draft,
) -> qbo_models.Invoice | None:
    """Our QBO invoice for this Paymo invoice: the linked one, else one carrying our marker (look
    before you create). A DocNumber taken by a record that is not ours is a blocker (6140)."""
    record = f"paymo:invoice:{invoice.id}"
    ours: qbo_models.Invoice | None = None
    if link is not None:
        ours = await lookup.by_id(link.qbo_id)
        if ours is None:
            draft.findings.block(
                "LINKED_RECORD_MISSING",
                f"Paymo invoice {invoice.number} was synced to QuickBooks invoice {link.qbo_id}, which no "
                "longer exists (deleted in QuickBooks?); remove the link to create it again",
                record,
            )
            return None
    if not facts.custom_txn_numbers:
        # QBO numbers invoices itself: the DocNumber cannot collide, the marker remains the link.
        return ours
    same_number = await lookup.by_doc_number(doc.value)
    for row in same_number:
        if ours is not None and row.Id == ours.Id:
            continue
        if ours is None and marked_for(row.PrivateNote, invoice.id):
            ours = row
            continue
        if invoice.status == "void":
            # Voiding (or skipping) never writes a DocNumber, so another record's number is no obstacle.
            continue
        owner = owner_text(row.PrivateNote)
        draft.findings.block(
            "DUPLICATE_DOCNUMBER",
            f"DocNumber {doc.value!r} is already used by QuickBooks invoice {row.Id} ({owner}); QuickBooks "
            "refuses a second invoice with the same number (error 6140). If it is this invoice exported "
            "another way (e.g. Paymo's own QuickBooks export), void or renumber that copy in QuickBooks; "
            "otherwise renumber the Paymo invoice",
            record,
        )
    return ours
