"""The Paymo API emulator: `PaymoEmulator` serves a faithful in-memory Paymo at `/api/...` (ASGI)."""

from __future__ import annotations

from paymo_qb_mcp.sandbox.paymo.emulator import PaymoEmulator
from paymo_qb_mcp.sandbox.paymo.webhooks import WebhookDelivery

__all__ = ["PaymoEmulator", "WebhookDelivery"]
