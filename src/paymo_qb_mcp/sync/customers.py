"""Client ↔ customer: match a Paymo client to a QBO customer; plan its link, creation, reactivation or update.

Two entry points:

- ``plan_client_match`` — the ``find_client_match`` flow: rank the QBO customers for one Paymo client
  and plan what the decision implies (a ledger link, a customer create, a reactivation, a sparse
  update of contact and billing details);
- ``customer_for_invoice`` — what every transaction planner (invoices, expenses, time, budgets)
  calls to learn which QBO customer a Paymo client's records go to, and which changes must be
  applied first to make that customer exist, be active and be linked.

Ledger kind ``customer`` links Paymo client id → QBO Customer Id; the customers we create carry the
marker ``paymo:client:<id>`` in ``Notes``, which ``domain.matching`` recognises as evidence.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from paymo_qb_mcp.domain.keys import add_marker, content_hash, marker
from paymo_qb_mcp.domain.matching import (
    MatchResult,
    PaymoClientView,
    sanitize_display_name,
)
from paymo_qb_mcp.domain.money import normalize_currency
from paymo_qb_mcp.domain.plan import Change, Finding, FindingList, Plan
from paymo_qb_mcp.errors import InputError
from paymo_qb_mcp.paymo import models as paymo_models
from paymo_qb_mcp.paymo.where import eq as paymo_eq
from paymo_qb_mcp.quickbooks import models as qbo_models
from paymo_qb_mcp.quickbooks.models import ADDRESS_LINE_MAX_LENGTH, COMPANY_NAME_MAX_LENGTH, NOTES_MAX_LENGTH
from paymo_qb_mcp.sync.company import customer_view
from paymo_qb_mcp.sync.context import CompanyFacts, SyncContext
from paymo_qb_mcp.sync.executor import link_placeholder
from paymo_qb_mcp.sync.qbo_edits import guard_overwrite

__all__ = [
    "CLIENT_MARKER_KIND",
    "CUSTOMER_LINK_KIND",
    "MATCH_TOOL",
    "ClientMatchPlan",
    "CustomerResolution",
    "client_content_hash",
    "customer_for_invoice",
    "live_invoices",
    "plan_client_match",
]

MATCH_TOOL: Final = "find_client_match"
CUSTOMER_LINK_KIND: Final = "customer"
# domain.matching looks for `paymo:client:<id>` in a customer's Notes.
CLIENT_MARKER_KIND: Final = "client"
_ADDRESS_LINES: Final = ("Line1", "Line2", "Line3", "Line4", "Line5")
_DISAMBIGUATION_ATTEMPTS: Final = range(2, 10)


@dataclass(frozen=True)
class ClientMatchPlan:
    """The ranked match for one Paymo client and the plan that acts on its decision."""

    match: MatchResult
    plan: Plan


@dataclass(frozen=True)
class CustomerResolution:
    """Which QBO customer a Paymo client's transactions go to, and what must happen first.

    - ``customer_ref``: the value to put in ``CustomerRef.value``: the QBO Id of an existing
      customer, or ``link_placeholder("customer", client id)`` when ``changes`` create it (the
      executor substitutes the new Id); None when ``blocked``.
    - ``customer_id``: the QBO Id when the customer already exists, else None.
    - ``currency``: the customer's ISO currency (its ``CurrencyRef``, or the one it will be created in).
    - ``changes``: writes to put *before* the transaction's own changes, in order: the customer
      create, its reactivation, or the ledger link of a match (empty when linked and active).
    - ``findings``: blockers (ambiguous match, no customer and creation not allowed, currency
      mismatch, …) and warnings (reactivation, sanitised name, name collision, …).
    - ``match``: the ranked candidates with their scores and reasons.
    - ``customer``: the QBO record when it exists.
    """

    customer_ref: str | None
    customer_id: str | None
    currency: str
    changes: tuple[Change, ...]
    findings: tuple[Finding, ...]
    match: MatchResult
    customer: qbo_models.Customer | None = None

    @property
    def blocked(self) -> bool:
        return any(finding.severity == "blocker" for finding in self.findings)


@dataclass
class _Outcome:
    match: MatchResult
    currency: str
    changes: list[Change] = field(default_factory=list)
    findings: FindingList = field(default_factory=FindingList)
    customer: qbo_models.Customer | None = None
    customer_ref: str | None = None


# --------------------------------------------------------------------------------------------
# Entry points
# --------------------------------------------------------------------------------------------


async def plan_client_match(
    ctx: SyncContext,
    paymo_client_id: int,
    *,
    create_if_missing: bool = False,
    update_details: bool = False,
    qbo_customer_id: str | None = None,
) -> ClientMatchPlan:
    """Match one Paymo client to a QBO customer and plan what the decision implies; writes nothing.

    ``qbo_customer_id`` is a human's choice (typically among ambiguous candidates): it wins over the
    scores like a stored link does, and is linked if it is not already.

    ``matched`` and not linked yet → a ledger link; already linked and unchanged → nothing;
    ``none`` with ``create_if_missing`` → a customer create (name sanitised, collisions with
    customers, vendors and employees resolved at plan time); ``ambiguous`` → never a create or a
    link; an inactive match → a planned reactivation; ``update_details`` → a sparse update of the
    e-mail, phone, website and billing address from Paymo with field-level before/after (a human
    must confirm it when it would overwrite what someone changed in QuickBooks since our last write:
    EDITED_IN_QUICKBOOKS).
    """
    outcome = await _resolve(
        ctx,
        paymo_client_id,
        currency=None,
        create_if_missing=create_if_missing,
        update_details=update_details,
        for_transaction=False,
        chosen_customer_id=qbo_customer_id,
    )
    plan = Plan.build(MATCH_TOOL, outcome.changes, findings=outcome.findings)
    return ClientMatchPlan(match=outcome.match, plan=plan)


async def customer_for_invoice(
    ctx: SyncContext,
    paymo_client_id: int,
    currency: str,
    *,
    create_if_missing: bool = True,
) -> CustomerResolution:
    """The QBO customer for a Paymo client's transaction in ``currency`` (an ISO or Paymo code).

    Stable contract for the invoice, expense, time and budget planners: put ``changes`` before the
    transaction's own changes, use ``customer_ref`` as ``CustomerRef.value``, and carry
    ``findings`` into the plan (a blocker means the transaction cannot be planned). A client that
    is invoiced in a currency other than its QBO customer's is blocked: QBO never changes a
    customer's currency. When no customer matches, one is planned in ``currency`` unless
    ``create_if_missing`` is false (then a blocker says so).
    """
    iso = normalize_currency(currency)
    outcome = await _resolve(
        ctx,
        paymo_client_id,
        currency=iso,
        create_if_missing=create_if_missing,
        update_details=False,
        for_transaction=True,
    )
    blocked = outcome.findings.blocked
    customer_id = outcome.customer.Id if outcome.customer is not None else None
    return CustomerResolution(
        customer_ref=None if blocked else outcome.customer_ref,
        customer_id=customer_id,
        currency=outcome.currency,
        changes=() if blocked else tuple(outcome.changes),
        findings=tuple(outcome.findings),
        match=outcome.match,
        customer=outcome.customer,
    )


# --------------------------------------------------------------------------------------------
# Reading both sides
# --------------------------------------------------------------------------------------------


def _text(value: str | None) -> str | None:
    if value is None:
        return None
    return value.strip() or None


def client_content_hash(client: paymo_models.Client, currency: str) -> str:
    """The hash of what we push about a client: name, contact and billing details, currency."""
    return content_hash(
        {
            "name": client.name,
            "email": _text(client.email),
            "phone": _text(client.phone),
            "fax": _text(client.fax),
            "website": _text(client.website),
            "address": _text(client.address),
            "city": _text(client.city),
            "state": _text(client.state),
            "postal_code": _text(client.postal_code),
            "country": _text(client.country),
            "currency": currency,
        }
    )


async def live_invoices(ctx: SyncContext, client_id: int) -> list[paymo_models.Invoice]:
    """The client's Paymo invoices that tell how it is billed (not void, with a currency), oldest first."""
    invoices = await ctx.paymo.list_invoices(where=paymo_eq("client_id", client_id))
    live = [invoice for invoice in invoices if invoice.status != "void" and invoice.currency]
    return sorted(live, key=lambda invoice: (invoice.date or dt.date.min, invoice.id))


async def _client_currency(ctx: SyncContext, client_id: int, findings: FindingList) -> str:
    """The currency a client is invoiced in: that of its latest non-void invoice, else Paymo's default."""
    facts = await ctx.facts()
    live = await live_invoices(ctx, client_id)
    if not live:
        return facts.paymo_currency
    currencies = {normalize_currency(str(invoice.currency)) for invoice in live}
    chosen = normalize_currency(str(live[-1].currency))
    if len(currencies) > 1:
        findings.warn(
            "SEVERAL_CURRENCIES",
            f"Paymo client {client_id} is invoiced in {', '.join(sorted(currencies))}; a "
            f"QuickBooks customer has one currency, so it is taken as {chosen} (its latest "
            "invoice). Invoices in the other currencies need a separate customer",
            f"paymo:client:{client_id}",
        )
    return chosen


def _client_view(
    client: paymo_models.Client, contacts: Sequence[paymo_models.ClientContact], currency: str
) -> PaymoClientView:
    return PaymoClientView(
        id=client.id,
        name=client.name,
        email=_text(client.email),
        contact_emails=tuple(contact.email for contact in contacts if contact.email),
        city=_text(client.city),
        country=_text(client.country),
        website=_text(client.website),
        currency=currency,
    )


# --------------------------------------------------------------------------------------------
# Deciding
# --------------------------------------------------------------------------------------------


async def _resolve(
    ctx: SyncContext,
    client_id: int,
    *,
    currency: str | None,
    create_if_missing: bool,
    update_details: bool,
    for_transaction: bool,
    chosen_customer_id: str | None = None,
) -> _Outcome:
    facts = await ctx.facts()
    link = ctx.ledger.link(CUSTOMER_LINK_KIND, client_id)
    if (
        link is None
        or update_details
        or (chosen_customer_id is not None and chosen_customer_id != link.qbo_id)
    ):
        # A new decision (a link, a create, an update) is only taken on data caught up during this plan:
        # a customer someone created, renamed or edited in QuickBooks a moment ago, or a client changed in
        # Paymo, must be seen first.
        await ctx.data.confirm_current()
    client = await ctx.data.paymo_client(client_id)
    contacts = await ctx.data.paymo_contacts(client_id)
    early_findings = FindingList()
    if currency is None:
        currency = await _client_currency(ctx, client_id, early_findings)
    customers = await ctx.data.customers()
    wanted = [ident for ident in (link.qbo_id if link else None, chosen_customer_id) if ident is not None]
    if any(ident not in customers for ident in wanted):
        # A record we are told about but do not know may be brand new (another process created it):
        # never conclude it is gone from data that may predate it.
        await ctx.data.catch_up()
        customers = await ctx.data.customers()

    linked = customers.get(link.qbo_id) if link is not None else None
    if link is not None and linked is None:
        early_findings.warn(
            "STALE_LINK",
            f"Paymo client {client_id} was linked to QuickBooks customer {link.qbo_id}, which no "
            "longer exists; matching again",
            f"paymo:client:{client_id}",
        )

    if chosen_customer_id is not None:
        chosen = customers.get(chosen_customer_id)
        if chosen is None or chosen.Job:
            early_findings.block(
                "UNKNOWN_CUSTOMER",
                f"QuickBooks has no customer with Id {chosen_customer_id!r} to link Paymo client "
                f"{client_id} to; pick one of the candidates' ids",
                f"paymo:client:{client_id}",
            )
            empty = MatchResult(decision="none", customer=None, candidates=[])
            return _Outcome(match=empty, currency=currency, findings=early_findings)
        if linked is None or linked.Id != chosen.Id:
            # A new choice: the link is planned afresh, whatever an earlier link pointed at.
            link = None
        linked = chosen

    view = _client_view(client, contacts, currency)
    match = await ctx.data.match_customer(view, linked_customer_id=linked.Id if linked is not None else None)
    if linked is not None and (match.customer is None or match.customer.id != linked.Id):
        # The stored link is a human's (or an earlier run's) decision: it wins over scores.
        match = MatchResult(decision="matched", customer=customer_view(linked), candidates=match.candidates)

    outcome = _Outcome(match=match, currency=currency, findings=early_findings)
    record = f"paymo:client:{client_id}"
    if match.decision == "ambiguous":
        names = "; ".join(f"{c.display_name!r} (Id {c.id}, score {c.score:.2f})" for c in match.candidates)
        outcome.findings.block(
            "AMBIGUOUS_MATCH",
            f"Paymo client {client.name!r} could be any of several QuickBooks customers: {names}. "
            "Nothing is linked or created; link the right one by hand (or make the records "
            "distinguishable) and plan again",
            record,
        )
        return outcome
    if match.decision == "matched":
        assert match.customer is not None
        customer = customers[match.customer.id]
        outcome.customer = customer
        outcome.customer_ref = customer.Id
        _plan_for_match(
            ctx,
            outcome,
            client,
            customer,
            link_hash=link.content_hash if link is not None and linked is not None else None,
            facts=facts,
            update_details=update_details,
            for_transaction=for_transaction,
        )
        return outcome
    if not create_if_missing:
        outcome.findings.append(
            Finding(
                severity="blocker" if for_transaction else "info",
                code="NO_CUSTOMER",
                message=(
                    f"No QuickBooks customer matches Paymo client {client.name!r}"
                    + (
                        "; creating one is not allowed here"
                        if for_transaction
                        else "; plan again with create_if_missing to create one"
                    )
                ),
                record=record,
            )
        )
        return outcome
    await _plan_create(ctx, outcome, client)
    return outcome


def _plan_for_match(
    ctx: SyncContext,
    outcome: _Outcome,
    client: paymo_models.Client,
    customer: qbo_models.Customer,
    *,
    link_hash: str | None,
    facts: CompanyFacts,
    update_details: bool,
    for_transaction: bool,
) -> None:
    assert customer.Id is not None
    record = f"quickbooks:customer:{customer.Id}"
    customer_currency = facts.currency_of(customer.CurrencyRef)
    if customer_currency != outcome.currency:
        # The same guard serves invoices, expenses, time and budgets: it names the transaction's
        # currency, since a client invoiced in CAD can have a USD expense billed to it.
        outcome.findings.block(
            "CURRENCY_MISMATCH",
            f"Paymo client {client.name!r} would be invoiced in {outcome.currency} here (a "
            f"{outcome.currency} transaction), but its QuickBooks customer {customer.DisplayName!r} "
            f"(Id {customer.Id}) is in {customer_currency}. QuickBooks never changes a customer's "
            f"currency: create a separate customer in {outcome.currency} and link it, or keep this "
            f"client's transactions in {customer_currency}",
            record,
        )
        if for_transaction:
            return
    outcome.currency = customer_currency
    client_hash = client_content_hash(client, outcome.currency)
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    payload: dict[str, Any] = {}
    if customer.Active is False:
        before["Active"] = False
        after["Active"] = True
        payload["Active"] = True
        outcome.findings.warn(
            "REACTIVATION",
            f"QuickBooks customer {customer.DisplayName!r} (Id {customer.Id}) is inactive; the plan "
            "reactivates it (QuickBooks refuses transactions for inactive customers)",
            record,
        )
    if update_details:
        detail_before, detail_after, detail_payload = _detail_changes(client, customer)
        before.update(detail_before)
        after.update(detail_after)
        payload.update(detail_payload)
    summary_name = customer.DisplayName or customer.Id
    if payload:
        guard_overwrite(
            ctx.ledger.link(CUSTOMER_LINK_KIND, client.id),
            customer,
            payload,
            before=before,
            after=after,
            target=f"QuickBooks customer {summary_name!r} (Id {customer.Id})",
            source=f"Paymo client {client.name!r}",
            record=record,
            findings=outcome.findings,
        )
        what = " and ".join(
            part
            for part in (
                "reactivate" if "Active" in payload else "",
                "update contact/billing details of" if set(payload) - {"Active"} else "",
            )
            if part
        )
        outcome.changes.append(
            Change(
                action="update",
                entity="customer",
                paymo_id=client.id,
                qbo_id=customer.Id,
                before=before,
                after={**after, "currency": outcome.currency},
                payload=payload,
                summary=(
                    f"{what.capitalize()} QuickBooks customer {summary_name!r} (Paymo client {client.name!r})"
                ),
                reason="matched customer" if link_hash is None else "linked customer",
                target="quickbooks",
                wire_entity="Customer",
                link_kind=CUSTOMER_LINK_KIND,
                content_hash=client_hash,
                sync_token=customer.SyncToken,
                expect=dict(after),
            )
        )
        return
    if link_hash is None:
        outcome.changes.append(
            Change(
                action="link",
                entity="customer",
                paymo_id=client.id,
                qbo_id=customer.Id,
                after={"qbo_customer": customer.DisplayName, "currency": outcome.currency},
                summary=f"Link Paymo client {client.name!r} to QuickBooks customer {summary_name!r}",
                reason="; ".join(_best_reasons(outcome.match)) or "matched",
                target="ledger",
                link_kind=CUSTOMER_LINK_KIND,
                content_hash=client_hash,
                sync_token=customer.SyncToken,
            )
        )
        return
    if not for_transaction:
        reason = "already linked" if link_hash == client_hash else "already linked; Paymo details changed"
        outcome.changes.append(
            Change(
                action="skip",
                entity="customer",
                paymo_id=client.id,
                qbo_id=customer.Id,
                summary=f"Paymo client {client.name!r} is linked to QuickBooks customer {summary_name!r}",
                reason=reason,
                target="ledger",
                link_kind=CUSTOMER_LINK_KIND,
            )
        )
        if link_hash != client_hash:
            outcome.findings.inform(
                "DETAILS_CHANGED",
                f"Paymo client {client.name!r} changed since it was linked; plan with update_details "
                "to copy its contact and billing details to QuickBooks",
                f"paymo:client:{client.id}",
            )


def _best_reasons(match: MatchResult) -> list[str]:
    if match.customer is None:
        return []
    for candidate in match.candidates:
        if candidate.id == match.customer.id:
            return candidate.reasons
    return []


# --------------------------------------------------------------------------------------------
# Contact and billing details
# --------------------------------------------------------------------------------------------


def _address_lines(address: str | None) -> list[str]:
    if not address:
        return []
    lines = [line.strip() for line in address.splitlines() if line.strip()]
    if len(lines) > len(_ADDRESS_LINES):
        lines = [*lines[: len(_ADDRESS_LINES) - 1], ", ".join(lines[len(_ADDRESS_LINES) - 1 :])]
    return [line[:ADDRESS_LINE_MAX_LENGTH] for line in lines]


def _paymo_bill_addr(client: paymo_models.Client) -> dict[str, str]:
    """The Paymo client's address as a QBO ``PhysicalAddress`` (only what Paymo knows)."""
    address: dict[str, str] = dict(zip(_ADDRESS_LINES, _address_lines(client.address), strict=False))
    for key, value in (
        ("City", client.city),
        ("CountrySubDivisionCode", client.state),
        ("PostalCode", client.postal_code),
        ("Country", client.country),
    ):
        text = _text(value)
        if text:
            address[key] = text
    return address


def _paymo_details(client: paymo_models.Client) -> dict[str, Any]:
    """What Paymo says about a client, in QBO wire shape (fields Paymo leaves empty are absent)."""
    details: dict[str, Any] = {}
    email = _text(client.email)
    if email:
        details["PrimaryEmailAddr"] = {"Address": email}
    phone = _text(client.phone)
    if phone:
        details["PrimaryPhone"] = {"FreeFormNumber": phone}
    fax = _text(client.fax)
    if fax:
        details["Fax"] = {"FreeFormNumber": fax}
    website = _text(client.website)
    if website:
        details["WebAddr"] = {"URI": website}
    bill = _paymo_bill_addr(client)
    if bill:
        details["BillAddr"] = bill
    return details


def _detail_changes(
    client: paymo_models.Client, customer: qbo_models.Customer
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """Field-level before/after (dotted wire paths) and the sparse payload that brings QBO to Paymo's details.

    Only fields Paymo fills are compared, so a detail known only to QBO is never erased; an address
    is sent whole (QBO replaces it as one object), keeping the lines Paymo does not have.
    """
    wire = customer.to_wire()
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    payload: dict[str, Any] = {}
    for key, wanted in _paymo_details(client).items():
        current: Mapping[str, Any] = wire.get(key) or {}
        changed = {name: value for name, value in wanted.items() if str(current.get(name) or "") != value}
        if not changed:
            continue
        for name, value in changed.items():
            before[f"{key}.{name}"] = current.get(name)
            after[f"{key}.{name}"] = value
        if key == "BillAddr":
            kept = {name: value for name, value in current.items() if name not in _ADDRESS_LINES}
            payload[key] = {**kept, **wanted}
        else:
            payload[key] = wanted
    return before, after, payload


# --------------------------------------------------------------------------------------------
# Creating
# --------------------------------------------------------------------------------------------


async def _plan_create(ctx: SyncContext, outcome: _Outcome, client: paymo_models.Client) -> None:
    facts = await ctx.facts()
    record = f"paymo:client:{client.id}"
    if outcome.currency != facts.home_currency and not facts.multicurrency:
        outcome.findings.block(
            "MULTICURRENCY_OFF",
            f"Paymo client {client.name!r} is invoiced in {outcome.currency}, but multicurrency is "
            f"off in QuickBooks (home currency {facts.home_currency}); turn it on in QuickBooks "
            "(Settings → Account and settings → Advanced → Currency) before creating this customer",
            record,
        )
        return
    try:
        sanitized = sanitize_display_name(client.name)
    except InputError as exc:
        outcome.findings.block("NAME_UNUSABLE", exc.message, record)
        return
    if sanitized.altered:
        outcome.findings.warn(
            "NAME_SANITIZED",
            f"QuickBooks does not accept the name {client.name!r} as it is; the customer will be "
            f"named {sanitized.value!r} ({'; '.join(sanitized.changes)})",
            record,
        )
    name = sanitized.value
    clash = await ctx.data.party_name_holder(name)
    if clash is not None:
        alternative: str | None = None
        for attempt in _DISAMBIGUATION_ATTEMPTS:
            candidate = sanitize_display_name(ctx.mappings.disambiguated_name(name, attempt)).value
            if not await ctx.data.name_taken(candidate):
                alternative = candidate
                break
        entity, clash_id, clash_name = clash
        if alternative is None:
            outcome.findings.block(
                "DUPLICATE_NAME",
                f"The name {name!r} is used by QuickBooks {entity} {clash_name!r} (Id {clash_id}) "
                "and the policy's duplicate_name_template gives no free alternative; add {n} to the "
                "template or rename the client in Paymo",
                record,
            )
            return
        offer = (
            f"if it is the same organisation, link Paymo client {client.id} to customer {clash_id} instead "
            "of creating a new one"
            if entity == "customer"
            else f"a {entity} cannot be invoiced, so a separate customer is needed"
        )
        outcome.findings.warn(
            "DUPLICATE_NAME",
            f"The name {name!r} is already used by QuickBooks {entity} {clash_name!r} "
            f"(Id {clash_id}), and QuickBooks names are unique across customers, vendors and "
            "employees (error 6240); "
            f"the customer will be created as {alternative!r}. {offer[0].upper()}{offer[1:]}",
            record,
        )
        name = alternative

    payload: dict[str, Any] = {"DisplayName": name}
    payload["CompanyName"] = sanitized.value[:COMPANY_NAME_MAX_LENGTH].rstrip()
    payload.update(_paymo_details(client))
    if facts.multicurrency:
        # A QBO customer's currency is fixed at creation: it must be the one the client is invoiced in.
        payload["CurrencyRef"] = {"value": outcome.currency}
    tag = marker(CLIENT_MARKER_KIND, client.id)
    payload["Notes"] = add_marker(None, CLIENT_MARKER_KIND, client.id, max_length=NOTES_MAX_LENGTH)
    after = _flatten(payload)
    after["currency"] = outcome.currency
    outcome.changes.append(
        Change(
            action="create",
            entity="customer",
            paymo_id=client.id,
            after=after,
            payload=payload,
            summary=(
                f"Create QuickBooks customer {name!r} for Paymo client {client.name!r} in {outcome.currency}"
            ),
            reason="no QuickBooks customer matches",
            target="quickbooks",
            wire_entity="Customer",
            link_kind=CUSTOMER_LINK_KIND,
            content_hash=client_content_hash(client, outcome.currency),
            lookup={"where": {"DisplayName": name}, "marker": tag},
            expect={"DisplayName": name, "Active": True, "CurrencyRef.value": outcome.currency}
            if facts.multicurrency
            else {"DisplayName": name, "Active": True},
        )
    )
    outcome.customer_ref = link_placeholder(CUSTOMER_LINK_KIND, client.id)


def _flatten(payload: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in payload.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(_flatten(value, f"{path}."))
        else:
            flat[path] = value
    return flat
