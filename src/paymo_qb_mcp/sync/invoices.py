"""Invoice sync Paymo → QBO: plan the create, sparse update, void or skip of one invoice, cent-exact.

A Paymo invoice becomes a QBO invoice whose ``TotalAmt`` equals Paymo's ``total`` to the cent: the
lines keep Paymo's amounts (``Qty`` × ``UnitPrice`` chosen to satisfy QBO's rule 6070), Paymo's
discount is one fixed-amount discount line, and when QBO's own per-line tax rounding would land
elsewhere the plan carries the tax override (``TxnTaxDetail.TaxLine`` amounts in the global model,
``TotalTax`` under US Automated Sales Tax) that ``domain.tax.map_invoice_to_qbo`` computed. When no
valid invoice reproduces Paymo's total, a blocker states the exact difference.

Everything that would make QBO answer 6140, 6200/6210, 610, 6000 or 6240 is found here, at plan
time, and reported as a finding. Ledger kind ``invoice`` links Paymo invoice id → QBO Invoice Id;
our invoices carry ``paymo:invoice:<id>`` in ``PrivateNote`` and the Paymo number as ``DocNumber``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final, cast, get_args

from paymo_qb_mcp.domain.keys import (
    DocNumber,
    add_marker,
    canonical_json,
    content_hash,
    doc_number,
    find_markers,
    marker,
)
from paymo_qb_mcp.domain.money import ZERO, normalize_currency, quantize
from paymo_qb_mcp.domain.paymo_totals import PaymoInvoiceHeader, PaymoInvoiceLine
from paymo_qb_mcp.domain.plan import Change, FindingList, Plan
from paymo_qb_mcp.domain.tax import (
    MappedLine,
    QboInvoiceMapping,
    QboTaxCode,
    QboTaxRateDetail,
    TaxCodeChoice,
    TaxMapping,
    TaxTypeApplicable,
    map_invoice_to_qbo,
)
from paymo_qb_mcp.errors import NotFound
from paymo_qb_mcp.paymo import models as paymo_models
from paymo_qb_mcp.quickbooks import models as qbo_models
from paymo_qb_mcp.quickbooks.models import (
    CUSTOMER_MEMO_MAX_LENGTH,
    DESCRIPTION_MAX_LENGTH,
    PRIVATE_NOTE_MAX_LENGTH,
    is_voided,
)
from paymo_qb_mcp.quickbooks.query import ACTIVE_OR_INACTIVE, eq
from paymo_qb_mcp.store.ledger import Link
from paymo_qb_mcp.sync.context import CompanyFacts, SyncContext
from paymo_qb_mcp.sync.customers import CustomerResolution, customer_for_invoice
from paymo_qb_mcp.sync.qbo_edits import guard_overwrite

__all__ = [
    "INVOICE_LINK_KIND",
    "INVOICE_TOOL",
    "InvoicePlan",
    "exchange_rate",
    "exchange_rate_or_block",
    "invoice_content_hash",
    "plan_invoice",
    "qbo_tax_code",
]

INVOICE_TOOL: Final = "sync_invoice"
INVOICE_LINK_KIND: Final = "invoice"
_TAX_TYPES: Final[frozenset[str]] = frozenset(get_args(TaxTypeApplicable))
# Header fields a re-sync compares and updates (wire paths); CustomerRef is handled on its own.
_HEADER_PATHS: Final = (
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


@dataclass
class _Draft:
    """What the planner accumulates before building the Plan."""

    changes: list[Change] = field(default_factory=list)
    findings: FindingList = field(default_factory=FindingList)
    totals: dict[str, Decimal] = field(default_factory=dict)
    # What QBO would compute for a plan that cannot be applied (reported next to the blocker).
    qbo_would_total: Decimal | None = None

    @property
    def blocked(self) -> bool:
        return self.findings.blocked


# --------------------------------------------------------------------------------------------
# Public helpers
# --------------------------------------------------------------------------------------------


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


async def exchange_rate(ctx: SyncContext, currency: str, on: dt.date) -> Decimal | None:
    """QBO's rate for ``currency`` → home currency in force on ``on`` (the latest set on or before it).

    None when QBO has no such rate: callers must then block rather than let QBO assume 1.
    """
    # GUESS: ExchangeRate is queryable by SourceCurrencyCode (the emulator and third-party drivers
    # agree); the date is chosen here rather than with an AsOfDate comparison in the query.
    rows = await ctx.qbo.query_all(qbo_models.ExchangeRate, eq("SourceCurrencyCode", currency.upper()))
    usable = [row for row in rows if row.Rate is not None and row.AsOfDate is not None and row.AsOfDate <= on]
    if not usable:
        return None
    best = max(usable, key=lambda row: (row.AsOfDate or dt.date.min, int(row.Id or 0)))
    return best.Rate


async def exchange_rate_or_block(
    ctx: SyncContext,
    currency: str,
    on: dt.date,
    findings: FindingList,
    *,
    carrier: str,
    record: str,
    known: dict[tuple[str, dt.date], Decimal | None] | None = None,
) -> Decimal | None:
    """``exchange_rate``, or None with the EXCHANGE_RATE_MISSING blocker for ``record``.

    ``carrier`` names what would carry the rate (``Paymo invoice 1035``); ``known`` caches the rates a
    plan has read, so that many records on one date ask QBO once.
    """
    key = (currency, on)
    if known is not None and key in known:
        rate = known[key]
    else:
        rate = await exchange_rate(ctx, currency, on)
        if known is not None:
            known[key] = rate
    if rate is None:
        home = (await ctx.facts()).home_currency
        findings.block(
            "EXCHANGE_RATE_MISSING",
            f"QuickBooks has no {currency} → {home} exchange rate on or before {on}, so {carrier} cannot "
            "carry one (and is never sent with a silent rate of 1): add the rate in QuickBooks (Settings → "
            "Currencies) and plan again",
            record,
        )
    return rate


# --------------------------------------------------------------------------------------------
# The planner
# --------------------------------------------------------------------------------------------


async def plan_invoice(ctx: SyncContext, paymo_invoice_id: int) -> InvoicePlan:
    """Plan the QBO side of one Paymo invoice; writes nothing.

    First sync → create (with the customer's create/link/reactivation before it when needed);
    unchanged since the last sync → skip; changed → one sparse update against the current
    SyncToken with field-level before/after (``CustomerRef`` only moves when the client's customer
    changed, and then with a warning; an update that would overwrite fields someone changed in
    QuickBooks since our last write warns EDITED_IN_QUICKBOOKS, which a human must confirm); voided
    in Paymo after a sync → void; voided and never synced → skip. An invoice already in QBO with our
    marker (an earlier run that crashed before linking, or a concurrent run) is linked, never
    created twice.
    """
    facts = await ctx.facts()
    invoice = await ctx.paymo.get_invoice(paymo_invoice_id, include=("invoiceitems", "invoiceitems.entries"))
    record = f"paymo:invoice:{invoice.id}"
    currency = normalize_currency(str(invoice.currency or facts.paymo_currency))
    paymo_total = invoice.total if invoice.total is not None else ZERO
    draft = _Draft()
    doc = doc_number(invoice.number or str(invoice.id))
    link = ctx.ledger.link(INVOICE_LINK_KIND, invoice.id)
    existing = await _find_existing(ctx, invoice, link, doc, facts, draft)
    if draft.blocked:
        return _result(draft, paymo_total, paymo_total, existing, currency)

    if invoice.status == "void":
        qbo_total = _plan_void(invoice, existing, link, facts, currency, draft)
        return _result(draft, paymo_total, qbo_total, existing, currency)

    hash_now = invoice_content_hash(invoice)
    if existing is not None and link is not None and link.content_hash == hash_now:
        _note_quickbooks_edits(invoice, existing, paymo_total, currency, draft, record)
        draft.changes.append(
            _skip(
                invoice,
                f"Paymo invoice {invoice.number} is unchanged since it was synced",
                "content hash equals the stored link's",
                qbo_id=existing.Id,
            )
        )
        return _result(draft, paymo_total, existing.TotalAmt or ZERO, existing, currency)

    if existing is not None and is_voided(existing):
        draft.findings.block(
            "VOIDED_IN_QUICKBOOKS",
            f"QuickBooks invoice {existing.Id} for Paymo invoice {invoice.number} was voided in QuickBooks "
            "while the Paymo invoice is still live; void it in Paymo too, or remove the link to post it as "
            "a new invoice",
            record,
        )
        return _result(draft, paymo_total, ZERO, existing, currency)
    built = await _build(ctx, invoice, currency, doc, facts, draft, record)
    if built is None:
        qbo_total = draft.qbo_would_total if draft.qbo_would_total is not None else paymo_total
        return _result(draft, paymo_total, qbo_total, existing, currency)
    if existing is None:
        _plan_create(invoice, built, hash_now, doc, facts, draft)
    else:
        _plan_update(invoice, built, hash_now, existing, link, facts, draft)
    qbo_total = built.mapping.expected.total if built.mapping.expected is not None else paymo_total
    return _result(draft, paymo_total, qbo_total, existing, currency)


def _skip(invoice: paymo_models.Invoice, summary: str, reason: str, *, qbo_id: str | None = None) -> Change:
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


def _note_quickbooks_edits(
    invoice: paymo_models.Invoice,
    existing: qbo_models.Invoice,
    paymo_total: Decimal,
    currency: str,
    draft: _Draft,
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
    draft: _Draft,
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
    )


# --------------------------------------------------------------------------------------------
# Finding our QBO invoice
# --------------------------------------------------------------------------------------------


async def _find_existing(
    ctx: SyncContext,
    invoice: paymo_models.Invoice,
    link: Link | None,
    doc: DocNumber,
    facts: CompanyFacts,
    draft: _Draft,
) -> qbo_models.Invoice | None:
    """Our QBO invoice for this Paymo invoice: the linked one, else one carrying our marker (look
    before you create). A DocNumber taken by a record that is not ours is a blocker (6140)."""
    record = f"paymo:invoice:{invoice.id}"
    ours: qbo_models.Invoice | None = None
    if link is not None:
        try:
            ours = await ctx.qbo.read(qbo_models.Invoice, link.qbo_id)
        except NotFound:
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
    same_number = await ctx.qbo.query_all(qbo_models.Invoice, eq("DocNumber", doc.value))
    for row in same_number:
        if ours is not None and row.Id == ours.Id:
            continue
        if ours is None and _marked_for(row.PrivateNote, invoice.id):
            ours = row
            continue
        if invoice.status == "void":
            # Voiding (or skipping) never writes a DocNumber, so another record's number is no obstacle.
            continue
        owner = _owner_text(row.PrivateNote)
        draft.findings.block(
            "DUPLICATE_DOCNUMBER",
            f"DocNumber {doc.value!r} is already used by QuickBooks invoice {row.Id} ({owner}); QuickBooks "
            "refuses a second invoice with the same number (error 6140). If it is this invoice exported "
            "another way (e.g. Paymo's own QuickBooks export), void or renumber that copy in QuickBooks; "
            "otherwise renumber the Paymo invoice",
            record,
        )
    return ours


def _marked_for(note: str | None, paymo_id: int) -> bool:
    return any(found.kind == INVOICE_LINK_KIND and found.paymo_id == paymo_id for found in find_markers(note))


def _owner_text(note: str | None) -> str:
    others = [found for found in find_markers(note) if found.kind == INVOICE_LINK_KIND]
    if others:
        return f"synced from Paymo invoice id {others[0].paymo_id}"
    return "not created by paymo-qb-mcp"


# --------------------------------------------------------------------------------------------
# Void
# --------------------------------------------------------------------------------------------


def _plan_void(
    invoice: paymo_models.Invoice,
    existing: qbo_models.Invoice | None,
    link: Link | None,
    facts: CompanyFacts,
    currency: str,
    draft: _Draft,
) -> Decimal:
    record = f"paymo:invoice:{invoice.id}"
    if existing is None:
        draft.changes.append(
            _skip(
                invoice,
                f"Paymo invoice {invoice.number} is void and was never synced: nothing to do",
                "void in Paymo, not in QuickBooks",
            )
        )
        return ZERO
    assert existing.Id is not None
    void_hash = invoice_content_hash(invoice)
    if is_voided(existing) or (link is not None and link.content_hash == void_hash):
        draft.changes.append(
            _skip(
                invoice,
                f"QuickBooks invoice {existing.Id} is already void",
                "void on both sides",
                qbo_id=existing.Id,
            )
        )
        return existing.TotalAmt or ZERO
    total = existing.TotalAmt or ZERO
    balance = existing.Balance if existing.Balance is not None else total
    if balance != total:
        draft.findings.block(
            "PAYMENTS_APPLIED",
            f"QuickBooks invoice {existing.Id} has {total - balance} of payments applied; QuickBooks does "
            "not void an invoice with payments: remove or re-apply them in QuickBooks first",
            f"quickbooks:invoice:{existing.Id}",
        )
    if existing.TxnDate is not None and facts.in_closed_period(existing.TxnDate):
        draft.findings.block(
            "CLOSED_PERIOD",
            f"QuickBooks invoice {existing.Id} is dated {existing.TxnDate}, in the period closed on "
            f"{facts.book_close_date}; voiding it would change closed books (error 6210). Reopen the "
            "period in QuickBooks or record a credit memo instead",
            record,
        )
    if draft.blocked:
        return total
    draft.changes.append(
        Change(
            action="void",
            entity="invoice",
            paymo_id=invoice.id,
            qbo_id=existing.Id,
            before={"TotalAmt": total, "Balance": balance},
            after={
                "TotalAmt": ZERO,
                "amount": total,
                "currency": currency,
                "txn_date": existing.TxnDate,
            },
            summary=(
                f"Void QuickBooks invoice {existing.DocNumber or existing.Id} "
                f"(Paymo invoice {invoice.number} was voided)"
            ),
            reason="voided in Paymo",
            target="quickbooks",
            wire_entity="Invoice",
            link_kind=INVOICE_LINK_KIND,
            content_hash=void_hash,
            sync_token=existing.SyncToken,
            expect={"TotalAmt": ZERO},
        )
    )
    draft.totals[currency] = total
    return ZERO


# --------------------------------------------------------------------------------------------
# Building the QBO invoice
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Built:
    """The QBO invoice a Paymo invoice should be: payload, expected figures, customer."""

    payload: dict[str, Any]
    mapping: QboInvoiceMapping
    customer: CustomerResolution
    line_count: int
    txn_date: dt.date


async def _build(
    ctx: SyncContext,
    invoice: paymo_models.Invoice,
    currency: str,
    doc: DocNumber,
    facts: CompanyFacts,
    draft: _Draft,
    record: str,
) -> _Built | None:
    if invoice.client_id is None:
        draft.findings.block("NO_CLIENT", f"Paymo invoice {invoice.number} has no client", record)
        return None
    txn_date = invoice.date or ctx.now().astimezone(facts.paymo_timezone).date()
    if facts.in_closed_period(txn_date):
        draft.findings.block(
            "CLOSED_PERIOD",
            f"Paymo invoice {invoice.number} is dated {txn_date}, on or before the QuickBooks book close "
            f"date {facts.book_close_date}; QuickBooks refuses transactions in a closed period (error "
            "6210). Reopen the period in QuickBooks, or date the invoice after the close",
            record,
        )
    if currency != facts.home_currency and not facts.multicurrency:
        draft.findings.block(
            "MULTICURRENCY_OFF",
            f"Paymo invoice {invoice.number} is in {currency}, but QuickBooks multicurrency is off (home "
            f"currency {facts.home_currency}); turn it on in QuickBooks before syncing it",
            record,
        )
    customer = await customer_for_invoice(ctx, invoice.client_id, currency)
    draft.findings.extend(customer.findings)
    rate: Decimal | None = None
    if currency != facts.home_currency and facts.multicurrency:
        rate = await exchange_rate_or_block(
            ctx, currency, txn_date, draft.findings, carrier=f"Paymo invoice {invoice.number}", record=record
        )

    items = sorted(invoice.invoiceitems or [], key=lambda item: (item.seq or 0, item.id))
    if not items:
        draft.findings.block("NO_LINES", f"Paymo invoice {invoice.number} has no lines", record)
        return None
    header = PaymoInvoiceHeader(
        tax=invoice.tax or ZERO,
        tax2=invoice.tax2 or ZERO,
        tax_on_tax=bool(invoice.tax_on_tax),
        discount=invoice.discount or ZERO,
    )
    paymo_lines = [
        PaymoInvoiceLine(
            price_unit=item.price_unit or ZERO, quantity=item.quantity or ZERO, apply_tax=bool(item.apply_tax)
        )
        for item in items
    ]
    tax_mapping = await _tax_mapping(ctx, header, facts, draft, record)
    if tax_mapping is None:
        return None
    mapping = map_invoice_to_qbo(paymo_lines, header, tax_mapping, currency=currency)
    if invoice.total is not None and mapping.paymo.total != invoice.total:
        draft.findings.block(
            "PAYMO_TOTAL_UNEXPECTED",
            f"Paymo shows a total of {invoice.total} for invoice {invoice.number}, but its lines, discount "
            f"and taxes add up to {mapping.paymo.total} (difference {invoice.total - mapping.paymo.total}); "
            "nothing is synced until the two agree (open and save the invoice in Paymo)",
            record,
        )
    if not mapping.ok:
        computed = mapping.expected or mapping.qbo_computed
        qbo_side = f"QuickBooks would total {computed.total}" if computed is not None else "QuickBooks"
        draft.findings.block(
            "TOTAL_MISMATCH",
            f"{qbo_side} against Paymo's {mapping.paymo.total} for invoice {invoice.number}: difference "
            f"{mapping.difference} {currency}" + "".join(f"; {problem}" for problem in mapping.problems),
            record,
        )
        if computed is not None:
            draft.qbo_would_total = computed.total
        return None
    for note in mapping.notes:
        draft.findings.inform("TAX_MAPPING_NOTE", note, record)

    item_ids = await _item_refs(ctx, items, draft, record)
    if item_ids is None:
        return None
    if facts.tax_model == "global" and mapping.calculation != "NotApplicable":
        missing = [line.paymo_line_index + 1 for line in mapping.lines if line.tax_code_id is None]
        if missing:
            draft.findings.block(
                "TAX_CODE_REQUIRED",
                f"lines {missing} of Paymo invoice {invoice.number} have no QuickBooks tax code; a VAT/GST "
                "company needs one on every line, including untaxed ones (error 6000): set "
                "mappings.tax.exempt_code in policies.yaml",
                record,
            )
            return None
    lines = [
        _sales_line(item, mapped, item_ids[index], currency, facts.paymo_timezone)
        for index, (item, mapped) in enumerate(zip(items, mapping.lines, strict=True))
    ]
    if mapping.discount_amount is not None and mapping.discount_amount != 0:
        discount_line: dict[str, Any] = {
            "DetailType": "DiscountLineDetail",
            "Amount": mapping.discount_amount,
            "DiscountLineDetail": {"PercentBased": False},
        }
        if invoice.discount_text:
            discount_line["Description"] = invoice.discount_text[:DESCRIPTION_MAX_LENGTH]
        lines.append(discount_line)

    payload: dict[str, Any] = {
        "CustomerRef": {"value": customer.customer_ref or ""},
        "TxnDate": txn_date.isoformat(),
        "Line": lines,
        "ApplyTaxAfterDiscount": tax_mapping.apply_tax_after_discount,
        "PrivateNote": add_marker(
            f"Paymo invoice {invoice.number}",
            INVOICE_LINK_KIND,
            invoice.id,
            max_length=PRIVATE_NOTE_MAX_LENGTH,
        ),
    }
    if facts.custom_txn_numbers:
        payload["DocNumber"] = doc.value
        if doc.altered:
            draft.findings.warn(
                "DOCNUMBER_ALTERED",
                f"Paymo number {doc.original!r} becomes DocNumber {doc.value!r} in QuickBooks "
                f"({'; '.join(doc.changes)}); the marker in the private note keeps the link",
                record,
            )
    else:
        draft.findings.inform(
            "AUTO_NUMBERED",
            "QuickBooks numbers invoices itself here (custom transaction numbers are off): the Paymo "
            f"number {invoice.number} is kept in the private note",
            record,
        )
    if invoice.due_date is not None:
        payload["DueDate"] = invoice.due_date.isoformat()
        term_id = await _term_for(ctx, (invoice.due_date - txn_date).days)
        if term_id is not None:
            payload["SalesTermRef"] = {"value": term_id}
    if invoice.notes and invoice.notes.strip():
        payload["CustomerMemo"] = {"value": invoice.notes.strip()[:CUSTOMER_MEMO_MAX_LENGTH]}
    if facts.multicurrency:
        payload["CurrencyRef"] = {"value": currency}
        if rate is not None:
            payload["ExchangeRate"] = rate
    if facts.tax_model == "global" and mapping.calculation is not None:
        payload["GlobalTaxCalculation"] = mapping.calculation
    if mapping.override is not None:
        payload["TxnTaxDetail"] = _tax_override(mapping, facts)
    if draft.blocked:
        return None
    return _Built(
        payload=payload,
        mapping=mapping,
        customer=customer,
        line_count=len(lines),
        txn_date=txn_date,
    )


async def _tax_mapping(
    ctx: SyncContext, header: PaymoInvoiceHeader, facts: CompanyFacts, draft: _Draft, record: str
) -> TaxMapping | None:
    """The domain's TaxMapping for this invoice: the policy's codes, resolved, with QBO's rates."""
    settings = ctx.mappings.tax
    if facts.tax_model == "us":
        # Under AST lines are TAX or NON and QBO picks the rate from the ship-to address; the rate is
        # not predicted, so Paymo's tax is always stated as the TotalTax override.
        return TaxMapping(model="us", us_ast_rate=None)
    codes = await ctx.qbo.query_all(qbo_models.TaxCode, ACTIVE_OR_INACTIVE)
    rates = {rate.Id: rate for rate in await ctx.qbo.query_all(qbo_models.TaxRate, ACTIVE_OR_INACTIVE)}
    table = {code.Id: qbo_tax_code(code, rates) for code in codes if code.Id is not None}
    charged = [header.tax, header.tax2]
    choices: list[TaxCodeChoice] = []
    ref = settings.code_for(charged, tax_on_tax=header.tax_on_tax)
    if ref is not None and any(percent != 0 for percent in charged):
        code_id = await ctx.resolve(qbo_models.TaxCode, ref, purpose="mappings.tax.codes")
        choices.append(TaxCodeChoice(header.tax, header.tax2, code_id, header.tax_on_tax))
    # An invoice that charges no tax at all uses the policy's code for "no tax" (e.g. zero-rated
    # exports); lines Paymo leaves untaxed on a taxed invoice use the exempt code.
    untaxed_ref = settings.code_for([]) if all(percent == 0 for percent in charged) else settings.exempt_code
    exempt_id = (
        await ctx.resolve(qbo_models.TaxCode, untaxed_ref, purpose="mappings.tax.exempt_code")
        if untaxed_ref is not None
        else None
    )
    for code_id in {choice.tax_code_id for choice in choices} | ({exempt_id} if exempt_id else set()):
        used = table.get(code_id)
        if used is not None and not used.active:
            draft.findings.block(
                "INACTIVE_REF",
                f"the tax mapping uses QuickBooks TaxCode {used.name!r} (Id {used.id}), which is inactive "
                "(error 610); reactivate it in QuickBooks or change mappings.tax in policies.yaml",
                record,
            )
    return TaxMapping(
        model="global",
        calculation=settings.global_tax_calculation,
        choices=tuple(choices),
        exempt_code_id=exempt_id,
        tax_codes=table,
        apply_tax_after_discount=True,
    )


def qbo_tax_code(code: qbo_models.TaxCode, rates: Mapping[str | None, qbo_models.TaxRate]) -> QboTaxCode:
    """The domain's view of a QBO TaxCode: its sales rates (those ``rates``, by Id, holds) and whether it
    is active. An applicability QBO may add later counts as ``TaxOnAmount``."""
    assert code.Id is not None
    details = code.SalesTaxRateList.TaxRateDetail if code.SalesTaxRateList else None
    rate_details: list[QboTaxRateDetail] = []
    for detail in details or []:
        rate_id = detail.TaxRateRef.value if detail.TaxRateRef else None
        rate = rates.get(rate_id) if rate_id else None
        if rate_id is None or rate is None or rate.RateValue is None:
            continue
        applicable = detail.TaxTypeApplicable or "TaxOnAmount"
        rate_details.append(
            QboTaxRateDetail(
                rate_id=rate_id,
                rate_value=rate.RateValue,
                applicable=cast(TaxTypeApplicable, applicable if applicable in _TAX_TYPES else "TaxOnAmount"),
                order=detail.TaxOrder or 0,
                name=rate.Name or "",
            )
        )
    return QboTaxCode(
        id=code.Id, name=code.Name or "", rates=tuple(rate_details), active=code.Active is not False
    )


def _tax_override(mapping: QboInvoiceMapping, facts: CompanyFacts) -> dict[str, Any]:
    assert mapping.override is not None
    if facts.tax_model == "us":
        return {"TotalTax": mapping.override.total_tax}
    return {
        "TotalTax": mapping.override.total_tax,
        "TaxLine": [
            {
                "Amount": line.amount,
                "DetailType": "TaxLineDetail",
                "TaxLineDetail": {
                    "TaxRateRef": {"value": line.rate_id},
                    "PercentBased": True,
                    "TaxPercent": line.percent,
                    "NetAmountTaxable": line.net_amount_taxable,
                },
            }
            for line in mapping.override.tax_lines
        ],
    }


async def _item_refs(
    ctx: SyncContext, items: Sequence[paymo_models.InvoiceItem], draft: _Draft, record: str
) -> list[str] | None:
    """The QBO Item of each line: an active item named like the Paymo line, else the policy's service item."""
    catalogue = await ctx.qbo.query_all(qbo_models.Item, ACTIVE_OR_INACTIVE)
    by_name = {
        (item.Name or "").strip().casefold(): item
        for item in catalogue
        if item.Active is not False and item.Type in ("Service", "NonInventory") and item.Id is not None
    }
    service_id = await ctx.resolve(
        qbo_models.Item, ctx.mappings.service_item, purpose="mappings.service_item"
    )
    service = next((item for item in catalogue if item.Id == service_id), None)
    chosen: list[str] = []
    for line in items:
        named = by_name.get((line.item or "").strip().casefold())
        chosen.append(named.Id if named is not None and named.Id is not None else service_id)
    if service_id in chosen and (service is None or service.Active is False):
        draft.findings.block(
            "INACTIVE_REF",
            f"the service item {ctx.mappings.service_item.describe()} is inactive or missing in "
            "QuickBooks (error 610); reactivate it or change mappings.service_item in policies.yaml",
            record,
        )
        return None
    accounts = {
        ref.value for item in catalogue if item.Id in chosen and (ref := item.IncomeAccountRef) is not None
    }
    for account_id in sorted(accounts):
        account = await ctx.qbo.read(qbo_models.Account, account_id)
        if account.Active is False:
            draft.findings.block(
                "INACTIVE_REF",
                f"QuickBooks income account {account.Name!r} (Id {account_id}) used by the invoice's items "
                "is inactive (error 610); reactivate it or map the lines to another item",
                record,
            )
    return None if draft.blocked else chosen


async def _term_for(ctx: SyncContext, due_days: int) -> str | None:
    """The active standard QBO term with exactly Paymo's due interval (Net 30 for 30 days), if any."""
    terms = await ctx.qbo.query_all(qbo_models.Term)
    for term in terms:
        if term.Active is not False and term.DueDays == due_days and term.DayOfMonthDue is None:
            return term.Id
    return None


def _service_date(item: paymo_models.InvoiceItem, zone: dt.tzinfo) -> dt.date | None:
    """The last day of the time billed on a line (its time entries, in the company's time zone)."""
    days: list[dt.date] = []
    for entry in item.entries or []:
        if entry.date is not None:
            days.append(entry.date)
        elif entry.end_time is not None:
            days.append(entry.end_time.astimezone(zone).date())
    return max(days) if days else None


def _sales_line(
    item: paymo_models.InvoiceItem, mapped: MappedLine, item_id: str, currency: str, zone: dt.tzinfo
) -> dict[str, Any]:
    text = (item.item or "").strip()
    extra = (item.description or "").strip()
    description = f"{text} — {extra}" if text and extra else text or extra
    if mapped.qty_adjusted:
        # QBO needs Qty × UnitPrice to round to Amount; the quantity the client saw stays readable.
        description = f"{description} ({item.quantity} × {item.price_unit} {currency})".strip()
    detail: dict[str, Any] = {
        "ItemRef": {"value": item_id},
        "Qty": mapped.qty,
        "UnitPrice": mapped.unit_price,
    }
    if mapped.tax_code_id is not None:
        detail["TaxCodeRef"] = {"value": mapped.tax_code_id}
    if mapped.tax_inclusive_amt is not None:
        detail["TaxInclusiveAmt"] = mapped.tax_inclusive_amt
    service_date = _service_date(item, zone)
    if service_date is not None:
        detail["ServiceDate"] = service_date.isoformat()
    line: dict[str, Any] = {"DetailType": "SalesItemLineDetail", "Amount": mapped.amount}
    if description:
        line["Description"] = description[:DESCRIPTION_MAX_LENGTH]
    line["SalesItemLineDetail"] = detail
    return line


def _expect(built: _Built, customer_ref: str | None) -> dict[str, Any]:
    """What the read-back must show; a customer created in the same plan is named by its placeholder,
    which the executor resolves like the payload's."""
    expected = built.mapping.expected
    assert expected is not None
    wanted: dict[str, Any] = {
        "TotalAmt": expected.total,
        "TxnTaxDetail.TotalTax": expected.total_tax,
        # QBO appends its own SubTotalLineDetail line to what we send.
        "Line.count": built.line_count + 1,
    }
    if customer_ref is not None:
        wanted["CustomerRef.value"] = customer_ref
    if "DocNumber" in built.payload:
        wanted["DocNumber"] = built.payload["DocNumber"]
    if "CurrencyRef" in built.payload:
        wanted["CurrencyRef.value"] = built.payload["CurrencyRef"]["value"]
    return wanted


def _after_facts(invoice: paymo_models.Invoice, built: _Built, currency: str) -> dict[str, Any]:
    expected = built.mapping.expected
    assert expected is not None
    return {
        "amount": expected.total,
        "currency": currency,
        "txn_date": built.txn_date,
        "TotalAmt": expected.total,
        "TxnTaxDetail.TotalTax": expected.total_tax,
        "paymo_total": invoice.total,
    }


def _plan_create(
    invoice: paymo_models.Invoice,
    built: _Built,
    hash_now: str,
    doc: DocNumber,
    facts: CompanyFacts,
    draft: _Draft,
) -> None:
    draft.changes.extend(built.customer.changes)
    currency = built.mapping.currency
    lookup: dict[str, Any] = {"marker": marker(INVOICE_LINK_KIND, invoice.id)}
    if facts.custom_txn_numbers:
        lookup["where"] = {"DocNumber": doc.value}
    after = _after_facts(invoice, built, currency)
    after.update({"DocNumber": built.payload.get("DocNumber"), "Line.count": built.line_count + 1})
    draft.changes.append(
        Change(
            action="create",
            entity="invoice",
            paymo_id=invoice.id,
            after=after,
            payload=built.payload,
            summary=(
                f"Create QuickBooks invoice {built.payload.get('DocNumber') or invoice.number} for "
                f"{currency} {built.mapping.paymo.total} (Paymo invoice {invoice.number})"
            ),
            reason="not in QuickBooks yet",
            target="quickbooks",
            wire_entity="Invoice",
            link_kind=INVOICE_LINK_KIND,
            content_hash=hash_now,
            lookup=lookup,
            expect=_expect(built, built.customer.customer_ref),
        )
    )
    draft.totals[currency] = built.mapping.paymo.total


# --------------------------------------------------------------------------------------------
# Re-sync: sparse update
# --------------------------------------------------------------------------------------------


def _path(wire: Mapping[str, Any], path: str) -> Any:
    value: Any = wire
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def _same(left: Any, right: Any) -> bool:
    return canonical_json(_plain(left)) == canonical_json(_plain(right))


def _plain(value: Any) -> Any:
    """Wire values made comparable: numbers as Decimals, dates as ISO text."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


_LINE_DETAIL_KEYS: Final = ("ItemRef", "Qty", "UnitPrice", "TaxCodeRef", "ServiceDate", "TaxInclusiveAmt")


def _line_shape(line: Mapping[str, Any]) -> dict[str, Any] | None:
    """What identifies a line's content (QBO adds Ids, LineNum, names and a subtotal line)."""
    kind = line.get("DetailType")
    if kind == "SalesItemLineDetail":
        detail: Mapping[str, Any] = line.get("SalesItemLineDetail") or {}
        shape: dict[str, Any] = {
            "kind": kind,
            "Amount": line.get("Amount"),
            "Description": line.get("Description") or "",
        }
        for key in _LINE_DETAIL_KEYS:
            value = detail.get(key)
            if isinstance(value, Mapping):
                value = value.get("value")
            shape[key] = value
        return shape
    if kind == "DiscountLineDetail":
        discount: Mapping[str, Any] = line.get("DiscountLineDetail") or {}
        return {
            "kind": kind,
            "Amount": line.get("Amount"),
            "PercentBased": bool(discount.get("PercentBased")),
            "Description": line.get("Description") or "",
        }
    return None


def _lines_shape(lines: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    return [shape for line in lines if (shape := _line_shape(line)) is not None]


def _plan_update(
    invoice: paymo_models.Invoice,
    built: _Built,
    hash_now: str,
    existing: qbo_models.Invoice,
    link: Link | None,
    facts: CompanyFacts,
    draft: _Draft,
) -> None:
    assert existing.Id is not None
    expected = built.mapping.expected
    assert expected is not None
    currency = built.mapping.currency
    record = f"quickbooks:invoice:{existing.Id}"
    wire = existing.to_wire()
    wanted = built.payload
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    payload: dict[str, Any] = {}

    current_currency = _path(wire, "CurrencyRef.value")
    wanted_currency = _path(wanted, "CurrencyRef.value")
    if current_currency and wanted_currency and current_currency != wanted_currency:
        draft.findings.block(
            "CURRENCY_CHANGED",
            f"Paymo invoice {invoice.number} is now in {wanted_currency}, but QuickBooks invoice "
            f"{existing.Id} is in {current_currency}; QuickBooks cannot change a transaction's currency: "
            "void it and sync again",
            record,
        )
        return
    for path in _HEADER_PATHS:
        new = _path(wanted, path)
        if new is None:
            continue
        old = _path(wire, path)
        if _same(old, new):
            continue
        before[path] = old
        after[path] = new
        top = path.split(".")[0]
        payload[top] = wanted[top]
    if not _marked_for(existing.PrivateNote, invoice.id):
        before["PrivateNote"] = existing.PrivateNote
        after["PrivateNote"] = wanted["PrivateNote"]
        payload["PrivateNote"] = wanted["PrivateNote"]

    customer_ref = built.customer.customer_ref
    current_customer = _path(wire, "CustomerRef.value")
    if customer_ref is not None and customer_ref != current_customer:
        before["CustomerRef.value"] = current_customer
        after["CustomerRef.value"] = customer_ref
        payload["CustomerRef"] = wanted["CustomerRef"]
        draft.findings.warn(
            "CUSTOMER_MOVED",
            f"QuickBooks invoice {existing.Id} belongs to customer {current_customer}, but Paymo client "
            f"{invoice.client_id} is now linked to {customer_ref}; the update moves the invoice to that "
            "customer",
            record,
        )

    lines_changed = not _same(_lines_shape(wire.get("Line") or []), _lines_shape(wanted["Line"]))
    tax_changed = not _same(_path(wire, "TxnTaxDetail.TotalTax") or ZERO, expected.total_tax)
    total_changed = not _same(existing.TotalAmt or ZERO, expected.total)
    if lines_changed or tax_changed or total_changed:
        paid = (existing.TotalAmt or ZERO) - (existing.Balance if existing.Balance is not None else ZERO)
        if expected.total < paid:
            draft.findings.block(
                "PAYMENTS_EXCEED_TOTAL",
                f"QuickBooks invoice {existing.Id} has {paid} of payments applied, more than the new total "
                f"{expected.total}; unapply the excess in QuickBooks first",
                record,
            )
            return
        before.update(
            {
                "TotalAmt": existing.TotalAmt,
                "TxnTaxDetail.TotalTax": _path(wire, "TxnTaxDetail.TotalTax"),
                "Line.count": len(wire.get("Line") or []),
            }
        )
        after.update(
            {
                "TotalAmt": expected.total,
                "TxnTaxDetail.TotalTax": expected.total_tax,
                "Line.count": built.line_count + 1,
            }
        )
        # QBO replaces Line wholesale and recomputes tax from it, so both travel together.
        payload["Line"] = wanted["Line"]
        if "TxnTaxDetail" in wanted:
            payload["TxnTaxDetail"] = wanted["TxnTaxDetail"]
        for key in ("GlobalTaxCalculation", "ApplyTaxAfterDiscount"):
            if key in wanted:
                payload[key] = wanted[key]
    if existing.TxnDate is not None and facts.in_closed_period(existing.TxnDate):
        draft.findings.block(
            "CLOSED_PERIOD",
            f"QuickBooks invoice {existing.Id} is dated {existing.TxnDate}, in the period closed on "
            f"{facts.book_close_date}; QuickBooks refuses to change it (error 6210). Reopen the period in "
            "QuickBooks to update it",
            record,
        )
        return

    if not payload:
        if link is None:
            draft.changes.extend(built.customer.changes)
            draft.changes.append(
                Change(
                    action="link",
                    entity="invoice",
                    paymo_id=invoice.id,
                    qbo_id=existing.Id,
                    after={"qbo_invoice": existing.DocNumber or existing.Id},
                    summary=(
                        f"Link Paymo invoice {invoice.number} to QuickBooks invoice {existing.Id}, which an "
                        "earlier run created (found by its marker)"
                    ),
                    reason="found by marker; content already equal",
                    target="ledger",
                    link_kind=INVOICE_LINK_KIND,
                    content_hash=hash_now,
                    sync_token=existing.SyncToken,
                )
            )
            return
        draft.changes.append(
            _skip(
                invoice,
                f"QuickBooks invoice {existing.Id} already shows Paymo invoice {invoice.number}",
                "content equal on both sides",
                qbo_id=existing.Id,
            )
        )
        return

    guard_overwrite(
        link,
        existing,
        payload,
        before=before,
        after=after,
        target=f"QuickBooks invoice {existing.DocNumber or existing.Id}",
        source=f"Paymo invoice {invoice.number}",
        record=record,
        findings=draft.findings,
    )
    draft.changes.extend(built.customer.changes)
    after.update({"amount": expected.total, "currency": currency, "txn_date": built.txn_date})
    changed = sorted({path.split(".")[0] for path in before} - {"TotalAmt", "TxnTaxDetail"})
    draft.changes.append(
        Change(
            action="update",
            entity="invoice",
            paymo_id=invoice.id,
            qbo_id=existing.Id,
            before=before,
            after=after,
            payload=payload,
            summary=(
                f"Update QuickBooks invoice {existing.DocNumber or existing.Id} from Paymo invoice "
                f"{invoice.number} ({', '.join(changed) or 'totals'})"
            ),
            reason="changed in Paymo since the last sync" if link is not None else "found by marker; differs",
            target="quickbooks",
            wire_entity="Invoice",
            link_kind=INVOICE_LINK_KIND,
            content_hash=hash_now,
            sync_token=existing.SyncToken,
            expect=_expect(built, built.customer.customer_ref),
        )
    )
    draft.totals[currency] = expected.total
