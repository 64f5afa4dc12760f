"""Plans: the typed changes a tool intends to write, with findings, totals, a human summary and a hash."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any, Final, Literal, Self

import simplejson
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from paymo_qb_mcp.domain.keys import canonical_json, content_hash
from paymo_qb_mcp.domain.money import normalize_currency, quantize, to_decimal

__all__ = [
    "REQUIRES_HUMAN",
    "Change",
    "ChangeAction",
    "ChangeTarget",
    "Finding",
    "FindingList",
    "Plan",
    "Severity",
    "compute_plan_hash",
    "summarize_plan",
]

ChangeAction = Literal["create", "update", "void", "delete", "link", "skip"]
Severity = Literal["info", "warning", "blocker"]
ChangeTarget = Literal["quickbooks", "paymo", "ledger"]

# Finding codes no policy rule can wave through: a plan carrying one is put to a human even where
# policies.yaml would allow it (and stays refused where it denies). EDITED_IN_QUICKBOOKS: the plan
# would overwrite what someone changed in QuickBooks since our last write.
REQUIRES_HUMAN: Final = frozenset({"EDITED_IN_QUICKBOOKS"})

_ACTION_ORDER: tuple[ChangeAction, ...] = ("create", "update", "void", "delete", "link", "skip")
_ACTION_PLURAL: dict[ChangeAction, str] = {
    "create": "creates",
    "update": "updates",
    "void": "voids",
    "delete": "deletes",
    "link": "links",
    "skip": "skips",
}


class Change(BaseModel):
    """One intended write (or a deliberate skip) on one record.

    ``before``/``after`` are the field-level differences a human reviews; ``payload`` is the exact
    body the executor will send; ``summary`` is one line for the human; ``reason`` says why.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    action: ChangeAction
    entity: str = Field(min_length=1, description="e.g. customer, invoice, payment, expense, time_activity")
    paymo_id: int | str | None = None
    qbo_id: str | None = None
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    payload: dict[str, Any] | None = None
    summary: str
    reason: str | None = None
    # How the executor applies the change (all part of the hash: they determine the write).
    target: ChangeTarget = Field(default="quickbooks", description="the system written to")
    wire_entity: str | None = Field(default=None, description="QBO entity (Invoice) or Paymo collection")
    link_kind: str | None = Field(default=None, description="ledger kind linking the Paymo and QBO records")
    content_hash: str | None = Field(default=None, description="hash of the Paymo content this change pushes")
    sync_token: str | None = Field(default=None, description="QBO SyncToken the update/void expects")
    lookup: dict[str, Any] | None = Field(default=None, description="how to find the record before creating")
    expect: dict[str, Any] | None = Field(default=None, description="fields the read-back must show")

    @property
    def writes(self) -> bool:
        return self.action != "skip"

    @property
    def record_key(self) -> str:
        """Which record of its kind this change writes: the Paymo id; for a write its ledger done-marker
        names instead (a Paymo payment copied from QuickBooks has no Paymo id until it exists),
        ``done:<key>``; else ``content:<hash>`` (nothing tells it apart but what it writes). Two changes
        with one ``link_kind`` and record key write the same record."""
        if self.paymo_id is not None:
            return str(self.paymo_id)
        done_key = (self.lookup or {}).get("done_key")
        if done_key is not None:
            return f"done:{done_key}"
        return f"content:{content_hash(self.hashed_content())}"

    def hashed_content(self) -> dict[str, Any]:
        """What determines the write: everything but the human-facing ``summary`` and ``reason``."""
        return {
            "action": self.action,
            "entity": self.entity,
            "paymo_id": self.paymo_id,
            "qbo_id": self.qbo_id,
            "before": self.before,
            "after": self.after,
            "payload": self.payload,
            "target": self.target,
            "wire_entity": self.wire_entity,
            "link_kind": self.link_kind,
            "content_hash": self.content_hash,
            "sync_token": self.sync_token,
            "lookup": self.lookup,
            "expect": self.expect,
        }


class Finding(BaseModel):
    """Something the planner noticed; a ``blocker`` stops the plan from being applied."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    severity: Severity
    code: str = Field(min_length=1)
    message: str
    record: str | None = Field(default=None, description="the record concerned, e.g. paymo:invoice:123")


class FindingList(list[Finding]):
    """The findings a planner gathers, with a shorthand per severity (the code first, then the message)."""

    def block(self, code: str, message: str, record: str | None = None) -> None:
        self.append(Finding(severity="blocker", code=code, message=message, record=record))

    def warn(self, code: str, message: str, record: str | None = None) -> None:
        self.append(Finding(severity="warning", code=code, message=message, record=record))

    def inform(self, code: str, message: str, record: str | None = None) -> None:
        self.append(Finding(severity="info", code=code, message=message, record=record))

    @property
    def blocked(self) -> bool:
        """True when any finding is a blocker."""
        return any(finding.severity == "blocker" for finding in self)

    def blocks(self, record: str) -> bool:
        """True when a blocker concerns ``record``."""
        return any(finding.severity == "blocker" and finding.record == record for finding in self)


def _normalize_totals(totals: Mapping[str, Decimal | str]) -> dict[str, str]:
    summed: dict[str, Decimal] = {}
    for currency, amount in totals.items():
        code = normalize_currency(currency)
        summed[code] = summed.get(code, Decimal(0)) + to_decimal(amount)
    return {code: str(quantize(amount, code)) for code, amount in sorted(summed.items())}


def compute_plan_hash(tool: str, changes: Iterable[Change], totals: Mapping[str, str]) -> str:
    """``content_hash`` over what determines the writes: tool, changes (without prose), totals.

    Summaries, reasons and findings are excluded: rewording them must not void an approval,
    while any change to a record, payload or amount must.
    """
    return content_hash(
        {
            "tool": tool,
            "changes": [change.hashed_content() for change in changes],
            "totals": dict(totals),
        }
    )


def _format_amount(amount: str) -> str:
    return f"{Decimal(amount):,}"


def summarize_plan(
    tool: str, changes: Iterable[Change], totals: Mapping[str, str], findings: Iterable[Finding]
) -> str:
    """One paragraph for a human: counts by action and entity, totals per currency, findings."""
    change_list = list(changes)
    finding_list = list(findings)
    by_action = Counter(change.action for change in change_list)
    by_entity = Counter(change.entity for change in change_list if change.writes)
    if not change_list:
        text = f"{tool}: nothing to do."
    else:
        counts = ", ".join(
            f"{by_action[action]} {action if by_action[action] == 1 else _ACTION_PLURAL[action]}"
            for action in _ACTION_ORDER
            if by_action[action]
        )
        text = f"{tool}: {counts}"
        if by_entity:
            text += (
                " (" + ", ".join(f"{entity} ×{count}" for entity, count in sorted(by_entity.items())) + ")"
            )
        text += "."
    if totals:
        text += (
            " Totals: "
            + "; ".join(f"{code} {_format_amount(amount)}" for code, amount in totals.items())
            + "."
        )
    severities = Counter(finding.severity for finding in finding_list)
    if severities["blocker"]:
        blockers = "; ".join(finding.message for finding in finding_list if finding.severity == "blocker")
        text += f" Blocked ({severities['blocker']}): {blockers}."
    if severities["warning"]:
        text += f" {severities['warning']} warning{'s' if severities['warning'] > 1 else ''}."
    return text


class Plan(BaseModel):
    """What a tool would write, bound to a hash a human approves.

    Build with ``Plan.build``; a plan read back from storage is re-hashed and rejected if its
    ``plan_hash`` no longer matches its content. Persist with ``to_json``/``from_json``, which
    keep Decimals as JSON numbers (pydantic's ``model_dump_json`` turns them into strings, which
    hash differently).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    tool: str = Field(min_length=1)
    changes: tuple[Change, ...] = ()
    summary: str = ""
    totals: dict[str, str] = Field(default_factory=dict, description="currency → amount (Decimal string)")
    findings: tuple[Finding, ...] = ()
    plan_hash: str = ""

    @field_validator("totals")
    @classmethod
    def _check_totals(cls, totals: dict[str, str]) -> dict[str, str]:
        return _normalize_totals(totals)

    @model_validator(mode="after")
    def _bind_hash(self) -> Self:
        expected = compute_plan_hash(self.tool, self.changes, self.totals)
        if not self.plan_hash:
            object.__setattr__(self, "plan_hash", expected)
        elif self.plan_hash != expected:
            raise ValueError("plan_hash does not match the plan's content (the plan was altered)")
        if not self.summary:
            object.__setattr__(
                self, "summary", summarize_plan(self.tool, self.changes, self.totals, self.findings)
            )
        return self

    @classmethod
    def build(
        cls,
        tool: str,
        changes: Iterable[Change],
        *,
        findings: Iterable[Finding] = (),
        totals: Mapping[str, Decimal] | None = None,
        summary: str | None = None,
    ) -> Plan:
        """A plan with totals quantized per currency, its hash, and (unless given) the generated summary."""
        return cls(
            tool=tool,
            changes=tuple(changes),
            findings=tuple(findings),
            totals=_normalize_totals(totals or {}),
            summary=summary or "",
        )

    def to_json(self) -> str:
        """Canonical JSON of the whole plan (Decimals as numbers), for storage and approvals."""
        return canonical_json(self.model_dump(mode="python"))

    @classmethod
    def from_json(cls, text: str | bytes) -> Plan:
        """Read a plan written by ``to_json``; raises if its content no longer matches its hash."""
        return cls.model_validate(simplejson.loads(text, use_decimal=True))

    @property
    def blocked(self) -> bool:
        return any(finding.severity == "blocker" for finding in self.findings)

    @property
    def writes(self) -> tuple[Change, ...]:
        return tuple(change for change in self.changes if change.writes)

    @property
    def needs_human(self) -> tuple[Finding, ...]:
        """The findings (codes in ``REQUIRES_HUMAN``) that make a human confirm this plan, whatever the
        policy says; none for a plan that writes nothing."""
        if self.is_noop:
            return ()
        return tuple(finding for finding in self.findings if finding.code in REQUIRES_HUMAN)

    @property
    def is_noop(self) -> bool:
        return not self.writes

    def counts(self) -> dict[ChangeAction, int]:
        by_action = Counter(change.action for change in self.changes)
        return {action: by_action[action] for action in _ACTION_ORDER if by_action[action]}
