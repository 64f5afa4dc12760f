"""The QuickBooks Online API emulator: an in-memory company behind an ASGI app, seeded with the demo."""

from __future__ import annotations

from paymo_qb_mcp.sandbox.quickbooks.app import QboEmulator, QboRateBudget
from paymo_qb_mcp.sandbox.quickbooks.engine import Behaviour
from paymo_qb_mcp.sandbox.quickbooks.seed import DEFAULT_REALM_ID
from paymo_qb_mcp.sandbox.quickbooks.state import QboState

__all__ = ["DEFAULT_REALM_ID", "Behaviour", "QboEmulator", "QboRateBudget", "QboState"]
