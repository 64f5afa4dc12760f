"""What the Paymo emulator knows about each resource: fields and their types, includes, events, currencies."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


class Kind(enum.Enum):
    INT = "int"
    DEC = "dec"
    BOOL = "bool"
    TEXT = "text"
    DATE = "date"
    DATETIME = "datetime"
    INT_LIST = "int_list"
    TEXT_LIST = "text_list"
    OBJECT = "object"


@dataclass(frozen=True)
class Field:
    """One property of a resource. `writable` False = read-only (silently ignored on write)."""

    kind: Kind
    writable: bool = True
    default: Any = None

    def initial(self) -> Any:
        # Lists and objects must not be shared between records.
        if isinstance(self.default, list):
            return list(self.default)
        if isinstance(self.default, dict):
            return dict(self.default)
        return self.default


@dataclass(frozen=True)
class Relation:
    """An include key. Parent: `target.id == record[local]`, embedded as an object.
    Child: `target[remote] == record.id`, embedded as an array."""

    target: str
    parent: bool
    local: str = "id"
    remote: str = "id"


@dataclass(frozen=True)
class Resource:
    collection: str
    model: str | None  # webhook model name (`model.insert.<model>`); None = no events
    fields: dict[str, Field]
    required: tuple[str, ...] = ()
    relations: dict[str, Relation] = field(default_factory=dict)
    # Fields that exist only for filtering (`where`), never rendered.
    filter_only: dict[str, Kind] = field(default_factory=dict)
    # Lines have no endpoint for writes of their own: they change through their document.
    read_only_endpoint: bool = False


RO = False

_TIMESTAMPS = {
    "created_on": Field(Kind.DATETIME, RO),
    "updated_on": Field(Kind.DATETIME, RO),
}


def _fields(**specs: Field) -> dict[str, Field]:
    return {"id": Field(Kind.INT, RO), **specs, **_TIMESTAMPS}


def _parent(target: str, local: str) -> Relation:
    return Relation(target=target, parent=True, local=local)


def _child(target: str, remote: str) -> Relation:
    return Relation(target=target, parent=False, remote=remote)


TEXT, DEC, BOOL, INT, DATE, DATETIME = Kind.TEXT, Kind.DEC, Kind.BOOL, Kind.INT, Kind.DATE, Kind.DATETIME

CLIENTS = Resource(
    "clients",
    "Client",
    _fields(
        name=Field(TEXT),
        address=Field(TEXT),
        city=Field(TEXT),
        state=Field(TEXT),
        postal_code=Field(TEXT),
        country=Field(TEXT),
        phone=Field(TEXT),
        fax=Field(TEXT),
        email=Field(TEXT),
        website=Field(TEXT),
        fiscal_information=Field(TEXT),
        active=Field(BOOL, default=True),
        due_interval=Field(INT),
    ),
    required=("name",),
    relations={
        "clientcontacts": _child("clientcontacts", "client_id"),
        "projects": _child("projects", "client_id"),
        "invoices": _child("invoices", "client_id"),
    },
)

CLIENT_CONTACTS = Resource(
    "clientcontacts",
    "ClientContact",
    _fields(
        client_id=Field(INT),
        name=Field(TEXT),
        email=Field(TEXT),
        mobile=Field(TEXT),
        phone=Field(TEXT),
        fax=Field(TEXT),
        skype=Field(TEXT),
        notes=Field(TEXT),
        position=Field(TEXT),
        is_main=Field(BOOL, default=False),
        access=Field(BOOL, default=False),
    ),
    required=("client_id", "name"),
    relations={"client": _parent("clients", "client_id")},
)

PROJECTS = Resource(
    "projects",
    "Project",
    _fields(
        name=Field(TEXT),
        code=Field(TEXT),
        task_code_increment=Field(INT, RO, 0),
        description=Field(TEXT, default=""),
        client_id=Field(INT),
        status_id=Field(INT),
        active=Field(BOOL, default=True),
        color=Field(TEXT),
        users=Field(Kind.INT_LIST, default=[]),
        managers=Field(Kind.INT_LIST, default=[]),
        billable=Field(BOOL, default=True),
        flat_billing=Field(BOOL, default=False),
        price_per_hour=Field(DEC),
        price=Field(DEC),
        estimated_price=Field(DEC),
        hourly_billing_mode=Field(TEXT),
        budget_hours=Field(DEC),
        adjustable_hours=Field(BOOL, default=False),
        invoiced=Field(BOOL, default=False),
        invoice_item_id=Field(INT),
        workflow_id=Field(INT),
    ),
    required=("name",),
    relations={
        "client": _parent("clients", "client_id"),
        "tasklists": _child("tasklists", "project_id"),
        "tasks": _child("tasks", "project_id"),
        "invoiceitem": _parent("invoiceitems", "invoice_item_id"),
    },
)

TASKLISTS = Resource(
    "tasklists",
    "Tasklist",
    _fields(
        name=Field(TEXT),
        project_id=Field(INT),
        seq=Field(INT),
        milestone_id=Field(INT),
    ),
    required=("name", "project_id"),
    relations={"project": _parent("projects", "project_id"), "tasks": _child("tasks", "tasklist_id")},
)

TASKS = Resource(
    "tasks",
    "Task",
    _fields(
        name=Field(TEXT),
        code=Field(TEXT, RO),
        project_id=Field(INT),
        tasklist_id=Field(INT),
        seq=Field(INT),
        description=Field(TEXT, default=""),
        complete=Field(BOOL, default=False),
        completed_on=Field(DATETIME, RO),
        completed_by=Field(INT, RO),
        due_date=Field(DATE),
        start_date=Field(DATE),
        user_id=Field(INT, RO),
        users=Field(Kind.INT_LIST, default=[]),
        billable=Field(BOOL),
        flat_billing=Field(BOOL, default=False),
        price_per_hour=Field(DEC),
        price=Field(DEC),
        budget_hours=Field(DEC),
        estimated_price=Field(DEC),
        invoiced=Field(BOOL, default=False),
        invoice_item_id=Field(INT),
        priority=Field(INT, default=50),
        status_id=Field(INT),
    ),
    required=("name",),
    relations={
        "project": _parent("projects", "project_id"),
        "tasklist": _parent("tasklists", "tasklist_id"),
        "user": _parent("users", "user_id"),
        "entries": _child("entries", "task_id"),
        "invoiceitem": _parent("invoiceitems", "invoice_item_id"),
    },
    filter_only={"mytasks": Kind.BOOL},
)

ENTRIES = Resource(
    "entries",
    "Entry",
    _fields(
        task_id=Field(INT),
        project_id=Field(INT, RO),
        user_id=Field(INT),
        is_bulk=Field(BOOL, RO),
        start_time=Field(DATETIME),
        end_time=Field(DATETIME),
        date=Field(DATE),
        duration=Field(INT),
        description=Field(TEXT, default=""),
        added_manually=Field(BOOL, default=True),
        billed=Field(BOOL, default=False),
        invoice_item_id=Field(INT),
    ),
    required=("task_id",),
    relations={
        "task": _parent("tasks", "task_id"),
        "invoiceitem": _parent("invoiceitems", "invoice_item_id"),
        "user": _parent("users", "user_id"),
    },
    filter_only={"client_id": Kind.INT, "time_interval": Kind.DATETIME},
)

USERS = Resource(
    "users",
    "User",
    _fields(
        name=Field(TEXT),
        email=Field(TEXT),
        type=Field(TEXT, default="Employee"),
        active=Field(BOOL, default=True),
        timezone=Field(TEXT),
        phone=Field(TEXT),
        skype=Field(TEXT),
        position=Field(TEXT),
        workday_hours=Field(DEC),
        price_per_hour=Field(DEC),
        date_format=Field(TEXT),
        time_format=Field(TEXT),
        decimal_sep=Field(TEXT),
        thousands_sep=Field(TEXT),
        week_start=Field(TEXT),
        language=Field(TEXT),
        theme=Field(TEXT),
        assigned_projects=Field(Kind.INT_LIST, RO, []),
        managed_projects=Field(Kind.INT_LIST, RO, []),
        is_online=Field(BOOL, RO, False),
    ),
    required=("email",),
    relations={"entries": _child("entries", "user_id"), "expenses": _child("expenses", "user_id")},
)

_DOCUMENT_FIELDS: dict[str, Field] = {
    "number": Field(TEXT),
    "client_id": Field(INT),
    "template_id": Field(INT),
    "status": Field(TEXT, default="draft"),
    "currency": Field(TEXT),
    "date": Field(DATE),
    "subtotal": Field(DEC, RO),
    "total": Field(DEC, RO),
    "tax": Field(DEC),
    "tax_amount": Field(DEC, RO),
    "tax2": Field(DEC),
    "tax2_amount": Field(DEC, RO),
    "discount": Field(DEC),
    "discount_amount": Field(DEC, RO),
    "tax_on_tax": Field(BOOL, default=False),
    "language": Field(TEXT),
    "bill_to": Field(TEXT),
    "company_info": Field(TEXT),
    "footer": Field(TEXT),
    "notes": Field(TEXT, default=""),
    "tax_text": Field(TEXT),
    "tax2_text": Field(TEXT),
    "discount_text": Field(TEXT),
    "title": Field(TEXT),
    "permalink": Field(TEXT, RO),
    "pdf_link": Field(TEXT, RO),
    "token": Field(TEXT, RO),
    "download_token": Field(TEXT, RO),
}

INVOICES = Resource(
    "invoices",
    "Invoice",
    _fields(
        **_DOCUMENT_FIELDS,
        due_date=Field(DATE),
        outstanding=Field(DEC),
        delivery_date=Field(DATE),
        pay_online=Field(BOOL, default=False),
        reminder_1_sent=Field(BOOL, RO),
        reminder_2_sent=Field(BOOL, RO),
        reminder_3_sent=Field(BOOL, RO),
        project_id=Field(INT),
        options=Field(Kind.OBJECT),
    ),
    required=("client_id", "currency"),
    relations={
        "client": _parent("clients", "client_id"),
        "invoiceitems": _child("invoiceitems", "invoice_id"),
        "invoicepayments": _child("invoicepayments", "invoice_id"),
    },
)

_LINE_FIELDS: dict[str, Field] = {
    "item": Field(TEXT, default=""),
    "description": Field(TEXT, default=""),
    "price_unit": Field(DEC, default=None),
    "quantity": Field(DEC, default=None),
    "apply_tax": Field(BOOL, default=True),
    "seq": Field(INT),
}

INVOICE_ITEMS = Resource(
    "invoiceitems",
    None,
    _fields(invoice_id=Field(INT, RO), **_LINE_FIELDS, expense_id=Field(INT)),
    relations={
        "invoice": _parent("invoices", "invoice_id"),
        "entries": _child("entries", "invoice_item_id"),
        "expense": _parent("expenses", "expense_id"),
        "projects": _child("projects", "invoice_item_id"),
        "tasks": _child("tasks", "invoice_item_id"),
    },
    read_only_endpoint=True,
)

INVOICE_PAYMENTS = Resource(
    "invoicepayments",
    "InvoicePayment",
    _fields(
        invoice_id=Field(INT),
        amount=Field(DEC),
        date=Field(DATE),
        notes=Field(TEXT, default=""),
    ),
    required=("invoice_id", "amount"),
    relations={"invoice": _parent("invoices", "invoice_id")},
)

EXPENSES = Resource(
    "expenses",
    "Expense",
    _fields(
        client_id=Field(INT),
        project_id=Field(INT),
        user_id=Field(INT),
        name=Field(TEXT),
        amount=Field(DEC),
        price=Field(DEC, RO),
        currency=Field(TEXT),
        date=Field(DATE),
        notes=Field(TEXT, default=""),
        invoiced=Field(BOOL, default=False),
        invoice_item_id=Field(INT),
        tags=Field(Kind.TEXT_LIST, default=[]),
        file=Field(TEXT, RO, ""),
        download_token=Field(TEXT, RO),
    ),
    required=("client_id", "amount", "currency"),
    relations={
        "client": _parent("clients", "client_id"),
        "project": _parent("projects", "project_id"),
        "user": _parent("users", "user_id"),
        "invoiceitems": _child("invoiceitems", "expense_id"),
    },
)

ESTIMATES = Resource(
    "estimates",
    "Estimate",
    _fields(**_DOCUMENT_FIELDS, brief_description=Field(TEXT), invoice_id=Field(INT, RO)),
    required=("client_id", "currency"),
    relations={
        "client": _parent("clients", "client_id"),
        "invoice": _parent("invoices", "invoice_id"),
        "estimateitems": _child("estimateitems", "estimate_id"),
    },
)

ESTIMATE_ITEMS = Resource(
    "estimateitems",
    None,
    _fields(estimate_id=Field(INT, RO), **_LINE_FIELDS),
    relations={"estimate": _parent("estimates", "estimate_id")},
    read_only_endpoint=True,
)

HOOKS = Resource(
    "hooks",
    None,
    _fields(
        target_url=Field(TEXT),
        event=Field(TEXT),
        where=Field(TEXT),
        last_status_code=Field(INT, RO),
    ),
    required=("target_url", "event"),
)

RESOURCES: dict[str, Resource] = {
    resource.collection: resource
    for resource in (
        CLIENTS,
        CLIENT_CONTACTS,
        PROJECTS,
        TASKLISTS,
        TASKS,
        ENTRIES,
        USERS,
        INVOICES,
        INVOICE_ITEMS,
        INVOICE_PAYMENTS,
        EXPENSES,
        ESTIMATES,
        ESTIMATE_ITEMS,
        HOOKS,
    )
}

MODEL_COLLECTIONS: dict[str, str] = {r.model: r.collection for r in RESOURCES.values() if r.model is not None}

INVOICE_STATUSES = ("draft", "sent", "viewed", "paid", "void")
ESTIMATE_STATUSES = ("draft", "sent", "viewed", "accepted", "invoiced", "void")
USER_TYPES = ("Admin", "Employee", "Guest")

# The webhook events Paymo documents (webhooks.md, 2023-07); several models are not emulated, but a hook
# on them is still valid to create.
WEBHOOK_MODELS = (
    "Client",
    "ClientContact",
    "Project",
    "Tasklist",
    "Task",
    "Invoice",
    "InvoicePayment",
    "Entry",
    "Milestone",
    "Report",
    "Expense",
    "Estimate",
    "Comment",
    "User",
    "Booking",
)
WEBHOOK_EVENTS = frozenset(
    [f"model.{action}.{model}" for model in WEBHOOK_MODELS for action in ("insert", "update", "delete")]
    + ["model.start.Entry", "model.stop.Entry"]
)

# What a webhook body embeds besides the object's own fields, per model (webhooks.md "Additional includes").
# GUESS: `progress_status` on tasks is not emulated, so the task include omits it.
WEBHOOK_INCLUDES: dict[str, str] = {
    "Project": "client.name",
    "Tasklist": "project.name",
    "Task": "*,project.name,tasklist.name",
    "Invoice": "invoiceitems,client.name",
    "Entry": "task.name,user.name",
    "Expense": "client.name,project.name",
    "Estimate": "estimateitems,client.name",
}

# sections/currencies.md, complete, including the non-ISO codes (CFP, RMB, TBH, U$S, US$) and retired ones.
PAYMO_CURRENCIES = frozenset(
    [
        "AED",
        "AMD",
        "ANG",
        "AOA",
        "ARS",
        "AUD",
        "AWG",
        "BAM",
        "BDT",
        "BGN",
        "BRL",
        "BWP",
        "CAD",
        "CFP",
        "CHF",
        "CLF",
        "CLP",
        "CNY",
        "COP",
        "CRC",
        "CZK",
        "DKK",
        "DOP",
        "DZD",
        "EEK",
        "EGP",
        "EUR",
        "GBP",
        "GTQ",
        "HKD",
        "HRK",
        "HUF",
        "IDR",
        "ILS",
        "INR",
        "IRR",
        "ISK",
        "JMD",
        "JOD",
        "JPY",
        "KES",
        "KRW",
        "KWD",
        "KYD",
        "KZT",
        "LKR",
        "LTL",
        "LVL",
        "MAD",
        "MDL",
        "MUR",
        "MXN",
        "MYR",
        "NAD",
        "NGN",
        "NIO",
        "NOK",
        "NZD",
        "OMR",
        "PEN",
        "PHP",
        "PKR",
        "PLN",
        "PYG",
        "QAR",
        "RMB",
        "RON",
        "RSD",
        "RUB",
        "SAR",
        "SEK",
        "SGD",
        "SKK",
        "TBH",
        "TND",
        "TRY",
        "TTD",
        "TWD",
        "U$S",
        "UAH",
        "US$",
        "USD",
        "UYU",
        "VEF",
        "VND",
        "ZAR",
    ]
)

# Company settings are strings on the wire even when numeric (company.md example).
COMPANY_SETTING_KEYS = (
    "apply_tax_to_expenses",
    "date_format",
    "default_currency",
    "default_price_per_hour",
    "default_tax",
    "default_tax2",
    "default_tax2_text",
    "default_tax_text",
    "due_interval",
    "estimate_format",
    "hide_tax_field",
    "invoice_format",
    "language",
    "next_estimate_number",
    "next_invoice_number",
    "payment_reminder_1",
    "payment_reminder_2",
    "payment_reminder_3",
    "remove_paymo_branding",
    "tax_on_tax",
    "timezone",
    "time_format",
    "week_start",
    "workday_start",
    "workday_end",
    "working_days",
    "decimal_sep",
    "thousands_sep",
)
COMPANY_IDENTITY_KEYS = ("name", "address", "phone", "email", "url", "fiscal_information", "country")
