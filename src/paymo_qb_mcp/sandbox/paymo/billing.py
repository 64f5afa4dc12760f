"""Paymo billing rules: invoices and estimates with their lines, numbering, totals, payments and statuses."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from paymo_qb_mcp.sandbox.paymo.arithmetic import Line, compute_totals
from paymo_qb_mcp.sandbox.paymo.context import Actor, WriteContext
from paymo_qb_mcp.sandbox.paymo.schema import (
    ESTIMATE_STATUSES,
    INVOICE_STATUSES,
    PAYMO_CURRENCIES,
    RESOURCES,
    Kind,
)
from paymo_qb_mcp.sandbox.paymo.state import Record
from paymo_qb_mcp.sandbox.paymo.wire import ApiError, coerce, invalid_value


@dataclass(frozen=True)
class DocumentKind:
    collection: str
    lines: str
    line_key: str
    statuses: tuple[str, ...]
    format_setting: str
    next_setting: str
    noun: str


INVOICE = DocumentKind(
    "invoices",
    "invoiceitems",
    "invoice_id",
    INVOICE_STATUSES,
    "invoice_format",
    "next_invoice_number",
    "Invoice",
)
ESTIMATE = DocumentKind(
    "estimates",
    "estimateitems",
    "estimate_id",
    ESTIMATE_STATUSES,
    "estimate_format",
    "next_estimate_number",
    "Estimate",
)

ZERO = Decimal(0)


def format_number(template: str, counter: str, day: Any) -> str:
    """`INV-[yyyy]-[i]` with the document date and the company counter.
    GUESS: the date placeholders take the document's date, not the creation date."""
    return (
        template.replace("[yyyy]", f"{day.year:04d}")
        .replace("[yy]", f"{day.year % 100:02d}")
        .replace("[mm]", f"{day.month:02d}")
        .replace("[dd]", f"{day.day:02d}")
        .replace("[i]", counter)
    )


class Billing(WriteContext):
    """Invoices, estimates, their lines and invoice payments."""

    # ------------------------------------------------------------------ documents

    def create_document(self, kind: DocumentKind, body: dict[str, Any], actor: Actor) -> Record:
        self.require_admin(actor)
        resource = RESOURCES[kind.collection]
        self.require_params(body, resource.required)
        values = self.writable(resource, body, skip=("status", "number"))
        self.reference("clients", values["client_id"], "client_id")
        self._check_currency(values["currency"])
        company = self.state.company
        if values.get("date") is None:
            values["date"] = self.today()
        if kind is INVOICE and values.get("due_date") is None:
            # GUESS: like the web app, the due date defaults to the date plus the company's due interval.
            values["due_date"] = values["date"] + timedelta(days=int(company.get("due_interval") or 0))
        # GUESS: taxes left out of the request take the company defaults, as a new invoice does in the app.
        defaults: dict[str, Any] = {
            "tax": Decimal(str(company.get("default_tax") or "0")),
            "tax2": Decimal(str(company.get("default_tax2") or "0")),
            "tax_text": company.get("default_tax_text"),
            "tax2_text": company.get("default_tax2_text"),
            "tax_on_tax": str(company.get("tax_on_tax") or "0") == "1",
            "discount": ZERO,
        }
        for name, value in defaults.items():
            if values.get(name) is None:
                values[name] = value
        values["number"] = self._new_number(kind, body.get("number"), values["date"])
        values["status"] = "draft"
        estimate: Record | None = None
        if kind is INVOICE and body.get("estimate_id") is not None:
            estimate = self.reference("estimates", body["estimate_id"], "estimate_id")
        document_id = self.state.next_id(kind.collection)
        values["id"] = document_id
        values["token"] = self.token(kind.collection, document_id)
        values["download_token"] = self.token(f"{kind.collection}-download", document_id)
        values.update(subtotal=ZERO, total=ZERO, tax_amount=ZERO, tax2_amount=ZERO, discount_amount=ZERO)
        document = self.state.insert(kind.collection, values)
        if "items" in body:
            self._apply_lines(kind, document, body["items"])
        self._recompute(kind, document)
        if estimate is not None:
            self.state.update("estimates", estimate["id"], {"status": "invoiced", "invoice_id": document_id})
        return document

    def update_document(
        self, kind: DocumentKind, document_id: int, body: dict[str, Any], actor: Actor
    ) -> Record:
        self.require_admin(actor)
        document = self.state.require(kind.collection, document_id)
        resource = RESOURCES[kind.collection]
        changes = self.writable(resource, body, skip=("status", "number"))
        if "client_id" in changes:
            self.reference("clients", changes["client_id"], "client_id")
        if "currency" in changes:
            self._check_currency(changes["currency"])
        if "number" in body:
            number = coerce("number", Kind.TEXT, body["number"])
            if not number:
                raise invalid_value("number")
            if number != document["number"]:
                self._check_unique_number(kind, number)
            changes["number"] = number
        if "status" in body:
            status = coerce("status", Kind.TEXT, body["status"])
            if status not in kind.statuses:
                # GUESS: the wording; the checklist only says other values are rejected.
                raise ApiError(400, f"Invalid status: {status}")
            changes["status"] = status
        self.state.update(kind.collection, document_id, changes)
        if "items" in body:
            self._apply_lines(kind, document, body["items"])
        self._recompute(kind, document)
        return document

    def delete_document(self, kind: DocumentKind, document_id: int, actor: Actor) -> None:
        self.require_admin(actor)
        self.state.require(kind.collection, document_id)
        for line in self.state.where_equal(kind.lines, kind.line_key, document_id):
            # GUESS (open question in the reference): deleting an invoice un-bills its time and expenses.
            self._unlink_line(line)
            self.state.delete(kind.lines, line["id"])
        if kind is INVOICE:
            for payment in self.state.where_equal("invoicepayments", "invoice_id", document_id):
                self.state.delete("invoicepayments", payment["id"])
            for estimate in self.state.where_equal("estimates", "invoice_id", document_id):
                self.state.update("estimates", estimate["id"], {"invoice_id": None})
        self.state.delete(kind.collection, document_id)

    def _check_currency(self, currency: Any) -> None:
        if currency not in PAYMO_CURRENCIES:
            # GUESS: Paymo refuses codes outside its list; the message is ours.
            raise invalid_value("currency")

    def _new_number(self, kind: DocumentKind, requested: Any, day: Any) -> str:
        """A custom number must be unique; an omitted one comes from the company format and counter,
        which advances after every create either way (invoices.md)."""
        company = self.state.company
        counter = int(str(company.get(kind.next_setting) or "1"))
        if requested is not None and str(requested).strip():
            number = str(coerce("number", Kind.TEXT, requested))
            self._check_unique_number(kind, number)
        else:
            template = str(company.get(kind.format_setting) or "[i]")
            number = format_number(template, str(counter), day)
            while self._number_taken(kind, number):
                # GUESS: an automatic number that a custom one already took is skipped rather than refused.
                counter += 1
                number = format_number(template, str(counter), day)
        self.state.set_company({kind.next_setting: str(counter + 1)})
        return number

    def _number_taken(self, kind: DocumentKind, number: str) -> bool:
        return any(row["number"] == number for row in self.state.rows(kind.collection))

    def _check_unique_number(self, kind: DocumentKind, number: str) -> None:
        if self._number_taken(kind, number):
            # GUESS: the docs say only that the create fails; status 400 and this wording are ours.
            raise ApiError(400, f"{kind.noun} number already exists: {number}")

    # ------------------------------------------------------------------ lines

    def _apply_lines(self, kind: DocumentKind, document: Record, items: Any) -> None:
        """`items` is the complete new set: `{"id": X}` keeps X, `{"id": X, ...}` changes it, objects
        without `id` are new, and lines left out are deleted."""
        if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
            raise invalid_value("items")
        resource = RESOURCES[kind.lines]
        existing = {
            line["id"]: line for line in self.state.where_equal(kind.lines, kind.line_key, document["id"])
        }
        kept: set[int] = set()
        ordering: list[tuple[int, int, int]] = []  # (requested seq, position, line id)
        for position, item in enumerate(items):
            values = self.writable(resource, item, skip=("id",))
            if kind is not INVOICE:
                values.pop("expense_id", None)
            if item.get("id") is not None:
                line_id = coerce("id", Kind.INT, item["id"])
                line = existing.get(line_id)
                if line is None or line_id in kept:
                    # GUESS: a line id from another document is refused.
                    raise invalid_value("items")
                previous_expense = line.get("expense_id")
                if values:
                    self.state.update(kind.lines, line_id, values, event=False)
            else:
                line = self._new_line(kind, document, values)
                line_id, previous_expense = line["id"], None
            kept.add(line_id)
            requested_seq = values.get("seq")
            ordering.append((position if requested_seq is None else requested_seq, position, line_id))
            if kind is INVOICE:
                self._bill_expense(line, previous_expense)
                if "entries" in item:
                    self._bill_entries(line, item["entries"])
        for line_id, line in existing.items():
            if line_id not in kept:
                self._unlink_line(line)
                self.state.delete(kind.lines, line_id)
        # Paymo renumbers `seq` from 0 in display order (observed by the PHP SDK).
        for seq, (_, _, line_id) in enumerate(sorted(ordering)):
            line = self.state.require(kind.lines, line_id)
            if line.get("seq") != seq:
                self.state.update(kind.lines, line_id, {"seq": seq}, event=False)

    def _new_line(self, kind: DocumentKind, document: Record, values: dict[str, Any]) -> Record:
        if values.get("price_unit") is None:
            values["price_unit"] = ZERO
        if values.get("quantity") is None:
            # GUESS: a line sent without quantity counts once.
            values["quantity"] = Decimal(1)
        if values.get("apply_tax") is None:
            if values.get("expense_id") is not None:
                # Company setting: "1" → tax applies to expense lines on new invoices.
                values["apply_tax"] = str(self.state.company.get("apply_tax_to_expenses") or "0") == "1"
            else:
                # GUESS: undocumented default; the web app ticks the tax box on new lines.
                values["apply_tax"] = True
        values[kind.line_key] = document["id"]
        return self.state.insert(kind.lines, values, event=False)

    def _bill_expense(self, line: Record, previous_expense: Any) -> None:
        expense_id = line.get("expense_id")
        if previous_expense is not None and previous_expense != expense_id:
            old = self.state.get("expenses", previous_expense)
            if old is not None and old.get("invoice_item_id") == line["id"]:
                self.state.update("expenses", old["id"], {"invoiced": False, "invoice_item_id": None})
        if expense_id is None:
            return
        expense = self.reference("expenses", expense_id, "expense_id")
        if not expense.get("invoiced") or expense.get("invoice_item_id") != line["id"]:
            self.state.update("expenses", expense["id"], {"invoiced": True, "invoice_item_id": line["id"]})

    def _bill_entries(self, line: Record, raw_ids: Any) -> None:
        """`entries` on a line marks those time entries billed by it; on an existing line the list is the
        new complete set (GUESS: entries no longer listed are un-billed, like lines in `items`)."""
        if not isinstance(raw_ids, list):
            raise invalid_value("entries")
        wanted = [coerce("entries", Kind.INT, raw) for raw in raw_ids]
        entries = [self.reference("entries", entry_id, "entries") for entry_id in wanted]
        for entry in self.state.where_equal("entries", "invoice_item_id", line["id"]):
            if entry["id"] not in wanted:
                self.state.update("entries", entry["id"], {"billed": False, "invoice_item_id": None})
        for entry in entries:
            if not entry.get("billed") or entry.get("invoice_item_id") != line["id"]:
                self.state.update("entries", entry["id"], {"billed": True, "invoice_item_id": line["id"]})

    def _unlink_line(self, line: Record) -> None:
        for entry in self.state.where_equal("entries", "invoice_item_id", line["id"]):
            self.state.update("entries", entry["id"], {"billed": False, "invoice_item_id": None})
        for collection in ("expenses", "projects", "tasks"):
            for record in self.state.where_equal(collection, "invoice_item_id", line["id"]):
                self.state.update(collection, record["id"], {"invoiced": False, "invoice_item_id": None})

    def _recompute(self, kind: DocumentKind, document: Record) -> None:
        lines = self.state.where_equal(kind.lines, kind.line_key, document["id"])
        totals = compute_totals(
            (
                Line(
                    price_unit=line.get("price_unit") or ZERO,
                    quantity=line.get("quantity") or ZERO,
                    apply_tax=bool(line.get("apply_tax")),
                )
                for line in lines
            ),
            tax=document.get("tax"),
            tax2=document.get("tax2"),
            tax_on_tax=bool(document.get("tax_on_tax")),
            discount=document.get("discount"),
        )
        changes = {
            "subtotal": totals.subtotal,
            "discount_amount": totals.discount_amount,
            "tax_amount": totals.tax_amount,
            "tax2_amount": totals.tax2_amount,
            "total": totals.total,
        }
        if any(document.get(name) != value for name, value in changes.items()):
            self.state.update(kind.collection, document["id"], changes)

    # ------------------------------------------------------------------ payments

    def paid_so_far(self, invoice_id: int) -> Decimal:
        payments = self.state.where_equal("invoicepayments", "invoice_id", invoice_id)
        return sum((payment["amount"] for payment in payments), ZERO)

    def create_payment(self, body: dict[str, Any], actor: Actor) -> Record:
        self.require_admin(actor)
        resource = RESOURCES["invoicepayments"]
        self.require_params(body, resource.required)
        values = self.writable(resource, _with_notes_alias(body))
        invoice = self.reference("invoices", values["invoice_id"], "invoice_id")
        self._check_amount(invoice, values["amount"], already_paid=self.paid_so_far(invoice["id"]))
        if values.get("date") is None:
            # GUESS: the payment date defaults to today (company time zone).
            values["date"] = self.today()
        payment = self.state.insert("invoicepayments", values)
        self._settle(invoice)
        return payment

    def update_payment(self, payment_id: int, body: dict[str, Any], actor: Actor) -> Record:
        self.require_admin(actor)
        payment = self.state.require("invoicepayments", payment_id)
        changes = self.writable(RESOURCES["invoicepayments"], _with_notes_alias(body), skip=("invoice_id",))
        invoice = self.state.require("invoices", payment["invoice_id"])
        if "amount" in changes:
            if changes["amount"] is None:
                raise invalid_value("amount")
            others = self.paid_so_far(invoice["id"]) - payment["amount"]
            self._check_amount(invoice, changes["amount"], already_paid=others)
        self.state.update("invoicepayments", payment_id, changes)
        self._settle(invoice)
        return payment

    def delete_payment(self, payment_id: int, actor: Actor) -> None:
        self.require_admin(actor)
        payment = self.state.require("invoicepayments", payment_id)
        self.state.delete("invoicepayments", payment_id)
        invoice = self.state.get("invoices", payment["invoice_id"])
        if invoice is not None:
            self._settle(invoice)

    @staticmethod
    def _check_amount(invoice: Record, amount: Decimal, *, already_paid: Decimal) -> None:
        if amount <= 0:
            # GUESS: Paymo's handling of zero/negative payments is undocumented; we refuse them.
            raise invalid_value("amount")
        if amount > (invoice.get("total") or ZERO) - already_paid:
            # invoice_payments.md: "will fail if the payment amount is greater than the remaining amount
            # to be paid". GUESS: status 400 and this wording.
            raise ApiError(
                400, "Payment amount is greater than the remaining amount to be paid for the invoice."
            )

    def _settle(self, invoice: Record) -> None:
        """Σ payments reaching the total makes the invoice `paid`; a paid invoice that drops below it
        becomes `viewed` (never back to `sent`). There is no partial status."""
        paid = self.paid_so_far(invoice["id"])
        total = invoice.get("total") or ZERO
        if paid >= total and paid > 0 and invoice["status"] != "paid":
            self.state.update("invoices", invoice["id"], {"status": "paid"})
        elif paid < total and invoice["status"] == "paid":
            self.state.update("invoices", invoice["id"], {"status": "viewed"})


def _with_notes_alias(body: dict[str, Any]) -> dict[str, Any]:
    # The docs' own update example sends `note`; GUESS: Paymo accepts it for `notes`.
    if "note" in body and "notes" not in body:
        return {**body, "notes": body["note"]}
    return body
