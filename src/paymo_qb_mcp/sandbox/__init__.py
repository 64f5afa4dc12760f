"""Faithful local emulators of the Paymo and QuickBooks Online APIs, seeded with a demo agency.

Public surface: `Sandbox` (both emulators together), `PaymoEmulator`, `QboEmulator`, `Faults`,
`RateBudget`. Names load on first use, so importing one emulator does not import the other.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from paymo_qb_mcp.sandbox.core import Sandbox
    from paymo_qb_mcp.sandbox.faults import Faults, RateBudget
    from paymo_qb_mcp.sandbox.paymo import PaymoEmulator
    from paymo_qb_mcp.sandbox.quickbooks import QboEmulator

__all__ = ["Faults", "PaymoEmulator", "QboEmulator", "RateBudget", "Sandbox"]

_HOMES = {
    "Sandbox": "paymo_qb_mcp.sandbox.core",
    "Faults": "paymo_qb_mcp.sandbox.faults",
    "RateBudget": "paymo_qb_mcp.sandbox.faults",
    "PaymoEmulator": "paymo_qb_mcp.sandbox.paymo",
    "QboEmulator": "paymo_qb_mcp.sandbox.quickbooks",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
