"""The reconciliation report: what differs between Paymo and QuickBooks for a period. Read-only.

For the invoices dated in the period (Paymo's ``date``, QBO's ``TxnDate``): invoices missing on either
side, QBO invoices that carry our marker but are not linked, totals and statuses that disagree,
payments recorded on one side only and balances that differ. Then the billable Paymo time in the period
that is neither billed in Paymo nor pushed (ledger done-markers of kind ``time_entry``), grouped by
client and project (billable by the hour, as ``plan_time`` decides: flat-priced work is not unbilled
time) — including the time added to an entry after its push, which ``plan_time`` pushes next — and
the Paymo expenses in the period not pushed (ledger kind ``expense``).

Nothing here writes: the report reads both services and the ledger, and an agent turns it into plans.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Final

from paymo_qb_mcp.domain.keys import doc_number, find_markers
from paymo_qb_mcp.domain.money import ZERO, normalize_currency, quantize
from paymo_qb_mcp.domain.timeagg import (
    TimeEntryView,
    aggregate_time,
    changed_since_push,
    local_date,
    period_window,
    time_added_since_push,
)
from paymo_qb_mcp.errors import InputError
from paymo_qb_mcp.paymo import models as paymo_models
from paymo_qb_mcp.paymo.client import LARGEST_PAGE_SIZE
from paymo_qb_mcp.paymo.where import ge as paymo_ge
from paymo_qb_mcp.paymo.where import in_ as paymo_in
from paymo_qb_mcp.paymo.where import le as paymo_le
from paymo_qb_mcp.paymo.where import time_interval
from paymo_qb_mcp.quickbooks import models as qbo_models
from paymo_qb_mcp.quickbooks.models import is_voided
from paymo_qb_mcp.quickbooks.query import ge, in_, le
from paymo_qb_mcp.store.ledger import Ledger
from paymo_qb_mcp.sync.context import CompanyFacts, SyncContext
from paymo_qb_mcp.sync.expenses import EXPENSE_LINK_KIND
from paymo_qb_mcp.sync.payments import (
    KIND_INVOICE,
    KIND_PAYMENT_TO_PAYMO,
    KIND_PAYMENT_TO_QBO,
    applications,
    payment_done_key,
    paymo_payment_ids_in_note,
    qbo_id_order,
    qbo_payment_ids_in_note,
    qbo_payments_for,
)
from paymo_qb_mcp.sync.reports import (
    ExpenseGap,
    InvoiceDifference,
    PaymentDifference,
    ReconciliationReport,
    UnbilledTime,
)
from paymo_qb_mcp.sync.timesheets import TIME_GROUP_KIND, pushed_time

__all__ = ["reconciliation_report"]

_QUERY_CHUNK: Final = 100
# Ids per Paymo `id in (...)` filter for objects read without included collections (the invoice
# selection's chunk): short enough for any URL, and a month's tasks, projects and clients in a few
# requests at Paymo's one a second.
_PAYMO_CHUNK: Final = 250
# Paymo matches date+duration entries in time_interval as if they ran from 00:00 UTC of their date, so
# the request window is a day wider on each side; the local date then decides membership exactly.
_WINDOW_MARGIN: Final = dt.timedelta(days=1)


def _chunks(items: Sequence[int | str], size: int = _QUERY_CHUNK) -> Iterable[Sequence[int | str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _money(amount: Decimal | None, currency: str) -> str | None:
    return None if amount is None else str(quantize(amount, currency))


def _qbo_invoice_fields(invoice: qbo_models.Invoice, currency: str) -> dict[str, str | None]:
    """How an InvoiceDifference shows the QBO side of the invoice."""
    return {
        "qbo_invoice_id": invoice.Id,
        "qbo_doc_number": invoice.DocNumber,
        "qbo_total": _money(invoice.TotalAmt, currency),
        "qbo_balance": _money(invoice.Balance, currency),
    }


def _currency(code: str | None, fallback: str) -> str:
    if not code:
        return fallback
    try:
        return normalize_currency(code)
    except InputError:
        # A code QBO would refuse is still worth showing as Paymo spells it.
        return code.strip().upper()


# --- invoices and payments -----------------------------------------------------------------------


@dataclass
class _InvoiceSide:
    """Both sides of the invoices of the period, and the QBO payments that may apply to them."""

    paymo: list[paymo_models.Invoice]
    qbo_by_id: dict[str, qbo_models.Invoice]
    qbo_in_period: list[qbo_models.Invoice]
    qbo_payments: list[qbo_models.Payment]
    accounted_qbo_ids: set[str] = field(default_factory=set)


async def _read_invoices(ctx: SyncContext, date_from: dt.date, date_to: dt.date) -> _InvoiceSide:
    paymo_invoices = await ctx.paymo.list_invoices(
        where=[paymo_ge("date", date_from), paymo_le("date", date_to)], include=("invoicepayments",)
    )
    qbo_in_period = await ctx.qbo.query_all(
        qbo_models.Invoice, ge("TxnDate", date_from), le("TxnDate", date_to)
    )
    qbo_by_id = {row.Id: row for row in qbo_in_period if row.Id is not None}
    linked_ids = sorted(
        {
            link.qbo_id
            for invoice in paymo_invoices
            if (link := ctx.ledger.link(KIND_INVOICE, invoice.id)) is not None
            and link.qbo_id not in qbo_by_id
        }
    )
    for chunk in _chunks(linked_ids):
        for row in await ctx.qbo.query_all(qbo_models.Invoice, in_("Id", [str(i) for i in chunk])):
            if row.Id is not None:
                qbo_by_id[row.Id] = row
    relevant = list(qbo_by_id.values())
    payments = await qbo_payments_for(ctx, relevant, None, per_customer=True) if relevant else []
    return _InvoiceSide(paymo_invoices, qbo_by_id, qbo_in_period, payments)


@dataclass
class _InvoiceComparer:
    ledger: Ledger
    facts: CompanyFacts
    invoices: list[InvoiceDifference] = field(default_factory=list)
    payments: list[PaymentDifference] = field(default_factory=list)

    def compare(self, side: _InvoiceSide) -> None:
        by_marker: dict[int, qbo_models.Invoice] = {}
        by_doc_number: dict[str, qbo_models.Invoice] = {}
        for row in side.qbo_in_period:
            for found in find_markers(row.PrivateNote):
                if found.kind == KIND_INVOICE:
                    by_marker.setdefault(found.paymo_id, row)
            if row.DocNumber and row.Id is not None and self.ledger.link_by_qbo(KIND_INVOICE, row.Id) is None:
                by_doc_number.setdefault(row.DocNumber, row)
        for invoice in sorted(side.paymo, key=lambda inv: (inv.date or dt.date.min, inv.id)):
            self._one(invoice, side, by_marker, by_doc_number)

    def _one(
        self,
        invoice: paymo_models.Invoice,
        side: _InvoiceSide,
        by_marker: dict[int, qbo_models.Invoice],
        by_doc_number: dict[str, qbo_models.Invoice],
    ) -> None:
        currency = _currency(invoice.currency, self.facts.home_currency)
        base = {
            "paymo_invoice_id": invoice.id,
            "paymo_number": invoice.number,
            "currency": currency,
            "paymo_total": _money(invoice.total, currency),
            "paymo_status": invoice.status,
        }
        link = self.ledger.link(KIND_INVOICE, invoice.id)
        if link is None:
            marked = by_marker.get(invoice.id)
            if marked is not None and marked.Id is not None:
                side.accounted_qbo_ids.add(marked.Id)
                self.invoices.append(
                    InvoiceDifference(
                        kind="not_linked",
                        note=(
                            "the QuickBooks invoice carries this invoice's marker but is not linked (an "
                            "earlier sync stopped before storing the link); sync_invoice links it"
                        ),
                        **base,
                        **_qbo_invoice_fields(marked, currency),
                    )
                )
                return
            # A draft is not billed yet and a void one needs no counterpart.
            if invoice.status in ("draft", "void"):
                return
            same_number = by_doc_number.get(doc_number(invoice.number).value) if invoice.number else None
            if same_number is not None and same_number.Id is not None and not is_voided(same_number):
                side.accounted_qbo_ids.add(same_number.Id)
                self.invoices.append(
                    InvoiceDifference(
                        kind="not_linked",
                        note=(
                            "a QuickBooks invoice with the same number exists but was not created by this "
                            "tool (Paymo's own export, or typed in); check it before syncing, or "
                            "sync_invoice may be refused as a duplicate number"
                        ),
                        **base,
                        **_qbo_invoice_fields(same_number, currency),
                    )
                )
                return
            self.invoices.append(
                InvoiceDifference(kind="missing_in_quickbooks", note="never synced to QuickBooks", **base)
            )
            return
        qbo = side.qbo_by_id.get(link.qbo_id)
        side.accounted_qbo_ids.add(link.qbo_id)
        if qbo is None or qbo.Id is None:
            if invoice.status in ("draft", "void"):
                return
            self.invoices.append(
                InvoiceDifference(
                    kind="missing_in_quickbooks",
                    qbo_invoice_id=link.qbo_id,
                    note=(
                        f"linked to QuickBooks invoice {link.qbo_id}, which no longer exists there; "
                        "sync_invoice recreates it once the link is removed"
                    ),
                    **base,
                )
            )
            return
        qbo_fields = _qbo_invoice_fields(qbo, currency)
        paymo_void, qbo_void = invoice.status == "void", is_voided(qbo)
        if paymo_void or qbo_void:
            if paymo_void != qbo_void:
                where = "Paymo" if paymo_void else "QuickBooks"
                other = "QuickBooks" if paymo_void else "Paymo"
                self.invoices.append(
                    InvoiceDifference(
                        kind="status_differs",
                        note=f"void in {where} but not in {other}",
                        **base,
                        **qbo_fields,
                    )
                )
            return
        qbo_total = qbo.TotalAmt or ZERO
        if invoice.total is not None and quantize(invoice.total, currency) != quantize(qbo_total, currency):
            difference = quantize(qbo_total - invoice.total, currency)
            self.invoices.append(
                InvoiceDifference(
                    kind="total_differs",
                    note=f"QuickBooks total is {difference:+} {currency} against Paymo's",
                    **base,
                    **qbo_fields,
                )
            )
        qbo_balance = qbo.Balance if qbo.Balance is not None else qbo_total
        if invoice.status == "paid" and qbo_balance > 0:
            self.invoices.append(
                InvoiceDifference(
                    kind="status_differs",
                    note=f"paid in Paymo, but QuickBooks still shows {qbo_balance} {currency} open",
                    **base,
                    **qbo_fields,
                )
            )
        elif invoice.status != "paid" and qbo_balance == 0 and qbo_total > 0:
            self.invoices.append(
                InvoiceDifference(
                    kind="status_differs",
                    note=f"paid in QuickBooks, but {invoice.status or 'open'} in Paymo",
                    **base,
                    **qbo_fields,
                )
            )
        self._payments(invoice, qbo, currency, side.qbo_payments)

    def _payments(
        self,
        invoice: paymo_models.Invoice,
        qbo: qbo_models.Invoice,
        currency: str,
        qbo_payments: Sequence[qbo_models.Payment],
    ) -> None:
        assert qbo.Id is not None
        ledger = self.ledger
        paymo_payments = {payment.id: payment for payment in invoice.invoicepayments or ()}
        applied = {
            payment.Id: (payment, applied_here)
            for payment in qbo_payments
            if payment.Id is not None
            and not is_voided(payment)
            and (applied_here := applications(payment).get(qbo.Id)) is not None
        }
        by_qbo_origin = {
            qbo_id: payment
            for payment in paymo_payments.values()
            for qbo_id in qbo_payment_ids_in_note(payment.notes)
        }
        ids = {"paymo_invoice_id": invoice.id, "qbo_invoice_id": qbo.Id, "currency": currency}
        for payment in sorted(paymo_payments.values(), key=lambda p: (p.date or dt.date.min, p.id)):
            amount = _money(payment.amount, currency)
            origin = sorted(qbo_payment_ids_in_note(payment.notes))
            pushed = ledger.link(KIND_PAYMENT_TO_QBO, payment.id)
            if origin:
                if not any(qbo_id in applied for qbo_id in origin):
                    self.payments.append(
                        PaymentDifference(
                            kind="only_in_paymo",
                            paymo_payment_id=payment.id,
                            qbo_payment_id=origin[0],
                            amount=amount,
                            date=payment.date,
                            note=(
                                f"copied from QuickBooks payment {origin[0]}, which no longer pays this "
                                "invoice (voided, deleted or re-applied there)"
                            ),
                            **ids,
                        )
                    )
            elif pushed is not None:
                if pushed.qbo_id not in applied:
                    self.payments.append(
                        PaymentDifference(
                            kind="only_in_paymo",
                            paymo_payment_id=payment.id,
                            qbo_payment_id=pushed.qbo_id,
                            amount=amount,
                            date=payment.date,
                            note=(
                                f"pushed as QuickBooks payment {pushed.qbo_id}, which no longer pays this "
                                "invoice (voided, deleted or re-applied there)"
                            ),
                            **ids,
                        )
                    )
            elif not self._recorded_in_qbo(payment.id, qbo.Id, applied):
                self.payments.append(
                    PaymentDifference(
                        kind="only_in_paymo",
                        paymo_payment_id=payment.id,
                        amount=amount,
                        date=payment.date,
                        note="not in QuickBooks; mark_paid records it there",
                        **ids,
                    )
                )
        for qbo_id, (qbo_payment, applied_amount) in sorted(
            applied.items(), key=lambda item: qbo_id_order(item[0])
        ):
            amount = _money(applied_amount, currency)
            common = {"qbo_payment_id": qbo_id, "amount": amount, "date": qbo_payment.TxnDate, **ids}
            own = sorted(paymo_payment_ids_in_note(qbo_payment.PrivateNote))
            pushed = ledger.link_by_qbo(KIND_PAYMENT_TO_QBO, qbo_id)
            sources = [int(pushed.paymo_id)] if pushed is not None and pushed.paymo_id.isdigit() else own
            if pushed is not None or own:
                if not any(source in paymo_payments for source in sources):
                    self.payments.append(
                        PaymentDifference(
                            kind="only_in_quickbooks",
                            paymo_payment_id=sources[0] if sources else None,
                            note=(
                                f"came from Paymo payment {sources[0] if sources else '?'}, which no longer "
                                "exists on this Paymo invoice; no tool undoes a payment: void it in "
                                "QuickBooks if it was entered by mistake, or enter it in Paymo again"
                            ),
                            **common,
                        )
                    )
                continue
            done = ledger.done_value(KIND_PAYMENT_TO_PAYMO, payment_done_key(qbo_id, qbo.Id))
            if done is not None and done.isdigit():
                if int(done) not in paymo_payments:
                    self.payments.append(
                        PaymentDifference(
                            kind="only_in_quickbooks",
                            paymo_payment_id=int(done),
                            note=(
                                f"recorded in Paymo as payment {done}, which has since been deleted there; "
                                "no tool undoes a payment: void it in QuickBooks if the deletion was right"
                            ),
                            **common,
                        )
                    )
                continue
            if qbo_id not in by_qbo_origin:
                self.payments.append(
                    PaymentDifference(
                        kind="only_in_quickbooks",
                        note="not in Paymo; mark_paid records it there",
                        **common,
                    )
                )
        paymo_balance = invoice.balance
        qbo_balance = qbo.Balance
        if (
            paymo_balance is not None
            and qbo_balance is not None
            and quantize(paymo_balance, currency) != quantize(qbo_balance, currency)
        ):
            self.payments.append(
                PaymentDifference(
                    kind="balance_differs",
                    amount=_money(paymo_balance - qbo_balance, currency),
                    paymo_balance=_money(paymo_balance, currency),
                    qbo_balance=_money(qbo_balance, currency),
                    note="open balances differ (Paymo total − payments against QuickBooks' Balance)",
                    **ids,
                )
            )

    def _recorded_in_qbo(
        self,
        paymo_payment_id: int,
        qbo_invoice_id: str,
        applied: dict[str, tuple[qbo_models.Payment, Decimal]],
    ) -> bool:
        """A Paymo payment with no link is still in QBO when a QBO payment carries its marker."""
        return any(
            paymo_payment_id in paymo_payment_ids_in_note(payment.PrivateNote)
            for payment, _ in applied.values()
        )

    def _made_from_paymo_time(self, row: qbo_models.Invoice) -> bool:
        """A draft invoice plan_time built from Paymo time: its counterpart is time, not an invoice."""
        assert row.Id is not None
        marked = any(found.kind == TIME_GROUP_KIND for found in find_markers(row.PrivateNote))
        return marked or self.ledger.link_by_qbo(TIME_GROUP_KIND, row.Id) is not None

    async def qbo_only(self, ctx: SyncContext, side: _InvoiceSide) -> None:
        """QBO invoices of the period that no Paymo invoice of the period accounts for."""
        known = {invoice.id for invoice in side.paymo}
        unaccounted: list[tuple[qbo_models.Invoice, dict[str, str | None], int | None]] = []
        for row in sorted(side.qbo_in_period, key=lambda r: qbo_id_order(r.Id)):
            if row.Id is None or row.Id in side.accounted_qbo_ids or is_voided(row):
                continue
            currency = row.CurrencyRef.value if row.CurrencyRef else self.facts.home_currency
            link = self.ledger.link_by_qbo(KIND_INVOICE, row.Id)
            sources = [int(link.paymo_id)] if link is not None and link.paymo_id.isdigit() else []
            sources += [
                found.paymo_id for found in find_markers(row.PrivateNote) if found.kind == KIND_INVOICE
            ]
            if not sources and self._made_from_paymo_time(row):
                continue
            if sources and sources[0] in known:
                continue
            fields = {"currency": currency, **_qbo_invoice_fields(row, currency)}
            unaccounted.append((row, fields, sources[0] if sources else None))
        # Dated outside the period in Paymo, a source still exists and only the dates differ: one listing
        # per chunk of ids tells which sources are gone, instead of one read per invoice.
        outside = sorted({source for _, _, source in unaccounted if source is not None})
        existing: set[int] = set()
        for chunk in _chunks(outside, _PAYMO_CHUNK):
            listed = await ctx.paymo.list_invoices(where=paymo_in("id", [int(i) for i in chunk]))
            existing.update(invoice.id for invoice in listed)
        for _row, fields, source in unaccounted:
            if source is None:
                self.invoices.append(
                    InvoiceDifference(
                        kind="missing_in_paymo",
                        note="created in QuickBooks; no Paymo invoice is linked to it or named in its note",
                        **fields,
                    )
                )
            elif source not in existing:
                self.invoices.append(
                    InvoiceDifference(
                        kind="missing_in_paymo",
                        paymo_invoice_id=source,
                        note=f"created from Paymo invoice {source}, which no longer exists in Paymo",
                        **fields,
                    )
                )


# --- time and expenses ---------------------------------------------------------------------------


async def _unbilled_time(
    ctx: SyncContext, facts: CompanyFacts, date_from: dt.date, date_to: dt.date
) -> list[UnbilledTime]:
    zone = facts.paymo_timezone
    start, end = period_window(date_from, date_to, zone, _WINDOW_MARGIN)
    entries = await ctx.paymo.list_time_entries(where=time_interval(start, end), page_size=LARGEST_PAGE_SIZE)
    if not entries:
        return []
    task_ids = sorted({entry.task_id for entry in entries if entry.task_id is not None})
    tasks: dict[int, paymo_models.Task] = {}
    for chunk in _chunks(task_ids, _PAYMO_CHUNK):
        tasks.update((task.id, task) for task in await ctx.paymo.list_tasks(where=paymo_in("id", chunk)))
    project_ids = sorted(
        {
            project_id
            for entry in entries
            if (project_id := entry.project_id or _task_project(tasks, entry.task_id)) is not None
        }
    )
    projects: dict[int, paymo_models.Project] = {}
    for chunk in _chunks(project_ids, _PAYMO_CHUNK):
        projects.update((p.id, p) for p in await ctx.paymo.list_projects(where=paymo_in("id", chunk)))
    views: list[TimeEntryView] = []
    pushed: set[int] = set()
    for entry in entries:
        view = _entry_view(entry, tasks, projects, zone)
        if view is None:
            continue
        done = pushed_time(ctx.ledger, view.id)
        change = changed_since_push(view, done.seconds) if done is not None else None
        if change is not None and change.lengthened:
            # Still billed, non-billable or out of the period, it is left out for that reason as before.
            views.append(time_added_since_push(view, change))
            continue
        views.append(view)
        if done is not None:
            pushed.add(view.id)
    aggregation = aggregate_time(views, start=date_from, end=date_to, already_pushed=pushed)
    client_ids = sorted({group.key.client_id for group in aggregation.groups if group.key.client_id})
    clients: dict[int, paymo_models.Client] = {}
    for chunk in _chunks(client_ids, _PAYMO_CHUNK):
        clients.update((c.id, c) for c in await ctx.paymo.list_clients(where=paymo_in("id", chunk)))
    return [
        UnbilledTime(
            paymo_client_id=group.key.client_id or None,
            client_name=client.name if (client := clients.get(group.key.client_id)) else None,
            paymo_project_id=group.key.project_id,
            project_name=project.name if (project := projects.get(group.key.project_id)) else None,
            entries=len(group.entry_ids),
            hours=str(group.hours),
        )
        for group in aggregation.groups
    ]


def _task_project(tasks: dict[int, paymo_models.Task], task_id: int | None) -> int | None:
    task = tasks.get(task_id) if task_id is not None else None
    return task.project_id if task is not None else None


def _entry_view(
    entry: paymo_models.TimeEntry,
    tasks: dict[int, paymo_models.Task],
    projects: dict[int, paymo_models.Project],
    zone: dt.tzinfo,
) -> TimeEntryView | None:
    task = tasks.get(entry.task_id) if entry.task_id is not None else None
    project_id = entry.project_id or (task.project_id if task is not None else None)
    project = projects.get(project_id) if project_id is not None else None
    if project is None:
        return None
    if entry.date is not None and (entry.is_bulk or entry.start_time is None):
        day = entry.date
    elif entry.start_time is not None:
        day = local_date(entry.start_time, zone)
    else:
        return None
    duration: int | None = entry.duration
    if entry.start_time is not None and not entry.is_bulk:
        duration = (
            None if entry.end_time is None else int((entry.end_time - entry.start_time).total_seconds())
        )
    # The rule plan_time pushes by (sync/timesheets.py): billable by the hour means project and task
    # billable (a task without its own flag follows its project) and neither flat-priced, since a flat
    # price already covers that time.
    task_billable = (
        task.billable if task is not None and task.billable is not None else project.billable is not False
    )
    flat = bool(project.flat_billing or (task is not None and task.flat_billing))
    billable = project.billable is not False and task_billable and not flat
    return TimeEntryView(
        id=entry.id,
        client_id=project.client_id or 0,
        project_id=project.id,
        task_id=entry.task_id or 0,
        user_id=entry.user_id or 0,
        date=day,
        duration_seconds=duration,
        billable=billable,
        billed=bool(entry.billed),
        invoice_item_id=entry.invoice_item_id,
    )


async def _expenses_not_pushed(
    ctx: SyncContext, facts: CompanyFacts, date_from: dt.date, date_to: dt.date
) -> list[ExpenseGap]:
    expenses = await ctx.paymo.list_expenses(
        where=[paymo_ge("date", date_from), paymo_le("date", date_to)], page_size=LARGEST_PAGE_SIZE
    )
    gaps: list[ExpenseGap] = []
    for expense in sorted(expenses, key=lambda e: (e.date or dt.date.min, e.id)):
        # Rebilling an expense on a Paymo invoice does not record the cost in QBO, so invoiced ones count.
        if ctx.ledger.link(EXPENSE_LINK_KIND, expense.id) is not None:
            continue
        currency = _currency(expense.currency, facts.paymo_currency)
        gaps.append(
            ExpenseGap(
                paymo_expense_id=expense.id,
                date=expense.date,
                amount=_money(expense.amount or ZERO, currency) or "0",
                currency=currency,
                description=expense.notes or expense.name,
            )
        )
    return gaps


# --- the report ----------------------------------------------------------------------------------


def _plural(count: int, word: str, plural: str | None = None) -> str:
    return f"{count} {word if count == 1 else plural or word + 's'}"


def _by_kind(differences: Sequence[InvoiceDifference] | Sequence[PaymentDifference]) -> str:
    """``1 not linked, 2 total differs``: how many differences of each kind."""
    kinds = Counter(difference.kind for difference in differences)
    return ", ".join(f"{count} {kind.replace('_', ' ')}" for kind, count in sorted(kinds.items()))


def _summary(report: ReconciliationReport) -> str:
    period = f"{report.date_from.isoformat()} to {report.date_to.isoformat()}"
    if report.clean:
        return f"From {period} Paymo and QuickBooks agree: nothing to reconcile."
    parts: list[str] = []
    if report.invoices:
        parts.append(f"{_plural(len(report.invoices), 'invoice difference')} ({_by_kind(report.invoices)})")
    if report.payments:
        parts.append(f"{_plural(len(report.payments), 'payment difference')} ({_by_kind(report.payments)})")
    if report.unbilled_time:
        hours = sum((Decimal(group.hours) for group in report.unbilled_time), ZERO)
        entries = sum(group.entries for group in report.unbilled_time)
        parts.append(
            f"{hours} h of billable time neither billed nor pushed ({_plural(entries, 'entry', 'entries')} "
            f"in {_plural(len(report.unbilled_time), 'client/project group')})"
        )
    if report.expenses_not_pushed:
        by_currency: dict[str, Decimal] = {}
        for gap in report.expenses_not_pushed:
            by_currency[gap.currency] = by_currency.get(gap.currency, ZERO) + Decimal(gap.amount)
        amounts = ", ".join(f"{code} {amount}" for code, amount in sorted(by_currency.items()))
        parts.append(f"{_plural(len(report.expenses_not_pushed), 'expense')} not pushed ({amounts})")
    return f"From {period}: " + "; ".join(parts) + "."


async def reconciliation_report(
    ctx: SyncContext, *, date_from: dt.date, date_to: dt.date
) -> ReconciliationReport:
    """What differs between Paymo and QuickBooks for invoices, payments, time and expenses dated
    ``date_from``–``date_to`` (inclusive). Reads only."""
    if date_to < date_from:
        raise InputError(f"date_to {date_to} is before date_from {date_from}", field_name="date_to")
    facts = await ctx.facts()
    side = await _read_invoices(ctx, date_from, date_to)
    comparer = _InvoiceComparer(ctx.ledger, facts)
    comparer.compare(side)
    await comparer.qbo_only(ctx, side)
    report = ReconciliationReport(
        date_from=date_from,
        date_to=date_to,
        invoices=comparer.invoices,
        payments=comparer.payments,
        unbilled_time=await _unbilled_time(ctx, facts, date_from, date_to),
        expenses_not_pushed=await _expenses_not_pushed(ctx, facts, date_from, date_to),
    )
    return report.model_copy(update={"summary": _summary(report)})
