"""Local state under PAYMO_QB_DATA_DIR: link ledger, intents, approvals, cursors, audit log."""

from paymo_qb_mcp.store.approvals import Approval, ApprovalStore
from paymo_qb_mcp.store.audit import AuditLog, VerifyResult, verify
from paymo_qb_mcp.store.ledger import Intent, Ledger, Link

__all__ = [
    "Approval",
    "ApprovalStore",
    "AuditLog",
    "Intent",
    "Ledger",
    "Link",
    "VerifyResult",
    "verify",
]
