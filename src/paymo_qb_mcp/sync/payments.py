"""Two-way payments: Paymo invoice payments → QBO Payments, QBO Payments → Paymo invoice payments.

Only invoices that are synced (ledger kind ``invoice``) take part. Each direction copies only what the
other side lacks, and nothing twice:

- to QuickBooks: a Paymo payment not yet pushed (ledger kind ``payment_to_qbo``) becomes a QBO Payment
  with one line applied to the linked QBO invoice and the marker ``paymo:payment:<id>`` in
  ``PrivateNote``; a Paymo payment that *we* wrote from QuickBooks (its notes carry
  ``qbo:payment:<id>``) is never sent back (echo suppression);
- to Paymo: each (QBO payment, QBO invoice) application — one QBO payment may pay several invoices —
  becomes one Paymo invoice payment, unless the QBO payment is ours (marker, or linked in the ledger),
  voided, or already recorded (done-key ``"<qbo payment id>:<qbo invoice id>"`` under
  ``payment_to_paymo``).

Item by item (``plan_payment_items``, what ``mark_paid`` decides on): each synced invoice's payments are
an item, and invoices one QBO payment pays together are one item, so that its copies go together.

An amount that would exceed the target invoice's open balance is reported as a finding, never written:
the two systems then disagree about what was paid, which a human has to settle. A Paymo payment and a
QBO payment with the same amount and date on the same invoice are taken to be one receipt entered on
both sides: the plan links them instead of copying each across. A pushed payment that changed in Paymo
is updated in QuickBooks — put to a human when that would overwrite what someone changed in QuickBooks
since our last write (``EDITED_IN_QUICKBOOKS``).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final, Literal

from paymo_qb_mcp.domain.keys import add_marker, content_hash, find_markers, marker
from paymo_qb_mcp.domain.money import ZERO, normalize_currency, quantize
from paymo_qb_mcp.domain.plan import Change, FindingList, Plan
from paymo_qb_mcp.errors import InputError, NotFound
from paymo_qb_mcp.paymo import models as paymo_models
from paymo_qb_mcp.paymo.client import LARGEST_PAGE_SIZE
from paymo_qb_mcp.paymo.where import ge as paymo_ge
from paymo_qb_mcp.paymo.where import in_ as paymo_in
from paymo_qb_mcp.quickbooks import models as qbo_models
from paymo_qb_mcp.quickbooks.models import PRIVATE_NOTE_MAX_LENGTH, is_voided
from paymo_qb_mcp.quickbooks.query import ge, in_
from paymo_qb_mcp.store.ledger import Link
from paymo_qb_mcp.sync.context import CompanyFacts, SyncContext
from paymo_qb_mcp.sync.invoices import INVOICE_LINK_KIND, exchange_rate
from paymo_qb_mcp.sync.items import ItemDraft, ItemizedPlan, PlannedItem, merge_items
from paymo_qb_mcp.sync.qbo_edits import guard_overwrite

__all__ = [
    "KIND_INVOICE",
    "KIND_PAYMENT_TO_PAYMO",
    "KIND_PAYMENT_TO_QBO",
    "TOOL",
    "Direction",
    "applications",
    "payment_done_key",
    "paymo_payment_ids_in_note",
    "plan_payment_items",
    "plan_payments",
    "qbo_id_order",
    "qbo_payment_ids_in_note",
    "qbo_payment_note",
    "qbo_payments_for",
]

TOOL: Final = "mark_paid"
KIND_INVOICE: Final = INVOICE_LINK_KIND
KIND_PAYMENT_TO_QBO: Final = "payment_to_qbo"
KIND_PAYMENT_TO_PAYMO: Final = "payment_to_paymo"
Direction = Literal["both", "to_paymo", "to_quickbooks"]
_DIRECTIONS: Final = frozenset({"both", "to_paymo", "to_quickbooks"})

_QBO_NOTE_PREFIX: Final = "qbo:payment:"
# The same boundaries as domain.keys markers: "qbo:payment:12" must not be read as payment 1.
_QBO_NOTE_PATTERN: Final = re.compile(r"(?<![\w:])qbo:payment:([A-Za-z0-9]+)(?![\w:])")
_QUERY_CHUNK: Final = 100
# Mapping name of the account payments are deposited to; policies.yaml `mappings` may not define it
# yet, in which case QBO's default (Undeposited Funds) applies.
_DEPOSIT_MAPPING: Final = "payment_deposit_account"


# --- shared helpers (the reconciliation report reads payments the same way) ------------------------


def qbo_payment_note(qbo_payment_id: str) -> str:
    """The ``notes`` of a Paymo payment written from QBO payment ``qbo_payment_id`` (its origin marker)."""
    return f"{_QBO_NOTE_PREFIX}{qbo_payment_id}"


def qbo_payment_ids_in_note(note: str | None) -> set[str]:
    """The QBO payment ids whose origin marker a Paymo payment's ``notes`` carries."""
    return set(_QBO_NOTE_PATTERN.findall(note or ""))


def paymo_payment_ids_in_note(note: str | None) -> set[int]:
    """The Paymo payment ids whose ``paymo:payment:<id>`` marker a QBO ``PrivateNote`` carries."""
    return {found.paymo_id for found in find_markers(note) if found.kind == "payment"}


def payment_done_key(qbo_payment_id: str, qbo_invoice_id: str) -> str:
    """Ledger done-key (kind ``payment_to_paymo``) of one QBO payment's application to one invoice."""
    return f"{qbo_payment_id}:{qbo_invoice_id}"


def qbo_id_order(qbo_id: str | None) -> tuple[int, str]:
    """Sort key of a QBO Id: QBO's Ids are numbers sent as text, so ``"9"`` comes before ``"10"``."""
    text = qbo_id or ""
    return (int(text), text) if text.isdigit() else (0, text)


def applications(payment: qbo_models.Payment) -> dict[str, Decimal]:
    """QBO invoice id → the amount this payment applies to it (lines to the same invoice summed)."""
    applied: dict[str, Decimal] = {}
    for line in payment.Line or ():
        for linked in line.LinkedTxn or ():
            if linked.TxnType == "Invoice" and line.Amount is not None:
                applied[linked.TxnId] = applied.get(linked.TxnId, ZERO) + line.Amount
    return applied


# --- planning -------------------------------------------------------------------------------------


@dataclass
class _SyncedInvoice:
    paymo: paymo_models.Invoice
    link: Link
    qbo: qbo_models.Invoice | None = None

    @property
    def number(self) -> str:
        return self.paymo.number or f"#{self.paymo.id}"

    @property
    def currency(self) -> str:
        return normalize_currency(self.paymo.currency or "")

    @property
    def record(self) -> str:
        return f"paymo:invoice:{self.paymo.id}"

    @property
    def payments_oldest_first(self) -> list[paymo_models.InvoicePayment]:
        return sorted(self.paymo.invoicepayments or (), key=lambda p: (p.date or dt.date.min, p.id))

    def label(self, payment: paymo_models.InvoicePayment, amount: Decimal) -> str:
        """How findings and summaries name one of the invoice's Paymo payments."""
        return f"Paymo payment {payment.id} ({self.currency} {amount}) on {self.number}"


@dataclass
class _Planner:
    ctx: SyncContext
    facts: CompanyFacts
    since: dt.date | None
    direction: Direction
    changes: list[Change] = field(default_factory=list)
    findings: FindingList = field(default_factory=FindingList)
    totals: dict[str, Decimal] = field(default_factory=dict)
    _rates: dict[tuple[str, dt.date], Decimal | None] = field(default_factory=dict)
    _deposit_account: str | None = None
    _deposit_resolved: bool = False
    # QBO payments paired with a Paymo payment in this plan: never copied back to Paymo.
    _paired: dict[str, int] = field(default_factory=dict)

    def in_scope(self, day: dt.date | None) -> bool:
        return self.since is None or (day is not None and day >= self.since)

    def add(self, change: Change, currency: str | None = None, amount: Decimal | None = None) -> None:
        self.changes.append(change)
        if change.writes and currency is not None and amount is not None and change.action == "create":
            self.totals[currency] = self.totals.get(currency, ZERO) + amount

    async def deposit_account(self) -> str | None:
        if not self._deposit_resolved:
            ref = self.ctx.mappings.payment_deposit_account
            if ref is not None:
                self._deposit_account = await self.ctx.resolve(
                    qbo_models.Account, ref, purpose=f"mappings.{_DEPOSIT_MAPPING}"
                )
            self._deposit_resolved = True
        return self._deposit_account

    async def rate(self, currency: str, on: dt.date) -> Decimal | None:
        key = (currency, on)
        if key not in self._rates:
            self._rates[key] = await exchange_rate(self.ctx, currency, on)
        return self._rates[key]

    # -- one invoice ---------------------------------------------------------------------------

    async def invoice(self, synced: _SyncedInvoice, qbo_payments: Sequence[qbo_models.Payment]) -> None:
        qbo_invoice = synced.qbo
        if qbo_invoice is None or qbo_invoice.Id is None:
            self.findings.warn(
                "QBO_INVOICE_MISSING",
                f"Paymo invoice {synced.number} is linked to QuickBooks invoice {synced.link.qbo_id}, which "
                "no longer exists; run sync_invoice for it again before recording payments",
                synced.record,
            )
            return
        qbo_currency = qbo_invoice.CurrencyRef.value if qbo_invoice.CurrencyRef else self.facts.home_currency
        if qbo_currency != synced.currency:
            self.findings.warn(
                "CURRENCY_MISMATCH",
                f"Paymo invoice {synced.number} is in {synced.currency} but its QuickBooks invoice "
                f"{qbo_invoice.DocNumber or qbo_invoice.Id} is in {qbo_currency}; payments cannot be copied "
                "between them",
                synced.record,
            )
            return
        applied = [
            (payment, amount)
            for payment in qbo_payments
            if payment.Id is not None and (amount := applications(payment).get(qbo_invoice.Id)) is not None
        ]
        recorded_from_qbo = self._recorded_from_qbo(synced, qbo_invoice.Id, qbo_payments)
        self._deleted_after_push(synced, applied)
        paired = self._pair_receipts(synced, qbo_invoice.Id, applied, recorded_from_qbo)
        if self.direction in ("both", "to_quickbooks"):
            await self._to_quickbooks(synced, qbo_invoice, applied, qbo_payments, recorded_from_qbo, paired)
        if self.direction in ("both", "to_paymo"):
            self._to_paymo(synced, qbo_invoice, applied, qbo_payments)

    def _recorded_from_qbo(
        self, synced: _SyncedInvoice, qbo_invoice_id: str, qbo_payments: Sequence[qbo_models.Payment]
    ) -> set[int]:
        """Paymo payments of this invoice that came from QBO: by their note, or by the ledger."""
        ids = {
            payment.id
            for payment in synced.paymo.invoicepayments or ()
            if qbo_payment_ids_in_note(payment.notes)
        }
        ledger = self.ctx.ledger
        for payment in qbo_payments:
            assert payment.Id is not None
            done = ledger.done_value(KIND_PAYMENT_TO_PAYMO, payment_done_key(payment.Id, qbo_invoice_id))
            if done and done.isdigit():
                ids.add(int(done))
        return ids

    # -- Paymo → QuickBooks ----------------------------------------------------------------------

    async def _to_quickbooks(
        self,
        synced: _SyncedInvoice,
        qbo_invoice: qbo_models.Invoice,
        applied: Sequence[tuple[qbo_models.Payment, Decimal]],
        qbo_payments: Sequence[qbo_models.Payment],
        recorded_from_qbo: set[int],
        paired: set[int],
    ) -> None:
        assert qbo_invoice.Id is not None
        ledger = self.ctx.ledger
        # Every payment of the customer, voided ones too: a marker anywhere means "already pushed".
        by_marker = {
            paymo_id: payment
            for payment in qbo_payments
            for paymo_id in paymo_payment_ids_in_note(payment.PrivateNote)
        }
        open_balance = (
            qbo_invoice.Balance if qbo_invoice.Balance is not None else qbo_invoice.TotalAmt or ZERO
        )
        for payment in synced.payments_oldest_first:
            if not self.in_scope(payment.date) or payment.id in paired:
                continue
            amount = quantize(payment.amount, synced.currency)
            label = synced.label(payment, amount)
            if payment.id in recorded_from_qbo:
                origin = ", ".join(sorted(qbo_payment_ids_in_note(payment.notes))) or "a QuickBooks payment"
                self.add(
                    _skip(
                        f"{label}: came from QuickBooks payment {origin}; not sent back",
                        paymo_id=payment.id,
                        reason="echo suppression: this tool wrote it from QuickBooks",
                    )
                )
                continue
            digest = _paymo_payment_hash(synced.paymo.id, payment, amount)
            link = ledger.link(KIND_PAYMENT_TO_QBO, payment.id)
            if link is not None:
                await self._already_pushed(synced, payment, amount, digest, link, qbo_payments, label)
                continue
            found = by_marker.get(payment.id)
            if found is not None and found.Id is not None:
                # Hash what QBO holds, so that a Paymo payment changed since shows up as an update next time.
                held = applications(found).get(qbo_invoice.Id, ZERO)
                self.add(
                    Change(
                        action="link",
                        entity="payment",
                        target="ledger",
                        link_kind=KIND_PAYMENT_TO_QBO,
                        paymo_id=payment.id,
                        qbo_id=found.Id,
                        content_hash=_payment_hash(
                            synced.paymo.id, quantize(held, synced.currency), found.TxnDate
                        ),
                        sync_token=found.SyncToken,
                        summary=f"{label}: link to QuickBooks payment {found.Id}, which carries its marker",
                        reason="an earlier run created it but its link was not stored",
                    )
                )
                continue
            if synced.paymo.status == "void" or is_voided(qbo_invoice):
                self.findings.warn(
                    "INVOICE_VOID",
                    f"{label}: the invoice is void in "
                    f"{'Paymo' if synced.paymo.status == 'void' else 'QuickBooks'}; not copied",
                    f"paymo:payment:{payment.id}",
                )
                continue
            if amount > open_balance:
                self.findings.warn(
                    "PAYMENT_EXCEEDS_BALANCE",
                    f"{label}: QuickBooks invoice {qbo_invoice.DocNumber or qbo_invoice.Id} has only "
                    f"{synced.currency} {open_balance} open, {amount - open_balance} less than the payment; "
                    "nothing is written — find the payment that is missing in Paymo or recorded twice in "
                    "QuickBooks",
                    f"paymo:payment:{payment.id}",
                )
                continue
            change = await self._qbo_payment_create(synced, qbo_invoice, payment, amount, digest, label)
            if change is not None:
                open_balance -= amount
                self.add(change, synced.currency, amount)

    def _pair_receipts(
        self,
        synced: _SyncedInvoice,
        qbo_invoice_id: str,
        applied: Sequence[tuple[qbo_models.Payment, Decimal]],
        recorded_from_qbo: set[int],
    ) -> set[int]:
        """Link each Paymo payment not yet on either side's books of the other to a QBO payment of the
        same amount and date on this invoice (one receipt typed into both systems), so that neither is
        copied across whatever the direction; returns the Paymo payment ids linked."""
        ledger = self.ctx.ledger
        linked: set[int] = set()
        for payment in synced.payments_oldest_first:
            if (
                not self.in_scope(payment.date)
                or payment.id in recorded_from_qbo
                or ledger.link(KIND_PAYMENT_TO_QBO, payment.id) is not None
            ):
                continue
            amount = quantize(payment.amount, synced.currency)
            for candidate, applied_amount in applied:
                assert candidate.Id is not None
                if (
                    candidate.Id in self._paired
                    or quantize(applied_amount, synced.currency) != amount
                    or candidate.TxnDate != payment.date
                    or is_voided(candidate)
                    # A payment spread over several invoices cannot be one Paymo payment.
                    or len(applications(candidate)) != 1
                    or paymo_payment_ids_in_note(candidate.PrivateNote)
                    or ledger.link_by_qbo(KIND_PAYMENT_TO_QBO, candidate.Id) is not None
                    or ledger.is_done(KIND_PAYMENT_TO_PAYMO, payment_done_key(candidate.Id, qbo_invoice_id))
                ):
                    continue
                self._paired[candidate.Id] = payment.id
                linked.add(payment.id)
                label = synced.label(payment, amount)
                self.add(
                    Change(
                        action="link",
                        entity="payment",
                        target="ledger",
                        link_kind=KIND_PAYMENT_TO_QBO,
                        paymo_id=payment.id,
                        qbo_id=candidate.Id,
                        content_hash=_paymo_payment_hash(synced.paymo.id, payment, amount),
                        sync_token=candidate.SyncToken,
                        summary=(
                            f"{label}: link to QuickBooks payment {candidate.Id} (same amount and date on "
                            "the same invoice), so neither is copied across"
                        ),
                        reason="one receipt entered in both systems",
                    )
                )
                self.findings.inform(
                    "PAYMENT_ENTERED_TWICE",
                    f"{label} and QuickBooks payment {candidate.Id} have the same amount and date; the plan "
                    "treats them as one receipt and links them instead of copying each to the other side",
                    f"paymo:payment:{payment.id}",
                )
                break
        return linked

    async def _already_pushed(
        self,
        synced: _SyncedInvoice,
        payment: paymo_models.InvoicePayment,
        amount: Decimal,
        digest: str,
        link: Link,
        qbo_payments: Sequence[qbo_models.Payment],
        label: str,
    ) -> None:
        current = next((p for p in qbo_payments if p.Id == link.qbo_id), None)
        if current is None:
            try:
                current = await self.ctx.qbo.read(qbo_models.Payment, link.qbo_id)
            except NotFound:
                current = None
        if current is None or is_voided(current):
            self.findings.warn(
                "PUSHED_PAYMENT_GONE",
                f"{label} was pushed as QuickBooks payment {link.qbo_id}, which has since been "
                f"{'deleted' if current is None else 'voided'} there; it is not pushed again — delete the "
                "Paymo payment if the QuickBooks change is right",
                f"paymo:payment:{payment.id}",
            )
            return
        if link.content_hash == digest:
            self.add(
                _skip(
                    f"{label}: already in QuickBooks as payment {link.qbo_id}",
                    paymo_id=payment.id,
                    qbo_id=link.qbo_id,
                    reason="unchanged since it was pushed",
                )
            )
            return
        assert current.Id is not None
        before_lines = applications(current)
        if len(before_lines) != 1 or synced.qbo is None or synced.qbo.Id not in before_lines:
            self.findings.warn(
                "PUSHED_PAYMENT_CHANGED",
                f"{label} changed after it was pushed, and QuickBooks payment {current.Id} no longer pays "
                "only this invoice; update it in QuickBooks by hand",
                f"paymo:payment:{payment.id}",
            )
            return
        qbo_invoice_id = synced.qbo.Id
        open_balance = (synced.qbo.Balance or ZERO) + before_lines[qbo_invoice_id]
        if amount > open_balance:
            self.findings.warn(
                "PAYMENT_EXCEEDS_BALANCE",
                f"{label} changed after it was pushed, but QuickBooks invoice "
                f"{synced.qbo.DocNumber or qbo_invoice_id} can take only {synced.currency} {open_balance} "
                f"from it ({amount - open_balance} less); nothing is written",
                f"paymo:payment:{payment.id}",
            )
            return
        payload: dict[str, object] = {
            "TotalAmt": amount,
            "TxnDate": payment.date,
            "Line": [{"Amount": amount, "LinkedTxn": [{"TxnId": qbo_invoice_id, "TxnType": "Invoice"}]}],
        }
        sent = {key: value for key, value in payload.items() if value is not None}
        before: dict[str, Any] = {"TotalAmt": current.TotalAmt, "TxnDate": current.TxnDate}
        after: dict[str, Any] = {"amount": amount, "currency": synced.currency, "txn_date": payment.date}
        guard_overwrite(
            link,
            current,
            sent,
            before=before,
            after=after,
            target=f"QuickBooks payment {current.Id}",
            source=label,
            record=f"paymo:payment:{payment.id}",
            findings=self.findings,
        )
        self.add(
            Change(
                action="update",
                entity="payment",
                target="quickbooks",
                wire_entity="Payment",
                link_kind=KIND_PAYMENT_TO_QBO,
                paymo_id=payment.id,
                qbo_id=current.Id,
                sync_token=current.SyncToken,
                content_hash=digest,
                before=before,
                after=after,
                payload=sent,
                expect={"TotalAmt": amount, "Line.count": 1},
                summary=(
                    f"{label}: update QuickBooks payment {current.Id} "
                    f"(was {current.TotalAmt} on {current.TxnDate})"
                ),
                reason="the Paymo payment changed after it was pushed",
            )
        )

    async def _qbo_payment_create(
        self,
        synced: _SyncedInvoice,
        qbo_invoice: qbo_models.Invoice,
        payment: paymo_models.InvoicePayment,
        amount: Decimal,
        digest: str,
        label: str,
    ) -> Change | None:
        assert qbo_invoice.Id is not None
        record = f"paymo:payment:{payment.id}"
        txn_date = payment.date
        if txn_date is None:
            self.findings.warn("PAYMENT_DATE_MISSING", f"{label} has no date; set it in Paymo first", record)
            return None
        if self.facts.in_closed_period(txn_date):
            self.findings.block(
                "CLOSED_PERIOD",
                f"{label} is dated {txn_date}, in QuickBooks' closed period (books closed through "
                f"{self.facts.book_close_date}); "
                "QuickBooks would refuse it (6210, Account Period Closed): re-date it in Paymo or reopen "
                "the period",
                record,
            )
            return None
        customer = qbo_invoice.CustomerRef.value if qbo_invoice.CustomerRef else None
        if customer is None:
            raise InputError(
                f"QuickBooks invoice {qbo_invoice.Id} has no CustomerRef", field_name="CustomerRef"
            )
        payload: dict[str, object] = {
            "CustomerRef": {"value": customer},
            "TotalAmt": amount,
            "TxnDate": txn_date,
            "Line": [{"Amount": amount, "LinkedTxn": [{"TxnId": qbo_invoice.Id, "TxnType": "Invoice"}]}],
            "PrivateNote": add_marker(
                payment.notes, "payment", payment.id, max_length=PRIVATE_NOTE_MAX_LENGTH
            ),
        }
        after: dict[str, object] = {
            "amount": amount,
            "currency": synced.currency,
            "txn_date": txn_date,
            "paymo_invoice_id": synced.paymo.id,
            "qbo_invoice_id": qbo_invoice.Id,
        }
        expect: dict[str, object] = {"TotalAmt": amount, "CustomerRef.value": customer, "Line.count": 1}
        if self.facts.multicurrency:
            payload["CurrencyRef"] = {"value": synced.currency}
            expect["CurrencyRef.value"] = synced.currency
        if synced.currency != self.facts.home_currency:
            if not self.facts.multicurrency:
                self.findings.block(
                    "MULTICURRENCY_OFF",
                    f"{label} is in {synced.currency}, but the QuickBooks company has multicurrency off",
                    record,
                )
                return None
            rate = await self.rate(synced.currency, txn_date)
            if rate is None:
                self.findings.block(
                    "EXCHANGE_RATE_UNKNOWN",
                    f"{label}: QuickBooks has no {synced.currency}→{self.facts.home_currency} exchange "
                    f"rate on or before {txn_date}; enter one in QuickBooks (Settings → Currencies) and plan "
                    "again — a foreign-currency payment is never recorded at a silent rate of 1",
                    record,
                )
                return None
            payload["ExchangeRate"] = rate
            expect["ExchangeRate"] = rate
            after["exchange_rate"] = rate
        deposit = await self.deposit_account()
        if deposit is not None:
            payload["DepositToAccountRef"] = {"value": deposit}
        tag = marker("payment", payment.id)
        return Change(
            action="create",
            entity="payment",
            target="quickbooks",
            wire_entity="Payment",
            link_kind=KIND_PAYMENT_TO_QBO,
            paymo_id=payment.id,
            content_hash=digest,
            payload=payload,
            after=after,
            lookup={"where": {"CustomerRef": customer, "TxnDate": txn_date}, "marker": tag},
            expect=expect,
            summary=(
                f"Record {label} in QuickBooks, applied to invoice {qbo_invoice.DocNumber or qbo_invoice.Id}"
            ),
        )

    # -- QuickBooks → Paymo ----------------------------------------------------------------------

    def _to_paymo(
        self,
        synced: _SyncedInvoice,
        qbo_invoice: qbo_models.Invoice,
        applied: Sequence[tuple[qbo_models.Payment, Decimal]],
        qbo_payments: Sequence[qbo_models.Payment],
    ) -> None:
        assert qbo_invoice.Id is not None
        ledger = self.ctx.ledger
        siblings = synced.paymo.invoicepayments or []
        by_origin: dict[str, paymo_models.InvoicePayment] = {}
        for sibling in siblings:
            for qbo_id in qbo_payment_ids_in_note(sibling.notes):
                by_origin.setdefault(qbo_id, sibling)
        remaining = synced.paymo.balance
        if remaining is None:
            remaining = synced.paymo.total or ZERO
        self._voided_after_copy(synced, qbo_invoice.Id, qbo_payments)
        ordered = sorted(applied, key=lambda item: (item[0].TxnDate or dt.date.min, qbo_id_order(item[0].Id)))
        for payment, raw_amount in ordered:
            assert payment.Id is not None
            if not self.in_scope(payment.TxnDate) or is_voided(payment):
                continue
            amount = quantize(raw_amount, synced.currency)
            label = (
                f"QuickBooks payment {payment.Id} ({synced.currency} {amount} applied to "
                f"{qbo_invoice.DocNumber or qbo_invoice.Id})"
            )
            own = paymo_payment_ids_in_note(payment.PrivateNote)
            pushed = ledger.link_by_qbo(KIND_PAYMENT_TO_QBO, payment.Id)
            if own or pushed is not None or payment.Id in self._paired:
                sources = sorted(own)
                if pushed is not None and pushed.paymo_id.isdigit():
                    sources = [int(pushed.paymo_id)]
                elif payment.Id in self._paired:
                    sources = [self._paired[payment.Id]]
                self.add(
                    _skip(
                        f"{label}: is Paymo payment {', '.join(map(str, sources))}; not copied back",
                        paymo_id=sources[0] if sources else None,
                        qbo_id=payment.Id,
                        reason="echo suppression: the payment came from Paymo",
                    )
                )
                continue
            key = payment_done_key(payment.Id, qbo_invoice.Id)
            done = ledger.done_value(KIND_PAYMENT_TO_PAYMO, key)
            if done is not None:
                self.add(
                    _skip(
                        f"{label}: already recorded in Paymo as payment {done}",
                        qbo_id=payment.Id,
                        reason="recorded by an earlier run",
                    )
                )
                continue
            note = qbo_payment_note(payment.Id)
            qbo_currency = payment.CurrencyRef.value if payment.CurrencyRef else self.facts.home_currency
            record = f"quickbooks:payment:{payment.Id}"
            recovered = by_origin.get(payment.Id)
            if recovered is None:
                if synced.paymo.status == "void":
                    self.findings.warn(
                        "INVOICE_VOID",
                        f"{label}: Paymo invoice {synced.number} is void; not recorded",
                        record,
                    )
                    continue
                if qbo_currency != synced.currency:
                    self.findings.warn(
                        "CURRENCY_MISMATCH",
                        f"{label} is in {qbo_currency}, Paymo invoice {synced.number} in {synced.currency}; "
                        "not recorded",
                        record,
                    )
                    continue
                if amount > remaining:
                    self.findings.warn(
                        "PAYMENT_EXCEEDS_BALANCE",
                        f"{label}: Paymo invoice {synced.number} has only {synced.currency} {remaining} "
                        f"open, {amount - remaining} less than the payment; nothing is written — find the "
                        "payment that is missing in QuickBooks or recorded twice in Paymo",
                        record,
                    )
                    continue
                remaining -= amount
            after: dict[str, object] = {
                "amount": amount,
                "currency": synced.currency,
                "txn_date": payment.TxnDate,
                "paymo_invoice_id": synced.paymo.id,
                "qbo_invoice_id": qbo_invoice.Id,
                "qbo_payment_id": payment.Id,
            }
            payload: dict[str, object] = {"invoice_id": synced.paymo.id, "amount": amount, "notes": note}
            if payment.TxnDate is not None:
                payload["date"] = payment.TxnDate
            summary = f"Record {label} in Paymo on {synced.number}"
            reason = None
            if recovered is not None:
                summary = (
                    f"{label}: already in Paymo as payment {recovered.id} (found by its note); store that"
                )
                reason = "an earlier run wrote it but did not record it in the ledger"
            self.add(
                Change(
                    action="create",
                    entity="payment",
                    target="paymo",
                    wire_entity="invoicepayments",
                    link_kind=KIND_PAYMENT_TO_PAYMO,
                    qbo_id=payment.Id,
                    content_hash=content_hash(
                        {"qbo_payment": payment.Id, "qbo_invoice": qbo_invoice.Id, "amount": amount}
                    ),
                    payload=payload,
                    after=after,
                    lookup={"done_key": key, "marker": note},
                    summary=summary,
                    reason=reason,
                ),
                None if recovered is not None else synced.currency,
                amount,
            )

    def _deleted_after_push(
        self, synced: _SyncedInvoice, applied: Sequence[tuple[qbo_models.Payment, Decimal]]
    ) -> None:
        """The mirror of ``_voided_after_copy``: a QBO payment we pushed whose Paymo payment was deleted.

        Nothing is written (which side is right is a human's call), but mark_paid says so instead of a
        bare skip, as the reconciliation report does.
        """
        present = {payment.id for payment in synced.paymo.invoicepayments or ()}
        for payment, _amount in applied:
            assert payment.Id is not None
            if is_voided(payment) or not self.in_scope(payment.TxnDate):
                continue
            pushed = self.ctx.ledger.link_by_qbo(KIND_PAYMENT_TO_QBO, payment.Id)
            if pushed is not None and pushed.paymo_id.isdigit():
                sources = {int(pushed.paymo_id)}
            else:
                sources = paymo_payment_ids_in_note(payment.PrivateNote)
            if sources and not sources & present:
                self.findings.warn(
                    "PUSHED_PAYMENT_DELETED",
                    f"QuickBooks payment {payment.Id} was recorded from Paymo payment "
                    f"{', '.join(map(str, sorted(sources)))}, which no longer exists on {synced.number}; "
                    "QuickBooks still counts it: void it in QuickBooks if the payment was entered by "
                    "mistake, or enter it in Paymo again",
                    f"quickbooks:payment:{payment.Id}",
                )

    def _voided_after_copy(
        self, synced: _SyncedInvoice, qbo_invoice_id: str, qbo_payments: Sequence[qbo_models.Payment]
    ) -> None:
        # Only while the copy is still in Paymo: once a human deleted it, there is nothing left to say.
        present = {str(payment.id) for payment in synced.paymo.invoicepayments or ()}
        for payment in qbo_payments:
            assert payment.Id is not None
            if not is_voided(payment):
                continue
            done = self.ctx.ledger.done_value(
                KIND_PAYMENT_TO_PAYMO, payment_done_key(payment.Id, qbo_invoice_id)
            )
            if done in present:
                self.findings.warn(
                    "COPIED_PAYMENT_VOIDED",
                    f"QuickBooks payment {payment.Id} was voided after it was recorded in Paymo as payment "
                    f"{done} on {synced.number}; delete that Paymo payment if the void is right",
                    f"paymo:payment:{done}",
                )


def _skip(summary: str, *, paymo_id: int | None = None, qbo_id: str | None = None, reason: str) -> Change:
    return Change(
        action="skip", entity="payment", paymo_id=paymo_id, qbo_id=qbo_id, summary=summary, reason=reason
    )


def _paymo_payment_hash(invoice_id: int, payment: paymo_models.InvoicePayment, amount: Decimal) -> str:
    return _payment_hash(invoice_id, amount, payment.date)


def _payment_hash(invoice_id: int, amount: Decimal, day: dt.date | None) -> str:
    # Notes are left out on purpose: editing a payment's note in Paymo must not rewrite the QBO record.
    return content_hash({"invoice": invoice_id, "amount": amount, "date": day})


def _chunks(items: Sequence[str], size: int = _QUERY_CHUNK) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# --- reading both sides ----------------------------------------------------------------------------


async def _synced_invoices(
    ctx: SyncContext, paymo_invoice_id: int | None, since: dt.date | None, findings: FindingList
) -> list[_SyncedInvoice]:
    ledger = ctx.ledger
    if paymo_invoice_id is not None:
        invoice = await ctx.paymo.get_invoice(paymo_invoice_id, include=("invoicepayments",))
        link = ledger.link(KIND_INVOICE, invoice.id)
        if link is None:
            findings.block(
                "INVOICE_NOT_SYNCED",
                f"Paymo invoice {invoice.number or invoice.id} is not in QuickBooks yet; run "
                "sync_invoice for it first, then record its payments",
                f"paymo:invoice:{invoice.id}",
            )
            return []
        return [_SyncedInvoice(invoice, link)]
    links = {int(link.paymo_id): link for link in ledger.links(KIND_INVOICE) if link.paymo_id.isdigit()}
    found: list[_SyncedInvoice] = []
    ids = sorted(links)
    for chunk in _chunks([str(i) for i in ids]):
        invoices = await ctx.paymo.list_invoices(
            where=paymo_in("id", [int(i) for i in chunk]), include=("invoicepayments",)
        )
        found.extend(_SyncedInvoice(invoice, links[invoice.id]) for invoice in invoices)
    seen = {synced.paymo.id for synced in found}
    for missing in sorted(set(ids) - seen):
        findings.warn(
            "PAYMO_INVOICE_MISSING",
            f"Paymo invoice {missing} is linked to QuickBooks invoice {links[missing].qbo_id} but no "
            "longer exists in Paymo; its payments are not compared",
            f"paymo:invoice:{missing}",
        )
    # Invoices with payments in scope that were never synced: say so rather than skip them silently.
    payments = await ctx.paymo.list_invoice_payments(
        where=paymo_ge("date", since) if since else None, page_size=LARGEST_PAGE_SIZE
    )
    unsynced = sorted(
        {p.invoice_id for p in payments if p.invoice_id is not None and p.invoice_id not in links}
    )
    for invoice_id in unsynced:
        findings.warn(
            "INVOICE_NOT_SYNCED",
            f"Paymo invoice {invoice_id} has payments but is not in QuickBooks yet; run sync_invoice "
            "for it first, then record its payments",
            f"paymo:invoice:{invoice_id}",
        )
    return sorted(found, key=lambda synced: synced.paymo.id)


async def _attach_qbo_invoices(ctx: SyncContext, invoices: Sequence[_SyncedInvoice]) -> None:
    if len(invoices) == 1:
        only = invoices[0]
        try:
            only.qbo = await ctx.qbo.read(qbo_models.Invoice, only.link.qbo_id)
        except NotFound:
            only.qbo = None
        return
    by_id: dict[str, qbo_models.Invoice] = {}
    qbo_ids = sorted({synced.link.qbo_id for synced in invoices})
    for chunk in _chunks(qbo_ids):
        for row in await ctx.qbo.query_all(qbo_models.Invoice, in_("Id", chunk)):
            if row.Id is not None:
                by_id[row.Id] = row
    for synced in invoices:
        synced.qbo = by_id.get(synced.link.qbo_id)


async def qbo_payments_for(
    ctx: SyncContext, invoices: Sequence[qbo_models.Invoice], since: dt.date | None, *, per_customer: bool
) -> list[qbo_models.Payment]:
    """The QBO payments that may apply to ``invoices``: by customer (or by date when ``per_customer`` is
    false and ``since`` is given), plus any the invoices' ``LinkedTxn`` name that the query missed.

    Customers are asked for in ``CustomerRef IN (...)`` groups and the missed payments by ``Id IN (...)``,
    so the number of requests grows with the number of rows returned, not with the number of customers.
    """
    found: dict[str, qbo_models.Payment] = {}
    date_condition = [ge("TxnDate", since)] if since is not None else []
    if per_customer or since is None:
        customers = sorted({inv.CustomerRef.value for inv in invoices if inv.CustomerRef is not None})
        for chunk in _chunks(customers):
            for row in await ctx.qbo.query_all(
                qbo_models.Payment, in_("CustomerRef", chunk), *date_condition
            ):
                if row.Id is not None:
                    found[row.Id] = row
    else:
        for row in await ctx.qbo.query_all(qbo_models.Payment, *date_condition):
            if row.Id is not None:
                found[row.Id] = row
    linked = sorted(
        {
            link.TxnId
            for inv in invoices
            for link in inv.LinkedTxn or ()
            if link.TxnType == "Payment" and link.TxnId not in found
        },
        key=qbo_id_order,
    )
    # A payment deleted since the invoice named it is simply not returned (a read would be NotFound).
    for chunk in _chunks(linked):
        for row in await ctx.qbo.query_all(qbo_models.Payment, in_("Id", chunk)):
            if row.Id is not None and (since is None or (row.TxnDate is not None and row.TxnDate >= since)):
                found[row.Id] = row
    return sorted(found.values(), key=lambda payment: qbo_id_order(payment.Id))


async def plan_payments(
    ctx: SyncContext,
    *,
    paymo_invoice_id: int | None = None,
    since: dt.date | None = None,
    direction: Direction = "both",
) -> Plan:
    """Plan the payments each side lacks for one synced invoice, or for every synced invoice.

    ``since`` keeps payments dated on or after it; ``direction`` limits the copy to one way. Writes
    nothing: apply the plan with ``Executor``/``SyncService.apply``. A blocker on any invoice blocks this
    plan: ``plan_payment_items`` plans each invoice's payments on their own.
    """
    run = await _plan_run(ctx, paymo_invoice_id=paymo_invoice_id, since=since, direction=direction)
    drafts = [draft.build(TOOL) for _synced, draft in run.invoices]
    return merge_items(TOOL, [], run.common, drafts, once=None)


async def plan_payment_items(
    ctx: SyncContext,
    *,
    paymo_invoice_id: int | None = None,
    since: dt.date | None = None,
    direction: Direction = "both",
) -> ItemizedPlan:
    """``plan_payments`` invoice by invoice: each synced invoice with something to say is an item
    (``paymo:invoice:<id>``) holding its payments both ways, and invoices one QuickBooks payment pays
    together are one item (its copies to Paymo go together or not at all). What concerns no one
    invoice (an invoice not synced, one Paymo no longer has) is the run's."""
    run = await _plan_run(ctx, paymo_invoice_id=paymo_invoice_id, since=since, direction=direction)
    common = FindingList(run.common)
    items: list[PlannedItem] = []
    for members in _paid_together(run):
        draft = _joined(members)
        if draft.changes or draft.findings:
            items.append(draft.build(TOOL, common))
    if paymo_invoice_id is not None:
        description = f"the payments of Paymo invoice {paymo_invoice_id}"
    else:
        description = "the payments of every synced invoice" + (f" since {since}" if since else "")
    if direction != "both":
        description += f" ({direction.replace('_', ' ')})"
    return ItemizedPlan(
        tool=TOOL,
        description=description,
        items=tuple(items),
        common=Plan.build(TOOL, [], findings=common),
        noun="invoice with payments",
        nouns="invoices with payments",
    )


@dataclass
class _Run:
    """The run's own findings, each synced invoice with the draft of its payments, and the QBO payments."""

    common: FindingList
    invoices: list[tuple[_SyncedInvoice, ItemDraft]]
    qbo_payments: list[qbo_models.Payment]
    planner: _Planner


async def _plan_run(
    ctx: SyncContext, *, paymo_invoice_id: int | None, since: dt.date | None, direction: Direction
) -> _Run:
    if direction not in _DIRECTIONS:
        raise InputError(
            f"direction must be one of {sorted(_DIRECTIONS)}, not {direction!r}", field_name="direction"
        )
    facts = await ctx.facts()
    common = FindingList()
    invoices = await _synced_invoices(ctx, paymo_invoice_id, since, common)
    planner = _Planner(ctx, facts, since, direction)
    drafts: list[tuple[_SyncedInvoice, ItemDraft]] = []
    qbo_payments: list[qbo_models.Payment] = []
    if invoices:
        await _attach_qbo_invoices(ctx, invoices)
        present = [synced.qbo for synced in invoices if synced.qbo is not None]
        qbo_payments = (
            await qbo_payments_for(ctx, present, since, per_customer=paymo_invoice_id is not None)
            if present
            else []
        )
        by_customer: dict[str, list[qbo_models.Payment]] = {}
        for payment in qbo_payments:
            if payment.CustomerRef is not None:
                by_customer.setdefault(payment.CustomerRef.value, []).append(payment)
        for synced in invoices:
            customer = synced.qbo.CustomerRef.value if synced.qbo and synced.qbo.CustomerRef else ""
            draft = ItemDraft(
                key=synced.record,
                kind="invoice_payments",
                label=f"the payments of Paymo invoice {synced.number}",
                currency=_currency_or_none(synced),
            )
            # The planner writes into this invoice's draft while it plans it.
            planner.changes, planner.findings, planner.totals = draft.changes, draft.findings, draft.totals
            await planner.invoice(synced, by_customer.get(customer, []))
            drafts.append((synced, draft))
    return _Run(common=common, invoices=drafts, qbo_payments=qbo_payments, planner=planner)


def _currency_or_none(synced: _SyncedInvoice) -> str | None:
    try:
        return synced.currency
    except InputError:
        return None


def _paid_together(run: _Run) -> list[list[tuple[_SyncedInvoice, ItemDraft]]]:
    """The invoices as groups that go together: those one QuickBooks payment (in scope, not void) pays
    between them are one group; every other invoice is a group of its own. In the invoices' order."""
    index = {synced.qbo.Id: n for n, (synced, _) in enumerate(run.invoices) if synced.qbo and synced.qbo.Id}
    parent = list(range(len(run.invoices)))

    def root(n: int) -> int:
        while parent[n] != n:
            parent[n] = parent[parent[n]]
            n = parent[n]
        return n

    for payment in run.qbo_payments:
        if is_voided(payment) or not run.planner.in_scope(payment.TxnDate):
            continue
        paid = sorted({index[qbo_id] for qbo_id in applications(payment) if qbo_id in index})
        for other in paid[1:]:
            parent[root(other)] = root(paid[0])
    groups: dict[int, list[tuple[_SyncedInvoice, ItemDraft]]] = {}
    for n, member in enumerate(run.invoices):
        groups.setdefault(root(n), []).append(member)
    return list(groups.values())


def _joined(members: Sequence[tuple[_SyncedInvoice, ItemDraft]]) -> ItemDraft:
    """One draft of invoices paid together (or the one invoice's own)."""
    if len(members) == 1:
        return members[0][1]
    numbers = ", ".join(synced.number for synced, _ in members)
    currencies = {draft.currency for _, draft in members}
    joined = ItemDraft(
        key=members[0][1].key,
        kind="invoice_payments",
        label=f"the payments of Paymo invoices {numbers} (one QuickBooks payment pays them together)",
        currency=currencies.pop() if len(currencies) == 1 else None,
    )
    for _, draft in members:
        joined.changes.extend(draft.changes)
        joined.add_findings(draft.findings)
        for currency, amount in draft.totals.items():
            joined.add_total(currency, amount)
    return joined
