"""The QBO writes of one invoice's plan: create, sparse update (field-level before/after) and void."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any, Final

from paymo_qb_mcp.domain.keys import DocNumber, canonical_json, marker
from paymo_qb_mcp.domain.money import ZERO
from paymo_qb_mcp.domain.plan import Change
from paymo_qb_mcp.paymo import models as paymo_models
from paymo_qb_mcp.quickbooks import models as qbo_models
from paymo_qb_mcp.quickbooks.models import is_voided
from paymo_qb_mcp.store.ledger import Link
from paymo_qb_mcp.sync.context import CompanyFacts
from paymo_qb_mcp.sync.invoices.building import Built, after_facts, expected_fields
from paymo_qb_mcp.sync.invoices.model import (
    HEADER_PATHS,
    INVOICE_LINK_KIND,
    Draft,
    invoice_content_hash,
    marked_for,
    skip_change,
)
from paymo_qb_mcp.sync.qbo_edits import guard_overwrite

__all__ = ["plan_create", "plan_update", "plan_void"]


def plan_void(
    invoice: paymo_models.Invoice,
    existing: qbo_models.Invoice | None,
    link: Link | None,
    facts: CompanyFacts,
    currency: str,
    draft: Draft,
) -> Decimal:
    record = f"paymo:invoice:{invoice.id}"
    if existing is None:
        draft.changes.append(
            skip_change(
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
            skip_change(
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


def plan_create(
    invoice: paymo_models.Invoice,
    built: Built,
    hash_now: str,
    doc: DocNumber,
    facts: CompanyFacts,
    draft: Draft,
) -> None:
    draft.changes.extend(built.customer.changes)
    currency = built.mapping.currency
    lookup: dict[str, Any] = {"marker": marker(INVOICE_LINK_KIND, invoice.id)}
    if facts.custom_txn_numbers:
        lookup["where"] = {"DocNumber": doc.value}
    after = after_facts(invoice, built, currency)
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
            expect=expected_fields(built, built.customer.customer_ref),
        )
    )
    draft.totals[currency] = built.mapping.paymo.total


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


def plan_update(
    invoice: paymo_models.Invoice,
    built: Built,
    hash_now: str,
    existing: qbo_models.Invoice,
    link: Link | None,
    facts: CompanyFacts,
    draft: Draft,
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
    for path in HEADER_PATHS:
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
    if not marked_for(existing.PrivateNote, invoice.id):
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
            skip_change(
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
            expect=expected_fields(built, built.customer.customer_ref),
        )
    )
    draft.totals[currency] = expected.total
