"""Pydantic wire models of the Paymo objects the sync reads and writes; unknown keys are kept, not lost.

Money is ``Decimal``; date-only fields are ``date``; date-times are timezone-aware (Paymo answers in
UTC with a ``Z``; a value without a zone is read as UTC). Included related objects appear under the
keys Paymo uses: a parent as an object (``client``), children as a list (``invoiceitems``).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

__all__ = [
    "INVOICE_STATUSES",
    "Client",
    "ClientContact",
    "Company",
    "Estimate",
    "EstimateItem",
    "Expense",
    "Invoice",
    "InvoiceItem",
    "InvoicePayment",
    "InvoiceStatus",
    "PaymoModel",
    "Project",
    "Task",
    "Tasklist",
    "TimeEntry",
    "User",
]


def _assume_utc(value: dt.datetime) -> dt.datetime:
    # Paymo documents every response date-time as UTC; a bare one is still UTC, never local time.
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value


UtcDatetime = Annotated[dt.datetime, AfterValidator(_assume_utc)]

InvoiceStatus = Literal["draft", "sent", "viewed", "paid", "void"]
INVOICE_STATUSES: frozenset[str] = frozenset({"draft", "sent", "viewed", "paid", "void"})


class PaymoModel(BaseModel):
    """Base of every Paymo wire model: keeps unknown keys (``extra="allow"``) so nothing is dropped."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    id: int
    created_on: UtcDatetime | None = None
    updated_on: UtcDatetime | None = None


def _setting_decimal(value: str | None) -> Decimal | None:
    if value is None or not value.strip():
        return None
    try:
        return Decimal(value.strip())
    except InvalidOperation:
        return None


class Company(PaymoModel):
    """``GET /api/company``. Paymo sends most settings as strings, numbers included; they stay strings."""

    model_config = ConfigDict(extra="allow", populate_by_name=True, coerce_numbers_to_str=True)

    id: int | None = None  # type: ignore[assignment]  # a singleton; the docs list an id, nothing needs it
    name: str | None = None
    address: str | None = None
    phone: str | None = None
    email: str | None = None
    url: str | None = None
    fiscal_information: str | None = None
    country: str | None = None
    timezone: str | None = None
    default_currency: str | None = None
    default_price_per_hour: str | None = None
    default_tax: str | None = None
    default_tax_text: str | None = None
    default_tax2: str | None = None
    default_tax2_text: str | None = None
    tax_on_tax: str | bool | None = None
    apply_tax_to_expenses: str | bool | None = None
    due_interval: str | None = None
    invoice_format: str | None = None
    next_invoice_number: str | None = None
    estimate_format: str | None = None
    next_estimate_number: str | None = None
    currency_position: str | None = None
    account_type: str | None = None

    @property
    def default_hourly_rate(self) -> Decimal | None:
        """``default_price_per_hour`` as a number (None when unset or not a number)."""
        return _setting_decimal(self.default_price_per_hour)

    @property
    def default_tax_percent(self) -> Decimal | None:
        return _setting_decimal(self.default_tax)

    @property
    def default_tax2_percent(self) -> Decimal | None:
        return _setting_decimal(self.default_tax2)

    @property
    def default_tax_on_tax(self) -> bool:
        return self.tax_on_tax is True or (
            isinstance(self.tax_on_tax, str) and self.tax_on_tax.strip() == "1"
        )


class User(PaymoModel):
    name: str | None = None
    email: str | None = None
    type: str | None = None
    active: bool | None = None
    timezone: str | None = None
    phone: str | None = None
    position: str | None = None
    workday_hours: Decimal | None = None
    price_per_hour: Decimal | None = None
    assigned_projects: list[int] | None = None
    managed_projects: list[int] | None = None


class ClientContact(PaymoModel):
    client_id: int | None = None
    name: str | None = None
    email: str | None = None
    mobile: str | None = None
    phone: str | None = None
    fax: str | None = None
    skype: str | None = None
    notes: str | None = None
    position: str | None = None
    is_main: bool | None = None
    access: bool | None = None
    client: Client | None = None


class Client(PaymoModel):
    name: str
    address: str | None = None
    city: str | None = None
    state: str | None = None
    postal_code: str | None = None
    country: str | None = None
    phone: str | None = None
    fax: str | None = None
    email: str | None = None
    website: str | None = None
    fiscal_information: str | None = None
    active: bool | None = None
    clientcontacts: list[ClientContact] | None = None
    projects: list[Project] | None = None
    invoices: list[Invoice] | None = None


class _Billed(PaymoModel):
    """The billing and budget fields a project and its tasks both carry (``None`` budget = unlimited)."""

    billable: bool | None = None
    flat_billing: bool | None = None
    price_per_hour: Decimal | None = None
    price: Decimal | None = None
    estimated_price: Decimal | None = None
    budget_hours: Decimal | None = None
    invoiced: bool | None = None
    invoice_item_id: int | None = None


class Project(_Billed):
    """A project with its billing and budget fields."""

    name: str
    code: str | None = None
    description: str | None = None
    client_id: int | None = None
    status_id: int | None = None
    active: bool | None = None
    color: str | None = None
    users: list[int] | None = None
    managers: list[int] | None = None
    hourly_billing_mode: str | None = None
    adjustable_hours: bool | None = None
    workflow_id: int | None = None
    client: Client | None = None
    tasklists: list[Tasklist] | None = None
    tasks: list[Task] | None = None


class Tasklist(PaymoModel):
    name: str | None = None
    project_id: int | None = None
    seq: int | None = None
    milestone_id: int | None = None
    project: Project | None = None
    tasks: list[Task] | None = None


class Task(_Billed):
    """A task; a billing flag it leaves unset follows its project."""

    name: str | None = None
    code: str | None = None
    project_id: int | None = None
    tasklist_id: int | None = None
    seq: int | None = None
    description: str | None = None
    complete: bool | None = None
    completed_on: UtcDatetime | None = None
    completed_by: int | None = None
    due_date: dt.date | None = None
    user_id: int | None = None
    users: list[int] | None = None
    priority: int | None = None
    status_id: int | None = None
    project: Project | None = None
    tasklist: Tasklist | None = None
    entries: list[TimeEntry] | None = None


class TimeEntry(PaymoModel):
    """A time entry: ``date``+``duration`` when ``is_bulk``, else ``start_time``/``end_time``.

    Entries carry no billable flag; billability comes from the task and project.
    """

    task_id: int | None = None
    project_id: int | None = None
    user_id: int | None = None
    is_bulk: bool | None = None
    start_time: UtcDatetime | None = None
    end_time: UtcDatetime | None = None
    date: dt.date | None = None
    duration: int | None = None
    description: str | None = None
    added_manually: bool | None = None
    billed: bool | None = None
    invoice_item_id: int | None = None
    task: Task | None = None
    user: User | None = None


class _SalesLine(PaymoModel):
    """What an invoice line and an estimate line both are: a priced quantity, taxed or not."""

    item: str | None = None
    description: str | None = None
    price_unit: Decimal | None = None
    quantity: Decimal | None = None
    apply_tax: bool | None = None
    seq: int | None = None


class InvoiceItem(_SalesLine):
    """An invoice line (``invoiceitems`` on read, ``items`` on write)."""

    invoice_id: int | None = None
    expense_id: int | None = None
    entries: list[TimeEntry] | None = None


class InvoicePayment(PaymoModel):
    """A payment on an invoice, in the invoice's currency (payments have none of their own)."""

    invoice_id: int | None = None
    amount: Decimal
    date: dt.date | None = None
    notes: str | None = None
    invoice: Invoice | None = None


class _SalesDocument(PaymoModel):
    """What an invoice and an estimate both are: ``tax``, ``tax2`` and ``discount`` are percents; the
    ``*_amount`` fields and ``total`` are Paymo's computed amounts (``domain.paymo_totals``)."""

    number: str | None = None
    client_id: int | None = None
    template_id: int | None = None
    status: str | None = None
    currency: str | None = None
    date: dt.date | None = None
    subtotal: Decimal | None = None
    tax: Decimal | None = None
    tax_amount: Decimal | None = None
    tax2: Decimal | None = None
    tax2_amount: Decimal | None = None
    tax_on_tax: bool | None = None
    discount: Decimal | None = None
    discount_amount: Decimal | None = None
    total: Decimal | None = None
    title: str | None = None
    bill_to: str | None = None
    company_info: str | None = None
    footer: str | None = None
    notes: str | None = None
    client: Client | None = None


class Invoice(_SalesDocument):
    """An invoice. ``outstanding`` is a printed note, not this invoice's balance."""

    due_date: dt.date | None = None
    delivery_date: dt.date | None = None
    discount_text: str | None = None
    tax_text: str | None = None
    tax2_text: str | None = None
    outstanding: Decimal | None = None
    pay_online: bool | None = None
    permalink: str | None = None
    pdf_link: str | None = None
    project_id: int | None = None
    options: dict[str, Any] | None = None
    invoiceitems: list[InvoiceItem] | None = None
    invoicepayments: list[InvoicePayment] | None = None

    @property
    def amount_paid(self) -> Decimal | None:
        """Σ included payments, or None when ``invoicepayments`` was not included."""
        if self.invoicepayments is None:
            return None
        return sum((payment.amount for payment in self.invoicepayments), Decimal(0))

    @property
    def balance(self) -> Decimal | None:
        """``total − Σ payments`` (Paymo has no balance field), or None when either is unknown."""
        paid = self.amount_paid
        if paid is None or self.total is None:
            return None
        return self.total - paid


class Expense(PaymoModel):
    client_id: int | None = None
    project_id: int | None = None
    user_id: int | None = None
    amount: Decimal | None = None
    currency: str | None = None
    date: dt.date | None = None
    notes: str | None = None
    invoiced: bool | None = None
    invoice_item_id: int | None = None
    tags: list[str] = Field(default_factory=list)
    file: str | None = None
    name: str | None = None
    billable: bool | None = None
    client: Client | None = None
    project: Project | None = None
    user: User | None = None
    invoiceitems: list[InvoiceItem] | None = None


class EstimateItem(_SalesLine):
    estimate_id: int | None = None


class Estimate(_SalesDocument):
    invoice_id: int | None = None
    brief_description: str | None = None
    estimateitems: list[EstimateItem] | None = None


for _model in (
    ClientContact,
    Client,
    Project,
    Tasklist,
    Task,
    TimeEntry,
    InvoiceItem,
    InvoicePayment,
    Invoice,
    Estimate,
):
    _model.model_rebuild()
