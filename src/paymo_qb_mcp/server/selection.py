"""Many records as one governed plan: the policy decides per item, blocked and denied items are left out.

A selection — ``sync_invoice`` over a list of ids or a period, and the sets ``mark_paid`` (each invoice's
payments), ``push_expenses`` (each expense) and ``aggregate_time`` (each time group, or each client's draft
invoice) work on — is planned item by item (``sync.items``, ``sync.invoices.selection``); here each item's
own plan meets the policy with its own amount, currency and dates (and the size of the whole selection as
its record count). Items a rule denies or a guard blocks are listed and left out; the others become one
plan — their changes in order, a customer two items need created once — whose decision is the strictest
of theirs (confirm when any needs a human), so the human approves the whole set once, bound to that plan's
hash as always. What concerns the whole run (a missing mapping) stays in the plan: a blocker there blocks
it all.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final, Literal, cast, get_args

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError

from paymo_qb_mcp.config.policy import Decision, PlanFacts, Policy
from paymo_qb_mcp.domain.keys import content_hash
from paymo_qb_mcp.domain.money import quantize
from paymo_qb_mcp.domain.plan import Change, Finding, FindingList, Plan, summarize_plan
from paymo_qb_mcp.errors import PaymoQbError
from paymo_qb_mcp.server.governance import (
    Prepared,
    facts_for,
    needing_human,
    refuse_credentials,
    runtime_of,
)
from paymo_qb_mcp.server.outputs import InvoiceRecordResult, InvoiceStatus, ItemRecordResult
from paymo_qb_mcp.sync.company import fold_name
from paymo_qb_mcp.sync.invoices import InvoicePlan, SelectionPlan
from paymo_qb_mcp.sync.items import ItemizedPlan, PlannedItem
from paymo_qb_mcp.sync.writes import AppliedChange, ApplyOutcome

if TYPE_CHECKING:
    from paymo_qb_mcp.server.runtime import Runtime

__all__ = [
    "QUESTION_ITEMS",
    "CombinedPlan",
    "ItemVerdict",
    "combine_items",
    "combine_selection",
    "item_results",
    "prepare_items",
    "prepare_selection",
    "selection_question",
    "selection_results",
]

ItemStatus = Literal["included", "unchanged", "blocked", "denied"]
# How many items the question to the human lists by name; the whole plan stays readable as the
# resource paymo-qb://plans/{plan_hash}.
QUESTION_ITEMS: Final = 10
_STRICTNESS: Final = {"allow": 0, "confirm": 1}


@dataclass(frozen=True)
class ItemVerdict:
    """What becomes of one selected item: included in the plan (with the policy's decision for it),
    unchanged, blocked (a guard) or denied (a rule). ``invoice`` is sync_invoice's own view of it."""

    item: PlannedItem
    status: ItemStatus
    reason: str
    decision: Decision | None = None
    invoice: InvoicePlan | None = None

    @property
    def label(self) -> str:
        return self.item.label

    @property
    def paymo_invoice_id(self) -> int:
        """sync_invoice's items: the Paymo invoice id (0 when unknown)."""
        ident = self.item.paymo_id
        return int(ident) if ident.isdigit() else 0


@dataclass(frozen=True)
class CombinedPlan:
    """The one plan of a selection, its decision, the verdict on every item, and which item brought each
    change into the plan (by content; the run's own changes belong to none)."""

    plan: Plan
    facts: PlanFacts
    decision: Decision
    verdicts: tuple[ItemVerdict, ...]
    description: str
    noun: str = "invoice"
    owners: Mapping[str, str] = field(default_factory=dict)

    def count(self, status: ItemStatus) -> int:
        return sum(1 for verdict in self.verdicts if verdict.status == status)

    def needing_human(self) -> list[ItemVerdict]:
        return [
            verdict
            for verdict in self.verdicts
            if verdict.status == "included"
            and verdict.decision is not None
            and verdict.decision.effect == "confirm"
        ]


def _blocker_text(plan: Plan) -> str:
    return "; ".join(f"{f.code}: {f.message}" for f in plan.findings if f.severity == "blocker")


def _conflicts(
    plan: Plan,
    taken: Mapping[tuple[str, str, str, str], tuple[str, str]],
    names: Mapping[str, str],
    contents: Mapping[int, str],
) -> str | None:
    """Why this item's writes clash with those of an item already in the plan, if they do: the same
    record written differently, or two new customers with one name (QBO names are unique)."""
    for change in plan.writes:
        held = taken.get(_write_key(change))
        if held is not None and held[0] != contents[id(change)]:
            return f"it needs {change.summary.lower()}, planned differently for {held[1]}"
        name = _new_customer_name(change)
        if name is not None and names.get(fold_name(name), str(change.paymo_id)) != str(change.paymo_id):
            return f"it needs a new QuickBooks customer named {name!r}, which another new customer takes"
    return None


def _write_key(change: Change) -> tuple[str, str, str, str]:
    """Which write a change is: two items' changes with one key write the same record the same way."""
    return (change.target, change.link_kind or "", change.record_key, change.action)


def _content(change: Change) -> str:
    return content_hash(change.hashed_content())


def _new_customer_name(change: Change) -> str | None:
    if change.entity != "customer" or change.action != "create" or not change.payload:
        return None
    name = change.payload.get("DisplayName")
    return name if isinstance(name, str) else None


def combine_selection(tool: str, selected: SelectionPlan, policy: Policy) -> CombinedPlan:
    """sync_invoice's selection: every invoice an item (an id Paymo lacks, blocked), combined."""
    missing = [
        ItemVerdict(
            PlannedItem(
                key=f"paymo:invoice:{ident}",
                kind="invoice",
                label=f"Paymo invoice {ident}",
                plan=Plan.build(tool, []),
            ),
            "blocked",
            f"NOT_FOUND: Paymo has no invoice with id {ident}",
        )
        for ident in selected.missing
    ]
    items = [invoice.as_item() for invoice in selected.items]
    itemized = ItemizedPlan(
        tool=tool,
        description=selected.selection.describe(),
        items=tuple(items),
        common=Plan.build(tool, []),
        noun="invoice",
        nouns="invoices",
    )
    invoices = {item.key: invoice for item, invoice in zip(items, selected.items, strict=True)}
    return combine_items(tool, itemized, policy, left_out=missing, invoices=invoices)


def combine_items(
    tool: str,
    itemized: ItemizedPlan,
    policy: Policy,
    *,
    left_out: Sequence[ItemVerdict] = (),
    invoices: Mapping[str, InvoicePlan] | None = None,
) -> CombinedPlan:
    """Decide every item, leave out the blocked, denied and conflicting ones, and build the plan of the
    rest after the run's own changes and findings (whose blocker blocks the plan).

    ``left_out``: items already known to be left out (listed first, without a finding);
    ``invoices``: sync_invoice's view of its items (by key).
    """
    verdicts: list[ItemVerdict] = list(left_out)
    candidates = [item for item in itemized.items if not item.plan.blocked and not item.plan.is_noop]
    record_count = max(sum(len(item.plan.writes) for item in candidates), 1)
    taken: dict[tuple[str, str, str, str], tuple[str, str]] = {}
    names: dict[str, str] = {}
    changes: list[Change] = list(itemized.common.changes)
    seen: set[str] = {_content(change) for change in changes}
    owners: dict[str, str] = {}
    findings = FindingList(itemized.common.findings)
    totals: dict[str, Decimal] = {}
    for item in itemized.items:
        base = ItemVerdict(item, "blocked", "", invoice=(invoices or {}).get(item.key))
        if item.plan.blocked:
            verdicts.append(dataclasses.replace(base, reason=_blocker_text(item.plan)))
            findings.warn("LEFT_OUT", f"{item.label} is left out: {_blocker_text(item.plan)}", item.key)
            continue
        if item.plan.is_noop:
            reason = "; ".join(change.summary for change in item.plan.changes) or "nothing to do"
            verdicts.append(dataclasses.replace(base, status="unchanged", reason=reason))
            findings.extend(item.plan.findings)
            continue
        facts = dataclasses.replace(facts_for(item.plan), record_count=record_count)
        decision = needing_human(item.plan, policy.decide(tool, facts))
        if decision.effect == "deny":
            verdicts.append(
                dataclasses.replace(base, status="denied", reason=decision.reason, decision=decision)
            )
            findings.warn(
                "LEFT_OUT",
                f"{item.label} is left out: policies.yaml denies it ({decision.reason})",
                item.key,
            )
            continue
        contents = {id(change): _content(change) for change in item.plan.changes}
        clash = _conflicts(item.plan, taken, names, contents)
        if clash is not None:
            reason = f"CONFLICTING_ITEMS: {clash}; sync it on its own after this plan is applied"
            verdicts.append(dataclasses.replace(base, reason=reason))
            findings.warn("LEFT_OUT", f"{item.label} is left out: {reason}", item.key)
            continue
        for change in item.plan.writes:
            taken.setdefault(_write_key(change), (contents[id(change)], item.label))
            name = _new_customer_name(change)
            if name is not None:
                names.setdefault(fold_name(name), str(change.paymo_id))
        for change in item.plan.changes:
            content = contents[id(change)]
            if content not in seen:
                seen.add(content)
                owners[content] = item.key
                changes.append(change)
        findings.extend(item.plan.findings)
        for currency, amount in item.plan.totals.items():
            totals[currency] = totals.get(currency, Decimal(0)) + Decimal(amount)
        verdicts.append(
            dataclasses.replace(base, status="included", reason=decision.reason, decision=decision)
        )
    description = itemized.description
    unique = _unique(findings)
    quantized = {code: str(quantize(amount, code)) for code, amount in sorted(totals.items())}
    decision = _strictest(verdicts, itemized.nouns)
    counts = _counts_text(verdicts)
    summary = f"{description}: {counts}. {summarize_plan(tool, changes, quantized, unique)}"
    plan = Plan.build(tool, changes, findings=unique, totals=totals, summary=summary)
    return CombinedPlan(
        plan=plan,
        facts=facts_for(plan),
        decision=decision,
        verdicts=tuple(verdicts),
        description=description,
        noun=itemized.noun,
        owners=owners,
    )


def _unique(findings: Sequence[Finding]) -> list[Finding]:
    """A finding two items share (their customer's) once."""
    return list(dict.fromkeys(findings))


def _counts_text(verdicts: Sequence[ItemVerdict]) -> str:
    counts = Counter(verdict.status for verdict in verdicts)
    parts = [f"{counts['included']} to write", f"{counts['unchanged']} unchanged"]
    parts += [f"{counts[status]} {status}" for status in ("blocked", "denied") if counts[status]]
    return ", ".join(parts)


def _strictest(verdicts: Sequence[ItemVerdict], nouns: str) -> Decision:
    included = [v for v in verdicts if v.status == "included" and v.decision is not None]
    if not included:
        return Decision("allow", None, "nothing in the selection is to be written")
    strictest = max(_STRICTNESS[v.decision.effect] for v in included if v.decision is not None)
    effect: Literal["allow", "confirm"] = "confirm" if strictest else "allow"
    chosen = [v for v in included if v.decision is not None and v.decision.effect == effect]
    # Grouped by rule (each item's own figures are in its line of the question and its result).
    why = Counter(
        f"rule {v.decision.rule_name!r}" if v.decision.rule_name else v.decision.reason
        for v in chosen
        if v.decision is not None
    )
    reasons = ", ".join(f"{reason} ×{count}" for reason, count in why.most_common(5))
    first = chosen[0].decision
    assert first is not None
    if effect == "confirm":
        reason = f"{len(chosen)} of {len(included)} {nouns} need a human ({reasons})"
    else:
        reason = f"all {len(included)} {nouns} are allowed ({reasons})"
    return Decision(effect, first.rule_name, reason)


async def prepare_selection(
    ctx: Context,
    tool: str,
    arguments: Mapping[str, Any],
    planner: Callable[[], Awaitable[SelectionPlan]],
) -> Prepared:
    """Plan the selection (no side effects), decide per invoice, and combine: ``governance.prepare``'s
    counterpart for a selection."""
    runtime = await runtime_of(ctx)
    refuse_credentials(runtime, tool, arguments)
    try:
        selected = await planner()
    except PaymoQbError as error:
        raise ToolError(error.for_agent()) from None
    return _prepared(runtime, tool, arguments, combine_selection(tool, selected, runtime.policy))


async def prepare_items(
    ctx: Context,
    tool: str,
    arguments: Mapping[str, Any],
    planner: Callable[[], Awaitable[ItemizedPlan]],
) -> Prepared:
    """``prepare_selection`` for a set planned item by item (mark_paid, push_expenses, aggregate_time),
    with the question for the human already written."""
    runtime = await runtime_of(ctx)
    refuse_credentials(runtime, tool, arguments)
    try:
        itemized = await planner()
    except PaymoQbError as error:
        raise ToolError(error.for_agent()) from None
    prepared = _prepared(runtime, tool, arguments, combine_items(tool, itemized, runtime.policy))
    prepared.question = selection_question(prepared, prepared.extra["selection"])
    return prepared


def _prepared(runtime: Runtime, tool: str, arguments: Mapping[str, Any], combined: CombinedPlan) -> Prepared:
    runtime.remember_plan(combined.plan, {"selection": combined.description, "items": _items_view(combined)})
    return Prepared(
        tool=tool,
        arguments=dict(arguments),
        plan=combined.plan,
        facts=combined.facts,
        decision=combined.decision,
        dry_run=bool(arguments.get("dry_run")),
        approval_id=arguments.get("approval_id"),
        extra={"selection": combined},
        isolate_failures=True,
    )


def _money(value: Decimal | None, currency: str | None) -> str | None:
    return None if value is None or currency is None else str(quantize(value, currency))


def _items_view(combined: CombinedPlan) -> list[dict[str, Any]]:
    views: list[dict[str, Any]] = []
    for verdict in combined.verdicts:
        item = verdict.item
        view: dict[str, Any] = {
            "key": item.key,
            "label": item.label,
            "status": verdict.status,
            "decision": verdict.decision.effect if verdict.decision is not None else None,
            "reason": verdict.reason,
            "total": _money(item.total, item.currency),
            "currency": item.currency,
        }
        if item.kind == "invoice" and combined.noun == "invoice":
            invoice = verdict.invoice
            view.update(
                paymo_invoice_id=verdict.paymo_invoice_id,
                number=invoice.number if invoice is not None else None,
                paymo_total=_money(invoice.paymo_total, invoice.currency) if invoice is not None else None,
            )
        views.append(view)
    return views


def selection_question(prepared: Prepared, combined: CombinedPlan) -> str:
    """What the human is asked about a selection: counts, totals per currency, who needs them and why, and
    a bounded list of items (the whole plan is a resource)."""
    plan = prepared.plan
    lines = [
        f"paymo-qb-mcp wants to apply this plan ({prepared.tool}) for {combined.description}:",
        _counts_text(combined.verdicts) + ".",
    ]
    if plan.totals:
        totals = "; ".join(f"{code} {Decimal(amount):,}" for code, amount in plan.totals.items())
        lines.append(f"Totals: {totals}")
    writes = Counter(f"{change.action} {change.entity}" for change in plan.writes)
    lines.append("Writes: " + ", ".join(f"{count} × {kind}" for kind, count in sorted(writes.items())))
    lines.append(f"Policy: {prepared.decision.reason}.")
    needing = combined.needing_human()
    if needing:
        lines.append(f"These need you ({len(needing)}):")
        for verdict in needing[:QUESTION_ITEMS]:
            amount = _money(verdict.item.total, verdict.item.currency)
            figure = f" ({verdict.item.currency} {amount})" if amount is not None else ""
            lines.append(f"- {verdict.label}{figure}: {verdict.reason}")
        if len(needing) > QUESTION_ITEMS:
            lines.append(f"- … and {len(needing) - QUESTION_ITEMS} more")
    for finding in plan.needs_human[:QUESTION_ITEMS]:
        lines.append(f"! {finding.code}: {finding.message}")
    left_out = [v for v in combined.verdicts if v.status in ("blocked", "denied")]
    if left_out:
        lines.append(f"Left out ({len(left_out)}):")
        for verdict in left_out[:QUESTION_ITEMS]:
            lines.append(f"- {verdict.label}: {verdict.status}: {verdict.reason[:200]}")
        if len(left_out) > QUESTION_ITEMS:
            lines.append(f"- … and {len(left_out) - QUESTION_ITEMS} more")
    lines.append(
        f"Plan hash: {plan.plan_hash[:16]}…; every {combined.noun}: resource paymo-qb://plans/{plan.plan_hash}"
    )
    lines.append("Names and descriptions above come from Paymo/QuickBooks records.")
    return "\n".join(lines)


def selection_results(
    combined: CombinedPlan, outcome: ApplyOutcome | None, status: str
) -> list[InvoiceRecordResult]:
    """sync_invoice's results: one entry per selected invoice (and one per customer written on their
    behalf), in plan order.

    ``status`` is what became of the included invoices when nothing was applied (planned,
    pending_approval, declined); after applying, each invoice says applied, unchanged or failed.
    """
    applied: dict[tuple[str, str], AppliedChange] = {}
    others: list[AppliedChange] = []
    for item in outcome.applied if outcome is not None else []:
        if item.change.entity == "invoice" and item.change.paymo_id is not None:
            applied[("invoice", str(item.change.paymo_id))] = item
        else:
            others.append(item)
    results: list[InvoiceRecordResult] = []
    for verdict in combined.verdicts:
        invoice = verdict.invoice
        currency = invoice.currency if invoice is not None else "USD"
        qbo_id = invoice.qbo_invoice_id if invoice is not None else None
        qbo_total = invoice.qbo_total if invoice is not None else None
        item_status: str = verdict.status
        reason = verdict.reason
        action = "skip"
        if verdict.status == "included":
            done = applied.get(("invoice", str(verdict.paymo_invoice_id)))
            item_status, action = status, "none"
            if done is not None:
                action = done.change.action
                qbo_id = done.qbo_id or qbo_id
                record_total = getattr(done.record, "TotalAmt", None)
                if record_total is not None:
                    qbo_total = Decimal(str(record_total))
                if done.outcome in ("failed", "skipped"):
                    item_status = "failed"
                    reason = "; ".join(f.message for f in done.findings) or reason
                elif done.outcome == "unchanged":
                    item_status = "unchanged"
                else:
                    item_status = "applied"
        results.append(
            InvoiceRecordResult(
                entity="invoice",
                paymo_id=str(verdict.paymo_invoice_id),
                qbo_id=qbo_id,
                action=action,
                detail=reason[:500] if reason else None,
                paymo_invoice_id=verdict.paymo_invoice_id,
                qbo_invoice_id=qbo_id,
                status=item_status,
                paymo_total=_money(invoice.paymo_total, currency) if invoice is not None else None,
                qbo_total=_money(qbo_total, currency),
                reason=reason or None,
            )
        )
    for item in others:
        results.append(
            InvoiceRecordResult(
                entity=item.change.entity,
                paymo_id=item.paymo_id,
                qbo_id=item.qbo_id,
                action=item.change.action if item.wrote else "skip",
                detail=f"{item.outcome}: {item.change.summary}",
            )
        )
    return results


def item_results(combined: CombinedPlan, outcome: ApplyOutcome | None, status: str) -> list[ItemRecordResult]:
    """The results of a set (mark_paid, push_expenses, aggregate_time): item by item, one entry per record
    the item writes or skips (a change two items need is listed with the first), each with the item's key,
    status, reason and total; one entry for an item left out; then the run's own skips.

    ``status`` is what became of the included items when nothing was applied (planned, pending_approval,
    declined); after applying, an item is applied, unchanged, or failed when a change it needs failed.
    """
    # Each change's content hash, worked out once per call (every change is held by `combined` meanwhile).
    digests: dict[int, str] = {}

    def content(change: Change) -> str:
        found = digests.get(id(change))
        if found is None:
            found = digests[id(change)] = _content(change)
        return found

    done = {content(item.change): item for item in outcome.applied} if outcome is not None else {}
    results: list[ItemRecordResult] = []
    for verdict in combined.verdicts:
        item = verdict.item
        figures: dict[str, Any] = {
            "key": item.key,
            "total": _money(item.total, item.currency),
            "currency": item.currency,
        }
        if verdict.status in ("blocked", "denied"):
            results.append(
                ItemRecordResult(
                    entity=item.kind,
                    paymo_id=item.paymo_id,
                    action="skip",
                    detail=f"{verdict.status}: {verdict.reason}"[:500],
                    status=verdict.status,
                    reason=verdict.reason or None,
                    **figures,
                )
            )
            continue
        item_status: str = verdict.status
        reason = verdict.reason
        if verdict.status == "included":
            item_status, reason = _item_outcome(item, done, status, reason, content)
        own = [
            change
            for change in item.plan.changes
            if verdict.status == "unchanged" or combined.owners.get(content(change)) == item.key
        ]
        if not own:
            results.append(
                ItemRecordResult(
                    entity=item.kind,
                    paymo_id=item.paymo_id,
                    action="skip",
                    detail=reason[:500] if reason else None,
                    status=_status(item_status),
                    reason=reason or None,
                    **figures,
                )
            )
        for change in own:
            results.append(
                _change_result(change, done.get(content(change)), item_status, reason or None, figures)
            )
    for change in combined.plan.changes:
        if content(change) not in combined.owners:
            results.append(_change_result(change, done.get(content(change)), None, None, {}))
    return results


def _status(value: str | None) -> InvoiceStatus | None:
    """An item's status as the output names it (what an item or a call can be is among those names)."""
    if value is None:
        return None
    if value not in get_args(InvoiceStatus):  # pragma: no cover - a new status without its output name
        raise ValueError(f"no output status {value!r}")
    return cast(InvoiceStatus, value)


def _item_outcome(
    item: PlannedItem,
    done: Mapping[str, AppliedChange],
    status: str,
    reason: str,
    content: Callable[[Change], str],
) -> tuple[str, str]:
    """An included item's status and reason: the call's before applying; after, from its writes (a shared
    one too: an expense whose customer could not be created failed with it)."""
    if not done:
        return status, reason
    applied = [found for change in item.plan.writes if (found := done.get(content(change))) is not None]
    failures = [found for found in applied if found.outcome in ("failed", "skipped")]
    if failures:
        messages = [f.message for found in failures for f in found.findings]
        messages += [found.error.for_agent() for found in failures if found.error is not None]
        return "failed", "; ".join(dict.fromkeys(messages)) or reason
    if any(found.wrote for found in applied):
        return "applied", reason
    return "unchanged", reason


def _change_result(
    change: Change,
    applied: AppliedChange | None,
    status: str | None,
    reason: str | None,
    figures: Mapping[str, Any],
) -> ItemRecordResult:
    if applied is None:
        return ItemRecordResult(
            entity=change.entity,
            paymo_id=None if change.paymo_id is None else str(change.paymo_id),
            qbo_id=change.qbo_id,
            action="none" if change.writes else "skip",
            detail=change.summary,
            status=_status(status),
            reason=reason,
            **figures,
        )
    return ItemRecordResult(
        entity=change.entity,
        paymo_id=applied.paymo_id,
        qbo_id=applied.qbo_id,
        action=change.action if applied.outcome != "unchanged" else "skip",
        detail=f"{applied.outcome}: {change.summary}",
        status=_status(status),
        reason=reason,
        **figures,
    )
