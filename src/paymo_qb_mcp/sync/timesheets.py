"""Billable time Paymo → QBO: a period's unbilled billable hours, grouped, as TimeActivities or invoice lines.

Which entries: Paymo time entries dated in ``date_from``–``date_to`` (their calendar date in the
company's time zone) that are billable by the hour (project and task billable — a task without its
own flag follows its project — and neither the project nor the task flat-priced, whose time a flat
price already covers), not billed in Paymo (``billed`` / ``invoice_item_id``), not a running timer,
and not pushed before: every pushed entry gets a ledger done-marker (kind ``time_entry``, value
``"<QBO record Id>:<seconds pushed>"``) when the write succeeds, and marked entries are left out of
every later plan and listed as skips, so overlapping periods never push an hour twice.

An entry changed in Paymo after its push is never silently ignored. Lengthened: the seconds added
since (``domain.timeagg.changed_since_push``) are pushed like new time, in groups of their own whose
identity also holds each entry's pushed and current seconds (so planning again gives the same key,
and once pushed the marker records the new duration and nothing is planned twice), with an info
``TIME_EXTENDED_AFTER_PUSH`` naming the entry and the hours added. Shortened: nothing is written —
what QuickBooks records is never reduced unasked — and a ``TIME_REDUCED_AFTER_PUSH`` warning says which
QBO record to correct by how much; the marker keeps what was pushed, so a later lengthening is only
pushed beyond it. A marker from before the seconds were recorded (the QBO Id alone) counts as the
entry pushed in full.

Grouping and rounding (``domain.timeagg``): entries are summed in seconds per group and converted
once, ``hours = seconds / 3600`` rounded half-up to 2 decimals. Groups are always per client and
project, plus task and/or user on request; ``time_activity`` always groups by user as well, since a
TimeActivity belongs to one employee. Paymo's hourly rate is per entry (``hourly_billing_mode``:
by default user → task → project → company rate, otherwise the named level first), and a group
holding entries at several rates is split into one group per rate, so every group has one rate.

A group's identity is deterministic: a number derived from (target, period, client, project, task,
user, rate, entry ids, and for added time the entries' pushed and current seconds), so planning the
same period again gives the same keys and the same QBO ``requestid``; it is the ledger id of kind
``time_group`` and the marker ``paymo:time_group:<n>``.

Targets:

- ``time_activity``: one TimeActivity per group — the Paymo user's employee (the mapping first,
  then the ledger link, then a match by name and e-mail; none → a blocker naming the user and the
  mapping to add) or vendor (``time_activities.name_of``), the client's customer, the mapped item,
  ``BillableStatus`` Billable, ``HourlyRate`` the Paymo rate, ``Hours``/``Minutes`` the group's
  rounded hours to the nearest minute (exactly the tracked time when entries are whole minutes,
  as Paymo's are), ``TxnDate`` the group's last working day (so the activity sits in the period it
  covers, never after it), and a description naming the period and the entries.
- ``invoice_lines``: one QBO invoice per client with a line per group (``Qty`` hours, ``UnitPrice``
  rate, the mapped service item, the tax code Paymo would put on the client's next invoice — and
  under US AST Paymo's tax as the ``TotalTax`` override, as synced invoices carry it), no
  DocNumber (QBO numbers it when the human sends it), dated on the last working day, marker in
  ``PrivateNote``. QBO has no draft status: the invoice is created unsent (``EmailStatus`` and
  ``PrintStatus`` NotSet) for a human to review.

Item by item (``plan_time_items``, what ``aggregate_time`` decides on): each TimeActivity's group, or
each client's draft invoice, is an item with its customer's and its person's changes and its own
findings (a person without an employee leaves out their groups only; a group without a rate is an item
of its own, or blocks its client's draft invoice); the mapped item, an unfinished push and the entries
left out of every group are the run's.

Also used by the budgets flow: ``client_billing`` (the currency and taxes a client is invoiced with)
and ``sales_tax`` / ``expected_totals`` / ``tax_override`` (the QBO tax code of a sales line, what QBO
will total, and — under US Automated Sales Tax — the ``TotalTax`` that makes QBO charge Paymo's tax, as
synced invoices do, instead of the rate AST would pick from the customer's address).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from fractions import Fraction
from typing import Any, Final, Literal, TypeVar, get_args

from paymo_qb_mcp.domain.keys import add_marker, content_hash, marker
from paymo_qb_mcp.domain.matching import PaymoClientView, QboCustomerView, match_client
from paymo_qb_mcp.domain.money import ZERO, normalize_currency, quantize, round_half_up
from paymo_qb_mcp.domain.paymo_totals import PaymoInvoiceHeader, PaymoInvoiceLine, compute_paymo_totals
from paymo_qb_mcp.domain.plan import Change, Finding, FindingList, Plan
from paymo_qb_mcp.domain.tax import (
    AST_NON_TAXABLE,
    AST_TAXABLE,
    QboInvoiceTotals,
    QboSalesLine,
    QboTaxCode,
    compute_global_invoice,
    compute_us_invoice,
    qty_and_unit_price,
)
from paymo_qb_mcp.domain.timeagg import (
    ChangedSincePush,
    ExclusionReason,
    TimeAggregation,
    TimeEntryView,
    TimeGroup,
    aggregate_time,
    changed_since_push,
    hours_from_seconds,
    local_date,
    period_window,
    time_added_since_push,
)
from paymo_qb_mcp.errors import InputError, NotFound
from paymo_qb_mcp.paymo import models as paymo_models
from paymo_qb_mcp.paymo.client import LARGEST_PAGE_SIZE
from paymo_qb_mcp.paymo.where import in_ as paymo_in
from paymo_qb_mcp.paymo.where import time_interval
from paymo_qb_mcp.quickbooks import models as qbo_models
from paymo_qb_mcp.quickbooks.models import DESCRIPTION_MAX_LENGTH, PRIVATE_NOTE_MAX_LENGTH
from paymo_qb_mcp.store.ledger import Ledger
from paymo_qb_mcp.sync.context import CompanyFacts, SyncContext
from paymo_qb_mcp.sync.customers import CustomerResolution, customer_for_invoice, live_invoices
from paymo_qb_mcp.sync.expenses import active_record
from paymo_qb_mcp.sync.invoices import exchange_rate_or_block, qbo_tax_code
from paymo_qb_mcp.sync.items import ItemDraft, ItemizedPlan

__all__ = [
    "EMPLOYEE_LINK_KIND",
    "TIME_ENTRY_KIND",
    "TIME_GROUP_KIND",
    "TIME_TOOL",
    "VENDOR_LINK_KIND",
    "ClientBilling",
    "GroupBy",
    "PushedTime",
    "SalesTax",
    "TimeTarget",
    "client_billing",
    "expected_totals",
    "hourly_rate",
    "plan_time",
    "plan_time_items",
    "pushed_time",
    "sales_tax",
    "tax_override",
]

TIME_TOOL: Final = "aggregate_time"
TIME_GROUP_KIND: Final = "time_group"
TIME_ENTRY_KIND: Final = "time_entry"
EMPLOYEE_LINK_KIND: Final = "employee"
VENDOR_LINK_KIND: Final = "vendor"

GroupBy = Literal["client", "project", "task", "user"]
TimeTarget = Literal["time_activity", "invoice_lines"]
RateLevel = Literal["user", "task", "project", "company"]

_RATE_ORDER: Final[tuple[RateLevel, ...]] = ("user", "task", "project", "company")
_LISTED_ENTRY_IDS: Final = 40
_IDS_PER_FILTER: Final = 100

Fetched = TypeVar("Fetched", bound=paymo_models.PaymoModel)
Person = TypeVar("Person", qbo_models.Employee, qbo_models.Vendor)


# --------------------------------------------------------------------------------------------
# Shared with the budgets flow
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClientBilling:
    """How a Paymo client is invoiced: ISO currency and the ``tax``/``tax2`` percents, and from where."""

    currency: str
    tax_percents: tuple[Decimal, Decimal]
    tax_on_tax: bool
    source: str


async def client_billing(ctx: SyncContext, client_id: int) -> ClientBilling:
    """The currency and taxes of the client's latest non-void Paymo invoice, else the company defaults.

    That is what Paymo puts on the client's next invoice, so time and budgets are priced in it.
    """
    live = await live_invoices(ctx, client_id)
    if live:
        latest = live[-1]
        return ClientBilling(
            currency=normalize_currency(str(latest.currency)),
            tax_percents=(latest.tax or ZERO, latest.tax2 or ZERO),
            tax_on_tax=bool(latest.tax_on_tax),
            source=f"Paymo invoice {latest.number or latest.id}",
        )
    facts = await ctx.facts()
    company = await ctx.data.paymo_company()
    return ClientBilling(
        currency=facts.paymo_currency,
        tax_percents=(company.default_tax_percent or ZERO, company.default_tax2_percent or ZERO),
        tax_on_tax=company.default_tax_on_tax,
        source="the Paymo company's default taxes",
    )


@dataclass(frozen=True)
class SalesTax:
    """The QBO tax code for a client's sales lines; ``code`` (rates) is known in the global model only.

    Under US AST the client's Paymo percents are kept: they give the ``TotalTax`` QBO is told to charge.
    """

    code_id: str
    code: QboTaxCode | None
    paymo_percents: tuple[Decimal, Decimal] = (ZERO, ZERO)
    paymo_tax_on_tax: bool = False


async def sales_tax(
    ctx: SyncContext, facts: CompanyFacts, billing: ClientBilling, findings: FindingList, record: str
) -> SalesTax | None:
    """The tax code for the client's taxes per ``mappings.tax``; None with a blocker when there is none."""
    percents = list(billing.tax_percents)
    ref = ctx.mappings.tax.code_for(percents, tax_on_tax=billing.tax_on_tax)
    if facts.tax_model == "us":
        # Under Automated Sales Tax a line is only TAX or NON; QBO picks the rate from the address.
        code_id = ref.id if ref is not None and ref.id else ("TAX" if any(percents) else "NON")
        return SalesTax(
            code_id=code_id,
            code=None,
            paymo_percents=billing.tax_percents,
            paymo_tax_on_tax=billing.tax_on_tax,
        )
    if ref is None:
        shown = " + ".join(f"{percent} %" for percent in percents if percent) or "no tax"
        findings.block(
            "TAX_CODE_REQUIRED",
            f"{billing.source} charges {shown}, which mappings.tax in policies.yaml does not map to a "
            "QuickBooks tax code; a VAT/GST company needs one on every line (error 6000)",
            record,
        )
        return None
    tax_code = await active_record(
        ctx, qbo_models.TaxCode, ref, purpose="mappings.tax.codes", findings=findings
    )
    if tax_code is None or tax_code.Id is None:
        return None
    details = tax_code.SalesTaxRateList.TaxRateDetail if tax_code.SalesTaxRateList else None
    rate_ids = [detail.TaxRateRef.value for detail in details or [] if detail.TaxRateRef is not None]
    known_rates = await ctx.data.tax_rates()
    rates = {rate_id: known_rates[rate_id] for rate_id in rate_ids if rate_id in known_rates}
    return SalesTax(code_id=tax_code.Id, code=qbo_tax_code(tax_code, rates))


def expected_totals(tax: SalesTax, amounts: Sequence[Decimal], currency: str) -> QboInvoiceTotals | None:
    """What QBO will total for sales lines of these net amounts, all on ``tax``.

    Global model: QBO's own arithmetic on the code's rates. US model: taxable lines carry Paymo's tax
    for these amounts (its invoice rule: one rounding per tax) as the ``TotalTax`` override, which
    ``tax_override`` puts in the payload; None for a code that is neither TAX nor NON.
    """
    lines = [QboSalesLine(amount=amount, tax_code_id=tax.code_id) for amount in amounts]
    if tax.code is not None:
        return compute_global_invoice(lines, tax_codes={tax.code_id: tax.code}, currency=currency)
    if tax.code_id == AST_NON_TAXABLE:
        return compute_us_invoice(lines, rate=None, currency=currency)
    if tax.code_id != AST_TAXABLE:
        return None
    first, second = tax.paymo_percents
    paymo = compute_paymo_totals(
        [PaymoInvoiceLine(price_unit=amount, quantity=Decimal(1), apply_tax=True) for amount in amounts],
        PaymoInvoiceHeader(tax=first, tax2=second, tax_on_tax=tax.paymo_tax_on_tax),
    )
    return compute_us_invoice(lines, rate=None, total_tax_override=paymo.total_tax, currency=currency)


def tax_override(tax: SalesTax, totals: QboInvoiceTotals | None) -> dict[str, Any] | None:
    """The ``TxnTaxDetail`` a US (AST) sales form must send so QBO charges Paymo's tax, else None."""
    if tax.code is not None or tax.code_id != AST_TAXABLE or totals is None:
        return None
    return {"TotalTax": totals.total_tax}


def hourly_rate(
    mode: str | None,
    *,
    user: Decimal | None,
    task: Decimal | None,
    project: Decimal | None,
    company: Decimal | None,
) -> tuple[Decimal, RateLevel] | None:
    """Paymo's hourly rate for an entry and the level it came from (``hourly_billing_mode``).

    ``None`` (the default) tries user, task, project, then company; ``task``/``project``/``company``
    (or ``user``) tries that level first, then the others in the default order (Paymo's project
    billing docs). Unset rates are skipped; None when no level has one.
    """
    levels: dict[RateLevel, Decimal | None] = {
        "user": user,
        "task": task,
        "project": project,
        "company": company,
    }
    order = list(_RATE_ORDER)
    first = (mode or "").strip().lower()
    for level in _RATE_ORDER:
        if level == first:
            order.remove(level)
            order.insert(0, level)
    for level in order:
        value = levels[level]
        # GUESS: Paymo's docs say "if an hourly rate is not set, the next set value will be used";
        # their own examples show an unset rate as 0 as well as null, so both count as unset.
        if value is not None and value != 0:
            return value, level
    return None


# --------------------------------------------------------------------------------------------
# What was pushed (the ``time_entry`` done-markers)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PushedTime:
    """What the done-marker of a pushed time entry records.

    ``seconds`` is the entry's duration when it was last pushed; None for a marker written before the
    seconds were recorded (only the QBO Id), which counts as the entry pushed in full.
    """

    qbo_id: str | None
    seconds: int | None


def pushed_time(ledger: Ledger, entry_id: int) -> PushedTime | None:
    """What was pushed of a Paymo time entry, or None when it never was."""
    value = ledger.done_value(TIME_ENTRY_KIND, entry_id)
    if value is None:
        return None
    qbo_id, separator, seconds = value.rpartition(":")
    if separator and seconds.isascii() and seconds.isdigit():
        return PushedTime(qbo_id=qbo_id or None, seconds=int(seconds))
    return PushedTime(qbo_id=value or None, seconds=None)


def _mark_done(entries: Mapping[int, _Entry], entry_ids: Sequence[int]) -> dict[str, Any]:
    """The executor's done-markers for the entries a write covers, each recording its seconds now."""
    return {
        "kind": TIME_ENTRY_KIND,
        "keys": list(entry_ids),
        "suffixes": {
            str(entry_id): str(entries[entry_id].view.duration_seconds or 0) for entry_id in entry_ids
        },
    }


# --------------------------------------------------------------------------------------------
# Reading Paymo
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Entry:
    view: TimeEntryView
    flat: bool
    rate: tuple[Decimal, RateLevel] | None


@dataclass
class _PaymoSide:
    entries: dict[int, _Entry]
    projects: dict[int, paymo_models.Project]
    tasks: dict[int, paymo_models.Task]
    users: dict[int, paymo_models.User]


async def _by_ids(ids: Iterable[int], fetch: Callable[..., Awaitable[list[Fetched]]]) -> list[Fetched]:
    """Records by id through a ``list_*`` method, a bounded number of ids per ``where``."""
    wanted = sorted(set(ids))
    found: list[Fetched] = []
    for start in range(0, len(wanted), _IDS_PER_FILTER):
        found.extend(await fetch(where=paymo_in("id", wanted[start : start + _IDS_PER_FILTER])))
    return found


async def _read_paymo(
    ctx: SyncContext, facts: CompanyFacts, date_from: dt.date, date_to: dt.date, findings: FindingList
) -> _PaymoSide:
    # Paymo matches time_interval in UTC (bulk entries as if at 00:00 UTC of their date); a day's
    # margin each side covers every time zone, and the aggregation keeps the exact local dates.
    start, end = period_window(date_from, date_to, dt.UTC, dt.timedelta(days=1))
    raw = await ctx.paymo.list_time_entries(where=time_interval(start, end), page_size=LARGEST_PAGE_SIZE)
    projects = {
        p.id: p for p in await _by_ids((e.project_id for e in raw if e.project_id), ctx.paymo.list_projects)
    }
    tasks = {t.id: t for t in await _by_ids((e.task_id for e in raw if e.task_id), ctx.paymo.list_tasks)}
    users = {user.id: user for user in await ctx.paymo.list_users()}
    company = await ctx.data.paymo_company()
    company_rate = company.default_hourly_rate
    entries: dict[int, _Entry] = {}
    for entry in raw:
        project = projects.get(entry.project_id or 0)
        task = tasks.get(entry.task_id or 0)
        if project is None or task is None or project.client_id is None or entry.user_id is None:
            findings.warn(
                "ENTRY_UNUSABLE",
                f"Paymo time entry {entry.id} has no task, project, client or user that can be read; it is "
                "left out",
                f"paymo:entry:{entry.id}",
            )
            continue
        running = entry.is_bulk is not True and entry.end_time is None
        if entry.date is not None:
            day = entry.date
        elif entry.start_time is not None:
            day = local_date(entry.start_time, facts.paymo_timezone)
        else:
            findings.warn(
                "ENTRY_UNUSABLE", f"Paymo time entry {entry.id} has no date", f"paymo:entry:{entry.id}"
            )
            continue
        flat = bool(project.flat_billing or task.flat_billing)
        task_billable = task.billable if task.billable is not None else project.billable is not False
        billable = project.billable is not False and task_billable
        user = users.get(entry.user_id)
        rate = hourly_rate(
            project.hourly_billing_mode,
            user=user.price_per_hour if user is not None else None,
            task=task.price_per_hour,
            project=project.price_per_hour,
            company=company_rate,
        )
        view = TimeEntryView(
            id=entry.id,
            client_id=project.client_id,
            project_id=project.id,
            task_id=task.id,
            user_id=entry.user_id,
            date=day,
            duration_seconds=None if running else (entry.duration or 0),
            billable=billable and not flat,
            billed=bool(entry.billed),
            invoice_item_id=entry.invoice_item_id,
        )
        entries[entry.id] = _Entry(view=view, flat=billable and flat, rate=rate)
    return _PaymoSide(entries=entries, projects=projects, tasks=tasks, users=users)


# --------------------------------------------------------------------------------------------
# Groups
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Group:
    """One aggregated group with its single hourly rate and its deterministic identity."""

    group: TimeGroup
    rate: Decimal
    rate_level: RateLevel
    split_by_rate: bool
    period: tuple[dt.date, dt.date]
    target: TimeTarget
    # Set when the group holds only time added to pushed entries since their push.
    added_since_push: tuple[ChangedSincePush, ...] = ()

    @property
    def material(self) -> dict[str, Any]:
        key = self.group.key
        material: dict[str, Any] = {
            "target": self.target,
            "period": [self.period[0], self.period[1]],
            "client": key.client_id,
            "project": key.project_id,
            "task": key.task_id,
            "user": key.user_id,
            "rate": self.rate,
            "entries": list(self.group.entry_ids),
        }
        if self.added_since_push:
            # Another push of the same entries needs another identity, and the same one when planned again.
            material["added_since_push"] = [
                [change.entry_id, change.pushed_seconds, change.current_seconds]
                for change in self.added_since_push
            ]
        return material

    @property
    def key_text(self) -> str:
        key = self.group.key
        parts = [f"client {key.client_id}", f"project {key.project_id}"]
        if key.task_id is not None:
            parts.append(f"task {key.task_id}")
        if key.user_id is not None:
            parts.append(f"user {key.user_id}")
        if self.split_by_rate:
            parts.append(f"rate {self.rate}")
        if self.added_since_push:
            parts.append("time added since the push")
        return f"{self.period[0]}..{self.period[1]} " + ", ".join(parts)


def _numeric_id(material: Mapping[str, Any]) -> int:
    """A stable number (≤ 18 digits) for composite content, usable as a ledger id and in a marker."""
    return int(content_hash(material)[:15], 16)


def _split_by_rate(
    group: TimeGroup,
    entries: Mapping[int, _Entry],
    *,
    date_from: dt.date,
    date_to: dt.date,
    by_task: bool,
    by_user: bool,
) -> list[tuple[TimeGroup, tuple[Decimal, RateLevel] | None, bool]]:
    """The group as one group per hourly rate (each re-aggregated, so each is rounded once)."""
    by_rate: dict[Decimal | None, list[_Entry]] = {}
    for entry_id in group.entry_ids:
        entry = entries[entry_id]
        by_rate.setdefault(entry.rate[0] if entry.rate else None, []).append(entry)
    if len(by_rate) == 1:
        first = entries[group.entry_ids[0]]
        return [(group, first.rate, False)]
    parts: list[tuple[TimeGroup, tuple[Decimal, RateLevel] | None, bool]] = []
    for members in sorted(by_rate.values(), key=lambda items: items[0].rate[0] if items[0].rate else ZERO):
        aggregated = aggregate_time(
            (member.view for member in members),
            start=date_from,
            end=date_to,
            by_task=by_task,
            by_user=by_user,
        )
        (only,) = aggregated.groups
        parts.append((only, members[0].rate, True))
    return parts


# --------------------------------------------------------------------------------------------
# The planner
# --------------------------------------------------------------------------------------------


# A Paymo user's QBO person looked up: its Id, and the findings and changes (a link) the lookup made.
_Worker = tuple[str | None, tuple[Finding, ...], tuple[Change, ...]]


@dataclass
class _Run:
    """A plan of time being built: what concerns the whole run (``common``), and one draft per item — a
    TimeActivity's group, or a client's draft invoice — where findings and changes go while it is planned."""

    ctx: SyncContext
    facts: CompanyFacts
    paymo: _PaymoSide
    date_from: dt.date
    date_to: dt.date
    target: TimeTarget
    common: ItemDraft = field(default_factory=lambda: ItemDraft(key="", kind="run", label="the run"))
    items: list[ItemDraft] = field(default_factory=list)
    scope: ItemDraft | None = None
    billing: dict[int, ClientBilling] = field(default_factory=dict)
    customers: dict[int, CustomerResolution] = field(default_factory=dict)
    workers: dict[int, _Worker] = field(default_factory=dict)
    # Groups without an hourly rate: each blocks its own item.
    rateless: list[TimeGroup] = field(default_factory=list)

    @property
    def current(self) -> ItemDraft:
        return self.scope if self.scope is not None else self.common

    @property
    def findings(self) -> FindingList:
        return self.current.findings

    @property
    def changes(self) -> list[Change]:
        return self.current.changes

    def add_once(self, changes: Iterable[Change]) -> None:
        """Changes several groups share (a customer's create or link, an employee link) go in once per
        item; one plan of many items writes them once."""
        self.current.add_once(changes)

    def add_total(self, currency: str, amount: Decimal) -> None:
        self.current.add_total(currency, amount)

    def begin(self, draft: ItemDraft) -> None:
        self.items.append(draft)
        self.scope = draft

    def end(self) -> None:
        self.scope = None

    @property
    def all_changes(self) -> list[Change]:
        return [change for draft in (self.common, *self.items) for change in draft.changes]


async def plan_time(
    ctx: SyncContext,
    *,
    date_from: dt.date,
    date_to: dt.date,
    group_by: Sequence[GroupBy] = ("client", "project"),
    target: TimeTarget = "time_activity",
) -> Plan:
    """Plan the push of the period's billable, unbilled, not yet pushed Paymo time; writes nothing.

    Client and project always group; ``task``/``user`` in ``group_by`` add themselves, and the
    ``time_activity`` target always adds ``user``. Entries left out are reported: already pushed as
    ``skip`` changes naming the QBO record, billed, non-billable, flat-priced or running as findings.
    A blocker on any group blocks this plan: ``plan_time_items`` plans each group on its own.
    """
    run = await _plan_run(ctx, date_from=date_from, date_to=date_to, group_by=group_by, target=target)
    return _itemized(run).merged()


async def plan_time_items(
    ctx: SyncContext,
    *,
    date_from: dt.date,
    date_to: dt.date,
    group_by: Sequence[GroupBy] = ("client", "project"),
    target: TimeTarget = "time_activity",
) -> ItemizedPlan:
    """``plan_time`` item by item: with ``time_activity`` each group (one TimeActivity) is an item, with
    ``invoice_lines`` each client's draft invoice; an item carries its customer's and its person's changes
    and its own findings. A missing or unusable mapping and an unfinished earlier push stay the run's
    (they block every item); entries left out of every group are the run's skips and findings."""
    run = await _plan_run(ctx, date_from=date_from, date_to=date_to, group_by=group_by, target=target)
    return _itemized(run)


def _itemized(run: _Run) -> ItemizedPlan:
    common = FindingList(run.common.findings)
    items = tuple(draft.build(TIME_TOOL, common) for draft in run.items)
    invoices = run.target == "invoice_lines"
    return ItemizedPlan(
        tool=TIME_TOOL,
        description=f"Paymo billable time {run.date_from} to {run.date_to}"
        + (" as draft invoices" if invoices else " as TimeActivities"),
        items=items,
        common=Plan.build(TIME_TOOL, run.common.changes, findings=common),
        noun="draft invoice" if invoices else "time group",
        nouns="draft invoices" if invoices else "time groups",
    )


async def _plan_run(
    ctx: SyncContext,
    *,
    date_from: dt.date,
    date_to: dt.date,
    group_by: Sequence[GroupBy],
    target: TimeTarget,
) -> _Run:
    if date_to < date_from:
        raise InputError(f"date_to {date_to} is before date_from {date_from}", field_name="date_to")
    unknown = sorted(set(group_by) - set(get_args(GroupBy)))
    if unknown:
        raise InputError(
            f"cannot group time by {', '.join(map(str, unknown))}; use client, project, task and user",
            field_name="group_by",
        )
    if target not in get_args(TimeTarget):
        raise InputError(
            f"unknown target {target!r}; use time_activity or invoice_lines", field_name="target"
        )
    facts = await ctx.facts()
    common = ItemDraft(key="", kind="run", label="the run")
    findings = common.findings
    paymo = await _read_paymo(ctx, facts, date_from, date_to, findings)
    run = _Run(
        ctx=ctx, facts=facts, paymo=paymo, date_from=date_from, date_to=date_to, target=target, common=common
    )
    by_task = "task" in group_by
    by_user = "user" in group_by or target == "time_activity"
    if target == "time_activity" and "user" not in group_by:
        findings.inform(
            "GROUPED_BY_USER",
            "time is grouped by user as well: a QuickBooks TimeActivity belongs to one employee",
        )
    pushed = {entry_id: pushed_time(ctx.ledger, entry_id) for entry_id in paymo.entries}
    aggregation = aggregate_time(
        (entry.view for entry in paymo.entries.values()),
        start=date_from,
        end=date_to,
        by_task=by_task,
        by_user=by_user,
        already_pushed={entry_id for entry_id, done in pushed.items() if done is not None},
    )
    excluded = aggregation.excluded_by_reason()
    # Only entries that would be pushed now but for their marker: billed, non-billable, running or
    # out-of-period ones are left out for those reasons first.
    changed: dict[int, ChangedSincePush] = {}
    for entry_id in excluded.get("already_pushed", []):
        done = pushed[entry_id]
        change = changed_since_push(paymo.entries[entry_id].view, done.seconds if done else None)
        if change is not None:
            changed[entry_id] = change
    _report_exclusions(run, excluded, pushed, changed)
    added = {
        entry_id: replace(entry, view=time_added_since_push(entry.view, changed[entry_id]))
        for entry_id, entry in paymo.entries.items()
        if entry_id in changed and changed[entry_id].lengthened
    }
    added_aggregation = aggregate_time(
        (entry.view for entry in added.values()),
        start=date_from,
        end=date_to,
        by_task=by_task,
        by_user=by_user,
    )
    groups = _rated_groups(run, aggregation, paymo.entries, by_task=by_task, by_user=by_user)
    groups += _rated_groups(run, added_aggregation, added, by_task=by_task, by_user=by_user, changed=changed)
    if any(group.split_by_rate for group in groups):
        findings.inform(
            "SPLIT_BY_RATE",
            "some groups hold time at several hourly rates (Paymo's hourly_billing_mode takes the user's "
            "rate first unless the project says otherwise), so they are split into one group per rate",
        )
    if target == "time_activity":
        await _plan_time_activities(run, groups)
    else:
        await _plan_invoice_lines(run, groups)
    _guard_unfinished_pushes(run)
    return run


def _rated_groups(
    run: _Run,
    aggregation: TimeAggregation,
    entries: Mapping[int, _Entry],
    *,
    by_task: bool,
    by_user: bool,
    changed: Mapping[int, ChangedSincePush] | None = None,
) -> list[_Group]:
    """The aggregation's groups split per hourly rate; ``changed`` when they hold time added since a push."""
    groups: list[_Group] = []
    for group in aggregation.groups:
        for part, rate, split in _split_by_rate(
            group, entries, date_from=run.date_from, date_to=run.date_to, by_task=by_task, by_user=by_user
        ):
            if rate is None:
                run.rateless.append(part)
                continue
            groups.append(
                _Group(
                    group=part,
                    rate=rate[0],
                    rate_level=rate[1],
                    split_by_rate=split,
                    period=(run.date_from, run.date_to),
                    target=run.target,
                    added_since_push=tuple(changed[entry_id] for entry_id in part.entry_ids)
                    if changed is not None
                    else (),
                )
            )
    return groups


def _guard_unfinished_pushes(run: _Run) -> None:
    """Block while an earlier push of time may be in QBO unrecorded, unless this plan finishes it.

    A create that QBO accepted but whose link was never saved (a crash, a lost answer) left its
    entries unmarked; planning another period would push them again under another key. Planning
    the same period and grouping gives the same key and requestid, so QBO replays it instead.
    """
    planned = {str(change.paymo_id) for change in run.all_changes if change.link_kind == TIME_GROUP_KIND}
    for intent in run.ctx.ledger.pending_intents(TIME_GROUP_KIND):
        if intent.paymo_id in planned:
            continue
        run.common.findings.block(
            "UNFINISHED_PUSH",
            f"a push of billable time started {intent.recorded_at.isoformat(timespec='minutes')} was never "
            "confirmed and may already be in QuickBooks (marker "
            f"{marker(TIME_GROUP_KIND, intent.paymo_id)}): plan that period with the same grouping and "
            "target again to finish it (QuickBooks recognises its requestid and creates nothing twice), "
            "then plan this one",
            f"paymo:time_group:{intent.paymo_id}",
        )


def _report_exclusions(
    run: _Run,
    excluded: Mapping[ExclusionReason, list[int]],
    pushed: Mapping[int, PushedTime | None],
    changed: Mapping[int, ChangedSincePush],
) -> None:
    entries = run.paymo.entries
    for entry_id in excluded.get("already_pushed", []):
        done = pushed[entry_id]
        qbo_id = done.qbo_id if done is not None else None
        change = changed.get(entry_id)
        if change is not None:
            _report_changed_since_push(run, change, qbo_id)
            if change.lengthened:
                continue
        run.changes.append(
            Change(
                action="skip",
                entity="time_entry",
                paymo_id=entry_id,
                qbo_id=qbo_id,
                summary=f"Paymo time entry {entry_id} was already pushed"
                + (f" (QuickBooks record {qbo_id})" if qbo_id else ""),
                reason="already pushed to QuickBooks",
                target="ledger",
                link_kind=TIME_ENTRY_KIND,
            )
        )
    not_billable = excluded.get("not_billable", [])
    flat = [entry_id for entry_id in not_billable if entries[entry_id].flat]
    hourly = [entry_id for entry_id in not_billable if not entries[entry_id].flat]
    notes = (
        ("billed", excluded.get("billed", []), "already billed in Paymo (on a Paymo invoice)"),
        ("not_billable", hourly, "on a non-billable task or project"),
        ("flat_price", flat, "on a flat-priced project or task, which its fixed price bills"),
        ("running", excluded.get("running", []), "still running timers"),
    )
    for code, ids, why in notes:
        if ids:
            run.findings.inform(
                f"LEFT_OUT_{code.upper()}",
                f"{len(ids)} time entr{'y' if len(ids) == 1 else 'ies'} {why}, not pushed: {_ids_text(ids)}",
            )


def _report_changed_since_push(run: _Run, change: ChangedSincePush, qbo_id: str | None) -> None:
    entry_id = change.entry_id
    record = f"QuickBooks record {qbo_id}" if qbo_id else "the QuickBooks record it went to"
    was = f"{hours_from_seconds(change.pushed_seconds)} h when it was pushed to {record}"
    now = f"{hours_from_seconds(change.current_seconds)} h now"
    delta = hours_from_seconds(abs(change.delta_seconds))
    if change.lengthened:
        run.findings.inform(
            "TIME_EXTENDED_AFTER_PUSH",
            f"Paymo time entry {entry_id} was {was} and is {now}: the {delta} h added since "
            f"({change.delta_seconds} s) is planned as billable time of its own",
            f"paymo:entry:{entry_id}",
        )
        return
    run.findings.warn(
        "TIME_REDUCED_AFTER_PUSH",
        f"Paymo time entry {entry_id} was {was} and is {now}, {delta} h less ({-change.delta_seconds} s); "
        "nothing is changed in QuickBooks, which still records the time pushed: if the shorter time "
        f"is right, reduce {record} by {delta} h there by hand (a sent invoice needs a credit memo), "
        "otherwise restore the entry in Paymo. Until the entry is as long again, this warning repeats "
        "and only time beyond what was pushed is pushed",
        f"paymo:entry:{entry_id}",
    )


def _ids_text(ids: Sequence[int]) -> str:
    shown = ", ".join(str(entry_id) for entry_id in ids[:_LISTED_ENTRY_IDS])
    return shown + (f" and {len(ids) - _LISTED_ENTRY_IDS} more" if len(ids) > _LISTED_ENTRY_IDS else "")


def _describe(run: _Run, group: TimeGroup) -> str:
    key = group.key
    project = run.paymo.projects.get(key.project_id)
    text = project.name if project is not None else f"project {key.project_id}"
    if key.task_id is not None:
        task = run.paymo.tasks.get(key.task_id)
        text += f" / {task.name if task is not None and task.name else f'task {key.task_id}'}"
    if key.user_id is not None:
        user = run.paymo.users.get(key.user_id)
        text += f" ({user.name if user is not None and user.name else f'user {key.user_id}'})"
    return text


async def _customer(run: _Run, client_id: int) -> tuple[ClientBilling, CustomerResolution]:
    if client_id not in run.customers:
        billing = await client_billing(run.ctx, client_id)
        resolution = await customer_for_invoice(run.ctx, client_id, billing.currency)
        run.billing[client_id] = billing
        run.customers[client_id] = resolution
    # Every item of the client carries its customer's findings (a blocker leaves each of them out).
    run.current.add_findings(run.customers[client_id].findings)
    return run.billing[client_id], run.customers[client_id]


# --------------------------------------------------------------------------------------------
# Target: TimeActivity
# --------------------------------------------------------------------------------------------


async def _plan_time_activities(run: _Run, groups: Sequence[_Group]) -> None:
    ctx, findings = run.ctx, run.findings
    settings = ctx.mappings.time_activities
    item: qbo_models.Item | None = None
    if groups:
        item = await active_record(
            ctx, qbo_models.Item, settings.item, purpose="mappings.time_activities.item", findings=findings
        )
    for planned in groups:
        group = planned.group
        group_id = _numeric_id(planned.material)
        run.begin(
            ItemDraft(
                key=f"paymo:time_group:{group_id}",
                kind="time_activity",
                label=f"{_describe(run, group)}, {group.hours} h",
            )
        )
        try:
            await _plan_time_activity(run, planned, group_id, item)
        finally:
            run.end()
    for part in run.rateless:
        run.begin(_rateless_draft(run, part, "time_activity"))
        _no_rate(run, part)
        run.end()


async def _plan_time_activity(
    run: _Run, planned: _Group, group_id: int, item: qbo_models.Item | None
) -> None:
    """One group's TimeActivity, in its own item."""
    settings = run.ctx.mappings.time_activities
    group = planned.group
    key = group.key
    assert key.user_id is not None  # time activities always group by user
    billing, customer = await _customer(run, key.client_id)
    run.current.total = quantize(group.hours * planned.rate, billing.currency)
    run.current.currency = billing.currency
    worker_id = await _worker(run, key.user_id)
    record = f"paymo:time_group:{group_id}"
    if run.facts.in_closed_period(group.last_date):
        run.findings.block(
            "CLOSED_PERIOD",
            f"{_describe(run, group)}: time dated up to {group.last_date}, on or before the QuickBooks "
            f"book close date {run.facts.book_close_date} (error 6210); leave that period out",
            record,
        )
        return
    if (
        item is None
        or item.Id is None
        or worker_id is None
        or customer.blocked
        or customer.customer_ref is None
    ):
        return
    total_minutes = int(round_half_up(Fraction(group.hours) * 60, 0))
    if total_minutes == 0:
        run.findings.inform(
            "NO_TIME", f"{_describe(run, group)} rounds to 0 minutes; nothing to push", record
        )
        return
    hours, minutes = divmod(total_minutes, 60)
    amount = quantize(group.hours * planned.rate, billing.currency)
    description = add_marker(
        _activity_text(run, planned),
        TIME_GROUP_KIND,
        group_id,
        max_length=DESCRIPTION_MAX_LENGTH,
    )
    ref_key = "EmployeeRef" if settings.name_of == "Employee" else "VendorRef"
    payload: dict[str, Any] = {
        "NameOf": settings.name_of,
        ref_key: {"value": worker_id},
        "CustomerRef": {"value": customer.customer_ref},
        "ItemRef": {"value": item.Id},
        "BillableStatus": "Billable",
        "HourlyRate": planned.rate,
        "Hours": hours,
        "Minutes": minutes,
        "TxnDate": group.last_date.isoformat(),
        "Description": description,
    }
    expect: dict[str, Any] = {
        "Hours": hours,
        "Minutes": minutes,
        "HourlyRate": planned.rate,
        "BillableStatus": "Billable",
        f"{ref_key}.value": worker_id,
    }
    if customer.customer_id is not None:
        expect["CustomerRef.value"] = customer.customer_id
    run.add_once(customer.changes)
    run.changes.append(
        Change(
            action="create",
            entity="time_activity",
            paymo_id=group_id,
            after={
                "amount": amount,
                "currency": billing.currency,
                "txn_date": group.last_date,
                "group": planned.key_text,
                "hours": group.hours,
                "hourly_rate": planned.rate,
                "rate_from": planned.rate_level,
                "entries": list(group.entry_ids),
                **({"added_since_push": True} if planned.added_since_push else {}),
            },
            payload=payload,
            summary=(
                f"Create a QuickBooks TimeActivity: {_describe(run, group)}, {group.hours} h × "
                f"{planned.rate} {billing.currency}"
                + (" (time added to pushed entries)" if planned.added_since_push else "")
            ),
            reason=_already_reason(run, group_id, added_since_push=bool(planned.added_since_push)),
            wire_entity="TimeActivity",
            link_kind=TIME_GROUP_KIND,
            content_hash=content_hash(planned.material),
            lookup={
                "where": {"TxnDate": group.last_date.isoformat()},
                "marker": marker(TIME_GROUP_KIND, group_id),
                "mark_done": _mark_done(run.paymo.entries, group.entry_ids),
            },
            expect=expect,
        )
    )
    run.add_total(billing.currency, amount)


def _rateless_draft(run: _Run, part: TimeGroup, kind: str) -> ItemDraft:
    """The item of a group no hourly rate prices (keyed like a group: its content without a rate)."""
    key = part.key
    material = {
        "target": run.target,
        "period": [run.date_from, run.date_to],
        "client": key.client_id,
        "project": key.project_id,
        "task": key.task_id,
        "user": key.user_id,
        "rate": None,
        "entries": list(part.entry_ids),
    }
    return ItemDraft(
        key=f"paymo:time_group:{_numeric_id(material)}",
        kind=kind,
        label=f"{_describe(run, part)}, {part.hours} h",
    )


def _no_rate(run: _Run, part: TimeGroup) -> None:
    run.findings.block(
        "NO_RATE",
        f"{_describe(run, part)} has no hourly rate in Paymo (user, task, project or company); "
        "set one in Paymo so the time can be billed",
        f"paymo:project:{part.key.project_id}",
    )


def _already_reason(run: _Run, group_id: int, *, added_since_push: bool = False) -> str:
    if run.ctx.ledger.link(TIME_GROUP_KIND, group_id) is not None:
        # An earlier apply wrote the record but stopped before marking its entries: applying again
        # creates nothing (same requestid, same link) and marks them.
        return "already in QuickBooks; marks its entries as pushed"
    if added_since_push:
        return "time added in Paymo to entries after they were pushed, not yet pushed"
    return "billable time not yet pushed"


def _activity_text(run: _Run, planned: _Group) -> str:
    group = planned.group
    count = len(group.entry_ids)
    entries = f"{count} entr{'y' if count == 1 else 'ies'} ({_ids_text(group.entry_ids)})"
    if planned.added_since_push:
        entries = f"time added after the push to {entries}"
    return f"Paymo time {planned.period[0]} – {planned.period[1]}: {_describe(run, group)}, {entries}"


async def _worker(run: _Run, user_id: int) -> str | None:
    """The QBO employee (or vendor) of a Paymo user: mapping, then ledger link, then name/e-mail match."""
    if user_id not in run.workers:
        outer, run.scope = run.scope, ItemDraft(key="", kind="lookup", label="")
        try:
            found = await _find_worker(run, user_id)
            made = run.current
        finally:
            run.scope = outer
        run.workers[user_id] = (found, tuple(made.findings), tuple(made.changes))
    found, findings, changes = run.workers[user_id]
    # Each group of the user carries what the lookup found: a missing employee leaves those groups out.
    run.current.add_findings(findings)
    run.add_once(changes)
    return found


async def _find_worker(run: _Run, user_id: int) -> str | None:
    if run.ctx.mappings.time_activities.name_of == "Employee":
        return await _find_person(run, user_id, qbo_models.Employee, EMPLOYEE_LINK_KIND)
    return await _find_person(run, user_id, qbo_models.Vendor, VENDOR_LINK_KIND)


async def _find_person(run: _Run, user_id: int, model: type[Person], kind: str) -> str | None:
    ctx, findings = run.ctx, run.findings
    settings = ctx.mappings.time_activities
    what = model.entity_name.lower()
    user = run.paymo.users.get(user_id)
    user_name = user.name if user is not None and user.name else f"user {user_id}"
    record = f"paymo:user:{user_id}"
    mapped = settings.users.get(user_id)
    if mapped is not None:
        chosen = await active_record(
            ctx, model, mapped, purpose=f"mappings.time_activities.users[{user_id}]", findings=findings
        )
        return chosen.Id if chosen is not None else None
    link = ctx.ledger.link(kind, user_id)
    if link is not None:
        try:
            linked = await ctx.data.record(model, link.qbo_id) or await ctx.qbo.read(model, link.qbo_id)
        except NotFound:
            findings.warn(
                "STALE_LINK",
                f"Paymo user {user_name} was linked to QuickBooks {what} {link.qbo_id}, which no longer "
                "exists; matching again",
                record,
            )
        else:
            if linked.Active is False:
                _inactive_worker(run, linked, user_name, record)
                return None
            return linked.Id
    # A new decision (which person this user is) is taken on data caught up during this plan: the
    # employee a human added a moment ago must be found.
    await ctx.data.confirm_current()
    people = await ctx.data.qbo_list(model)
    views = [
        QboCustomerView(
            id=person.Id,
            display_name=person.DisplayName or "",
            email=person.PrimaryEmailAddr.Address if person.PrimaryEmailAddr else None,
            active=person.Active is not False,
        )
        for person in people
        if person.Id is not None and person.DisplayName
    ]
    match = match_client(
        PaymoClientView(id=user_id, name=user_name, email=user.email if user is not None else None), views
    )
    mapping_hint = (
        f'map it in policies.yaml: mappings.time_activities.users: {{{user_id}: {{id: "<{what} Id>"}}}}'
    )
    if match.decision == "ambiguous":
        names = "; ".join(f"{c.display_name!r} (Id {c.id})" for c in match.candidates)
        findings.block(
            "AMBIGUOUS_WORKER",
            f"Paymo user {user_name} could be any of several QuickBooks {what}s: {names}; {mapping_hint}",
            record,
        )
        return None
    if match.decision == "none" or match.customer is None:
        findings.block(
            "NO_WORKER",
            f"Paymo user {user_name} (id {user_id}) has no QuickBooks {what}, so their time cannot be "
            f"recorded: add the {what} in QuickBooks (a name or e-mail like Paymo's is found automatically) "
            f"or {mapping_hint}",
            record,
        )
        return None
    chosen_person = next(person for person in people if person.Id == match.customer.id)
    if chosen_person.Active is False:
        _inactive_worker(run, chosen_person, user_name, record)
        return None
    run.add_once(
        [
            Change(
                action="link",
                entity=what,
                paymo_id=user_id,
                qbo_id=chosen_person.Id,
                after={f"qbo_{what}": chosen_person.DisplayName},
                summary=f"Link Paymo user {user_name} to QuickBooks {what} {chosen_person.DisplayName!r}",
                reason="; ".join(match.candidates[0].reasons) if match.candidates else "matched",
                target="ledger",
                link_kind=kind,
                content_hash=content_hash(
                    {"name": user_name, "email": user.email if user is not None else None}
                ),
                sync_token=chosen_person.SyncToken,
            )
        ]
    )
    return chosen_person.Id


def _inactive_worker(
    run: _Run, person: qbo_models.Employee | qbo_models.Vendor, user_name: str, record: str
) -> None:
    what = type(person).entity_name
    run.findings.block(
        "INACTIVE_REF",
        f"Paymo user {user_name}'s QuickBooks {what.lower()} {person.DisplayName!r} (Id {person.Id}) is "
        "inactive and QuickBooks refuses time for it (error 610): reactivate it in QuickBooks",
        record,
    )


# --------------------------------------------------------------------------------------------
# Target: draft invoice lines
# --------------------------------------------------------------------------------------------


async def _plan_invoice_lines(run: _Run, groups: Sequence[_Group]) -> None:
    by_client: dict[int, list[_Group]] = {}
    for planned in groups:
        by_client.setdefault(planned.group.key.client_id, []).append(planned)
    rateless: dict[int, list[TimeGroup]] = {}
    for part in run.rateless:
        rateless.setdefault(part.key.client_id, []).append(part)
    if not by_client and not rateless:
        return
    ctx = run.ctx
    item = await active_record(
        ctx,
        qbo_models.Item,
        ctx.mappings.service_item,
        purpose="mappings.service_item",
        findings=run.findings,
    )
    for client_id in sorted(by_client.keys() | rateless.keys()):
        members = by_client.get(client_id, [])
        material = {
            "target": run.target,
            "period": [run.date_from, run.date_to],
            "client": client_id,
            "groups": [planned.material for planned in members],
        }
        invoice_id = _numeric_id(material)
        hours = sum((planned.group.hours for planned in members), ZERO)
        run.begin(
            ItemDraft(
                key=f"paymo:time_group:{invoice_id}",
                kind="invoice",
                label=f"the draft invoice of Paymo client {client_id}, {hours} h",
            )
        )
        try:
            if client_id in rateless:
                # The client's invoice would miss that time: it waits until the time has a rate.
                for part in rateless[client_id]:
                    _no_rate(run, part)
                continue
            await _plan_client_invoice(run, client_id, members, material, item)
        finally:
            run.end()


async def _plan_client_invoice(
    run: _Run,
    client_id: int,
    members: Sequence[_Group],
    material: Mapping[str, Any],
    item: qbo_models.Item | None,
) -> None:
    """One client's draft invoice, in its own item."""
    ctx, facts = run.ctx, run.facts
    invoice_id = _numeric_id(material)
    billing, customer = await _customer(run, client_id)
    record = f"paymo:time_group:{invoice_id}"
    txn_date = max(planned.group.last_date for planned in members)
    findings = run.findings
    if facts.in_closed_period(txn_date):
        findings.block(
            "CLOSED_PERIOD",
            f"the time of Paymo client {client_id} runs to {txn_date}, on or before the QuickBooks book "
            f"close date {facts.book_close_date} (error 6210); leave that period out",
            record,
        )
        return
    tax = await sales_tax(ctx, facts, billing, findings, record)
    currency = billing.currency
    rate: Decimal | None = None
    if currency != facts.home_currency:
        if not facts.multicurrency:
            findings.block(
                "MULTICURRENCY_OFF",
                f"Paymo client {client_id} is invoiced in {currency}, but QuickBooks multicurrency is "
                "off; turn it on in QuickBooks first",
                record,
            )
            return
        rate = await exchange_rate_or_block(
            ctx, currency, txn_date, findings, carrier="the invoice", record=record
        )
    if (
        item is None
        or item.Id is None
        or tax is None
        or customer.blocked
        or customer.customer_ref is None
        or findings.blocks(record)
    ):
        return
    lines = [_sales_line(run, planned, item.Id, tax.code_id, currency) for planned in members]
    amounts = [line["Amount"] for line in lines]
    subtotal = sum(amounts, ZERO)
    entry_ids = sorted(entry_id for planned in members for entry_id in planned.group.entry_ids)
    note = (
        f"Draft from Paymo billable time {run.date_from} – {run.date_to}: {len(entry_ids)} time "
        f"entr{'y' if len(entry_ids) == 1 else 'ies'} ({_ids_text(entry_ids)})"
    )
    payload: dict[str, Any] = {
        "CustomerRef": {"value": customer.customer_ref},
        "TxnDate": txn_date.isoformat(),
        "Line": lines,
        "EmailStatus": "NotSet",
        "PrintStatus": "NotSet",
        "PrivateNote": add_marker(note, TIME_GROUP_KIND, invoice_id, max_length=PRIVATE_NOTE_MAX_LENGTH),
    }
    # QBO appends its own subtotal line.
    expect: dict[str, Any] = {"Line.count": len(lines) + 1}
    if facts.multicurrency:
        payload["CurrencyRef"] = {"value": currency}
    if rate is not None:
        payload["ExchangeRate"] = rate
        expect["ExchangeRate"] = rate
    if facts.tax_model == "global":
        # Paymo rates are net of tax.
        payload["GlobalTaxCalculation"] = "TaxExcluded"
    totals = expected_totals(tax, amounts, currency)
    override = tax_override(tax, totals)
    if override is not None:
        payload["TxnTaxDetail"] = override
    if totals is not None:
        expect["TotalAmt"] = totals.total
        expect["TxnTaxDetail.TotalTax"] = totals.total_tax
    if customer.customer_id is not None:
        expect["CustomerRef.value"] = customer.customer_id
    if "CurrencyRef" in payload:
        expect["CurrencyRef.value"] = currency
    run.add_once(customer.changes)
    run.changes.append(
        Change(
            action="create",
            entity="invoice",
            paymo_id=invoice_id,
            after={
                "amount": totals.total if totals is not None else subtotal,
                "currency": currency,
                "txn_date": txn_date,
                "subtotal": subtotal,
                "lines": len(lines),
                "hours": sum((planned.group.hours for planned in members), ZERO),
                "entries": entry_ids,
                "taxes_from": billing.source,
            },
            payload=payload,
            summary=(
                f"Create a draft QuickBooks invoice for Paymo client {client_id}: {len(lines)} line"
                f"{'' if len(lines) == 1 else 's'} of billable time, {currency} {subtotal} before tax"
                + (
                    " (with time added to pushed entries)"
                    if any(planned.added_since_push for planned in members)
                    else ""
                )
            ),
            reason=_already_reason(
                run, invoice_id, added_since_push=all(planned.added_since_push for planned in members)
            ),
            wire_entity="Invoice",
            link_kind=TIME_GROUP_KIND,
            content_hash=content_hash(material),
            lookup={
                "where": {"TxnDate": txn_date.isoformat()},
                "marker": marker(TIME_GROUP_KIND, invoice_id),
                "mark_done": _mark_done(run.paymo.entries, entry_ids),
            },
            expect=expect,
        )
    )
    run.add_total(currency, subtotal)


def _sales_line(run: _Run, planned: _Group, item_id: str, tax_code_id: str, currency: str) -> dict[str, Any]:
    group = planned.group
    amount = quantize(group.hours * planned.rate, currency)
    qty, unit_price, altered = qty_and_unit_price(group.hours, planned.rate, amount, currency)
    text = f"{_describe(run, group)}: {planned.period[0]} – {planned.period[1]}"
    if planned.added_since_push:
        text += f", time added after the push to entr{'y' if len(group.entry_ids) == 1 else 'ies'} "
        text += _ids_text(group.entry_ids)
    if planned.split_by_rate:
        text += f", at {planned.rate} {currency}/h"
    if altered:
        text += f" ({group.hours} h × {planned.rate} {currency})"
    return {
        "DetailType": "SalesItemLineDetail",
        "Amount": amount,
        "Description": text[:DESCRIPTION_MAX_LENGTH],
        "SalesItemLineDetail": {
            "ItemRef": {"value": item_id},
            "Qty": qty,
            "UnitPrice": unit_price,
            "TaxCodeRef": {"value": tax_code_id},
            "ServiceDate": group.last_date.isoformat(),
        },
    }
