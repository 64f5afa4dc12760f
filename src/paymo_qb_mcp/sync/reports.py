"""The read-only reports: what differs between the two systems for a period, and what is linked."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, Field

__all__ = [
    "ExpenseGap",
    "InvoiceDifference",
    "LinkCount",
    "PaymentDifference",
    "ReconciliationReport",
    "SyncStatus",
    "UnbilledTime",
]


class InvoiceDifference(BaseModel):
    """An invoice missing on one side, or whose total or status disagrees."""

    kind: Literal[
        "missing_in_quickbooks", "missing_in_paymo", "total_differs", "status_differs", "not_linked"
    ]
    paymo_invoice_id: int | None = None
    paymo_number: str | None = Field(default=None, description="Record text from Paymo.")
    qbo_invoice_id: str | None = None
    qbo_doc_number: str | None = Field(default=None, description="Record text from QuickBooks.")
    currency: str | None = None
    paymo_total: str | None = None
    qbo_total: str | None = None
    paymo_status: str | None = None
    qbo_balance: str | None = None
    note: str = ""


class PaymentDifference(BaseModel):
    """A payment recorded on one side only, or a balance that disagrees."""

    kind: Literal["only_in_paymo", "only_in_quickbooks", "balance_differs"]
    paymo_invoice_id: int | None = None
    qbo_invoice_id: str | None = None
    paymo_payment_id: int | None = None
    qbo_payment_id: str | None = None
    currency: str | None = None
    amount: str | None = None
    date: dt.date | None = None
    paymo_balance: str | None = Field(default=None, description="balance_differs: Paymo total − Σ payments.")
    qbo_balance: str | None = Field(default=None, description="balance_differs: the QBO invoice's Balance.")
    note: str = ""


class UnbilledTime(BaseModel):
    """Billable Paymo time in the period that is neither billed in Paymo nor pushed to QuickBooks."""

    paymo_client_id: int | None = None
    client_name: str | None = Field(default=None, description="Record text from Paymo.")
    paymo_project_id: int | None = None
    project_name: str | None = Field(default=None, description="Record text from Paymo.")
    entries: int
    hours: str


class ExpenseGap(BaseModel):
    """A Paymo expense in the period that has not been pushed to QuickBooks."""

    paymo_expense_id: int
    date: dt.date | None = None
    amount: str
    currency: str
    description: str | None = Field(default=None, description="Record text from Paymo.")


class ReconciliationReport(BaseModel):
    date_from: dt.date
    date_to: dt.date
    invoices: list[InvoiceDifference] = Field(default_factory=list)
    payments: list[PaymentDifference] = Field(default_factory=list)
    unbilled_time: list[UnbilledTime] = Field(default_factory=list)
    expenses_not_pushed: list[ExpenseGap] = Field(default_factory=list)
    summary: str = ""

    @property
    def clean(self) -> bool:
        return not (self.invoices or self.payments or self.unbilled_time or self.expenses_not_pushed)


class LinkCount(BaseModel):
    kind: str
    links: int


class SyncStatus(BaseModel):
    links: list[LinkCount] = Field(default_factory=list)
    pending_intents: int = 0
