"""What every flow shares: both clients, the ledger, the mappings, and the facts of both companies."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from paymo_qb_mcp.config.policy import Mappings, QboRef
from paymo_qb_mcp.errors import ConfigError
from paymo_qb_mcp.paymo.client import PaymoClient
from paymo_qb_mcp.quickbooks import models as qbo_models
from paymo_qb_mcp.quickbooks.client import QboClient
from paymo_qb_mcp.store.ledger import Ledger
from paymo_qb_mcp.sync.company import CompanyData, CompanyFacts, TaxModel

__all__ = ["CompanyFacts", "SyncContext", "TaxModel"]

Named = TypeVar(
    "Named",
    qbo_models.Item,
    qbo_models.Account,
    qbo_models.TaxCode,
    qbo_models.Vendor,
    qbo_models.Employee,
    qbo_models.Term,
    qbo_models.PaymentMethod,
)


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class SyncContext:
    """The clients, ledger and mappings one sync run works with, and the company data they share.

    ``company`` is the process's company-data cache (``sync.company``); a context built without one
    gets its own, in memory only.
    """

    paymo: PaymoClient
    qbo: QboClient
    ledger: Ledger
    mappings: Mappings
    now: Callable[[], dt.datetime] = _utc_now
    company: CompanyData | None = None

    def __post_init__(self) -> None:
        if self.company is None:
            self.company = CompanyData(self.qbo, self.paymo)

    @property
    def data(self) -> CompanyData:
        """The company data (never None after construction)."""
        assert self.company is not None
        return self.company

    async def facts(self) -> CompanyFacts:
        """Tax model, currencies, numbering and closed period of the QBO company; Paymo's time zone."""
        return await self.data.facts()

    async def resolve(self, model: type[Named], ref: QboRef, *, purpose: str) -> str:
        """The QBO Id a mapping refers to (by id, or by exact Name/DisplayName in the company data)."""
        if ref.id is not None:
            return ref.id
        assert ref.name is not None  # QboRef guarantees an id or a name
        found: qbo_models.QboEntity | None
        if model is qbo_models.TaxCode:
            found = next(
                (code for code in (await self.data.tax_codes()).values() if code.Name == ref.name), None
            )
        else:
            found = await self.data.find_by_name(model, ref.name)
        if found is None or found.Id is None:
            raise ConfigError(
                f"policies.yaml mappings: {purpose} names the QuickBooks {model.entity_name} "
                f"{ref.name!r}, which does not exist; run `paymo-qb-mcp doctor --list-mappings` to see "
                "what the company has"
            )
        return found.Id
