"""What every flow shares: both clients, the ledger, the mappings, and the facts of both companies."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import anyio

from paymo_qb_mcp.config.policy import Mappings, QboRef
from paymo_qb_mcp.domain.money import normalize_currency
from paymo_qb_mcp.errors import ConfigError
from paymo_qb_mcp.paymo.client import PaymoClient
from paymo_qb_mcp.quickbooks import models as qbo_models
from paymo_qb_mcp.quickbooks.client import QboClient
from paymo_qb_mcp.quickbooks.query import eq
from paymo_qb_mcp.store.ledger import Ledger

__all__ = ["CompanyFacts", "SyncContext"]

TaxModel = Literal["global", "us"]
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


@dataclass(frozen=True)
class CompanyFacts:
    """The settings of both companies that change how records are built (read once per context)."""

    tax_model: TaxModel
    country: str
    home_currency: str
    multicurrency: bool
    custom_txn_numbers: bool
    book_close_date: dt.date | None
    paymo_timezone: ZoneInfo
    paymo_currency: str

    def in_closed_period(self, day: dt.date) -> bool:
        """True when ``day`` falls in QBO's closed books (on or before the book close date)."""
        return self.book_close_date is not None and day <= self.book_close_date

    def currency_of(self, currency_ref: qbo_models.Ref | None) -> str:
        """The ISO currency of a QBO record's ``CurrencyRef``: the home currency when it has none."""
        return currency_ref.value.upper() if currency_ref is not None else self.home_currency


@dataclass
class SyncContext:
    """The clients, ledger and mappings one sync run works with, plus per-run caches."""

    paymo: PaymoClient
    qbo: QboClient
    ledger: Ledger
    mappings: Mappings
    now: Callable[[], dt.datetime] = _utc_now
    _facts: CompanyFacts | None = field(default=None, init=False, repr=False)
    _facts_lock: anyio.Lock = field(default_factory=anyio.Lock, init=False, repr=False)
    _refs: dict[tuple[str, str], str] = field(default_factory=dict, init=False, repr=False)

    async def facts(self) -> CompanyFacts:
        """Tax model, currencies, numbering and closed period of the QBO company; Paymo's time zone."""
        async with self._facts_lock:
            if self._facts is None:
                self._facts = await self._load_facts()
            return self._facts

    async def _load_facts(self) -> CompanyFacts:
        info = await self.qbo.company_info()
        prefs = await self.qbo.preferences()
        company = await self.paymo.company()
        tax_prefs = prefs.TaxPrefs
        currency_prefs = prefs.CurrencyPrefs
        sales_prefs = prefs.SalesFormsPrefs
        accounting = prefs.AccountingInfoPrefs
        # AST (PartnerTaxEnabled) is the US model; everything else computes tax from TaxCode/TaxRate.
        tax_model: TaxModel = "us" if tax_prefs is not None and tax_prefs.PartnerTaxEnabled else "global"
        home = "USD"
        if currency_prefs is not None and currency_prefs.HomeCurrency is not None:
            home = currency_prefs.HomeCurrency.value
        zone_name = str(getattr(company, "timezone", None) or "UTC")
        try:
            zone = ZoneInfo(zone_name)
        except (ZoneInfoNotFoundError, ValueError):
            # GUESS: Paymo accepts legacy names such as US/Eastern, which zoneinfo knows; anything
            # else falls back to UTC rather than failing every flow.
            zone = ZoneInfo("UTC")
        paymo_currency = str(getattr(company, "default_currency", None) or home)
        return CompanyFacts(
            tax_model=tax_model,
            country=str(info.Country or ""),
            home_currency=home,
            multicurrency=bool(currency_prefs is not None and currency_prefs.MultiCurrencyEnabled),
            custom_txn_numbers=bool(sales_prefs is not None and sales_prefs.CustomTxnNumbers),
            book_close_date=accounting.BookCloseDate if accounting is not None else None,
            paymo_timezone=zone,
            paymo_currency=normalize_currency(paymo_currency),
        )

    async def resolve(self, model: type[Named], ref: QboRef, *, purpose: str) -> str:
        """The QBO Id a mapping refers to (by id, or by exact Name/DisplayName, resolved once)."""
        if ref.id is not None:
            return ref.id
        assert ref.name is not None  # QboRef guarantees an id or a name
        key = (model.entity_name, ref.name)
        if key in self._refs:
            return self._refs[key]
        name_field = "DisplayName" if "DisplayName" in model.model_fields else "Name"
        rows = await self.qbo.query_all(model, eq(name_field, ref.name))
        if not rows:
            raise ConfigError(
                f"policies.yaml mappings: {purpose} names the QuickBooks {model.entity_name} "
                f"{ref.name!r}, which does not exist; run `paymo-qb-mcp doctor --list-mappings` to see "
                "what the company has"
            )
        found = rows[0].Id
        assert found is not None
        self._refs[key] = found
        return found
