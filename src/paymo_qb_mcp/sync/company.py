"""Both companies' reference data every planner reads: loaded once per process, kept fresh, persisted.

QuickBooks: customers, vendors, employees, items, accounts, terms and payment methods are read once
and then kept current with change data capture (one ``GET /cdc`` for all of them, from QBO's own clock
with an overlap; its 30-day window and its 1000-object cap are met by a full reload). Tax codes and
rates (which QBO's change data capture does not track), preferences and company info are each read
when first needed and again every ``settings_interval``. Paymo: the company settings (the same way),
clients and client contacts, kept current with ``updated_on`` filters and re-read whole every
``settings_interval`` (Paymo reports no deletions).

Freshness: data older than ``refresh_interval`` is caught up before it is used (once per plan: a plan
sees one consistent moment however long it takes), and a plan about to take a new decision about a
customer (link or create) catches up if the data predates the plan (``plan_scope`` /
``confirm_current``), so a customer created or renamed in QuickBooks a moment ago is seen before
anything is linked or created. A catch-up that fails drops the cache (in memory and on
disk) and the error propagates: stale data is never trusted. What a write depends on (the record, its
SyncToken, a balance) is not taken from here: planners and the executor read it fresh.

The lists are persisted as snapshots in the data directory, keyed by company, so a restarted server
starts warm and only catches up (settings, being a few requests, are read again). A snapshot is
written whole and atomically, and always describes a consistent moment (its records and the
high-water mark they were caught up to), so two processes writing in turn can only make the next
catch-up longer, never wrong.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import anyio

from paymo_qb_mcp.domain.match_index import CustomerIndex
from paymo_qb_mcp.domain.matching import MatchResult, PaymoClientView, QboCustomerView
from paymo_qb_mcp.domain.money import normalize_currency
from paymo_qb_mcp.errors import PaymoQbError
from paymo_qb_mcp.net import jsonwire
from paymo_qb_mcp.paymo import models as paymo_models
from paymo_qb_mcp.paymo.client import LARGEST_PAGE_SIZE, PaymoClient
from paymo_qb_mcp.paymo.where import ge as paymo_ge
from paymo_qb_mcp.quickbooks import models as qbo_models
from paymo_qb_mcp.quickbooks.client import QboClient
from paymo_qb_mcp.quickbooks.query import ACTIVE_OR_INACTIVE
from paymo_qb_mcp.store.snapshots import read_snapshot, remove_snapshot, write_snapshot
from paymo_qb_mcp.sync.side_by_side import side_by_side

__all__ = [
    "QBO_TRACKED",
    "CacheSettings",
    "CompanyData",
    "CompanyFacts",
    "TaxModel",
    "customer_view",
    "fold_name",
]

logger = logging.getLogger(__name__)

TaxModel = str  # "global" | "us" (kept as text so snapshots and facts share one spelling)
Entity = TypeVar("Entity", bound=qbo_models.QboEntity)

# The name lists QBO's change data capture keeps current for us, in the order parties are ranked
# when names collide (customers, then vendors, then employees).
QBO_TRACKED: Final[tuple[type[qbo_models.QboEntity], ...]] = (
    qbo_models.Customer,
    qbo_models.Vendor,
    qbo_models.Employee,
    qbo_models.Item,
    qbo_models.Account,
    qbo_models.Term,
    qbo_models.PaymentMethod,
)
_PARTIES: Final = ("Customer", "Vendor", "Employee")
# Changes stamped just before a catch-up may commit just after it: every catch-up looks back this far.
_CDC_OVERLAP: Final = dt.timedelta(seconds=3)
# QBO looks back at most 30 days; a mark older than this is caught up by a full reload.
_CDC_MAX_AGE: Final = dt.timedelta(days=29)
_SNAPSHOT_VERSION: Final = 1

_PLAN_STARTED: ContextVar[float | None] = ContextVar("paymo_qb_plan_started", default=None)


@dataclass(frozen=True)
class CacheSettings:
    """How fresh the company data is kept (seconds).

    ``refresh_interval``: data older than this is caught up before use (0: before every use).
    ``settings_interval``: tax codes and rates, preferences, company info and the Paymo lists are
    re-read whole this often. ``persist_interval``: at most one snapshot write per this many seconds.
    """

    refresh_interval: float = 2.0
    settings_interval: float = 300.0
    persist_interval: float = 10.0


@dataclass(frozen=True)
class CompanyFacts:
    """The settings of both companies that change how records are built."""

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


def fold_name(name: str) -> str:
    """A name as QBO compares names for uniqueness: case and surrounding/repeated spaces ignored."""
    return " ".join(name.split()).casefold()


def customer_view(customer: qbo_models.Customer) -> QboCustomerView:
    """The fields of a QBO customer that identify an organisation, for matching."""
    assert customer.Id is not None
    bill = customer.BillAddr
    return QboCustomerView(
        id=customer.Id,
        display_name=customer.DisplayName or customer.CompanyName or "",
        company_name=customer.CompanyName,
        email=customer.PrimaryEmailAddr.Address if customer.PrimaryEmailAddr else None,
        bill_city=bill.City if bill else None,
        bill_country=bill.Country if bill else None,
        website=customer.WebAddr.URI if customer.WebAddr else None,
        active=customer.Active is not False,
        currency=customer.CurrencyRef.value if customer.CurrencyRef else None,
        notes=customer.Notes,
    )


def _id_order(ident: str) -> tuple[int, int | str]:
    return (0, int(ident)) if ident.isdigit() else (1, ident)


class _CustomerMatcher:
    """The customers a Paymo client can be matched against (sub-customers excluded), indexed per change."""

    def __init__(self) -> None:
        self._index = CustomerIndex()

    def upsert(self, customer: qbo_models.Customer) -> None:
        if customer.Id is None:
            return
        if customer.Job:
            self._index.remove(customer.Id)
        else:
            self._index.upsert(customer_view(customer))

    def remove(self, customer_id: str) -> None:
        self._index.remove(customer_id)

    def match(self, client: PaymoClientView, *, linked_customer_id: str | None) -> MatchResult:
        return self._index.match(client, linked_customer_id=linked_customer_id)


class _PartyNames:
    """QBO's one namespace of customer, vendor and employee DisplayNames, folded, kept per change."""

    def __init__(self) -> None:
        self._by_record: dict[tuple[str, str], str] = {}
        self._by_name: dict[str, dict[tuple[str, str], str]] = {}

    def upsert(self, entity: str, ident: str, display_name: str | None) -> None:
        self.remove(entity, ident)
        if not display_name:
            return
        folded = fold_name(display_name)
        self._by_record[(entity, ident)] = folded
        self._by_name.setdefault(folded, {})[(entity, ident)] = display_name

    def remove(self, entity: str, ident: str) -> None:
        folded = self._by_record.pop((entity, ident), None)
        if folded is None:
            return
        holders = self._by_name.get(folded, {})
        holders.pop((entity, ident), None)
        if not holders:
            self._by_name.pop(folded, None)

    def holder(self, folded: str) -> tuple[str, str, str] | None:
        """(entity, Id, DisplayName) of the record using a folded name: customers first, lowest Id first."""
        holders = self._by_name.get(folded)
        if not holders:
            return None
        (entity, ident), name = min(
            holders.items(), key=lambda item: (_PARTIES.index(item[0][0]), _id_order(item[0][1]))
        )
        return entity.lower(), ident, name

    def __contains__(self, folded: object) -> bool:
        return folded in self._by_name


@dataclass
class _Settings:
    """QBO's preferences and company info (the facts)."""

    preferences: qbo_models.Preferences
    company_info: qbo_models.CompanyInfo
    read_at: float


@dataclass
class _TaxTables:
    tax_codes: dict[str, qbo_models.TaxCode]
    tax_rates: dict[str, qbo_models.TaxRate]
    read_at: float


@dataclass
class _PaymoCompany:
    company: paymo_models.Company
    read_at: float


@dataclass
class _PaymoData:
    clients: dict[int, paymo_models.Client]
    contacts: dict[int, paymo_models.ClientContact]
    mark: dt.datetime | None
    read_at: float
    caught_up_at: float


class CompanyData:
    """Both companies' reference data for one process (see the module docstring); safe to share between tasks.

    ``directory`` (optional) holds the snapshots; ``qbo_key`` and ``paymo_key`` name the companies
    in it (never secrets: e.g. a hash of the base URL and realm, or of the API key).
    """

    def __init__(
        self,
        qbo: QboClient,
        paymo: PaymoClient,
        *,
        directory: Path | None = None,
        qbo_key: str = "qbo",
        paymo_key: str = "paymo",
        settings: CacheSettings | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._qbo = qbo
        self._paymo = paymo
        self.settings = settings or CacheSettings()
        self._clock = clock
        self._qbo_file = directory / f"qbo-{qbo_key}.json" if directory is not None else None
        self._paymo_file = directory / f"paymo-{paymo_key}.json" if directory is not None else None
        self._qbo_lock = anyio.Lock()
        self._paymo_lock = anyio.Lock()
        self._rows: dict[str, dict[str, qbo_models.QboEntity]] | None = None
        self._mark: dt.datetime | None = None
        self._caught_up_at = float("-inf")
        self._qbo_settings: _Settings | None = None
        self._tax: _TaxTables | None = None
        self._paymo_company: _PaymoCompany | None = None
        self._paymo_data: _PaymoData | None = None
        self._settings_lock = anyio.Lock()
        self._matcher = _CustomerMatcher()
        self._names = _PartyNames()
        self._facts: CompanyFacts | None = None
        self._qbo_persisted_at = float("-inf")
        self._paymo_persisted_at = float("-inf")
        self._qbo_dirty = False
        self._paymo_dirty = False
        self._qbo_snapshot_tried = False
        self._paymo_snapshot_tried = False
        # When (by our own wall clock) QBO's clock read ``_mark``: QBO looks back 30 days from its
        # clock, and an age measured on one clock is right whatever the offset between the two.
        self._mark_taken: dt.datetime | None = None
        self._wall_clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)
        self.stats: dict[str, int] = {"full_loads": 0, "catch_ups": 0, "settings_reads": 0, "paymo_reads": 0}

    # --- plans -------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def plan_scope(self) -> Iterator[None]:
        """Mark the start of a plan: ``confirm_current`` inside it catches up at most once per plan."""
        token = _PLAN_STARTED.set(self._clock())
        try:
            yield
        finally:
            _PLAN_STARTED.reset(token)

    async def confirm_current(self) -> None:
        """Before a new decision (linking, creating or updating a customer, choosing a vendor or a worker):
        catch both companies' data up unless that already happened since the current plan began (outside
        a plan, always), so what a human changed a moment ago in either system is seen first."""
        started = _PLAN_STARTED.get()
        threshold = started if started is not None else self._clock()
        async with self._qbo_lock:
            await self._qbo_loaded()
            if self._caught_up_at < threshold:
                await self._catch_up()
        async with self._paymo_lock:
            data = await self._paymo_loaded()
            if data.caught_up_at < threshold:
                try:
                    await self._paymo_catch_up(data)
                except PaymoQbError:
                    self.invalidate()
                    raise

    async def warm(self) -> None:
        """Have both companies' lists, settings and tax tables ready (read concurrently, each as fresh as
        its schedule asks): a plan that will need them all reads them side by side instead of in turn."""
        async with side_by_side() as group:
            group.start_soon(self._fresh_rows)
            group.start_soon(self._fresh_paymo)
            group.start_soon(self.facts)
            group.start_soon(self._fresh_tax)

    async def catch_up(self) -> None:
        """Catch QBO's lists up now, whatever their age (a record we are told exists is not known yet)."""
        async with self._qbo_lock:
            started = self._clock()
            await self._qbo_loaded()
            if self._caught_up_at < started:
                await self._catch_up()

    # --- QuickBooks lists ----------------------------------------------------------------------------

    async def qbo_rows(self, model: type[Entity]) -> Mapping[str, Entity]:
        """Every record of a tracked name list (active and inactive), by Id."""
        rows = await self._fresh_rows()
        return rows[model.entity_name]  # type: ignore[return-value]  # filled per tracked model

    async def qbo_list(self, model: type[Entity]) -> list[Entity]:
        """Every record of a tracked name list, in Id order."""
        rows = await self.qbo_rows(model)
        return [rows[ident] for ident in sorted(rows, key=_id_order)]

    async def customers(self) -> Mapping[str, qbo_models.Customer]:
        return await self.qbo_rows(qbo_models.Customer)

    async def match_customer(
        self, client: PaymoClientView, *, linked_customer_id: str | None = None
    ) -> MatchResult:
        """``domain.matching.match_client`` over every customer that is not a sub-customer."""
        await self._fresh_rows()
        return self._matcher.match(client, linked_customer_id=linked_customer_id)

    async def party_name_holder(self, name: str) -> tuple[str, str, str] | None:
        """Which customer, vendor or employee uses ``name`` (as QBO compares names): (entity, Id, name)."""
        await self._fresh_rows()
        return self._names.holder(fold_name(name))

    async def name_taken(self, name: str) -> bool:
        await self._fresh_rows()
        return fold_name(name) in self._names

    async def record(self, model: type[Entity], ident: str) -> Entity | None:
        """A record of a tracked list, a tax code or a tax rate by Id; None when the data does not hold it
        (an untracked entity, or one created since the last catch-up: read it from QBO then)."""
        found: qbo_models.QboEntity | None
        if model is qbo_models.TaxCode:
            found = (await self.tax_codes()).get(ident)
        elif model is qbo_models.TaxRate:
            found = (await self.tax_rates()).get(ident)
        elif model in QBO_TRACKED:
            found = (await self.qbo_rows(model)).get(ident)
        else:
            found = None
        return found if isinstance(found, model) else None

    async def find_by_name(self, model: type[Entity], name: str) -> Entity | None:
        """The record of a tracked list whose Name (DisplayName for parties) is exactly ``name``."""
        field = "DisplayName" if "DisplayName" in model.model_fields else "Name"
        for row in await self.qbo_list(model):
            if getattr(row, field, None) == name:
                return row
        return None

    # --- QuickBooks settings --------------------------------------------------------------------------

    async def tax_codes(self) -> Mapping[str, qbo_models.TaxCode]:
        return (await self._fresh_tax()).tax_codes

    async def tax_rates(self) -> Mapping[str, qbo_models.TaxRate]:
        return (await self._fresh_tax()).tax_rates

    async def preferences(self) -> qbo_models.Preferences:
        return (await self._fresh_settings()).preferences

    async def company_info(self) -> qbo_models.CompanyInfo:
        return (await self._fresh_settings()).company_info

    async def facts(self) -> CompanyFacts:
        """Tax model, currencies, numbering and closed period of the QBO company; Paymo's time zone."""
        settings = await self._fresh_settings()
        company = await self.paymo_company()
        if self._facts is None:
            self._facts = _facts(settings.preferences, settings.company_info, company)
        return self._facts

    # --- Paymo ---------------------------------------------------------------------------------------

    async def paymo_company(self) -> paymo_models.Company:
        """The Paymo company settings (currency, taxes, time zone), re-read every ``settings_interval``."""
        async with self._settings_lock:
            held = self._paymo_company
            if held is None or self._clock() - held.read_at >= self.settings.settings_interval:
                started = self._clock()
                held = _PaymoCompany(await self._paymo.company(), started)
                self._paymo_company = held
                self._facts = None
            return held.company

    async def paymo_client(self, client_id: int) -> paymo_models.Client:
        """A Paymo client (read and remembered when the cache does not know it yet)."""
        data = await self._fresh_paymo()
        client = data.clients.get(client_id)
        if client is None:
            client = await self._paymo.get_client(client_id)
            data.clients[client.id] = client
            self._paymo_dirty = True
        return client

    async def paymo_contacts(self, client_id: int) -> list[paymo_models.ClientContact]:
        """The client's contacts, in Id order."""
        data = await self._fresh_paymo()
        return sorted(
            (contact for contact in data.contacts.values() if contact.client_id == client_id),
            key=lambda contact: contact.id,
        )

    # --- invalidation and persistence ----------------------------------------------------------------

    def observe(self, record: qbo_models.QboEntity) -> None:
        """Take in a record one of our writes just got back from QBO, so the next plan sees it at once.

        Only tracked lists are kept; an older version (lower SyncToken) never replaces a newer one.
        """
        entity = record.entity_name
        if self._rows is None or record.Id is None or entity not in self._rows:
            return
        held = self._rows[entity].get(record.Id)
        if held is not None and _token(held) > _token(record):
            return
        self._put(entity, record)
        self._qbo_dirty = True

    def invalidate(self) -> None:
        """Forget everything (in memory and on disk): the next use reloads from both services."""
        self._rows = None
        self._mark = None
        self._mark_taken = None
        self._caught_up_at = float("-inf")
        self._qbo_settings = None
        self._tax = None
        self._paymo_company = None
        self._paymo_data = None
        self._matcher = _CustomerMatcher()
        self._names = _PartyNames()
        self._facts = None
        for path in (self._qbo_file, self._paymo_file):
            if path is not None:
                remove_snapshot(path)

    def mark_stale(self) -> None:
        """Catch up, and re-read tax codes, rates, preferences and company info, at the next use (QBO
        refused a reference we believed active, a period we believed open, a name we believed free)."""
        self._caught_up_at = float("-inf")
        self._qbo_settings = None
        self._tax = None
        self._facts = None

    async def persist(self, *, force: bool = False) -> None:
        """Write the snapshots that changed (at most once per ``persist_interval`` unless ``force``)."""
        now = self._clock()
        interval = self.settings.persist_interval
        qbo_due = force or now - self._qbo_persisted_at >= interval
        if self._qbo_file is not None and self._qbo_dirty and self._rows is not None and qbo_due:
            data = self._qbo_snapshot()
            self._qbo_dirty = False
            self._qbo_persisted_at = now
            await anyio.to_thread.run_sync(write_snapshot, self._qbo_file, data)
        paymo_due = force or now - self._paymo_persisted_at >= interval
        if self._paymo_file is not None and self._paymo_dirty and self._paymo_data is not None and paymo_due:
            data = self._paymo_snapshot(self._paymo_data)
            self._paymo_dirty = False
            self._paymo_persisted_at = now
            await anyio.to_thread.run_sync(write_snapshot, self._paymo_file, data)

    # --- QuickBooks internals ------------------------------------------------------------------------

    def _stale(self, caught_up_at: float) -> bool:
        """Whether data caught up at ``caught_up_at`` must be caught up before use: older than the refresh
        interval — unless the current plan already caught it up (one plan sees one consistent moment,
        however long it takes to build)."""
        started = _PLAN_STARTED.get()
        if started is not None and caught_up_at >= started:
            return False
        return self._clock() - caught_up_at >= self.settings.refresh_interval

    async def _fresh_rows(self) -> dict[str, dict[str, qbo_models.QboEntity]]:
        async with self._qbo_lock:
            await self._qbo_loaded()
            if self._stale(self._caught_up_at):
                await self._catch_up()
            assert self._rows is not None
            rows = self._rows
        await self.persist()
        return rows

    async def _qbo_loaded(self) -> None:
        """Rows in memory: from the snapshot when there is a usable one, else read whole."""
        if self._rows is not None:
            return
        if not self._qbo_snapshot_tried:
            self._qbo_snapshot_tried = True
            if self._load_qbo_snapshot():
                return
        await self._full_load()

    async def _catch_up(self) -> None:
        """Apply what changed since the mark, or reload whole when that cannot be trusted."""
        started = self._clock()
        if self._mark is None or self._mark_too_old():
            await self._full_load()
            return
        try:
            changes = await self._qbo.cdc(QBO_TRACKED, self._mark - _CDC_OVERLAP)
        except PaymoQbError:
            self.invalidate()
            raise
        if changes.truncated or changes.server_time is None:
            await self._full_load()
            return
        assert self._rows is not None
        for name, records in changes.changed.items():
            for record in records:
                self._put(name, record)
        for name, idents in changes.deleted.items():
            for ident in idents:
                self._drop(name, ident)
        self._mark = changes.server_time
        self._mark_taken = self._wall_clock()
        self._caught_up_at = started
        self.stats["catch_ups"] += 1
        if changes.count:
            self._qbo_dirty = True

    async def _full_load(self) -> None:
        started = self._clock()
        self._rows = None
        self._matcher = _CustomerMatcher()
        self._names = _PartyNames()
        try:
            _, mark = await self._qbo.preferences_at()
            loaded: dict[str, list[qbo_models.QboEntity]] = {}

            async def load(model: type[qbo_models.QboEntity]) -> None:
                loaded[model.entity_name] = list(await self._qbo.query_all(model, ACTIVE_OR_INACTIVE))

            async with side_by_side() as group:
                for model in QBO_TRACKED:
                    group.start_soon(load, model)
        except PaymoQbError:
            self.invalidate()
            raise
        self._rows = {model.entity_name: {} for model in QBO_TRACKED}
        for model in QBO_TRACKED:
            for record in loaded[model.entity_name]:
                self._put(model.entity_name, record)
        self._mark = mark
        self._mark_taken = self._wall_clock()
        self._caught_up_at = started
        self._qbo_dirty = True
        self.stats["full_loads"] += 1

    def _put(self, entity: str, record: qbo_models.QboEntity) -> None:
        assert self._rows is not None
        if record.Id is None:
            return
        self._rows.setdefault(entity, {})[record.Id] = record
        if entity in _PARTIES:
            self._names.upsert(entity, record.Id, getattr(record, "DisplayName", None))
        if isinstance(record, qbo_models.Customer):
            self._matcher.upsert(record)

    def _drop(self, entity: str, ident: str) -> None:
        assert self._rows is not None
        self._rows.get(entity, {}).pop(ident, None)
        if entity in _PARTIES:
            self._names.remove(entity, ident)
        if entity == "Customer":
            self._matcher.remove(ident)

    def _mark_too_old(self) -> bool:
        return self._mark_taken is None or self._wall_clock() - self._mark_taken > _CDC_MAX_AGE

    async def _fresh_settings(self) -> _Settings:
        async with self._settings_lock:
            held = self._qbo_settings
            if held is None or self._clock() - held.read_at >= self.settings.settings_interval:
                started = self._clock()
                try:
                    preferences = await self._qbo.preferences()
                    info = await self._qbo.company_info()
                except PaymoQbError:
                    self.invalidate()
                    raise
                held = _Settings(preferences, info, started)
                self._qbo_settings = held
                self._facts = None
                self.stats["settings_reads"] += 1
            return held

    async def _fresh_tax(self) -> _TaxTables:
        async with self._settings_lock:
            held = self._tax
            if held is None or self._clock() - held.read_at >= self.settings.settings_interval:
                started = self._clock()
                try:
                    codes = await self._qbo.query_all(qbo_models.TaxCode, ACTIVE_OR_INACTIVE)
                    rates = await self._qbo.query_all(qbo_models.TaxRate, ACTIVE_OR_INACTIVE)
                except PaymoQbError:
                    self.invalidate()
                    raise
                held = _TaxTables(_by_id(codes), _by_id(rates), started)
                self._tax = held
            return held

    # --- Paymo internals -----------------------------------------------------------------------------

    async def _fresh_paymo(self) -> _PaymoData:
        async with self._paymo_lock:
            data = await self._paymo_loaded()
            if self._stale(data.caught_up_at):
                try:
                    await self._paymo_catch_up(data)
                except PaymoQbError:
                    self.invalidate()
                    raise
        await self.persist()
        return data

    async def _paymo_loaded(self) -> _PaymoData:
        """The Paymo lists in memory: from the snapshot, else (or when due) read whole."""
        data = self._paymo_data if self._paymo_data is not None else self._load_paymo_snapshot()
        if data is None or self._clock() - data.read_at >= self.settings.settings_interval:
            try:
                data = await self._paymo_full_load()
            except PaymoQbError:
                self.invalidate()
                raise
        self._paymo_data = data
        return data

    def _load_paymo_snapshot(self) -> _PaymoData | None:
        """The Paymo lists as the last snapshot left them (re-read whole on the settings schedule)."""
        if self._paymo_file is None or self._paymo_snapshot_tried:
            return None
        self._paymo_snapshot_tried = True
        raw = read_snapshot(self._paymo_file)
        if raw is None:
            return None
        try:
            document = jsonwire.loads(raw)
            if document.get("version") != _SNAPSHOT_VERSION:
                return None
            mark = document.get("mark")
            clients = (paymo_models.Client.model_validate(row) for row in document["clients"])
            contacts = (paymo_models.ClientContact.model_validate(row) for row in document["contacts"])
            return _PaymoData(
                clients={client.id: client for client in clients},
                contacts={contact.id: contact for contact in contacts},
                mark=dt.datetime.fromisoformat(mark) if isinstance(mark, str) else None,
                read_at=self._clock(),
                caught_up_at=float("-inf"),
            )
        except (PaymoQbError, KeyError, TypeError, ValueError, AttributeError):
            logger.warning("the Paymo company snapshot cannot be read; reading Paymo again")
            remove_snapshot(self._paymo_file)
            return None

    async def _paymo_full_load(self) -> _PaymoData:
        started = self._clock()
        found: dict[str, Any] = {}

        async def read(name: str, reader: Callable[[], Any]) -> None:
            found[name] = await reader()

        async with side_by_side() as group:
            group.start_soon(read, "clients", lambda: self._paymo.list_clients(page_size=LARGEST_PAGE_SIZE))
            group.start_soon(
                read, "contacts", lambda: self._paymo.list_client_contacts(page_size=LARGEST_PAGE_SIZE)
            )
        clients: dict[int, paymo_models.Client] = {client.id: client for client in found["clients"]}
        contacts: dict[int, paymo_models.ClientContact] = {c.id: c for c in found["contacts"]}
        self._paymo_dirty = True
        self.stats["paymo_reads"] += 1
        return _PaymoData(
            clients=clients,
            contacts=contacts,
            mark=_latest_update([*clients.values(), *contacts.values()]),
            read_at=started,
            caught_up_at=started,
        )

    async def _paymo_catch_up(self, data: _PaymoData) -> None:
        started = self._clock()
        if data.mark is None:
            fresh = await self._paymo_full_load()
            data.__dict__.update(fresh.__dict__)
            return
        condition = paymo_ge("updated_on", data.mark)
        clients = await self._paymo.list_clients(where=condition, page_size=LARGEST_PAGE_SIZE)
        contacts = await self._paymo.list_client_contacts(where=condition, page_size=LARGEST_PAGE_SIZE)
        for client in clients:
            data.clients[client.id] = client
        for contact in contacts:
            data.contacts[contact.id] = contact
        data.mark = _latest_update([*clients, *contacts], data.mark)
        data.caught_up_at = started
        if clients or contacts:
            self._paymo_dirty = True

    # --- snapshots -----------------------------------------------------------------------------------

    def _qbo_snapshot(self) -> bytes:
        assert self._rows is not None
        document: dict[str, Any] = {
            "version": _SNAPSHOT_VERSION,
            "mark": self._mark.isoformat() if self._mark is not None else None,
            "mark_taken": self._mark_taken.isoformat() if self._mark_taken is not None else None,
            "rows": {name: [row.to_wire() for row in rows.values()] for name, rows in self._rows.items()},
        }
        return jsonwire.dumps(document)

    @staticmethod
    def _paymo_snapshot(data: _PaymoData) -> bytes:
        return jsonwire.dumps(
            {
                "version": _SNAPSHOT_VERSION,
                "mark": data.mark.isoformat() if data.mark is not None else None,
                "clients": [client.model_dump(mode="python") for client in data.clients.values()],
                "contacts": [contact.model_dump(mode="python") for contact in data.contacts.values()],
            }
        )

    def _load_qbo_snapshot(self) -> bool:
        if self._qbo_file is None:
            return False
        raw = read_snapshot(self._qbo_file)
        if raw is None:
            return False
        try:
            document = jsonwire.loads(raw)
            if document.get("version") != _SNAPSHOT_VERSION or not isinstance(document.get("mark"), str):
                return False
            models = {model.entity_name: model for model in QBO_TRACKED}
            self._rows = {name: {} for name in models}
            for name, rows in document["rows"].items():
                model = models[name]
                for row in rows:
                    self._put(name, model.model_validate(row))
            self._mark = dt.datetime.fromisoformat(document["mark"])
            taken = document.get("mark_taken")
            self._mark_taken = dt.datetime.fromisoformat(taken) if isinstance(taken, str) else None
        except (PaymoQbError, KeyError, TypeError, ValueError, AttributeError):
            logger.warning("the QuickBooks company snapshot cannot be read; reading QuickBooks again")
            remove_snapshot(self._qbo_file)
            self._rows = None
            self._mark = None
            self._matcher = _CustomerMatcher()
            self._names = _PartyNames()
            return False
        # Loaded, but not caught up: the next use catches up from the snapshot's mark.
        self._caught_up_at = float("-inf")
        return True


def _token(record: qbo_models.QboEntity) -> int:
    token = record.SyncToken or ""
    return int(token) if token.isdigit() else -1


def _by_id(rows: Iterable[Entity]) -> dict[str, Entity]:
    return {row.Id: row for row in rows if row.Id is not None}


def _latest_update(
    records: Sequence[paymo_models.PaymoModel], floor: dt.datetime | None = None
) -> dt.datetime | None:
    stamps = [record.updated_on for record in records if record.updated_on is not None]
    if floor is not None:
        stamps.append(floor)
    return max(stamps) if stamps else None


def _facts(
    prefs: qbo_models.Preferences, info: qbo_models.CompanyInfo, company: paymo_models.Company
) -> CompanyFacts:
    tax_prefs = prefs.TaxPrefs
    currency_prefs = prefs.CurrencyPrefs
    sales_prefs = prefs.SalesFormsPrefs
    accounting = prefs.AccountingInfoPrefs
    # AST (PartnerTaxEnabled) is the US model; everything else computes tax from TaxCode/TaxRate.
    tax_model = "us" if tax_prefs is not None and tax_prefs.PartnerTaxEnabled else "global"
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


@contextlib.asynccontextmanager
async def persisted_on_exit(company: CompanyData) -> AsyncIterator[CompanyData]:
    """Yield ``company`` and write its snapshots when the block ends (a server shutting down)."""
    try:
        yield company
    finally:
        with contextlib.suppress(OSError):
            await company.persist(force=True)
