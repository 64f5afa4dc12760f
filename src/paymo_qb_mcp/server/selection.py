"""Many invoices as one governed plan: the policy decides per invoice, blocked and denied ones are left out.

``sync_invoice`` over a list of ids or a period plans every invoice as it would be planned alone
(``sync.invoices.selection``); here each invoice's own plan meets the policy with its own amount,
currency and dates (and the size of the whole selection as its record count). Invoices a rule denies
or a guard blocks are listed and left out; the others become one plan — their changes in order, a
customer two invoices need created once — whose decision is the strictest of theirs (confirm when any
needs a human), so the human approves the whole period once, bound to that plan's hash as always.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final, Literal

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
from paymo_qb_mcp.server.outputs import InvoiceRecordResult
from paymo_qb_mcp.sync.company import fold_name
from paymo_qb_mcp.sync.invoices import InvoicePlan, SelectionPlan
from paymo_qb_mcp.sync.writes import AppliedChange, ApplyOutcome

__all__ = [
    "QUESTION_ITEMS",
    "CombinedPlan",
    "ItemVerdict",
    "combine_selection",
    "prepare_selection",
    "selection_question",
    "selection_results",
]

ItemStatus = Literal["included", "unchanged", "blocked", "denied"]
# How many invoices the question to the human lists by name; the whole plan stays readable as the
# resource paymo-qb://plans/{plan_hash}.
QUESTION_ITEMS: Final = 10
_STRICTNESS: Final = {"allow": 0, "confirm": 1}


@dataclass(frozen=True)
class ItemVerdict:
    """What becomes of one selected invoice: included in the plan (with the policy's decision for it),
    unchanged, blocked (a guard) or denied (a rule)."""

    paymo_invoice_id: int
    number: str | None
    status: ItemStatus
    reason: str
    invoice: InvoicePlan | None = None
    decision: Decision | None = None

    @property
    def label(self) -> str:
        return f"Paymo invoice {self.number or self.paymo_invoice_id}"


@dataclass(frozen=True)
class CombinedPlan:
    """The one plan of a selection, its decision, and the verdict on every invoice."""

    plan: Plan
    facts: PlanFacts
    decision: Decision
    verdicts: tuple[ItemVerdict, ...]
    description: str

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
    invoice: InvoicePlan,
    taken: Mapping[tuple[str, str, str, str], tuple[str, str]],
    names: Mapping[str, str],
    contents: Mapping[int, str],
) -> str | None:
    """Why this invoice's writes clash with those of an invoice already in the plan, if they do: the same
    record written differently, or two new customers with one name (QBO names are unique)."""
    for change in invoice.plan.writes:
        key = (change.target, change.link_kind or "", str(change.paymo_id), change.action)
        held = taken.get(key)
        if held is not None and held[0] != contents[id(change)]:
            return f"it needs {change.summary.lower()}, planned differently for {held[1]}"
        name = _new_customer_name(change)
        if name is not None and names.get(fold_name(name), str(change.paymo_id)) != str(change.paymo_id):
            return f"it needs a new QuickBooks customer named {name!r}, which another new customer takes"
    return None


def _content(change: Change) -> str:
    return content_hash(change.hashed_content())


def _new_customer_name(change: Change) -> str | None:
    if change.entity != "customer" or change.action != "create" or not change.payload:
        return None
    name = change.payload.get("DisplayName")
    return name if isinstance(name, str) else None


def combine_selection(tool: str, selected: SelectionPlan, policy: Policy) -> CombinedPlan:
    """Decide every invoice, leave out the blocked and denied ones, and build the plan of the rest."""
    verdicts: list[ItemVerdict] = [
        ItemVerdict(ident, None, "blocked", f"NOT_FOUND: Paymo has no invoice with id {ident}")
        for ident in selected.missing
    ]
    candidates = [item for item in selected.items if not item.plan.blocked and not item.plan.is_noop]
    record_count = max(sum(len(item.plan.writes) for item in candidates), 1)
    taken: dict[tuple[str, str, str, str], tuple[str, str]] = {}
    names: dict[str, str] = {}
    changes: list[Change] = []
    seen: set[str] = set()
    findings = FindingList()
    totals: dict[str, Decimal] = {}
    for item in selected.items:
        ident = item.paymo_invoice_id or 0
        base = ItemVerdict(ident, item.number, "blocked", "", invoice=item)
        if item.plan.blocked:
            verdicts.append(dataclasses.replace(base, reason=_blocker_text(item.plan)))
            findings.warn("LEFT_OUT", f"{base.label} is left out: {_blocker_text(item.plan)}", _record(ident))
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
                f"{base.label} is left out: policies.yaml denies it ({decision.reason})",
                _record(ident),
            )
            continue
        contents = {id(change): _content(change) for change in item.plan.changes}
        clash = _conflicts(item, taken, names, contents)
        if clash is not None:
            reason = f"CONFLICTING_ITEMS: {clash}; sync it on its own after this plan is applied"
            verdicts.append(dataclasses.replace(base, reason=reason))
            findings.warn("LEFT_OUT", f"{base.label} is left out: {reason}", _record(ident))
            continue
        for change in item.plan.writes:
            key = (change.target, change.link_kind or "", str(change.paymo_id), change.action)
            taken.setdefault(key, (contents[id(change)], base.label))
            name = _new_customer_name(change)
            if name is not None:
                names.setdefault(fold_name(name), str(change.paymo_id))
        for change in item.plan.changes:
            content = contents[id(change)]
            if content not in seen:
                seen.add(content)
                changes.append(change)
        findings.extend(item.plan.findings)
        for currency, amount in item.plan.totals.items():
            totals[currency] = totals.get(currency, Decimal(0)) + Decimal(amount)
        verdicts.append(
            dataclasses.replace(base, status="included", reason=decision.reason, decision=decision)
        )
    description = selected.selection.describe()
    unique = _unique(findings)
    quantized = {code: str(quantize(amount, code)) for code, amount in sorted(totals.items())}
    decision = _strictest(verdicts)
    counts = _counts_text(verdicts)
    summary = f"{description}: {counts}. {summarize_plan(tool, changes, quantized, unique)}"
    plan = Plan.build(tool, changes, findings=unique, totals=totals, summary=summary)
    return CombinedPlan(
        plan=plan, facts=facts_for(plan), decision=decision, verdicts=tuple(verdicts), description=description
    )


def _unique(findings: Sequence[Finding]) -> list[Finding]:
    """A finding two invoices share (their customer's) once."""
    return list(dict.fromkeys(findings))


def _record(ident: int) -> str:
    return f"paymo:invoice:{ident}"


def _counts_text(verdicts: Sequence[ItemVerdict]) -> str:
    counts = Counter(verdict.status for verdict in verdicts)
    parts = [f"{counts['included']} to write", f"{counts['unchanged']} unchanged"]
    parts += [f"{counts[status]} {status}" for status in ("blocked", "denied") if counts[status]]
    return ", ".join(parts)


def _strictest(verdicts: Sequence[ItemVerdict]) -> Decision:
    included = [v for v in verdicts if v.status == "included" and v.decision is not None]
    if not included:
        return Decision("allow", None, "nothing in the selection is to be written")
    strictest = max(_STRICTNESS[v.decision.effect] for v in included if v.decision is not None)
    effect: Literal["allow", "confirm"] = "confirm" if strictest else "allow"
    chosen = [v for v in included if v.decision is not None and v.decision.effect == effect]
    # Grouped by rule (each invoice's own figures are in its line of the question and its result).
    why = Counter(
        f"rule {v.decision.rule_name!r}" if v.decision.rule_name else v.decision.reason
        for v in chosen
        if v.decision is not None
    )
    reasons = ", ".join(f"{reason} ×{count}" for reason, count in why.most_common(5))
    first = chosen[0].decision
    assert first is not None
    if effect == "confirm":
        reason = f"{len(chosen)} of {len(included)} invoices need a human ({reasons})"
    else:
        reason = f"all {len(included)} invoices are allowed ({reasons})"
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
    combined = combine_selection(tool, selected, runtime.policy)
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


def _money(value: Decimal | None, currency: str) -> str | None:
    return None if value is None else str(quantize(value, currency))


def _items_view(combined: CombinedPlan) -> list[dict[str, Any]]:
    return [
        {
            "paymo_invoice_id": verdict.paymo_invoice_id,
            "number": verdict.number,
            "status": verdict.status,
            "decision": verdict.decision.effect if verdict.decision is not None else None,
            "reason": verdict.reason,
            "paymo_total": (
                _money(verdict.invoice.paymo_total, verdict.invoice.currency) if verdict.invoice else None
            ),
            "currency": verdict.invoice.currency if verdict.invoice else None,
        }
        for verdict in combined.verdicts
    ]


def selection_question(prepared: Prepared, combined: CombinedPlan) -> str:
    """What the human is asked about a selection: counts, totals per currency, who needs them and why, and
    a bounded list of invoices (the whole plan is a resource)."""
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
            assert verdict.invoice is not None
            amount = _money(verdict.invoice.paymo_total, verdict.invoice.currency)
            lines.append(f"- {verdict.label} ({verdict.invoice.currency} {amount}): {verdict.reason}")
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
        f"Plan hash: {plan.plan_hash[:16]}…; every invoice: resource paymo-qb://plans/{plan.plan_hash}"
    )
    lines.append("Names and descriptions above come from Paymo/QuickBooks records.")
    return "\n".join(lines)


def selection_results(
    combined: CombinedPlan, outcome: ApplyOutcome | None, status: str
) -> list[InvoiceRecordResult]:
    """One entry per selected invoice (and one per customer written on their behalf), in plan order.

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
