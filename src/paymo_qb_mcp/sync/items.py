"""A set planned item by item: each item's own plan, what concerns the whole run, and the one plan of both.

``mark_paid``, ``push_expenses`` and ``aggregate_time`` work on sets (an invoice's payments, expenses, time
groups). Their planners record, next to nothing else, what each item needs written (the shared writes it
depends on too, such as its customer's create), the findings about it and its figures; findings about the
whole run (a missing mapping, an inactive paying account, a push of time left unfinished) stay the run's.
The server decides on each item and combines them (``server.selection``); ``merge_items`` gives the one plan
the planners' single-plan entry points have always returned.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Final

from paymo_qb_mcp.domain.keys import content_hash
from paymo_qb_mcp.domain.money import ZERO
from paymo_qb_mcp.domain.plan import Change, Finding, FindingList, Plan

__all__ = [
    "RUN_WIDE_CODES",
    "ItemDraft",
    "ItemizedPlan",
    "PlannedItem",
    "change_identity",
    "merge_items",
]

# Blockers that are never one item's: a mapping policies.yaml lacks, or names a record QuickBooks does not
# have, is fixed once for every item (an item they block blocks the whole run).
RUN_WIDE_CODES: Final = frozenset({"MAPPING_MISSING", "MAPPING_UNRESOLVED"})


@dataclass(frozen=True)
class PlannedItem:
    """One item of a set and everything it needs: ``plan`` holds its own changes and the shared ones it
    depends on (its customer's create, a person's link), its findings and totals.

    ``key`` names the item (``paymo:expense:12``; the record of the findings that leave it out), ``kind``
    what it is (``expense``, ``time_activity``, ``invoice``, ``invoice_payments``), ``label`` how a human
    reads it; ``total`` and ``currency`` are its own figures when it has one currency.
    """

    key: str
    kind: str
    label: str
    plan: Plan
    total: Decimal | None = None
    currency: str | None = None

    @property
    def paymo_id(self) -> str:
        """The id at the end of ``key`` (``12`` of ``paymo:expense:12``)."""
        return self.key.rsplit(":", 1)[-1]


@dataclass(frozen=True)
class ItemizedPlan:
    """A set as items, and ``common``: the run's own findings (a blocker there blocks every item) and the
    changes no item owns (skips that say why records are not in any item)."""

    tool: str
    description: str
    items: tuple[PlannedItem, ...]
    common: Plan
    noun: str = "item"
    nouns: str = "items"

    def merged(self) -> Plan:
        """The one plan of the whole set (every item, blocked or not), as a single-plan planner returns it."""
        return merge_items(self.tool, self.common.changes, self.common.findings, self.items)


def change_identity(change: Change) -> Hashable:
    """What makes two changes one write in a single plan: the same action on the same linked record (a
    customer's create two items need is one); a change without a Paymo id, or a skip, is only ever the
    same as an identical one."""
    if change.paymo_id is not None and change.action != "skip":
        return (change.link_kind, change.paymo_id, change.action)
    return content_hash(change.hashed_content())


@dataclass
class ItemDraft:
    """What a planner gathers for one item (or for the run, as its common part) before it is built."""

    key: str
    kind: str
    label: str
    changes: list[Change] = field(default_factory=list)
    findings: FindingList = field(default_factory=FindingList)
    totals: dict[str, Decimal] = field(default_factory=dict)
    total: Decimal | None = None
    currency: str | None = None
    _once: set[Hashable] = field(default_factory=set)

    def add_once(self, changes: Iterable[Change]) -> None:
        """Shared changes (a customer's create or link, a person's link) go in once per item."""
        for change in changes:
            identity = change_identity(change)
            if identity not in self._once:
                self._once.add(identity)
                self.changes.append(change)

    def add_findings(self, findings: Iterable[Finding]) -> None:
        """Findings a shared lookup made (a customer's, a person's), once per item."""
        for finding in findings:
            if finding not in self.findings:
                self.findings.append(finding)

    def add_total(self, currency: str, amount: Decimal) -> None:
        self.totals[currency] = self.totals.get(currency, ZERO) + amount

    def build(self, tool: str, common: FindingList | None = None) -> PlannedItem:
        """The item; its run-wide blockers (``RUN_WIDE_CODES``) move to ``common`` when given."""
        findings = list(self.findings)
        if common is not None:
            for finding in findings:
                if finding.severity == "blocker" and finding.code in RUN_WIDE_CODES and finding not in common:
                    common.append(finding)
        total, currency = self.total, self.currency
        if total is None and len(self.totals) == 1:
            ((currency, total),) = self.totals.items()
        return PlannedItem(
            key=self.key,
            kind=self.kind,
            label=self.label,
            plan=Plan.build(tool, self.changes, findings=findings, totals=self.totals),
            total=total,
            currency=currency,
        )


def merge_items(
    tool: str,
    changes: Sequence[Change],
    findings: Sequence[Finding],
    items: Sequence[PlannedItem],
    *,
    once: Callable[[Change], Hashable] | None = change_identity,
) -> Plan:
    """One plan of the run's changes and findings then every item's, a change several items need once
    (``once`` says which are the same; None keeps every one) and a finding they share once."""
    merged: list[Change] = list(changes)
    seen: set[Hashable] = set()
    if once is not None:
        seen.update(once(change) for change in changes)
    found: list[Finding] = list(findings)
    totals: dict[str, Decimal] = {}
    for item in items:
        for change in item.plan.changes:
            if once is not None:
                identity = once(change)
                if identity in seen:
                    continue
                seen.add(identity)
            merged.append(change)
        for finding in item.plan.findings:
            if finding not in found:
                found.append(finding)
        for currency, amount in item.plan.totals.items():
            totals[currency] = totals.get(currency, ZERO) + Decimal(amount)
    return Plan.build(tool, merged, findings=found, totals=totals)
