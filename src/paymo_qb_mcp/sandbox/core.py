"""The combined sandbox: both emulators side by side, their in-process transports and their facts."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import httpx

from paymo_qb_mcp.sandbox.control import ADMIN_PREFIX
from paymo_qb_mcp.sandbox.faults import Clock
from paymo_qb_mcp.sandbox.paymo import PaymoEmulator
from paymo_qb_mcp.sandbox.quickbooks import QboEmulator

Seed = Literal["demo", "empty"]
TaxModel = Literal["global", "us"]
RateLimits = Literal["faithful", "relaxed"]

# In-process base URLs (docs/sandbox.md). The Paymo one ends in /api; the QBO one is the part before /v3.
DEFAULT_PAYMO_BASE_URL = "https://app.paymoapp.com/api"
DEFAULT_QBO_BASE_URL = "https://sandbox-quickbooks.api.intuit.com"


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Sandbox:
    """A Paymo emulator and a QuickBooks Online emulator seeded with the same demo agency."""

    paymo: PaymoEmulator
    qbo: QboEmulator
    seed: Seed = "demo"
    tax_model: TaxModel = "global"

    @classmethod
    def create(
        cls,
        seed: Seed = "demo",
        tax_model: TaxModel = "global",
        rate_limits: RateLimits = "relaxed",
        *,
        time_scale: float = 1.0,
        clock: Clock = time.monotonic,
        now: Callable[[], datetime] = _utc_now,
        fault_control: bool = False,
    ) -> Sandbox:
        """Both emulators with one seed, tax model and rate-limit profile ("relaxed" for tests and the
        demo; "faithful" for the real services' budgets), every rate window `time_scale` times shorter.
        `clock` drives rate windows, `now` timestamps. `fault_control` serves the `/__sandbox/...`
        admin path on both (off by default: only `sandbox --faults` turns it on)."""
        options: dict[str, Any] = {
            "tax_model": tax_model,
            "rate_limits": rate_limits,
            "time_scale": time_scale,
            "clock": clock,
            "now": now,
            "fault_control": fault_control,
        }
        paymo = PaymoEmulator(seed, **options)
        qbo = QboEmulator(seed, **options)
        return cls(paymo=paymo, qbo=qbo, seed=seed, tax_model=tax_model)

    def paymo_transport(self) -> httpx.ASGITransport:
        return httpx.ASGITransport(app=self.paymo.app)

    def qbo_transport(self) -> httpx.ASGITransport:
        return httpx.ASGITransport(app=self.qbo.app)

    def facts(
        self, *, paymo_base_url: str = DEFAULT_PAYMO_BASE_URL, qbo_base_url: str = DEFAULT_QBO_BASE_URL
    ) -> dict[str, Any]:
        """What a client needs to reach this sandbox; the `sandbox` command prints it as its first line.
        The key and token are the sandbox's own throwaway credentials, printed on purpose. With fault
        control on, `paymo_admin_url` and `qbo_admin_url` are where each emulator serves it."""
        facts: dict[str, Any] = {
            "paymo_base_url": paymo_base_url,
            "qbo_base_url": qbo_base_url,
            "realm_id": self.qbo.realm_id,
            "paymo_api_key": self.paymo.api_key,
            "qbo_access_token": self.qbo.access_token,
            "seed": self.seed,
            "tax_model": self.tax_model,
        }
        if self.paymo.fault_control:
            facts["paymo_admin_url"] = paymo_base_url.rstrip("/").removesuffix("/api") + ADMIN_PREFIX
        if self.qbo.fault_control:
            facts["qbo_admin_url"] = qbo_base_url.rstrip("/") + ADMIN_PREFIX
        return facts
