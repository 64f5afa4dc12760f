"""What the invoice planners share: the tool's names, one invoice's plan, the draft, content hash, markers."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Final, get_args

from paymo_qb_mcp.domain.keys import content_hash, find_markers
from paymo_qb_mcp.domain.plan import Change, FindingList, Plan
from paymo_qb_mcp.domain.tax import TaxTypeApplicable
from paymo_qb_mcp.paymo import models as paymo_models
from paymo_qb_mcp.sync.items import PlannedItem

__all__ = [
    "HEADER_PATHS",
    "INVOICE_LINK_KIND",
    "INVOICE_TOOL",
    "TAX_TYPES",
    "Draft",
    "InvoicePlan",
    "invoice_content_hash",
    "marked_for",
    "owner_text",
    "skip_change",
]

INVOICE_TOOL: Final = "sync_invoice"
INVOICE_LINK_KIND: Final = "invoice"
TAX_TYPES: Final[frozenset[str]] = frozenset(get_args(TaxTypeApplicable))
# Header fields a re-sync compares and updates (wire paths); CustomerRef is handled on its own.
HEADER_PATHS: Final = (
    "TxnDate",
    "DueDate",
    "DocNumber",
    "SalesTermRef.value",
    "CustomerMemo.value",
    "ExchangeRate",
    "GlobalTaxCalculation",
    "ApplyTaxAfterDiscount",
)


@dataclass(frozen=True)
class InvoicePlan:
    """The plan for one Paymo invoice and the figures a human compares.

    ``qbo_total`` is what QBO will show once the plan is applied: the planned total for a create or
    update, the current total for a skip, 0 for a void, and for a blocked plan what QBO would
    compute (so that ``qbo_total - paymo_total`` is the difference the blocker reports).
    ``qbo_invoice_id`` is the linked (or found) QBO invoice, None before the first sync.
    """

    plan: Plan
    paymo_total: Decimal
    qbo_total: Decimal
    qbo_invoice_id: str | None
    currency: str
    paymo_invoice_id: int | None = None
    number: str | None = None

    def as_item(self) -> PlannedItem:
        """This invoice as an item of a selection (``paymo:invoice:<id>``, weighed at its Paymo total)."""
        ident = self.paymo_invoice_id or 0
        return PlannedItem(
            key=f"paymo:invoice:{ident}",
            kind="invoice",
            label=f"Paymo invoice {self.number or ident}",
            plan=self.plan,
            total=self.paymo_total,
            currency=self.currency,
        )


@dataclass
class Draft:
    """What the planner accumulates before building the Plan."""

    changes: list[Change] = field(default_factory=list)
    findings: FindingList = field(default_factory=FindingList)
    totals: dict[str, Decimal] = field(default_factory=dict)
    # What QBO would compute for a plan that cannot be applied (reported next to the blocker).
    qbo_would_total: Decimal | None = None

    @property
    def blocked(self) -> bool:
        return self.findings.blocked


def invoice_content_hash(invoice: paymo_models.Invoice) -> str:
    """Hash of the Paymo content an invoice sync pushes (never QBO ids, timestamps or payment status).

    A voided invoice hashes differently from its live self, so a void is a change and a re-run after
    the void is a skip.
    """
    items = sorted(invoice.invoiceitems or [], key=lambda item: (item.seq or 0, item.id))
    return content_hash(
        {
            "void": invoice.status == "void",
            "number": invoice.number,
            "client_id": invoice.client_id,
            "currency": invoice.currency,
            "date": invoice.date,
            "due_date": invoice.due_date,
            "delivery_date": invoice.delivery_date,
            "tax": invoice.tax,
            "tax2": invoice.tax2,
            "tax_on_tax": bool(invoice.tax_on_tax),
            "discount": invoice.discount,
            "discount_text": invoice.discount_text,
            "notes": invoice.notes,
            "total": invoice.total,
            "items": [
                {
                    "item": item.item,
                    "description": item.description,
                    "price_unit": item.price_unit,
                    "quantity": item.quantity,
                    "apply_tax": bool(item.apply_tax),
                    "entries": sorted((entry.id, entry.date, entry.end_time) for entry in item.entries or []),
                }
                for item in items
            ],
        }
    )


def skip_change(
    invoice: paymo_models.Invoice, summary: str, reason: str, *, qbo_id: str | None = None
) -> Change:
    return Change(
        action="skip",
        entity="invoice",
        paymo_id=invoice.id,
        qbo_id=qbo_id,
        summary=summary,
        reason=reason,
        link_kind=INVOICE_LINK_KIND,
        wire_entity="Invoice",
    )


def marked_for(note: str | None, paymo_id: int) -> bool:
    return any(found.kind == INVOICE_LINK_KIND and found.paymo_id == paymo_id for found in find_markers(note))


def owner_text(note: str | None) -> str:
    others = [found for found in find_markers(note) if found.kind == INVOICE_LINK_KIND]
    if others:
        return f"synced from Paymo invoice id {others[0].paymo_id}"
    return "not created by paymo-qb-mcp"
