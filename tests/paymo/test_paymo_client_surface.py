"""The public surface of paymo_qb_mcp.paymo changes only on purpose."""

from __future__ import annotations

import paymo_qb_mcp.paymo as paymo


def test_public_names_are_exactly_these() -> None:
    assert sorted(paymo.__all__) == sorted(
        [
            "DEFAULT_BASE_URL",
            "DEFAULT_PAGE_SIZE",
            "LARGEST_PAGE_SIZE",
            "INVOICE_STATUSES",
            "Client",
            "ClientContact",
            "Company",
            "Condition",
            "Estimate",
            "EstimateItem",
            "Expense",
            "Filters",
            "Include",
            "Invoice",
            "InvoiceItem",
            "InvoicePayment",
            "InvoiceStatus",
            "PaymoClient",
            "PaymoModel",
            "Project",
            "Task",
            "Tasklist",
            "TimeEntry",
            "User",
            "eq",
            "ge",
            "gt",
            "in_",
            "le",
            "like",
            "lt",
            "ne",
            "not_in",
            "not_like",
            "time_interval",
            "where",
        ]
    )
    assert all(hasattr(paymo, name) for name in paymo.__all__)


def test_the_client_offers_the_calls_the_sync_needs() -> None:
    calls = {name for name in vars(paymo.PaymoClient) if not name.startswith("_")}
    assert calls >= {
        "company",
        "me",
        "list_users",
        "list_clients",
        "get_client",
        "create_client",
        "update_client",
        "list_client_contacts",
        "list_projects",
        "get_project",
        "list_tasklists",
        "list_tasks",
        "get_task",
        "list_time_entries",
        "get_time_entry",
        "update_time_entry",
        "list_invoices",
        "get_invoice",
        "update_invoice",
        "list_invoice_payments",
        "create_invoice_payment",
        "update_invoice_payment",
        "delete_invoice_payment",
        "list_expenses",
        "get_expense",
        "update_expense",
        "list_estimates",
        "get_estimate",
    }
