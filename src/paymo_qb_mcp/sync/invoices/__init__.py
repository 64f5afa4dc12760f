"""Invoice sync Paymo → QBO: one invoice or a whole selection, planned cent-exact, never posted twice.

``planner`` plans one invoice (create, sparse update, void, skip); ``building`` makes the QBO invoice
and its tax mapping; ``changes`` holds the create/update/void changes; ``selection`` plans a list of
ids or a period in bulk; ``model`` is what they share.
"""

from paymo_qb_mcp.sync.invoices.building import (
    ExchangeRates,
    exchange_rate,
    exchange_rate_or_block,
    qbo_tax_code,
)
from paymo_qb_mcp.sync.invoices.model import (
    INVOICE_LINK_KIND,
    INVOICE_TOOL,
    InvoicePlan,
    invoice_content_hash,
)
from paymo_qb_mcp.sync.invoices.planner import INVOICE_INCLUDES, plan_invoice
from paymo_qb_mcp.sync.invoices.selection import (
    DEFAULT_PERIOD_STATUSES,
    InvoiceSelection,
    SelectionPlan,
    plan_invoice_selection,
)

__all__ = [
    "DEFAULT_PERIOD_STATUSES",
    "INVOICE_INCLUDES",
    "INVOICE_LINK_KIND",
    "INVOICE_TOOL",
    "ExchangeRates",
    "InvoicePlan",
    "InvoiceSelection",
    "SelectionPlan",
    "exchange_rate",
    "exchange_rate_or_block",
    "invoice_content_hash",
    "plan_invoice",
    "plan_invoice_selection",
    "qbo_tax_code",
]
